//! The audit log is tamper-evident: changing or deleting a row directly in SQL is detected,
//! and the first bad sequence number is named (API and dashboard).

mod common;

use axum::http::StatusCode;
use common::*;

async fn tamper(app: camtrace_server::App) {
    let f = fixture(app).await;
    // Some decisions on record.
    let _ = login(&f.app, "anne", &password("anne")).await;
    let v = get(&f.app, "/api/v1/audit/verify", f.token("root"))
        .await
        .json();
    assert_eq!(v["ok"], true, "{v}");
    let n = v["entries"].as_i64().unwrap();
    assert!(n >= 5);

    // Rewrite who did entry 3.
    camtrace_store::testing::set_history_actor(&*f.app.store, 3, "mallory")
        .await
        .unwrap();
    let v = get(&f.app, "/api/v1/audit/verify", f.token("root"))
        .await
        .json();
    assert_eq!(v["ok"], false, "{v}");
    assert_eq!(v["tampered_seq"], 3, "{v}");
    // The full check at once finds the same entry.
    let v = get(&f.app, "/api/v1/audit/verify?full=true", f.token("root"))
        .await
        .json();
    assert_eq!(v["ok"], false, "{v}");
    assert_eq!(v["tampered_seq"], 3, "{v}");

    // The dashboard says so too.
    let cookie = session_cookie(&login(&f.app, "root", &password("root")).await);
    let page = get_with_cookie(&f.app, "/audit", &cookie).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.text().contains("TAMPERING DETECTED at entry 3"),
        "{}",
        page.text()
    );
}

async fn deletion(app: camtrace_server::App) {
    let f = fixture(app).await;
    camtrace_store::testing::delete_history_entry(&*f.app.store, 4)
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
#[cfg_attr(
    not(camtrace_has_postgres),
    ignore = "needs PostgreSQL: export CAMTRACE_TEST_POSTGRES=$(scripts/start-postgres.sh)"
)]
async fn modified_and_deleted_rows_are_detected_on_postgres() {
    let url = fresh_postgres("tamper").await;
    tamper(app_on(&url).await).await;
    let url = fresh_postgres("tamper2").await;
    deletion(app_on(&url).await).await;
}
