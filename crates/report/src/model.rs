//! The report's input: everything a report shows, as plain data (built by the CLI from the
//! store, the policy findings and the plan), so a report is reproducible from stored history.

use camtrace_model::{Organisation, Site};
use camtrace_plan::Plan;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportDevice {
    pub id: String,
    pub site: String,
    #[serde(default)]
    pub brand: Option<String>,
    #[serde(default)]
    pub maker: Option<String>,
    /// Where `maker` comes from: `register` (declared there), `discovered` (the device's own
    /// identification) or `brand` (the maker the brand is attributed to at the device's date,
    /// when neither says); absent when there is no maker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maker_basis: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
    pub class: String,
    pub status: String,
    #[serde(default)]
    pub addresses: Vec<String>,
    #[serde(default)]
    pub network: Option<String>,
    #[serde(default)]
    pub confidence: Option<f64>,
    /// In the register (false: discovered only).
    pub registered: bool,
    /// Seen on the wire (false: registered only).
    pub discovered: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportFinding {
    pub device: String,
    pub site: String,
    pub regime: String,
    pub rule: String,
    pub obligation: String,
    /// `open`, `overdue`, `waived`, `needs_inspection` or `waiver_expired`.
    pub status: String,
    pub reasons: Vec<String>,
    #[serde(default)]
    pub due: Option<NaiveDate>,
    #[serde(default)]
    pub citation: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportWaiver {
    pub id: String,
    /// Device or site the waiver covers.
    pub subject: String,
    pub site: String,
    pub regime: String,
    pub approver: String,
    pub reason: String,
    pub expires: NaiveDate,
    pub expired: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvidenceItem {
    pub device: String,
    pub site: String,
    pub kind: String,
    pub detail: String,
    pub signature: String,
    pub source: String,
}

/// Restricted devices (open findings) on one date, by site sensitivity.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct HistoryPoint {
    pub date: NaiveDate,
    pub sensitive: u64,
    pub other: u64,
}

/// Discovery against the register.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Reconciliation {
    /// Discovered, not in the register.
    pub unregistered: Vec<String>,
    /// In the register, not found.
    pub missing: Vec<String>,
    /// Register and wire disagree: (device, what the register says, what the wire says).
    pub mismatched: Vec<(String, String, String)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportInput {
    pub title: String,
    /// The date the report describes (stored history up to this date).
    pub as_of: NaiveDate,
    /// When it was generated (RFC 3339).
    pub generated: String,
    pub kb_version: String,
    pub organisations: Vec<Organisation>,
    pub sites: Vec<Site>,
    pub devices: Vec<ReportDevice>,
    pub findings: Vec<ReportFinding>,
    #[serde(default)]
    pub plan: Option<Plan>,
    #[serde(default)]
    pub waivers: Vec<ReportWaiver>,
    #[serde(default)]
    pub evidence: Vec<EvidenceItem>,
    #[serde(default)]
    pub history: Vec<HistoryPoint>,
    #[serde(default)]
    pub reconciliation: Option<Reconciliation>,
    /// Regimes evaluated.
    #[serde(default)]
    pub regimes: Vec<String>,
    /// The register history's head when the report was made (`SEQ:HASH`): an anchor for
    /// `camtrace history verify --anchor`, proving later that no change up to it was removed.
    #[serde(default)]
    pub history_head: Option<String>,
}

/// Headline figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub organisations: usize,
    pub sites: usize,
    pub sensitive_sites: usize,
    /// Devices in the register (as `camtrace devices` lists them).
    pub devices: usize,
    /// Devices found on the network, identified, and not in the register.
    #[serde(default)]
    pub unregistered: usize,
    /// Devices with at least one open finding.
    pub restricted_devices: usize,
    pub restricted_on_sensitive_sites: usize,
    pub open_findings: usize,
    pub findings_by_obligation: BTreeMap<String, usize>,
    pub active_waivers: usize,
    pub expired_waivers: usize,
    pub plan_cost: Option<u64>,
    pub plan_budget: Option<u64>,
    pub plan_selected: usize,
    pub plan_waiting: usize,
    pub currency: Option<String>,
    /// Each device's verdict over the regimes evaluated: restricted (a rule applies, waived
    /// or not), needs inspection (only "needs inspection" findings), not restricted (none).
    #[serde(default)]
    pub verdicts: Verdicts,
    /// Open findings whose due date is before the report's date.
    #[serde(default)]
    pub overdue_findings: usize,
}

/// Devices by verdict.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdicts {
    pub restricted: usize,
    pub needs_inspection: usize,
    pub not_restricted: usize,
}

/// The rule id of "needs inspection" findings (`camtrace_policy::INSPECTION_RULE`).
pub const INSPECTION_RULE: &str = "needs-inspection";

impl ReportFinding {
    /// Overdue: open and due before `as_of` (the status says so when the policy engine computed
    /// it; the date decides for inputs written before it did).
    pub fn is_overdue(&self, as_of: NaiveDate) -> bool {
        self.status == "overdue" || (self.status == "open" && self.due.is_some_and(|d| d < as_of))
    }
}

impl ReportInput {
    /// Restrict to one organisation and/or one site (ids or names).
    pub fn scoped(&self, org: Option<&str>, site: Option<&str>) -> ReportInput {
        // The organisation (by id or name) and every organisation below it.
        let subtree: Option<std::collections::HashSet<&str>> = org.map(|o| {
            let mut set: std::collections::HashSet<&str> = self
                .organisations
                .iter()
                .filter(|x| x.id == o || x.name.eq_ignore_ascii_case(o))
                .map(|x| x.id.as_str())
                .collect();
            set.insert(o);
            loop {
                let before = set.len();
                for x in &self.organisations {
                    if x.parent.as_deref().is_some_and(|p| set.contains(p)) {
                        set.insert(x.id.as_str());
                    }
                }
                if set.len() == before {
                    break set;
                }
            }
        });
        let site_ok = |s: &Site| {
            subtree
                .as_ref()
                .is_none_or(|t| t.contains(s.organisation.as_str()))
                && site.is_none_or(|x| s.id == x || s.name.eq_ignore_ascii_case(x))
        };
        let sites: Vec<Site> = self.sites.iter().filter(|s| site_ok(s)).cloned().collect();
        let ids: std::collections::HashSet<&str> = sites.iter().map(|s| s.id.as_str()).collect();
        let in_scope = |s: &str| ids.contains(s);
        let orgs: std::collections::HashSet<&str> =
            sites.iter().map(|s| s.organisation.as_str()).collect();
        let devices: Vec<ReportDevice> = self
            .devices
            .iter()
            .filter(|d| in_scope(&d.site))
            .cloned()
            .collect();
        let dev_ids: std::collections::HashSet<String> =
            devices.iter().map(|d| d.id.clone()).collect();
        let plan = self.plan.as_ref().map(|p| {
            let mut p = p.clone();
            p.rows.retain(|r| in_scope(&r.site));
            p.sites.retain(|s| in_scope(&s.site));
            p.total_cost = p
                .rows
                .iter()
                .filter(|r| r.selected)
                .map(|r| r.cost.total)
                .sum::<u64>()
                + p.sites
                    .iter()
                    .filter(|s| s.visited)
                    .map(|s| s.overhead)
                    .sum::<u64>();
            p.total_risk = p.rows.iter().map(|r| r.risk.score as u64).sum();
            p.risk_removed = p
                .rows
                .iter()
                .filter(|r| r.selected)
                .map(|r| r.risk_removed)
                .sum();
            p
        });
        let mut title = self.title.clone();
        if let Some(o) = org {
            let name = self
                .organisations
                .iter()
                .find(|x| x.id == o || x.name.eq_ignore_ascii_case(o))
                .map(|x| x.name.as_str())
                .unwrap_or(o);
            title = format!("{title}: {name}");
        }
        if let Some(s) = site {
            let name = sites.first().map(|x| x.name.as_str()).unwrap_or(s);
            title = format!("{title}: {name}");
        }
        ReportInput {
            title,
            as_of: self.as_of,
            generated: self.generated.clone(),
            kb_version: self.kb_version.clone(),
            history_head: self.history_head.clone(),
            organisations: self
                .organisations
                .iter()
                .filter(|o| orgs.contains(o.id.as_str()))
                .cloned()
                .collect(),
            devices,
            findings: self
                .findings
                .iter()
                .filter(|f| in_scope(&f.site))
                .cloned()
                .collect(),
            plan,
            waivers: self
                .waivers
                .iter()
                .filter(|w| in_scope(&w.site))
                .cloned()
                .collect(),
            evidence: self
                .evidence
                .iter()
                .filter(|e| in_scope(&e.site) && dev_ids.contains(&e.device))
                .cloned()
                .collect(),
            // History is estate-wide unless recomputed by the caller for the scope.
            history: self.history.clone(),
            reconciliation: self.reconciliation.as_ref().map(|r| Reconciliation {
                unregistered: r
                    .unregistered
                    .iter()
                    .filter(|d| dev_ids.contains(*d))
                    .cloned()
                    .collect(),
                missing: r
                    .missing
                    .iter()
                    .filter(|d| dev_ids.contains(*d))
                    .cloned()
                    .collect(),
                mismatched: r
                    .mismatched
                    .iter()
                    .filter(|m| dev_ids.contains(&m.0))
                    .cloned()
                    .collect(),
            }),
            regimes: self.regimes.clone(),
            sites,
        }
    }

    pub fn summary(&self) -> Summary {
        let sensitive: std::collections::HashSet<&str> = self
            .sites
            .iter()
            .filter(|s| s.criteria.is_sensitive())
            .map(|s| s.id.as_str())
            .collect();
        let open: Vec<&ReportFinding> = self
            .findings
            .iter()
            .filter(|f| f.status != "waived")
            .collect();
        let mut restricted: Vec<(&str, &str)> = open
            .iter()
            .map(|f| (f.device.as_str(), f.site.as_str()))
            .collect();
        restricted.sort();
        restricted.dedup();
        let mut by_ob = BTreeMap::new();
        for f in &open {
            *by_ob.entry(f.obligation.clone()).or_insert(0) += 1;
        }
        let verdicts = self.verdicts();
        let registered = self.devices.iter().filter(|d| d.registered).count();
        Summary {
            organisations: self.organisations.len(),
            sites: self.sites.len(),
            sensitive_sites: sensitive.len(),
            devices: registered,
            unregistered: self.devices.len() - registered,
            restricted_devices: restricted.len(),
            restricted_on_sensitive_sites: restricted
                .iter()
                .filter(|(_, s)| sensitive.contains(s))
                .count(),
            open_findings: open.len(),
            findings_by_obligation: by_ob,
            active_waivers: self.waivers.iter().filter(|w| !w.expired).count(),
            expired_waivers: self.waivers.iter().filter(|w| w.expired).count(),
            plan_cost: self.plan.as_ref().map(|p| p.total_cost),
            plan_budget: self.plan.as_ref().and_then(|p| p.budget),
            plan_selected: self
                .plan
                .as_ref()
                .map_or(0, |p| p.rows.iter().filter(|r| r.selected).count()),
            plan_waiting: self
                .plan
                .as_ref()
                .map_or(0, |p| p.rows.iter().filter(|r| !r.selected).count()),
            currency: self.plan.as_ref().map(|p| p.currency.clone()),
            verdicts: Verdicts {
                restricted: verdicts
                    .values()
                    .filter(|v| **v == Verdict::Restricted)
                    .count(),
                needs_inspection: verdicts
                    .values()
                    .filter(|v| **v == Verdict::NeedsInspection)
                    .count(),
                not_restricted: registered.saturating_sub(verdicts.len()),
            },
            overdue_findings: self
                .findings
                .iter()
                .filter(|f| f.is_overdue(self.as_of))
                .count(),
        }
    }

    /// The verdict of every device with a finding (devices without one are not restricted).
    pub fn verdicts(&self) -> std::collections::HashMap<&str, Verdict> {
        let mut out = std::collections::HashMap::new();
        for f in &self.findings {
            let v = if f.rule == INSPECTION_RULE {
                Verdict::NeedsInspection
            } else {
                Verdict::Restricted
            };
            let e = out.entry(f.device.as_str()).or_insert(v);
            if v == Verdict::Restricted {
                *e = v;
            }
        }
        out
    }
}

/// One device's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Restricted,
    NeedsInspection,
    NotRestricted,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Restricted => "restricted",
            Self::NeedsInspection => "needs inspection",
            Self::NotRestricted => "not restricted",
        }
    }
}
