//! Regression tests for the server hardening findings of issue 11 (sign-in throttling, webhook
//! address policy, input ranges, accounts, cookies and headers, the audit page, a busy store).
//! Each is named after its finding; those that touch the store run on SQLite and, when
//! `CAMTRACE_TEST_POSTGRES` is set, on PostgreSQL.
//!
//! Client addresses below are only values put in the request (as the server's socket layer
//! would); no traffic goes anywhere but the in-process router and 127.0.0.1.

mod common;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use camtrace_server::throttle;
use common::*;
use serde_json::json;
use std::net::SocketAddr;

async fn on_both<F, Fut>(tag: &str, story: F)
where
    F: Fn(camtrace_server::App) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    story(sqlite_app().await).await;
    if let Some(url) = fresh_postgres(tag).await {
        story(app_on(&url).await).await;
    }
}

/// `POST /api/v1/auth/login` as if from the client address `from`.
async fn login_from(app: &camtrace_server::App, from: &str, user: &str, pw: &str) -> Resp {
    let mut req = Request::post("/api/v1/auth/login")
        .header("content-type", "application/json")
        .body(Body::from(
            json!({"username": user, "password": pw}).to_string(),
        ))
        .expect("request");
    let addr: SocketAddr = format!("{from}:40000").parse().expect("address");
    req.extensions_mut().insert(ConnectInfo(addr));
    send(app, req).await
}

async fn history_len(app: &camtrace_server::App) -> usize {
    app.store
        .history(&camtrace_store::HistoryFilter {
            limit: Some(1_000_000),
            ..Default::default()
        })
        .await
        .expect("history")
        .len()
}

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

#[tokio::test]
async fn failed_signins_are_throttled_per_address_and_write_no_history_on_both_backends() {
    on_both(
        "f4",
        failed_signins_are_throttled_per_address_and_write_no_history,
    )
    .await;
}

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

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn signin_throttle_is_atomic_under_concurrency_on_both_backends() {
    on_both("f5a", signin_throttle_is_atomic_under_concurrency).await;
}

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

#[tokio::test]
async fn signin_throttle_is_not_an_anonymous_lockout_on_both_backends() {
    on_both("f5b", signin_throttle_is_not_an_anonymous_lockout).await;
}
