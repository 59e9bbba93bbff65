//! The site agent (`camtrace agent`): a long-running process for one site.
//!
//! * It is configured by a TOML file ([`AgentConfig`], documented in `docs/agent.md`).
//! * `enrol` exchanges a one-time enrolment token for the agent's own credential, kept in the
//!   credential file (mode 0600).
//! * `run` scans the site on its schedule with the same scanner as `camtrace scan`
//!   (`camtrace-probe`), cuts the observations into batches (at most [`MAX_BATCH_BYTES`] each,
//!   id = SHA-256 of the bytes), writes each to the [`Outbox`] *before* sending anything, and
//!   pushes the outbox to the server oldest first, with exponential backoff and jitter, trying
//!   the configured servers in turn. A batch leaves the outbox only once a server acknowledged
//!   it (`stored` or `duplicate`). When the outbox cap is reached, scanning stops and the agent
//!   says so; nothing is discarded.

pub mod config;
pub mod tls;
/// The outbox lives in the store crate, which owns every SQL query.
pub use camtrace_store::outbox;

pub use config::AgentConfig;
pub use outbox::{batch_id, Batch, Depth, Outbox, Put};

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use outbox::MAX_BATCH_BYTES;
/// The agent's version, reported to the server.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("configuration {path}: {reason}")]
    Config { path: PathBuf, reason: String },
    #[error("credential file {path}: {reason}")]
    Credential { path: PathBuf, reason: String },
    #[error("outbox: {0}")]
    Outbox(#[from] camtrace_store::outbox::OutboxError),
    #[error("scan: {0}")]
    Scan(String),
    /// No server could be reached, or every one answered with a server error.
    #[error("no server reachable: {0}")]
    Unreachable(String),
    /// A server refused the request for good (bad credential, revoked, bad batch).
    #[error("server refused ({status}): {message}")]
    Refused { status: u16, message: String },
    #[error("TLS setup: {0}")]
    Tls(String),
}

/// The credential file's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credential {
    pub agent_id: String,
    pub name: String,
    pub organisation: String,
    pub site: String,
    pub credential: String,
}

impl Credential {
    pub fn load(path: &Path) -> Result<Credential, AgentError> {
        let bad = |reason: String| AgentError::Credential {
            path: path.to_path_buf(),
            reason,
        };
        let meta = std::fs::metadata(path).map_err(|e| {
            bad(format!(
                "{e} (enrol first: camtrace agent enrol --config FILE --token TOKEN)"
            ))
        })?;
        if meta.len() > 64 << 10 {
            return Err(bad("larger than 64 KiB".into()));
        }
        let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
        let c: Credential = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
        if !c.credential.starts_with("cta_") {
            return Err(bad("not an agent credential".into()));
        }
        Ok(c)
    }

    /// Write the file, readable by its owner only, replacing it atomically.
    pub fn save(&self, path: &Path) -> Result<(), AgentError> {
        let bad = |e: std::io::Error| AgentError::Credential {
            path: path.to_path_buf(),
            reason: e.to_string(),
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(bad)?;
        }
        let tmp = path.with_extension("tmp");
        let text = serde_json::to_string_pretty(self).map_err(|e| AgentError::Credential {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        {
            use std::io::Write;
            let mut f = opts.open(&tmp).map_err(bad)?;
            f.write_all(text.as_bytes()).map_err(bad)?;
            f.sync_all().map_err(bad)?;
        }
        std::fs::rename(&tmp, path).map_err(bad)
    }
}

/// The server's receipt of a batch.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Receipt {
    pub batch_id: String,
    /// `stored` or `duplicate`.
    pub outcome: String,
    #[serde(default)]
    pub scan_id: Option<String>,
    #[serde(default)]
    pub observations: i64,
}

/// The HTTP side: the configured servers, tried in order, the last one that answered first.
pub struct Client {
    servers: Vec<String>,
    http: reqwest::Client,
    preferred: std::sync::atomic::AtomicUsize,
}

/// An error with its causes (a TLS refusal says why: the pin, the unknown issuer ...).
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        let c_text = c.to_string();
        if !out.contains(&c_text) {
            out.push_str(": ");
            out.push_str(&c_text);
        }
        src = c.source();
    }
    out
}

/// What a server said, when it answered.
enum Answer {
    Ok(serde_json::Value),
    /// 4xx: the request is wrong (or the agent is not allowed); retrying will not help.
    Refused(u16, String),
}

impl Client {
    pub fn new(cfg: &AgentConfig) -> Result<Client, AgentError> {
        let mut b = reqwest::Client::builder()
            .timeout(Duration::from_secs(cfg.request_timeout_secs))
            .connect_timeout(Duration::from_secs(cfg.request_timeout_secs.min(15)))
            .no_proxy()
            .user_agent(format!("camtrace-agent/{VERSION}"));
        if !cfg.pin_sha256.is_empty() {
            let pins = cfg
                .pin_sha256
                .iter()
                .map(|p| config::decode_pin(p).map_err(AgentError::Tls))
                .collect::<Result<Vec<_>, _>>()?;
            b = b.use_preconfigured_tls(tls::pinned_config(cfg.ca_file.as_deref(), &pins)?);
        } else if let Some(ca) = &cfg.ca_file {
            let pem = std::fs::read(ca)
                .map_err(|e| AgentError::Tls(format!("ca_file {}: {e}", ca.display())))?;
            let cert = reqwest::Certificate::from_pem(&pem)
                .map_err(|e| AgentError::Tls(format!("ca_file {}: {e}", ca.display())))?;
            b = b.tls_built_in_root_certs(false).add_root_certificate(cert);
        }
        Ok(Client {
            servers: cfg
                .servers
                .iter()
                .map(|s| s.trim_end_matches('/').to_string())
                .collect(),
            http: b.build().map_err(|e| AgentError::Tls(e.to_string()))?,
            preferred: Default::default(),
        })
    }

    /// Send the request built by `make` to each server in turn until one answers with other
    /// than a server error (5xx) or a transport failure.
    async fn send(
        &self,
        make: impl Fn(&reqwest::Client, &str) -> reqwest::RequestBuilder,
    ) -> Result<Answer, AgentError> {
        use std::sync::atomic::Ordering;
        let n = self.servers.len();
        let first = self.preferred.load(Ordering::Relaxed) % n;
        let mut errors = Vec::new();
        for k in 0..n {
            let i = (first + k) % n;
            let base = &self.servers[i];
            match make(&self.http, base).send().await {
                Err(e) => errors.push(format!("{base}: {}", with_causes(&e))),
                Ok(r) => {
                    let status = r.status().as_u16();
                    let text = r.text().await.unwrap_or_default();
                    if status >= 500 || status == 429 {
                        errors.push(format!("{base}: {status} {}", message(&text)));
                        continue;
                    }
                    self.preferred.store(i, Ordering::Relaxed);
                    if (200..300).contains(&status) {
                        let v = serde_json::from_str(&text).map_err(|e| {
                            AgentError::Unreachable(format!("{base}: unreadable answer: {e}"))
                        })?;
                        return Ok(Answer::Ok(v));
                    }
                    return Ok(Answer::Refused(status, message(&text)));
                }
            }
        }
        Err(AgentError::Unreachable(errors.join("; ")))
    }

    /// Exchange an enrolment token for the agent's credential.
    pub async fn enrol(&self, token: &str) -> Result<Credential, AgentError> {
        let body = serde_json::json!({ "token": token });
        match self
            .send(|c, base| c.post(format!("{base}/api/v1/agents/enrol")).json(&body))
            .await?
        {
            Answer::Ok(v) => {
                let get = |k: &str| v[k].as_str().unwrap_or_default().to_string();
                let c = Credential {
                    agent_id: get("agent_id"),
                    name: get("name"),
                    organisation: get("organisation"),
                    site: get("site"),
                    credential: get("credential"),
                };
                if !c.credential.starts_with("cta_") {
                    return Err(AgentError::Unreachable(
                        "the server's answer holds no credential".into(),
                    ));
                }
                Ok(c)
            }
            Answer::Refused(status, message) => Err(AgentError::Refused { status, message }),
        }
    }

    fn with_health(
        req: reqwest::RequestBuilder,
        cred: &Credential,
        h: &Health,
    ) -> reqwest::RequestBuilder {
        let mut r = req
            .bearer_auth(&cred.credential)
            .header("x-camtrace-agent-version", VERSION)
            .header("x-camtrace-outbox-depth", h.depth.batches.to_string())
            .header("x-camtrace-outbox-bytes", h.depth.bytes.to_string())
            .header(
                "x-camtrace-outbox-full",
                if h.outbox_full { "1" } else { "0" },
            )
            .header("x-camtrace-schedule-secs", h.schedule_secs.to_string());
        if let Some(t) = &h.last_scan {
            r = r.header("x-camtrace-last-scan", t);
        }
        r
    }

    /// Push one batch; `Ok` once a server acknowledged it.
    pub async fn push(
        &self,
        cred: &Credential,
        batch: &Batch,
        health: &Health,
    ) -> Result<Receipt, AgentError> {
        let site = batch.site.clone();
        match self
            .send(|c, base| {
                Self::with_health(
                    c.post(format!("{base}/api/v1/agents/batches/{}", batch.id))
                        .query(&[("site", site.as_str())])
                        .header("content-type", "application/x-ndjson")
                        .body(batch.body.clone()),
                    cred,
                    health,
                )
            })
            .await?
        {
            Answer::Ok(v) => serde_json::from_value(v)
                .map_err(|e| AgentError::Unreachable(format!("unreadable receipt: {e}"))),
            Answer::Refused(status, message) => Err(AgentError::Refused { status, message }),
        }
    }

    /// Tell the server the agent is alive (with its health).
    pub async fn heartbeat(&self, cred: &Credential, health: &Health) -> Result<(), AgentError> {
        match self
            .send(|c, base| {
                Self::with_health(
                    c.post(format!("{base}/api/v1/agents/heartbeat")),
                    cred,
                    health,
                )
            })
            .await?
        {
            Answer::Ok(_) => Ok(()),
            Answer::Refused(status, message) => Err(AgentError::Refused { status, message }),
        }
    }
}

fn message(text: &str) -> String {
    serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_string))
        .unwrap_or_else(|| text.chars().take(300).collect())
}

/// What the agent reports about itself.
#[derive(Debug, Clone, Default)]
pub struct Health {
    pub depth: Depth,
    pub outbox_full: bool,
    pub last_scan: Option<String>,
    pub schedule_secs: u64,
}

/// Cut observations (JSON Lines) into batches of at most `max` bytes each (a single line
/// larger than `max` makes a batch of its own).
pub fn cut_batches(lines: &[String], max: usize) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut cur: Vec<u8> = Vec::new();
    for l in lines {
        if !cur.is_empty() && cur.len() + l.len() + 1 > max {
            out.push(std::mem::take(&mut cur));
        }
        cur.extend_from_slice(l.as_bytes());
        cur.push(b'\n');
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Backoff before the `attempt`-th retry (1-based): 1 s doubling to 5 min, with ±50 % jitter.
pub fn backoff(attempt: u32) -> Duration {
    use rand::Rng;
    let base = Duration::from_secs(1)
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(9))
        .min(Duration::from_secs(300));
    let jitter = rand::thread_rng().gen_range(0.5..1.5);
    base.mul_f64(jitter)
}

/// The agent: configuration, credential, outbox and client.
pub struct Agent {
    pub config: AgentConfig,
    pub credential: Credential,
    pub outbox: Outbox,
    pub client: Client,
    last_scan: Option<String>,
}

/// What one scan did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScanOutcome {
    pub observations: usize,
    pub batches_added: usize,
    /// The outbox is full: the scan was not run (or its batches not all kept).
    pub outbox_full: bool,
}

/// What one delivery round did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PushOutcome {
    pub delivered: usize,
    pub duplicates: usize,
    /// Left in the outbox (server unreachable, or refusing).
    pub remaining: i64,
    pub last_error: Option<String>,
}

impl Agent {
    /// Open the agent described by `config`: credential (must exist) and outbox.
    pub async fn open(config: AgentConfig) -> Result<Agent, AgentError> {
        let credential = Credential::load(&config.credential_file)?;
        if credential.site != config.site {
            return Err(AgentError::Config {
                path: config.credential_file.clone(),
                reason: format!(
                    "the credential is for site `{}`, the configuration names `{}`",
                    credential.site, config.site
                ),
            });
        }
        let outbox = Outbox::open(&config.outbox, config.outbox_max_bytes).await?;
        let client = Client::new(&config)?;
        Ok(Agent {
            config,
            credential,
            outbox,
            client,
            last_scan: None,
        })
    }

    pub async fn health(&self) -> Result<Health, AgentError> {
        let depth = self.outbox.depth().await?;
        Ok(Health {
            outbox_full: self.outbox.is_full().await?,
            depth,
            last_scan: self.last_scan.clone(),
            schedule_secs: self.config.schedule_secs,
        })
    }

    /// Scan the site once and put the result in the outbox. When the outbox is (nearly) full
    /// the scan is not run: it says so and keeps what is waiting.
    pub async fn scan_once(&mut self) -> Result<ScanOutcome, AgentError> {
        if self.outbox.is_full().await? {
            let d = self.outbox.depth().await?;
            tracing::error!(
                batches = d.batches,
                bytes = d.bytes,
                cap = self.outbox.cap(),
                "outbox full: scanning stopped until the server takes delivery (nothing is discarded)"
            );
            return Ok(ScanOutcome {
                outbox_full: true,
                ..Default::default()
            });
        }
        let (cfg, targets) = self.config.scan_plan()?;
        let mut sink = camtrace_probe::scan::CollectSink::default();
        camtrace_probe::scan(&cfg, &targets, &mut sink)
            .await
            .map_err(|e| AgentError::Scan(e.to_string()))?;
        let mut lines = Vec::new();
        for h in &sink.hosts {
            for o in &h.observations {
                lines.push(serde_json::to_string(o).map_err(|e| AgentError::Scan(e.to_string()))?);
            }
        }
        self.last_scan =
            Some(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        let mut out = ScanOutcome {
            observations: lines.len(),
            ..Default::default()
        };
        for body in cut_batches(&lines, MAX_BATCH_BYTES) {
            match self.outbox.put(&self.config.site, &body).await? {
                Put::Added => out.batches_added += 1,
                Put::AlreadyThere => {}
                Put::Full => {
                    out.outbox_full = true;
                    tracing::error!("outbox full: part of this scan was not kept; scanning stopped until the server takes delivery");
                    break;
                }
            }
        }
        tracing::info!(
            observations = out.observations,
            batches = out.batches_added,
            "scan done"
        );
        Ok(out)
    }

    /// Deliver the outbox, oldest first, until it is empty or a batch cannot be delivered now
    /// (the batch stays; the caller retries later with [`backoff`]).
    pub async fn push_pending(&self) -> Result<PushOutcome, AgentError> {
        let mut out = PushOutcome::default();
        while let Some(b) = self.outbox.oldest().await? {
            let health = self.health().await?;
            match self.client.push(&self.credential, &b, &health).await {
                Ok(r) if r.batch_id == b.id => {
                    self.outbox.delete(&b.id).await?;
                    if r.outcome == "duplicate" {
                        out.duplicates += 1;
                    } else {
                        out.delivered += 1;
                    }
                }
                Ok(r) => {
                    let e = format!("receipt for batch {} names {}", b.id, r.batch_id);
                    self.outbox.failed(&b.id, &e).await?;
                    out.last_error = Some(e);
                    break;
                }
                Err(e) => {
                    self.outbox.failed(&b.id, &e.to_string()).await?;
                    out.last_error = Some(e.to_string());
                    break;
                }
            }
        }
        out.remaining = self.outbox.depth().await?.batches;
        if out.delivered + out.duplicates > 0 && out.last_error.is_none() {
            // The last push reported the outbox before its batch left: say how it is now.
            if let Err(e) = self
                .client
                .heartbeat(&self.credential, &self.health().await?)
                .await
            {
                tracing::warn!("heartbeat: {e}");
            }
        }
        Ok(out)
    }

    /// Run until `stop` resolves: scan on the schedule, deliver continuously with backoff and
    /// jitter, heartbeat when idle.
    pub async fn run(
        &mut self,
        stop: impl std::future::Future<Output = ()>,
    ) -> Result<(), AgentError> {
        tokio::pin!(stop);
        let schedule = Duration::from_secs(self.config.schedule_secs);
        let mut next_scan = tokio::time::Instant::now();
        let mut attempt: u32 = 0;
        let mut next_push = tokio::time::Instant::now();
        loop {
            let now = tokio::time::Instant::now();
            if now >= next_scan {
                next_scan = now + schedule;
                match self.scan_once().await {
                    Ok(_) => {}
                    Err(e @ AgentError::Outbox(_)) => return Err(e),
                    Err(e) => tracing::error!("scan failed: {e}"),
                }
                next_push = now;
            }
            if tokio::time::Instant::now() >= next_push {
                let r = self.push_pending().await?;
                if r.delivered + r.duplicates > 0 {
                    tracing::info!(
                        delivered = r.delivered,
                        duplicates = r.duplicates,
                        remaining = r.remaining,
                        "batches delivered"
                    );
                }
                match (&r.last_error, r.remaining) {
                    (Some(e), _) => {
                        attempt = attempt.saturating_add(1);
                        let wait = backoff(attempt);
                        tracing::warn!(remaining = r.remaining, retry_in = ?wait, "delivery failed: {e}");
                        next_push = tokio::time::Instant::now() + wait;
                    }
                    (None, _) => {
                        attempt = 0;
                        if let Err(e) = self
                            .client
                            .heartbeat(&self.credential, &self.health().await?)
                            .await
                        {
                            tracing::warn!("heartbeat: {e}");
                        }
                        next_push = next_scan;
                    }
                }
            }
            let wake = next_scan.min(next_push);
            tokio::select! {
                _ = &mut stop => return Ok(()),
                _ = tokio::time::sleep_until(wake) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_outbox_stops_scanning_and_keeps_what_waits() {
        let dir = tempfile::tempdir().unwrap();
        let cfg_text = r#"
servers = ["http://127.0.0.1:9"]
credential_file = "agent.credential"
site = "hq"
targets = ["127.0.0.1"]
ports = "9"
no_udp = true
outbox = "outbox.db"
outbox_max_bytes = 65536
"#;
        let path = dir.path().join("agent.toml");
        std::fs::write(&path, cfg_text).unwrap();
        let cfg = AgentConfig::load(&path).unwrap();
        Credential {
            agent_id: "a1".into(),
            name: "hq-agent".into(),
            organisation: "dept".into(),
            site: "hq".into(),
            credential: "cta_test".into(),
        }
        .save(&cfg.credential_file)
        .unwrap();
        let mut agent = Agent::open(cfg).await.unwrap();
        // 50 KiB waiting of 64 KiB: less than a quarter free.
        let body = vec![b'x'; 50 << 10];
        assert_eq!(agent.outbox.put("hq", &body).await.unwrap(), Put::Added);
        let s = agent.scan_once().await.unwrap();
        assert!(s.outbox_full);
        assert_eq!(s.observations, 0, "no scan was run");
        assert!(agent.health().await.unwrap().outbox_full);
        assert_eq!(
            agent.outbox.depth().await.unwrap(),
            Depth {
                batches: 1,
                bytes: 50 << 10
            }
        );
        // The server (port 9 on loopback: nothing listens) cannot take it: it stays.
        let r = agent.push_pending().await.unwrap();
        assert_eq!(r.remaining, 1);
        assert!(r.last_error.is_some());
        assert_eq!(agent.outbox.oldest().await.unwrap().unwrap().attempts, 1);
    }

    #[test]
    fn batches_are_cut_at_line_boundaries_under_the_cap() {
        let lines: Vec<String> = (0..10).map(|i| format!("{{\"n\":{i}}}")).collect();
        let b = cut_batches(&lines, 20);
        assert!(b.len() > 1);
        let joined: Vec<u8> = b.concat();
        assert_eq!(joined, (lines.join("\n") + "\n").into_bytes());
        for x in &b {
            assert!(x.len() <= 20 && x.ends_with(b"\n"));
        }
        assert!(cut_batches(&[], 20).is_empty());
    }

    #[test]
    fn backoff_grows_with_jitter_and_is_capped() {
        for a in 1..40 {
            let d = backoff(a);
            let base = 2f64.powi((a - 1).min(9) as i32).min(300.0);
            assert!(
                d.as_secs_f64() >= base * 0.5 && d.as_secs_f64() <= base * 1.5,
                "{a}: {d:?}"
            );
        }
    }
}
