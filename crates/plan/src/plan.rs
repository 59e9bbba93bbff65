//! Building a remediation plan from devices with open findings.

use crate::catalogue::{Catalogue, Want};
use crate::costs::CostBook;
use crate::optimise::{self, Choice, Group, Problem};
use crate::risk::{self, Risk, RiskInput};
use camtrace_model::{Device, DeviceStatus, NetworkSegment, Site};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A finding as the planner needs it (adapted from the policy crate's findings).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FindingRef {
    pub regime: String,
    pub rule: String,
    /// The obligation (`no_new_deployment`, `disconnect_core`, `remove_now`, `remove_by`,
    /// `replace_at_upgrade`, `review` ...).
    pub obligation: String,
    /// The chain of reasons, in order.
    pub reasons: Vec<String>,
    #[serde(default)]
    pub due: Option<NaiveDate>,
}

/// A device with its open findings and context.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanDevice {
    pub device: Device,
    pub site: Site,
    #[serde(default)]
    pub organisation: Option<String>,
    #[serde(default)]
    pub network: Option<NetworkSegment>,
    /// Cloud services the device called (Identification::call_home).
    #[serde(default)]
    pub call_home: Vec<String>,
    /// e.g. `ptz`, `thermal`, `audio`, `face_recognition`, `anpr`.
    #[serde(default)]
    pub capabilities: Vec<String>,
    /// Form factor and environment, for like-for-like replacement, when known.
    #[serde(default)]
    pub form: Option<String>,
    #[serde(default)]
    pub environment: Option<String>,
    pub findings: Vec<FindingRef>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    DisconnectNow,
    RemoveNow,
    ReplaceAtUpgrade,
    Review,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DisconnectNow => "disconnect from core network now",
            Self::RemoveNow => "remove and replace now",
            Self::ReplaceAtUpgrade => "replace at scheduled upgrade",
            Self::Review => "review",
        }
    }
    pub fn id(self) -> &'static str {
        match self {
            Self::DisconnectNow => "disconnect_now",
            Self::RemoveNow => "remove_now",
            Self::ReplaceAtUpgrade => "replace_at_upgrade",
            Self::Review => "review",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    Exact,
    Greedy,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanOptions {
    pub today: NaiveDate,
    /// Budget for this period in whole currency units; `None`: every action, no budget.
    pub budget: Option<u64>,
    pub period: Option<String>,
    pub method: Method,
    /// Identifications below this confidence are reviewed, not spent on.
    pub review_below_confidence: f64,
    /// Active regime ids, for catalogue proposals.
    pub active_regimes: Vec<String>,
    pub alternatives: usize,
}

impl PlanOptions {
    pub fn new(today: NaiveDate) -> Self {
        Self {
            today,
            budget: None,
            period: None,
            method: Method::Exact,
            review_below_confidence: 0.5,
            active_regimes: Vec::new(),
            alternatives: 3,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cost {
    pub device: u64,
    pub labour: u64,
    pub total: u64,
    /// Where each figure came from (register, catalogue band, kb/costs.toml).
    pub basis: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alternative {
    pub id: String,
    pub maker: String,
    pub model: String,
    pub form: String,
    pub resolution_mp: f64,
    pub price_band: String,
    pub source: String,
}

/// One plan row: one device, one action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanRow {
    pub device: String,
    pub site: String,
    pub site_name: String,
    pub organisation: Option<String>,
    pub brand: Option<String>,
    pub maker: Option<String>,
    pub model: Option<String>,
    pub class: String,
    pub action: Action,
    /// Selected for this period (within the budget).
    pub selected: bool,
    pub risk: Risk,
    pub risk_removed: f64,
    /// Cost of the action (without the site overhead, which is listed per site).
    pub cost: Cost,
    pub scheduled_upgrade: Option<NaiveDate>,
    /// Why the device must wait (not selected), when it does.
    pub wait_reason: Option<String>,
    /// Every finding's reasons, prefixed with its regime and obligation.
    pub reasons: Vec<String>,
    pub regimes: Vec<String>,
    pub alternatives: Vec<Alternative>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SiteVisit {
    pub site: String,
    pub overhead: u64,
    pub visited: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub today: NaiveDate,
    pub period: Option<String>,
    pub currency: String,
    pub budget: Option<u64>,
    /// How the actions were chosen (exact method, unit, or greedy).
    pub method: String,
    pub exact: bool,
    pub total_cost: u64,
    pub total_risk: u64,
    pub risk_removed: f64,
    pub rows: Vec<PlanRow>,
    pub sites: Vec<SiteVisit>,
    pub costs_source: String,
}

impl Plan {
    pub fn selected(&self) -> impl Iterator<Item = &PlanRow> {
        self.rows.iter().filter(|r| r.selected)
    }
    pub fn waiting(&self) -> impl Iterator<Item = &PlanRow> {
        self.rows.iter().filter(|r| !r.selected)
    }
}

fn wants_remove(f: &FindingRef) -> bool {
    let o = f.obligation.to_ascii_lowercase();
    o.contains("remove") || o.contains("replace") || o.contains("no_new") || o.contains("cease")
}

fn wants_disconnect(f: &FindingRef) -> bool {
    f.obligation.to_ascii_lowercase().contains("disconnect")
}

struct Candidate {
    idx: usize,
    risk: Risk,
    options: Vec<(Action, Cost, f64)>,
    review: Option<String>,
}

/// Build a plan. Devices without open findings, or already removed, are ignored.
pub fn build_plan(
    devices: &[PlanDevice],
    costs: &CostBook,
    catalogue: &Catalogue,
    opts: &PlanOptions,
) -> Plan {
    let mut cands = Vec::new();
    let mut alts: Vec<Vec<Alternative>> = Vec::new();
    for (idx, d) in devices.iter().enumerate() {
        let dev = &d.device;
        if d.findings.is_empty() || dev.status == DeviceStatus::Removed {
            alts.push(Vec::new());
            continue;
        }
        let risk = risk::score(
            &costs.risk,
            &RiskInput {
                site: &d.site,
                network: d.network.as_ref(),
                call_home: &d.call_home,
                class: dev.class,
                capabilities: &d.capabilities,
                scheduled_upgrade: dev.scheduled_upgrade,
                today: opts.today,
            },
        );
        let want = Want {
            class: dev.class,
            form: d.form.clone(),
            environment: d.environment.clone(),
            ..Default::default()
        };
        let proposals = catalogue.propose(&want, &opts.active_regimes, opts.alternatives);
        let alt: Vec<Alternative> = proposals
            .iter()
            .map(|e| Alternative {
                id: e.id.clone(),
                maker: e.maker.clone(),
                model: e.model.clone(),
                form: e.form.clone(),
                resolution_mp: e.resolution_mp,
                price_band: e.price_band.clone(),
                source: e.source.clone(),
            })
            .collect();
        let cc = costs.class(dev.class);
        let (device_cost, device_basis) = match dev.cost_device {
            Some(c) if c.is_finite() && c >= 0.0 => (
                c.round() as u64,
                "device cost from the register".to_string(),
            ),
            _ => match proposals
                .first()
                .and_then(|e| costs.band_price(&e.price_band).map(|p| (p, e)))
            {
                Some((p, e)) => (
                    p,
                    format!(
                        "device: {} band price of {} (kb/costs.toml)",
                        e.price_band, e.model
                    ),
                ),
                None => (
                    cc.device,
                    format!("device: {} default (kb/costs.toml)", dev.class),
                ),
            },
        };
        let (labour, labour_basis) = match dev.cost_labour {
            Some(c) if c.is_finite() && c >= 0.0 => {
                (c.round() as u64, "labour from the register".to_string())
            }
            _ => (
                cc.labour_replace,
                format!("labour: {} default (kb/costs.toml)", dev.class),
            ),
        };
        let mut options = Vec::new();
        let low_conf = dev
            .confidence
            .is_some_and(|c| c < opts.review_below_confidence);
        let review = if dev.status == DeviceStatus::Planned {
            Some(
                "planned device: do not deploy; cancel the order or substitute an approved model"
                    .to_string(),
            )
        } else if low_conf {
            Some(format!(
                "identification confidence {:.2} is below {:.2}: confirm the maker on site before spending",
                dev.confidence.unwrap_or(0.0),
                opts.review_below_confidence
            ))
        } else if dev.maker.is_none() {
            Some("maker unknown: confirm on site".to_string())
        } else {
            None
        };
        if review.is_none() {
            let disc_pts = risk.disconnect_share();
            let exposed = disc_pts > 0 && dev.status != DeviceStatus::Disconnected;
            if exposed
                && (d.findings.iter().any(wants_disconnect) || d.findings.iter().any(wants_remove))
            {
                options.push((
                    Action::DisconnectNow,
                    Cost {
                        device: 0,
                        labour: cc.labour_disconnect,
                        total: cc.labour_disconnect,
                        basis: format!("labour: {} disconnect default (kb/costs.toml)", dev.class),
                    },
                    disc_pts as f64,
                ));
            }
            if d.findings.iter().any(wants_remove) {
                let removed = if dev.status == DeviceStatus::Disconnected {
                    (risk.score - risk.disconnect_share()) as f64
                } else {
                    risk.score as f64
                };
                options.push((
                    Action::RemoveNow,
                    Cost {
                        device: device_cost,
                        labour,
                        total: device_cost + labour,
                        basis: format!("{device_basis}; {labour_basis}"),
                    },
                    removed,
                ));
            }
        }
        alts.push(alt);
        cands.push(Candidate {
            idx,
            risk,
            options,
            review,
        });
    }

    // Sites.
    let mut site_ids: Vec<String> = cands
        .iter()
        .map(|c| devices[c.idx].site.id.clone())
        .collect();
    site_ids.sort();
    site_ids.dedup();
    let site_index: BTreeMap<&str, usize> = site_ids
        .iter()
        .enumerate()
        .map(|(i, s)| (s.as_str(), i))
        .collect();
    let problem = Problem {
        groups: cands
            .iter()
            .map(|c| Group {
                site: site_index[devices[c.idx].site.id.as_str()],
                choices: c
                    .options
                    .iter()
                    .map(|(_, cost, v)| Choice {
                        cost: cost.total,
                        value: *v,
                    })
                    .collect(),
            })
            .collect(),
        site_overhead: vec![costs.site_overhead; site_ids.len()],
        budget: opts.budget.unwrap_or(u64::MAX),
    };
    let (chosen, method, exact) = match opts.budget {
        None => {
            // No budget: the strongest action the findings ask for, everywhere.
            let chosen = cands
                .iter()
                .map(|c| {
                    c.options
                        .iter()
                        .enumerate()
                        .max_by(|a, b| a.1 .2.total_cmp(&b.1 .2))
                        .map(|(k, _)| k)
                })
                .collect::<Vec<_>>();
            (
                chosen,
                "no budget given: every action the findings ask for".to_string(),
                true,
            )
        }
        Some(_) => {
            let s = match opts.method {
                Method::Exact => optimise::solve_exact(&problem),
                Method::Greedy => optimise::solve_greedy(&problem),
            };
            (s.chosen, s.method, s.exact)
        }
    };

    // Threshold for wait reasons: the lowest value per cost among selected actions.
    let mut rows = Vec::new();
    let mut visited = vec![false; site_ids.len()];
    let mut total_cost = 0u64;
    let mut removed = 0.0;
    for (ci, c) in cands.iter().enumerate() {
        let d = &devices[c.idx];
        let dev = &d.device;
        let mut reasons = Vec::new();
        let mut regimes: Vec<String> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for f in &d.findings {
            if !regimes.contains(&f.regime) {
                regimes.push(f.regime.clone());
            }
            // Findings on one device share most of their chain (device, identification, maker):
            // each distinct reason is listed once, under the first finding that gives it.
            let before = reasons.len();
            for r in &f.reasons {
                if seen.insert(r.as_str()) {
                    reasons.push(format!("[{} / {}] {r}", f.regime, f.obligation));
                }
            }
            if !f.reasons.is_empty() && reasons.len() == before {
                reasons.push(format!(
                    "[{} / {}] rule {} (for the reasons above)",
                    f.regime, f.obligation, f.rule
                ));
            }
            if f.reasons.is_empty() {
                reasons.push(format!("[{} / {}] rule {}", f.regime, f.obligation, f.rule));
            }
        }
        let sel = chosen.get(ci).copied().flatten();
        let (action, cost, value, wait_reason) = match (sel, &c.review) {
            (_, Some(why)) => (Action::Review, zero_cost(), 0.0, Some(why.clone())),
            (Some(k), None) => {
                let (a, cost, v) = c.options[k].clone();
                (a, cost, v, None)
            }
            (None, None) => {
                let why = if c.options.is_empty() {
                    "no action the findings ask for applies (already disconnected, or obligation is review only)".to_string()
                } else {
                    let opts: Vec<String> = c
                        .options
                        .iter()
                        .map(|(a, cost, v)| {
                            format!(
                                "{} would remove {v:.0} risk points for {} {} ({:.3} per unit)",
                                a.as_str(),
                                costs.currency,
                                cost.total,
                                v / cost.total.max(1) as f64
                            )
                        })
                        .collect();
                    format!(
                        "not selected within the budget: {}; the selected actions remove more risk for the money (a site visit overhead may apply too)",
                        opts.join("; ")
                    )
                };
                let (a, why) = match dev.scheduled_upgrade {
                    Some(u) if u < opts.today => (
                        Action::Review,
                        format!("{why}; its scheduled upgrade ({u}) has passed: review and set a new date"),
                    ),
                    Some(u) => (
                        Action::ReplaceAtUpgrade,
                        format!("{why}; replace at the scheduled upgrade on {u}"),
                    ),
                    None => (
                        Action::Review,
                        format!("{why}; no scheduled upgrade: review next period"),
                    ),
                };
                let cost = c
                    .options
                    .iter()
                    .find(|o| o.0 == Action::RemoveNow)
                    .map(|o| o.1.clone())
                    .unwrap_or_else(zero_cost);
                (a, cost, 0.0, Some(why))
            }
        };
        let selected = wait_reason.is_none();
        if selected {
            visited[problem.groups[ci].site] = true;
            total_cost += cost.total;
            removed += value;
        }
        rows.push(PlanRow {
            device: dev.id.clone(),
            site: d.site.id.clone(),
            site_name: d.site.name.clone(),
            organisation: d.organisation.clone(),
            brand: dev.brand.clone(),
            maker: dev.maker.clone(),
            model: dev.model.clone(),
            class: dev.class.as_str().to_string(),
            action,
            selected,
            risk: c.risk.clone(),
            risk_removed: value,
            cost,
            scheduled_upgrade: dev.scheduled_upgrade,
            wait_reason,
            reasons,
            regimes,
            alternatives: alts[c.idx].clone(),
        });
    }
    let sites: Vec<SiteVisit> = site_ids
        .iter()
        .enumerate()
        .map(|(i, s)| SiteVisit {
            site: s.clone(),
            overhead: costs.site_overhead,
            visited: visited[i],
        })
        .collect();
    total_cost += sites
        .iter()
        .filter(|s| s.visited)
        .map(|s| s.overhead)
        .sum::<u64>();
    rows.sort_by(|a, b| {
        b.selected
            .cmp(&a.selected)
            .then(b.risk.score.cmp(&a.risk.score))
            .then(a.device.cmp(&b.device))
    });
    Plan {
        today: opts.today,
        period: opts.period.clone(),
        currency: costs.currency.clone(),
        budget: opts.budget,
        method,
        exact,
        total_cost,
        total_risk: cands.iter().map(|c| c.risk.score as u64).sum(),
        risk_removed: removed,
        rows,
        sites,
        costs_source: format!("kb/costs.toml: {} (as of {})", costs.source, costs.as_of),
    }
}

fn zero_cost() -> Cost {
    Cost {
        device: 0,
        labour: 0,
        total: 0,
        basis: String::new(),
    }
}
