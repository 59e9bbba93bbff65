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
    pub site: String,
    pub regime: String,
    pub obligation: String,
    pub status: String,
    pub due: String,
    pub reasons: Vec<String>,
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
    pub reasons: Vec<String>,
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
    pub has_plan: bool,
    pub plan_header: String,
    pub plan_method: String,
    pub plan_costs_source: String,
    pub plan_rows: Vec<PlanRowView>,
    pub waiting_rows: Vec<PlanRowView>,
    pub visits: Vec<(String, u64, String)>,
    pub waivers: Vec<crate::ReportWaiver>,
    pub evidence: Vec<crate::EvidenceItem>,
    pub evidence_truncated: usize,
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
                    devices: r.devices.iter().filter(|d| d.site == site.id).count(),
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
    let findings = r
        .findings
        .iter()
        .take(MAX_HTML_ROWS)
        .map(|f| FindingView {
            device: f.device.clone(),
            site: f.site.clone(),
            regime: f.regime.clone(),
            obligation: f.obligation.clone(),
            status: f.status.clone(),
            due: f.due.map(|d| d.to_string()).unwrap_or_default(),
            reasons: f.reasons.clone(),
        })
        .collect();
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
        reasons: row.reasons.clone(),
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
    let page = Page {
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
        s,
        plan_cost,
        chart: chart::progress_svg(&r.history),
        site_links,
        has_recon: !recon.is_empty(),
        recon,
        findings,
        has_plan,
        plan_header,
        plan_method,
        plan_costs_source,
        plan_rows,
        waiting_rows,
        visits,
        waivers: r.waivers.clone(),
        evidence: r.evidence.iter().take(MAX_HTML_EVIDENCE).cloned().collect(),
        evidence_truncated: r.evidence.len().saturating_sub(MAX_HTML_EVIDENCE),
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
