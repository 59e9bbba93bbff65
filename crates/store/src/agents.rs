//! Site agents: one-time enrolment tokens, agents (credential hash, health) and the batches they
//! pushed. Secrets never reach this module: callers pass SHA-256 hashes.
//!
//! Single use of an enrolment token is decided by one conditional `UPDATE ... WHERE used_at IS
//! NULL` (atomic on SQLite and PostgreSQL): of two concurrent redemptions exactly one wins.

use crate::sql::{append_history_at, append_history_in, Chain};
use crate::{NewHistory, Result, SqlStore, StoreError};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::Row;

/// An enrolment token as stored (its hash, never the secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrolmentRecord {
    pub id: String,
    pub token_hash: String,
    /// The name the agent will get.
    pub name: String,
    pub organisation: String,
    pub site: String,
    pub created_by: String,
    pub created_at: String,
    /// RFC 3339; the token is refused after it.
    pub expires_at: String,
    pub used_at: Option<String>,
    pub agent_id: Option<String>,
}

/// An agent as stored: who it is, where it may push, and what it last reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentRecord {
    pub id: String,
    pub name: String,
    pub organisation: String,
    pub site: String,
    #[serde(skip)]
    pub credential_hash: String,
    pub enrolment_id: String,
    pub created_at: String,
    pub revoked_at: Option<String>,
    pub revoked_by: Option<String>,
    pub last_seen: Option<String>,
    pub last_scan: Option<String>,
    pub last_batch: Option<String>,
    pub agent_version: Option<String>,
    pub kb_version: Option<String>,
    pub outbox_depth: Option<i64>,
    pub outbox_bytes: Option<i64>,
    /// The agent said its outbox is full (it has stopped scanning).
    pub outbox_full: bool,
    /// Seconds between scans, as configured on the agent.
    pub schedule_secs: Option<i64>,
    /// Batches received from it (duplicates not counted).
    pub batches: i64,
}

/// What an agent reports about itself with every request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentHealth {
    pub agent_version: Option<String>,
    pub kb_version: Option<String>,
    pub last_scan: Option<String>,
    pub outbox_depth: Option<i64>,
    pub outbox_bytes: Option<i64>,
    pub outbox_full: bool,
    pub schedule_secs: Option<i64>,
}

/// A batch as received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentBatchRecord {
    pub batch_id: String,
    pub agent_id: String,
    pub site: String,
    pub scan_id: String,
    pub observations: i64,
    pub received_at: String,
}

/// Why an enrolment token was not redeemed (all answered alike to the caller).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedeemRefusal {
    Unknown,
    Used,
    Expired,
}

/// Site agents' tables. Implemented by every [`crate::Store`].
#[async_trait]
pub trait Agents: Send + Sync {
    /// Store a new enrolment token (by hash), with `history` in the same transaction.
    async fn create_enrolment(
        &self,
        e: &EnrolmentRecord,
        history: Option<&NewHistory>,
    ) -> Result<()>;
    /// Redeem the enrolment token whose hash is `token_hash` at `now`: mark it used and create
    /// the agent (id `agent_id`, credential hash `credential_hash`) in one transaction.
    async fn redeem_enrolment(
        &self,
        token_hash: &str,
        agent_id: &str,
        credential_hash: &str,
        now: &str,
    ) -> Result<std::result::Result<AgentRecord, RedeemRefusal>>;
    /// The agent holding this credential (revoked ones included: the caller checks).
    async fn agent_by_credential(&self, credential_hash: &str) -> Result<Option<AgentRecord>>;
    async fn get_agent(&self, id: &str) -> Result<Option<AgentRecord>>;
    /// Agents of these organisations (every agent when `None`), by organisation, site, name.
    async fn list_agents(&self, organisations: Option<&[String]>) -> Result<Vec<AgentRecord>>;
    /// Revoke an agent at `now`: `false` when there is no such agent or it was revoked already.
    async fn revoke_agent(
        &self,
        id: &str,
        by: &str,
        now: &str,
        history: Option<&NewHistory>,
    ) -> Result<bool>;
    /// Record that the agent was heard from at `now`, with what it reported.
    async fn record_agent_seen(&self, id: &str, health: &AgentHealth, now: &str) -> Result<()>;
    /// Remember a received batch: `true` when new (then the agent's batch count goes up),
    /// `false` when the batch id was recorded before for the same site.
    async fn record_agent_batch(&self, b: &AgentBatchRecord) -> Result<bool>;
    /// The batch `batch_id` as received for `site` (the same bytes from another site are that
    /// site's own batch).
    async fn agent_batch(&self, batch_id: &str, site: &str) -> Result<Option<AgentBatchRecord>>;
}

fn row_agent(r: &AnyRow) -> Result<AgentRecord> {
    Ok(AgentRecord {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        organisation: r.try_get("organisation")?,
        site: r.try_get("site")?,
        credential_hash: r.try_get("credential_hash")?,
        enrolment_id: r.try_get("enrolment_id")?,
        created_at: r.try_get("created_at")?,
        revoked_at: r.try_get("revoked_at")?,
        revoked_by: r.try_get("revoked_by")?,
        last_seen: r.try_get("last_seen")?,
        last_scan: r.try_get("last_scan")?,
        last_batch: r.try_get("last_batch")?,
        agent_version: r.try_get("agent_version")?,
        kb_version: r.try_get("kb_version")?,
        outbox_depth: r.try_get("outbox_depth")?,
        outbox_bytes: r.try_get("outbox_bytes")?,
        outbox_full: r.try_get::<i64, _>("outbox_full")? != 0,
        schedule_secs: r.try_get("schedule_secs")?,
        batches: r.try_get("batches")?,
    })
}

fn row_batch(r: &AnyRow) -> Result<AgentBatchRecord> {
    Ok(AgentBatchRecord {
        batch_id: r.try_get("batch_id")?,
        agent_id: r.try_get("agent_id")?,
        site: r.try_get("site")?,
        scan_id: r.try_get("scan_id")?,
        observations: r.try_get("observations")?,
        received_at: r.try_get("received_at")?,
    })
}

/// Reported text fields are short: longer ones are cut (they come from the agent).
fn short(s: &Option<String>) -> Option<String> {
    s.as_ref().map(|s| s.chars().take(100).collect())
}

#[async_trait]
impl Agents for SqlStore {
    async fn create_enrolment(
        &self,
        e: &EnrolmentRecord,
        history: Option<&NewHistory>,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query("INSERT INTO agent_enrolments (id, token_hash, name, organisation, site, created_by, created_at, expires_at, used_at, agent_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL, NULL)")
            .bind(e.id.clone())
            .bind(e.token_hash.clone())
            .bind(e.name.clone())
            .bind(e.organisation.clone())
            .bind(e.site.clone())
            .bind(e.created_by.clone())
            .bind(e.created_at.clone())
            .bind(e.expires_at.clone())
            .execute(&mut *tx)
            .await?;
        if let Some(h) = history {
            append_history_in(&mut tx, self.backend, h).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn redeem_enrolment(
        &self,
        token_hash: &str,
        agent_id: &str,
        credential_hash: &str,
        now: &str,
    ) -> Result<std::result::Result<AgentRecord, RedeemRefusal>> {
        let mut tx = self.begin().await?;
        let claimed = sqlx::query("UPDATE agent_enrolments SET used_at = $1, agent_id = $2 WHERE token_hash = $3 AND used_at IS NULL AND expires_at > $1")
            .bind(now.to_string())
            .bind(agent_id.to_string())
            .bind(token_hash.to_string())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        let row = sqlx::query("SELECT * FROM agent_enrolments WHERE token_hash = $1")
            .bind(token_hash.to_string())
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = row else {
            tx.rollback().await?;
            return Ok(Err(RedeemRefusal::Unknown));
        };
        if claimed != 1 {
            tx.rollback().await?;
            let used: Option<String> = row.try_get("used_at")?;
            return Ok(Err(if used.is_some() {
                RedeemRefusal::Used
            } else {
                RedeemRefusal::Expired
            }));
        }
        let enrolment_id: String = row.try_get("id")?;
        let name: String = row.try_get("name")?;
        let organisation: String = row.try_get("organisation")?;
        let site: String = row.try_get("site")?;
        sqlx::query("INSERT INTO agents (id, name, organisation, site, credential_hash, enrolment_id, created_at, outbox_full, batches) VALUES ($1, $2, $3, $4, $5, $6, $7, 0, 0)")
            .bind(agent_id.to_string())
            .bind(name.clone())
            .bind(organisation.clone())
            .bind(site.clone())
            .bind(credential_hash.to_string())
            .bind(enrolment_id.clone())
            .bind(now.to_string())
            .execute(&mut *tx)
            .await?;
        append_history_at(
            &mut tx,
            &mut Chain::new(self.backend),
            &NewHistory {
                actor: format!("agent:{name}"),
                action: "enrol".into(),
                entity_kind: "agent".into(),
                entity_id: agent_id.to_string(),
                before: None,
                after: Some(serde_json::json!({
                    "name": name, "organisation": organisation, "site": site,
                    "enrolment": enrolment_id,
                })),
            },
            now,
        )
        .await?;
        tx.commit().await?;
        self.get_agent(agent_id)
            .await?
            .ok_or_else(|| StoreError::NotFound {
                kind: "agent",
                id: agent_id.to_string(),
            })
            .map(Ok)
    }

    async fn agent_by_credential(&self, credential_hash: &str) -> Result<Option<AgentRecord>> {
        self.row(
            "SELECT * FROM agents WHERE credential_hash = $1",
            &[credential_hash],
            row_agent,
        )
        .await
    }

    async fn get_agent(&self, id: &str) -> Result<Option<AgentRecord>> {
        self.row("SELECT * FROM agents WHERE id = $1", &[id], row_agent)
            .await
    }

    async fn list_agents(&self, organisations: Option<&[String]>) -> Result<Vec<AgentRecord>> {
        let all = self
            .rows(
                "SELECT * FROM agents ORDER BY organisation, site, name, id",
                &[],
                row_agent,
            )
            .await?;
        Ok(match organisations {
            None => all,
            Some(orgs) => all
                .into_iter()
                .filter(|a| orgs.contains(&a.organisation))
                .collect(),
        })
    }

    async fn revoke_agent(
        &self,
        id: &str,
        by: &str,
        now: &str,
        history: Option<&NewHistory>,
    ) -> Result<bool> {
        let mut tx = self.begin().await?;
        let n = sqlx::query(
            "UPDATE agents SET revoked_at = $1, revoked_by = $2 WHERE id = $3 AND revoked_at IS NULL",
        )
        .bind(now.to_string())
        .bind(by.to_string())
        .bind(id.to_string())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 1 {
            if let Some(h) = history {
                append_history_at(&mut tx, &mut Chain::new(self.backend), h, now).await?;
            }
        }
        tx.commit().await?;
        Ok(n == 1)
    }

    async fn record_agent_seen(&self, id: &str, h: &AgentHealth, now: &str) -> Result<()> {
        sqlx::query("UPDATE agents SET last_seen = $1, agent_version = COALESCE($2, agent_version), kb_version = COALESCE($3, kb_version), last_scan = COALESCE($4, last_scan), outbox_depth = COALESCE($5, outbox_depth), outbox_bytes = COALESCE($6, outbox_bytes), outbox_full = $7, schedule_secs = COALESCE($8, schedule_secs) WHERE id = $9")
            .bind(now.to_string())
            .bind(short(&h.agent_version))
            .bind(short(&h.kb_version))
            .bind(short(&h.last_scan))
            .bind(h.outbox_depth.map(|v| v.max(0)))
            .bind(h.outbox_bytes.map(|v| v.max(0)))
            .bind(h.outbox_full as i64)
            .bind(h.schedule_secs.map(|v| v.max(0)))
            .bind(id.to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn record_agent_batch(&self, b: &AgentBatchRecord) -> Result<bool> {
        let mut tx = self.begin().await?;
        let n = sqlx::query("INSERT INTO agent_batches (batch_id, agent_id, site, scan_id, observations, received_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (batch_id, site) DO NOTHING")
            .bind(b.batch_id.clone())
            .bind(b.agent_id.clone())
            .bind(b.site.clone())
            .bind(b.scan_id.clone())
            .bind(b.observations)
            .bind(b.received_at.clone())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n == 1 {
            sqlx::query("UPDATE agents SET batches = batches + 1, last_batch = $1 WHERE id = $2")
                .bind(b.batch_id.clone())
                .bind(b.agent_id.clone())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(n == 1)
    }

    async fn agent_batch(&self, batch_id: &str, site: &str) -> Result<Option<AgentBatchRecord>> {
        self.row(
            "SELECT * FROM agent_batches WHERE batch_id = $1 AND site = $2",
            &[batch_id, site],
            row_batch,
        )
        .await
    }
}
