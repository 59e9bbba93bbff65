//! `camtrace serve`: the HTTP API and web dashboard over the register store.

use crate::common::Global;
use anyhow::Context;
use camtrace_server::config::{parse_bind, FileConfig};
use camtrace_server::{App, ServerConfig, TlsFiles};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// Settings come from the configuration file, then environment variables, then flags (each
/// overriding the one before). The database is `--db` / `CAMTRACE_DB` (SQLite file by default,
/// `postgres://...` for shared use).
#[derive(clap::Args, Debug)]
pub struct Args {
    /// TOML configuration file (keys: bind, db, kb, tls_cert, tls_key, behind_proxy,
    /// session_hours, token_days, max_body_mib, webhook_retries, webhook_backoff_secs,
    /// alert_interval_secs, metrics_public, webhook_allow).
    #[arg(long, env = "CAMTRACE_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "CAMTRACE_BIND", value_name = "ADDR")]
    pub bind: Option<String>,
    /// Serve HTTPS with this PEM certificate chain (with --tls-key).
    #[arg(
        long,
        env = "CAMTRACE_TLS_CERT",
        value_name = "PEM",
        requires = "tls_key"
    )]
    pub tls_cert: Option<PathBuf>,
    /// Private key (PEM) for --tls-cert.
    #[arg(
        long,
        env = "CAMTRACE_TLS_KEY",
        value_name = "PEM",
        requires = "tls_cert"
    )]
    pub tls_key: Option<PathBuf>,
    /// Running behind a TLS-terminating reverse proxy: mark cookies Secure, and trust the
    /// proxy's X-Forwarded-For (client address, for sign-in throttling) and X-Forwarded-Proto
    /// (HSTS). Only behind a proxy that sets both; otherwise clients could forge them.
    #[arg(long, alias = "trust-proxy", env = "CAMTRACE_BEHIND_PROXY")]
    pub behind_proxy: bool,
    /// Let webhooks deliver to this CIDR block too (repeatable; e.g. 10.20.0.0/24 for an
    /// on-premises receiver). By default webhooks reach only public addresses: loopback,
    /// private, link-local, unique-local, CGNAT and cloud-metadata addresses are refused, after
    /// DNS resolution. Replaces the configuration file's webhook_allow.
    #[arg(
        long,
        env = "CAMTRACE_WEBHOOK_ALLOW",
        value_name = "CIDR",
        value_delimiter = ','
    )]
    pub webhook_allow: Vec<String>,
    /// Seconds between alert checks (waiver expiry, plan dates, restricted devices).
    #[arg(long, value_name = "SECS")]
    pub alert_interval: Option<u64>,
    /// Serve /metrics without authentication (default: a `metrics:read` token or a central
    /// admin session). Only for a scraper on a trusted, loopback-only network.
    #[arg(long, env = "CAMTRACE_METRICS_PUBLIC")]
    pub metrics_public: bool,
    /// Print the OpenAPI document and exit.
    #[arg(long)]
    pub openapi: bool,
}

pub fn run(g: &Global, a: Args) -> anyhow::Result<ExitCode> {
    if a.openapi {
        print!("{}", camtrace_server::api::openapi_json());
        return Ok(ExitCode::SUCCESS);
    }
    let mut cfg = ServerConfig::default();
    let mut file = FileConfig::default();
    if let Some(path) = &a.config {
        file = FileConfig::load(path).map_err(|e| anyhow::anyhow!(e))?;
        cfg.apply_file(&file).map_err(|e| anyhow::anyhow!(e))?;
    }
    if let Some(b) = &a.bind {
        cfg.bind = parse_bind(b).map_err(|e| anyhow::anyhow!(e))?;
    }
    if let (Some(cert), Some(key)) = (&a.tls_cert, &a.tls_key) {
        cfg.tls = Some(TlsFiles {
            cert: cert.clone(),
            key: key.clone(),
        });
    }
    if a.behind_proxy {
        cfg.behind_proxy = true;
    }
    if let Some(s) = a.alert_interval {
        cfg.alert_interval = std::time::Duration::from_secs(s.clamp(1, 86400));
    }
    if a.metrics_public {
        cfg.metrics_public = true;
    }
    if !a.webhook_allow.is_empty() {
        cfg.webhook_policy =
            camtrace_server::webhook_guard::AddressPolicy::from_allow_list(&a.webhook_allow)
                .map_err(|e| anyhow::anyhow!(e))?;
    }
    // The file's database and knowledge base apply unless given by flag or environment.
    let mut g = g.clone();
    if std::env::var_os("CAMTRACE_DB").is_none() && g.db == "camtrace.db" {
        if let Some(db) = &file.db {
            g.db = db.clone();
        }
    }
    if g.kb.is_none() {
        g.kb = file.kb.clone();
    }
    let files = g.kb_files()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(async move {
        let store = camtrace_store::open(&g.db)
            .await
            .with_context(|| format!("opening the store `{}`", redact(&g.db)))?;
        let app = App::new(Arc::from(store), &files, cfg).map_err(|e| anyhow::anyhow!(e))?;
        let env_pw = std::env::var("CAMTRACE_ADMIN_PASSWORD").ok();
        match camtrace_server::bootstrap_admin(&app, env_pw)
            .await
            .map_err(|e| anyhow::anyhow!("creating the first user: {e}"))?
        {
            camtrace_server::Bootstrap::CreatedWithPassword(pw) => {
                // On stdout (not among the log lines) and in a file only its owner can read.
                println!("camtrace serve: first run: created user `admin` (central admin) with password: {pw}");
                let file = admin_password_file(&g.db);
                match write_private(&file, &format!("{pw}\n")) {
                    Ok(()) => println!(
                        "camtrace serve: the password is also in {} (readable by its owner only); delete it once you have changed the password (POST /api/v1/me/password)",
                        file.display()
                    ),
                    Err(e) => eprintln!(
                        "camtrace serve: could not write the password to {}: {e}; it is shown only above",
                        file.display()
                    ),
                }
            }
            camtrace_server::Bootstrap::CreatedFromEnvironment => {
                eprintln!("camtrace serve: first run: created user `admin` with the password from CAMTRACE_ADMIN_PASSWORD")
            }
            camtrace_server::Bootstrap::Existing => {}
        }
        camtrace_server::serve(app, |addr, tls| {
            eprintln!(
                "camtrace serve: listening on {}://{addr}/ (database {})",
                if tls { "https" } else { "http" },
                redact(&g.db)
            );
        })
        .await
        .context("serving")?;
        eprintln!("camtrace serve: stopped");
        Ok(ExitCode::SUCCESS)
    })
}

/// Where the generated first password is kept: beside a SQLite register, else in the current
/// directory.
fn admin_password_file(db: &str) -> std::path::PathBuf {
    const NAME: &str = "camtrace-admin-password";
    if db.starts_with("postgres://") || db.starts_with("postgresql://") {
        return std::path::PathBuf::from(NAME);
    }
    let path = db
        .strip_prefix("sqlite://")
        .or_else(|| db.strip_prefix("sqlite:"))
        .unwrap_or(db);
    let path = path.split('?').next().unwrap_or(path);
    match std::path::Path::new(path).parent() {
        Some(dir) if path != ":memory:" && !dir.as_os_str().is_empty() => dir.join(NAME),
        _ => std::path::PathBuf::from(NAME),
    }
}

/// Write `text` to `path`, readable and writable by its owner only (mode 0600 on Unix, set at
/// creation; an existing file is replaced).
fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let _ = std::fs::remove_file(path);
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    let mut f = o.open(path)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()
}

/// A database URL without its password.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_password_file_sits_beside_a_sqlite_register() {
        use std::path::PathBuf;
        let f = super::admin_password_file;
        assert_eq!(
            f("/var/lib/camtrace/camtrace.db"),
            PathBuf::from("/var/lib/camtrace/camtrace-admin-password")
        );
        assert_eq!(
            f("sqlite:///srv/ct/r.db?mode=rwc"),
            PathBuf::from("/srv/ct/camtrace-admin-password")
        );
        assert_eq!(f("camtrace.db"), PathBuf::from("camtrace-admin-password"));
        assert_eq!(
            f("postgres://u@127.0.0.1/ct"),
            PathBuf::from("camtrace-admin-password")
        );
    }

    #[cfg(unix)]
    #[test]
    fn the_password_file_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("ct-pw-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("pw");
        std::fs::write(&p, "old, world-readable").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        super::write_private(&p, "secret\n").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "secret\n");
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn database_passwords_are_redacted() {
        assert_eq!(
            super::redact("postgres://ct:secret@127.0.0.1/ct"),
            "postgres://ct:***@127.0.0.1/ct"
        );
        assert_eq!(super::redact("camtrace.db"), "camtrace.db");
    }
}
