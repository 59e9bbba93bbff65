//! Prometheus metrics in the text exposition format: request counters by method, route and
//! status, and a latency histogram by method and route. Routes are the matched templates
//! (`/api/v1/devices/{id}`), never raw paths, so the label set stays bounded.

use crate::extract::MetricsReader;
use crate::App;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::Mutex;

const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

#[derive(Default)]
struct RouteStats {
    by_status: BTreeMap<u16, u64>,
    buckets: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

#[derive(Default)]
pub struct Metrics {
    routes: Mutex<HashMap<(String, String), RouteStats>>,
    started: std::sync::OnceLock<std::time::Instant>,
    /// Sign-in attempts by outcome (see [`SignIn`]).
    signins: [std::sync::atomic::AtomicU64; 3],
}

/// The outcome of a sign-in attempt, counted in `camtrace_signins_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignIn {
    Success = 0,
    /// Wrong or unknown credentials (a password check ran).
    Failure = 1,
    /// Refused by the throttle before any password check.
    Throttled = 2,
}

impl SignIn {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Failure => "failure",
            Self::Throttled => "throttled",
        }
    }
}

impl Metrics {
    pub fn record(&self, method: &str, route: &str, status: u16, seconds: f64) {
        self.started.get_or_init(std::time::Instant::now);
        let Ok(mut m) = self.routes.lock() else {
            return;
        };
        let s = m
            .entry((method.to_string(), route.to_string()))
            .or_default();
        *s.by_status.entry(status).or_default() += 1;
        for (i, b) in BUCKETS.iter().enumerate() {
            if seconds <= *b {
                s.buckets[i] += 1;
            }
        }
        s.sum += seconds;
        s.count += 1;
    }

    pub fn signin(&self, outcome: SignIn) {
        self.signins[outcome as usize].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// Sign-in attempts with this outcome since start.
    pub fn signins(&self, outcome: SignIn) -> u64 {
        self.signins[outcome as usize].load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn text(&self) -> String {
        let mut out = String::new();
        out.push_str("# HELP camtrace_signins_total Sign-in attempts by outcome.\n");
        out.push_str("# TYPE camtrace_signins_total counter\n");
        for o in [SignIn::Success, SignIn::Failure, SignIn::Throttled] {
            let _ = writeln!(
                out,
                "camtrace_signins_total{{outcome=\"{}\"}} {}",
                o.as_str(),
                self.signins(o)
            );
        }
        out.push_str(
            "# HELP camtrace_http_requests_total HTTP requests by method, route and status.\n",
        );
        out.push_str("# TYPE camtrace_http_requests_total counter\n");
        let Ok(m) = self.routes.lock() else {
            return out;
        };
        let mut keys: Vec<_> = m.keys().collect();
        keys.sort();
        for k in &keys {
            for (status, n) in &m[*k].by_status {
                let _ = writeln!(
                    out,
                    "camtrace_http_requests_total{{method=\"{}\",route=\"{}\",status=\"{status}\"}} {n}",
                    esc(&k.0),
                    esc(&k.1)
                );
            }
        }
        out.push_str("# HELP camtrace_http_request_duration_seconds HTTP request latency.\n");
        out.push_str("# TYPE camtrace_http_request_duration_seconds histogram\n");
        for k in &keys {
            let s = &m[*k];
            let labels = format!("method=\"{}\",route=\"{}\"", esc(&k.0), esc(&k.1));
            for (i, b) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "camtrace_http_request_duration_seconds_bucket{{{labels},le=\"{b}\"}} {}",
                    s.buckets[i]
                );
            }
            let _ = writeln!(
                out,
                "camtrace_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                s.count
            );
            let _ = writeln!(
                out,
                "camtrace_http_request_duration_seconds_sum{{{labels}}} {}",
                s.sum
            );
            let _ = writeln!(
                out,
                "camtrace_http_request_duration_seconds_count{{{labels}}} {}",
                s.count
            );
        }
        out
    }
}

fn esc(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Prometheus metrics (text exposition format). Needs an API token with the `metrics:read`
/// scope or a central admin session, unless the server runs with `metrics_public = true`.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "metrics",
    operation_id = "metrics",
    responses(
        (status = 200, description = "Prometheus text exposition format 0.0.4", content_type = "text/plain", body = String),
        (status = 401, description = "no credentials"),
        (status = 403, description = "credentials without the metrics:read scope (or a session that is not a central admin's)"),
    )
)]
pub async fn render(State(app): State<App>, _who: MetricsReader) -> impl IntoResponse {
    let mut text = app.metrics.text();
    let (sent, failed) = app.alerts.delivery_counts();
    text.push_str(
        "# HELP camtrace_webhook_deliveries_total Webhook delivery attempts by outcome.\n",
    );
    text.push_str("# TYPE camtrace_webhook_deliveries_total counter\n");
    let _ = writeln!(
        text,
        "camtrace_webhook_deliveries_total{{outcome=\"success\"}} {sent}"
    );
    let _ = writeln!(
        text,
        "camtrace_webhook_deliveries_total{{outcome=\"failure\"}} {failed}"
    );
    // The queue is shared by every replica: the same figures on each.
    if let Ok(q) = app.store.webhook_job_counts().await {
        text.push_str(
            "# HELP camtrace_webhook_queue Queued webhook deliveries (all replicas) by state.\n",
        );
        text.push_str("# TYPE camtrace_webhook_queue gauge\n");
        for (state, n) in [
            ("pending", q.pending),
            ("delivered", q.delivered),
            ("given_up", q.given_up),
        ] {
            let _ = writeln!(text, "camtrace_webhook_queue{{state=\"{state}\"}} {n}");
        }
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let m = Metrics::default();
        m.record("GET", "/a", 200, 0.002);
        m.record("GET", "/a", 404, 0.2);
        let t = m.text();
        assert!(
            t.contains(
                "camtrace_http_requests_total{method=\"GET\",route=\"/a\",status=\"200\"} 1"
            ),
            "{t}"
        );
        assert!(t.contains("route=\"/a\",le=\"0.0025\"} 1"), "{t}");
        assert!(t.contains("route=\"/a\",le=\"0.25\"} 2"), "{t}");
        assert!(t.contains(
            "camtrace_http_request_duration_seconds_count{method=\"GET\",route=\"/a\"} 2"
        ));
    }
}
