//! Test support shared by the crates that test against PostgreSQL: a fresh, empty database on
//! the server named by `CAMTRACE_TEST_POSTGRES`. Tests that call [`fresh_postgres`] are marked
//! `#[cfg_attr(not(camtrace_has_postgres), ignore = "…")]`: the crate's build script sets that
//! cfg when the variable is set (or `CAMTRACE_TEST_REQUIRE_ALL=1`), so without a server they are
//! reported as ignored, never run and counted as passed.

use crate::Store;
use sqlx::Executor;

/// True when `CAMTRACE_TEST_REQUIRE_ALL=1`: tests needing an external program must not skip.
pub fn require_all() -> bool {
    std::env::var("CAMTRACE_TEST_REQUIRE_ALL").is_ok_and(|v| v == "1")
}

/// The URL of a new, empty PostgreSQL database (its name starts with `ct_<tag>_`) on the server
/// named by `CAMTRACE_TEST_POSTGRES`. Panics, saying why, when the variable is not set or the
/// server cannot be reached: a test that gets here was built to run against PostgreSQL.
pub async fn fresh_postgres(tag: &str) -> String {
    let base = match std::env::var("CAMTRACE_TEST_POSTGRES") {
        Ok(u) if !u.is_empty() => u,
        _ => panic!(
            "this test needs PostgreSQL but CAMTRACE_TEST_POSTGRES is not set \
             (export CAMTRACE_TEST_POSTGRES=$(scripts/start-postgres.sh); it was set, or \
             CAMTRACE_TEST_REQUIRE_ALL=1, when the test was built)"
        ),
    };
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&base).await.unwrap_or_else(|e| {
        panic!("cannot connect to the PostgreSQL server of CAMTRACE_TEST_POSTGRES: {e}")
    });
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
    drop_orphaned_databases(&pool).await;
    let name = format!("ct_{tag}_{}_{nanos}", std::process::id());
    pool.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .await
        .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
    pool.close().await;
    let (head, query) = match base.split_once('?') {
        Some((h, q)) => (h.to_string(), Some(q.to_string())),
        None => (base.clone(), None),
    };
    let cut = head
        .rfind('/')
        .filter(|&i| i > "postgres://".len())
        .unwrap_or_else(|| panic!("CAMTRACE_TEST_POSTGRES names no database: `{head}`"));
    let mut url = format!("{}/{}", &head[..cut], name);
    if let Some(q) = query {
        url.push('?');
        url.push_str(&q);
    }
    url
}

/// Drop the test databases left by test processes that have ended. Each name carries its
/// process id (`ct_<tag>_<pid>_<nanos>`); a database whose process is gone is nobody's. Without
/// this every run of the suite leaves a few hundred databases behind (once 9.7 GB on a developer
/// machine). Best effort: a database another runner is dropping at the same time is skipped.
async fn drop_orphaned_databases(pool: &sqlx::AnyPool) {
    use sqlx::Row;
    let Ok(rows) =
        sqlx::query("SELECT datname::text AS datname FROM pg_database WHERE datname LIKE 'ct\\_%'")
            .fetch_all(pool)
            .await
    else {
        return;
    };
    for row in rows {
        let Ok(name) = row.try_get::<String, _>(0) else {
            continue;
        };
        if orphaned(&name) {
            let _ = pool
                .execute(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name}"
                )))
                .await;
        }
    }
}

/// True when `name` is a test database (`ct_<tag>_<pid>_<nanos>`) whose process has ended.
fn orphaned(name: &str) -> bool {
    if !name.starts_with("ct_") || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return false;
    }
    let mut parts = name.rsplit('_');
    let (Some(nanos), Some(pid)) = (parts.next(), parts.next()) else {
        return false;
    };
    let (Ok(_), Ok(pid)) = (nanos.parse::<u64>(), pid.parse::<u32>()) else {
        return false;
    };
    pid != std::process::id() && !std::path::Path::new(&format!("/proc/{pid}")).exists()
}

fn plain(what: &str, v: &str) -> crate::Result<()> {
    if v.is_empty() || !v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(crate::StoreError::invalid(
            what,
            format!("`{v}`: letters, digits and `_` only"),
        ));
    }
    Ok(())
}

/// Tamper test: rewrite the actor of history entry `seq` behind the store's back.
pub async fn set_history_actor(store: &dyn Store, seq: i64, actor: &str) -> crate::Result<u64> {
    plain("actor", actor)?;
    store
        .execute_for_tests(&format!(
            "UPDATE history SET actor = '{actor}' WHERE seq = {seq}"
        ))
        .await
}

/// Tamper test: delete history entry `seq` behind the store's back.
pub async fn delete_history_entry(store: &dyn Store, seq: i64) -> crate::Result<u64> {
    store
        .execute_for_tests(&format!("DELETE FROM history WHERE seq = {seq}"))
        .await
}

/// Tamper test: rewrite the actor of access-log entry `seq` behind the store's back.
pub async fn set_access_actor(store: &dyn Store, seq: i64, actor: &str) -> crate::Result<u64> {
    plain("actor", actor)?;
    store
        .execute_for_tests(&format!(
            "UPDATE access_log SET actor = '{actor}' WHERE seq = {seq}"
        ))
        .await
}

/// Fault injection: from now on every INSERT into `table` fails with an error naming
/// `camtrace fault injection` (a trigger, on SQLite and PostgreSQL alike). Undo with
/// [`heal_inserts_into`].
pub async fn fail_inserts_into(store: &dyn Store, table: &str) -> crate::Result<()> {
    plain("table", table)?;
    let sql = match store.backend() {
        crate::Backend::Sqlite => format!(
            "CREATE TRIGGER fault_{table} BEFORE INSERT ON {table} BEGIN SELECT RAISE(ABORT, 'camtrace fault injection'); END"
        ),
        crate::Backend::Postgres => format!(
            "CREATE OR REPLACE FUNCTION fault_{table}() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'camtrace fault injection'; END $$ LANGUAGE plpgsql; CREATE TRIGGER fault_{table} BEFORE INSERT ON {table} FOR EACH ROW EXECUTE FUNCTION fault_{table}()"
        ),
    };
    store.execute_for_tests(&sql).await.map(|_| ())
}

/// Remove the trigger of [`fail_inserts_into`].
pub async fn heal_inserts_into(store: &dyn Store, table: &str) -> crate::Result<()> {
    plain("table", table)?;
    let sql = match store.backend() {
        crate::Backend::Sqlite => format!("DROP TRIGGER fault_{table}"),
        crate::Backend::Postgres => format!("DROP TRIGGER fault_{table} ON {table}"),
    };
    store.execute_for_tests(&sql).await.map(|_| ())
}

/// Freshness test: flip a user's `disabled` flag behind the server's back, leaving its
/// sessions and tokens in place (as another process editing the database would).
pub async fn mark_user_disabled(store: &dyn Store, user_id: &str) -> crate::Result<u64> {
    if !user_id.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(crate::StoreError::invalid("user id", "hex digits only"));
    }
    store
        .execute_for_tests(&format!(
            "UPDATE users SET disabled = 1 WHERE id = '{user_id}'"
        ))
        .await
}

/// A busy error as the store reports it when no pooled connection came free in time (for
/// tests of how callers answer one; `tests/busy.rs` checks real lock waits are busy too).
pub fn busy_error() -> crate::StoreError {
    crate::StoreError::Db(sqlx::Error::PoolTimedOut)
}

#[cfg(test)]
mod tests {
    use super::orphaned;

    #[test]
    fn only_test_databases_of_ended_processes_are_orphaned() {
        let mine = format!("ct_story_{}_123", std::process::id());
        assert!(!orphaned(&mine), "this process's own database");
        // pid 1 is always alive
        assert!(!orphaned("ct_story_1_123"));
        // a process id above Linux's maximum (2^22) has never run
        assert!(orphaned("ct_story_9999999_123"));
        assert!(!orphaned("camtrace_test"));
        assert!(!orphaned("ct_story_x_123"));
        assert!(!orphaned("ct_story; drop_9999999_1"));
    }
}
