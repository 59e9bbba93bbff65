//! Drafting a remediation plan with the budget-optimal planner (`camtrace_plan::build_plan`),
//! from the same inputs as `camtrace plan`: every device of the organisation subtree with an
//! actionable finding (open, or needing inspection), its site, organisation, network and latest
//! identification, the cost book and the approved catalogue of the knowledge base.

use crate::access::Access;
use crate::error::{ApiError, ApiResult};
use crate::findings::Evaluated;
use camtrace_model::Organisation;
use camtrace_plan::{build_plan, finding_ref, Catalogue, CostBook, Method, Plan, PlanDevice};
use camtrace_policy::Finding;
use chrono::NaiveDate;
use std::collections::HashMap;
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

/// Devices of `org` (and below) with actionable findings, with their context, for the planner
/// (as the CLI builds them: the maker comes from the register, else the identification, else a
/// finding; the confidence from the identification when the register has none).
pub fn plan_devices(ev: &Evaluated, access: &Access, org: &str) -> Vec<PlanDevice> {
    let estate = &ev.estate;
    let sites: HashMap<&str, _> = estate.sites.iter().map(|s| (s.id.as_str(), s)).collect();
    let orgs: HashMap<&str, &Organisation> = estate
        .organisations
        .iter()
        .map(|o| (o.id.as_str(), o))
        .collect();
    let nets: HashMap<&str, _> = estate.networks.iter().map(|n| (n.id.as_str(), n)).collect();
    let idents: HashMap<&str, _> = estate
        .identifications
        .iter()
        .filter_map(|s| s.device_id.as_deref().map(|d| (d, &s.identification)))
        .collect();
    let mut by_device: HashMap<&str, Vec<&Finding>> = HashMap::new();
    for f in ev.findings.iter().filter(|f| f.status.is_actionable()) {
        by_device.entry(&f.device_id).or_default().push(f);
    }
    let mut out = Vec::new();
    for d in &estate.devices {
        let Some(fs) = by_device.get(d.id.as_str()) else {
            continue;
        };
        let Some(site) = sites.get(d.site.as_str()) else {
            continue;
        };
        if !access.can_read(&site.organisation) || !access.is_within(&site.organisation, org) {
            continue;
        }
        let ident = idents.get(d.id.as_str());
        let mut device = d.clone();
        if device.maker.is_none() {
            device.maker = ident
                .and_then(|i| i.maker.as_ref().map(|m| m.id.clone()))
                .or_else(|| {
                    fs.iter()
                        .find_map(|f| f.maker.as_deref().map(str::to_string))
                });
        }
        if let Some(i) = ident {
            if device.confidence.is_none() {
                device.confidence = Some(i.confidence);
            }
        }
        out.push(PlanDevice {
            device,
            site: (*site).clone(),
            organisation: orgs.get(site.organisation.as_str()).map(|o| o.name.clone()),
            network: d
                .network
                .as_deref()
                .and_then(|n| nets.get(n))
                .map(|n| (*n).clone()),
            call_home: ident.map(|i| i.call_home.clone()).unwrap_or_default(),
            capabilities: Vec::new(),
            form: None,
            environment: None,
            findings: fs.iter().map(|f| finding_ref(f)).collect(),
        });
    }
    out
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
