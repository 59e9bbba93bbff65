//! HTTP API, web dashboard, access control, audit log, alerts.
//!
//! * [`router`] builds the whole axum application over an [`App`] (a store, the knowledge base
//!   and the policy regimes); tests drive it with `tower::ServiceExt::oneshot`.
//! * [`serve`] binds it (plain HTTP or TLS through rustls), runs the alert checker and the
//!   webhook sender, and shuts down gracefully on Ctrl-C / SIGTERM.
//! * REST API under `/api/v1/` (OpenAPI: [`api::openapi`], committed as `docs/openapi.json`),
//!   the dashboard under `/` (askama + htmx, no front-end build), `/healthz`, `/readyz`,
//!   `/metrics` (Prometheus text format; needs a `metrics:read` API token or a central admin
//!   session unless the configuration sets `metrics_public`).

pub mod access;
pub mod alerts;
pub mod api;
pub mod auth;
pub mod config;
pub mod dashboard;
pub mod error;
pub mod extract;
pub mod findings;
pub mod metrics;
mod middleware;
pub mod planning;
pub mod quotes;
pub mod reports;
pub mod throttle;
pub mod webhook_guard;

pub use config::{ServerConfig, TlsFiles};
pub use error::{ApiError, ApiResult};

use auth::PasswordCost;
use camtrace_kb::Kb;
use camtrace_policy::PolicySet;
use camtrace_store::{NewHistory, Store};
use std::sync::Arc;

/// How long the access log keeps an entry (documented in docs/security.md).
pub const ACCESS_LOG_RETENTION_DAYS: i64 = 400;

/// How long the webhook delivery log keeps an attempt. Each alert checker pass removes older
/// attempts, so the log of a receiver that keeps failing does not grow without bound; the
/// alert itself stays in `alert_events` and its effect in the access log.
pub const DELIVERY_LOG_RETENTION_DAYS: i64 = 90;

/// Shared application state.
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub kb: Arc<Kb>,
    /// The knowledge base's version (`kb/VERSION.toml`), named in reports.
    pub kb_version: String,
    pub policies: Arc<PolicySet>,
    /// Approved alternatives for the quote check (absent when the knowledge base has none).
    pub catalogue: Option<Arc<camtrace_plan::Catalogue>>,
    /// Costs and risk weights for drafting plans (absent when the knowledge base has none:
    /// plans then need explicit actions).
    pub costs: Option<Arc<camtrace_plan::CostBook>>,
    pub config: ServerConfig,
    pub metrics: metrics::Metrics,
    pub findings: findings::FindingsCache,
    /// The organisation tree, checked against the register's revision on every request.
    pub org_tree: access::OrgTreeCache,
    pub alerts: alerts::Alerts,
    pub password_cost: PasswordCost,
    /// Sign-in back-off per address and per user name.
    pub login_throttle: throttle::LoginThrottle,
    /// The dashboard's incremental hash-chain verification (checkpoint in memory).
    pub chain_verifier: api::auditlog::ChainVerifier,
    /// Held while a full check of the chain runs (`audit/verify?full=true`): one at a time.
    pub full_verify: tokio::sync::Mutex<()>,
    /// The signature engine for imports and agent batches, compiled once (at start-up by
    /// [`serve_until`], or on first use).
    engine: std::sync::OnceLock<Option<camtrace_ingest::import::SharedEngine>>,
    /// Agent batches imported at once: as many as there are cores. An import is CPU work (JSON,
    /// identification) and ends holding the history chain's lock, which every import waits for:
    /// with a hundred batches in flight, the holder waited for a core behind the others.
    pub ingest_slots: tokio::sync::Semaphore,
}

impl AppState {
    /// The compiled signature engine of the knowledge base, built once and shared by every
    /// import: compiling it per batch cost more than the batch. `None` when it cannot be built
    /// (the import then identifies by MAC block only, and says so). Blocks while it compiles:
    /// async code asks [`App::engine_ready`].
    fn engine_blocking(&self) -> Option<camtrace_ingest::import::SharedEngine> {
        self.engine
            .get_or_init(|| match camtrace_identify::Engine::new(&self.kb) {
                Ok(e) => Some(camtrace_ingest::import::SharedEngine(Arc::new(e))),
                Err(e) => {
                    tracing::warn!(error = %e, "signature engine unavailable");
                    None
                }
            })
            .clone()
    }
}

/// What happened in an [`App::access_event`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessAction {
    Login,
    Logout,
    LoginFailed,
    LoginThrottled,
}

impl AccessAction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Login => "login",
            Self::Logout => "logout",
            Self::LoginFailed => "login_failed",
            Self::LoginThrottled => "login_throttled",
        }
    }
}

/// The application handle (cheap to clone).
#[derive(Clone)]
pub struct App(pub Arc<AppState>);

impl std::ops::Deref for App {
    type Target = AppState;
    fn deref(&self) -> &AppState {
        &self.0
    }
}

impl App {
    /// The signature engine, without blocking the runtime: the first call compiles the engine
    /// (every signature and recog fingerprint, about a second) on a blocking thread, so a
    /// request that arrives first waits for it without holding one of the runtime's threads.
    /// A server compiles it at start-up ([`serve_until`]), so requests normally find it ready.
    pub async fn engine_ready(&self) -> Option<camtrace_ingest::import::SharedEngine> {
        if let Some(ready) = self.engine.get() {
            return ready.clone();
        }
        let app = self.clone();
        tokio::task::spawn_blocking(move || app.engine_blocking())
            .await
            .unwrap_or(None)
    }

    /// Load the knowledge base, the policy regimes and the catalogue from `files`.
    pub fn new(
        store: Arc<dyn Store>,
        files: &camtrace_kb::KbFiles,
        config: ServerConfig,
    ) -> Result<App, String> {
        let kb = Kb::load(files).map_err(|e| format!("knowledge base: {e}"))?;
        let policies = PolicySet::load(files).map_err(|e| format!("policy regimes: {e}"))?;
        let catalogue = match camtrace_plan::Catalogue::load(files) {
            Ok(c) => Some(Arc::new(c)),
            Err(e) => {
                tracing::warn!(error = %e, "no approved catalogue: quote checks propose no alternatives");
                None
            }
        };
        let costs = match camtrace_plan::CostBook::load(files) {
            Ok(c) => Some(Arc::new(c)),
            Err(e) => {
                tracing::warn!(error = %e, "no cost book: plans need explicit actions");
                None
            }
        };
        if let Some(c) = &catalogue {
            if let Err(e) = c.validate_against(&kb) {
                tracing::warn!("catalogue: {e}");
            }
        }
        Ok(Self::from_parts(
            store,
            Arc::new(kb),
            files.version(),
            Arc::new(policies),
            catalogue,
            costs,
            config,
        ))
    }

    pub fn from_parts(
        store: Arc<dyn Store>,
        kb: Arc<Kb>,
        kb_version: String,
        policies: Arc<PolicySet>,
        catalogue: Option<Arc<camtrace_plan::Catalogue>>,
        costs: Option<Arc<camtrace_plan::CostBook>>,
        config: ServerConfig,
    ) -> App {
        let password_cost = config.password_cost;
        App(Arc::new(AppState {
            store,
            kb,
            kb_version,
            policies,
            catalogue,
            costs,
            metrics: metrics::Metrics::default(),
            findings: findings::FindingsCache::default(),
            org_tree: access::OrgTreeCache::default(),
            alerts: alerts::Alerts::new(
                config.webhook_retries,
                config.webhook_backoff,
                config.webhook_policy.clone(),
            ),
            config,
            password_cost,
            login_throttle: Default::default(),
            chain_verifier: Default::default(),
            full_verify: Default::default(),
            engine: Default::default(),
            ingest_slots: tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 16)),
            ),
        }))
    }

    /// Record an access event: the one place sign-ins and sign-outs are recorded. A sign-in
    /// (succeeded or failed) or a sign-out goes to the access log
    /// ([`camtrace_store::AccessLog`], hash-chained apart from the register history), to the
    /// server log (target `camtrace::access`) and the `camtrace_signins_total` counters. A
    /// throttled attempt (refused before any check) goes only to the server log and the
    /// counters: per client address, the throttle ([`throttle::PER_ADDRESS`]) bounds how fast
    /// anyone can add failures to the access log, and retention
    /// ([`ACCESS_LOG_RETENTION_DAYS`]) bounds how long they are kept. None of these touch the
    /// register history, so none of them changes the register's revision (the caches' key).
    pub async fn access_event(
        &self,
        action: AccessAction,
        user: &str,
        addr: Option<std::net::IpAddr>,
    ) -> ApiResult<()> {
        let addr_text = addr.map(|a| a.to_string()).unwrap_or_default();
        match action {
            AccessAction::Login | AccessAction::Logout | AccessAction::LoginFailed => {
                match action {
                    AccessAction::Login => {
                        self.metrics.signin(metrics::SignIn::Success);
                        tracing::info!(target: "camtrace::access", action = action.as_str(), user = ?user, addr = %addr_text);
                    }
                    AccessAction::LoginFailed => {
                        self.metrics.signin(metrics::SignIn::Failure);
                        // `?` (Debug) escapes control characters in the name the caller typed.
                        tracing::warn!(target: "camtrace::access", action = action.as_str(), user = ?user, addr = %addr_text);
                    }
                    _ => {
                        tracing::info!(target: "camtrace::access", action = action.as_str(), user = ?user, addr = %addr_text);
                    }
                }
                self.access_record(action.as_str(), user, addr, "", None)
                    .await
            }
            AccessAction::LoginThrottled => {
                self.metrics.signin(metrics::SignIn::Throttled);
                tracing::warn!(target: "camtrace::access", action = action.as_str(), user = ?user, addr = %addr_text);
                Ok(())
            }
        }
    }

    /// Append to the access log (sign-ins, exports, audited reads): never to the register
    /// history. Every 1,000th entry prunes entries older than [`ACCESS_LOG_RETENTION_DAYS`].
    pub async fn access_record(
        &self,
        action: &str,
        actor: &str,
        addr: Option<std::net::IpAddr>,
        subject: &str,
        detail: Option<serde_json::Value>,
    ) -> ApiResult<()> {
        let e = self
            .store
            .append_access(&camtrace_store::AccessEvent {
                action: action.to_string(),
                actor: actor.to_string(),
                addr: addr.map(|a| a.to_string()).unwrap_or_default(),
                subject: subject.to_string(),
                detail,
            })
            .await?;
        if e.seq % 1000 == 0 {
            let cut = chrono::Utc::now() - chrono::Duration::days(ACCESS_LOG_RETENTION_DAYS);
            let n = self.store.prune_access_log(&auth::rfc3339(cut)).await?;
            if n > 0 {
                tracing::info!(target: "camtrace::access", pruned = n, "access log retention");
            }
        }
        Ok(())
    }

    /// Append to the audit log (the store's hash-chained history).
    pub async fn audit(
        &self,
        actor: &str,
        action: &str,
        kind: &str,
        id: &str,
        before: Option<serde_json::Value>,
        after: Option<serde_json::Value>,
    ) -> ApiResult<()> {
        self.store
            .append_history(&NewHistory {
                actor: actor.to_string(),
                action: action.to_string(),
                entity_kind: kind.to_string(),
                entity_id: id.to_string(),
                before,
                after,
            })
            .await?;
        Ok(())
    }
}

/// The whole application: API, dashboard, health, metrics.
pub fn router(app: App) -> axum::Router {
    use axum::routing::get;
    let limit = app.config.max_body_bytes;
    axum::Router::new()
        .route("/healthz", get(health))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics::render))
        .nest("/api/v1", api::routes())
        .merge(dashboard::routes())
        .layer(axum::extract::DefaultBodyLimit::max(limit))
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            middleware::observe,
        ))
        .with_state(app)
}

async fn health() -> &'static str {
    "ok\n"
}

async fn ready(
    axum::extract::State(app): axum::extract::State<App>,
) -> (axum::http::StatusCode, String) {
    match app.store.schema_version().await {
        Ok(v) => (axum::http::StatusCode::OK, format!("ready (schema {v})\n")),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "database unavailable\n".into(),
            )
        }
    }
}

/// What [`bootstrap_admin`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bootstrap {
    /// Users existed: nothing was created.
    Existing,
    /// `admin` was created with the password from `CAMTRACE_ADMIN_PASSWORD`.
    CreatedFromEnvironment,
    /// `admin` was created with this generated password (the caller prints it once).
    CreatedWithPassword(String),
}

/// First run: when no user exists, create `admin` (central admin role) with the password from
/// `CAMTRACE_ADMIN_PASSWORD` or a random one, and say which happened: the caller reports a
/// creation only when there was one.
pub async fn bootstrap_admin(app: &App, env_password: Option<String>) -> ApiResult<Bootstrap> {
    if auth::user_count(&*app.store).await? > 0 {
        return Ok(Bootstrap::Existing);
    }
    let (password, generated) = match env_password.filter(|p| !p.is_empty()) {
        Some(p) => (p, false),
        None => (auth::random_token(18), true),
    };
    auth::create_user_recorded(
        &*app.store,
        "admin",
        &password,
        Some(auth::Role::Admin),
        app.password_cost,
        Some((
            "system",
            serde_json::json!({"username": "admin", "central_role": "admin", "first_run": true}),
        )),
    )
    .await?;
    Ok(if generated {
        Bootstrap::CreatedWithPassword(password)
    } else {
        Bootstrap::CreatedFromEnvironment
    })
}

/// Run the server until Ctrl-C or SIGTERM. `on_bound` is called with the bound address and
/// whether it serves TLS.
pub async fn serve(
    app: App,
    on_bound: impl FnOnce(std::net::SocketAddr, bool),
) -> std::io::Result<()> {
    serve_until(app, on_bound, shutdown_signal()).await
}

/// Run the server until `shutdown` completes, then stop accepting connections and let requests
/// in flight finish (at most 10 s).
pub async fn serve_until(
    app: App,
    on_bound: impl FnOnce(std::net::SocketAddr, bool),
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let handle = axum_server::Handle::new();
    let stopper = handle.clone();
    tokio::spawn(async move {
        shutdown.await;
        tracing::info!("shutting down: finishing requests in flight");
        stopper.graceful_shutdown(Some(std::time::Duration::from_secs(10)));
    });
    let bg = alerts::spawn_background(app.clone());
    // The signature engine is compiled now, off the runtime, rather than by the first import.
    {
        let app = app.clone();
        tokio::spawn(async move { app.engine_ready().await });
    }
    let addr = app.config.bind;
    if app.config.metrics_public && !addr.ip().is_loopback() {
        tracing::warn!(
            %addr,
            "metrics_public is on and the server listens beyond loopback: anyone who can reach it can read /metrics"
        );
    }
    let service = router(app.clone()).into_make_service_with_connect_info::<std::net::SocketAddr>();
    let result = match &app.config.tls {
        Some(tls) => {
            let _ = rustls::crypto::ring::default_provider().install_default();
            let cfg =
                axum_server::tls_rustls::RustlsConfig::from_pem_file(&tls.cert, &tls.key).await?;
            let listener = std::net::TcpListener::bind(addr)?;
            listener.set_nonblocking(true)?;
            let bound = listener.local_addr()?;
            on_bound(bound, true);
            axum_server::from_tcp_rustls(listener, cfg)
                .handle(handle)
                .serve(service)
                .await
        }
        None => {
            let listener = std::net::TcpListener::bind(addr)?;
            listener.set_nonblocking(true)?;
            let bound = listener.local_addr()?;
            on_bound(bound, false);
            axum_server::from_tcp(listener)
                .handle(handle)
                .serve(service)
                .await
        }
    };
    bg.abort();
    result
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
