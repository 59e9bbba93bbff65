//! Alerts: a restricted device on a sensitive site, an expired waiver and an overdue plan
//! raise events once; webhooks are signed, retried with back-off and every attempt recorded.
//! The receiver is a local server on 127.0.0.1.

mod common;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use common::*;
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Default)]
struct Received {
    attempts: usize,
    ok: Vec<(HeaderMap, Vec<u8>)>,
}

async fn receiver(
    State(r): State<Arc<Mutex<Received>>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> StatusCode {
    let mut g = r.lock().unwrap();
    g.attempts += 1;
    if g.attempts <= 2 {
        return StatusCode::INTERNAL_SERVER_ERROR; // Fails twice, then succeeds.
    }
    g.ok.push((headers, body.to_vec()));
    StatusCode::OK
}

#[tokio::test]
async fn webhook_fails_twice_then_succeeds_signed_and_recorded() {
    let f = fixture(sqlite_app().await).await;
    let state = Arc::new(Mutex::new(Received::default()));
    let rx = axum::Router::new()
        .route("/hook", axum::routing::post(receiver))
        .with_state(state.clone());
    let addr = serve_on_loopback(rx).await;

    let h = post_ok(&f.app, "/api/v1/webhooks", f.token("bob"), json!({"url": format!("http://{addr}/hook"), "organisation": "orgb", "events": ["restricted_device_on_sensitive_site"]})).await;
    let secret = h.json()["secret"].as_str().unwrap().to_string();
    let hook_id = h.json()["webhook"]["id"].as_str().unwrap().to_string();

    let events = camtrace_server::alerts::check_once(&f.app).await.unwrap();
    let restricted: Vec<_> = events
        .iter()
        .filter(|e| e.event == "restricted_device_on_sensitive_site")
        .collect();
    let devices: Vec<&str> = restricted
        .iter()
        .map(|e| e.data["device"].as_str().unwrap())
        .collect();
    assert!(
        devices.contains(&"dev-b") && devices.contains(&"dev-secret-a"),
        "{events:?}"
    );
    assert!(
        !devices.contains(&"dev-sub-secret-a"),
        "not a sensitive site"
    );
    assert!(!devices.contains(&"dev-b2"), "Axis is not restricted");
    // Raised once only.
    assert!(camtrace_server::alerts::check_once(&f.app)
        .await
        .unwrap()
        .is_empty());

    // Wait for the delivery (two failures with 50 ms, then 100 ms back-off).
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        if !state.lock().unwrap().ok.is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "webhook never delivered"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (headers, body) = {
        let g = state.lock().unwrap();
        assert_eq!(g.attempts, 3);
        assert_eq!(g.ok.len(), 1, "only orgb's event goes to orgb's hook");
        g.ok[0].clone()
    };
    let ts: i64 = headers["x-camtrace-timestamp"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let sig = headers["x-camtrace-signature"].to_str().unwrap();
    assert!(camtrace_server::alerts::verify_signature(
        &secret,
        ts,
        &body,
        sig,
        Duration::from_secs(300)
    ));
    assert!(!camtrace_server::alerts::verify_signature(
        "wrong",
        ts,
        &body,
        sig,
        Duration::from_secs(300)
    ));
    let ev: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(ev["data"]["device"], "dev-b");
    assert_eq!(
        headers["x-camtrace-event"],
        "restricted_device_on_sensitive_site"
    );

    // Every attempt recorded: in detail for a central admin, only whether it arrived for the
    // organisation's admin (issue 11, finding 6).
    tokio::time::sleep(Duration::from_millis(100)).await;
    let path = format!("/api/v1/webhooks/{hook_id}/deliveries");
    let d = get(&f.app, &path, f.token("root")).await.json();
    let d = d.as_array().unwrap();
    assert_eq!(d.len(), 3, "{d:?}");
    assert_eq!(d.iter().filter(|x| x["success"] == false).count(), 2);
    assert_eq!(d[0]["status_code"], 500);
    assert_eq!(d[2]["success"], true);
    assert_eq!(d[2]["attempt"], 3);
    let coarse = get(&f.app, &path, f.token("bob")).await.json();
    assert_eq!(coarse.as_array().unwrap().len(), 3);
    assert!(coarse[0]["status_code"].is_null(), "{coarse}");
    assert_eq!(coarse[0]["error"], "failed");
    assert_eq!(coarse[2]["success"], true);
}

#[tokio::test]
async fn expired_waivers_and_overdue_plans_raise_events() {
    let f = fixture(sqlite_app().await).await;
    let yesterday = chrono::Utc::now().date_naive() - chrono::Duration::days(1);
    f.app
        .store
        .add_waiver(
            &camtrace_model::Waiver {
                id: "w-old".into(),
                device_id: "dev-b".into(),
                rule_id: "x/y".into(),
                reason: "r".into(),
                approver: "anne".into(),
                created_at: camtrace_store::now_rfc3339(),
                expires_on: yesterday,
                revoked_at: None,
                revoked_by: None,
                revoke_reason: None,
            },
            "test",
        )
        .await
        .unwrap();
    let p = post(&f.app, "/api/v1/plans", f.token("bob"), json!({"organisation": "orgb", "title": "late", "actions": [{"device_id": "dev-b", "site_id": "site-b", "action": "remove_by", "rules": [], "due": yesterday}]})).await;
    let pid = p.json()["id"].as_str().unwrap().to_string();
    // A draft plan is not overdue; an approved one is.
    let ev = camtrace_server::alerts::check_once(&f.app).await.unwrap();
    assert!(
        ev.iter().any(|e| e.event == "waiver_expired"
            && e.data["waiver"] == "w-old"
            && e.organisation.as_deref() == Some("orgb")),
        "{ev:?}"
    );
    assert!(!ev.iter().any(|e| e.event == "plan_overdue"));
    let r = post(
        &f.app,
        &format!("/api/v1/plans/{pid}/decision"),
        f.token("root"),
        json!({"approve": true}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let ev = camtrace_server::alerts::check_once(&f.app).await.unwrap();
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert_eq!(ev[0].event, "plan_overdue");
    assert_eq!(ev[0].data["devices"][0], "dev-b");
    // The progress snapshot was recorded once for today.
    let snaps = f.app.store.snapshots(&Default::default()).await.unwrap();
    assert!(
        snaps
            .iter()
            .any(|s| s.organisation.is_empty() && s.counts["open"].as_i64().unwrap() > 0),
        "{snaps:?}"
    );
}
