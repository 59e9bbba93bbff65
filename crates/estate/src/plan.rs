//! The remediation plan of a judged estate.

use crate::judge::Judged;
use crate::{EstateError, Result};
use camtrace_kb::{Kb, KbFiles};
use camtrace_plan::{build_plan, Catalogue, CostBook, Method, Plan, PlanDevice, PlanOptions};
use chrono::NaiveDate;

/// Devices with actionable findings, with their context, for the planner (every site of the
/// judged estate: narrow the estate before judging it).
pub fn plan_devices(j: &Judged) -> Vec<PlanDevice> {
    camtrace_plan::plan_devices(&j.estate, &j.findings, |_| true)
}

/// How to plan.
#[derive(Debug, Clone)]
pub struct PlanSettings {
    pub budget: Option<u64>,
    pub period: Option<String>,
    pub method: Method,
    pub as_of: NaiveDate,
}

/// The plan for a judged estate, with the knowledge base's costs and approved catalogue.
pub fn make_plan(files: &KbFiles, kb: &Kb, j: &Judged, s: &PlanSettings) -> Result<Plan> {
    let costs = CostBook::load(files).map_err(|e| EstateError::Kb(e.to_string()))?;
    let catalogue = Catalogue::load(files).map_err(|e| EstateError::Kb(e.to_string()))?;
    if let Err(e) = catalogue.validate_against(kb) {
        tracing::warn!("catalogue: {e}");
    }
    Ok(plan_with(&costs, &catalogue, j, s))
}

/// The plan for a judged estate with a given cost book and catalogue.
pub fn plan_with(costs: &CostBook, catalogue: &Catalogue, j: &Judged, s: &PlanSettings) -> Plan {
    let mut o = PlanOptions::new(s.as_of);
    o.budget = s.budget;
    o.period = s.period.clone();
    o.method = s.method;
    o.active_regimes = j.regimes.clone();
    build_plan(&plan_devices(j), costs, catalogue, &o)
}
