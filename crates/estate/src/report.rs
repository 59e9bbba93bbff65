//! The report's input for a scope, and the progress series. The CLI's `camtrace report` and
//! the server's report endpoints both call [`report_input`]: the same scope gives the same
//! report.

use crate::judge::{judge, Judged};
use crate::plan::PlanSettings;
use crate::Result;
use camtrace_kb::Kb;
use camtrace_model::Estate;
use camtrace_plan::{Catalogue, CostBook, Plan};
use camtrace_policy::PolicySet;
use camtrace_report::{
    EvidenceItem, HistoryPoint, Reconciliation, ReportDevice, ReportFinding, ReportInput,
    ReportWaiver,
};
use camtrace_store::{EstateFilter, FindingsSnapshot, SnapshotFilter, Store};
use chrono::NaiveDate;
use std::collections::{BTreeSet, HashMap, HashSet};

/// Regime name under which report snapshots (restricted devices by sensitivity) are stored.
pub const SNAPSHOT_KEY: &str = "camtrace-report";
/// The title of a report when none is given.
pub const DEFAULT_TITLE: &str = "Surveillance equipment: restricted makers and remediation";
/// Most evidence items carried into a report.
pub const MAX_EVIDENCE: usize = 20_000;

/// What part of the estate a report covers.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// The organisations the caller may read; `None`: all (the CLI, a central role).
    pub readable: Option<BTreeSet<String>>,
    /// Only this organisation and those below it.
    pub org: Option<String>,
    /// Only this site.
    pub site: Option<String>,
}

/// The knowledge a report is judged and planned with.
pub struct Knowledge<'a> {
    pub kb: &'a Kb,
    pub kb_version: &'a str,
    pub policies: &'a PolicySet,
    /// The cost book; without one the report has no plan.
    pub costs: Option<&'a CostBook>,
    pub catalogue: Option<&'a Catalogue>,
}

/// A report to build.
#[derive(Debug, Clone)]
pub struct ReportRequest {
    pub scope: Scope,
    pub title: String,
    /// The date the report describes.
    pub as_of: NaiveDate,
    /// Rebuild the register as it stood at the end of `as_of` from its history (the CLI's
    /// `--as-of`), instead of reading it as it is now.
    pub rebuild: bool,
    /// Regime ids (empty: every regime that is not opt-in).
    pub regimes: Vec<String>,
    /// Plan settings (budget, period); `None`: no plan section.
    pub plan: Option<PlanSettings>,
    /// Store this report's progress point (a report run records one; a read does not).
    pub record_progress: bool,
}

/// Only the parts of `estate` in organisations of `readable`.
fn restrict(mut e: Estate, readable: &BTreeSet<String>) -> Estate {
    e.organisations.retain(|o| readable.contains(&o.id));
    e.sites.retain(|s| readable.contains(&s.organisation));
    let sites: HashSet<String> = e.sites.iter().map(|s| s.id.clone()).collect();
    e.zones.retain(|z| sites.contains(&z.site));
    e.networks.retain(|n| sites.contains(&n.site));
    e.devices.retain(|d| sites.contains(&d.site));
    let devices: HashSet<String> = e.devices.iter().map(|d| d.id.clone()).collect();
    e.identifications.retain(|i| match (&i.device_id, &i.site) {
        (Some(d), _) => devices.contains(d),
        (None, Some(s)) => sites.contains(s),
        (None, None) => false,
    });
    e.waivers.retain(|w| devices.contains(&w.device_id));
    e
}

/// The report input for a scope: the estate loaded (or rebuilt as of a date), narrowed to what
/// the caller may read, judged, planned, with its reconciliation, evidence and progress series.
pub async fn report_input(
    store: &dyn Store,
    k: &Knowledge<'_>,
    req: &ReportRequest,
) -> Result<ReportInput> {
    let filter = EstateFilter {
        organisation: req.scope.org.clone(),
        site: req.scope.site.clone(),
    };
    let estate = if req.rebuild {
        store.estate_as_of(req.as_of, &filter).await?
    } else {
        store.load_estate(&filter).await?
    };
    let estate = match &req.scope.readable {
        Some(r) => restrict(estate, r),
        None => estate,
    };
    let judged = judge(k.kb, k.policies, estate, &req.regimes, req.as_of)?;
    let plan = match (&req.plan, k.costs) {
        (Some(s), Some(costs)) => {
            let empty = Catalogue::default();
            Some(crate::plan::plan_with(
                costs,
                k.catalogue.unwrap_or(&empty),
                &judged,
                s,
            ))
        }
        _ => None,
    };
    let hist = history(
        store,
        &judged,
        req.as_of,
        req.scope.org.as_deref(),
        req.scope.site.as_deref(),
        req.record_progress,
    )
    .await?;
    let mut input = build_input(
        k.kb,
        k.kb_version,
        &judged,
        plan,
        req.as_of,
        &req.title,
        hist,
    );
    input.history_head = store.history_head().await?.map(|h| h.to_string());
    Ok(match (&req.scope.org, &req.scope.site) {
        (None, None) => input,
        (o, s) => input.scoped(o.as_deref(), s.as_deref()),
    })
}

/// Build the report input from a judged estate and its plan.
/// Letters and digits, lower case (`CP PLUS` = `cp-plus`).
fn norm(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Register and wire disagree on who made the device: the register's maker (or the maker its
/// brand resolves to through the knowledge base, rebrands included) is not the identified
/// maker, and the brands differ too. Returns (what the register says, what the wire says).
fn mismatch(
    kb: &Kb,
    d: &camtrace_model::Device,
    i: &camtrace_model::Identification,
    date: NaiveDate,
) -> Option<(String, String)> {
    let wire = i.maker.as_ref()?;
    let reg_text = d.maker.as_deref().or(d.brand.as_deref())?;
    // the same reading of the register as `camtrace reconcile`
    let reg_maker = crate::attribution::register_maker(kb, d, date);
    if reg_maker.as_deref() == Some(wire.id.as_str()) {
        return None;
    }
    let same_brand = match (&d.brand, &i.brand) {
        (Some(rb), Some(wb)) => norm(rb) == norm(&wb.id) || norm(rb) == norm(&wb.name),
        _ => false,
    };
    if same_brand {
        return None;
    }
    Some((reg_text.to_string(), wire.name.clone()))
}

pub fn build_input(
    kb: &Kb,
    kb_version: &str,
    j: &Judged,
    plan: Option<Plan>,
    as_of: NaiveDate,
    title: &str,
    history: Vec<HistoryPoint>,
) -> ReportInput {
    let e = &j.estate;
    let site_of: HashMap<&str, &str> = e
        .devices
        .iter()
        .map(|d| (d.id.as_str(), d.site.as_str()))
        .collect();
    let ident_of: HashMap<&str, &camtrace_model::Identification> = e
        .identifications
        .iter()
        .filter_map(|s| s.device_id.as_deref().map(|d| (d, &s.identification)))
        .collect();
    // Counted as `camtrace_store::reconcile::device_counts` counts: a device adopted from
    // discovery is in the register; a discovery is "found, not in register" when it is linked to
    // no register device and identified (unidentified hosts are not devices).
    let from_discovery = camtrace_store::reconcile::is_adopted;
    let maker_of = |d: &camtrace_model::Device| -> Option<(String, &'static str)> {
        if let Some(m) = &d.maker {
            return Some((m.clone(), "register"));
        }
        if let Some(m) = ident_of.get(d.id.as_str()).and_then(|i| i.maker.as_ref()) {
            return Some((m.id.clone(), "discovered"));
        }
        crate::attribution::register_maker(kb, d, as_of).map(|m| (m, "brand"))
    };
    let mut devices: Vec<ReportDevice> = e
        .devices
        .iter()
        .map(|d| {
            // The declared maker, else the one the wire settled, else the one the brand is
            // attributed to at the device's date (the one attribution rule), saying which.
            let (maker, maker_basis) = match maker_of(d) {
                Some((m, b)) => (Some(m), Some(b.to_string())),
                None => (None, None),
            };
            ReportDevice {
                id: d.id.clone(),
                site: d.site.clone(),
                brand: d.brand.clone(),
                maker,
                maker_basis,
                model: d.model.clone(),
                class: d.class.as_str().to_string(),
                status: d.status.as_str().to_string(),
                addresses: d.addresses.clone(),
                network: d.network.clone(),
                confidence: d.confidence,
                registered: true,
                discovered: ident_of.contains_key(d.id.as_str()),
            }
        })
        .collect();
    for s in e
        .identifications
        .iter()
        .filter(|s| camtrace_store::reconcile::is_unregistered(s))
    {
        let i = &s.identification;
        devices.push(ReportDevice {
            id: format!("{}/{}", s.site.clone().unwrap_or_default(), i.target),
            site: s.site.clone().unwrap_or_default(),
            brand: i.brand.as_ref().map(|b| b.id.clone()),
            maker: i.maker.as_ref().map(|m| m.id.clone()),
            maker_basis: i.maker.as_ref().map(|_| "discovered".into()),
            model: i.model.clone(),
            class: i.device_class.as_str().to_string(),
            status: "installed".into(),
            addresses: vec![i.target.clone()],
            network: None,
            confidence: Some(i.confidence),
            registered: false,
            discovered: true,
        });
    }
    // Reconciliation: found-not-registered, registered-not-found (on scanned sites), mismatches.
    let scanned: HashSet<&str> = e
        .identifications
        .iter()
        .filter_map(|s| s.site.as_deref())
        .collect();
    let mut rec = Reconciliation::default();
    for d in &devices {
        if !d.registered {
            rec.unregistered.push(d.id.clone());
        }
    }
    for d in &e.devices {
        if from_discovery(d) {
            continue;
        }
        let ident = ident_of.get(d.id.as_str());
        if ident.is_none()
            && scanned.contains(d.site.as_str())
            && d.status == camtrace_model::DeviceStatus::Installed
        {
            rec.missing.push(d.id.clone());
        }
        if let Some(i) = ident {
            if let Some(why) = mismatch(kb, d, i, as_of) {
                rec.mismatched.push((d.id.clone(), why.0, why.1));
            }
        }
    }
    let findings: Vec<ReportFinding> = j
        .findings
        .iter()
        .map(|f| ReportFinding {
            device: f.device_id.to_string(),
            site: f.site_id.to_string(),
            regime: f.regime_id.to_string(),
            rule: f.rule_id.to_string(),
            obligation: f.obligation.as_str().to_string(),
            status: f.state().to_string(),
            reasons: f.reasons.iter().map(|r| r.to_string()).collect(),
            due: f.due,
            citation: Some(f.citation.locator()),
        })
        .collect();
    let waivers = e
        .waivers
        .iter()
        .map(|w| ReportWaiver {
            id: w.id.clone(),
            subject: w.device_id.clone(),
            site: site_of
                .get(w.device_id.as_str())
                .map(|s| s.to_string())
                .unwrap_or_default(),
            regime: w.rule_id.split('/').next().unwrap_or_default().to_string(),
            approver: w.approver.clone(),
            reason: w.reason.clone(),
            expires: w.expires_on,
            expired: !w.active_on(as_of),
        })
        .collect();
    let with_findings: BTreeSet<&str> = j.findings.iter().map(|f| &*f.device_id).collect();
    let mut evidence = Vec::new();
    for s in &e.identifications {
        let Some(dev) = s.device_id.as_deref() else {
            continue;
        };
        if !with_findings.contains(dev) {
            continue;
        }
        for ev in &s.identification.evidence {
            if evidence.len() >= MAX_EVIDENCE {
                break;
            }
            evidence.push(EvidenceItem {
                device: dev.to_string(),
                site: s.site.clone().unwrap_or_default(),
                kind: ev.kind.clone(),
                detail: ev.detail.clone(),
                signature: ev.signature.clone(),
                source: ev.source.clone(),
            });
        }
    }
    ReportInput {
        title: title.to_string(),
        as_of,
        generated: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        kb_version: kb_version.to_string(),
        organisations: e.organisations.clone(),
        sites: e.sites.clone(),
        devices,
        findings,
        plan,
        waivers,
        evidence,
        history,
        reconciliation: Some(rec),
        regimes: j.regimes.clone(),
        history_head: None,
    }
}

/// Restricted devices (actionable findings) by site sensitivity.
pub fn restricted_counts(j: &Judged) -> (u64, u64) {
    let sensitive: HashSet<&str> = j
        .estate
        .sites
        .iter()
        .filter(|s| s.criteria.is_sensitive())
        .map(|s| s.id.as_str())
        .collect();
    let devs: BTreeSet<(&str, &str)> = j
        .findings
        .iter()
        .filter(|f| f.status.is_actionable())
        .map(|f| (&*f.device_id, &*f.site_id))
        .collect();
    let s = devs
        .iter()
        .filter(|(_, site)| sensitive.contains(site))
        .count() as u64;
    (s, devs.len() as u64 - s)
}

/// The progress series of a scope: the stored points up to `as_of` and this judgement's own
/// point for `as_of`. With `record`, this point is stored too (one per date and scope: a later
/// run the same day replaces it), so that the next report shows the trend.
pub async fn history(
    store: &dyn Store,
    j: &Judged,
    as_of: NaiveDate,
    org: Option<&str>,
    site: Option<&str>,
    record: bool,
) -> Result<Vec<HistoryPoint>> {
    let (s, o) = restricted_counts(j);
    let snap = FindingsSnapshot {
        date: as_of,
        regime: SNAPSHOT_KEY.into(),
        organisation: org.unwrap_or_default().into(),
        site: site.unwrap_or_default().into(),
        counts: serde_json::json!({"restricted_sensitive": s, "restricted_other": o, "regimes": j.regimes}),
        recorded_at: String::new(),
    };
    if record {
        store.record_snapshot(&snap, "camtrace report").await?;
    }
    let snaps = store
        .snapshots(&SnapshotFilter {
            regime: Some(SNAPSHOT_KEY.into()),
            organisation: Some(org.unwrap_or_default().into()),
            site: Some(site.unwrap_or_default().into()),
            since: None,
            until: Some(as_of),
        })
        .await?;
    let mut points: Vec<HistoryPoint> = snaps
        .iter()
        .filter(|x| x.date <= as_of)
        .map(|x| HistoryPoint {
            date: x.date,
            sensitive: x.counts["restricted_sensitive"].as_u64().unwrap_or(0),
            other: x.counts["restricted_other"].as_u64().unwrap_or(0),
        })
        .collect();
    // This judgement's own point for `as_of` replaces a stored one of the same date.
    points.retain(|p| p.date != as_of);
    points.push(HistoryPoint {
        date: as_of,
        sensitive: s,
        other: o,
    });
    points.sort_by_key(|p| p.date);
    Ok(points)
}
