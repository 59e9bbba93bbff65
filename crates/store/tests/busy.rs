//! A real lock wait that runs out is "busy" (`StoreError::is_busy`) on both backends: the
//! server answers it with 503 and `Retry-After` rather than a 500.

mod common;

use camtrace_store::StoreError;
use sqlx::Connection;

async fn lock_wait_is_busy(url: &str, postgres: bool) {
    sqlx::any::install_default_drivers();
    let mut holder = sqlx::AnyConnection::connect(url).await.expect("connect");
    let mut waiter = sqlx::AnyConnection::connect(url).await.expect("connect");
    sqlx::query("CREATE TABLE IF NOT EXISTS busy_probe (x INTEGER)")
        .execute(&mut holder)
        .await
        .unwrap();
    if postgres {
        sqlx::query("BEGIN").execute(&mut holder).await.unwrap();
        sqlx::query("LOCK TABLE busy_probe IN ACCESS EXCLUSIVE MODE")
            .execute(&mut holder)
            .await
            .unwrap();
        sqlx::query("SET lock_timeout = '50ms'")
            .execute(&mut waiter)
            .await
            .unwrap();
    } else {
        sqlx::query("BEGIN IMMEDIATE")
            .execute(&mut holder)
            .await
            .unwrap();
        sqlx::query("PRAGMA busy_timeout = 50")
            .execute(&mut waiter)
            .await
            .unwrap();
    }
    let err = sqlx::query("INSERT INTO busy_probe (x) VALUES (1)")
        .execute(&mut waiter)
        .await
        .expect_err("the table is locked");
    let err = StoreError::from(err);
    assert!(err.is_busy(), "{err:?}");
    assert!(camtrace_store::testing::busy_error().is_busy());
    assert!(!StoreError::Conflict("x".into()).is_busy());
    sqlx::query("ROLLBACK").execute(&mut holder).await.unwrap();
}

#[tokio::test]
async fn lock_waits_are_busy_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("busy.db").display());
    lock_wait_is_busy(&url, false).await;
}

#[tokio::test]
#[cfg_attr(
    not(camtrace_has_postgres),
    ignore = "needs PostgreSQL: export CAMTRACE_TEST_POSTGRES=$(scripts/start-postgres.sh)"
)]
async fn lock_waits_are_busy_on_postgres() {
    lock_wait_is_busy(&common::fresh_postgres("busy").await, true).await;
}
