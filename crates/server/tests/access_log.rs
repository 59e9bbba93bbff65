//! The access log apart from the register history (issue 12): failed sign-ins from one address
//! are throttled, add nothing to the register history and leave the findings cache alone;
//! sign-ins and exports go to the access log, which chains and verifies on its own.
//!
//! Client addresses below are only values put in the request (as the server's socket layer
//! would); no traffic goes anywhere but the in-process router.

mod common;

use axum::http::StatusCode;
use camtrace_server::{findings, throttle};
use camtrace_store::AccessFilter;
use common::*;
use std::sync::Arc;

async fn access(app: &camtrace_server::App, action: &str) -> Vec<camtrace_store::AccessEntry> {
    app.store
        .access_log(&AccessFilter {
            action: Some(action.into()),
            limit: Some(100_000),
            ..Default::default()
        })
        .await
        .expect("access log")
}

/// Attempts past the free ones that exponential back-off (1 s, 2 s, 4 s ...) lets through in
/// `elapsed`.
fn backoff_allows(elapsed: std::time::Duration) -> u32 {
    (elapsed.as_secs_f64() + 1.0).log2().floor() as u32 + 1
}

async fn thousand_failed_signins(app: camtrace_server::App) {
    let f = fixture(app).await;
    let today = findings::today();
    let warm = findings::evaluated(&f.app, today, &[]).await.unwrap();
    let history = history_len(&f.app).await;
    let revision = f.app.store.register_revision().await.unwrap();

    let (mut checked, mut throttled) = (0u32, 0u32);
    let start = std::time::Instant::now();
    for _ in 0..1000 {
        // A random user name each time: the per-name limits never trip, the address's does.
        let name = format!("u{}", camtrace_server::auth::random_token(9));
        let r = login_from(&f.app, "127.0.0.91", &name, "guess-guess-1").await;
        match r.status {
            StatusCode::UNAUTHORIZED => checked += 1,
            StatusCode::TOO_MANY_REQUESTS => {
                assert!(r.headers.contains_key("retry-after"));
                throttled += 1
            }
            s => panic!("unexpected {s}: {}", r.text()),
        }
    }
    let bound = throttle::PER_ADDRESS.free + backoff_allows(start.elapsed());
    assert!(
        checked <= bound,
        "{checked} of 1,000 checked (at most {bound})"
    );
    assert_eq!(checked + throttled, 1000);
    assert!(throttled >= 1000 - bound);

    // The register history and its revision did not move; the cached evaluation is reused.
    assert_eq!(
        history_len(&f.app).await,
        history,
        "no register-history entries"
    );
    assert_eq!(f.app.store.register_revision().await.unwrap(), revision);
    let again = findings::evaluated(&f.app, today, &[]).await.unwrap();
    assert!(
        Arc::ptr_eq(&warm.findings, &again.findings),
        "the findings cache was not invalidated"
    );

    // The access log holds the checked failures (the throttled ones never reach it), within
    // the throttle's bound, and chains.
    let failed = access(&f.app, "login_failed").await;
    assert_eq!(failed.len() as u32, checked);
    assert!(failed.iter().all(|e| e.addr == "127.0.0.91"));
    assert_eq!(
        f.app.store.verify_access_log().await.unwrap(),
        f.app.store.access_log_count().await.unwrap()
    );

    // A successful sign-in (from another address) is in the access log, not the history.
    let r = login_from(&f.app, "127.0.0.92", "anne", &password("anne")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let ok = access(&f.app, "login").await;
    assert_eq!(ok.len(), 1);
    assert_eq!(ok[0].actor, "anne");
    assert_eq!(ok[0].addr, "127.0.0.92");
    assert_eq!(history_len(&f.app).await, history);
    assert!(f
        .app
        .store
        .history(&camtrace_store::HistoryFilter {
            action: Some("login".into()),
            ..Default::default()
        })
        .await
        .unwrap()
        .is_empty());

    // An export too: access log only, and the cache still holds.
    let r = get(
        &f.app,
        "/api/v1/reports/findings?format=json",
        f.token("anne"),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let exports = access(&f.app, "export").await;
    assert_eq!(exports.len(), 1);
    assert_eq!(exports[0].subject, "report/findings");
    assert_eq!(history_len(&f.app).await, history);
    let still = findings::evaluated(&f.app, today, &[]).await.unwrap();
    assert!(Arc::ptr_eq(&warm.findings, &still.findings));
    assert_eq!(
        f.app.store.verify_access_log().await.unwrap(),
        f.app.store.access_log_count().await.unwrap()
    );

    // Central administrators read it, with its chain checked; nobody else does.
    let r = get(&f.app, "/api/v1/access-log?action=login", f.token("root")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let v = r.json();
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["entries"][0]["actor"], "anne");
    assert_eq!(
        get_status(&f.app, "/api/v1/access-log", f.token("bob")).await,
        StatusCode::FORBIDDEN
    );
    let seq = failed[0].seq;
    camtrace_store::testing::set_access_actor(&*f.app.store, seq, "mallory")
        .await
        .unwrap();
    let v = get(&f.app, "/api/v1/access-log", f.token("root"))
        .await
        .json();
    assert_eq!(v["ok"], false, "{v}");
    assert_eq!(v["tampered_seq"], seq, "{v}");
}

on_both_backends!(
    thousand_failed_signins,
    "acl",
    thousand_failed_signins_touch_neither_history_nor_cache_on_sqlite,
    thousand_failed_signins_touch_neither_history_nor_cache_on_postgres
);
