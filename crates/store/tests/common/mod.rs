//! Backends for the conformance tests: a fresh SQLite file, and a fresh PostgreSQL database when
//! `CAMTRACE_TEST_POSTGRES` is set (required when `CAMTRACE_TEST_REQUIRE_ALL=1`).
#![allow(dead_code)]

use sqlx::Executor;

pub fn require_all() -> bool {
    std::env::var("CAMTRACE_TEST_REQUIRE_ALL").is_ok_and(|v| v == "1")
}

/// A new, empty PostgreSQL database (named after `tag`) on the test server, or `None` (with a
/// printed reason) when no server is configured.
pub async fn fresh_postgres(tag: &str) -> Option<String> {
    let base = match std::env::var("CAMTRACE_TEST_POSTGRES") {
        Ok(u) if !u.is_empty() => u,
        _ => {
            if require_all() {
                panic!("CAMTRACE_TEST_REQUIRE_ALL=1 but CAMTRACE_TEST_POSTGRES is not set (run scripts/start-postgres.sh)");
            }
            eprintln!("skipping the PostgreSQL half: CAMTRACE_TEST_POSTGRES is not set (scripts/start-postgres.sh prints one)");
            return None;
        }
    };
    sqlx::any::install_default_drivers();
    let pool = match sqlx::AnyPool::connect(&base).await {
        Ok(p) => p,
        Err(e) => {
            if require_all() {
                panic!("cannot connect to CAMTRACE_TEST_POSTGRES: {e}");
            }
            eprintln!("skipping the PostgreSQL half: cannot connect: {e}");
            return None;
        }
    };
    let name = format!(
        "ct_{}_{}_{}",
        tag,
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() % 1_000_000_000)
            .unwrap_or(0)
    );
    pool.execute(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name}"
    )))
    .await
    .expect("drop database");
    pool.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .await
        .expect("create database");
    pool.close().await;
    // Replace the database name (last path segment, before any query string).
    let (head, query) = match base.split_once('?') {
        Some((h, q)) => (h.to_string(), Some(q.to_string())),
        None => (base.clone(), None),
    };
    let cut = head.rfind('/').expect("database URL has a path");
    let mut url = format!("{}/{}", &head[..cut], name);
    if let Some(q) = query {
        url.push('?');
        url.push_str(&q);
    }
    Some(url)
}
