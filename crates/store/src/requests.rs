//! Decisions that wait for an approver: waiver requests and remediation plan drafts. Deciding
//! one is one transaction: the decision, what it creates (a waiver) and the history entries
//! commit together or not at all.

use crate::sql::{add_waiver_in, append_history_at, append_history_in, Chain};
use crate::{NewHistory, Result, SqlStore, StoreError};
use async_trait::async_trait;
use camtrace_model::Waiver;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::Row;

/// A request for a waiver, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaiverRequestRecord {
    pub id: String,
    pub device_id: String,
    pub rule_id: String,
    pub reason: String,
    pub expires_on: NaiveDate,
    pub requested_by: String,
    pub requested_at: String,
    /// `pending`, `approved`, `rejected`.
    pub status: String,
    pub decided_by: Option<String>,
    pub decided_at: Option<String>,
    pub decision_note: Option<String>,
}

/// The decision on a pending waiver request.
#[derive(Debug, Clone)]
pub struct RequestDecision {
    pub request_id: String,
    /// `approved` or `rejected`.
    pub status: String,
    pub decided_by: String,
    pub decided_at: String,
    pub note: Option<String>,
    /// The waiver an approval creates (its own `waiver_add` history entry is written too).
    pub waiver: Option<Waiver>,
    /// The decision's history entry.
    pub history: NewHistory,
}

/// A remediation plan as stored; `body` is the server's JSON of its actions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanRow {
    pub id: String,
    pub organisation: String,
    pub title: String,
    pub body: String,
    /// `draft`, `approved`, `rejected`.
    pub status: String,
    pub due_on: Option<NaiveDate>,
    pub created_by: String,
    pub created_at: String,
    pub decided_by: Option<String>,
    pub decided_at: Option<String>,
}

/// Waiver requests and plans. Implemented by every [`crate::Store`].
#[async_trait]
pub trait Requests: Send + Sync {
    /// Store a pending request with its history entry, in one transaction.
    async fn create_waiver_request(
        &self,
        r: &WaiverRequestRecord,
        history: &NewHistory,
    ) -> Result<()>;
    async fn get_waiver_request(&self, id: &str) -> Result<Option<WaiverRequestRecord>>;
    /// Every request, newest first.
    async fn list_waiver_requests(&self) -> Result<Vec<WaiverRequestRecord>>;
    /// Decide a pending request: the request's update, the waiver of an approval (with its
    /// history entry) and the decision's history entry, in one transaction.
    /// [`StoreError::Conflict`] when the request is no longer pending; on any error nothing
    /// is written.
    async fn decide_waiver_request(&self, d: &RequestDecision) -> Result<()>;
    async fn create_plan(&self, p: &PlanRow, history: &NewHistory) -> Result<()>;
    async fn get_plan(&self, id: &str) -> Result<Option<PlanRow>>;
    /// Every plan, newest first.
    async fn list_plans(&self) -> Result<Vec<PlanRow>>;
    /// Approve or reject a draft plan with its history entry, in one transaction;
    /// [`StoreError::Conflict`] when the plan is no longer a draft.
    async fn decide_plan(
        &self,
        id: &str,
        status: &str,
        decided_by: &str,
        decided_at: &str,
        history: &NewHistory,
    ) -> Result<()>;
}

fn parse_date(what: &str, s: &str) -> Result<NaiveDate> {
    s.parse()
        .map_err(|e| StoreError::invalid(what, format!("stored date `{s}`: {e}")))
}

fn row_request(r: &AnyRow) -> Result<WaiverRequestRecord> {
    let exp: String = r.try_get("expires_on")?;
    Ok(WaiverRequestRecord {
        id: r.try_get("id")?,
        device_id: r.try_get("device_id")?,
        rule_id: r.try_get("rule_id")?,
        reason: r.try_get("reason")?,
        expires_on: parse_date("waiver request expiry", &exp)?,
        requested_by: r.try_get("requested_by")?,
        requested_at: r.try_get("requested_at")?,
        status: r.try_get("status")?,
        decided_by: r.try_get("decided_by")?,
        decided_at: r.try_get("decided_at")?,
        decision_note: r.try_get("decision_note")?,
    })
}

fn row_plan(r: &AnyRow) -> Result<PlanRow> {
    let due: Option<String> = r.try_get("due_on")?;
    Ok(PlanRow {
        id: r.try_get("id")?,
        organisation: r.try_get("organisation")?,
        title: r.try_get("title")?,
        body: r.try_get("body")?,
        status: r.try_get("status")?,
        due_on: due
            .filter(|d| !d.is_empty())
            .map(|d| parse_date("plan due date", &d))
            .transpose()?,
        created_by: r.try_get("created_by")?,
        created_at: r.try_get("created_at")?,
        decided_by: r.try_get("decided_by")?,
        decided_at: r.try_get("decided_at")?,
    })
}

#[async_trait]
impl Requests for SqlStore {
    async fn create_waiver_request(
        &self,
        w: &WaiverRequestRecord,
        history: &NewHistory,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query("INSERT INTO waiver_requests (id, device_id, rule_id, reason, expires_on, requested_by, requested_at, status) VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending')")
            .bind(w.id.clone())
            .bind(w.device_id.clone())
            .bind(w.rule_id.clone())
            .bind(w.reason.clone())
            .bind(w.expires_on.to_string())
            .bind(w.requested_by.clone())
            .bind(w.requested_at.clone())
            .execute(&mut *tx)
            .await?;
        append_history_in(&mut tx, self.backend, history).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_waiver_request(&self, id: &str) -> Result<Option<WaiverRequestRecord>> {
        self.row(
            "SELECT * FROM waiver_requests WHERE id = $1",
            &[id],
            row_request,
        )
        .await
    }

    async fn list_waiver_requests(&self) -> Result<Vec<WaiverRequestRecord>> {
        self.rows(
            "SELECT * FROM waiver_requests ORDER BY requested_at DESC, id",
            &[],
            row_request,
        )
        .await
    }

    async fn decide_waiver_request(&self, d: &RequestDecision) -> Result<()> {
        let mut tx = self.begin().await?;
        let updated = sqlx::query("UPDATE waiver_requests SET status = $1, decided_by = $2, decided_at = $3, decision_note = $4 WHERE id = $5 AND status = 'pending'")
            .bind(d.status.clone())
            .bind(d.decided_by.clone())
            .bind(d.decided_at.clone())
            .bind(d.note.clone())
            .bind(d.request_id.clone())
            .execute(&mut *tx)
            .await?;
        if updated.rows_affected() != 1 {
            return Err(StoreError::Conflict(format!(
                "waiver request `{}` was decided meanwhile",
                d.request_id
            )));
        }
        let mut chain = Chain::new(self.backend);
        if let Some(w) = &d.waiver {
            add_waiver_in(&mut tx, &mut chain, w, &d.decided_by).await?;
        }
        append_history_at(&mut tx, &mut chain, &d.history, &crate::now_rfc3339()).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn create_plan(&self, p: &PlanRow, history: &NewHistory) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query("INSERT INTO plans (id, organisation, title, body, status, due_on, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
            .bind(p.id.clone())
            .bind(p.organisation.clone())
            .bind(p.title.clone())
            .bind(p.body.clone())
            .bind(p.status.clone())
            .bind(p.due_on.map(|d| d.to_string()))
            .bind(p.created_by.clone())
            .bind(p.created_at.clone())
            .execute(&mut *tx)
            .await?;
        append_history_in(&mut tx, self.backend, history).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_plan(&self, id: &str) -> Result<Option<PlanRow>> {
        self.row("SELECT * FROM plans WHERE id = $1", &[id], row_plan)
            .await
    }

    async fn list_plans(&self) -> Result<Vec<PlanRow>> {
        self.rows(
            "SELECT * FROM plans ORDER BY created_at DESC, id",
            &[],
            row_plan,
        )
        .await
    }

    async fn decide_plan(
        &self,
        id: &str,
        status: &str,
        decided_by: &str,
        decided_at: &str,
        history: &NewHistory,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        let n = sqlx::query("UPDATE plans SET status = $1, decided_by = $2, decided_at = $3 WHERE id = $4 AND status = 'draft'")
            .bind(status.to_string())
            .bind(decided_by.to_string())
            .bind(decided_at.to_string())
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        if n.rows_affected() != 1 {
            return Err(StoreError::Conflict(format!(
                "plan `{id}` was decided meanwhile"
            )));
        }
        append_history_in(&mut tx, self.backend, history).await?;
        tx.commit().await?;
        Ok(())
    }
}
