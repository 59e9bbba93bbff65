//! The planner's input from a judged estate: the step `camtrace plan` and the server's plan
//! drafts share (one implementation, so both plan over the same devices).

use crate::plan::PlanDevice;
use crate::policy_gate::finding_ref;
use camtrace_model::{Estate, Organisation, Site};
use camtrace_policy::Finding;
use std::collections::HashMap;

/// Devices of `estate` with actionable findings (open, or needing inspection), with their site,
/// organisation name, network and latest identification, for [`crate::build_plan`].
///
/// Only devices whose site is in the estate and for which `keep(site)` holds are listed (the
/// server passes the caller's access and organisation subtree; the CLI keeps every site). The
/// maker comes from the register, else the identification, else a finding; the confidence from
/// the identification when the register has none. Devices keep the estate's order.
pub fn plan_devices(
    estate: &Estate,
    findings: &[Finding],
    keep: impl Fn(&Site) -> bool,
) -> Vec<PlanDevice> {
    let sites: HashMap<&str, &Site> = estate.sites.iter().map(|s| (s.id.as_str(), s)).collect();
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
    for f in findings.iter().filter(|f| f.status.is_actionable()) {
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
        if !keep(site) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use camtrace_model::{Device, Identification, NamedRef, NetworkSegment, SeenIdentification};
    use camtrace_policy::{
        Citation, FindingStatus, Obligation, Reason, Reasons, Severity, Step, INSPECTION_RULE,
    };
    use chrono::NaiveDate;
    use serde_json::json;
    use std::sync::Arc;

    /// Register records as an import would give them (unset fields take their defaults).
    fn record<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> T {
        serde_json::from_value(v).expect("register record")
    }

    fn org(id: &str, name: &str) -> Organisation {
        record(json!({"id": id, "name": name}))
    }

    fn site(id: &str, org: &str) -> Site {
        record(json!({"id": id, "organisation": org, "name": format!("Site {id}")}))
    }

    fn dev(id: &str, site: &str) -> Device {
        record(json!({"id": id, "site": site, "class": "camera"}))
    }

    fn finding(device: &str, status: FindingStatus, maker: Option<&str>) -> Finding {
        let rule = if status == FindingStatus::NeedsInspection {
            INSPECTION_RULE
        } else {
            "remove-existing"
        };
        Finding {
            device_id: device.into(),
            site_id: "s".into(),
            org_id: "o".into(),
            regime_id: "uk-2022-sensitive-sites".into(),
            rule_id: rule.into(),
            obligation: Obligation::RemoveBy,
            severity: Severity::High,
            due: NaiveDate::from_ymd_opt(2027, 3, 31),
            status,
            overdue: false,
            maker: maker.map(Into::into),
            reasons: Reasons::from_vec(vec![Reason::new(Step::Rule, "rule applies", None)]),
            citation: Arc::new(Citation {
                url: String::new(),
                reference: Some("test".into()),
                text: "test".into(),
                paraphrase: false,
            }),
        }
    }

    fn seen(device: &str, maker: &str, confidence: f64) -> SeenIdentification {
        let mut i = Identification::unknown("10.0.0.1");
        i.maker = Some(NamedRef::new(maker, maker));
        i.confidence = confidence;
        i.call_home = vec!["hik-connect".into()];
        SeenIdentification {
            device_id: Some(device.into()),
            site: None,
            scan_id: "scan-1".into(),
            seen_at: "2026-11-01T00:00:00Z".into(),
            identification: i,
        }
    }

    fn estate() -> (Estate, Vec<Finding>) {
        let mut d1 = dev("d1", "s1");
        d1.network = Some("n1".into());
        let mut d5 = dev("d5", "s2");
        d5.maker = Some("axis".into());
        d5.confidence = Some(0.5);
        let estate = Estate {
            organisations: vec![org("o1", "Org One"), org("o2", "Org Two")],
            sites: vec![site("s1", "o1"), site("s2", "o2")],
            networks: vec![NetworkSegment {
                id: "n1".into(),
                site: "s1".into(),
                name: "core".into(),
                cidrs: vec![],
                core: true,
                internet_exposed: false,
            }],
            devices: vec![
                dev("d0", "s1"),
                d1,
                dev("d2", "s1"),
                dev("d3", "s1"),
                dev("d4", "nowhere"),
                d5,
            ],
            identifications: vec![seen("d1", "hikvision", 0.9), seen("d5", "dahua", 0.9)],
            ..Default::default()
        };
        let waived = FindingStatus::Waived {
            waiver_id: "w1".into(),
            expires: NaiveDate::from_ymd_opt(2027, 1, 1).unwrap(),
        };
        let findings = vec![
            finding("d1", FindingStatus::Open, Some("hikvision")),
            finding("d1", waived.clone(), Some("hikvision")),
            finding("d2", FindingStatus::NeedsInspection, Some("dahua")),
            finding("d3", waived, Some("hikvision")),
            finding("d4", FindingStatus::Open, Some("hikvision")),
            finding("d5", FindingStatus::Open, Some("dahua")),
        ];
        (estate, findings)
    }

    fn ids(out: &[PlanDevice]) -> Vec<&str> {
        out.iter().map(|p| p.device.id.as_str()).collect()
    }

    #[test]
    fn actionable_devices_with_their_context() {
        let (estate, findings) = estate();
        let out = plan_devices(&estate, &findings, |_| true);
        // d0 has no finding, d3 only a waived one, d4 a site outside the estate.
        assert_eq!(ids(&out), ["d1", "d2", "d5"]);

        let d1 = &out[0];
        assert_eq!(
            d1.device.maker.as_deref(),
            Some("hikvision"),
            "from the identification"
        );
        assert_eq!(d1.device.confidence, Some(0.9));
        assert_eq!(d1.site.id, "s1");
        assert_eq!(d1.organisation.as_deref(), Some("Org One"));
        assert_eq!(d1.network.as_ref().map(|n| n.id.as_str()), Some("n1"));
        assert_eq!(d1.call_home, ["hik-connect"]);
        assert_eq!(d1.findings.len(), 1, "the waived finding is left out");
        assert_eq!(d1.findings[0].obligation, "remove_by");
        assert_eq!(d1.findings[0].due, NaiveDate::from_ymd_opt(2027, 3, 31));

        let d2 = &out[1];
        assert_eq!(
            d2.device.maker.as_deref(),
            Some("dahua"),
            "from the finding"
        );
        assert_eq!(d2.device.confidence, None);
        assert!(d2.network.is_none() && d2.call_home.is_empty());
        assert_eq!(d2.findings[0].obligation, "review");
        assert_eq!(d2.findings[0].rule, INSPECTION_RULE);

        let d5 = &out[2];
        assert_eq!(
            d5.device.maker.as_deref(),
            Some("axis"),
            "the register wins"
        );
        assert_eq!(d5.device.confidence, Some(0.5));
        assert_eq!(d5.organisation.as_deref(), Some("Org Two"));
    }

    #[test]
    fn keep_filters_by_site() {
        let (estate, findings) = estate();
        let out = plan_devices(&estate, &findings, |s| s.organisation == "o2");
        assert_eq!(ids(&out), ["d5"]);
        assert!(plan_devices(&estate, &findings, |_| false).is_empty());
        assert!(plan_devices(&estate, &[], |_| true).is_empty());
    }
}
