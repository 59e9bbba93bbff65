//! Signed-off reports over HTTP: the report crate's HTML page and XLSX workbook, built from the
//! caller's scope of the estate (organisations, sites, devices, findings, waivers, progress).

use crate::access::Access;
use crate::error::{ApiError, ApiResult};
use crate::findings::{evaluated_for, today};
use crate::App;
use camtrace_report::{HistoryPoint, ReportDevice, ReportFinding, ReportInput, ReportWaiver};
use std::collections::{BTreeMap, HashMap};

/// Everything the caller can read, as report input (optionally one organisation subtree).
pub async fn report_input(app: &App, access: &Access, org: Option<&str>) -> ApiResult<ReportInput> {
    if let Some(o) = org {
        access.require(o, crate::auth::Role::Viewer, &format!("organisation `{o}`"))?;
    }
    let date = today();
    let ev = evaluated_for(app, access, date, &[]).await?;
    let in_scope = |o: &str| access.can_read(o) && org.is_none_or(|root| access.is_within(o, root));
    let organisations: Vec<_> = ev
        .estate
        .organisations
        .iter()
        .filter(|o| in_scope(&o.id))
        .cloned()
        .collect();
    let sites: Vec<_> = ev
        .estate
        .sites
        .iter()
        .filter(|s| in_scope(&s.organisation))
        .cloned()
        .collect();
    let site_ids: HashMap<&str, bool> = sites
        .iter()
        .map(|s| (s.id.as_str(), s.criteria.is_sensitive()))
        .collect();
    let devices: Vec<ReportDevice> = ev
        .estate
        .devices
        .iter()
        .filter(|d| site_ids.contains_key(d.site.as_str()))
        .map(|d| ReportDevice {
            id: d.id.clone(),
            site: d.site.clone(),
            brand: d.brand.clone(),
            maker: d.maker.clone(),
            model: d.model.clone(),
            class: format!("{:?}", d.class).to_lowercase(),
            status: d.status.as_str().into(),
            addresses: d.addresses.clone(),
            network: d.network.clone(),
            confidence: d.confidence,
            registered: true,
            discovered: ev
                .estate
                .identifications
                .iter()
                .any(|i| i.device_id.as_deref() == Some(d.id.as_str())),
        })
        .collect();
    let findings: Vec<ReportFinding> = ev
        .findings
        .iter()
        .filter(|f| site_ids.contains_key(&*f.site_id))
        .map(|f| ReportFinding {
            device: f.device_id.to_string(),
            site: f.site_id.to_string(),
            regime: f.regime_id.to_string(),
            rule: f.rule_id.to_string(),
            obligation: f.obligation.as_str().into(),
            status: f.status.as_str().into(),
            reasons: f.reasons.iter().map(|r| r.text.clone()).collect(),
            due: f.due,
            citation: Some(f.citation.url.clone()).filter(|u| !u.is_empty()),
        })
        .collect();
    let dev_site: HashMap<&str, &str> = ev
        .estate
        .devices
        .iter()
        .map(|d| (d.id.as_str(), d.site.as_str()))
        .collect();
    let waivers: Vec<ReportWaiver> = ev
        .estate
        .waivers
        .iter()
        .filter_map(|w| {
            let site = *dev_site.get(w.device_id.as_str())?;
            site_ids.contains_key(site).then(|| ReportWaiver {
                id: w.id.clone(),
                subject: w.device_id.clone(),
                site: site.to_string(),
                regime: w.rule_id.split('/').next().unwrap_or("").to_string(),
                approver: w.approver.clone(),
                reason: w.reason.clone(),
                expires: w.expires_on,
                expired: !w.active_on(date),
            })
        })
        .collect();
    // Today's point of the progress chart: devices with open findings, by site sensitivity.
    let mut open: BTreeMap<&str, bool> = BTreeMap::new();
    for f in &findings {
        if f.status == "open" {
            open.insert(
                f.device.as_str(),
                site_ids.get(f.site.as_str()).copied().unwrap_or(false),
            );
        }
    }
    let history = vec![HistoryPoint {
        date,
        sensitive: open.values().filter(|s| **s).count() as u64,
        other: open.values().filter(|s| !**s).count() as u64,
    }];
    Ok(ReportInput {
        title: match org {
            Some(o) => format!("Surveillance equipment report: {o}"),
            None => "Surveillance equipment report".into(),
        },
        as_of: date,
        generated: camtrace_store::now_rfc3339(),
        kb_version: app.kb_version.clone(),
        organisations,
        sites,
        devices,
        findings,
        plan: None,
        waivers,
        evidence: Vec::new(),
        history,
        reconciliation: None,
        history_head: app.store.history_head().await?.map(|h| h.to_string()),
        regimes: app
            .policies
            .defaults()
            .iter()
            .map(|r| r.id.clone())
            .collect(),
    })
}

pub fn render_html(input: &ReportInput) -> ApiResult<String> {
    camtrace_report::html::render(input, false)
        .map_err(|e| ApiError::Internal(format!("report: {e}")))
}

pub fn render_xlsx(input: &ReportInput) -> ApiResult<Vec<u8>> {
    camtrace_report::export::xlsx_bytes(input)
        .map_err(|e| ApiError::Internal(format!("report: {e}")))
}
