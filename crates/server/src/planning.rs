//! Drafting a remediation plan with the budget-optimal planner (`camtrace_plan::build_plan`),
//! from the same inputs as `camtrace plan`: every device of the organisation subtree with an
//! actionable finding (open, or needing inspection), its site, organisation, network and latest
//! identification, the cost book and the approved catalogue of the knowledge base.

use crate::access::Access;
use crate::error::{ApiError, ApiResult};
use crate::findings::Evaluated;
use camtrace_plan::{build_plan, Catalogue, CostBook, Method, Plan, PlanDevice};
use chrono::NaiveDate;
use std::sync::Arc;

/// What the caller asked for.
pub struct PlanRequest {
    pub budget: Option<u64>,
    pub period: Option<String>,
    pub method: Method,
    /// Ids of the regimes the findings were evaluated under.
    pub regimes: Vec<String>,
    pub today: NaiveDate,
}

/// Devices of `org` (and below) that the caller may read, with actionable findings and their
/// context, for the planner ([`camtrace_plan::plan_devices`], the step `camtrace plan` uses).
pub fn plan_devices(ev: &Evaluated, access: &Access, org: &str) -> Vec<PlanDevice> {
    camtrace_plan::plan_devices(&ev.estate, &ev.findings, |site| {
        access.can_read(&site.organisation) && access.is_within(&site.organisation, org)
    })
}

/// Run the planner (on a blocking thread: the exact selection is a dynamic programme).
pub async fn plan(
    devices: Vec<PlanDevice>,
    costs: Option<Arc<CostBook>>,
    catalogue: Option<Arc<Catalogue>>,
    req: &PlanRequest,
) -> ApiResult<Plan> {
    let costs = costs.ok_or_else(|| {
        ApiError::Internal(
            "the knowledge base has no cost book (kb/costs.toml): plans need explicit actions"
                .into(),
        )
    })?;
    let mut o = camtrace_plan::PlanOptions::new(req.today);
    o.budget = req.budget;
    o.period = req.period.clone();
    o.method = req.method;
    o.active_regimes = req.regimes.clone();
    tokio::task::spawn_blocking(move || {
        let empty = Catalogue::default();
        let cat = catalogue.as_deref().unwrap_or(&empty);
        build_plan(&devices, &costs, cat, &o)
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))
}
