//! REST API under `/api/v1/` (JSON). Every handler authenticates the caller ([`Caller`](crate::extract::Caller)) and
//! checks its role on the organisation that owns what it touches; lists only ever contain what
//! the caller can read.

pub mod admin;
pub mod agents;
pub mod auditlog;
pub mod decisions;
pub mod import;
pub mod register;

use crate::error::{ApiError, ApiResult};
use crate::App;
use axum::routing::{get, post};
use axum::Router;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};

pub const DEFAULT_LIMIT: u64 = 100;
pub const MAX_LIMIT: u64 = 1000;

pub fn routes() -> Router<App> {
    Router::new()
        .route("/auth/login", post(admin::login))
        .route("/auth/logout", post(admin::logout))
        .route("/access-log", get(auditlog::access_log))
        .route("/me", get(admin::me))
        .route("/me/password", post(admin::change_password))
        .route("/users", get(admin::list_users).post(admin::create_user))
        .route("/users/{id}", axum::routing::delete(admin::delete_user))
        .route("/users/{id}/grants", post(admin::set_grant))
        .route("/users/{id}/disabled", post(admin::set_user_disabled))
        .route("/users/{id}/central-role", post(admin::set_central_role))
        .route("/tokens", get(admin::list_tokens).post(admin::create_token))
        .route("/tokens/{id}", axum::routing::delete(admin::revoke_token))
        .route(
            "/webhooks",
            get(admin::list_webhooks).post(admin::create_webhook),
        )
        .route(
            "/webhooks/{id}",
            axum::routing::delete(admin::delete_webhook),
        )
        .route("/webhooks/{id}/active", post(admin::set_webhook_active))
        .route("/webhooks/{id}/deliveries", get(admin::webhook_deliveries))
        .route(
            "/organisations",
            get(register::list_organisations).post(register::put_organisation),
        )
        .route("/organisations/{id}", get(register::get_organisation))
        .route("/sites", get(register::list_sites).post(register::put_site))
        .route("/sites/{id}", get(register::get_site))
        .route("/zones", get(register::list_zones).post(register::put_zone))
        .route(
            "/networks",
            get(register::list_networks).post(register::put_network),
        )
        .route(
            "/devices",
            get(register::list_devices).post(register::put_device),
        )
        .route("/devices/{id}", get(register::get_device))
        .route("/devices/{id}/status", post(register::set_status))
        .route("/import", post(import::import))
        .route("/scans", get(register::list_scans))
        .route("/observations", get(register::list_observations))
        .route("/search", get(register::search))
        .route("/findings", get(decisions::list_findings))
        .route("/waivers", get(decisions::list_waivers))
        .route("/waivers/{id}/revoke", post(decisions::revoke_waiver))
        .route(
            "/waiver-requests",
            get(decisions::list_requests).post(decisions::request_waiver),
        )
        .route(
            "/waiver-requests/{id}/decision",
            post(decisions::decide_request),
        )
        .route(
            "/plans",
            get(decisions::list_plans).post(decisions::create_plan),
        )
        .route("/plans/{id}", get(decisions::get_plan))
        .route("/plans/{id}/decision", post(decisions::decide_plan))
        .route("/reports/findings", get(decisions::findings_report))
        .route("/reports/estate", get(decisions::estate_report))
        .route("/quotes/check", post(decisions::check_quote))
        .route("/audit", get(auditlog::export))
        .route("/audit/verify", get(auditlog::verify))
        .route("/agents", get(agents::list_agents))
        .route("/agents/enrolments", post(agents::create_enrolment))
        .route("/agents/enrol", post(agents::enrol))
        .route("/agents/heartbeat", post(agents::heartbeat))
        .route("/agents/batches/{batch_id}", post(agents::push_batch))
        .route("/agents/{id}/revoke", post(agents::revoke_agent))
        .fallback(|| async { ApiError::NotFound("no such endpoint".into()) })
}

/// limit/offset paging.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Paging {
    /// At most this many items (default 100, at most 1000).
    pub limit: Option<u64>,
    /// Skip this many items.
    pub offset: Option<u64>,
}

impl Paging {
    pub fn limit(&self) -> u64 {
        self.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT)
    }
    pub fn offset(&self) -> u64 {
        self.offset.unwrap_or(0)
    }
}

/// One page of a list.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Page {
    #[schema(value_type = Vec<Object>)]
    pub items: Vec<serde_json::Value>,
    /// Items matching the filter (all pages), when known.
    pub total: Option<u64>,
    pub limit: u64,
    pub offset: u64,
    /// Pass as `cursor` to get the next page (cursor-paged lists only).
    pub next_cursor: Option<String>,
}

pub fn page<T: Serialize>(all: Vec<T>, p: &Paging) -> ApiResult<axum::Json<Page>> {
    let total = all.len() as u64;
    let items = all
        .into_iter()
        .skip(p.offset() as usize)
        .take(p.limit() as usize)
        .map(serde_json::to_value)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(axum::Json(Page {
        items,
        total: Some(total),
        limit: p.limit(),
        offset: p.offset(),
        next_cursor: None,
    }))
}

pub fn to_json<T: Serialize>(v: &T) -> ApiResult<serde_json::Value> {
    serde_json::to_value(v).map_err(|e| ApiError::Internal(e.to_string()))
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "camtrace API",
        description = "Surveillance-equipment register, findings, waivers, plans and audit log. Authenticate with `Authorization: Bearer <token>` (API tokens) or the session cookie plus `X-CSRF-Token` (browsers).",
        license(name = "Apache-2.0")
    ),
    paths(
        admin::login, admin::logout, admin::me, admin::change_password, admin::list_users,
        admin::create_user, admin::set_grant, admin::list_tokens, admin::create_token,
        admin::revoke_token, admin::list_webhooks, admin::create_webhook,
        admin::webhook_deliveries, admin::set_webhook_active, admin::delete_webhook,
        admin::set_user_disabled, admin::delete_user, admin::set_central_role,
        register::list_organisations, register::put_organisation, register::get_organisation,
        register::list_sites, register::put_site, register::get_site, register::list_zones,
        register::put_zone, register::list_networks, register::put_network,
        register::list_devices, register::put_device, register::get_device,
        register::set_status, import::import, register::list_scans,
        register::list_observations, register::search,
        decisions::list_findings, decisions::list_waivers, decisions::revoke_waiver,
        decisions::list_requests, decisions::request_waiver, decisions::decide_request,
        decisions::list_plans, decisions::create_plan, decisions::get_plan,
        decisions::decide_plan, decisions::findings_report, decisions::estate_report, decisions::check_quote,
        auditlog::export, auditlog::verify, auditlog::access_log, crate::metrics::render,
        agents::create_enrolment, agents::enrol, agents::push_batch, agents::heartbeat,
        agents::list_agents, agents::revoke_agent,
    ),
    components(schemas(
        Page, import::FileImport, crate::auth::Role, crate::auth::TokenScope, crate::auth::User, crate::auth::Grant,
        crate::auth::ApiToken, auditlog::AccessLogPage,
    )),
    tags((name = "camtrace"))
)]
pub struct ApiDoc;

/// The OpenAPI document, as committed in `docs/openapi.json`.
pub fn openapi() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// Pretty JSON of [`openapi`] with a trailing newline.
pub fn openapi_json() -> String {
    let mut s = openapi()
        .to_pretty_json()
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    s.push('\n');
    s
}
