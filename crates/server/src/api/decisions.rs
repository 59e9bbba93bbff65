//! Findings, waivers (request → approve/reject → revoke), plans (draft → approve), findings
//! export, quote checks.

use super::register::readable_device;
use super::{page, Page, Paging};
use crate::access::Access;
use crate::auth::{self, Role};
use crate::error::{ApiError, ApiResult};
use crate::extract::Caller;
use crate::findings::{evaluated_for, today};
use crate::App;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use camtrace_model::Waiver;
use camtrace_policy::{Finding, Severity};
use camtrace_store::{PlanRow, RequestDecision, WaiverFilter, WaiverRequestRecord};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use utoipa::{IntoParams, ToSchema};

// ------------------------------------------------------------------ findings

#[derive(Debug, Default, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FindingQuery {
    /// The organisation and everything below it.
    pub organisation: Option<String>,
    pub site: Option<String>,
    pub device: Option<String>,
    /// Comma-separated regime ids (default: the default regimes).
    pub regime: Option<String>,
    /// open, waived, needs_inspection.
    pub status: Option<String>,
    /// At least this severity (info, low, medium, high, critical).
    pub severity: Option<String>,
    /// Evaluate at this date (default today).
    pub as_of: Option<NaiveDate>,
    pub limit: Option<u64>,
    pub offset: Option<u64>,
}

/// Findings the caller can read, filtered.
pub async fn scoped_findings(
    app: &App,
    access: &Access,
    q: &FindingQuery,
) -> ApiResult<Vec<Finding>> {
    let (ev, idx) = scoped_finding_indices(app, access, q).await?;
    Ok(idx.into_iter().map(|i| ev.findings[i].clone()).collect())
}

/// The evaluation and the indices of the findings the caller can read that match `q`.
pub async fn scoped_finding_indices(
    app: &App,
    access: &Access,
    q: &FindingQuery,
) -> ApiResult<(crate::findings::Evaluated, Vec<usize>)> {
    if let Some(o) = &q.organisation {
        access.require(o, Role::Viewer, &format!("organisation `{o}`"))?;
    }
    if let Some(s) = &q.site {
        super::register::readable_site(app, access, s, Role::Viewer).await?;
    }
    if let Some(d) = &q.device {
        readable_device(app, access, d, Role::Viewer).await?;
    }
    let regimes: Vec<String> = q
        .regime
        .as_deref()
        .map(|r| {
            r.split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let severity = match q.severity.as_deref() {
        Some(s) => Some(
            serde_json::from_value::<Severity>(serde_json::Value::String(s.to_lowercase()))
                .map_err(|_| ApiError::bad(format!("unknown severity `{s}`")))?,
        ),
        None => None,
    };
    let ev = evaluated_for(app, access, q.as_of.unwrap_or_else(today), &regimes).await?;
    let idx = ev
        .findings
        .iter()
        .enumerate()
        .filter(|(_, f)| access.can_read(&f.org_id))
        .filter(|(_, f)| {
            q.organisation
                .as_deref()
                .is_none_or(|o| access.is_within(&f.org_id, o))
        })
        .filter(|(_, f)| q.site.as_deref().is_none_or(|s| &*f.site_id == s))
        .filter(|(_, f)| q.device.as_deref().is_none_or(|d| &*f.device_id == d))
        .filter(|(_, f)| {
            q.status
                .as_deref()
                .is_none_or(|s| f.status.as_str() == s || f.state() == s)
        })
        .filter(|(_, f)| severity.is_none_or(|s| f.severity >= s))
        .map(|(i, _)| i)
        .collect();
    Ok((ev, idx))
}

#[utoipa::path(get, path = "/api/v1/findings", params(FindingQuery), responses((status = 200, body = Page)))]
pub async fn list_findings(
    State(app): State<App>,
    caller: Caller,
    Query(q): Query<FindingQuery>,
) -> ApiResult<Json<Page>> {
    let f = scoped_findings(&app, &caller.access, &q).await?;
    page(
        f,
        &Paging {
            limit: q.limit,
            offset: q.offset,
        },
    )
}

/// Findings as CSV (default) or JSON, for the caller's scope.
#[utoipa::path(get, path = "/api/v1/reports/findings", params(FindingQuery, ("format" = Option<String>, Query, description = "csv (default) or json")), responses((status = 200, content_type = "text/csv")))]
pub async fn findings_report(
    State(app): State<App>,
    crate::extract::ClientAddr(addr): crate::extract::ClientAddr,
    caller: Caller,
    Query(q): Query<FindingQuery>,
    Query(fmt): Query<FormatQuery>,
) -> ApiResult<Response> {
    let f = scoped_findings(&app, &caller.access, &q).await?;
    app.access_record(
        "export",
        caller.name(),
        addr,
        "report/findings",
        Some(serde_json::json!({"organisation": q.organisation, "site": q.site, "rows": f.len()})),
    )
    .await?;
    match fmt.format.as_deref().unwrap_or("csv") {
        "json" => Ok(Json(f).into_response()),
        "csv" => Ok((
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"findings.csv\"",
                ),
            ],
            findings_csv(&f),
        )
            .into_response()),
        other => Err(ApiError::bad(format!(
            "unknown format `{other}` (csv or json)"
        ))),
    }
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EstateReportQuery {
    /// One organisation and everything below it (default: everything the caller can read).
    pub organisation: Option<String>,
    /// `html` (default, printable), `xlsx` or `json` (the report input).
    pub format: Option<String>,
    /// Only this site.
    pub site: Option<String>,
    /// Budget for the plan section, in whole currency units.
    pub budget: Option<u64>,
    /// Name of the budget period (e.g. 2026-27, Q1).
    pub period: Option<String>,
}

/// The signed-off report of the caller's scope: summary, findings with reasons, waivers, sites
/// and devices, as a printable HTML page, an XLSX workbook or JSON.
#[utoipa::path(get, path = "/api/v1/reports/estate", params(EstateReportQuery), responses((status = 200, content_type = "text/html")))]
pub async fn estate_report(
    State(app): State<App>,
    crate::extract::ClientAddr(addr): crate::extract::ClientAddr,
    caller: Caller,
    Query(q): Query<EstateReportQuery>,
) -> ApiResult<Response> {
    let input = crate::reports::report_input(&app, &caller.access, &q).await?;
    let format = q.format.as_deref().unwrap_or("html");
    let resp = match format {
        "html" => (
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"camtrace-report.html\"",
                ),
            ],
            crate::reports::render_html(&input)?,
        )
            .into_response(),
        "xlsx" => (
            [
                (
                    header::CONTENT_TYPE,
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                ),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"camtrace-report.xlsx\"",
                ),
            ],
            crate::reports::render_xlsx(&input)?,
        )
            .into_response(),
        "json" => Json(input.clone()).into_response(),
        other => {
            return Err(ApiError::bad(format!(
                "unknown format `{other}` (html, xlsx or json)"
            )))
        }
    };
    app.access_record(
        "export",
        caller.name(),
        addr,
        "report/estate",
        Some(serde_json::json!({"organisation": q.organisation, "format": format, "devices": input.devices.len(), "findings": input.findings.len()})),
    )
    .await?;
    Ok(resp)
}

#[derive(Debug, Default, Deserialize)]
pub struct FormatQuery {
    pub format: Option<String>,
}

pub fn findings_csv(f: &[Finding]) -> String {
    // The one CSV writer: RFC 4180 quoting, spreadsheet formulas neutralised.
    let mut out = camtrace_model::csv_out::record([
        "organisation",
        "site",
        "device",
        "regime",
        "rule",
        "obligation",
        "severity",
        "status",
        "due",
        "maker",
        "reasons",
        "citation",
    ]);
    for x in f {
        let reasons: Vec<String> = x.reasons.iter().map(|r| r.text.clone()).collect();
        let row = [
            x.org_id.to_string(),
            x.site_id.to_string(),
            x.device_id.to_string(),
            x.regime_id.to_string(),
            x.rule_id.to_string(),
            x.obligation.as_str().to_string(),
            x.severity.as_str().to_string(),
            x.status.as_str().to_string(),
            x.due.map(|d| d.to_string()).unwrap_or_default(),
            x.maker.as_deref().unwrap_or("").to_string(),
            reasons.join(" → "),
            x.citation.url.clone(),
        ];
        camtrace_model::csv_out::push_record(&mut out, &row);
    }
    out
}

// ------------------------------------------------------------------ waivers

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WaiverQuery {
    pub device: Option<String>,
    pub rule: Option<String>,
    /// Only waivers in force on this date.
    pub active_on: Option<NaiveDate>,
    pub include_revoked: Option<bool>,
    pub limit: Option<u64>,
    pub offset: Option<u64>,
}

/// Device id → organisation id for every device (one query).
pub async fn device_orgs(app: &App) -> ApiResult<HashMap<String, String>> {
    Ok(app.store.device_organisations(None).await?)
}

async fn device_org(app: &App, device: &str) -> ApiResult<Option<String>> {
    Ok(app
        .store
        .device_organisations(Some(&[device.to_string()]))
        .await?
        .remove(device))
}

pub async fn scoped_waivers(app: &App, access: &Access, q: &WaiverQuery) -> ApiResult<Vec<Waiver>> {
    if let Some(d) = &q.device {
        readable_device(app, access, d, Role::Viewer).await?;
    }
    let all = app
        .store
        .list_waivers(&WaiverFilter {
            device_id: q.device.clone(),
            rule_id: q.rule.clone(),
            active_on: q.active_on,
            include_revoked: q.include_revoked.unwrap_or(false),
        })
        .await?;
    let orgs = if q.device.is_some() {
        HashMap::new()
    } else {
        device_orgs(app).await?
    };
    let mut out = Vec::new();
    for w in all {
        let org = match orgs.get(&w.device_id) {
            Some(o) => Some(o.clone()),
            None => device_org(app, &w.device_id).await?,
        };
        if org.as_deref().is_some_and(|o| access.can_read(o)) {
            out.push(w);
        }
    }
    Ok(out)
}

#[utoipa::path(get, path = "/api/v1/waivers", params(WaiverQuery), responses((status = 200, body = Page)))]
pub async fn list_waivers(
    State(app): State<App>,
    caller: Caller,
    Query(q): Query<WaiverQuery>,
) -> ApiResult<Json<Page>> {
    let w = scoped_waivers(&app, &caller.access, &q).await?;
    page(
        w,
        &Paging {
            limit: q.limit,
            offset: q.offset,
        },
    )
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RevokeBody {
    pub reason: String,
}

/// Revoke a waiver (approver role on the device's organisation).
#[utoipa::path(post, path = "/api/v1/waivers/{id}/revoke", params(("id" = String, Path)), request_body = RevokeBody, responses((status = 200, body = Object)))]
pub async fn revoke_waiver(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<RevokeBody>,
) -> ApiResult<Json<Waiver>> {
    let w = app
        .store
        .list_waivers(&WaiverFilter {
            include_revoked: true,
            ..Default::default()
        })
        .await?
        .into_iter()
        .find(|w| w.id == id)
        .ok_or_else(|| ApiError::not_found("waiver", &id))?;
    let org = device_org(&app, &w.device_id)
        .await?
        .ok_or_else(|| ApiError::not_found("waiver", &id))?;
    caller
        .access
        .require(&org, Role::Approver, &format!("waiver `{id}`"))?;
    if body.reason.trim().is_empty() || body.reason.len() > 2000 {
        return Err(ApiError::bad("reason: 1-2000 characters"));
    }
    Ok(Json(
        app.store
            .revoke_waiver(&id, caller.name(), &body.reason)
            .await?,
    ))
}

/// A request for a waiver, awaiting an approver.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WaiverRequest {
    pub id: String,
    pub device_id: String,
    /// `<regime>/<rule>`.
    pub rule_id: String,
    pub reason: String,
    pub expires_on: NaiveDate,
    pub requested_by: String,
    pub requested_at: String,
    /// pending, approved, rejected.
    pub status: String,
    pub decided_by: Option<String>,
    pub decided_at: Option<String>,
    pub decision_note: Option<String>,
    /// Organisation of the device (for display and scoping).
    pub organisation: Option<String>,
}

fn from_record(r: WaiverRequestRecord) -> WaiverRequest {
    WaiverRequest {
        id: r.id,
        device_id: r.device_id,
        rule_id: r.rule_id,
        reason: r.reason,
        expires_on: r.expires_on,
        requested_by: r.requested_by,
        requested_at: r.requested_at,
        status: r.status,
        decided_by: r.decided_by,
        decided_at: r.decided_at,
        decision_note: r.decision_note,
        organisation: None,
    }
}

pub async fn get_request(app: &App, id: &str) -> ApiResult<Option<WaiverRequest>> {
    Ok(app.store.get_waiver_request(id).await?.map(from_record))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RequestQuery {
    /// pending, approved, rejected.
    pub status: Option<String>,
    pub limit: Option<u64>,
    pub offset: Option<u64>,
}

pub async fn scoped_requests(
    app: &App,
    access: &Access,
    status: Option<&str>,
) -> ApiResult<Vec<WaiverRequest>> {
    let rows = app.store.list_waiver_requests().await?;
    let orgs = device_orgs(app).await?;
    let mut out = Vec::new();
    for r in rows {
        let mut w = from_record(r);
        if status.is_some_and(|s| s != w.status) {
            continue;
        }
        w.organisation = orgs.get(&w.device_id).cloned();
        if w.organisation
            .as_deref()
            .is_some_and(|o| access.can_read(o))
        {
            out.push(w);
        }
    }
    Ok(out)
}

#[utoipa::path(get, path = "/api/v1/waiver-requests", params(RequestQuery), responses((status = 200, body = Page)))]
pub async fn list_requests(
    State(app): State<App>,
    caller: Caller,
    Query(q): Query<RequestQuery>,
) -> ApiResult<Json<Page>> {
    let v = scoped_requests(&app, &caller.access, q.status.as_deref()).await?;
    page(
        v,
        &Paging {
            limit: q.limit,
            offset: q.offset,
        },
    )
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewWaiverRequest {
    pub device_id: String,
    /// `<regime>/<rule>` as in the finding.
    pub rule_id: String,
    pub reason: String,
    /// Last day the waiver would be in force.
    pub expires_on: NaiveDate,
}

pub async fn create_request(
    app: &App,
    caller: &Caller,
    body: &NewWaiverRequest,
) -> ApiResult<WaiverRequest> {
    let (_, site) = readable_device(app, &caller.access, &body.device_id, Role::Editor).await?;
    // The same rules as `camtrace waiver add` (camtrace_estate::waiver).
    camtrace_estate::waiver::validate(
        &app.policies,
        &camtrace_estate::waiver::WaiverDraft {
            rule_id: &body.rule_id,
            reason: &body.reason,
            expires_on: body.expires_on,
        },
        today(),
    )?;
    let w = WaiverRequest {
        id: auth::new_id(),
        device_id: body.device_id.clone(),
        rule_id: body.rule_id.clone(),
        reason: body.reason.trim().to_string(),
        expires_on: body.expires_on,
        requested_by: caller.name().to_string(),
        requested_at: camtrace_store::now_rfc3339(),
        status: "pending".into(),
        decided_by: None,
        decided_at: None,
        decision_note: None,
        organisation: Some(site.organisation.clone()),
    };
    app.store
        .create_waiver_request(
            &WaiverRequestRecord {
                id: w.id.clone(),
                device_id: w.device_id.clone(),
                rule_id: w.rule_id.clone(),
                reason: w.reason.clone(),
                expires_on: w.expires_on,
                requested_by: w.requested_by.clone(),
                requested_at: w.requested_at.clone(),
                status: w.status.clone(),
                decided_by: None,
                decided_at: None,
                decision_note: None,
            },
            &auth::entry(
                caller.name(),
                "waiver_request",
                "waiver_request",
                &w.id,
                None,
                Some(super::to_json(&w)?),
            ),
        )
        .await?;
    Ok(w)
}

/// Ask for a waiver (editor role); an approver decides.
#[utoipa::path(post, path = "/api/v1/waiver-requests", request_body = NewWaiverRequest, responses((status = 200, body = WaiverRequest)))]
pub async fn request_waiver(
    State(app): State<App>,
    caller: Caller,
    Json(body): Json<NewWaiverRequest>,
) -> ApiResult<Json<WaiverRequest>> {
    create_request(&app, &caller, &body).await.map(Json)
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct Decision {
    pub approve: bool,
    pub note: Option<String>,
}

/// Approve (creating the waiver) or reject a pending request. Needs the approver role on the
/// device's organisation; nobody approves their own request.
pub async fn decide(
    app: &App,
    caller: &Caller,
    id: &str,
    d: &Decision,
) -> ApiResult<WaiverRequest> {
    let mut req = get_request(app, id)
        .await?
        .ok_or_else(|| ApiError::not_found("waiver request", id))?;
    let org = device_org(app, &req.device_id)
        .await?
        .ok_or_else(|| ApiError::not_found("waiver request", id))?;
    caller
        .access
        .require(&org, Role::Approver, &format!("waiver request `{id}`"))?;
    if req.status != "pending" {
        return Err(ApiError::Conflict(format!(
            "waiver request `{id}` is already {}",
            req.status
        )));
    }
    if req.requested_by == caller.name() {
        return Err(ApiError::forbidden(
            "a waiver request must be decided by someone other than its requester",
        ));
    }
    let note = d
        .note
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_string);
    if note.as_ref().is_some_and(|n| n.len() > 2000) {
        return Err(ApiError::bad("note: at most 2000 characters"));
    }
    let before = super::to_json(&req)?;
    let now = camtrace_store::now_rfc3339();
    let status = if d.approve { "approved" } else { "rejected" };
    let waiver = d.approve.then(|| Waiver {
        id: format!("w-{id}"),
        device_id: req.device_id.clone(),
        rule_id: req.rule_id.clone(),
        reason: req.reason.clone(),
        approver: caller.name().to_string(),
        created_at: now.clone(),
        expires_on: req.expires_on,
        revoked_at: None,
        revoked_by: None,
        revoke_reason: None,
    });
    req.status = status.into();
    req.decided_by = Some(caller.name().to_string());
    req.decided_at = Some(now.clone());
    req.decision_note = note.clone();
    req.organisation = Some(org);
    // The request's update, the waiver (with its own entry) and the decision's entry: one
    // transaction in the store, so a failure leaves the request pending and nothing else.
    app.store
        .decide_waiver_request(&RequestDecision {
            request_id: id.to_string(),
            status: status.to_string(),
            decided_by: caller.name().to_string(),
            decided_at: now,
            note,
            waiver,
            history: auth::entry(
                caller.name(),
                if d.approve {
                    "waiver_approve"
                } else {
                    "waiver_reject"
                },
                "waiver_request",
                id,
                Some(before),
                Some(super::to_json(&req)?),
            ),
        })
        .await?;
    Ok(req)
}

#[utoipa::path(post, path = "/api/v1/waiver-requests/{id}/decision", params(("id" = String, Path)), request_body = Decision, responses((status = 200, body = WaiverRequest), (status = 403), (status = 409)))]
pub async fn decide_request(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    Json(d): Json<Decision>,
) -> ApiResult<Json<WaiverRequest>> {
    decide(&app, &caller, &id, &d).await.map(Json)
}

// ------------------------------------------------------------------ plans

/// A remediation plan for one organisation: actions per device with dates, drafted by an
/// editor and approved by an approver.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PlanRecord {
    pub id: String,
    pub organisation: String,
    pub title: String,
    /// What the plan commits to (within the budget, when there is one).
    pub actions: Vec<PlanAction>,
    /// Actions the planner did not select, each with its `wait_reason`: over the budget, or a
    /// review to do before spending (an identification below the confidence threshold).
    /// Empty for plans with explicit actions.
    #[serde(default)]
    pub waiting: Vec<PlanAction>,
    /// How the planner chose the actions; absent for plans with explicit actions (and for
    /// plans drafted before the server used the planner).
    #[serde(default)]
    pub summary: Option<PlanSummary>,
    /// draft, approved, rejected.
    pub status: String,
    /// The last action date of the plan.
    pub due_on: Option<NaiveDate>,
    pub created_by: String,
    pub created_at: String,
    pub decided_by: Option<String>,
    pub decided_at: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PlanAction {
    pub device_id: String,
    pub site_id: String,
    /// What to do. Drafted by the planner: `disconnect_now`, `remove_now`,
    /// `replace_at_upgrade` or `review`. Explicit actions (and plans drafted before the server
    /// used the planner) carry the obligation instead (`remove_by` ...).
    pub action: String,
    /// The finding(s) it answers, `<regime>/<rule>`.
    pub rules: Vec<String>,
    /// The earliest due date of those findings.
    pub due: Option<NaiveDate>,
    /// Cost of the action in the plan's currency, without site-visit overheads (planner only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<u64>,
    /// Risk the action removes (planner only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk_removed: Option<f64>,
    /// Why the planner did not select the action (waiting actions only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_reason: Option<String>,
}

/// The planner's totals for a drafted plan (as `camtrace plan` reports them).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PlanSummary {
    /// Currency of every cost (kb/costs.toml).
    pub currency: String,
    pub budget: Option<u64>,
    pub period: Option<String>,
    /// How the actions were chosen.
    pub method: String,
    /// Whether the selection is proven optimal within the budget.
    pub exact: bool,
    /// Cost of the selected actions, site-visit overheads included.
    pub total_cost: u64,
    /// Risk of every device considered.
    pub total_risk: u64,
    /// Risk the selected actions remove.
    pub risk_removed: f64,
    /// Regimes the findings were evaluated under.
    pub regimes: Vec<String>,
}

/// What the plans table's `body` column holds: the actions, and for planned drafts the waiting
/// actions and the summary. Plans stored before the planner hold a bare array of actions.
#[derive(Serialize, Deserialize)]
struct PlanBody {
    actions: Vec<PlanAction>,
    #[serde(default)]
    waiting: Vec<PlanAction>,
    #[serde(default)]
    summary: Option<PlanSummary>,
}

fn parse_body(body: &str) -> ApiResult<PlanBody> {
    let bad = |e: serde_json::Error| ApiError::Internal(format!("stored plan: {e}"));
    if body.trim_start().starts_with('[') {
        Ok(PlanBody {
            actions: serde_json::from_str(body).map_err(bad)?,
            waiting: Vec::new(),
            summary: None,
        })
    } else {
        serde_json::from_str(body).map_err(bad)
    }
}

fn plan_from_row(r: PlanRow) -> ApiResult<PlanRecord> {
    let body = parse_body(&r.body)?;
    Ok(PlanRecord {
        id: r.id,
        organisation: r.organisation,
        title: r.title,
        actions: body.actions,
        waiting: body.waiting,
        summary: body.summary,
        status: r.status,
        due_on: r.due_on,
        created_by: r.created_by,
        created_at: r.created_at,
        decided_by: r.decided_by,
        decided_at: r.decided_at,
    })
}

pub async fn all_plans(app: &App) -> ApiResult<Vec<PlanRecord>> {
    app.store
        .list_plans()
        .await?
        .into_iter()
        .map(plan_from_row)
        .collect()
}

pub async fn scoped_plans(app: &App, access: &Access) -> ApiResult<Vec<PlanRecord>> {
    Ok(all_plans(app)
        .await?
        .into_iter()
        .filter(|p| access.can_read(&p.organisation))
        .collect())
}

#[utoipa::path(get, path = "/api/v1/plans", params(Paging), responses((status = 200, body = Page)))]
pub async fn list_plans(
    State(app): State<App>,
    caller: Caller,
    Query(p): Query<Paging>,
) -> ApiResult<Json<Page>> {
    page(scoped_plans(&app, &caller.access).await?, &p)
}

pub async fn plan_by_id(app: &App, access: &Access, id: &str) -> ApiResult<PlanRecord> {
    let r = app
        .store
        .get_plan(id)
        .await?
        .ok_or_else(|| ApiError::not_found("plan", id))?;
    let p = plan_from_row(r)?;
    access.require(&p.organisation, Role::Viewer, &format!("plan `{id}`"))?;
    Ok(p)
}

#[utoipa::path(get, path = "/api/v1/plans/{id}", params(("id" = String, Path)), responses((status = 200, body = PlanRecord), (status = 404)))]
pub async fn get_plan(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<PlanRecord>> {
    plan_by_id(&app, &caller.access, &id).await.map(Json)
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct NewPlan {
    pub organisation: String,
    pub title: String,
    /// Explicit actions. When omitted, the budget-optimal planner drafts them (as
    /// `camtrace plan`): one action per device of the organisation (and below) with an open
    /// finding or one needing inspection, costed and risk-ranked; with a `budget`, the
    /// selection that removes the most risk within it, the rest listed as `waiting`.
    pub actions: Option<Vec<PlanAction>>,
    /// Budget for the period, in whole currency units (kb/costs.toml `currency`); omitted:
    /// every action. Planner only.
    #[serde(default)]
    pub budget: Option<u64>,
    /// Name of the budget period (e.g. `2026-27`). Planner only.
    #[serde(default)]
    pub period: Option<String>,
    /// `exact` (default: dynamic programme, optimal) or `greedy`. Planner only.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub method: Option<camtrace_plan::Method>,
    /// Regimes to apply; default every regime that is not opt-in. Planner only.
    #[serde(default)]
    pub regimes: Vec<String>,
}

/// The planner's draft for `body.organisation`: (actions, waiting, summary).
async fn planned_actions(
    app: &App,
    caller: &Caller,
    body: &NewPlan,
) -> ApiResult<(Vec<PlanAction>, Vec<PlanAction>, PlanSummary)> {
    if body.period.as_ref().is_some_and(|p| p.len() > 100) {
        return Err(ApiError::bad("period: at most 100 characters"));
    }
    let regimes: Vec<String> = app
        .policies
        .select(&body.regimes)
        .map_err(ApiError::BadRequest)?
        .iter()
        .map(|r| r.id.clone())
        .collect();
    let date = today();
    let ev = evaluated_for(app, &caller.access, date, &body.regimes).await?;
    let devices = crate::planning::plan_devices(&ev, &caller.access, &body.organisation);
    // Rules and earliest due date per device, from the findings the planner is given.
    let per_device: HashMap<String, (Vec<String>, Option<NaiveDate>)> = devices
        .iter()
        .map(|d| {
            let rules = d
                .findings
                .iter()
                .map(|f| format!("{}/{}", f.regime, f.rule))
                .collect();
            let due = d.findings.iter().filter_map(|f| f.due).min();
            (d.device.id.clone(), (rules, due))
        })
        .collect();
    let plan = crate::planning::plan(
        devices,
        app.costs.clone(),
        app.catalogue.clone(),
        &crate::planning::PlanRequest {
            budget: body.budget,
            period: body.period.clone(),
            method: body.method.unwrap_or(camtrace_plan::Method::Exact),
            regimes: regimes.clone(),
            today: date,
        },
    )
    .await?;
    let (mut actions, mut waiting) = (Vec::new(), Vec::new());
    for r in &plan.rows {
        let (rules, due) = per_device.get(&r.device).cloned().unwrap_or_default();
        let a = PlanAction {
            device_id: r.device.clone(),
            site_id: r.site.clone(),
            action: r.action.id().to_string(),
            rules,
            due,
            cost: Some(r.cost.total),
            risk_removed: Some(r.risk_removed),
            wait_reason: if r.selected {
                None
            } else {
                r.wait_reason.clone()
            },
        };
        if r.selected {
            actions.push(a);
        } else {
            waiting.push(a);
        }
    }
    let summary = PlanSummary {
        currency: plan.currency.clone(),
        budget: plan.budget,
        period: plan.period.clone(),
        method: plan.method.clone(),
        exact: plan.exact,
        total_cost: plan.total_cost,
        total_risk: plan.total_risk,
        risk_removed: plan.risk_removed,
        regimes,
    };
    Ok((actions, waiting, summary))
}

pub async fn draft_plan(app: &App, caller: &Caller, body: &NewPlan) -> ApiResult<PlanRecord> {
    caller.access.require(
        &body.organisation,
        Role::Editor,
        &format!("organisation `{}`", body.organisation),
    )?;
    if body.title.trim().is_empty() || body.title.len() > 200 {
        return Err(ApiError::bad("title: 1-200 characters"));
    }
    let (actions, waiting, summary) = match &body.actions {
        Some(a) => {
            if body.budget.is_some()
                || body.period.is_some()
                || body.method.is_some()
                || !body.regimes.is_empty()
            {
                return Err(ApiError::bad(
                    "budget, period, method and regimes apply to planned drafts: omit `actions` to plan",
                ));
            }
            if a.len() > 200_000 {
                return Err(ApiError::TooLarge("at most 200,000 actions".into()));
            }
            // Every device named must belong to the organisation (or below).
            let orgs = device_orgs(app).await?;
            for x in a {
                let ok = orgs
                    .get(&x.device_id)
                    .is_some_and(|o| caller.access.is_within(o, &body.organisation));
                if !ok {
                    return Err(ApiError::NotFound(format!(
                        "device `{}` not found",
                        x.device_id
                    )));
                }
            }
            (a.clone(), Vec::new(), None)
        }
        None => {
            let (a, w, s) = planned_actions(app, caller, body).await?;
            (a, w, Some(s))
        }
    };
    let due_on = actions.iter().filter_map(|a| a.due).max();
    let p = PlanRecord {
        id: auth::new_id(),
        organisation: body.organisation.clone(),
        title: body.title.trim().to_string(),
        actions,
        waiting,
        summary,
        status: "draft".into(),
        due_on,
        created_by: caller.name().to_string(),
        created_at: camtrace_store::now_rfc3339(),
        decided_by: None,
        decided_at: None,
    };
    let body_json = serde_json::to_string(&PlanBody {
        actions: p.actions.clone(),
        waiting: p.waiting.clone(),
        summary: p.summary.clone(),
    })
    .map_err(|e| ApiError::Internal(e.to_string()))?;
    app.store
        .create_plan(
            &PlanRow {
                id: p.id.clone(),
                organisation: p.organisation.clone(),
                title: p.title.clone(),
                body: body_json,
                status: p.status.clone(),
                due_on: p.due_on,
                created_by: p.created_by.clone(),
                created_at: p.created_at.clone(),
                decided_by: None,
                decided_at: None,
            },
            &auth::entry(
                caller.name(),
                "plan_create",
                "plan",
                &p.id,
                None,
                Some(serde_json::json!({"organisation": p.organisation, "title": p.title, "actions": p.actions.len(), "waiting": p.waiting.len(), "due_on": p.due_on, "budget": p.summary.as_ref().and_then(|s| s.budget), "total_cost": p.summary.as_ref().map(|s| s.total_cost)})),
            ),
        )
        .await?;
    Ok(p)
}

#[utoipa::path(post, path = "/api/v1/plans", request_body = NewPlan, responses((status = 200, body = PlanRecord)))]
pub async fn create_plan(
    State(app): State<App>,
    caller: Caller,
    Json(body): Json<NewPlan>,
) -> ApiResult<Json<PlanRecord>> {
    draft_plan(&app, &caller, &body).await.map(Json)
}

pub async fn decide_plan_inner(
    app: &App,
    caller: &Caller,
    id: &str,
    d: &Decision,
) -> ApiResult<PlanRecord> {
    let mut p = plan_by_id(app, &caller.access, id).await?;
    caller
        .access
        .require(&p.organisation, Role::Approver, &format!("plan `{id}`"))?;
    if p.status != "draft" {
        return Err(ApiError::Conflict(format!(
            "plan `{id}` is already {}",
            p.status
        )));
    }
    if d.approve && p.created_by == caller.name() {
        return Err(ApiError::forbidden(
            "a plan must be approved by someone other than its author",
        ));
    }
    let status = if d.approve { "approved" } else { "rejected" };
    let now = camtrace_store::now_rfc3339();
    app.store
        .decide_plan(
            id,
            status,
            caller.name(),
            &now,
            &auth::entry(
                caller.name(),
                if d.approve {
                    "plan_approve"
                } else {
                    "plan_reject"
                },
                "plan",
                id,
                Some(serde_json::json!({"status": "draft", "organisation": p.organisation})),
                Some(serde_json::json!({"status": status, "organisation": p.organisation, "note": d.note})),
            ),
        )
        .await?;
    p.status = status.into();
    p.decided_by = Some(caller.name().to_string());
    p.decided_at = Some(now);
    Ok(p)
}

#[utoipa::path(post, path = "/api/v1/plans/{id}/decision", params(("id" = String, Path)), request_body = Decision, responses((status = 200, body = PlanRecord)))]
pub async fn decide_plan(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    Json(d): Json<Decision>,
) -> ApiResult<Json<PlanRecord>> {
    decide_plan_inner(&app, &caller, &id, &d).await.map(Json)
}

// ------------------------------------------------------------------ quotes

/// Check a quote (CSV or JSON lines: brand, model, quantity, site) against the knowledge base:
/// each line's true maker and whether it is restricted.
#[utoipa::path(post, path = "/api/v1/quotes/check", request_body(content = String, content_type = "text/csv"), responses((status = 200, body = Object)))]
pub async fn check_quote(
    State(app): State<App>,
    caller: Caller,
    body: axum::body::Bytes,
) -> ApiResult<Json<serde_json::Value>> {
    crate::quotes::check(&app, &caller, &body).await.map(Json)
}
