//! Test support shared by the crates that test against PostgreSQL: a fresh, empty database on
//! the server named by `CAMTRACE_TEST_POSTGRES`, or a printed skip (a failure when
//! `CAMTRACE_TEST_REQUIRE_ALL=1`).

use sqlx::Executor;

/// True when `CAMTRACE_TEST_REQUIRE_ALL=1`: tests needing an external program must not skip.
pub fn require_all() -> bool {
    std::env::var("CAMTRACE_TEST_REQUIRE_ALL").is_ok_and(|v| v == "1")
}

/// A URL of a new, empty PostgreSQL database (its name starts with `ct_<tag>_`), or `None` when
/// no server is configured (the reason is printed). Panics when the server is required but
/// missing or unreachable.
pub async fn fresh_postgres(tag: &str) -> Option<String> {
    let base = match std::env::var("CAMTRACE_TEST_POSTGRES") {
        Ok(u) if !u.is_empty() => u,
        _ => {
            if require_all() {
                panic!("CAMTRACE_TEST_REQUIRE_ALL=1 but CAMTRACE_TEST_POSTGRES is not set (scripts/start-postgres.sh prints one)");
            }
            eprintln!("skipping the PostgreSQL part: CAMTRACE_TEST_POSTGRES is not set (scripts/start-postgres.sh prints one)");
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
            eprintln!(
                "skipping the PostgreSQL part: cannot connect to CAMTRACE_TEST_POSTGRES: {e}"
            );
            return None;
        }
    };
    let tag: String = tag
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(20)
        .collect::<String>()
        .to_ascii_lowercase();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() % 1_000_000_000)
        .unwrap_or(0);
    let name = format!("ct_{tag}_{}_{nanos}", std::process::id());
    pool.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .await
        .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
    pool.close().await;
    let (head, query) = match base.split_once('?') {
        Some((h, q)) => (h.to_string(), Some(q.to_string())),
        None => (base.clone(), None),
    };
    let cut = head.rfind('/').filter(|&i| i > "postgres://".len())?;
    let mut url = format!("{}/{}", &head[..cut], name);
    if let Some(q) = query {
        url.push('?');
        url.push_str(&q);
    }
    Some(url)
}
