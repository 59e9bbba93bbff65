//! The printable HTML report (askama template `templates/report.html`).

use crate::{chart, ReportDevice, ReportInput};
use askama::Template;

/// Most evidence rows shown in the HTML appendix (all are in JSON and XLSX).
pub const MAX_HTML_EVIDENCE: usize = 2000;
/// Most rows of the findings and plan tables in HTML (all are in CSV, JSON and XLSX).
pub const MAX_HTML_ROWS: usize = 5000;

pub struct SiteLink {
    pub id: String,
    pub name: String,
    pub href: String,
    pub org: String,
    pub org_href: String,
    pub criteria: String,
    pub devices: usize,
    pub restricted: usize,
}

pub struct FindingView {
    pub device: String,
    /// What the device is, in a few words (brand, maker, model).
    pub what: String,
    pub site: String,
    /// The duty in plain words ("Disconnect from core network").
    pub duty: String,
    /// CSS class: `overdue`, `open`, `waived`, `inspect`.
    pub class: String,
    /// Where it stands in words ("OVERDUE since 30 Apr 2025", "due 31 Mar 2027").
    pub state: String,
    /// `regime/rule`.
    pub rule: String,
}

/// A row of the evidence appendix: one distinct piece of evidence and the devices it was seen on.
pub struct EvidenceView {
    pub kind: String,
    pub detail: String,
    pub signature: String,
    pub source: String,
    pub devices: usize,
    pub examples: String,
}

/// A site's line in the summary: devices by verdict.
pub struct SiteVerdicts {
    pub name: String,
    pub sensitive: bool,
    pub devices: usize,
    pub restricted: usize,
    pub inspect: usize,
    pub cleared: usize,
    pub overdue: usize,
}

/// A duty's line in the summary.
pub struct DutyLine {
    pub duty: String,
    pub open: usize,
    pub overdue: usize,
    pub next_due: String,
}

pub struct PlanRowView {
    pub device: String,
    pub site: String,
    pub maker: String,
    pub action: String,
    pub risk: String,
    pub risk_parts: String,
    pub cost: String,
    pub alternatives: String,
    pub wait: String,
}

#[derive(Template)]
#[template(path = "report.html")]
pub struct Page {
    pub title: String,
    pub as_of: String,
    pub generated: String,
    pub kb_version: String,
    pub history_head: String,
    pub regimes: String,
    pub s: crate::Summary,
    pub plan_cost: String,
    pub obligations: Vec<(String, usize)>,
    pub chart: String,
    pub site_links: Vec<SiteLink>,
    pub has_recon: bool,
    pub recon: Vec<(String, String, String)>,
    pub findings: Vec<FindingView>,
    /// Each rule of the findings once, with its citation shortened for print.
    pub rules: Vec<(String, String)>,
    pub has_plan: bool,
    pub plan_header: String,
    pub plan_method: String,
    pub plan_costs_source: String,
    pub plan_rows: Vec<PlanRowView>,
    pub waiting_rows: Vec<PlanRowView>,
    pub visits: Vec<(String, u64, String)>,
    pub waivers: Vec<crate::ReportWaiver>,
    pub evidence: Vec<EvidenceView>,
    pub evidence_truncated: usize,
    pub evidence_items: usize,
    pub verdicts: crate::Verdicts,
    pub site_verdicts: Vec<SiteVerdicts>,
    pub duties: Vec<DutyLine>,
    pub pace: Vec<String>,
    pub rows_truncated: usize,
}

/// File name of an organisation's page.
pub fn org_file(id: &str) -> String {
    format!("org-{}", &site_file(id)["site-".len()..])
}

/// File name of a site's page.
pub fn site_file(id: &str) -> String {
    let safe: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("site-{safe}.html")
}

/// Render one page. `with_site_links`: list the sites with links to their pages.
pub fn render(r: &ReportInput, with_site_links: bool) -> Result<String, askama::Error> {
    let s = r.summary();
    let cur = s.currency.clone().unwrap_or_default();
    let plan_cost = match (s.plan_cost, s.plan_budget) {
        (Some(c), Some(b)) => format!("{cur} {c} / {cur} {b}"),
        (Some(c), None) => format!("{cur} {c} (no budget)"),
        _ => "no plan".into(),
    };
    let site_links = if with_site_links {
        r.sites
            .iter()
            .map(|site| {
                let restricted: std::collections::BTreeSet<&str> = r
                    .findings
                    .iter()
                    .filter(|f| f.site == site.id && f.status != "waived")
                    .map(|f| f.device.as_str())
                    .collect();
                SiteLink {
                    id: site.id.clone(),
                    name: site.name.clone(),
                    href: site_file(&site.id),
                    org_href: org_file(&site.organisation),
                    org: r
                        .organisations
                        .iter()
                        .find(|o| o.id == site.organisation)
                        .map(|o| o.name.clone())
                        .unwrap_or_else(|| site.organisation.clone()),
                    criteria: {
                        let c = site.criteria.reasons();
                        if c.is_empty() {
                            "not sensitive".into()
                        } else {
                            c.join("; ")
                        }
                    },
                    devices: r
                        .devices
                        .iter()
                        .filter(|d| d.site == site.id && d.registered)
                        .count(),
                    restricted: restricted.len(),
                }
            })
            .collect()
    } else {
        Vec::new()
    };
    let mut recon = Vec::new();
    if let Some(rc) = &r.reconciliation {
        let by_id: std::collections::HashMap<&str, &ReportDevice> =
            r.devices.iter().map(|d| (d.id.as_str(), d)).collect();
        let detail = |id: &str| by_id.get(id).map(|d| describe(d)).unwrap_or_default();
        for d in &rc.unregistered {
            recon.push(("found, not in register".to_string(), d.clone(), detail(d)));
        }
        for d in &rc.missing {
            recon.push(("in register, not found".to_string(), d.clone(), detail(d)));
        }
        for (d, reg, wire) in &rc.mismatched {
            recon.push((
                "mismatch".to_string(),
                d.clone(),
                format!("register says {reg}, wire says {wire}"),
            ));
        }
    }
    let by_id: std::collections::HashMap<&str, &ReportDevice> =
        r.devices.iter().map(|d| (d.id.as_str(), d)).collect();
    let site_name = |id: &str| {
        r.sites
            .iter()
            .find(|x| x.id == id)
            .map(|x| x.name.clone())
            .unwrap_or_else(|| id.to_string())
    };
    // Overdue first, then by due date, site and device: what is late leads.
    let mut order: Vec<&crate::ReportFinding> = r.findings.iter().collect();
    order.sort_by_key(|f| {
        (
            !f.is_overdue(r.as_of),
            f.status == "waived",
            f.due.unwrap_or(chrono::NaiveDate::MAX),
            f.site.clone(),
            f.device.clone(),
        )
    });
    let findings = order
        .iter()
        .take(MAX_HTML_ROWS)
        .map(|f| {
            let (class, state) = state_words(f, r.as_of);
            FindingView {
                device: f.device.clone(),
                what: by_id
                    .get(f.device.as_str())
                    .map(|d| short(d))
                    .unwrap_or_default(),
                site: site_name(&f.site),
                duty: duty_words(f),
                class,
                state,
                rule: format!("{}/{}", f.regime, f.rule),
            }
        })
        .collect();
    let verdicts = r.verdicts();
    let site_verdicts = r
        .sites
        .iter()
        .map(|site| {
            // The register's devices, as `camtrace sites` counts them.
            let devs: Vec<&ReportDevice> = r
                .devices
                .iter()
                .filter(|d| d.site == site.id && d.registered)
                .collect();
            let count = |v: crate::Verdict| {
                devs.iter()
                    .filter(|d| {
                        verdicts
                            .get(d.id.as_str())
                            .copied()
                            .unwrap_or(crate::Verdict::NotRestricted)
                            == v
                    })
                    .count()
            };
            SiteVerdicts {
                name: site.name.clone(),
                sensitive: site.criteria.is_sensitive(),
                devices: devs.len(),
                restricted: count(crate::Verdict::Restricted),
                inspect: count(crate::Verdict::NeedsInspection),
                cleared: count(crate::Verdict::NotRestricted),
                overdue: r
                    .findings
                    .iter()
                    .filter(|f| f.site == site.id && f.is_overdue(r.as_of))
                    .count(),
            }
        })
        .collect();
    let mut duties: std::collections::BTreeMap<String, DutyLine> = Default::default();
    for f in r.findings.iter().filter(|f| f.status != "waived") {
        let d = duty_words(f);
        let line = duties.entry(d.clone()).or_insert(DutyLine {
            duty: d,
            open: 0,
            overdue: 0,
            next_due: String::new(),
        });
        line.open += 1;
        if f.is_overdue(r.as_of) {
            line.overdue += 1;
        } else if let Some(due) = f.due {
            let text = day(due);
            if line.next_due.is_empty() {
                line.next_due = text;
            }
        }
    }
    let rules: Vec<(String, String)> = r
        .findings
        .iter()
        .map(|f| {
            (
                format!("{}/{}", f.regime, f.rule),
                f.citation.as_deref().map(shorten).unwrap_or_default(),
            )
        })
        .collect::<std::collections::BTreeMap<_, _>>()
        .into_iter()
        .collect();
    let evidence_all = dedupe_evidence(&r.evidence);
    let evidence_items = evidence_all.len();
    let view = |row: &camtrace_plan::PlanRow, cur: &str| PlanRowView {
        device: row.device.clone(),
        site: row.site_name.clone(),
        maker: format!(
            "{} {}",
            row.maker
                .clone()
                .or(row.brand.clone())
                .unwrap_or_else(|| "unknown".into()),
            row.model.clone().unwrap_or_default()
        ),
        action: row.action.as_str().to_string(),
        risk: row.risk.score.to_string(),
        risk_parts: row.risk.summary(),
        cost: format!("{cur} {}", row.cost.total),
        alternatives: row
            .alternatives
            .iter()
            .map(|a| format!("{} {}", a.maker, a.model))
            .collect::<Vec<_>>()
            .join("; "),
        wait: row.wait_reason.clone().unwrap_or_default(),
    };
    let (has_plan, plan_header, plan_method, plan_costs_source, plan_rows, waiting_rows, visits) = match &r.plan {
        Some(p) => (
            true,
            format!(
                "Period {}: {} actions selected for {} {} of a budget of {}; they remove {:.0} of {} risk points. {} devices must wait.",
                p.period.clone().unwrap_or_else(|| "unspecified".into()),
                p.rows.iter().filter(|x| x.selected).count(),
                p.currency,
                p.total_cost,
                p.budget.map(|b| format!("{} {b}", p.currency)).unwrap_or_else(|| "none".into()),
                p.risk_removed,
                p.total_risk,
                p.rows.iter().filter(|x| !x.selected).count()
            ),
            p.method.clone(),
            p.costs_source.clone(),
            p.rows.iter().filter(|x| x.selected).take(MAX_HTML_ROWS).map(|x| view(x, &p.currency)).collect(),
            p.rows.iter().filter(|x| !x.selected).take(MAX_HTML_ROWS).map(|x| view(x, &p.currency)).collect(),
            p.sites.iter().map(|v| (v.site.clone(), v.overhead, if v.visited { "yes".to_string() } else { "no".to_string() })).collect(),
        ),
        None => (false, String::new(), String::new(), String::new(), Vec::new(), Vec::new(), Vec::new()),
    };
    let s_verdicts = s.verdicts;
    let page = Page {
        s: s.clone(),
        title: r.title.clone(),
        as_of: r.as_of.to_string(),
        generated: r.generated.clone(),
        kb_version: r.kb_version.clone(),
        history_head: r.history_head.clone().unwrap_or_default(),
        regimes: if r.regimes.is_empty() {
            "none".into()
        } else {
            r.regimes.join(", ")
        },
        obligations: s
            .findings_by_obligation
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect(),
        plan_cost,
        chart: chart::progress_svg(&r.history),
        site_links,
        has_recon: !recon.is_empty(),
        recon,
        findings,
        rules,
        has_plan,
        plan_header,
        plan_method,
        plan_costs_source,
        plan_rows,
        waiting_rows,
        visits,
        waivers: r.waivers.clone(),
        evidence_truncated: evidence_items.saturating_sub(MAX_HTML_EVIDENCE),
        evidence: evidence_all.into_iter().take(MAX_HTML_EVIDENCE).collect(),
        evidence_items,
        verdicts: s_verdicts,
        site_verdicts,
        duties: duties.into_values().collect(),
        pace: pace(r),
        rows_truncated: r.findings.len().saturating_sub(MAX_HTML_ROWS)
            + r.plan.as_ref().map_or(0, |p| {
                let sel = p.rows.iter().filter(|x| x.selected).count();
                sel.saturating_sub(MAX_HTML_ROWS)
                    + (p.rows.len() - sel).saturating_sub(MAX_HTML_ROWS)
            }),
    };
    page.render()
}

/// What a reconciliation row is about, in one line: class, brand and maker, model, addresses and
/// identification confidence (e.g. `camera, LTS made by hikvision CMIP3042 at 127.21.2.20 (0.93)`).
fn describe(d: &ReportDevice) -> String {
    let mut parts = vec![d.class.clone()];
    match (&d.brand, &d.maker) {
        (Some(b), Some(m)) if !b.eq_ignore_ascii_case(m) => parts.push(format!("{b} made by {m}")),
        (Some(b), _) => parts.push(b.clone()),
        (None, Some(m)) => parts.push(format!("made by {m}")),
        (None, None) => parts.push("maker unknown".into()),
    }
    if let Some(m) = &d.model {
        parts.push(m.clone());
    }
    if !d.addresses.is_empty() {
        parts.push(format!("at {}", d.addresses.join(", ")));
    }
    let mut text = parts.join(" ");
    if let Some(c) = d.confidence {
        text.push_str(&format!(" (confidence {c:.2})"));
    }
    text
}

/// A date as people write it: `30 Apr 2025`.
pub fn day(d: chrono::NaiveDate) -> String {
    d.format("%-d %b %Y").to_string()
}

/// The duty of a finding in plain words.
pub fn duty_words(f: &crate::ReportFinding) -> String {
    if f.rule == crate::INSPECTION_RULE {
        return "Inspect: establish the maker".into();
    }
    match f.obligation.as_str() {
        "no_new_deployment" => "Do not deploy".into(),
        "disconnect_from_core_network" => "Disconnect from core network".into(),
        "remove_by" => "Remove".into(),
        "replace_at_scheduled_upgrade" => "Replace at scheduled upgrade".into(),
        "review" => "Review and record a decision".into(),
        "cease_use" => "Stop using".into(),
        other => other.replace('_', " "),
    }
}

/// Where a finding stands, as a CSS class and in words.
fn state_words(f: &crate::ReportFinding, as_of: chrono::NaiveDate) -> (String, String) {
    if f.is_overdue(as_of) {
        let since = f.due.map(day).unwrap_or_default();
        return ("overdue".into(), format!("OVERDUE since {since}"));
    }
    match f.status.as_str() {
        "waived" => ("waived".into(), "waived".into()),
        "needs_inspection" => ("inspect".into(), "needs inspection".into()),
        "waiver_expired" => ("overdue".into(), "waiver expired".into()),
        _ => (
            "open".into(),
            match f.due {
                Some(d) => format!("due {}", day(d)),
                None => "now".into(),
            },
        ),
    }
}

/// What a device is, in a few words: `LTS (made by hikvision) CMIP3042`.
fn short(d: &ReportDevice) -> String {
    let who = match (&d.brand, &d.maker) {
        (Some(b), Some(m)) if !b.eq_ignore_ascii_case(m) => format!("{b} (made by {m})"),
        (Some(b), _) => b.clone(),
        (None, Some(m)) => m.clone(),
        (None, None) => "maker unknown".into(),
    };
    match &d.model {
        Some(m) => format!("{who} {m}"),
        None => who,
    }
}

/// A citation cut to about 160 characters at a word boundary, for print.
fn shorten(text: &str) -> String {
    const MAX: usize = 160;
    let t = text.trim();
    if t.chars().count() <= MAX {
        return t.to_string();
    }
    let cut: String = t.chars().take(MAX).collect();
    let end = cut.rfind(' ').unwrap_or(cut.len());
    format!("{}…", &cut[..end])
}

/// One row per distinct piece of evidence (kind, what was seen, signature, source), with the
/// devices it was seen on: the same banner on 300 cameras is one row, not 300.
pub fn dedupe_evidence(items: &[crate::EvidenceItem]) -> Vec<EvidenceView> {
    let mut groups: std::collections::BTreeMap<
        (&str, &str, &str, &str),
        std::collections::BTreeSet<&str>,
    > = Default::default();
    for e in items {
        groups
            .entry((&e.kind, &e.detail, &e.signature, &e.source))
            .or_default()
            .insert(&e.device);
    }
    let mut out: Vec<EvidenceView> = groups
        .into_iter()
        .map(
            |((kind, detail, signature, source), devices)| EvidenceView {
                kind: kind.to_string(),
                detail: detail.to_string(),
                signature: signature.to_string(),
                source: shorten(source),
                devices: devices.len(),
                examples: {
                    let mut ex: Vec<&str> = devices.iter().take(3).copied().collect();
                    if devices.len() > 3 {
                        ex.push("…");
                    }
                    ex.join(", ")
                },
            },
        )
        .collect();
    out.sort_by(|a, b| b.devices.cmp(&a.devices).then(a.kind.cmp(&b.kind)));
    out
}

/// Whether the pace of removals since the first recorded point meets each open deadline.
fn pace(r: &ReportInput) -> Vec<String> {
    let (Some(first), Some(last)) = (r.history.first(), r.history.last()) else {
        return vec!["No progress history yet: each report run records a point.".into()];
    };
    let total = |p: &crate::HistoryPoint| p.sensitive + p.other;
    let days = (last.date - first.date).num_days();
    if days <= 0 {
        return vec![format!(
            "One point so far ({}: {} restricted devices); the pace shows from the next report on.",
            day(last.date),
            total(last)
        )];
    }
    let gone = total(first) as f64 - total(last) as f64;
    let per_month = gone * 30.0 / days as f64;
    let mut out = vec![format!(
        "{} restricted devices on {}, {} on {}: {:.1} a month.",
        total(first),
        day(first.date),
        total(last),
        day(last.date),
        per_month
    )];
    if total(last) == 0 {
        out.push("No restricted device remains.".into());
        return out;
    }
    let finish = (per_month > 0.0).then(|| {
        last.date + chrono::Duration::days((total(last) as f64 / per_month * 30.0).ceil() as i64)
    });
    let mut deadlines: std::collections::BTreeMap<chrono::NaiveDate, String> = Default::default();
    for f in r
        .findings
        .iter()
        .filter(|f| f.status != "waived" && f.rule != crate::INSPECTION_RULE)
    {
        if let Some(d) = f.due {
            deadlines
                .entry(d)
                .or_insert_with(|| format!("{} ({}/{})", duty_words(f), f.regime, f.rule));
        }
    }
    for (due, what) in deadlines.into_iter().take(5) {
        out.push(match finish {
            Some(end) if end <= due => format!(
                "At this pace the last one goes by {}: meets {what}, due {}.",
                day(end),
                day(due)
            ),
            Some(end) => format!(
                "At this pace the last one goes by {}: MISSES {what}, due {}.",
                day(end),
                day(due)
            ),
            None => format!(
                "No removals since {}: {what}, due {}, will not be met.",
                day(first.date),
                day(due)
            ),
        });
    }
    out
}
