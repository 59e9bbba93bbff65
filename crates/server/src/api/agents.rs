//! Site agents (issue 15): enrolment, evidence batches, fleet view, revocation.
//!
//! * An organisation admin creates a one-time enrolment token for one site
//!   (`POST /api/v1/agents/enrolments`); the secret is shown once and stored as a SHA-256 hash.
//! * The agent exchanges it (`POST /api/v1/agents/enrol`, no credentials, throttled per client
//!   address like sign-ins) for its own credential (`cta_...`, stored hashed). The token is
//!   then spent: a second exchange is refused.
//! * The credential is accepted by the agent endpoints only (`/agents/batches/{id}`,
//!   `/agents/heartbeat`). Every other endpoint looks credentials up among users' API tokens
//!   and sessions, where an agent's is not: an agent can never read the register.
//! * A batch (`POST /api/v1/agents/batches/{id}`) is `camtrace scan` observations as JSON Lines;
//!   its id is the SHA-256 of its bytes, checked on arrival (a batch damaged in transit is
//!   refused). It is stored through the same importer as evidence files
//!   ([`camtrace_ingest::import::import_evidence`]): one scan, one transaction, observations
//!   written in multi-row statements, devices identified. The scan id derives from the content
//!   and the site, so a batch sent twice is stored once (answer `duplicate`).
//! * Revocation (`POST /api/v1/agents/{id}/revoke`) is read on every request: it applies to the
//!   next request the agent makes.

use super::to_json;
use crate::auth::{self, Role};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Caller, ClientAddr};
use crate::App;
use axum::extract::{FromRequestParts, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use camtrace_ingest::import::{self, ImportError, ImportOptions, Input};
use camtrace_ingest::FileKind;
use camtrace_store::{AgentBatchRecord, AgentHealth, AgentRecord, NewHistory, RedeemRefusal};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::time::Instant;

/// Largest batch accepted (bytes). Agents split larger scans into several batches.
pub const MAX_BATCH_BYTES: usize = 8 << 20;
/// Prefix of enrolment tokens and of agent credentials (tells them from users' API tokens).
pub const ENROLMENT_PREFIX: &str = "cte_";
pub const CREDENTIAL_PREFIX: &str = "cta_";
/// Longest validity of an enrolment token (hours); the default is 24.
const MAX_ENROLMENT_HOURS: i64 = 24 * 30;
/// The throttle key of enrolment attempts (not a valid user name: no clash with sign-ins).
const THROTTLE_KEY: &str = "#agent-enrolment";

// ------------------------------------------------------------------ the agent's credential

/// An agent authenticated by its credential (`Authorization: Bearer cta_...`), not revoked.
/// What it reports about itself (headers `X-Camtrace-*`) is recorded as it is heard from.
pub struct AgentCaller(pub AgentRecord);

fn header_text(h: &HeaderMap, name: &str) -> Option<String> {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty() && s.len() <= 100 && !s.chars().any(char::is_control))
}

fn header_num(h: &HeaderMap, name: &str) -> Option<i64> {
    header_text(h, name)
        .and_then(|s| s.parse::<i64>().ok())
        .filter(|n| (0..=i64::MAX / 2).contains(n))
}

/// What the agent reports in its request headers.
pub fn health_of(h: &HeaderMap) -> AgentHealth {
    AgentHealth {
        agent_version: header_text(h, "x-camtrace-agent-version"),
        kb_version: header_text(h, "x-camtrace-kb-version"),
        last_scan: header_text(h, "x-camtrace-last-scan")
            .filter(|s| chrono::DateTime::parse_from_rfc3339(s).is_ok()),
        outbox_depth: header_num(h, "x-camtrace-outbox-depth"),
        outbox_bytes: header_num(h, "x-camtrace-outbox-bytes"),
        outbox_full: header_text(h, "x-camtrace-outbox-full").is_some_and(|v| v == "1"),
        schedule_secs: header_num(h, "x-camtrace-schedule-secs"),
    }
}

impl FromRequestParts<App> for AgentCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|t| t.starts_with(CREDENTIAL_PREFIX))
            .ok_or(ApiError::Unauthenticated)?;
        let agent = app
            .store
            .agent_by_credential(&auth::token_hash(token))
            .await?
            .ok_or(ApiError::Unauthenticated)?;
        if agent.revoked_at.is_some() {
            return Err(ApiError::Forbidden("this agent was revoked".into()));
        }
        app.store
            .record_agent_seen(
                &agent.id,
                &health_of(&parts.headers),
                &camtrace_store::now_rfc3339(),
            )
            .await?;
        Ok(AgentCaller(agent))
    }
}

// ------------------------------------------------------------------ enrolment tokens

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NewEnrolment {
    /// The site the agent will push evidence for.
    pub site: String,
    /// The agent's name (1-100 characters).
    pub name: String,
    /// Hours the token stays valid (1 to 720, default 24).
    pub expires_in_hours: Option<i64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedEnrolment {
    pub id: String,
    /// The one-time secret: shown here only.
    pub token: String,
    pub name: String,
    pub organisation: String,
    pub site: String,
    pub expires_at: String,
}

fn valid_name(n: &str) -> bool {
    !n.trim().is_empty() && n.chars().count() <= 100 && !n.chars().any(char::is_control)
}

/// `POST /api/v1/agents/enrolments`: a one-time enrolment token for one site (admin of the
/// site's organisation).
#[utoipa::path(post, path = "/api/v1/agents/enrolments", request_body = NewEnrolment, responses((status = 201, body = CreatedEnrolment, description = "The one-time token (shown once)"), (status = 400, description = "Bad name or lifetime"), (status = 403, description = "Not an admin of the site's organisation"), (status = 404, description = "No such site visible to the caller")))]
pub async fn create_enrolment(
    State(app): State<App>,
    caller: Caller,
    Json(req): Json<NewEnrolment>,
) -> ApiResult<impl IntoResponse> {
    if !valid_name(&req.name) {
        return Err(ApiError::bad(
            "name: 1-100 characters, no control characters",
        ));
    }
    let hours = req.expires_in_hours.unwrap_or(24);
    if !(1..=MAX_ENROLMENT_HOURS).contains(&hours) {
        return Err(ApiError::bad(format!(
            "expires_in_hours: 1 to {MAX_ENROLMENT_HOURS}"
        )));
    }
    let site = super::register::readable_site(&app, &caller.access, &req.site, Role::Admin).await?;
    let created = issue_enrolment(&app, &site, req.name.trim(), hours, caller.name()).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// Create a one-time enrolment token for an agent of `site`, valid for `hours`, recorded in
/// the history as created by `actor` (in the same transaction). The caller has checked the
/// actor's rights on the site and the name: the API handler above, or the demo.
pub async fn issue_enrolment(
    app: &App,
    site: &camtrace_model::Site,
    name: &str,
    hours: i64,
    actor: &str,
) -> ApiResult<CreatedEnrolment> {
    let token = format!("{ENROLMENT_PREFIX}{}", auth::random_token(32));
    let now = chrono::Utc::now();
    let rec = camtrace_store::EnrolmentRecord {
        id: auth::new_id(),
        token_hash: auth::token_hash(&token),
        name: name.to_string(),
        organisation: site.organisation.clone(),
        site: site.id.clone(),
        created_by: actor.to_string(),
        created_at: auth::rfc3339(now),
        expires_at: auth::rfc3339(now + chrono::Duration::hours(hours)),
        used_at: None,
        agent_id: None,
    };
    app.store
        .create_enrolment(
            &rec,
            Some(&NewHistory {
                actor: actor.to_string(),
                action: "create".into(),
                entity_kind: "agent_enrolment".into(),
                entity_id: rec.id.clone(),
                before: None,
                after: Some(serde_json::json!({
                    "name": rec.name, "organisation": rec.organisation, "site": rec.site,
                    "expires_at": rec.expires_at,
                })),
            }),
        )
        .await?;
    Ok(CreatedEnrolment {
        id: rec.id,
        token,
        name: rec.name,
        organisation: rec.organisation,
        site: rec.site,
        expires_at: rec.expires_at,
    })
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct Enrol {
    pub token: String,
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Enrolled {
    pub agent_id: String,
    pub name: String,
    pub organisation: String,
    pub site: String,
    /// The agent's credential: shown here only; keep it in the agent's credential file.
    pub credential: String,
}

/// `POST /api/v1/agents/enrol`: exchange an enrolment token for the agent's credential. No
/// credentials; throttled per client address (a wrong token counts as a failed sign-in).
#[utoipa::path(post, path = "/api/v1/agents/enrol", request_body = Enrol, responses((status = 201, body = Enrolled, description = "The agent's credential (shown once)"), (status = 401, description = "Unknown, used or expired token"), (status = 429, description = "Throttled: too many failed attempts from this address")))]
pub async fn enrol(
    State(app): State<App>,
    ClientAddr(addr): ClientAddr,
    Json(req): Json<Enrol>,
) -> ApiResult<impl IntoResponse> {
    let permit = app
        .login_throttle
        .begin(THROTTLE_KEY, addr, Instant::now())
        .map_err(|wait| {
            ApiError::TooManyRequests(
                "too many enrolment attempts; wait and try again".into(),
                wait.as_secs().max(1),
            )
        })?;
    let token = req.token.trim();
    let refused = || ApiError::Forbidden("enrolment token unknown, already used or expired".into());
    if !token.starts_with(ENROLMENT_PREFIX) || token.len() > 200 {
        return Err(refused());
    }
    let credential = format!("{CREDENTIAL_PREFIX}{}", auth::random_token(32));
    let outcome = app
        .store
        .redeem_enrolment(
            &auth::token_hash(token),
            &auth::new_id(),
            &auth::token_hash(&credential),
            &camtrace_store::now_rfc3339(),
        )
        .await?;
    match outcome {
        Ok(agent) => {
            app.login_throttle.succeeded(permit, Instant::now());
            tracing::info!(target: "camtrace::access", action = "agent_enrol", agent = %agent.id, site = %agent.site);
            Ok((
                StatusCode::CREATED,
                Json(Enrolled {
                    agent_id: agent.id,
                    name: agent.name,
                    organisation: agent.organisation,
                    site: agent.site,
                    credential,
                }),
            ))
        }
        Err(why) => {
            let why = match why {
                RedeemRefusal::Unknown => "unknown",
                RedeemRefusal::Used => "used",
                RedeemRefusal::Expired => "expired",
            };
            tracing::warn!(target: "camtrace::access", action = "agent_enrol_failed", reason = why, addr = ?addr);
            Err(refused())
        }
    }
}

// ------------------------------------------------------------------ batches

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BatchQuery {
    /// The site the evidence was gathered on (default: the agent's site; no other is accepted).
    pub site: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BatchReceipt {
    pub batch_id: String,
    /// `stored`, or `duplicate` (the batch was received before: nothing written).
    pub outcome: String,
    pub scan_id: Option<String>,
    pub observations: i64,
    pub identifications: i64,
}

/// A batch id: 64 lower-case hex digits (the SHA-256 of the batch).
pub fn valid_batch_id(id: &str) -> bool {
    id.len() == 64
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// `POST /api/v1/agents/batches/{batch_id}`: store a batch of evidence of the agent's site.
#[utoipa::path(post, path = "/api/v1/agents/batches/{batch_id}", params(("batch_id" = String, Path, description = "The batch's SHA-256, 64 lower-case hex digits"), BatchQuery), request_body(content = String, content_type = "application/x-ndjson", description = "Observations, JSON Lines"), responses((status = 200, body = BatchReceipt, description = "`stored`, or `duplicate` (received before: nothing written)"), (status = 400, description = "Corrupted (bytes do not match the id) or unparsable"), (status = 401, description = "No agent credential"), (status = 403, description = "Revoked agent, or a site not the agent's"), (status = 413, description = "Larger than 8 MiB")))]
pub async fn push_batch(
    State(app): State<App>,
    AgentCaller(agent): AgentCaller,
    Path(batch_id): Path<String>,
    Query(q): Query<BatchQuery>,
    req: Request,
) -> ApiResult<Json<BatchReceipt>> {
    if let Some(site) = &q.site {
        if *site != agent.site {
            return Err(ApiError::forbidden(format!(
                "this agent pushes evidence for site `{}` only",
                agent.site
            )));
        }
    }
    if !valid_batch_id(&batch_id) {
        return Err(ApiError::bad(
            "batch id: the SHA-256 of the batch, 64 lower-case hex digits",
        ));
    }
    let cap = MAX_BATCH_BYTES.min(app.config.max_body_bytes);
    let too_large = || {
        ApiError::TooLarge(format!(
            "a batch is at most {cap} bytes; split the scan into several batches"
        ))
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > cap as u64) {
        return Err(too_large());
    }
    let body = axum::body::to_bytes(req.into_body(), cap)
        .await
        .map_err(|_| too_large())?;
    let actual = hex::encode(Sha256::digest(&body));
    if actual != batch_id {
        return Err(ApiError::bad(format!(
            "batch corrupted: its content hashes to {actual}, not to its id {batch_id}; nothing stored"
        )));
    }
    // Received before for this site: nothing to do. (The same bytes from another site are
    // that site's evidence: the importer stores them as a scan of their own.)
    if let Some(prev) = app.store.agent_batch(&batch_id, &agent.site).await? {
        return Ok(Json(BatchReceipt {
            batch_id,
            outcome: "duplicate".into(),
            scan_id: Some(prev.scan_id),
            observations: prev.observations,
            identifications: 0,
        }));
    }
    let actor = format!("agent:{}", agent.name);
    let name = format!("agent-{}-{}", agent.id, &batch_id[..16]);
    let opts = ImportOptions {
        site: Some(agent.site.clone()),
        org: None,
        skip_bad: false,
        no_identify: false,
        actor: actor.clone(),
        readable: Some(std::iter::once(agent.organisation.clone()).collect()),
        rows_per_statement: app.config.ingest_rows_per_statement,
        engine: app.engine_ready().await,
    };
    let _slot = app
        .ingest_slots
        .acquire()
        .await
        .map_err(|_| ApiError::Internal("shutting down".into()))?;
    let summary = import::import_evidence(
        app.store.as_ref(),
        Some(app.kb.as_ref()),
        Input::Bytes {
            name: &name,
            data: &body,
        },
        FileKind::Scan,
        &opts,
    )
    .await
    .map_err(|e| match e {
        ImportError::Ingest(e) => ApiError::bad(format!("batch rejected, nothing stored: {e}")),
        ImportError::Invalid(m) => ApiError::bad(format!("batch rejected, nothing stored: {m}")),
        ImportError::UnknownKind => ApiError::bad("batch rejected: not scan observations"),
        ImportError::Store(e) => e.into(),
    })?;
    let scan_id = summary.scan_id.clone().unwrap_or_default();
    app.store
        .record_agent_batch(&AgentBatchRecord {
            batch_id: batch_id.clone(),
            agent_id: agent.id.clone(),
            site: agent.site.clone(),
            scan_id: scan_id.clone(),
            observations: summary.observations,
            received_at: camtrace_store::now_rfc3339(),
        })
        .await?;
    // `unchanged`: the same evidence was stored before (a batch acknowledged but whose receipt
    // was lost, or the same content from another agent of the site).
    let stored = summary.outcome != "unchanged";
    if stored {
        app.alerts.kick.notify_one();
    }
    Ok(Json(BatchReceipt {
        batch_id,
        outcome: if stored { "stored" } else { "duplicate" }.into(),
        scan_id: Some(scan_id),
        observations: summary.observations,
        identifications: summary.identifications,
    }))
}

/// `POST /api/v1/agents/heartbeat`: the agent is alive (its health headers are recorded).
#[utoipa::path(post, path = "/api/v1/agents/heartbeat", responses((status = 200, body = Object, description = "The agent's id and site"), (status = 401, description = "No agent credential"), (status = 403, description = "Revoked agent")))]
pub async fn heartbeat(AgentCaller(agent): AgentCaller) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "agent_id": agent.id, "site": agent.site }))
}

// ------------------------------------------------------------------ fleet view

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FleetQuery {
    pub organisation: Option<String>,
    pub site: Option<String>,
    /// Include revoked agents (default false).
    pub revoked: Option<bool>,
}

/// An agent in the fleet view.
#[derive(Debug, Serialize, Deserialize)]
pub struct FleetAgent {
    #[serde(flatten)]
    pub agent: AgentRecord,
    /// Not heard from for more than three scan periods (or never, an hour after enrolment).
    pub silent: bool,
}

/// Whether an agent has been quiet longer than its schedule allows at `now`.
pub fn is_silent(a: &AgentRecord, now: chrono::DateTime<chrono::Utc>) -> bool {
    if a.revoked_at.is_some() {
        return false;
    }
    let period = a.schedule_secs.unwrap_or(3600).clamp(60, 7 * 86_400);
    let since = a.last_seen.as_deref().unwrap_or(&a.created_at);
    match chrono::DateTime::parse_from_rfc3339(since) {
        Ok(t) => (now - t.with_timezone(&chrono::Utc)).num_seconds() > 3 * period,
        Err(_) => true,
    }
}

/// `GET /api/v1/agents`: the agents of the organisations the caller administers.
#[utoipa::path(get, path = "/api/v1/agents", params(FleetQuery), responses((status = 200, body = Object, description = "`total`, `silent` and `items` (agents with last seen, versions, outbox depth, last scan)"), (status = 403, description = "No admin role")))]
pub async fn list_agents(
    State(app): State<App>,
    caller: Caller,
    Query(q): Query<FleetQuery>,
) -> ApiResult<Json<serde_json::Value>> {
    let orgs: Vec<String> = caller.access.with_role(Role::Admin).into_iter().collect();
    if orgs.is_empty() {
        return Err(ApiError::forbidden(
            "admin role on an organisation required to see its agents",
        ));
    }
    if let Some(o) = &q.organisation {
        caller
            .access
            .require(o, Role::Admin, &format!("organisation `{o}`"))?;
    }
    let now = chrono::Utc::now();
    let items: Vec<FleetAgent> = app
        .store
        .list_agents(Some(&orgs))
        .await?
        .into_iter()
        .filter(|a| {
            q.organisation
                .as_ref()
                .is_none_or(|o| caller.access.is_within(&a.organisation, o))
        })
        .filter(|a| q.site.as_ref().is_none_or(|s| *s == a.site))
        .filter(|a| q.revoked.unwrap_or(false) || a.revoked_at.is_none())
        .map(|a| FleetAgent {
            silent: is_silent(&a, now),
            agent: a,
        })
        .collect();
    Ok(Json(serde_json::json!({
        "total": items.len(),
        "silent": items.iter().filter(|a| a.silent).count(),
        "items": to_json(&items)?,
    })))
}

/// `POST /api/v1/agents/{id}/revoke`: the agent's credential stops working at once.
#[utoipa::path(post, path = "/api/v1/agents/{id}/revoke", params(("id" = String, Path, description = "The agent id")), responses((status = 200, body = Object), (status = 403, description = "Not an admin of the agent's organisation"), (status = 404, description = "No such agent visible to the caller")))]
pub async fn revoke_agent(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    let agent = app
        .store
        .get_agent(&id)
        .await?
        .ok_or_else(|| ApiError::not_found("agent", &id))?;
    caller
        .access
        .require(&agent.organisation, Role::Admin, &format!("agent `{id}`"))?;
    let now = camtrace_store::now_rfc3339();
    let done = app
        .store
        .revoke_agent(
            &id,
            caller.name(),
            &now,
            Some(&NewHistory {
                actor: caller.name().to_string(),
                action: "revoke".into(),
                entity_kind: "agent".into(),
                entity_id: id.clone(),
                before: None,
                after: Some(serde_json::json!({ "revoked_at": now })),
            }),
        )
        .await?;
    Ok(Json(
        serde_json::json!({ "id": id, "revoked": true, "already": !done }),
    ))
}
