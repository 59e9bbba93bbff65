//! Background work that several server replicas share through the database (issue 15):
//! named leases, so that one replica at a time runs a periodic job, and the durable queue of
//! webhook deliveries, claimed under leases that expire, so that a delivery whose replica died
//! is taken over by another and none is lost.
//!
//! On PostgreSQL a claim takes its rows `FOR UPDATE SKIP LOCKED`: replicas claiming at the same
//! time get different jobs and never wait for each other. On SQLite (one process, one writer)
//! the claiming `UPDATE` is atomic on its own. Times are Unix milliseconds of the caller's clock.

use crate::webhooks::AlertEventRecord;
use crate::{Backend, Result, SqlStore};
use async_trait::async_trait;
use sqlx::Row;

/// A webhook delivery to make: one per (event, webhook).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookJob {
    pub id: String,
    pub webhook_id: String,
    /// The alert event's key (its `X-Camtrace-Delivery`).
    pub event_key: String,
    pub event: String,
    /// The event as sent (JSON).
    pub body: String,
    /// Attempts made before this claim.
    pub attempts: i64,
    /// The claim's lease: the claimer must finish before this time (Unix ms).
    pub lease_until_ms: i64,
}

/// How an attempt at a [`WebhookJob`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobOutcome {
    Delivered,
    /// Failed; try again at this time (Unix ms).
    RetryAt(i64),
    /// Failed for good (no retries left, or refused).
    GaveUp,
}

/// Counts of the webhook queue.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JobCounts {
    pub pending: i64,
    pub delivered: i64,
    pub given_up: i64,
}

const PENDING: i64 = 0;
const DELIVERED: i64 = 1;
const GAVE_UP: i64 = 2;

/// Leases and the webhook queue. Implemented by every [`crate::Store`].
#[async_trait]
pub trait Background: Send + Sync {
    /// Take or renew the lease `name` for `holder` until `until_ms`: `true` when `holder`
    /// holds it now (it was free, expired at `now_ms`, or already `holder`'s).
    async fn try_lease(&self, name: &str, holder: &str, now_ms: i64, until_ms: i64)
        -> Result<bool>;
    /// Give the lease up (when `holder` holds it).
    async fn release_lease(&self, name: &str, holder: &str) -> Result<()>;
    /// Record an alert event and queue its deliveries (`(job id, webhook id)` pairs), in one
    /// transaction, unless an event with the same key was recorded: `true` when it is new.
    /// Two replicas raising the same event at once record it once and queue it once.
    async fn raise_alert(
        &self,
        ev: &AlertEventRecord,
        body: &str,
        jobs: &[(String, String)],
        now_ms: i64,
    ) -> Result<bool>;
    /// Claim up to `limit` jobs due at `now_ms` whose lease is free or expired, leasing them to
    /// `holder` until `lease_until_ms`.
    async fn claim_webhook_jobs(
        &self,
        holder: &str,
        now_ms: i64,
        lease_until_ms: i64,
        limit: i64,
    ) -> Result<Vec<WebhookJob>>;
    /// Record how a claimed attempt ended: `false` when `holder` no longer held the job (its
    /// lease expired and another replica claimed it), in which case nothing is changed.
    async fn finish_webhook_job(
        &self,
        job: &WebhookJob,
        holder: &str,
        outcome: JobOutcome,
    ) -> Result<bool>;
    async fn webhook_job_counts(&self) -> Result<JobCounts>;
    /// Forget finished jobs (delivered or given up) last scheduled before `before_ms`: the
    /// delivery log keeps every attempt, so the job rows are not needed once done. Returns how
    /// many were removed.
    async fn prune_webhook_jobs(&self, before_ms: i64) -> Result<u64>;
}

#[async_trait]
impl Background for SqlStore {
    async fn try_lease(
        &self,
        name: &str,
        holder: &str,
        now_ms: i64,
        until_ms: i64,
    ) -> Result<bool> {
        let n = sqlx::query(
            "INSERT INTO leases (name, holder, until_ms) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until_ms = excluded.until_ms \
             WHERE leases.until_ms < $4 OR leases.holder = excluded.holder",
        )
        .bind(name.to_string())
        .bind(holder.to_string())
        .bind(until_ms)
        .bind(now_ms)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n > 0)
    }

    async fn release_lease(&self, name: &str, holder: &str) -> Result<()> {
        sqlx::query("DELETE FROM leases WHERE name = $1 AND holder = $2")
            .bind(name.to_string())
            .bind(holder.to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn raise_alert(
        &self,
        ev: &AlertEventRecord,
        body: &str,
        jobs: &[(String, String)],
        now_ms: i64,
    ) -> Result<bool> {
        let mut tx = self.begin().await?;
        let n = sqlx::query("INSERT INTO alert_events (key, event, organisation, payload, time) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (key) DO NOTHING")
            .bind(ev.key.clone())
            .bind(ev.event.clone())
            .bind(ev.organisation.clone())
            .bind(ev.payload.to_string())
            .bind(ev.time.clone())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        for (id, hook) in jobs {
            sqlx::query("INSERT INTO webhook_jobs (id, webhook_id, event_key, event, body, attempts, next_at_ms, state) VALUES ($1, $2, $3, $4, $5, 0, $6, 0)")
                .bind(id.clone())
                .bind(hook.clone())
                .bind(ev.key.clone())
                .bind(ev.event.clone())
                .bind(body.to_string())
                .bind(now_ms)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn claim_webhook_jobs(
        &self,
        holder: &str,
        now_ms: i64,
        lease_until_ms: i64,
        limit: i64,
    ) -> Result<Vec<WebhookJob>> {
        let lock = match self.backend {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let sql = format!(
            "UPDATE webhook_jobs SET holder = $1, lease_until_ms = $2 WHERE id IN (\
             SELECT id FROM webhook_jobs WHERE state = 0 AND next_at_ms <= $3 \
             AND (lease_until_ms IS NULL OR lease_until_ms < $3) \
             ORDER BY next_at_ms, id LIMIT $4{lock}) \
             RETURNING id, webhook_id, event_key, event, body, attempts, lease_until_ms"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(holder.to_string())
            .bind(lease_until_ms)
            .bind(now_ms)
            .bind(limit.clamp(1, 1000))
            .fetch_all(&self.pool)
            .await?;
        let mut jobs = rows
            .iter()
            .map(|r| {
                Ok(WebhookJob {
                    id: r.try_get("id")?,
                    webhook_id: r.try_get("webhook_id")?,
                    event_key: r.try_get("event_key")?,
                    event: r.try_get("event")?,
                    body: r.try_get("body")?,
                    attempts: r.try_get("attempts")?,
                    lease_until_ms: r.try_get("lease_until_ms")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        jobs.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(jobs)
    }

    async fn finish_webhook_job(
        &self,
        job: &WebhookJob,
        holder: &str,
        outcome: JobOutcome,
    ) -> Result<bool> {
        let (state, next_at) = match outcome {
            JobOutcome::Delivered => (DELIVERED, None),
            JobOutcome::RetryAt(t) => (PENDING, Some(t)),
            JobOutcome::GaveUp => (GAVE_UP, None),
        };
        let n = sqlx::query(
            "UPDATE webhook_jobs SET state = $1, attempts = attempts + 1, \
             next_at_ms = COALESCE($2, next_at_ms), holder = NULL, lease_until_ms = NULL \
             WHERE id = $3 AND holder = $4 AND lease_until_ms = $5 AND state = 0",
        )
        .bind(state)
        .bind(next_at)
        .bind(job.id.clone())
        .bind(holder.to_string())
        .bind(job.lease_until_ms)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n > 0)
    }

    async fn prune_webhook_jobs(&self, before_ms: i64) -> Result<u64> {
        Ok(
            sqlx::query("DELETE FROM webhook_jobs WHERE state <> 0 AND next_at_ms < $1")
                .bind(before_ms)
                .execute(&self.pool)
                .await?
                .rows_affected(),
        )
    }

    async fn webhook_job_counts(&self) -> Result<JobCounts> {
        let rows = sqlx::query("SELECT state, COUNT(*) AS n FROM webhook_jobs GROUP BY state")
            .fetch_all(&self.pool)
            .await?;
        let mut c = JobCounts::default();
        for r in rows {
            let n: i64 = r.try_get("n")?;
            match r.try_get::<i64, _>("state")? {
                PENDING => c.pending = n,
                DELIVERED => c.delivered = n,
                _ => c.given_up += n,
            }
        }
        Ok(c)
    }
}
