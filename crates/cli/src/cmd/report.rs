//! `camtrace report`: printable HTML per organisation and per site, with CSV, JSON and XLSX
//! exports, dated, naming the knowledge-base version, reproducible with `--as-of`.

use crate::cmd::plan::{
    judge, load_estate, load_policies, make_plan, parse_date, runtime, today, Judged, PlanSettings,
};
use crate::common::Global;
use anyhow::Context;
use camtrace_kb::{Kb, KbFiles};
use camtrace_plan::{Method, Plan};
use camtrace_report::{
    write_report, EvidenceItem, HistoryPoint, Reconciliation, ReportDevice, ReportFinding,
    ReportInput, ReportWaiver,
};
use camtrace_store::{FindingsSnapshot, SnapshotFilter, Store};
use chrono::NaiveDate;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::PathBuf;
use std::process::ExitCode;

/// Regime name under which report snapshots (restricted devices by sensitivity) are stored.
pub(crate) const SNAPSHOT_KEY: &str = "camtrace-report";
/// Most evidence items carried into a report.
const MAX_EVIDENCE: usize = 20_000;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Only this organisation (and those below it).
    #[arg(long)]
    pub org: Option<String>,
    /// Only this site.
    #[arg(long)]
    pub site: Option<String>,
    /// Report the state at the end of this date (YYYY-MM-DD), rebuilt from stored history.
    #[arg(long, value_name = "DATE")]
    pub as_of: Option<String>,
    /// Regimes to apply (repeatable); default: every regime that is not opt-in.
    #[arg(long = "regime", value_name = "ID")]
    pub regimes: Vec<String>,
    /// Budget for the plan section, in whole currency units.
    #[arg(long, value_name = "AMOUNT")]
    pub budget: Option<u64>,
    #[arg(long, value_name = "P")]
    pub period: Option<String>,
    #[arg(
        long,
        default_value = "Surveillance equipment: restricted makers and remediation"
    )]
    pub title: String,
    /// Output directory (index.html, site-*.html, *.csv, report.json, report.xlsx).
    #[arg(long)]
    pub out: PathBuf,
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
    let reg_maker = super::reconcile::register_maker(kb, d, date);
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

pub(crate) fn build_input(
    kb: &Kb,
    files: &KbFiles,
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
    let from_discovery =
        |d: &camtrace_model::Device| d.notes.as_deref() == Some("registered from discovery");
    let mut devices: Vec<ReportDevice> = e
        .devices
        .iter()
        .map(|d| ReportDevice {
            id: d.id.clone(),
            site: d.site.clone(),
            brand: d.brand.clone(),
            maker: d.maker.clone().or_else(|| {
                ident_of
                    .get(d.id.as_str())
                    .and_then(|i| i.maker.as_ref().map(|m| m.id.clone()))
            }),
            model: d.model.clone(),
            class: d.class.as_str().to_string(),
            status: d.status.as_str().to_string(),
            addresses: d.addresses.clone(),
            network: d.network.clone(),
            confidence: d.confidence,
            registered: !from_discovery(d),
            discovered: ident_of.contains_key(d.id.as_str()),
        })
        .collect();
    for s in e.identifications.iter().filter(|s| s.device_id.is_none()) {
        let i = &s.identification;
        devices.push(ReportDevice {
            id: format!("{}/{}", s.site.clone().unwrap_or_default(), i.target),
            site: s.site.clone().unwrap_or_default(),
            brand: i.brand.as_ref().map(|b| b.id.clone()),
            maker: i.maker.as_ref().map(|m| m.id.clone()),
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
            status: f.status.as_str().to_string(),
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
        kb_version: files.version(),
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
pub(crate) fn restricted_counts(j: &Judged) -> (u64, u64) {
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

/// Record today's counts and return the stored series up to `as_of`.
pub(crate) async fn history(
    store: &dyn Store,
    j: &Judged,
    as_of: NaiveDate,
    org: Option<&str>,
    site: Option<&str>,
) -> anyhow::Result<Vec<HistoryPoint>> {
    let (s, o) = restricted_counts(j);
    let snap = FindingsSnapshot {
        date: as_of,
        regime: SNAPSHOT_KEY.into(),
        organisation: org.unwrap_or_default().into(),
        site: site.unwrap_or_default().into(),
        counts: serde_json::json!({"restricted_sensitive": s, "restricted_other": o, "regimes": j.regimes}),
        recorded_at: String::new(),
    };
    store.record_snapshot(&snap, "camtrace report").await?;
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
    points.sort_by_key(|p| p.date);
    points.dedup_by_key(|p| p.date);
    Ok(points)
}

pub fn run(g: &Global, a: Args) -> anyhow::Result<ExitCode> {
    let files = g.kb_files()?;
    let kb = g.load_kb()?;
    let policies = load_policies(&files)?;
    let as_of_given = a.as_of.as_deref().map(parse_date).transpose()?;
    let as_of = as_of_given.unwrap_or_else(today);
    let rt = runtime()?;
    let estate = rt.block_on(load_estate(
        &g.db,
        a.org.as_deref(),
        a.site.as_deref(),
        as_of_given,
    ))?;
    let judged = judge(&kb, &policies, estate, &a.regimes, as_of)?;
    let plan = make_plan(
        &files,
        &kb,
        &judged,
        &PlanSettings {
            budget: a.budget,
            period: a.period.clone(),
            method: Method::Exact,
            as_of,
        },
    )?;
    let (hist, head) = rt.block_on(async {
        let store = camtrace_store::open(&g.db).await?;
        let hist = history(
            store.as_ref(),
            &judged,
            as_of,
            a.org.as_deref(),
            a.site.as_deref(),
        )
        .await?;
        anyhow::Ok((hist, store.history_head().await?))
    })?;
    let mut input = build_input(&kb, &files, &judged, Some(plan), as_of, &a.title, hist);
    input.history_head = head.map(|h| h.to_string());
    let scoped = if a.org.is_some() || a.site.is_some() {
        input.scoped(a.org.as_deref(), a.site.as_deref())
    } else {
        input
    };
    let w = write_report(&scoped, &a.out)
        .with_context(|| format!("writing the report to {}", a.out.display()))?;
    let s = scoped.summary();
    println!(
        "Report as of {as_of} (knowledge base {}): {} devices, {} restricted ({} on sensitive sites), {} open findings.",
        scoped.kb_version, s.devices, s.restricted_devices, s.restricted_on_sensitive_sites, s.open_findings
    );
    println!(
        "Written: {} (+ {} files in {})",
        w.index.display(),
        w.files.len() - 1,
        a.out.display()
    );
    Ok(ExitCode::SUCCESS)
}
