//! Regression: test databases of ended processes were never dropped. The clean-up read
//! `pg_database.datname`, of PostgreSQL's `name` type, which the `Any` driver cannot decode, so
//! the query failed and was ignored, and a developer's PostgreSQL grew by every test run (479
//! databases, 26 GB, filled this machine's disk on 3 Dec 2026).

mod common;

use sqlx::Executor;

#[tokio::test]
#[cfg_attr(
    not(camtrace_has_postgres),
    ignore = "needs PostgreSQL: export CAMTRACE_TEST_POSTGRES=$(scripts/start-postgres.sh)"
)]
async fn test_databases_of_ended_processes_are_dropped() {
    let base = std::env::var("CAMTRACE_TEST_POSTGRES").unwrap();
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&base).await.unwrap();
    // A process id above any kernel's pid_max: that process has ended (never existed).
    let orphan = "ct_orphan_4294967_1";
    pool.execute(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {orphan}"
    )))
    .await
    .unwrap();
    pool.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {orphan}")))
        .await
        .unwrap();
    let mine = common::fresh_postgres("orphans").await;
    let names: Vec<String> =
        sqlx::query_scalar("SELECT datname::text FROM pg_database WHERE datname LIKE 'ct\\_%'")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert!(!names.iter().any(|n| n == orphan), "{names:?}");
    // This process's own database is kept.
    let own = mine.rsplit('/').next().unwrap().split('?').next().unwrap();
    assert!(names.iter().any(|n| n == own), "{own} in {names:?}");
}
