//! Alerts: log events and signed webhooks when a restricted device appears on a sensitive
//! site, a waiver expires, or an approved plan's date passes.
//!
//! Each event is raised once (its key is recorded in `alert_events`). Each webhook POST carries
//! `X-Camtrace-Timestamp` (Unix seconds) and `X-Camtrace-Signature: sha256=<hex>`, the
//! HMAC-SHA256 under the webhook's secret of `<timestamp>.<body>`; failed deliveries are
//! retried with exponential back-off and every attempt is recorded in `webhook_deliveries`.

use crate::auth;
use crate::error::{ApiError, ApiResult};
use crate::App;
use camtrace_store::{AlertEventRecord, DeliveryRecord, NewHistory, WebhookRecord};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use utoipa::ToSchema;

pub const EVENTS: [&str; 4] = [
    "restricted_device_on_sensitive_site",
    "waiver_expired",
    "plan_overdue",
    "agent_silent",
];

pub struct Alerts {
    pub(crate) kick: tokio::sync::Notify,
    /// Wakes the delivery worker when deliveries were queued.
    work: tokio::sync::Notify,
    worker: std::sync::Once,
    /// This replica's name in the database's leases.
    holder: String,
    sent: AtomicU64,
    failed: AtomicU64,
    retries: u32,
    backoff: Duration,
    client: Option<reqwest::Client>,
    policy: std::sync::Arc<crate::webhook_guard::AddressPolicy>,
}

impl Alerts {
    /// Webhook delivery: `retries` after the first attempt, the first after `backoff`, to the
    /// addresses `policy` allows (resolved names included; no redirects, no proxy).
    pub fn new(
        retries: u32,
        backoff: Duration,
        policy: crate::webhook_guard::AddressPolicy,
    ) -> Self {
        let policy = std::sync::Arc::new(policy);
        Alerts {
            kick: tokio::sync::Notify::new(),
            work: tokio::sync::Notify::new(),
            worker: std::sync::Once::new(),
            holder: format!("replica-{}", auth::new_id()),
            sent: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            retries,
            backoff,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .redirect(reqwest::redirect::Policy::none())
                .no_proxy()
                .dns_resolver(std::sync::Arc::new(crate::webhook_guard::GuardedResolver {
                    policy: policy.clone(),
                }))
                .build()
                // Never fall back to a client without the guard.
                .map_err(|e| tracing::error!(error = %e, "webhook client: deliveries disabled"))
                .ok(),
            policy,
        }
    }
    /// (successful, failed) delivery attempts since start.
    pub fn delivery_counts(&self) -> (u64, u64) {
        (
            self.sent.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
        )
    }
}

/// Ask the checker to run soon (after a device change).
pub async fn device_changed(app: &App, _dev: &camtrace_model::Device) {
    app.alerts.kick.notify_one();
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Webhook {
    pub id: String,
    pub url: String,
    pub events: Vec<String>,
    pub organisation: Option<String>,
    pub active: bool,
    pub created_by: String,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CreatedWebhook {
    pub webhook: Webhook,
    /// The signing secret: shown this once.
    pub secret: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Delivery {
    pub id: String,
    pub webhook_id: String,
    pub event_id: String,
    pub event: String,
    pub attempt: i64,
    pub time: String,
    pub status_code: Option<i64>,
    pub error: Option<String>,
    pub success: bool,
}

/// An alert event.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Event {
    /// Unique key; an event with a key already raised is not raised again.
    pub id: String,
    pub event: String,
    pub organisation: Option<String>,
    pub time: String,
    pub data: serde_json::Value,
}

pub async fn create_webhook(
    app: &App,
    url: &str,
    events: &[String],
    organisation: Option<&str>,
    by: &str,
) -> ApiResult<CreatedWebhook> {
    if url.len() > 2000 || !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(ApiError::bad("url must be an http:// or https:// URL"));
    }
    let parsed = reqwest::Url::parse(url).map_err(|e| ApiError::bad(format!("url: {e}")))?;
    app.alerts
        .policy
        .check_url(&parsed)
        .map_err(ApiError::BadRequest)?;
    for e in events {
        if !EVENTS.contains(&e.as_str()) {
            return Err(ApiError::bad(format!(
                "unknown event `{e}` (known: {})",
                EVENTS.join(", ")
            )));
        }
    }
    let secret = auth::random_token(32);
    let hook = Webhook {
        id: auth::new_id(),
        url: url.to_string(),
        events: events.to_vec(),
        organisation: organisation.map(str::to_string),
        active: true,
        created_by: by.to_string(),
        created_at: camtrace_store::now_rfc3339(),
    };
    app.store
        .create_webhook(
            &WebhookRecord {
                id: hook.id.clone(),
                url: hook.url.clone(),
                secret: secret.clone(),
                events: hook.events.clone(),
                organisation: hook.organisation.clone(),
                active: true,
                created_by: hook.created_by.clone(),
                created_at: hook.created_at.clone(),
            },
            Some(&crate::auth::entry(
                by,
                "webhook_create",
                "webhook",
                &hook.id,
                None,
                Some(serde_json::json!({"url": hook.url, "events": hook.events, "organisation": hook.organisation})),
            )),
        )
        .await?;
    Ok(CreatedWebhook {
        webhook: hook,
        secret,
    })
}

async fn hooks_with_secrets(app: &App) -> ApiResult<Vec<(Webhook, String)>> {
    Ok(app
        .store
        .list_webhooks()
        .await?
        .into_iter()
        .map(|h| {
            (
                Webhook {
                    id: h.id,
                    url: h.url,
                    events: h.events,
                    organisation: h.organisation,
                    active: h.active,
                    created_by: h.created_by,
                    created_at: h.created_at,
                },
                h.secret,
            )
        })
        .collect())
}

pub async fn list_webhooks(app: &App) -> ApiResult<Vec<Webhook>> {
    Ok(hooks_with_secrets(app)
        .await?
        .into_iter()
        .map(|(h, _)| h)
        .collect())
}

/// Turn a webhook on or off (an inactive webhook is sent nothing). Turning one on checks its
/// address against the current policy again.
pub async fn set_webhook_active(
    app: &App,
    id: &str,
    active: bool,
    history: Option<&NewHistory>,
) -> ApiResult<()> {
    if active {
        if let Some(h) = list_webhooks(app).await?.into_iter().find(|h| h.id == id) {
            let u = reqwest::Url::parse(&h.url).map_err(|e| ApiError::bad(format!("url: {e}")))?;
            app.alerts
                .policy
                .check_url(&u)
                .map_err(ApiError::BadRequest)?;
        }
    }
    app.store.set_webhook_active(id, active, history).await?;
    Ok(())
}

/// Delete a webhook, its secret and its delivery log, with `history` in the same transaction.
pub async fn delete_webhook(app: &App, id: &str, history: Option<&NewHistory>) -> ApiResult<()> {
    app.store.delete_webhook(id, history).await?;
    Ok(())
}

impl Delivery {
    /// What a caller without a central role sees of a delivery: whether it arrived, not the
    /// receiver's status code or the connection error (which would make the delivery log a
    /// probe of the server's network).
    pub fn coarse(mut self) -> Delivery {
        self.status_code = None;
        self.error = (!self.success).then(|| "failed".to_string());
        self
    }
}

pub async fn deliveries(app: &App, webhook: &str) -> ApiResult<Vec<Delivery>> {
    Ok(app
        .store
        .deliveries(webhook)
        .await?
        .into_iter()
        .map(|d| Delivery {
            id: d.id,
            webhook_id: d.webhook_id,
            event_id: d.event_id,
            event: d.event,
            attempt: d.attempt,
            time: d.time,
            status_code: d.status_code,
            error: d.error,
            success: d.success,
        })
        .collect())
}

/// `sha256=<hex>` of `HMAC-SHA256(secret, "<timestamp>.<body>")`.
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Check a received signature (for receivers, and the tests): constant time, and the
/// timestamp within `tolerance` of now.
pub fn verify_signature(
    secret: &str,
    timestamp: i64,
    body: &[u8],
    sig: &str,
    tolerance: Duration,
) -> bool {
    let now = chrono::Utc::now().timestamp();
    if (now - timestamp).unsigned_abs() > tolerance.as_secs() {
        return false;
    }
    auth::ct_eq(&signature(secret, timestamp, body), sig)
}

async fn record_delivery(
    app: &App,
    hook: &str,
    ev: &Event,
    attempt: u32,
    status: Option<u16>,
    error: Option<String>,
    ok: bool,
) {
    let r = app
        .store
        .record_delivery(&DeliveryRecord {
            id: auth::new_id(),
            webhook_id: hook.to_string(),
            event_id: ev.id.clone(),
            event: ev.event.clone(),
            attempt: attempt as i64,
            time: camtrace_store::now_rfc3339(),
            status_code: status.map(|s| s as i64),
            error,
            success: ok,
        })
        .await;
    if let Err(e) = r {
        tracing::error!(error = %e, "recording a webhook delivery");
    }
}

/// How one attempt at a delivery ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    Delivered,
    /// Failed; worth trying again.
    Failed,
    /// Refused before sending (an address the policy forbids, no client): never retried.
    Refused,
}

/// One attempt to deliver `body` (the event `ev` as JSON) to `hook`, recorded in the delivery
/// log as attempt number `attempt`.
async fn attempt_once(
    app: &App,
    hook: &Webhook,
    secret: &str,
    ev: &Event,
    body: &[u8],
    attempt: u32,
) -> Attempt {
    // Literal addresses are checked here; host names when they resolve (GuardedResolver).
    let refused = match reqwest::Url::parse(&hook.url) {
        Ok(u) => app.alerts.policy.check_url(&u).err(),
        Err(e) => Some(format!("url: {e}")),
    };
    let client = match (&app.alerts.client, refused) {
        (Some(c), None) => c,
        (_, refused) => {
            let err = refused.unwrap_or_else(|| "webhook client unavailable".into());
            tracing::warn!(webhook = %hook.id, error = %err, "webhook delivery refused");
            record_delivery(app, &hook.id, ev, attempt, None, Some(err), false).await;
            app.alerts.failed.fetch_add(1, Ordering::Relaxed);
            return Attempt::Refused;
        }
    };
    let ts = chrono::Utc::now().timestamp();
    let res = client
        .post(&hook.url)
        .header("content-type", "application/json")
        .header("x-camtrace-event", ev.event.as_str())
        .header("x-camtrace-delivery", ev.id.as_str())
        .header("x-camtrace-timestamp", ts.to_string())
        .header("x-camtrace-signature", signature(secret, ts, body))
        .body(body.to_vec())
        .send()
        .await;
    let (status, err, ok) = match res {
        Ok(r) => {
            let s = r.status();
            (
                Some(s.as_u16()),
                (!s.is_success()).then(|| format!("HTTP {s}")),
                s.is_success(),
            )
        }
        Err(e) => {
            // The causes too (a refused address says so), never the URL.
            let mut causes = String::new();
            let mut src = std::error::Error::source(&e);
            while let Some(c) = src {
                causes.push_str(": ");
                causes.push_str(&c.to_string());
                src = c.source();
            }
            (None, Some(format!("{}{causes}", e.without_url())), false)
        }
    };
    record_delivery(app, &hook.id, ev, attempt, status, err.clone(), ok).await;
    if ok {
        app.alerts.sent.fetch_add(1, Ordering::Relaxed);
        return Attempt::Delivered;
    }
    app.alerts.failed.fetch_add(1, Ordering::Relaxed);
    tracing::warn!(webhook = %hook.id, attempt, error = ?err, "webhook delivery failed");
    Attempt::Failed
}

/// The wait before retry number `attempts` (1 for the first retry): the configured back-off,
/// doubled each time, at most an hour.
fn backoff(app: &App, attempts: u32) -> Duration {
    app.alerts
        .backoff
        .saturating_mul(1u32 << attempts.saturating_sub(1).min(20))
        .min(Duration::from_secs(3600))
}

/// Deliver one event to one webhook now, in this task, retrying with exponential back-off.
/// Returns whether it was delivered. (Raised alerts are delivered through the durable queue
/// instead: see [`raise`].)
pub async fn deliver(app: &App, hook: &Webhook, secret: &str, ev: &Event) -> bool {
    let body = match serde_json::to_vec(ev) {
        Ok(b) => b,
        Err(_) => return false,
    };
    for attempt in 1..=(1 + app.alerts.retries) {
        match attempt_once(app, hook, secret, ev, &body, attempt).await {
            Attempt::Delivered => return true,
            Attempt::Refused => return false,
            Attempt::Failed if attempt <= app.alerts.retries => {
                tokio::time::sleep(backoff(app, attempt)).await;
            }
            Attempt::Failed => {}
        }
    }
    false
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Where raised events go: the organisation tree and the webhooks, read once per checker pass
/// rather than once per event (most of a pass's events were raised before and go nowhere).
pub struct Routing {
    tree: std::sync::Arc<crate::access::OrgTree>,
    hooks: Vec<WebhookRecord>,
}

impl Routing {
    pub async fn load(app: &App) -> ApiResult<Routing> {
        let head = app.store.register_revision().await?;
        Ok(Routing {
            tree: app.org_tree.at(app.store.as_ref(), &head).await?,
            hooks: app.store.list_webhooks().await?,
        })
    }

    /// The active webhooks subscribed to `ev`, within their organisation's subtree.
    fn hooks_for<'a>(&'a self, ev: &'a Event) -> impl Iterator<Item = &'a WebhookRecord> + 'a {
        self.hooks.iter().filter(move |h| {
            h.active
                && (h.events.is_empty() || h.events.contains(&ev.event))
                && h.organisation.as_ref().is_none_or(|root| {
                    ev.organisation
                        .as_deref()
                        .is_some_and(|o| self.tree.is_within(o, root))
                })
        })
    }
}

/// Raise `ev` unless raised before: log it, and record it with one queued delivery per
/// matching webhook, in one transaction. Returns whether it was new. Replicas sharing the
/// database raise each event once; the queued deliveries are made by whichever replica's
/// delivery worker claims them, and survive the death of the replica that raised them.
pub async fn raise(app: &App, ev: Event) -> ApiResult<bool> {
    raise_routed(app, &Routing::load(app).await?, ev).await
}

/// [`raise`] with the routing read once by the caller.
pub async fn raise_routed(app: &App, routing: &Routing, ev: Event) -> ApiResult<bool> {
    let jobs: Vec<(String, String)> = routing
        .hooks_for(&ev)
        .map(|h| (auth::new_id(), h.id.clone()))
        .collect();
    let body = serde_json::to_string(&ev).map_err(|e| ApiError::Internal(e.to_string()))?;
    let new = app
        .store
        .raise_alert(
            &AlertEventRecord {
                key: ev.id.clone(),
                event: ev.event.clone(),
                organisation: ev.organisation.clone(),
                payload: ev.data.clone(),
                time: ev.time.clone(),
            },
            &body,
            &jobs,
            now_ms(),
        )
        .await?;
    if !new {
        return Ok(false);
    }
    tracing::warn!(event = %ev.event, key = %ev.id, organisation = ?ev.organisation, data = %ev.data, "alert");
    if !jobs.is_empty() {
        ensure_delivery_worker(app);
        app.alerts.work.notify_one();
    }
    Ok(true)
}

/// How long a claimed delivery is this replica's: longer than an attempt can take (the client's
/// 10 s timeout), so that only a dead or stuck replica loses it.
const DELIVERY_LEASE: Duration = Duration::from_secs(60);
/// How often an idle worker looks for deliveries queued by other replicas or due for retry.
const DELIVERY_POLL: Duration = Duration::from_secs(1);

/// Make one pass over the delivery queue: claim what is due, attempt each claimed delivery
/// once (concurrently), and record the outcome. Returns how many were attempted.
pub async fn deliver_due(app: &App) -> ApiResult<usize> {
    let now = now_ms();
    let lease_until = now + DELIVERY_LEASE.as_millis() as i64;
    let jobs = app
        .store
        .claim_webhook_jobs(&app.alerts.holder, now, lease_until, 32)
        .await?;
    if jobs.is_empty() {
        return Ok(0);
    }
    let hooks: HashMap<String, (Webhook, String)> = hooks_with_secrets(app)
        .await?
        .into_iter()
        .map(|(h, s)| (h.id.clone(), (h, s)))
        .collect();
    let n = jobs.len();
    let runs = jobs.into_iter().map(|job| {
        let hook = hooks.get(&job.webhook_id).cloned();
        async move {
            let outcome = match (hook, serde_json::from_str::<Event>(&job.body)) {
                (Some((hook, secret)), Ok(ev)) if hook.active => {
                    let attempt = job.attempts.clamp(0, 1000) as u32 + 1;
                    match attempt_once(app, &hook, &secret, &ev, job.body.as_bytes(), attempt)
                        .await
                    {
                        Attempt::Delivered => camtrace_store::JobOutcome::Delivered,
                        Attempt::Refused => camtrace_store::JobOutcome::GaveUp,
                        Attempt::Failed if attempt <= app.alerts.retries => {
                            camtrace_store::JobOutcome::RetryAt(
                                now_ms() + backoff(app, attempt).as_millis() as i64,
                            )
                        }
                        Attempt::Failed => camtrace_store::JobOutcome::GaveUp,
                    }
                }
                // Deleted or turned off since the event was raised, or unreadable.
                _ => camtrace_store::JobOutcome::GaveUp,
            };
            match app
                .store
                .finish_webhook_job(&job, &app.alerts.holder, outcome)
                .await
            {
                Ok(true) => {}
                Ok(false) => tracing::warn!(
                    job = %job.id,
                    "webhook delivery finished after its lease passed to another replica"
                ),
                Err(e) => tracing::error!(error = %e, job = %job.id, "recording a webhook delivery's outcome"),
            }
        }
    });
    futures_util::future::join_all(runs).await;
    Ok(n)
}

/// Start this replica's delivery worker unless it runs: it claims queued deliveries (its own
/// and those of replicas that died holding them) until the process ends.
pub fn ensure_delivery_worker(app: &App) {
    let started = app.clone();
    app.alerts.worker.call_once(move || {
        tokio::spawn(async move {
            let app = started;
            loop {
                let done = match deliver_due(&app).await {
                    Ok(n) => n,
                    Err(e) => {
                        tracing::error!(error = %e, "webhook delivery pass failed");
                        0
                    }
                };
                if done == 0 {
                    tokio::select! {
                        _ = tokio::time::sleep(DELIVERY_POLL) => {},
                        _ = app.alerts.work.notified() => {},
                    }
                }
            }
        });
    });
}

/// Regime name of the daily progress snapshots the checker records (all default regimes).
pub const SNAPSHOT_REGIME: &str = "default-regimes";

/// Record today's counts (open and waived findings) for every organisation (its subtree) and
/// for the whole estate, once a day: the dashboard's progress chart.
pub async fn record_daily_snapshot(app: &App, ev: &crate::findings::Evaluated) -> ApiResult<bool> {
    let today = ev.key.1;
    let existing = app
        .store
        .snapshots(&camtrace_store::SnapshotFilter {
            regime: Some(SNAPSHOT_REGIME.into()),
            organisation: Some(String::new()),
            since: Some(today),
            until: Some(today),
            ..Default::default()
        })
        .await?;
    if existing
        .iter()
        .any(|s| s.date == today && s.organisation.is_empty())
    {
        return Ok(false);
    }
    let parents: HashMap<&str, Option<&str>> = ev
        .estate
        .organisations
        .iter()
        .map(|o| (o.id.as_str(), o.parent.as_deref()))
        .collect();
    // (open, waived) per organisation, counted into every ancestor too; "" is everything.
    let mut counts: HashMap<String, (i64, i64)> = HashMap::new();
    for f in ev.findings.iter() {
        let waived = !f.status.is_actionable();
        let mut cur = Some(&*f.org_id);
        let mut n = 0;
        let mut bump = |k: &str| {
            let e = counts.entry(k.to_string()).or_default();
            if waived {
                e.1 += 1
            } else {
                e.0 += 1
            }
        };
        bump("");
        while let Some(o) = cur {
            n += 1;
            if n > 64 {
                break;
            }
            bump(o);
            cur = parents.get(o).copied().flatten();
        }
    }
    counts.entry(String::new()).or_default();
    for o in &ev.estate.organisations {
        counts.entry(o.id.clone()).or_default();
    }
    for (org, (open, waived)) in counts {
        app.store
            .record_snapshot(
                &camtrace_store::FindingsSnapshot {
                    date: today,
                    regime: SNAPSHOT_REGIME.into(),
                    organisation: org,
                    site: String::new(),
                    counts: serde_json::json!({"open": open, "waived": waived}),
                    recorded_at: String::new(),
                },
                "system",
            )
            .await?;
    }
    Ok(true)
}

/// One pass of the checker: returns the events raised now.
pub async fn check_once(app: &App) -> ApiResult<Vec<Event>> {
    let today = crate::findings::today();
    let now = camtrace_store::now_rfc3339();
    let mut raised = Vec::new();
    let ev = crate::findings::evaluated(app, today, &[]).await?;
    record_daily_snapshot(app, &ev).await?;
    let routing = Routing::load(app).await?;
    let sites: HashMap<&str, &camtrace_model::Site> =
        ev.estate.sites.iter().map(|s| (s.id.as_str(), s)).collect();
    let mut seen = std::collections::HashSet::new();
    for f in ev.findings.iter() {
        if f.status != camtrace_policy::FindingStatus::Open {
            continue;
        }
        let Some(site) = sites.get(&*f.site_id) else {
            continue;
        };
        if !site.criteria.is_sensitive() || !seen.insert(f.device_id.clone()) {
            continue;
        }
        let e = Event {
            id: format!("restricted:{}:{}", f.device_id, f.site_id),
            event: EVENTS[0].into(),
            organisation: Some(f.org_id.to_string()),
            time: now.clone(),
            data: serde_json::json!({
                "device": &*f.device_id, "site": &*f.site_id, "maker": f.maker.as_deref(),
                "rule": f.rule_key(), "sensitivity": site.criteria.reasons(),
            }),
        };
        if raise_routed(app, &routing, e.clone()).await? {
            raised.push(e);
        }
    }
    let orgs = crate::api::decisions::device_orgs(app).await?;
    for w in app
        .store
        .list_waivers(&camtrace_store::WaiverFilter::default())
        .await?
    {
        if w.revoked_at.is_some() || w.expires_on >= today {
            continue;
        }
        let e = Event {
            id: format!("waiver_expired:{}", w.id),
            event: EVENTS[1].into(),
            organisation: orgs.get(&w.device_id).cloned(),
            time: now.clone(),
            data: serde_json::json!({"waiver": w.id, "device": w.device_id, "rule": w.rule_id, "expired_on": w.expires_on}),
        };
        if raise_routed(app, &routing, e.clone()).await? {
            raised.push(e);
        }
    }
    for p in crate::api::decisions::all_plans(app).await? {
        if p.status != "approved" {
            continue;
        }
        let overdue: Vec<&crate::api::decisions::PlanAction> = p
            .actions
            .iter()
            .filter(|a| a.due.is_some_and(|d| d < today))
            .collect();
        let mut open = Vec::new();
        for a in overdue {
            if let Some(d) = app.store.get_device(&a.device_id).await? {
                if d.status != camtrace_model::DeviceStatus::Removed {
                    open.push(a.device_id.clone());
                }
            }
        }
        if open.is_empty() {
            continue;
        }
        let e = Event {
            id: format!("plan_overdue:{}:{today}", p.id),
            event: EVENTS[2].into(),
            organisation: Some(p.organisation.clone()),
            time: now.clone(),
            data: serde_json::json!({"plan": p.id, "title": p.title, "devices": open}),
        };
        if raise_routed(app, &routing, e.clone()).await? {
            raised.push(e);
        }
    }
    // Site agents not heard from for three scan periods: the site's evidence has stopped
    // coming. One event per silence (keyed on when it was last heard from): an agent that
    // comes back and falls silent again raises a new one.
    let now_t = chrono::Utc::now();
    for a in app.store.list_agents(None).await? {
        if !crate::api::agents::is_silent(&a, now_t) {
            continue;
        }
        let since = a.last_seen.clone().unwrap_or_else(|| a.created_at.clone());
        let e = Event {
            id: format!("agent_silent:{}:{since}", a.id),
            event: EVENTS[3].into(),
            organisation: Some(a.organisation.clone()),
            time: now.clone(),
            data: serde_json::json!({
                "agent": a.id, "name": a.name, "site": a.site,
                "last_seen": a.last_seen, "schedule_secs": a.schedule_secs,
                "outbox_depth": a.outbox_depth, "outbox_full": a.outbox_full,
            }),
        };
        if raise_routed(app, &routing, e.clone()).await? {
            raised.push(e);
        }
    }
    Ok(raised)
}

/// The checker's lease: one replica at a time makes a pass (alerts would be raised once
/// anyway, by their keys; the lease saves the others the work). Held for a pass only, so any
/// replica that sees a device change can make the next pass.
const CHECKER_LEASE: &str = "alert-checker";

/// One pass of the checker if no other replica is making one: `None` when one is.
pub async fn check_once_leased(app: &App) -> ApiResult<Option<Vec<Event>>> {
    let now = now_ms();
    // Longer than a pass takes; a replica that dies during one holds it this long at most.
    let until = now + 10 * 60 * 1000;
    if !app
        .store
        .try_lease(CHECKER_LEASE, &app.alerts.holder, now, until)
        .await?
    {
        return Ok(None);
    }
    let r = check_once(app).await;
    // Finished deliveries a week old leave the queue (their attempts stay in the delivery log).
    if let Err(e) = app
        .store
        .prune_webhook_jobs(now - 7 * 24 * 3600 * 1000)
        .await
    {
        tracing::warn!(error = %e, "pruning finished webhook deliveries");
    }
    // Attempts older than the retention leave the delivery log.
    let cut = chrono::Utc::now() - chrono::Duration::days(crate::DELIVERY_LOG_RETENTION_DAYS);
    match app.store.prune_deliveries(&crate::auth::rfc3339(cut)).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(pruned = n, "webhook delivery log retention"),
        Err(e) => tracing::warn!(error = %e, "pruning the webhook delivery log"),
    }
    if let Err(e) = app
        .store
        .release_lease(CHECKER_LEASE, &app.alerts.holder)
        .await
    {
        tracing::warn!(error = %e, "releasing the alert checker's lease");
    }
    r.map(Some)
}

/// The least time between two passes started by device changes (each pass evaluates the whole
/// estate: under a stream of agent batches, a pass every few seconds took the CPU the ingest
/// needed), or `alert_interval` if shorter.
const KICKED_PASS_GAP: Duration = Duration::from_secs(30);

/// The periodic checker (every `alert_interval`, and soon after device changes) and the
/// delivery worker.
pub fn spawn_background(app: App) -> tokio::task::JoinHandle<()> {
    ensure_delivery_worker(&app);
    tokio::spawn(async move {
        loop {
            let started = tokio::time::Instant::now();
            // Another replica's pass may have begun before the change that woke us: wait for
            // it to end rather than skip (at most a minute, then the interval).
            for _ in 0..12 {
                match check_once_leased(&app).await {
                    Ok(Some(_)) => break,
                    Ok(None) => tokio::time::sleep(Duration::from_secs(5)).await,
                    Err(e) => {
                        tracing::error!(error = %e, "alert check failed");
                        break;
                    }
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(app.config.alert_interval) => {},
                _ = app.alerts.kick.notified() => {
                    // Let a burst of changes settle, and keep kicked passes apart.
                    let gap = KICKED_PASS_GAP.min(app.config.alert_interval);
                    let next = (started + gap).max(tokio::time::Instant::now() + Duration::from_secs(2));
                    tokio::time::sleep_until(next).await;
                },
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_cover_timestamp_and_body() {
        let now = chrono::Utc::now().timestamp();
        let s = signature("k", now, b"{}");
        assert!(s.starts_with("sha256="));
        assert!(verify_signature(
            "k",
            now,
            b"{}",
            &s,
            Duration::from_secs(300)
        ));
        assert!(!verify_signature(
            "k",
            now,
            b"{ }",
            &s,
            Duration::from_secs(300)
        ));
        assert!(!verify_signature(
            "other",
            now,
            b"{}",
            &s,
            Duration::from_secs(300)
        ));
        assert!(!verify_signature(
            "k",
            now - 1000,
            b"{}",
            &signature("k", now - 1000, b"{}"),
            Duration::from_secs(300)
        ));
    }
}
