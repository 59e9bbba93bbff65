//! Signed-off reports over HTTP: the report crate's HTML page and XLSX workbook, built from the
//! caller's scope of the estate (organisations, sites, devices, findings, waivers, progress).

use crate::access::Access;
use crate::error::{ApiError, ApiResult};
use crate::findings::today;
use crate::App;
use camtrace_estate::report::{Knowledge, ReportRequest, Scope, DEFAULT_TITLE};
use camtrace_estate::PlanSettings;
use camtrace_report::ReportInput;

/// The report of the caller's scope: everything it can read, or one organisation subtree
/// and/or one site of it. The same function as `camtrace report` (`camtrace_estate`), so the same
/// scope gives the same report; a read records no progress point.
pub async fn report_input(
    app: &App,
    access: &Access,
    q: &crate::api::decisions::EstateReportQuery,
) -> ApiResult<ReportInput> {
    if let Some(o) = &q.organisation {
        access.require(o, crate::auth::Role::Viewer, &format!("organisation `{o}`"))?;
    }
    if let Some(s) = &q.site {
        crate::api::register::readable_site(app, access, s, crate::auth::Role::Viewer).await?;
    }
    if let Some(p) = &q.period {
        if p.len() > 100 || p.chars().any(char::is_control) {
            return Err(ApiError::bad(
                "period: at most 100 characters, no control characters",
            ));
        }
    }
    let date = today();
    let knowledge = Knowledge {
        kb: &app.kb,
        kb_version: &app.kb_version,
        policies: &app.policies,
        costs: app.costs.as_deref(),
        catalogue: app.catalogue.as_deref(),
    };
    let req = ReportRequest {
        scope: Scope {
            readable: (!access.is_central()).then(|| access.readable()),
            org: q.organisation.clone(),
            site: q.site.clone(),
        },
        title: DEFAULT_TITLE.into(),
        as_of: date,
        rebuild: false,
        regimes: Vec::new(),
        plan: Some(PlanSettings {
            budget: q.budget,
            period: q.period.clone(),
            method: camtrace_plan::Method::Exact,
            as_of: date,
        }),
        record_progress: false,
    };
    camtrace_estate::report_input(app.store.as_ref(), &knowledge, &req)
        .await
        .map_err(ApiError::from)
}

pub fn render_html(input: &ReportInput) -> ApiResult<String> {
    camtrace_report::html::render(input, false)
        .map_err(|e| ApiError::Internal(format!("report: {e}")))
}

pub fn render_xlsx(input: &ReportInput) -> ApiResult<Vec<u8>> {
    camtrace_report::export::xlsx_bytes(input)
        .map_err(|e| ApiError::Internal(format!("report: {e}")))
}
