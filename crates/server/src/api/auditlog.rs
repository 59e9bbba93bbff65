//! The audit log: the store's append-only, hash-chained history, exported (JSON or JSON Lines)
//! and verified. There is no endpoint that edits or deletes it.

use crate::access::Access;
use crate::auth::Role;
use crate::error::{ApiError, ApiResult};
use crate::extract::Caller;
use crate::App;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use camtrace_store::{HistoryEntry, HistoryFilter, StoreError};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use std::collections::HashMap;
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// `json` (default) or `jsonl`.
    pub format: Option<String>,
    pub entity_kind: Option<String>,
    pub entity_id: Option<String>,
    pub action: Option<String>,
    pub actor: Option<String>,
    /// RFC 3339 or a date: entries at or after.
    pub since: Option<String>,
    /// RFC 3339 or a date: entries before.
    pub until: Option<String>,
    /// Entries after this sequence number (paging).
    pub after_seq: Option<i64>,
    /// At most this many entries (default 1000, at most 100000).
    pub limit: Option<i64>,
}

/// Which organisation an audit entry belongs to; `None`: only central roles see it.
struct Resolver {
    sites: HashMap<String, String>,
    devices: Option<HashMap<String, String>>,
}

impl Resolver {
    async fn new(app: &App) -> ApiResult<Self> {
        let rows = sqlx::query("SELECT id, organisation FROM sites")
            .fetch_all(app.pool())
            .await?;
        let sites = rows
            .iter()
            .map(|r| Ok((r.try_get("id")?, r.try_get("organisation")?)))
            .collect::<ApiResult<_>>()?;
        Ok(Resolver {
            sites,
            devices: None,
        })
    }

    async fn device_org(&mut self, app: &App, id: &str) -> ApiResult<Option<String>> {
        if self.devices.is_none() {
            self.devices = Some(super::decisions::device_orgs(app).await?);
        }
        Ok(self.devices.as_ref().and_then(|m| m.get(id).cloned()))
    }

    async fn org_of(&mut self, app: &App, e: &HistoryEntry) -> ApiResult<Option<String>> {
        match e.entity_kind.as_str() {
            "organisation" => return Ok(Some(e.entity_id.clone())),
            "site" => {
                if let Some(o) = self.sites.get(&e.entity_id) {
                    return Ok(Some(o.clone()));
                }
            }
            "device" => {
                if let Some(o) = self.device_org(app, &e.entity_id).await? {
                    return Ok(Some(o));
                }
            }
            _ => {}
        }
        for v in [&e.after, &e.before].into_iter().flatten() {
            if let Some(o) = v.get("organisation").and_then(|x| x.as_str()) {
                return Ok(Some(o.to_string()));
            }
            if let Some(s) = v.get("site").and_then(|x| x.as_str()) {
                if let Some(o) = self.sites.get(s) {
                    return Ok(Some(o.clone()));
                }
            }
            if let Some(d) = v.get("device_id").and_then(|x| x.as_str()) {
                let d = d.to_string();
                if let Some(o) = self.device_org(app, &d).await? {
                    return Ok(Some(o));
                }
            }
        }
        Ok(None)
    }
}

/// History entries the caller may read.
pub async fn scoped_history(
    app: &App,
    access: &Access,
    q: &AuditQuery,
) -> ApiResult<Vec<HistoryEntry>> {
    let limit = q.limit.unwrap_or(1000).clamp(1, 100_000);
    let filter = HistoryFilter {
        entity_kind: q.entity_kind.clone(),
        entity_id: q.entity_id.clone(),
        action: q.action.clone(),
        actor: q.actor.clone(),
        since: q.since.clone(),
        until: q.until.clone(),
        after_seq: q.after_seq,
        limit: Some(limit),
    };
    if access.is_central() {
        return Ok(app.store.history(&filter).await?);
    }
    // Page through until `limit` readable entries are found.
    let mut out = Vec::new();
    let mut resolver = Resolver::new(app).await?;
    let mut after = q.after_seq;
    loop {
        let batch = app
            .store
            .history(&HistoryFilter {
                after_seq: after,
                limit: Some(5000),
                ..filter.clone()
            })
            .await?;
        let n = batch.len();
        for e in batch {
            after = Some(e.seq);
            if let Some(o) = resolver.org_of(app, &e).await? {
                if access.can_read(&o) {
                    out.push(e);
                    if out.len() as i64 >= limit {
                        return Ok(out);
                    }
                }
            }
        }
        if n < 5000 {
            return Ok(out);
        }
    }
}

/// Export the audit log (entries the caller may read). `format=jsonl` gives one entry per line
/// with its sequence number, hashes and before/after states.
#[utoipa::path(get, path = "/api/v1/audit", params(AuditQuery), responses((status = 200, body = [Object])))]
pub async fn export(
    State(app): State<App>,
    caller: Caller,
    Query(q): Query<AuditQuery>,
) -> ApiResult<Response> {
    let entries = scoped_history(&app, &caller.access, &q).await?;
    match q.format.as_deref().unwrap_or("json") {
        "json" => Ok(Json(entries).into_response()),
        "jsonl" => {
            let mut body = String::new();
            for e in &entries {
                body.push_str(
                    &serde_json::to_string(e).map_err(|e| ApiError::Internal(e.to_string()))?,
                );
                body.push('\n');
            }
            Ok((
                [
                    (header::CONTENT_TYPE, "application/x-ndjson"),
                    (
                        header::CONTENT_DISPOSITION,
                        "attachment; filename=\"audit.jsonl\"",
                    ),
                ],
                body,
            )
                .into_response())
        }
        other => Err(ApiError::bad(format!(
            "unknown format `{other}` (json or jsonl)"
        ))),
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Verification {
    pub ok: bool,
    /// Entries checked (when ok).
    pub entries: Option<u64>,
    /// The first entry whose hash or link does not verify.
    pub tampered_seq: Option<i64>,
    pub reason: Option<String>,
}

/// Verify the whole hash chain.
#[utoipa::path(get, path = "/api/v1/audit/verify", responses((status = 200, body = Verification)))]
pub async fn verify(State(app): State<App>, caller: Caller) -> ApiResult<Json<Verification>> {
    if caller.access.readable().is_empty() && !caller.access.is_central() {
        return Err(ApiError::forbidden("no organisation role"));
    }
    let _ = Role::Viewer;
    Ok(Json(verify_chain(&app).await?))
}

pub async fn verify_chain(app: &App) -> ApiResult<Verification> {
    match app.store.verify_history().await {
        Ok(n) => Ok(Verification {
            ok: true,
            entries: Some(n),
            tampered_seq: None,
            reason: None,
        }),
        Err(StoreError::Tamper(t)) => {
            tracing::error!(seq = t.seq, reason = %t.reason, "audit log hash chain broken");
            Ok(Verification {
                ok: false,
                entries: None,
                tampered_seq: Some(t.seq),
                reason: Some(t.reason),
            })
        }
        Err(e) => Err(e.into()),
    }
}
