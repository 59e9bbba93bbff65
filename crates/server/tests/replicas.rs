//! Two server replicas over one database (issue 15, "several servers, one PostgreSQL"): both
//! run the alert checker at once and each alert is raised, queued and delivered once; a
//! replica that dies holding deliveries loses none of them, because the other claims them when
//! their lease ends. The webhook receiver is a local server on 127.0.0.1.

mod common;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use common::*;
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Deliveries received, by `X-Camtrace-Delivery` (the event's key).
type Received = Arc<Mutex<HashMap<String, usize>>>;

async fn receiver(State(r): State<Received>, headers: HeaderMap) -> StatusCode {
    let key = headers["x-camtrace-delivery"]
        .to_str()
        .unwrap_or_default()
        .to_string();
    *r.lock().unwrap().entry(key).or_default() += 1;
    StatusCode::OK
}

async fn listen() -> (std::net::SocketAddr, Received) {
    let state: Received = Arc::default();
    let rx = axum::Router::new()
        .route("/hook", axum::routing::post(receiver))
        .with_state(state.clone());
    (serve_on_loopback(rx).await, state)
}

async fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(std::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn two_replicas(url: String) {
    let f = fixture(app_on(&url).await).await;
    let a = f.app.clone();
    let b = app_on(&url).await;
    let (addr, got) = listen().await;
    post_ok(
        &a,
        "/api/v1/webhooks",
        f.token("root"),
        json!({"url": format!("http://{addr}/hook")}),
    )
    .await;

    // A replica raises three events and dies while delivering them: it had claimed them under
    // a lease that ends in three seconds, and never answers. The live replica delivers each
    // once, after the lease. (Before any worker runs, so that none claims them first.)
    let hooks = a.store.list_webhooks().await.unwrap();
    let now = chrono::Utc::now().timestamp_millis();
    let body = |key: &str| {
        json!({"id": key, "event": "agent_silent", "organisation": "orgb",
               "time": "2026-12-03T00:00:00Z", "data": {}})
        .to_string()
    };
    for k in ["lost-1", "lost-2", "lost-3"] {
        let rec = camtrace_store::AlertEventRecord {
            key: k.into(),
            event: "agent_silent".into(),
            organisation: Some("orgb".into()),
            payload: json!({}),
            time: "2026-12-03T00:00:00Z".into(),
        };
        let jobs = vec![(format!("job-{k}"), hooks[0].id.clone())];
        assert!(a
            .store
            .raise_alert(&rec, &body(k), &jobs, now)
            .await
            .unwrap());
    }
    let claimed = a
        .store
        .claim_webhook_jobs("replica-dead", now, now + 3000, 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 3);
    // Until the lease ends nobody delivers them ...
    camtrace_server::alerts::ensure_delivery_worker(&b);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(got.lock().unwrap().is_empty());
    // ... and then the live replica does, once each.
    wait_for("the dead replica's deliveries", || {
        let g = got.lock().unwrap();
        ["lost-1", "lost-2", "lost-3"]
            .iter()
            .all(|k| g.contains_key(*k))
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    for k in ["lost-1", "lost-2", "lost-3"] {
        assert_eq!(got.lock().unwrap()[k], 1, "{k}");
    }

    // Both replicas run the checker at the same moment: every event is raised by one of them.
    let (ea, eb) = tokio::join!(
        camtrace_server::alerts::check_once(&a),
        camtrace_server::alerts::check_once(&b)
    );
    let (ea, eb) = (ea.unwrap(), eb.unwrap());
    let mut keys: Vec<&str> = ea.iter().chain(eb.iter()).map(|e| e.id.as_str()).collect();
    let raised = keys.len();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), raised, "an event raised by both replicas");
    assert!(
        keys.iter().any(|k| k.starts_with("restricted:")),
        "the fixture has restricted devices on sensitive sites: {keys:?}"
    );
    // Each is delivered once, though both replicas' workers are running.
    wait_for("every event delivered", || {
        got.lock().unwrap().len() == keys.len() + 3
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await; // a poll of both workers
    for (k, n) in got.lock().unwrap().iter() {
        assert_eq!(*n, 1, "{k} delivered {n} times");
    }
    let q = a.store.webhook_job_counts().await.unwrap();
    assert_eq!((q.pending, q.delivered), (0, keys.len() as i64 + 3));

    // The lease on the checker: while one replica makes a pass, the other does not.
    let now = chrono::Utc::now().timestamp_millis();
    assert!(a
        .store
        .try_lease("alert-checker", "replica-elsewhere", now, now + 60_000)
        .await
        .unwrap());
    assert!(camtrace_server::alerts::check_once_leased(&b)
        .await
        .unwrap()
        .is_none());
    a.store
        .release_lease("alert-checker", "replica-elsewhere")
        .await
        .unwrap();
    // A pass also applies the delivery log's retention: an attempt older than it goes, the
    // recent ones stay.
    let old = camtrace_server::auth::rfc3339(
        chrono::Utc::now()
            - chrono::Duration::days(camtrace_server::DELIVERY_LOG_RETENTION_DAYS + 1),
    );
    a.store
        .record_delivery(&camtrace_store::DeliveryRecord {
            id: "attempt-long-ago".into(),
            webhook_id: hooks[0].id.clone(),
            event_id: "long-ago".into(),
            event: "restricted_device_on_sensitive_site".into(),
            attempt: 1,
            time: old,
            status_code: Some(503),
            error: None,
            success: false,
        })
        .await
        .unwrap();
    let logged = a.store.deliveries(&hooks[0].id).await.unwrap().len();
    assert!(camtrace_server::alerts::check_once_leased(&b)
        .await
        .unwrap()
        .is_some());
    let after = a.store.deliveries(&hooks[0].id).await.unwrap();
    assert_eq!(after.len(), logged - 1);
    assert!(after.iter().all(|d| d.id != "attempt-long-ago"));

    // The dead replica's late answer is refused and changes nothing.
    assert!(!a
        .store
        .finish_webhook_job(
            &claimed[0],
            "replica-dead",
            camtrace_store::JobOutcome::GaveUp
        )
        .await
        .unwrap());
    let q = a.store.webhook_job_counts().await.unwrap();
    assert_eq!((q.pending, q.given_up), (0, 0));
    let scrape = new_token(
        &b,
        &f.user_ids["root"],
        "prometheus",
        camtrace_server::auth::TokenScope::MetricsRead,
        chrono::Duration::days(1),
    )
    .await;
    let m = get(&b, "/metrics", &scrape).await;
    assert_eq!(m.status, StatusCode::OK);
    assert!(
        m.text()
            .contains("camtrace_webhook_queue{state=\"pending\"} 0"),
        "{}",
        m.text()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_share_alerts_and_deliveries_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = dir.path().join("r.db").to_str().unwrap().to_string();
    two_replicas(url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(camtrace_has_postgres),
    ignore = "needs PostgreSQL: export CAMTRACE_TEST_POSTGRES=$(scripts/start-postgres.sh)"
)]
async fn two_replicas_share_alerts_and_deliveries_on_postgres() {
    two_replicas(fresh_postgres("replicas").await).await;
}
