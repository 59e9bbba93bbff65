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
        let sites = app.store.site_organisations().await?;
        Ok(Resolver {
            sites,
            devices: None,
        })
    }

    /// A resolver that never loads every device: the devices of each batch are looked up with
    /// [`Resolver::prefetch_devices`] (bounded work per request on a large register).
    async fn bounded(app: &App) -> ApiResult<Self> {
        let mut r = Self::new(app).await?;
        r.devices = Some(HashMap::new());
        Ok(r)
    }

    /// Look up the organisations of the devices `entries` name (in chunks of 500 ids).
    async fn prefetch_devices(&mut self, app: &App, entries: &[HistoryEntry]) -> ApiResult<()> {
        let known = self.devices.get_or_insert_with(HashMap::new);
        let mut ids: Vec<String> = Vec::new();
        for e in entries {
            if e.entity_kind == "device" {
                ids.push(e.entity_id.clone());
            }
            for v in [&e.after, &e.before].into_iter().flatten() {
                if let Some(d) = v.get("device_id").and_then(|x| x.as_str()) {
                    ids.push(d.to_string());
                }
            }
        }
        ids.sort();
        ids.dedup();
        ids.retain(|d| !known.contains_key(d));
        if !ids.is_empty() {
            known.extend(app.store.device_organisations(Some(&ids)).await?);
        }
        Ok(())
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
        ..Default::default()
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
    /// Entries checked (when ok): from the genesis up to the checkpoint, or, with
    /// `full=true`, all of them.
    pub entries: Option<u64>,
    /// The first entry whose hash or link does not verify.
    pub tampered_seq: Option<i64>,
    pub reason: Option<String>,
    /// The newest entry's sequence number (incremental check).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub head: Option<i64>,
    /// Whether the incremental check has reached the newest entry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub complete: Option<bool>,
}

/// Entries the dashboard verifies per page load at most ([`ChainVerifier::step`]).
pub const VERIFY_BUDGET: u64 = 20_000;

#[derive(Debug, Default)]
struct VerifierState {
    /// The newest entry verified so far (the chain up to it links and matches).
    checkpoint: Option<camtrace_store::HistoryAnchor>,
    /// How far the re-check of the entries before the checkpoint has come in this round.
    sweep: Option<camtrace_store::HistoryAnchor>,
    /// Completed re-check rounds.
    rounds: u64,
}

/// Incremental verification of the hash chain for the dashboard: each call verifies at most a
/// budget of entries, first the entries appended since the checkpoint (moving it forward),
/// then, with what is left of the budget, the next piece of a re-check of the entries before
/// it, from the genesis up to the checkpoint (whose hash must come out the same), round after
/// round. A rewritten chain is caught when its first changed entry is reached by either pass;
/// a cut chain as soon as the checkpoint entry is gone. The checkpoint lives in the server's
/// memory, not in the database that it vouches for. `GET /api/v1/audit/verify` takes the same
/// steps; with `full=true` a central administrator checks the whole chain at once.
#[derive(Default)]
pub struct ChainVerifier {
    state: tokio::sync::Mutex<VerifierState>,
}

/// What the incremental verifier knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainState {
    /// Entries verified from the genesis (the checkpoint's sequence number).
    pub verified_to: i64,
    /// The newest entry.
    pub head: i64,
    /// Entries checked by this call.
    pub checked: u64,
    /// Completed re-check rounds of the verified part since the server started.
    pub rounds: u64,
    /// The first bad entry and why.
    pub tampered: Option<(i64, String)>,
}

impl ChainVerifier {
    /// Verify at most `budget` more entries (see [`ChainVerifier`]).
    pub async fn step(&self, app: &App, budget: u64) -> ApiResult<ChainState> {
        let mut st = self.state.lock().await;
        let store = app.store.as_ref();
        let tampered = |t: camtrace_store::TamperError, st: &VerifierState| {
            tracing::error!(seq = t.seq, reason = %t.reason, "audit log hash chain broken");
            ChainState {
                verified_to: st.checkpoint.as_ref().map_or(0, |a| a.seq),
                head: 0,
                checked: 0,
                rounds: st.rounds,
                tampered: Some((t.seq, t.reason)),
            }
        };
        let (checkpoint, forward) = match store
            .verify_history_segment(st.checkpoint.as_ref(), budget)
            .await
        {
            Ok(r) => r,
            Err(StoreError::Tamper(t)) => return Ok(tampered(t, &st)),
            Err(e) => return Err(e.into()),
        };
        st.checkpoint = checkpoint;
        let mut checked = forward;
        if let Some(cp) = st.checkpoint.clone() {
            let left = budget.saturating_sub(checked);
            let at = st.sweep.as_ref().map_or(0, |a| a.seq);
            if left > 0 && at < cp.seq {
                let max = left.min((cp.seq - at) as u64);
                match store.verify_history_segment(st.sweep.as_ref(), max).await {
                    Ok((reached, n)) => {
                        checked += n;
                        st.sweep = reached;
                    }
                    Err(StoreError::Tamper(t)) => {
                        st.sweep = None;
                        return Ok(tampered(t, &st));
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            if let Some(sw) = &st.sweep {
                if sw.seq >= cp.seq {
                    if sw.hash != cp.hash {
                        let t = camtrace_store::TamperError {
                            seq: cp.seq,
                            reason: "differs from when it was verified: the history was rewritten from this entry or before".into(),
                        };
                        st.sweep = None;
                        return Ok(tampered(t, &st));
                    }
                    st.sweep = None;
                    st.rounds += 1;
                }
            }
        }
        let head = store.history_head().await?.map_or(0, |a| a.seq);
        Ok(ChainState {
            verified_to: st.checkpoint.as_ref().map_or(0, |a| a.seq),
            head,
            checked,
            rounds: st.rounds,
            tampered: None,
        })
    }
}

/// Up to `want` entries the caller may read, newest first, older than `before` (from the
/// newest when `None`), reading at most `scan` entries: bounded work per request whatever the
/// size of the history. Returns the entries and, when older entries may remain, the sequence
/// number to continue before.
pub async fn scoped_newest(
    app: &App,
    access: &Access,
    before: Option<i64>,
    want: usize,
    scan: usize,
) -> ApiResult<(Vec<HistoryEntry>, Option<i64>)> {
    let mut out = Vec::new();
    let mut resolver = None;
    let mut cursor = before;
    let mut scanned = 0usize;
    loop {
        let batch_size = (scan - scanned).min(if access.is_central() { want } else { 2000 });
        let batch = app
            .store
            .history(&HistoryFilter {
                before_seq: cursor,
                newest_first: true,
                limit: Some(batch_size as i64),
                ..Default::default()
            })
            .await?;
        let n = batch.len();
        scanned += n;
        if !access.is_central() {
            if resolver.is_none() {
                resolver = Some(Resolver::bounded(app).await?);
            }
            if let Some(r) = resolver.as_mut() {
                r.prefetch_devices(app, &batch).await?;
            }
        }
        for e in batch {
            cursor = Some(e.seq);
            let readable = if access.is_central() {
                true
            } else {
                match resolver.as_mut() {
                    Some(r) => r
                        .org_of(app, &e)
                        .await?
                        .is_some_and(|o| access.can_read(&o)),
                    None => false,
                }
            };
            if readable {
                out.push(e);
                if out.len() >= want {
                    return Ok((out, cursor.filter(|c| *c > 1)));
                }
            }
        }
        if n < batch_size || cursor.is_some_and(|c| c <= 1) {
            return Ok((out, None));
        }
        if scanned >= scan {
            return Ok((out, cursor));
        }
    }
}

/// `GET /api/v1/audit/verify` parameters.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct VerifyQuery {
    /// Check the whole chain at once (central administrators only, one such check at a time).
    /// Without it, each call checks a bounded piece from the server's checkpoint, as the
    /// dashboard does: repeat until `complete`.
    pub full: Option<bool>,
}

/// Verify the hash chain: by default a bounded, incremental step (entries appended since the
/// last check, then a further piece of a re-check from the genesis), so that a viewer cannot
/// make the server read a million-entry history per request; `full=true` checks it all.
#[utoipa::path(get, path = "/api/v1/audit/verify", params(VerifyQuery),
    responses((status = 200, body = Verification),
              (status = 403, description = "full=true by anyone but a central administrator"),
              (status = 429, description = "a full check is already running")))]
pub async fn verify(
    State(app): State<App>,
    caller: Caller,
    Query(q): Query<VerifyQuery>,
) -> ApiResult<Json<Verification>> {
    if caller.access.readable().is_empty() && !caller.access.is_central() {
        return Err(ApiError::forbidden("no organisation role"));
    }
    if q.full.unwrap_or(false) {
        if caller.access.central_role() != Some(Role::Admin) {
            return Err(ApiError::forbidden(
                "full=true is for central administrators; without it the chain is checked a piece at a time",
            ));
        }
        let Ok(_one) = app.full_verify.try_lock() else {
            return Err(ApiError::TooManyRequests(
                "a full check of the chain is already running".into(),
                30,
            ));
        };
        return Ok(Json(verify_chain(&app).await?));
    }
    let st = app.chain_verifier.step(&app, VERIFY_BUDGET).await?;
    Ok(Json(match st.tampered {
        Some((seq, reason)) => Verification {
            ok: false,
            entries: None,
            tampered_seq: Some(seq),
            reason: Some(reason),
            head: None,
            complete: None,
        },
        None => Verification {
            ok: true,
            entries: Some(st.verified_to.max(0) as u64),
            tampered_seq: None,
            reason: None,
            head: Some(st.head),
            complete: Some(st.verified_to >= st.head),
        },
    }))
}

pub async fn verify_chain(app: &App) -> ApiResult<Verification> {
    match app.store.verify_history().await {
        Ok(n) => Ok(Verification {
            ok: true,
            entries: Some(n),
            tampered_seq: None,
            reason: None,
            head: None,
            complete: Some(true),
        }),
        Err(StoreError::Tamper(t)) => {
            tracing::error!(seq = t.seq, reason = %t.reason, "audit log hash chain broken");
            Ok(Verification {
                ok: false,
                entries: None,
                tampered_seq: Some(t.seq),
                reason: Some(t.reason),
                head: None,
                complete: None,
            })
        }
        Err(e) => Err(e.into()),
    }
}

// ------------------------------------------------------------------ the access log

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AccessQuery {
    /// `login`, `login_failed`, `logout`, `export`, `quote_check`.
    pub action: Option<String>,
    pub actor: Option<String>,
    /// Entries after this sequence number (paging, oldest first).
    pub after_seq: Option<i64>,
    /// At most this many entries (default 1000, at most 100000).
    pub limit: Option<i64>,
}

/// The access log with the result of checking its chain.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccessLogPage {
    #[schema(value_type = Vec<Object>)]
    pub entries: Vec<camtrace_store::AccessEntry>,
    /// Whether the whole access log (from the oldest entry retention kept) verifies.
    pub ok: bool,
    /// Entries checked, when `ok`.
    pub verified: Option<u64>,
    /// The first entry that does not verify, when not `ok`.
    pub tampered_seq: Option<i64>,
}

/// The access log (sign-ins and failures, sign-outs, exports, quote checks), apart from the
/// register history: central administrators only. Entries are kept for
/// [`crate::ACCESS_LOG_RETENTION_DAYS`] days.
#[utoipa::path(get, path = "/api/v1/access-log", params(AccessQuery),
    responses((status = 200, body = AccessLogPage), (status = 403)))]
pub async fn access_log(
    State(app): State<App>,
    caller: Caller,
    Query(q): Query<AccessQuery>,
) -> ApiResult<Json<AccessLogPage>> {
    if caller.access.central_role() != Some(Role::Admin) {
        return Err(ApiError::forbidden(
            "the access log is for central administrators",
        ));
    }
    let entries = app
        .store
        .access_log(&camtrace_store::AccessFilter {
            action: q.action,
            actor: q.actor,
            after_seq: q.after_seq,
            newest_first: false,
            limit: Some(q.limit.unwrap_or(1000).clamp(1, 100_000)),
        })
        .await?;
    let (ok, verified, tampered_seq) = match app.store.verify_access_log().await {
        Ok(n) => (true, Some(n), None),
        Err(StoreError::Tamper(t)) => (false, None, Some(t.seq)),
        Err(e) => return Err(e.into()),
    };
    Ok(Json(AccessLogPage {
        entries,
        ok,
        verified,
        tampered_seq,
    }))
}
