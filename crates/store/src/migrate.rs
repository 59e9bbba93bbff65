//! Numbered, embedded migrations per backend (see `build.rs`).

use crate::{Backend, Result, StoreError};
use sha2::{Digest, Sha256};
use sqlx::{AnyPool, Row};

/// One embedded migration file.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

mod embedded {
    use super::Migration;
    include!(concat!(env!("OUT_DIR"), "/migrations.rs"));
}

pub fn migrations(backend: Backend) -> &'static [Migration] {
    match backend {
        Backend::Sqlite => embedded::SQLITE,
        Backend::Postgres => embedded::POSTGRES,
    }
}

fn checksum(sql: &str) -> String {
    hex::encode(Sha256::digest(sql.as_bytes()))
}

/// Apply every migration not yet applied, each in its own transaction; refuse when an applied
/// migration's text changed or the database is newer than this build.
pub async fn run(pool: &AnyPool, backend: Backend) -> Result<()> {
    let mut conn = pool.acquire().await?;
    sqlx::raw_sql(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY NOT NULL, name TEXT NOT NULL, checksum TEXT NOT NULL, applied_at TEXT NOT NULL)",
    )
    .execute(&mut *conn)
    .await?;
    if backend == Backend::Postgres {
        // Several servers may start at once: one migrates, the others wait.
        sqlx::query("SELECT pg_advisory_lock(7261001)")
            .execute(&mut *conn)
            .await?;
    }
    let result = apply(&mut conn, backend).await;
    if backend == Backend::Postgres {
        sqlx::query("SELECT pg_advisory_unlock(7261001)")
            .execute(&mut *conn)
            .await?;
    }
    result
}

async fn apply(conn: &mut sqlx::AnyConnection, backend: Backend) -> Result<()> {
    use sqlx::Connection;
    let rows =
        sqlx::query("SELECT version, name, checksum FROM schema_migrations ORDER BY version")
            .fetch_all(&mut *conn)
            .await?;
    let known = migrations(backend);
    let mut applied = std::collections::BTreeMap::new();
    for r in rows {
        let v: i64 = r.try_get("version")?;
        let name: String = r.try_get("name")?;
        let sum: String = r.try_get("checksum")?;
        applied.insert(v, (name, sum));
    }
    if let Some((&v, (name, _))) = applied.iter().next_back() {
        if !known.iter().any(|m| m.version == v) {
            return Err(StoreError::Migration {
                version: v,
                name: name.clone(),
                reason: "the database was migrated by a newer camtrace; upgrade camtrace".into(),
            });
        }
    }
    for m in known {
        if let Some((_, sum)) = applied.get(&m.version) {
            if *sum != checksum(m.sql) {
                return Err(StoreError::Migration {
                    version: m.version,
                    name: m.name.into(),
                    reason: "already applied with different text (migrations must never be edited; add a new one)".into(),
                });
            }
            continue;
        }
        let mut tx = conn.begin().await?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(m.sql))
            .execute(&mut *tx)
            .await
            .map_err(|e| StoreError::Migration {
                version: m.version,
                name: m.name.into(),
                reason: e.to_string(),
            })?;
        sqlx::query("INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES ($1, $2, $3, $4)")
            .bind(m.version)
            .bind(m.name)
            .bind(checksum(m.sql))
            .bind(crate::now_rfc3339())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        tracing::info!(version = m.version, name = m.name, "applied migration");
    }
    Ok(())
}
