//! Test harness: an app over a fresh store (SQLite in memory, or a fresh PostgreSQL database
//! on the server of `CAMTRACE_TEST_POSTGRES`), a two-department estate, users with roles, and a
//! request helper driving the router with `tower::ServiceExt::oneshot`.
#![allow(dead_code)]

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use camtrace_model::{
    Device, DeviceClass, DeviceStatus, NetworkSegment, Organisation, SensitivityCriteria, Site,
    Zone,
};
use camtrace_server::auth::{self, PasswordCost, Role, TokenScope};
use camtrace_server::{App, ServerConfig};
use camtrace_store::RegisterBatch;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use std::sync::Arc;
use tower::ServiceExt;

pub fn require_all() -> bool {
    std::env::var("CAMTRACE_TEST_REQUIRE_ALL").is_ok_and(|v| v == "1")
}

/// The tests' configuration. Webhook receivers in tests listen on 127.0.0.1, which the default
/// address policy refuses: the tests allow 127.0.0.1/32 as an operator would allow an
/// on-premises receiver (`webhook_allow`). Tests of the policy itself use
/// [`ServerConfig::default`]'s empty allow-list.
pub fn test_config() -> ServerConfig {
    ServerConfig {
        password_cost: PasswordCost::Low,
        webhook_backoff: std::time::Duration::from_millis(50),
        webhook_retries: 4,
        webhook_policy: camtrace_server::webhook_guard::AddressPolicy::from_allow_list(&[
            "127.0.0.1/32".into(),
        ])
        .expect("allow-list"),
        ..ServerConfig::default()
    }
}

/// A new, empty PostgreSQL database on the test server (panics, saying why, without one: mark
/// the test `#[cfg_attr(not(camtrace_has_postgres), ignore = "…")]`).
pub async fn fresh_postgres(tag: &str) -> String {
    camtrace_store::testing::fresh_postgres(&format!("srv_{tag}")).await
}

/// Two tests from one story over an [`App`]: `$sqlite` runs it on SQLite in memory, `$postgres`
/// on a fresh PostgreSQL database (named after `$tag`), and is reported as ignored when the
/// build found no PostgreSQL (`CAMTRACE_TEST_POSTGRES` unset; see `build.rs`). Arguments after
/// the names go to `#[tokio::test(…)]`.
#[macro_export]
macro_rules! on_both_backends {
    ($story:path, $tag:literal, $sqlite:ident, $postgres:ident) => {
        $crate::on_both_backends!($story, $tag, $sqlite, $postgres, flavor = "current_thread");
    };
    ($story:path, $tag:literal, $sqlite:ident, $postgres:ident, $($test:tt)+) => {
        #[tokio::test($($test)+)]
        async fn $sqlite() {
            $story($crate::common::sqlite_app().await).await;
        }

        #[tokio::test($($test)+)]
        #[cfg_attr(
            not(camtrace_has_postgres),
            ignore = "needs PostgreSQL: export CAMTRACE_TEST_POSTGRES=$(scripts/start-postgres.sh)"
        )]
        async fn $postgres() {
            let url = $crate::common::fresh_postgres($tag).await;
            $story($crate::common::app_on(&url).await).await;
        }
    };
}

pub async fn app_on(url: &str) -> App {
    app_with(url, test_config()).await
}

/// An app over the store at `url` with the given configuration.
pub async fn app_with(url: &str, config: ServerConfig) -> App {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("warn"))
        .with_test_writer()
        .try_init();
    let store = camtrace_store::open(url).await.expect("open store");
    App::new(Arc::from(store), &camtrace_kb::KbFiles::embedded(), config).expect("app")
}

/// Serve `router` on 127.0.0.1 (an ephemeral port) in the background: a webhook receiver, or
/// the app itself for a browser. Returns its address.
pub async fn serve_on_loopback(router: axum::Router) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    addr
}

pub async fn sqlite_app() -> App {
    app_on("sqlite::memory:").await
}

fn org(id: &str, parent: Option<&str>) -> Organisation {
    Organisation {
        id: id.into(),
        name: format!("Org {id}"),
        parent: parent.map(Into::into),
        kind: Some("central_government".into()),
        country: Some("GB".into()),
    }
}

fn site(id: &str, org: &str, sensitive: bool) -> Site {
    Site {
        id: id.into(),
        organisation: org.into(),
        name: format!("Site {id}"),
        address: None,
        criteria: SensitivityCriteria {
            ministerial_use: sensitive,
            ..Default::default()
        },
        classification: None,
        government_building: true,
        tags: vec![],
    }
}

pub fn device(id: &str, site: &str, maker: &str, brand: &str) -> Device {
    Device {
        id: id.into(),
        site: site.into(),
        zone: None,
        network: None,
        brand: Some(brand.into()),
        maker: Some(maker.into()),
        model: Some("DS-2CD2143G0-I".into()),
        firmware: None,
        class: DeviceClass::Camera,
        mac: None,
        addresses: vec!["127.0.0.10".into()],
        status: DeviceStatus::Installed,
        install_date: None,
        scheduled_upgrade: None,
        cost_device: Some(300.0),
        cost_labour: Some(100.0),
        confidence: Some(1.0),
        notes: None,
    }
}

/// The estate: `gov` above `orga-secret` (above `orga-sub`) and `orgb`. Everything of A carries
/// the marker `secret-a` in its id so that leaks are easy to spot in any response body.
pub fn estate() -> RegisterBatch {
    RegisterBatch {
        organisations: vec![
            org("gov", None),
            org("orga-secret-a", Some("gov")),
            org("orga-sub-secret-a", Some("orga-secret-a")),
            org("orgb", Some("gov")),
        ],
        sites: vec![
            site("site-secret-a", "orga-secret-a", true),
            site("site-sub-secret-a", "orga-sub-secret-a", false),
            site("site-b", "orgb", true),
        ],
        zones: vec![
            Zone {
                id: "zone-secret-a".into(),
                site: "site-secret-a".into(),
                name: "Lobby".into(),
            },
            Zone {
                id: "zone-b".into(),
                site: "site-b".into(),
                name: "Lobby".into(),
            },
        ],
        networks: vec![
            NetworkSegment {
                id: "net-secret-a".into(),
                site: "site-secret-a".into(),
                name: "core".into(),
                cidrs: vec!["127.0.0.0/24".into()],
                core: true,
                internet_exposed: false,
            },
            NetworkSegment {
                id: "net-b".into(),
                site: "site-b".into(),
                name: "core".into(),
                cidrs: vec!["127.0.1.0/24".into()],
                core: true,
                internet_exposed: false,
            },
        ],
        devices: vec![
            device("dev-secret-a", "site-secret-a", "hikvision", "hikvision"),
            device("dev-sub-secret-a", "site-sub-secret-a", "dahua", "dahua"),
            device("dev-b", "site-b", "hikvision", "hilook"),
            device("dev-b2", "site-b", "axis", "axis"),
        ],
    }
}

/// Users: `root` (central admin), `alice` (editor on A), `anne` (approver on A), `bob` (admin
/// on B), `victor` (viewer on A). Returns write tokens by user name.
pub struct Fixture {
    pub app: App,
    pub tokens: std::collections::HashMap<String, String>,
    pub user_ids: std::collections::HashMap<String, String>,
}

impl Fixture {
    pub fn token(&self, user: &str) -> &str {
        &self.tokens[user]
    }
}

pub async fn fixture(app: App) -> Fixture {
    app.store
        .apply_register(&estate(), "test")
        .await
        .expect("estate");
    let mut tokens = std::collections::HashMap::new();
    let mut ids = std::collections::HashMap::new();
    type Spec<'a> = (&'a str, Option<Role>, Option<(&'a str, Role)>);
    let users: [Spec; 5] = [
        ("root", Some(Role::Admin), None),
        ("alice", None, Some(("orga-secret-a", Role::Editor))),
        ("anne", None, Some(("orga-secret-a", Role::Approver))),
        ("bob", None, Some(("orgb", Role::Admin))),
        ("victor", None, Some(("orga-secret-a", Role::Viewer))),
    ];
    for (name, central, grant) in users {
        let u = auth::create_user(
            &*app.store,
            name,
            &format!("{name}-password-123"),
            central,
            PasswordCost::Low,
        )
        .await
        .expect("user");
        if let Some((o, r)) = grant {
            auth::set_grant(&*app.store, &u.id, o, Some(r), "test")
                .await
                .expect("grant");
        }
        let t = new_token(
            &app,
            &u.id,
            "test",
            TokenScope::Write,
            chrono::Duration::days(1),
        )
        .await;
        tokens.insert(name.to_string(), t);
        ids.insert(name.to_string(), u.id);
    }
    Fixture {
        app,
        tokens,
        user_ids: ids,
    }
}

pub struct Resp {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One request through the router. `auth`: a bearer token, or none.
pub async fn call(
    app: &App,
    method: Method,
    path: &str,
    auth: Option<&str>,
    body: Option<Value>,
) -> Resp {
    let mut b = Request::builder().method(method).uri(path);
    if let Some(t) = auth {
        b = b.header("authorization", format!("Bearer {t}"));
    }
    let req = match body {
        Some(v) => b
            .header("content-type", "application/json")
            .body(Body::from(v.to_string()))
            .expect("request"),
        None => b.body(Body::empty()).expect("request"),
    };
    send(app, req).await
}

pub async fn send(app: &App, req: Request<Body>) -> Resp {
    let resp = camtrace_server::router(app.clone())
        .oneshot(req)
        .await
        .expect("infallible");
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes()
        .to_vec();
    Resp {
        status,
        headers,
        body,
    }
}

pub async fn get(app: &App, path: &str, auth: &str) -> Resp {
    call(app, Method::GET, path, Some(auth), None).await
}

pub async fn post(app: &App, path: &str, auth: &str, body: Value) -> Resp {
    call(app, Method::POST, path, Some(auth), Some(body)).await
}

/// The status of a GET with a bearer token.
pub async fn get_status(app: &App, path: &str, auth: &str) -> StatusCode {
    get(app, path, auth).await.status
}

/// The status of a POST of `body` with a bearer token.
pub async fn post_status(app: &App, path: &str, auth: &str, body: Value) -> StatusCode {
    post(app, path, auth, body).await.status
}

/// A POST with a bearer token that must answer 200 OK; the answer.
pub async fn post_ok(app: &App, path: &str, auth: &str, body: Value) -> Resp {
    let r = post(app, path, auth, body).await;
    assert_eq!(r.status, StatusCode::OK, "POST {path}: {}", r.text());
    r
}

/// A new API token (the clear text) of `user_id`, named `name`, valid for `valid`.
pub async fn new_token(
    app: &App,
    user_id: &str,
    name: &str,
    scope: TokenScope,
    valid: chrono::Duration,
) -> String {
    auth::create_token(&*app.store, user_id, name, scope, valid)
        .await
        .expect("token")
        .0
}

/// The fixture's password of `user`.
pub fn password(user: &str) -> String {
    format!("{user}-password-123")
}

/// `POST /api/v1/auth/login` with a user name and password (no credentials of its own).
pub async fn login(app: &App, username: &str, password: &str) -> Resp {
    call(
        app,
        Method::POST,
        "/api/v1/auth/login",
        None,
        Some(json!({"username": username, "password": password})),
    )
    .await
}

/// The `name=value` part of the session cookie an API login set.
pub fn session_cookie(login: &Resp) -> String {
    login.headers["set-cookie"]
        .to_str()
        .expect("set-cookie is text")
        .split(';')
        .next()
        .expect("cookie")
        .to_string()
}

/// `POST /api/v1/auth/logout` for a session, with its CSRF token.
pub async fn logout(app: &App, cookie: &str, csrf: &str) -> Resp {
    with_session(
        app,
        Method::POST,
        "/api/v1/auth/logout",
        cookie,
        Some(csrf),
        None,
    )
    .await
}

/// The CSRF token an API login returned.
pub fn csrf_token(login: &Resp) -> String {
    login.json()["csrf_token"]
        .as_str()
        .expect("csrf_token")
        .to_string()
}

/// A GET with a session cookie (a browser's request).
pub async fn get_with_cookie(app: &App, path: &str, cookie: &str) -> Resp {
    send(
        app,
        Request::get(path)
            .header("cookie", cookie)
            .body(Body::empty())
            .expect("request"),
    )
    .await
}

/// A request with a session cookie, the `x-csrf-token` header when given, and a JSON body when
/// given.
pub async fn with_session(
    app: &App,
    method: Method,
    path: &str,
    cookie: &str,
    csrf: Option<&str>,
    body: Option<Value>,
) -> Resp {
    let mut b = Request::builder()
        .method(method)
        .uri(path)
        .header("cookie", cookie);
    if let Some(c) = csrf {
        b = b.header("x-csrf-token", c);
    }
    let req = match body {
        Some(v) => b
            .header("content-type", "application/json")
            .body(Body::from(v.to_string())),
        None => b.body(Body::empty()),
    };
    send(app, req.expect("request")).await
}

/// A POST of a raw body (a form, an upload) of `content_type` with a session cookie.
pub async fn post_with_cookie(
    app: &App,
    path: &str,
    cookie: &str,
    content_type: &str,
    body: impl Into<Body>,
) -> Resp {
    post_body(
        app,
        path,
        ("cookie", cookie.into()),
        content_type,
        body.into(),
    )
    .await
}

/// A POST of a raw body (a CSV quote) of `content_type` with a bearer token.
pub async fn post_raw(
    app: &App,
    path: &str,
    auth: &str,
    content_type: &str,
    body: impl Into<Body>,
) -> Resp {
    let bearer = ("authorization", format!("Bearer {auth}"));
    post_body(app, path, bearer, content_type, body.into()).await
}

async fn post_body(
    app: &App,
    path: &str,
    (name, value): (&str, String),
    content_type: &str,
    body: Body,
) -> Resp {
    send(
        app,
        Request::post(path)
            .header(name, value)
            .header("content-type", content_type)
            .body(body)
            .expect("request"),
    )
    .await
}

/// The id of the first API token `auth` lists whose `field` is `value`.
pub async fn token_id(app: &App, auth: &str, field: &str, value: &str) -> String {
    get(app, "/api/v1/tokens", auth)
        .await
        .json()
        .as_array()
        .expect("token list")
        .iter()
        .find(|t| t[field] == value)
        .unwrap_or_else(|| panic!("no token with {field} {value}"))["id"]
        .as_str()
        .expect("token id")
        .to_string()
}

/// `DELETE /api/v1/tokens/{id}` with a bearer token: the status.
pub async fn revoke_token(app: &App, id: &str, auth: &str) -> StatusCode {
    call(
        app,
        Method::DELETE,
        &format!("/api/v1/tokens/{id}"),
        Some(auth),
        None,
    )
    .await
    .status
}

/// `POST /api/v1/auth/login` as if from the client address `from` (put in the request as the
/// server's socket layer would; nothing leaves the in-process router).
pub async fn login_from(app: &App, from: &str, user: &str, pw: &str) -> Resp {
    let mut req = Request::post("/api/v1/auth/login")
        .header("content-type", "application/json")
        .body(Body::from(
            json!({"username": user, "password": pw}).to_string(),
        ))
        .expect("request");
    let addr: std::net::SocketAddr = format!("{from}:40000").parse().expect("address");
    req.extensions_mut()
        .insert(axum::extract::ConnectInfo(addr));
    send(app, req).await
}

/// Entries in the register history.
pub async fn history_len(app: &App) -> usize {
    app.store
        .history(&camtrace_store::HistoryFilter {
            limit: Some(1_000_000),
            ..Default::default()
        })
        .await
        .expect("history")
        .len()
}
