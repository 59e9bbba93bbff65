//! The access audit log: sign-ins (succeeded and failed), sign-outs, exports and audited
//! reads, hash-chained on its own (table `access_log`), apart from the register's history.
//!
//! Access events neither grow the register's tamper-evident history nor change its revision
//! ([`crate::Lookups::register_revision`], the key of the server's caches). The log is bounded
//! by retention: [`AccessLog::prune_access_log`] removes entries older than a cut-off, after
//! which the chain verifies from the oldest entry kept (whose `prev_hash` is then the anchor).

use crate::history::GENESIS_HASH;
use crate::{Backend, Result, SqlStore, TamperError};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::any::AnyRow;
use sqlx::Row;

/// Longest text kept of a caller-supplied field (a user name typed at the sign-in form).
const MAX_FIELD: usize = 200;

/// An access event to record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccessEvent {
    /// `sign_in`, `sign_in_failed`, `sign_out`, `export`, `read`.
    pub action: String,
    /// The user name (as typed, for a failed sign-in).
    pub actor: String,
    /// The client address, empty when unknown.
    pub addr: String,
    /// What was exported or read (`report/findings` ...), empty for sign-ins.
    pub subject: String,
    #[serde(default)]
    pub detail: Option<serde_json::Value>,
}

/// One stored access-log entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccessEntry {
    pub seq: i64,
    pub time: String,
    pub action: String,
    pub actor: String,
    pub addr: String,
    pub subject: String,
    pub detail: Option<serde_json::Value>,
    pub prev_hash: String,
    pub hash: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessFilter {
    pub action: Option<String>,
    pub actor: Option<String>,
    /// Only entries with a larger sequence number (paging).
    pub after_seq: Option<i64>,
    #[serde(default)]
    pub newest_first: bool,
    pub limit: Option<i64>,
}

/// The access audit log. Implemented by every [`crate::Store`].
#[async_trait]
pub trait AccessLog: Send + Sync {
    /// Append one event (its own transaction; the chain is serialised between writers).
    async fn append_access(&self, e: &AccessEvent) -> Result<AccessEntry>;
    async fn access_log(&self, f: &AccessFilter) -> Result<Vec<AccessEntry>>;
    async fn access_log_count(&self) -> Result<u64>;
    /// Check the chain from the oldest entry kept; the number of entries, or
    /// [`crate::StoreError::Tamper`] naming the first bad one.
    async fn verify_access_log(&self) -> Result<u64>;
    /// Remove entries recorded before `before` (RFC 3339 text); returns how many.
    async fn prune_access_log(&self, before: &str) -> Result<u64>;
}

fn cap(s: &str) -> String {
    let mut end = s.len().min(MAX_FIELD);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

#[allow(clippy::too_many_arguments)]
fn access_hash(
    seq: i64,
    time: &str,
    action: &str,
    actor: &str,
    addr: &str,
    subject: &str,
    detail: Option<&str>,
    prev_hash: &str,
) -> String {
    let canonical = serde_json::json!([seq, time, action, actor, addr, subject, detail, prev_hash]);
    hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
}

fn row_entry(r: &AnyRow) -> Result<(AccessEntry, Option<String>)> {
    let detail: Option<String> = r.try_get("detail")?;
    Ok((
        AccessEntry {
            seq: r.try_get("seq")?,
            time: r.try_get("time")?,
            action: r.try_get("action")?,
            actor: r.try_get("actor")?,
            addr: r.try_get("addr")?,
            subject: r.try_get("subject")?,
            detail: detail.as_deref().map(serde_json::from_str).transpose()?,
            prev_hash: r.try_get("prev_hash")?,
            hash: r.try_get("hash")?,
        },
        detail,
    ))
}

#[async_trait]
impl AccessLog for SqlStore {
    async fn append_access(&self, e: &AccessEvent) -> Result<AccessEntry> {
        let mut tx = self.begin().await?;
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock(7261003)")
                .execute(&mut *tx)
                .await?;
        }
        let last = sqlx::query("SELECT seq, hash FROM access_log ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&mut *tx)
            .await?;
        let (seq, prev_hash) = match last {
            Some(r) => (
                r.try_get::<i64, _>("seq")? + 1,
                r.try_get::<String, _>("hash")?,
            ),
            None => (1, GENESIS_HASH.to_string()),
        };
        let time = crate::now_rfc3339();
        let (action, actor, addr, subject) =
            (cap(&e.action), cap(&e.actor), cap(&e.addr), cap(&e.subject));
        let detail = e.detail.as_ref().map(|v| v.to_string());
        let hash = access_hash(
            seq,
            &time,
            &action,
            &actor,
            &addr,
            &subject,
            detail.as_deref(),
            &prev_hash,
        );
        sqlx::query("INSERT INTO access_log (seq, time, action, actor, addr, subject, detail, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
            .bind(seq)
            .bind(time.clone())
            .bind(action.clone())
            .bind(actor.clone())
            .bind(addr.clone())
            .bind(subject.clone())
            .bind(detail)
            .bind(prev_hash.clone())
            .bind(hash.clone())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(AccessEntry {
            seq,
            time,
            action,
            actor,
            addr,
            subject,
            detail: e.detail.clone(),
            prev_hash,
            hash,
        })
    }

    async fn access_log(&self, f: &AccessFilter) -> Result<Vec<AccessEntry>> {
        let mut sql = String::from("SELECT * FROM access_log WHERE 1 = 1");
        let mut args: Vec<String> = Vec::new();
        if let Some(a) = &f.action {
            args.push(a.clone());
            sql.push_str(&format!(" AND action = ${}", args.len()));
        }
        if let Some(a) = &f.actor {
            args.push(a.clone());
            sql.push_str(&format!(" AND actor = ${}", args.len()));
        }
        if let Some(s) = f.after_seq {
            sql.push_str(&format!(" AND seq > {s}"));
        }
        sql.push_str(if f.newest_first {
            " ORDER BY seq DESC"
        } else {
            " ORDER BY seq"
        });
        let limit = f.limit.unwrap_or(1000).clamp(1, 100_000);
        sql.push_str(&format!(" LIMIT {limit}"));
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for a in args {
            q = q.bind(a);
        }
        q.fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| row_entry(r).map(|(e, _)| e))
            .collect()
    }

    async fn access_log_count(&self) -> Result<u64> {
        let r = sqlx::query("SELECT COUNT(*) AS n FROM access_log")
            .fetch_one(&self.pool)
            .await?;
        Ok(r.try_get::<i64, _>("n")?.max(0) as u64)
    }

    async fn verify_access_log(&self) -> Result<u64> {
        let mut prev: Option<(i64, String)> = None;
        let mut n = 0u64;
        loop {
            let after = prev.as_ref().map(|p| p.0).unwrap_or(0);
            let rows =
                sqlx::query("SELECT * FROM access_log WHERE seq > $1 ORDER BY seq LIMIT 1000")
                    .bind(after)
                    .fetch_all(&self.pool)
                    .await?;
            if rows.is_empty() {
                return Ok(n);
            }
            for r in &rows {
                let (e, detail) = row_entry(r)?;
                let bad = |reason: &str| -> crate::StoreError {
                    TamperError {
                        seq: e.seq,
                        reason: format!("access log: {reason}"),
                    }
                    .into()
                };
                match &prev {
                    Some((pseq, phash)) => {
                        if e.seq != pseq + 1 {
                            return Err(bad(&format!("entry {} is missing", pseq + 1)));
                        }
                        if e.prev_hash != *phash {
                            return Err(bad("does not link to the entry before"));
                        }
                    }
                    // The oldest entry kept: the genesis, or what retention left.
                    None if e.seq == 1 && e.prev_hash != GENESIS_HASH => {
                        return Err(bad("the first entry does not start from the genesis"));
                    }
                    None => {}
                }
                let h = access_hash(
                    e.seq,
                    &e.time,
                    &e.action,
                    &e.actor,
                    &e.addr,
                    &e.subject,
                    detail.as_deref(),
                    &e.prev_hash,
                );
                if h != e.hash {
                    return Err(bad("content does not match its hash"));
                }
                n += 1;
                prev = Some((e.seq, e.hash));
            }
        }
    }

    async fn prune_access_log(&self, before: &str) -> Result<u64> {
        // The newest entry is always kept: the chain goes on from it.
        let n = sqlx::query(
            "DELETE FROM access_log WHERE time < $1 AND seq < (SELECT MAX(seq) FROM access_log)",
        )
        .bind(before.to_string())
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n)
    }
}
