//! Webhooks of the HTTP server, their delivery log, and raised alert events.

use crate::sql::append_history_in;
use crate::{NewHistory, Result, SqlStore};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::Row;

/// A webhook as stored, with its signing secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookRecord {
    pub id: String,
    pub url: String,
    /// HMAC key of the signatures (never shown again after creation).
    pub secret: String,
    pub events: Vec<String>,
    pub organisation: Option<String>,
    pub active: bool,
    pub created_by: String,
    pub created_at: String,
}

/// One attempt to deliver an event to a webhook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryRecord {
    pub id: String,
    pub webhook_id: String,
    pub event_id: String,
    pub event: String,
    pub attempt: i64,
    pub time: String,
    pub status_code: Option<i64>,
    pub error: Option<String>,
    pub success: bool,
}

/// A raised alert, kept so that the same alert (same key) is raised once (see
/// [`crate::Background::raise_alert`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertEventRecord {
    pub key: String,
    pub event: String,
    pub organisation: Option<String>,
    pub payload: serde_json::Value,
    pub time: String,
}

/// Webhooks, deliveries and alert events. Implemented by every [`crate::Store`].
#[async_trait]
pub trait Webhooks: Send + Sync {
    /// Store a new webhook (active), with `history` in the same transaction.
    async fn create_webhook(
        &self,
        hook: &WebhookRecord,
        history: Option<&NewHistory>,
    ) -> Result<()>;
    /// Every webhook with its secret, oldest first.
    async fn list_webhooks(&self) -> Result<Vec<WebhookRecord>>;
    /// Turn a webhook on or off; `false` when there is no such webhook.
    async fn set_webhook_active(
        &self,
        id: &str,
        active: bool,
        history: Option<&NewHistory>,
    ) -> Result<bool>;
    /// Delete a webhook, its delivery log and its queued deliveries; `false` when there was no such webhook.
    async fn delete_webhook(&self, id: &str, history: Option<&NewHistory>) -> Result<bool>;
    async fn record_delivery(&self, d: &DeliveryRecord) -> Result<()>;
    /// A webhook's deliveries, oldest first.
    async fn deliveries(&self, webhook_id: &str) -> Result<Vec<DeliveryRecord>>;
    /// Remove delivery attempts recorded before `before` (RFC 3339, UTC, as
    /// [`crate::now_rfc3339`] writes them); the number removed.
    async fn prune_deliveries(&self, before: &str) -> Result<u64>;
}

fn row_delivery(r: &AnyRow) -> Result<DeliveryRecord> {
    Ok(DeliveryRecord {
        id: r.try_get("id")?,
        webhook_id: r.try_get("webhook_id")?,
        event_id: r.try_get("event_id")?,
        event: r.try_get("event")?,
        attempt: r.try_get("attempt")?,
        time: r.try_get("time")?,
        status_code: r.try_get("status_code")?,
        error: r.try_get("error")?,
        success: r.try_get::<i64, _>("success")? != 0,
    })
}

fn row_hook(r: &AnyRow) -> Result<WebhookRecord> {
    let events: String = r.try_get("events")?;
    Ok(WebhookRecord {
        id: r.try_get("id")?,
        url: r.try_get("url")?,
        secret: r.try_get("secret")?,
        events: serde_json::from_str(&events)?,
        organisation: r.try_get("organisation")?,
        active: r.try_get::<i64, _>("active")? != 0,
        created_by: r.try_get("created_by")?,
        created_at: r.try_get("created_at")?,
    })
}

#[async_trait]
impl Webhooks for SqlStore {
    async fn create_webhook(&self, h: &WebhookRecord, history: Option<&NewHistory>) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query("INSERT INTO webhooks (id, url, secret, events, organisation, active, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
            .bind(h.id.clone())
            .bind(h.url.clone())
            .bind(h.secret.clone())
            .bind(serde_json::to_string(&h.events)?)
            .bind(h.organisation.clone())
            .bind(h.active as i64)
            .bind(h.created_by.clone())
            .bind(h.created_at.clone())
            .execute(&mut *tx)
            .await?;
        if let Some(e) = history {
            append_history_in(&mut tx, self.backend, e).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn list_webhooks(&self) -> Result<Vec<WebhookRecord>> {
        self.rows(
            "SELECT * FROM webhooks ORDER BY created_at, id",
            &[],
            row_hook,
        )
        .await
    }

    async fn set_webhook_active(
        &self,
        id: &str,
        active: bool,
        history: Option<&NewHistory>,
    ) -> Result<bool> {
        let mut tx = self.begin().await?;
        let n = sqlx::query("UPDATE webhooks SET active = $1 WHERE id = $2")
            .bind(active as i64)
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n == 0 {
            return Ok(false);
        }
        if let Some(e) = history {
            append_history_in(&mut tx, self.backend, e).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn delete_webhook(&self, id: &str, history: Option<&NewHistory>) -> Result<bool> {
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM webhook_deliveries WHERE webhook_id = $1")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM webhook_jobs WHERE webhook_id = $1")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        let n = sqlx::query("DELETE FROM webhooks WHERE id = $1")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n == 0 {
            return Ok(false);
        }
        if let Some(e) = history {
            append_history_in(&mut tx, self.backend, e).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn record_delivery(&self, d: &DeliveryRecord) -> Result<()> {
        sqlx::query("INSERT INTO webhook_deliveries (id, webhook_id, event_id, event, attempt, time, status_code, error, success) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
            .bind(d.id.clone())
            .bind(d.webhook_id.clone())
            .bind(d.event_id.clone())
            .bind(d.event.clone())
            .bind(d.attempt)
            .bind(d.time.clone())
            .bind(d.status_code)
            .bind(d.error.clone())
            .bind(d.success as i64)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn deliveries(&self, webhook_id: &str) -> Result<Vec<DeliveryRecord>> {
        self.rows(
            "SELECT * FROM webhook_deliveries WHERE webhook_id = $1 ORDER BY time",
            &[webhook_id],
            row_delivery,
        )
        .await
    }

    async fn prune_deliveries(&self, before: &str) -> Result<u64> {
        Ok(
            sqlx::query("DELETE FROM webhook_deliveries WHERE time < $1")
                .bind(before.to_string())
                .execute(&self.pool)
                .await?
                .rows_affected(),
        )
    }
}
