//! The audit log is tamper-evident: changing or deleting a row directly in SQL is detected,
//! and the first bad sequence number is named (API and dashboard).

mod common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use common::*;
use serde_json::json;

async fn tamper(app: camtrace_server::App) {
    let f = fixture(app).await;
    // Some decisions on record.
    let _ = call(
        &f.app,
        Method::POST,
        "/api/v1/auth/login",
        None,
        Some(json!({"username": "anne", "password": "anne-password-123"})),
    )
    .await;
    let v = get(&f.app, "/api/v1/audit/verify", f.token("root"))
        .await
        .json();
    assert_eq!(v["ok"], true, "{v}");
    let n = v["entries"].as_i64().unwrap();
    assert!(n >= 5);

    // Rewrite who did entry 3.
    sqlx::query("UPDATE history SET actor = 'mallory' WHERE seq = 3")
        .execute(f.app.pool())
        .await
        .unwrap();
    let v = get(&f.app, "/api/v1/audit/verify", f.token("root"))
        .await
        .json();
    assert_eq!(v["ok"], false, "{v}");
    assert_eq!(v["tampered_seq"], 3, "{v}");

    // The dashboard says so too.
    let login = call(
        &f.app,
        Method::POST,
        "/api/v1/auth/login",
        None,
        Some(json!({"username": "root", "password": "root-password-123"})),
    )
    .await;
    let cookie = login.headers["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let page = send(
        &f.app,
        Request::get("/audit")
            .header("cookie", &cookie)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.text().contains("TAMPERING DETECTED at entry 3"),
        "{}",
        page.text()
    );
}

async fn deletion(app: camtrace_server::App) {
    let f = fixture(app).await;
    sqlx::query("DELETE FROM history WHERE seq = 4")
        .execute(f.app.pool())
        .await
        .unwrap();
    let v = get(&f.app, "/api/v1/audit/verify", f.token("root"))
        .await
        .json();
    assert_eq!(v["ok"], false, "{v}");
    let seq = v["tampered_seq"].as_i64().unwrap();
    assert!(seq == 4 || seq == 5, "the gap at 4 is named: {v}");
}

#[tokio::test]
async fn modified_and_deleted_rows_are_detected_on_sqlite() {
    tamper(sqlite_app().await).await;
    deletion(sqlite_app().await).await;
}

#[tokio::test]
async fn modified_and_deleted_rows_are_detected_on_postgres() {
    let Some(url) = fresh_postgres("tamper").await else {
        return;
    };
    tamper(app_on(&url).await).await;
    let Some(url) = fresh_postgres("tamper2").await else {
        return;
    };
    deletion(app_on(&url).await).await;
}
