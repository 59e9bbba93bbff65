//! Site agents (issue 15): enrolment (one-time, site-scoped, throttled), batches (idempotent by
//! id, size-capped, validated, all or nothing), the agent's rights (its site only, never the
//! register), revocation at once, and the fleet view. Runs on SQLite, and on PostgreSQL when
//! `CAMTRACE_TEST_POSTGRES` is set.

mod common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use camtrace_server::App;
use camtrace_store::{ObservationFilter, ScanRecord};
use common::*;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const BATCH: &str = r#"{"target":"127.0.1.20","kind":"mac","mac":"44:19:b6:00:00:20"}
{"target":"127.0.1.20","kind":"port","port":80,"protocol":"http","banner":"Server: DNVRS-Webs"}
{"target":"127.0.1.21","kind":"port","port":554,"protocol":"rtsp","banner":"RTSP/1.0 200 OK"}
"#;

fn batch_id(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

async fn push(app: &App, credential: &str, id: &str, query: &str, body: &[u8]) -> Resp {
    let req = Request::builder()
        .method(Method::POST)
        .uri(format!("/api/v1/agents/batches/{id}{query}"))
        .header("authorization", format!("Bearer {credential}"))
        .header("content-type", "application/x-ndjson")
        .header("x-camtrace-agent-version", "9.9.9-test")
        .header("x-camtrace-outbox-depth", "3")
        .header("x-camtrace-schedule-secs", "600")
        .body(Body::from(body.to_vec()))
        .expect("request");
    send(app, req).await
}

/// Evidence stored: scans, observations, agent batches.
#[derive(Debug, PartialEq)]
struct Evidence {
    scans: Vec<ScanRecord>,
    observations: usize,
}

async fn evidence(app: &App) -> Evidence {
    Evidence {
        scans: app.store.list_scans(None).await.unwrap(),
        observations: app
            .store
            .observations(&ObservationFilter::default())
            .await
            .unwrap()
            .len(),
    }
}

/// Enrol an agent for `site` as `admin`; returns (agent id, credential).
async fn enrol_agent(app: &App, admin: &str, site: &str, name: &str) -> (String, String) {
    let r = post(
        app,
        "/api/v1/agents/enrolments",
        admin,
        json!({"site": site, "name": name}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let token = r.json()["token"].as_str().unwrap().to_string();
    let r = call(
        app,
        Method::POST,
        "/api/v1/agents/enrol",
        None,
        Some(json!({ "token": token })),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let v = r.json();
    assert_eq!(v["site"], site);
    (
        v["agent_id"].as_str().unwrap().into(),
        v["credential"].as_str().unwrap().into(),
    )
}

async fn enrolment_is_one_time_and_site_scoped(app: App) {
    let f = fixture(app).await;
    let app = &f.app;
    // Only an admin of the site's organisation creates tokens: alice is an editor of A, bob
    // admin of B (A's site is invisible to him).
    let body = json!({"site": "site-secret-a", "name": "a1"});
    let r = post(
        app,
        "/api/v1/agents/enrolments",
        f.token("alice"),
        body.clone(),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
    let r = post(
        app,
        "/api/v1/agents/enrolments",
        f.token("bob"),
        body.clone(),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text());
    let r = post(
        app,
        "/api/v1/agents/enrolments",
        f.token("bob"),
        json!({"site": "site-b", "name": "b1"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let created = r.json();
    let token = created["token"].as_str().unwrap().to_string();
    assert!(token.starts_with("cte_"));
    // The secret is stored hashed only.
    let hist = app.store.list_agents(None).await.unwrap();
    assert!(hist.is_empty());
    let enrol = |t: &str| {
        call(
            app,
            Method::POST,
            "/api/v1/agents/enrol",
            None,
            Some(json!({ "token": t })),
        )
    };
    let r = enrol(&token).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let v = r.json();
    assert_eq!(v["site"], "site-b");
    assert_eq!(v["organisation"], "orgb");
    let cred = v["credential"].as_str().unwrap().to_string();
    assert!(cred.starts_with("cta_"));
    let stored = app
        .store
        .get_agent(v["agent_id"].as_str().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_ne!(stored.credential_hash, cred, "credential stored hashed");
    assert_eq!(
        stored.credential_hash,
        camtrace_server::auth::token_hash(&cred)
    );
    // A second exchange of the same token is refused.
    let r = enrol(&token).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
    assert!(r.text().contains("already used"), "{}", r.text());
    assert_eq!(app.store.list_agents(None).await.unwrap().len(), 1);
    // Wrong tokens are throttled: after a few failures from one address, 429.
    let mut throttled = false;
    for i in 0..10 {
        let r = enrol(&format!("cte_wrong{i}")).await;
        if r.status == StatusCode::TOO_MANY_REQUESTS {
            throttled = true;
            break;
        }
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
    }
    assert!(throttled, "enrolment attempts are throttled");
}

async fn batches_store_once_and_refuse_bad_input(url: &str) {
    let config = camtrace_server::ServerConfig {
        max_body_bytes: 4096,
        ..test_config()
    };
    let f = fixture(app_with(url, config).await).await;
    let app = &f.app;
    let (agent_id, cred) = enrol_agent(app, f.token("bob"), "site-b", "b-agent").await;
    let before = evidence(app).await;

    // A batch is stored once, as a scan of the agent's site, with identifications.
    let id = batch_id(BATCH.as_bytes());
    let r = push(app, &cred, &id, "", BATCH.as_bytes()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let v = r.json();
    assert_eq!(v["outcome"], "stored", "{v}");
    assert_eq!(v["observations"], 3);
    assert!(v["identifications"].as_i64().unwrap() >= 1, "{v}");
    let after = evidence(app).await;
    assert_eq!(after.scans.len(), before.scans.len() + 1);
    assert_eq!(after.observations, before.observations + 3);
    let scan = after
        .scans
        .iter()
        .find(|s| Some(s.id.as_str()) == v["scan_id"].as_str())
        .unwrap();
    assert_eq!(scan.site.as_deref(), Some("site-b"));

    // Replayed (the receipt was lost): stored once, answered "duplicate".
    let r = push(app, &cred, &id, "", BATCH.as_bytes()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["outcome"], "duplicate");
    assert_eq!(
        evidence(app).await,
        after,
        "a replayed batch writes nothing"
    );

    // The same bytes gathered on another site are that site's evidence: stored for it.
    let (a_id, cred_a) = enrol_agent(app, f.token("root"), "site-secret-a", "a-agent").await;
    let r = push(app, &cred_a, &id, "", BATCH.as_bytes()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["outcome"], "stored", "{}", r.text());
    let on_a = app.store.list_scans(Some("site-secret-a")).await.unwrap();
    assert_eq!(on_a.len(), 1);
    let r = push(app, &cred_a, &id, "", BATCH.as_bytes()).await;
    assert_eq!(r.json()["outcome"], "duplicate", "{}", r.text());
    // ... and that site's agent counts it (regression: the batch was recorded per id only, so
    // the second site's agent read one batch too few; found by the replica-kill test, where two
    // agents scanned the same device in the same second).
    let a = app.store.get_agent(&a_id).await.unwrap().unwrap();
    assert_eq!(a.batches, 1);
    let rec = app.store.agent_batch(&id, "site-secret-a").await.unwrap();
    assert_eq!(rec.map(|r| r.scan_id), Some(on_a[0].id.clone()));
    let after = evidence(app).await;

    // Health reported with the request is recorded; the batch is counted once.
    let a = app.store.get_agent(&agent_id).await.unwrap().unwrap();
    assert_eq!(a.agent_version.as_deref(), Some("9.9.9-test"));
    assert_eq!(a.outbox_depth, Some(3));
    assert_eq!(a.batches, 1);
    assert!(a.last_seen.is_some());

    // Corrupted in transit: the content does not match the id.
    let other = BATCH.replace("127.0.1.21", "127.0.1.22");
    let r = push(app, &cred, &id, "", other.as_bytes()).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    assert!(r.text().contains("corrupted"), "{}", r.text());
    // Not observations (id matches, content is garbage), after a good line: nothing stored.
    let bad = format!("{}\nnot json at all\n", BATCH.lines().next().unwrap());
    let r = push(app, &cred, &batch_id(bad.as_bytes()), "", bad.as_bytes()).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    assert!(r.text().contains("line 2"), "{}", r.text());
    // Not a batch id.
    let r = push(app, &cred, "abc", "", BATCH.as_bytes()).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    // Oversized: 413, nothing stored.
    let big: String = (0..200)
        .map(|i| format!("{{\"target\":\"127.0.2.{}\",\"kind\":\"mac\",\"mac\":\"44:19:b6:00:01:{:02x}\"}}\n", i % 250, i % 250))
        .collect();
    assert!(big.len() > 4096);
    let r = push(app, &cred, &batch_id(big.as_bytes()), "", big.as_bytes()).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.text());
    assert_eq!(evidence(app).await, after, "refused batches write nothing");
    assert!(app
        .store
        .agent_batch(&batch_id(big.as_bytes()), "site-b")
        .await
        .unwrap()
        .is_none());
}

async fn agent_rights_and_revocation(app: App) {
    let f = fixture(app).await;
    let app = &f.app;
    let (agent_id, cred) = enrol_agent(app, f.token("bob"), "site-b", "b-agent").await;
    let before = evidence(app).await;
    let id = batch_id(BATCH.as_bytes());

    // Another site than its own: refused, nothing stored.
    for site in ["site-secret-a", "no-such-site"] {
        let r = push(app, &cred, &id, &format!("?site={site}"), BATCH.as_bytes()).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{site}: {}", r.text());
    }
    assert_eq!(evidence(app).await, before);
    // The register: never readable, nor writable, with an agent's credential.
    for path in [
        "/api/v1/devices",
        "/api/v1/sites",
        "/api/v1/scans",
        "/api/v1/observations",
        "/api/v1/agents",
        "/api/v1/me",
    ] {
        let r = get(app, path, &cred).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{path}: {}", r.text());
    }
    let r = call(
        app,
        Method::POST,
        "/api/v1/import?format=scan-jsonl&site=site-b",
        Some(&cred),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // A user's API token is not an agent credential.
    let r = push(app, f.token("bob"), &id, "", BATCH.as_bytes()).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text());

    // Its own site works (default and named).
    let r = push(app, &cred, &id, "?site=site-b", BATCH.as_bytes()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());

    // Fleet view: bob (admin of B) sees it; alice (editor of A) may not list agents; root sees it.
    let r = get(app, "/api/v1/agents", f.token("bob")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let v = r.json();
    assert_eq!(v["total"], 1);
    assert_eq!(v["items"][0]["id"], agent_id.as_str());
    assert_eq!(v["items"][0]["site"], "site-b");
    assert_eq!(v["items"][0]["batches"], 1);
    assert_eq!(v["items"][0]["silent"], false);
    assert!(v["items"][0].get("credential_hash").is_none());
    assert_eq!(
        get_status(app, "/api/v1/agents", f.token("alice")).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        get(app, "/api/v1/agents", f.token("root")).await.json()["total"],
        1
    );
    // The fleet page, for a browser session: the admin of B sees the agent; A's editor may not.
    let cookie = session_cookie(&login(app, "bob", "bob-password-123").await);
    let r = get_with_cookie(app, "/agents", &cookie).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert!(
        r.text().contains("b-agent") && r.text().contains("site-b"),
        "{}",
        r.text()
    );
    assert!(r.text().contains("9.9.9-test"), "{}", r.text());
    let cookie = session_cookie(&login(app, "alice", "alice-password-123").await);
    let r = get_with_cookie(app, "/agents", &cookie).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
    assert!(!r.text().contains("b-agent"));
    // Only an admin of its organisation revokes it.
    let path = format!("/api/v1/agents/{agent_id}/revoke");
    assert_eq!(
        post_status(app, &path, f.token("alice"), json!({})).await,
        StatusCode::NOT_FOUND
    );
    let r = post(app, &path, f.token("bob"), json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());

    // Revoked: the very next request is refused, nothing stored.
    let after = evidence(app).await;
    let other = BATCH.replace("127.0.1.21", "127.0.1.23");
    let r = push(
        app,
        &cred,
        &batch_id(other.as_bytes()),
        "",
        other.as_bytes(),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
    assert!(r.text().contains("revoked"), "{}", r.text());
    let r = call(
        app,
        Method::POST,
        "/api/v1/agents/heartbeat",
        Some(&cred),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(evidence(app).await, after);
    // Revoked agents leave the fleet view unless asked for.
    assert_eq!(
        get(app, "/api/v1/agents", f.token("bob")).await.json()["total"],
        0
    );
    let v: Value = get(app, "/api/v1/agents?revoked=true", f.token("bob"))
        .await
        .json();
    assert!(v["items"][0]["revoked_at"].is_string());
}

#[tokio::test]
async fn enrolment_on_sqlite() {
    enrolment_is_one_time_and_site_scoped(sqlite_app().await).await;
}

#[tokio::test]
async fn batches_on_sqlite() {
    batches_store_once_and_refuse_bad_input("sqlite::memory:").await;
}

#[tokio::test]
async fn rights_on_sqlite() {
    agent_rights_and_revocation(sqlite_app().await).await;
}

#[tokio::test]
#[cfg_attr(
    not(camtrace_has_postgres),
    ignore = "needs PostgreSQL: export CAMTRACE_TEST_POSTGRES=$(scripts/start-postgres.sh)"
)]
async fn agents_on_postgres() {
    let url = fresh_postgres("agents1").await;
    enrolment_is_one_time_and_site_scoped(app_on(&url).await).await;
    let url = fresh_postgres("agents2").await;
    batches_store_once_and_refuse_bad_input(&url).await;
    let url = fresh_postgres("agents3").await;
    agent_rights_and_revocation(app_on(&url).await).await;
}

/// Issue 15: a site agent that falls silent raises an alert (`agent_silent`), once per silence:
/// the fleet view marked it, but nobody was told that a site's evidence had stopped coming.
#[tokio::test]
async fn a_silent_agent_raises_one_alert_per_silence() {
    use camtrace_server::alerts::check_once;
    let f = fixture(sqlite_app().await).await;
    let app = &f.app;
    let (id, _) = enrol_agent(app, f.token("bob"), "site-b", "gate-agent").await;
    let silent_events = |evs: &[camtrace_server::alerts::Event]| -> Vec<serde_json::Value> {
        evs.iter()
            .filter(|e| e.event == "agent_silent")
            .map(|e| e.data.clone())
            .collect()
    };
    let seen = |ago_secs: i64| {
        let t = chrono::Utc::now() - chrono::Duration::seconds(ago_secs);
        t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    };
    let health = camtrace_store::AgentHealth {
        schedule_secs: Some(600),
        ..Default::default()
    };
    // Heard from a minute ago, scanning every 10 minutes: not silent.
    app.store
        .record_agent_seen(&id, &health, &seen(60))
        .await
        .unwrap();
    assert!(silent_events(&check_once(app).await.unwrap()).is_empty());
    // Not heard from for two hours (more than three periods): one alert, naming the agent and
    // its site, and not again on the next pass.
    app.store
        .record_agent_seen(&id, &health, &seen(7200))
        .await
        .unwrap();
    let evs = silent_events(&check_once(app).await.unwrap());
    assert_eq!(evs.len(), 1, "{evs:?}");
    assert_eq!(evs[0]["agent"], id.as_str());
    assert_eq!(evs[0]["site"], "site-b");
    assert!(silent_events(&check_once(app).await.unwrap()).is_empty());
    // It comes back, then falls silent again: a new silence, a new alert.
    app.store
        .record_agent_seen(&id, &health, &seen(30))
        .await
        .unwrap();
    assert!(silent_events(&check_once(app).await.unwrap()).is_empty());
    app.store
        .record_agent_seen(&id, &health, &seen(3 * 3600))
        .await
        .unwrap();
    assert_eq!(silent_events(&check_once(app).await.unwrap()).len(), 1);
    // A revoked agent is not silent: it was stopped on purpose.
    let r = call(
        app,
        Method::POST,
        &format!("/api/v1/agents/{id}/revoke"),
        Some(f.token("bob")),
        None,
    )
    .await;
    assert!(r.status.is_success(), "{}", r.text());
    app.store
        .record_agent_seen(&id, &health, &seen(5 * 3600))
        .await
        .unwrap();
    assert!(silent_events(&check_once(app).await.unwrap()).is_empty());
}
