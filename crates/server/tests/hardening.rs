//! Regression tests for the server hardening findings of issue 11 (sign-in throttling, webhook
//! address policy, input ranges, accounts, cookies and headers, the audit page, a busy store).
//! Each is named after its finding; those that touch the store run on SQLite and, as a test of
//! their own (`…_on_postgres`), on PostgreSQL.
//!
//! Client addresses below are only values put in the request (as the server's socket layer
//! would); no traffic goes anywhere but the in-process router and 127.0.0.1.

mod common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use camtrace_server::throttle;
use common::*;
use serde_json::json;
use std::net::SocketAddr;

/// Attempts past the free ones that exponential back-off (1 s, 2 s, 4 s ...) lets through in
/// `elapsed`.
fn backoff_allows(elapsed: std::time::Duration) -> u32 {
    (elapsed.as_secs_f64() + 1.0).log2().floor() as u32 + 1
}

fn retry_after(r: &Resp) -> u64 {
    r.headers
        .get("retry-after")
        .unwrap_or_else(|| panic!("429 without Retry-After: {}", r.text()))
        .to_str()
        .expect("text")
        .parse()
        .expect("seconds")
}

// ------------------------------------------------------------------ finding 4

/// Finding 4: 1,000 failed sign-ins with random user names added 1,000 history rows (each one
/// invalidating the findings cache) and were never throttled.
async fn failed_signins_are_throttled_per_address_and_write_no_history(app: camtrace_server::App) {
    let f = fixture(app).await;
    let before = history_len(&f.app).await;
    let head = f.app.store.history_head().await.unwrap();
    let (mut checked, mut throttled) = (0, 0);
    let start = std::time::Instant::now();
    for i in 0..200 {
        let r = login_from(
            &f.app,
            "127.0.0.77",
            &format!("nobody-{i}"),
            "guess-guess-1",
        )
        .await;
        match r.status {
            StatusCode::UNAUTHORIZED => checked += 1,
            StatusCode::TOO_MANY_REQUESTS => {
                assert!(retry_after(&r) >= 1);
                throttled += 1
            }
            s => panic!("unexpected {s}: {}", r.text()),
        }
    }
    let bound = throttle::PER_ADDRESS.free + backoff_allows(start.elapsed());
    assert!(
        checked <= bound,
        "{checked} attempts from one address were checked (at most {bound})"
    );
    assert_eq!(checked + throttled, 200);
    assert_eq!(
        history_len(&f.app).await,
        before,
        "failed and refused sign-ins write nothing to the history"
    );
    assert_eq!(f.app.store.history_head().await.unwrap(), head);
    // Another address is not affected.
    let r = login_from(&f.app, "127.0.0.78", "anne", &password("anne")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
}

on_both_backends!(
    failed_signins_are_throttled_per_address_and_write_no_history,
    "f4",
    failed_signins_are_throttled_per_address_and_write_no_history_on_sqlite,
    failed_signins_are_throttled_per_address_and_write_no_history_on_postgres
);

// ------------------------------------------------------------------ finding 5

/// Finding 5: under 100 concurrent guesses 41 password checks ran where the limit was 5.
async fn signin_throttle_is_atomic_under_concurrency(app: camtrace_server::App) {
    let f = fixture(app).await;
    // One address guessing one user.
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let app = f.app.clone();
        tasks.push(tokio::spawn(async move {
            login_from(&app, "127.0.0.50", "alice", "wrong-password-1")
                .await
                .status
        }));
    }
    let mut checked = 0;
    for t in tasks {
        match t.await.unwrap() {
            StatusCode::UNAUTHORIZED => checked += 1,
            StatusCode::TOO_MANY_REQUESTS => {}
            s => panic!("unexpected {s}"),
        }
    }
    assert!(
        checked <= throttle::PER_USER_AND_ADDRESS.free,
        "{checked} password checks ran for one user from one address"
    );
    // Many addresses guessing one user (a distributed guesser).
    let mut tasks = Vec::new();
    for i in 0..100 {
        let app = f.app.clone();
        tasks.push(tokio::spawn(async move {
            login_from(&app, &format!("127.1.0.{i}"), "anne", "wrong-password-1")
                .await
                .status
        }));
    }
    let mut checked = 0;
    for t in tasks {
        if t.await.unwrap() == StatusCode::UNAUTHORIZED {
            checked += 1;
        }
    }
    assert!(
        checked <= throttle::PER_USER.free,
        "{checked} password checks ran for one user from many addresses"
    );
}

on_both_backends!(
    signin_throttle_is_atomic_under_concurrency,
    "f5a",
    signin_throttle_is_atomic_under_concurrency_on_sqlite,
    signin_throttle_is_atomic_under_concurrency_on_postgres,
    flavor = "multi_thread",
    worker_threads = 4
);

/// Finding 5: five wrong passwords locked any user out for 15 minutes, so anyone could lock out
/// an administrator.
async fn signin_throttle_is_not_an_anonymous_lockout(app: camtrace_server::App) {
    let f = fixture(app).await;
    for _ in 0..throttle::PER_USER_AND_ADDRESS.free {
        let r = login_from(&f.app, "127.0.0.66", "root", "not-the-password").await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    // The guesser now waits, with a short back-off, not a 15-minute lock.
    let r = login_from(&f.app, "127.0.0.66", "root", "not-the-password").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(retry_after(&r) <= 2, "back-off starts small");
    // The administrator, from their own address, signs in at once.
    let r = login_from(&f.app, "127.0.0.1", "root", &password("root")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
}

on_both_backends!(
    signin_throttle_is_not_an_anonymous_lockout,
    "f5b",
    signin_throttle_is_not_an_anonymous_lockout_on_sqlite,
    signin_throttle_is_not_an_anonymous_lockout_on_postgres
);

// ------------------------------------------------------------------ finding 6

/// A local receiver on 127.0.0.1 that counts requests and answers with `status` (and, for a
/// redirect, `Location: location`).
async fn receiver(
    status: StatusCode,
    location: &'static str,
) -> (SocketAddr, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let hits = std::sync::Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    let rx = axum::Router::new().fallback(move || {
        let h = h.clone();
        async move {
            h.fetch_add(1, Ordering::SeqCst);
            let mut r = axum::response::IntoResponse::into_response(status);
            if !location.is_empty() {
                r.headers_mut()
                    .insert("location", location.parse().unwrap());
            }
            r
        }
    });
    (serve_on_loopback(rx).await, hits)
}

/// An app with the default webhook address policy (no allow-list).
async fn app_without_allow_list(url: &str) -> camtrace_server::App {
    let mut config = test_config();
    config.webhook_policy = Default::default();
    app_with(url, config).await
}

fn test_event() -> camtrace_server::alerts::Event {
    camtrace_server::alerts::Event {
        id: "test:1".into(),
        event: "plan_overdue".into(),
        organisation: Some("orgb".into()),
        time: camtrace_store::now_rfc3339(),
        data: json!({}),
    }
}

async fn webhook_ssrf_refuses_non_public_addresses(url: String) {
    let f = fixture(app_without_allow_list(&url).await).await;
    // Loopback only: the private, link-local, CGNAT, unique-local and metadata ranges are
    // classified by the pure unit test in `src/webhook_guard.rs`, so no test names a URL
    // outside this machine (nothing would be sent to one, but a test never targets one).
    for target in [
        "http://127.0.0.1:9/hook",
        "http://[::1]:9/hook",
        "http://localhost:9/hook",
        "http://0x7f000001/hook",
        "http://127.8.9.10/hook",
    ] {
        let r = post(
            &f.app,
            "/api/v1/webhooks",
            f.token("bob"),
            json!({"url": target, "organisation": "orgb"}),
        )
        .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{target}: {}", r.text());
        assert!(r.text().contains("webhook_allow"), "{}", r.text());
    }
    // A webhook stored before the policy (or edited in the database) is refused at delivery.
    let (addr, hits) = receiver(StatusCode::OK, "").await;
    f.app
        .store
        .create_webhook(
            &camtrace_store::WebhookRecord {
                id: "old".into(),
                url: format!("http://{addr}/hook"),
                secret: "s".into(),
                events: Vec::new(),
                organisation: Some("orgb".into()),
                active: true,
                created_by: "bob".into(),
                created_at: "2026-01-01T00:00:00Z".into(),
            },
            None,
        )
        .await
        .unwrap();
    let hook = camtrace_server::alerts::list_webhooks(&f.app)
        .await
        .unwrap()
        .into_iter()
        .find(|h| h.id == "old")
        .unwrap();
    assert!(!camtrace_server::alerts::deliver(&f.app, &hook, "s", &test_event()).await);
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 0);
    let log = camtrace_server::alerts::deliveries(&f.app, "old")
        .await
        .unwrap();
    assert_eq!(log.len(), 1, "refused once, not retried");
    assert!(
        log[0].error.as_deref().unwrap().contains("loopback"),
        "{log:?}"
    );
}

#[tokio::test]
async fn webhook_ssrf_refuses_non_public_addresses_on_sqlite() {
    webhook_ssrf_refuses_non_public_addresses("sqlite::memory:".into()).await;
}

#[tokio::test]
#[cfg_attr(
    not(camtrace_has_postgres),
    ignore = "needs PostgreSQL: export CAMTRACE_TEST_POSTGRES=$(scripts/start-postgres.sh)"
)]
async fn webhook_ssrf_refuses_non_public_addresses_on_postgres() {
    webhook_ssrf_refuses_non_public_addresses(fresh_postgres("f6a").await).await;
}

#[tokio::test]
async fn webhook_ssrf_checks_names_after_resolution() {
    use reqwest::dns::Resolve;
    let deny = camtrace_server::webhook_guard::GuardedResolver {
        policy: std::sync::Arc::new(Default::default()),
    };
    // `localhost` resolves (from the hosts file) to loopback only: nothing is left to connect to.
    let r = deny.resolve("localhost".parse().unwrap()).await;
    let err = r.err().expect("refused").to_string();
    assert!(err.contains("loopback"), "{err}");
    let allow = camtrace_server::webhook_guard::GuardedResolver {
        policy: std::sync::Arc::new(
            camtrace_server::webhook_guard::AddressPolicy::from_allow_list(&[
                "127.0.0.0/8".into(),
                "::1".into(),
            ])
            .unwrap(),
        ),
    };
    let addrs: Vec<SocketAddr> = allow
        .resolve("localhost".parse().unwrap())
        .await
        .map_err(|e| e.to_string())
        .expect("allowed")
        .collect();
    assert!(addrs.iter().all(|a| a.ip().is_loopback()), "{addrs:?}");
}

/// Redirects are not followed (a redirect to the metadata service is a failed delivery);
/// organisation admins see only whether a delivery arrived; webhooks can be disabled and
/// deleted.
async fn webhook_ssrf_no_redirects_coarse_status_disable_delete(app: camtrace_server::App) {
    let f = fixture(app).await;
    let (addr, hits) = receiver(
        StatusCode::FOUND,
        "http://169.254.169.254/latest/meta-data/",
    )
    .await;
    let h = post_ok(
        &f.app,
        "/api/v1/webhooks",
        f.token("bob"),
        json!({"url": format!("http://{addr}/hook"), "organisation": "orgb"}),
    )
    .await;
    let id = h.json()["webhook"]["id"].as_str().unwrap().to_string();
    let secret = h.json()["secret"].as_str().unwrap().to_string();
    let hook = camtrace_server::alerts::list_webhooks(&f.app)
        .await
        .unwrap()
        .into_iter()
        .find(|x| x.id == id)
        .unwrap();
    assert!(!camtrace_server::alerts::deliver(&f.app, &hook, &secret, &test_event()).await);
    let attempts = hits.load(std::sync::atomic::Ordering::SeqCst);
    assert!(attempts >= 1);
    let path = format!("/api/v1/webhooks/{id}/deliveries");
    let central = get(&f.app, &path, f.token("root")).await.json();
    assert_eq!(central[0]["status_code"], 302, "{central}");
    let coarse = get(&f.app, &path, f.token("bob")).await.json();
    assert_eq!(coarse.as_array().unwrap().len(), attempts);
    for d in coarse.as_array().unwrap() {
        assert!(d["status_code"].is_null(), "{d}");
        assert_eq!(d["error"], "failed", "{d}");
        assert_eq!(d["success"], false);
    }
    // Disable: nothing more is sent.
    let r = post_ok(
        &f.app,
        &format!("/api/v1/webhooks/{id}/active"),
        f.token("bob"),
        json!({"active": false}),
    )
    .await;
    assert_eq!(r.json()["active"], false);
    camtrace_server::alerts::raise(&f.app, test_event())
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), attempts);
    // Someone who does not administer it sees nothing to change.
    let r = call(
        &f.app,
        Method::DELETE,
        &format!("/api/v1/webhooks/{id}"),
        Some(f.token("alice")),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = call(
        &f.app,
        Method::DELETE,
        &format!("/api/v1/webhooks/{id}"),
        Some(f.token("bob")),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let list = get(&f.app, "/api/v1/webhooks", f.token("root"))
        .await
        .json();
    assert!(list.as_array().unwrap().is_empty(), "{list}");
    assert_eq!(
        get(&f.app, &path, f.token("root")).await.status,
        StatusCode::NOT_FOUND
    );
    let actions: Vec<String> = f
        .app
        .store
        .history(&Default::default())
        .await
        .unwrap()
        .into_iter()
        .map(|h| h.action)
        .collect();
    assert!(actions.contains(&"webhook_disable".to_string()));
    assert!(actions.contains(&"webhook_delete".to_string()));
}

on_both_backends!(
    webhook_ssrf_no_redirects_coarse_status_disable_delete,
    "f6b",
    webhook_ssrf_no_redirects_coarse_status_disable_delete_on_sqlite,
    webhook_ssrf_no_redirects_coarse_status_disable_delete_on_postgres
);

// ------------------------------------------------------------------ finding 12

/// A signed-in session of `user`: (cookie, CSRF token).
async fn session(app: &camtrace_server::App, user: &str) -> (String, String) {
    let r = login(app, user, &password(user)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    (session_cookie(&r), csrf_token(&r))
}

async fn token_expiry_out_of_range_is_a_400_not_a_panic(app: camtrace_server::App) {
    let f = fixture(app).await;
    let (cookie, csrf) = session(&f.app, "alice").await;
    for days in [i64::MAX, i64::MIN, 0, -1, 3651, 1_000_000_000_000] {
        let r = with_session(
            &f.app,
            Method::POST,
            "/api/v1/tokens",
            &cookie,
            Some(&csrf),
            Some(json!({"name": "t", "scope": "read", "expires_days": days})),
        )
        .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{days}: {}", r.text());
    }
    let r = with_session(
        &f.app,
        Method::POST,
        "/api/v1/tokens",
        &cookie,
        Some(&csrf),
        Some(json!({"name": "t", "scope": "read", "expires_days": 90})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
}

on_both_backends!(
    token_expiry_out_of_range_is_a_400_not_a_panic,
    "f12",
    token_expiry_out_of_range_is_a_400_not_a_panic_on_sqlite,
    token_expiry_out_of_range_is_a_400_not_a_panic_on_postgres
);

// ------------------------------------------------------------------ finding 15

async fn password_change_revokes_api_tokens(app: camtrace_server::App) {
    let f = fixture(app).await;
    let (cookie, csrf) = session(&f.app, "alice").await;
    assert_eq!(
        get(&f.app, "/api/v1/me", f.token("alice")).await.status,
        StatusCode::OK
    );
    let r = with_session(
        &f.app,
        Method::POST,
        "/api/v1/me/password",
        &cookie,
        Some(&csrf),
        Some(json!({"current": password("alice"), "new": "alice-new-password-1"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
    assert_eq!(
        get(&f.app, "/api/v1/me", f.token("alice")).await.status,
        StatusCode::UNAUTHORIZED,
        "the token issued before the change is revoked"
    );
    assert_eq!(
        get_with_cookie(&f.app, "/api/v1/me", &cookie).await.status,
        StatusCode::UNAUTHORIZED
    );
    // Others' tokens are untouched.
    assert_eq!(
        get(&f.app, "/api/v1/me", f.token("anne")).await.status,
        StatusCode::OK
    );
}

on_both_backends!(
    password_change_revokes_api_tokens,
    "f15a",
    password_change_revokes_api_tokens_on_sqlite,
    password_change_revokes_api_tokens_on_postgres
);

async fn users_can_be_disabled_deleted_and_lose_their_central_role(app: camtrace_server::App) {
    let f = fixture(app).await;
    let bob = f.user_ids["bob"].clone();
    let root = f.user_ids["root"].clone();
    // Only a central admin.
    let r = post(
        &f.app,
        &format!("/api/v1/users/{bob}/disabled"),
        f.token("bob"),
        json!({"disabled": true}),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = post_ok(
        &f.app,
        &format!("/api/v1/users/{bob}/disabled"),
        f.token("root"),
        json!({"disabled": true}),
    )
    .await;
    assert_eq!(r.json()["disabled"], true);
    assert_eq!(
        get(&f.app, "/api/v1/me", f.token("bob")).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        login(&f.app, "bob", &password("bob")).await.status,
        StatusCode::UNAUTHORIZED
    );
    post_ok(
        &f.app,
        &format!("/api/v1/users/{bob}/disabled"),
        f.token("root"),
        json!({"disabled": false}),
    )
    .await;
    assert_eq!(
        login(&f.app, "bob", &password("bob")).await.status,
        StatusCode::OK
    );
    assert_eq!(
        get(&f.app, "/api/v1/me", f.token("bob")).await.status,
        StatusCode::UNAUTHORIZED,
        "tokens revoked by disabling stay revoked"
    );

    // A second central admin loses the role, then the account.
    let carl = post_ok(
        &f.app,
        "/api/v1/users",
        f.token("root"),
        json!({"username": "carl", "password": "carl-password-123", "central_role": "admin"}),
    )
    .await;
    let carl = carl.json()["id"].as_str().unwrap().to_string();
    let carl_token = new_token(
        &f.app,
        &carl,
        "t",
        camtrace_server::auth::TokenScope::Write,
        chrono::Duration::days(1),
    )
    .await;
    assert_eq!(
        get(&f.app, "/api/v1/users", &carl_token).await.status,
        StatusCode::OK
    );
    let r = post_ok(
        &f.app,
        &format!("/api/v1/users/{carl}/central-role"),
        f.token("root"),
        json!({"central_role": null}),
    )
    .await;
    assert!(r.json()["central_role"].is_null(), "{}", r.json());
    assert_eq!(
        get(&f.app, "/api/v1/users", &carl_token).await.status,
        StatusCode::FORBIDDEN
    );
    // Nobody removes their own access, and the last central admin stays.
    for (path, body) in [
        (
            format!("/api/v1/users/{root}/disabled"),
            json!({"disabled": true}),
        ),
        (
            format!("/api/v1/users/{root}/central-role"),
            json!({"central_role": null}),
        ),
    ] {
        assert_eq!(
            post(&f.app, &path, f.token("root"), body).await.status,
            StatusCode::FORBIDDEN,
            "{path}"
        );
    }
    let r = call(
        &f.app,
        Method::DELETE,
        &format!("/api/v1/users/{carl}"),
        Some(f.token("root")),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
    assert_eq!(
        get(&f.app, "/api/v1/me", &carl_token).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        login(&f.app, "carl", "carl-password-123").await.status,
        StatusCode::UNAUTHORIZED
    );
    let r = call(
        &f.app,
        Method::DELETE,
        &format!("/api/v1/users/{carl}"),
        Some(f.token("root")),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

on_both_backends!(
    users_can_be_disabled_deleted_and_lose_their_central_role,
    "f15b",
    users_can_be_disabled_deleted_and_lose_their_central_role_on_sqlite,
    users_can_be_disabled_deleted_and_lose_their_central_role_on_postgres
);

async fn plan_author_cannot_approve_own_plan(app: camtrace_server::App) {
    let f = fixture(app).await;
    // anne is an approver of A and may draft plans too.
    let p = post_ok(
        &f.app,
        "/api/v1/plans",
        f.token("anne"),
        json!({"organisation": "orga-secret-a", "title": "mine"}),
    )
    .await;
    let id = p.json()["id"].as_str().unwrap().to_string();
    let path = format!("/api/v1/plans/{id}/decision");
    let r = post(&f.app, &path, f.token("anne"), json!({"approve": true})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
    let r = post_ok(&f.app, &path, f.token("root"), json!({"approve": true})).await;
    assert_eq!(r.json()["status"], "approved");
}

on_both_backends!(
    plan_author_cannot_approve_own_plan,
    "f15c",
    plan_author_cannot_approve_own_plan_on_sqlite,
    plan_author_cannot_approve_own_plan_on_postgres
);

#[tokio::test]
async fn admin_password_from_env_on_restart_reports_nothing_created() {
    let app = sqlite_app().await;
    let pw = Some("from-the-environment".to_string());
    assert_eq!(
        camtrace_server::bootstrap_admin(&app, pw.clone())
            .await
            .unwrap(),
        camtrace_server::Bootstrap::CreatedFromEnvironment
    );
    // The restart: the same environment, a user exists, nothing is created or reported.
    assert_eq!(
        camtrace_server::bootstrap_admin(&app, pw).await.unwrap(),
        camtrace_server::Bootstrap::Existing
    );
}

// ------------------------------------------------------------------ finding 16

async fn get_headers(app: &camtrace_server::App, path: &str, headers: &[(&str, &str)]) -> Resp {
    let mut b = Request::get(path);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    send(app, b.body(Body::empty()).unwrap()).await
}

fn set_cookies(r: &Resp) -> Vec<String> {
    r.headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn login_csrf_cookie_is_secure_and_hsts_is_sent_over_https() {
    let https = [("x-forwarded-proto", "https")];
    // Plain HTTP, no proxy: no Secure, no HSTS, and a forwarded header is not believed.
    let plain = sqlite_app().await;
    for h in [&[][..], &https[..]] {
        let r = get_headers(&plain, "/login", h).await;
        assert!(
            set_cookies(&r).iter().all(|c| !c.contains("Secure")),
            "{:?}",
            set_cookies(&r)
        );
        assert!(r.headers.get("strict-transport-security").is_none());
    }
    // Behind a trusted TLS-terminating proxy.
    let mut config = test_config();
    config.behind_proxy = true;
    let proxied = app_with("sqlite::memory:", config).await;
    let r = get_headers(&proxied, "/login", &https).await;
    let cookies = set_cookies(&r);
    assert!(
        cookies
            .iter()
            .any(|c| c.starts_with("camtrace_login_csrf=") && c.contains("; Secure")),
        "{cookies:?}"
    );
    assert!(
        r.headers["strict-transport-security"]
            .to_str()
            .unwrap()
            .contains("max-age="),
        "HSTS"
    );
    let api = get_headers(&proxied, "/healthz", &https).await;
    assert!(api.headers.get("strict-transport-security").is_some());
}

async fn dashboard_links_encode_slashes_in_device_ids(app: camtrace_server::App) {
    let f = fixture(app).await;
    let id = "dfe-annex/127.21.2.20";
    f.app
        .store
        .upsert_device(&device(id, "site-secret-a", "axis", "axis"), "test")
        .await
        .unwrap();
    let (cookie, _) = session(&f.app, "alice").await;
    let list = get_with_cookie(&f.app, "/devices", &cookie).await.text();
    assert!(
        list.contains("href=\"/devices/dfe-annex%2F127.21.2.20\""),
        "{list}"
    );
    let page = get_with_cookie(&f.app, "/devices/dfe-annex%2F127.21.2.20", &cookie).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text());
    assert!(page.text().contains(id));
}

on_both_backends!(
    dashboard_links_encode_slashes_in_device_ids,
    "f16",
    dashboard_links_encode_slashes_in_device_ids_on_sqlite,
    dashboard_links_encode_slashes_in_device_ids_on_postgres
);

// ------------------------------------------------------------------ finding 9

/// Finding 9: `/audit` loaded the first 100,000 entries and verified the whole chain on every
/// load. Now it pages from the newest, and verifies a bounded number of entries per load from
/// a checkpoint, re-checking the older entries round by round.
async fn audit_page_pages_from_newest_and_verifies_incrementally(app: camtrace_server::App) {
    let f = fixture(app).await;
    for i in 0..450 {
        f.app
            .audit("root", "note", "test", &format!("n{i}"), None, None)
            .await
            .unwrap();
    }
    let head = f.app.store.history_head().await.unwrap().unwrap().seq;
    // Bounded steps from the genesis up to the head.
    let v = &f.app.chain_verifier;
    let s = v.step(&f.app, 100).await.unwrap();
    assert_eq!((s.verified_to, s.checked, s.head), (100, 100, head));
    let mut steps = 1;
    let mut s = s;
    while s.verified_to < head {
        s = v.step(&f.app, 100).await.unwrap();
        assert!(s.checked <= 100 && s.tampered.is_none(), "{s:?}");
        steps += 1;
    }
    assert_eq!(steps, (head as u64).div_ceil(100) as usize);
    // With nothing new, the budget re-checks the older entries, round after round.
    let mut rounds_before = s.rounds;
    for _ in 0..(head as usize).div_ceil(100) + 1 {
        s = v.step(&f.app, 100).await.unwrap();
    }
    assert!(s.rounds > rounds_before, "{s:?}");
    rounds_before = s.rounds;
    // An old entry rewritten in place is found by the re-check.
    camtrace_store::testing::set_history_actor(&*f.app.store, 3, "mallory")
        .await
        .unwrap();
    let mut found = None;
    for _ in 0..(head as usize).div_ceil(100) + 2 {
        let s = v.step(&f.app, 100).await.unwrap();
        if let Some(t) = s.tampered {
            found = Some(t);
            break;
        }
        // The round under way when the entry changed may already have passed it.
        assert!(
            s.rounds <= rounds_before + 1,
            "a round completed over a bad entry: {s:?}"
        );
    }
    assert_eq!(found.map(|t| t.0), Some(3));
    camtrace_store::testing::set_history_actor(&*f.app.store, 3, "alice")
        .await
        .unwrap();

    // The page: newest first, 200 at a time, with a link to older entries.
    let (cookie, _) = session(&f.app, "root").await;
    let page = get_with_cookie(&f.app, "/audit", &cookie).await;
    assert_eq!(page.status, StatusCode::OK);
    let text = page.text();
    let newest = f.app.store.history_head().await.unwrap().unwrap().seq;
    assert!(
        text.contains(&format!("<td>{newest}</td>")),
        "newest entry shown"
    );
    assert!(
        !text.contains("<td>1</td>"),
        "oldest entry not on the first page"
    );
    let older = format!("/audit?before={}", newest - 199);
    assert!(text.contains(&older), "{text}");
    let page2 = get_with_cookie(&f.app, &older, &cookie).await.text();
    assert!(page2.contains(&format!("<td>{}</td>", newest - 200)));
    assert!(!page2.contains(&format!("<td>{newest}</td>")));
    // A viewer of A sees A's device entries (looked up per page, not by loading every
    // device), and nothing of B's.
    let (cookie, _) = session(&f.app, "victor").await;
    let page = get_with_cookie(&f.app, "/audit", &cookie).await.text();
    assert!(page.contains("device dev-secret-a"), "{page}");
    assert!(!page.contains("dev-b"), "{page}");
    assert!(
        !page.contains("test n1"),
        "entries of no organisation are central only"
    );
}

on_both_backends!(
    audit_page_pages_from_newest_and_verifies_incrementally,
    "f9",
    audit_page_pages_from_newest_and_verifies_incrementally_on_sqlite,
    audit_page_pages_from_newest_and_verifies_incrementally_on_postgres
);

// ------------------------------------------------------------------ finding 10

/// Finding 10: a sign-in during a large import got 500 "storage error" once the database
/// stayed locked. A store error that is busy (SQLite's lock wait ran out; PostgreSQL's lock
/// timeout; no pooled connection in time: `StoreError::is_busy`, checked against real lock
/// waits on both backends in the store's `tests/busy.rs`) is now a 503 with `Retry-After`,
/// telling the client to come back.
#[tokio::test]
async fn busy_store_is_a_503_with_retry_after() {
    use axum::response::IntoResponse;
    let err = camtrace_store::testing::busy_error();
    assert!(err.is_busy());
    let resp = camtrace_server::ApiError::from(err).into_response();
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    let secs: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(secs >= 1);
}

/// The current password of `POST /me/password` is a guess like a sign-in: a stolen session or
/// token cannot test passwords faster than the sign-in form allows.
async fn password_change_guesses_are_throttled_like_sign_ins(app: camtrace_server::App) {
    let f = fixture(app).await;
    let change = |current: &'static str| {
        post(
            &f.app,
            "/api/v1/me/password",
            f.token("alice"),
            json!({"current": current, "new": "alice-new-password-1"}),
        )
    };
    for _ in 0..throttle::PER_USER_AND_ADDRESS.free {
        assert_eq!(
            change("wrong-guess-123").await.status,
            StatusCode::FORBIDDEN
        );
    }
    let r = change("wrong-guess-123").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text());
    assert!(retry_after(&r) >= 1);
}

on_both_backends!(
    password_change_guesses_are_throttled_like_sign_ins,
    "f5c",
    password_change_guesses_are_throttled_like_sign_ins_on_sqlite,
    password_change_guesses_are_throttled_like_sign_ins_on_postgres
);
