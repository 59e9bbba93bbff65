//! The durable outbox: every batch is written here (SQLite, WAL, synchronous FULL) before it is
//! sent, and deleted only once the server acknowledged it. A crash at any point leaves each
//! batch either absent (never written: the scan is simply redone) or present (sent again: the
//! server stores a batch once, by id).

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};
use std::path::Path;

/// Largest batch an agent sends (the server accepts up to 8 MiB).
pub const MAX_BATCH_BYTES: usize = 4 << 20;

/// Why the outbox could not be opened or used.
#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    /// Its file or directory could not be created or opened.
    #[error("{0}")]
    Open(String),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// One batch waiting in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    /// SHA-256 (hex) of `body`.
    pub id: String,
    pub site: String,
    pub created_at: String,
    /// `camtrace scan` observations, JSON Lines.
    pub body: Vec<u8>,
    pub attempts: i64,
}

/// What [`Outbox::put`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Put {
    Added,
    /// A batch with this id (the same content) is already waiting.
    AlreadyThere,
    /// The cap would be exceeded: nothing written (the caller stops scanning).
    Full,
}

/// How much is waiting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Depth {
    pub batches: i64,
    pub bytes: i64,
}

pub struct Outbox {
    pool: SqlitePool,
    cap: u64,
}

/// The id of a batch: SHA-256 of its bytes, hex.
pub fn batch_id(body: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(body))
}

impl Outbox {
    /// Open (creating) the outbox at `path` with a cap of `cap` bytes of batch content.
    pub async fn open(path: &Path, cap: u64) -> Result<Outbox, OutboxError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| OutboxError::Open(format!("{}: {e}", dir.display())))?;
        }
        let opts = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(std::time::Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(opts)
            .await
            .map_err(|e| OutboxError::Open(format!("{}: {e}", path.display())))?;
        sqlx::raw_sql(
            "CREATE TABLE IF NOT EXISTS batches (id TEXT PRIMARY KEY NOT NULL, site TEXT NOT NULL, created_at TEXT NOT NULL, body BLOB NOT NULL, size INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT)",
        )
        .execute(&pool)
        .await?;
        Ok(Outbox { pool, cap })
    }

    pub fn cap(&self) -> u64 {
        self.cap
    }

    /// Write a batch (durably) unless it is there already or the cap would be exceeded.
    pub async fn put(&self, site: &str, body: &[u8]) -> Result<Put, OutboxError> {
        let id = batch_id(body);
        let mut tx = self.pool.begin().await?;
        let there: Option<i64> = sqlx::query_scalar("SELECT 1 FROM batches WHERE id = $1")
            .bind(&id)
            .fetch_optional(&mut *tx)
            .await?;
        if there.is_some() {
            return Ok(Put::AlreadyThere);
        }
        let used: i64 = sqlx::query_scalar("SELECT COALESCE(SUM(size), 0) FROM batches")
            .fetch_one(&mut *tx)
            .await?;
        if used as u64 + body.len() as u64 > self.cap {
            return Ok(Put::Full);
        }
        sqlx::query("INSERT INTO batches (id, site, created_at, body, size, attempts) VALUES ($1, $2, $3, $4, $5, 0)")
            .bind(&id)
            .bind(site)
            .bind(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
            .bind(body)
            .bind(body.len() as i64)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Put::Added)
    }

    /// Whether a batch of `extra` bytes would still fit.
    pub async fn has_room(&self, extra: u64) -> Result<bool, OutboxError> {
        Ok(self.depth().await?.bytes as u64 + extra <= self.cap)
    }

    /// Room kept free for a scan's batches: a quarter of the cap, at most 4 MiB.
    pub fn reserve(&self) -> u64 {
        (self.cap / 4).min(MAX_BATCH_BYTES as u64)
    }

    /// Full: less than [`reserve`](Self::reserve) is free, so no scan is started.
    pub async fn is_full(&self) -> Result<bool, OutboxError> {
        Ok(!self.has_room(self.reserve()).await?)
    }

    /// The oldest waiting batch.
    pub async fn oldest(&self) -> Result<Option<Batch>, OutboxError> {
        let row = sqlx::query(
            "SELECT id, site, created_at, body, attempts FROM batches ORDER BY created_at, id LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        Ok(match row {
            None => None,
            Some(r) => Some(Batch {
                id: r.try_get("id")?,
                site: r.try_get("site")?,
                created_at: r.try_get("created_at")?,
                body: r.try_get("body")?,
                attempts: r.try_get("attempts")?,
            }),
        })
    }

    /// The server acknowledged the batch: forget it.
    pub async fn delete(&self, id: &str) -> Result<(), OutboxError> {
        sqlx::query("DELETE FROM batches WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// A delivery attempt failed (the batch stays).
    pub async fn failed(&self, id: &str, error: &str) -> Result<(), OutboxError> {
        sqlx::query("UPDATE batches SET attempts = attempts + 1, last_error = $1 WHERE id = $2")
            .bind(error.chars().take(500).collect::<String>())
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn depth(&self) -> Result<Depth, OutboxError> {
        let r = sqlx::query("SELECT COUNT(*) AS n, COALESCE(SUM(size), 0) AS bytes FROM batches")
            .fetch_one(&self.pool)
            .await?;
        Ok(Depth {
            batches: r.try_get("n")?,
            bytes: r.try_get("bytes")?,
        })
    }

    pub async fn close(self) {
        self.pool.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn batches_survive_a_reopen_and_the_cap_refuses_without_discarding() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/outbox.db");
        let ob = Outbox::open(&path, 100).await.unwrap();
        assert_eq!(ob.put("hq", &[b'a'; 60]).await.unwrap(), Put::Added);
        assert_eq!(ob.put("hq", &[b'a'; 60]).await.unwrap(), Put::AlreadyThere);
        // 60 + 50 > 100: refused, and the first batch is still there.
        assert_eq!(ob.put("hq", &[b'b'; 50]).await.unwrap(), Put::Full);
        assert_eq!(
            ob.depth().await.unwrap(),
            Depth {
                batches: 1,
                bytes: 60
            }
        );
        assert!(!ob.has_room(41).await.unwrap());
        ob.failed(&batch_id(&[b'a'; 60]), "server down")
            .await
            .unwrap();
        ob.close().await;

        // Reopened (a restart): the batch is there, with its attempt counted.
        let ob = Outbox::open(&path, 100).await.unwrap();
        let b = ob.oldest().await.unwrap().unwrap();
        assert_eq!(b.body, vec![b'a'; 60]);
        assert_eq!(b.id, batch_id(&b.body));
        assert_eq!(b.attempts, 1);
        ob.delete(&b.id).await.unwrap();
        assert_eq!(ob.put("hq", &[b'b'; 50]).await.unwrap(), Put::Added);
        assert_eq!(ob.depth().await.unwrap().batches, 1);
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&ob.pool)
            .await
            .unwrap();
        assert_eq!(mode, "wal");
    }
}
