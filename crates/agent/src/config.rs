//! The agent's configuration file (TOML). See `docs/agent.md` for a documented example.

use crate::AgentError;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Largest configuration file read.
const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// The agent's configuration, as read from its TOML file. Relative paths are relative to the
/// file's directory.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    /// The central server's base URLs, tried in order (fail-over): `https://host:port`.
    /// `http://` is accepted for loopback addresses only.
    pub servers: Vec<String>,
    /// PEM file of the CA that signed the server's certificate (instead of the system roots).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Public-key pins of the servers' certificates: `sha256//<base64>`, the SHA-256 of the
    /// certificate's SubjectPublicKeyInfo (curl's `--pinnedpubkey` form). When set, a server
    /// is trusted only if its certificate chains to the CA (`ca_file` or the system roots) *and*
    /// its key is one of these; name two to rotate a key. Needs https servers.
    #[serde(default)]
    pub pin_sha256: Vec<String>,
    /// Where the credential obtained at enrolment is kept (written by `camtrace agent enrol`).
    pub credential_file: PathBuf,
    /// The site this agent scans (the enrolment token names the same site).
    pub site: String,
    /// What to scan, in `camtrace scan` syntax (addresses, CIDR blocks, ranges).
    pub targets: Vec<String>,
    /// Addresses or blocks the scan must stay within (refused otherwise); empty: no scope check.
    #[serde(default)]
    pub scope: Vec<String>,
    /// Addresses or blocks never scanned.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Packets per second (default 500; fragile cameras must not be knocked over).
    #[serde(default)]
    pub rate: Option<f64>,
    /// TCP ports, `camtrace scan --ports` syntax (default: the scanner's camera ports).
    #[serde(default)]
    pub ports: Option<String>,
    /// Skip unicast UDP discovery (default false).
    #[serde(default)]
    pub no_udp: bool,
    /// Seconds between the starts of two scans (60 to 604800; default 3600).
    #[serde(default = "default_schedule")]
    pub schedule_secs: u64,
    /// The outbox: an SQLite file (WAL) holding every batch until the server acknowledged it.
    pub outbox: PathBuf,
    /// The outbox's size cap in bytes (default 1 GiB). When reached, scanning stops (and says
    /// so) until batches are delivered; nothing is ever discarded.
    #[serde(default = "default_outbox_cap")]
    pub outbox_max_bytes: u64,
    /// Seconds one HTTP request may take (default 60).
    #[serde(default = "default_timeout")]
    pub request_timeout_secs: u64,
}

fn default_schedule() -> u64 {
    3600
}
fn default_outbox_cap() -> u64 {
    1 << 30
}
fn default_timeout() -> u64 {
    60
}

fn invalid(path: &Path, reason: impl Into<String>) -> AgentError {
    AgentError::Config {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// Whether `host` (of a URL) is a loopback address.
fn is_loopback_host(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h == "localhost"
        || h.parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The 32 bytes of a pin written `sha256//<base64>` (or bare base64).
pub fn decode_pin(pin: &str) -> Result<[u8; 32], String> {
    use base64::Engine as _;
    let b64 = pin.strip_prefix("sha256//").unwrap_or(pin);
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map_err(|e| format!("not base64: {e}"))?;
    bytes
        .try_into()
        .map_err(|b: Vec<u8>| format!("{} bytes, a SHA-256 is 32", b.len()))
}

impl AgentConfig {
    /// Read and check the file at `path`.
    pub fn load(path: &Path) -> Result<AgentConfig, AgentError> {
        let meta = std::fs::metadata(path).map_err(|e| invalid(path, e.to_string()))?;
        if meta.len() > MAX_CONFIG_BYTES {
            return Err(invalid(path, "larger than 1 MiB"));
        }
        let text = std::fs::read_to_string(path).map_err(|e| invalid(path, e.to_string()))?;
        let mut cfg = Self::parse(&text).map_err(|r| invalid(path, r))?;
        let base = path.parent().unwrap_or(Path::new("."));
        for p in [&mut cfg.credential_file, &mut cfg.outbox] {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
        if let Some(ca) = &mut cfg.ca_file {
            if ca.is_relative() {
                *ca = base.join(&*ca);
            }
        }
        Ok(cfg)
    }

    /// Parse and check configuration text; the error is the reason.
    pub fn parse(text: &str) -> Result<AgentConfig, String> {
        let cfg: AgentConfig = toml::from_str(text).map_err(|e| e.to_string())?;
        cfg.check()?;
        Ok(cfg)
    }

    fn check(&self) -> Result<(), String> {
        if self.servers.is_empty() || self.servers.len() > 16 {
            return Err("servers: 1 to 16 server URLs".into());
        }
        for s in &self.servers {
            let (scheme, rest) = s
                .split_once("://")
                .ok_or_else(|| format!("servers: `{s}` is not a URL (https://host:port)"))?;
            let host_port = rest.split('/').next().unwrap_or("");
            let host = match host_port.rfind(':') {
                Some(i) if !host_port.ends_with(']') => &host_port[..i],
                _ => host_port,
            };
            if host.is_empty() {
                return Err(format!("servers: `{s}` names no host"));
            }
            match scheme {
                "https" => {}
                "http" if is_loopback_host(host) => {}
                "http" => {
                    return Err(format!(
                        "servers: `{s}`: plain http is accepted for loopback only; use https"
                    ))
                }
                _ => return Err(format!("servers: `{s}`: scheme must be https")),
            }
        }
        if self.pin_sha256.len() > 16 {
            return Err("pin_sha256: at most 16 pins".into());
        }
        for p in &self.pin_sha256 {
            decode_pin(p).map_err(|e| format!("pin_sha256: `{p}`: {e}"))?;
        }
        if !self.pin_sha256.is_empty() && self.servers.iter().any(|s| !s.starts_with("https://")) {
            return Err("pin_sha256: pins protect https only; every server must be https".into());
        }
        let site_ok = !self.site.is_empty()
            && self.site.len() <= 200
            && !self.site.chars().any(|c| c.is_control() || c == '/');
        if !site_ok {
            return Err("site: 1-200 characters, no control characters or /".into());
        }
        if self.targets.is_empty() {
            return Err("targets: name at least one address or block".into());
        }
        if let Some(r) = self.rate {
            if !(r.is_finite() && r > 0.0 && r <= 1_000_000.0) {
                return Err(
                    "rate: a positive number of packets per second, at most 1000000".into(),
                );
            }
        }
        if !(60..=604_800).contains(&self.schedule_secs) {
            return Err("schedule_secs: 60 to 604800".into());
        }
        if !((64 << 10)..=(1u64 << 40)).contains(&self.outbox_max_bytes) {
            return Err("outbox_max_bytes: 65536 to 1099511627776".into());
        }
        if !(1..=3600).contains(&self.request_timeout_secs) {
            return Err("request_timeout_secs: 1 to 3600".into());
        }
        Ok(())
    }

    /// The scanner's configuration and targets, as `camtrace scan` would build them.
    pub fn scan_plan(
        &self,
    ) -> Result<(camtrace_probe::ScanConfig, camtrace_probe::TargetSet), AgentError> {
        use camtrace_probe::{targets, Scope, TargetSet};
        let bad = |what: &str, e: String| AgentError::Scan(format!("{what}: {e}"));
        let mut cfg = camtrace_probe::ScanConfig {
            rate: self.rate.unwrap_or(500.0),
            udp: !self.no_udp,
            ..Default::default()
        };
        if let Some(p) = &self.ports {
            cfg.ports = camtrace_probe::parse_ports(p).map_err(|e| bad("ports", e.to_string()))?;
        }
        if !self.scope.is_empty() {
            cfg.scope =
                Some(Scope::parse_items(&self.scope).map_err(|e| bad("scope", e.to_string()))?);
        }
        let specs = targets::parse_targets(
            &self.targets,
            cfg.scope.as_ref(),
            &mut targets::resolve_host,
        )
        .map_err(|e| bad("targets", e.to_string()))?;
        let excludes =
            targets::parse_specs(&self.exclude, true).map_err(|e| bad("exclude", e.to_string()))?;
        let set = TargetSet::new(specs, excludes);
        if let Some(scope) = &cfg.scope {
            set.check_scope(scope)
                .map_err(|e| bad("targets", e.to_string()))?;
        }
        set.check_size(cfg.max_hosts, false)
            .map_err(|e| bad("targets", e.to_string()))?;
        Ok((cfg, set))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
servers = ["https://central.example:8443", "http://127.0.0.1:8080"]
credential_file = "agent.credential"
site = "hq"
targets = ["127.0.0.1"]
outbox = "outbox.db"
"#;

    #[test]
    fn a_minimal_file_parses_with_defaults() {
        let c = AgentConfig::parse(GOOD).unwrap();
        assert_eq!(c.schedule_secs, 3600);
        assert_eq!(c.outbox_max_bytes, 1 << 30);
        assert_eq!(c.servers.len(), 2);
    }

    #[test]
    fn bad_files_are_refused_with_the_reason() {
        let cases = [
            (
                GOOD.replace("https://central", "http://central"),
                "loopback only",
            ),
            (GOOD.replace("site = \"hq\"", "site = \"\""), "site"),
            (
                GOOD.replace("targets = [\"127.0.0.1\"]", "targets = []"),
                "targets",
            ),
            (format!("{GOOD}schedule_secs = 5\n"), "schedule_secs"),
            (format!("{GOOD}rate = -1.0\n"), "rate"),
            (format!("{GOOD}outbox_max_bytes = 10\n"), "outbox_max_bytes"),
            (format!("{GOOD}colour = 1\n"), "unknown field"),
            ("servers = 3".to_string(), "invalid type"),
        ];
        for (text, want) in cases {
            let e = AgentConfig::parse(&text).unwrap_err();
            assert!(e.contains(want), "{want}: {e}");
        }
    }

    #[test]
    fn the_documented_example_parses() {
        let doc = include_str!("../../../docs/agent.md");
        let start = doc
            .find("```toml\n")
            .expect("a toml block in docs/agent.md")
            + 8;
        let end = start + doc[start..].find("```").unwrap();
        AgentConfig::parse(&doc[start..end]).expect("docs/agent.md example");
    }
}
