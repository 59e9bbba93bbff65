//! Server configuration: a TOML file, overridden by environment variables and flags (the CLI
//! merges those; see `camtrace serve --help`).

use crate::auth::PasswordCost;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const DEFAULT_BIND: &str = "127.0.0.1:8080";
/// Largest configuration file read.
const MAX_CONFIG_BYTES: u64 = 1 << 20;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub bind: SocketAddr,
    /// Serve HTTPS with these PEM files.
    pub tls: Option<TlsFiles>,
    /// Behind a TLS-terminating reverse proxy: cookies are still marked `Secure`.
    pub behind_proxy: bool,
    pub session_ttl: chrono::Duration,
    /// Default lifetime of a new API token (callers may ask for less).
    pub token_ttl: chrono::Duration,
    pub max_body_bytes: usize,
    pub password_cost: PasswordCost,
    /// Webhook attempts after the first.
    pub webhook_retries: u32,
    /// First retry delay; doubles each time.
    pub webhook_backoff: Duration,
    /// How often deadlines (waiver expiry, plan dates) and new restricted devices are checked.
    pub alert_interval: Duration,
    /// Serve `GET /metrics` without authentication. Off by default: metrics then need an API
    /// token with the `metrics:read` scope or a central admin session. Only for a scraper on a
    /// trusted loopback-only network; the server warns when it is on and the bind address is
    /// not loopback.
    pub metrics_public: bool,
    /// Where webhooks may deliver besides public addresses: CIDR blocks of on-premises
    /// receivers (loopback, private, link-local ... are refused otherwise; see
    /// [`crate::webhook_guard`]).
    pub webhook_policy: crate::webhook_guard::AddressPolicy,
    /// Observations written per INSERT by the agents' batch ingest (`None`: the store's
    /// default). Not in the configuration file: for benchmarks, where 1 is the naive
    /// one-statement-per-row baseline.
    pub ingest_rows_per_statement: Option<usize>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            bind: DEFAULT_BIND
                .parse()
                .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 8080))),
            tls: None,
            behind_proxy: false,
            session_ttl: chrono::Duration::hours(12),
            token_ttl: chrono::Duration::days(90),
            max_body_bytes: 64 << 20,
            password_cost: PasswordCost::Default,
            ingest_rows_per_statement: None,
            webhook_retries: 5,
            webhook_backoff: Duration::from_secs(2),
            alert_interval: Duration::from_secs(300),
            metrics_public: false,
            webhook_policy: Default::default(),
        }
    }
}

impl ServerConfig {
    /// Whether session cookies carry `Secure` (HTTPS here or at the proxy).
    pub fn secure_cookies(&self) -> bool {
        self.tls.is_some() || self.behind_proxy
    }

    /// Apply a configuration file over the current values.
    pub fn apply_file(&mut self, f: &FileConfig) -> Result<(), String> {
        if let Some(b) = &f.bind {
            self.bind = parse_bind(b)?;
        }
        match (&f.tls_cert, &f.tls_key) {
            (Some(c), Some(k)) => {
                self.tls = Some(TlsFiles {
                    cert: c.clone(),
                    key: k.clone(),
                })
            }
            (None, None) => {}
            _ => return Err("tls_cert and tls_key must be given together".into()),
        }
        if let Some(p) = f.behind_proxy {
            self.behind_proxy = p;
        }
        if let Some(h) = f.session_hours {
            if !(1..=24 * 30).contains(&h) {
                return Err("session_hours must be 1..720".into());
            }
            self.session_ttl = chrono::Duration::hours(h);
        }
        if let Some(d) = f.token_days {
            if !(1..=3650).contains(&d) {
                return Err("token_days must be 1..3650".into());
            }
            self.token_ttl = chrono::Duration::days(d);
        }
        if let Some(m) = f.max_body_mib {
            if !(1..=4096).contains(&m) {
                return Err("max_body_mib must be 1..4096".into());
            }
            self.max_body_bytes = (m as usize) << 20;
        }
        if let Some(r) = f.webhook_retries {
            self.webhook_retries = r.min(20);
        }
        if let Some(s) = f.webhook_backoff_secs {
            if !s.is_finite() {
                return Err("webhook_backoff_secs must be a number of seconds".into());
            }
            self.webhook_backoff = Duration::from_secs_f64(s.clamp(0.01, 3600.0));
        }
        if let Some(s) = f.alert_interval_secs {
            self.alert_interval = Duration::from_secs(s.clamp(1, 86400));
        }
        if let Some(m) = f.metrics_public {
            self.metrics_public = m;
        }
        if let Some(list) = &f.webhook_allow {
            self.webhook_policy = crate::webhook_guard::AddressPolicy::from_allow_list(list)?;
        }
        Ok(())
    }
}

pub fn parse_bind(s: &str) -> Result<SocketAddr, String> {
    s.parse()
        .map_err(|e| format!("bind address `{s}`: {e} (expected e.g. 127.0.0.1:8080)"))
}

/// The TOML configuration file (every key optional).
///
/// ```toml
/// bind = "127.0.0.1:8080"
/// db = "camtrace.db"            # or postgres://...
/// tls_cert = "cert.pem"
/// tls_key = "key.pem"
/// behind_proxy = false
/// session_hours = 12
/// token_days = 90
/// max_body_mib = 64
/// webhook_retries = 5
/// webhook_backoff_secs = 2
/// alert_interval_secs = 300
/// # GET /metrics without authentication (default false: a `metrics:read` API token or a
/// # central admin session is needed). Only for scraping over a trusted loopback-only network.
/// metrics_public = false
/// # Webhooks deliver only to public addresses unless allowed here (CIDR blocks of
/// # on-premises receivers; loopback, private, link-local, CGNAT ... are refused otherwise).
/// webhook_allow = ["10.20.0.0/24"]
/// # Behind a TLS-terminating reverse proxy: cookies are marked Secure, and the proxy's
/// # X-Forwarded-For (client address, for sign-in throttling) and X-Forwarded-Proto (HSTS)
/// # are trusted. Only with a proxy that sets them; otherwise clients could forge them.
/// behind_proxy = false
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub bind: Option<String>,
    pub db: Option<String>,
    pub kb: Option<PathBuf>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub behind_proxy: Option<bool>,
    pub session_hours: Option<i64>,
    pub token_days: Option<i64>,
    pub max_body_mib: Option<u64>,
    pub webhook_retries: Option<u32>,
    pub webhook_backoff_secs: Option<f64>,
    pub alert_interval_secs: Option<u64>,
    /// Serve `/metrics` without authentication (see [`ServerConfig::metrics_public`]).
    pub metrics_public: Option<bool>,
    /// CIDR blocks webhooks may deliver to besides public addresses.
    pub webhook_allow: Option<Vec<String>>,
}

impl FileConfig {
    pub fn load(path: &Path) -> Result<FileConfig, String> {
        let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
        if meta.len() > MAX_CONFIG_BYTES {
            return Err(format!("{}: larger than 1 MiB", path.display()));
        }
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_overrides_defaults_and_rejects_unknown_keys() {
        let f: FileConfig =
            toml::from_str("bind = \"127.0.0.1:9000\"\nsession_hours = 2\nbehind_proxy = true\n")
                .unwrap();
        let mut c = ServerConfig::default();
        assert_eq!(c.bind.to_string(), "127.0.0.1:8080");
        assert!(!c.secure_cookies());
        c.apply_file(&f).unwrap();
        assert_eq!(c.bind.port(), 9000);
        assert_eq!(c.session_ttl, chrono::Duration::hours(2));
        assert!(c.secure_cookies());
        assert!(!c.metrics_public, "metrics need authentication by default");
        c.apply_file(&toml::from_str("metrics_public = true").unwrap())
            .unwrap();
        assert!(c.metrics_public);
        assert!(toml::from_str::<FileConfig>("bnd = 1").is_err());
        let half: FileConfig = toml::from_str("tls_cert = \"c.pem\"").unwrap();
        assert!(ServerConfig::default().apply_file(&half).is_err());
    }
}
