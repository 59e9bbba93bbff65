//! Adapters between the policy crate and the planner / procurement gate.

use crate::plan::FindingRef;
use crate::procure::{MakerRule, RuleOutcome, AS_IF_SENSITIVE};
use camtrace_kb::{Company, Kb};
use camtrace_model::{Device, DeviceClass, DeviceStatus, Organisation, SensitivityCriteria, Site};
use camtrace_policy::{
    evaluate, DeviceFacts, EvalContext, Finding, FindingStatus, IdentSummary, Regime, Step,
};
use chrono::NaiveDate;
use std::sync::Arc;

/// A policy regime seen by the procurement gate: would a *planned* device of this maker at this
/// destination raise a finding? The regime's own rules decide (no new deployment, cease use ...).
pub struct RegimeRule<'a> {
    pub regime: &'a Regime,
    pub organisations: &'a [Organisation],
    /// Organisation assumed when the destination is not a registered site.
    pub default_org: Option<&'a Organisation>,
    /// Device class assumed for quote lines (cameras unless the catalogue says otherwise).
    pub class: DeviceClass,
}

impl<'a> RegimeRule<'a> {
    pub fn new(regime: &'a Regime, organisations: &'a [Organisation]) -> Self {
        Self {
            regime,
            organisations,
            default_org: None,
            class: DeviceClass::Camera,
        }
    }
}

/// A destination that is not in the register: treated as meeting every sensitive-site criterion
/// and as a government building (the conservative reading).
pub fn unknown_destination(name: &str) -> Site {
    Site {
        id: if name.is_empty() {
            "unknown-destination".into()
        } else {
            name.to_string()
        },
        organisation: String::new(),
        name: if name.is_empty() {
            "unknown destination".into()
        } else {
            name.to_string()
        },
        address: None,
        criteria: SensitivityCriteria {
            secret_or_above: true,
            dv_significant: true,
            ministerial_use: true,
            socpa_2005: true,
        },
        classification: None,
        government_building: true,
        tags: Vec::new(),
    }
}

impl MakerRule for RegimeRule<'_> {
    fn regime(&self) -> &str {
        &self.regime.id
    }
    fn title(&self) -> &str {
        &self.regime.title
    }
    fn check(&self, kb: &Kb, maker: &Company, site: Option<&Site>, date: NaiveDate) -> RuleOutcome {
        // No registered destination: judged as if for a sensitive site, and the reasons say so
        // instead of quoting criteria no register gave.
        let assumed = site.is_none();
        let site = site.cloned().unwrap_or_else(|| unknown_destination(""));
        let org = self
            .organisations
            .iter()
            .find(|o| o.id == site.organisation)
            .or(self.default_org)
            .cloned()
            .map(Arc::new);
        let device = Device {
            id: "quote-line".into(),
            site: site.id.clone(),
            zone: None,
            network: None,
            brand: None,
            maker: Some(maker.id.clone()),
            model: None,
            firmware: None,
            class: self.class,
            mac: None,
            addresses: Vec::new(),
            status: DeviceStatus::Planned,
            install_date: None,
            scheduled_upgrade: None,
            cost_device: None,
            cost_labour: None,
            confidence: Some(1.0),
            notes: None,
        };
        let facts = DeviceFacts {
            ident: IdentSummary {
                maker: Some(maker.id.clone()),
                brand: None,
                model: None,
                confidence: 1.0,
                evidence: vec!["maker established from the quote line (see chain)".into()],
                first_seen: None,
            },
            device,
            site: Arc::new(site),
            org,
            network: None,
        };
        let ctx = EvalContext::new(kb, vec![self.regime], date);
        let findings = evaluate(&ctx, &[facts], &[]);
        let mut blocked = Vec::new();
        let mut unknown = Vec::new();
        for f in &findings {
            let mut text: Vec<String> = Vec::new();
            let mut said_assumed = false;
            for r in f.reasons.iter() {
                match r.step {
                    Step::Device | Step::Identification => {}
                    Step::Site if assumed => {
                        if !said_assumed {
                            text.push(format!("destination unknown: judged {AS_IF_SENSITIVE}"));
                            said_assumed = true;
                        }
                    }
                    _ => text.push(r.to_string()),
                }
            }
            match f.status {
                FindingStatus::NeedsInspection => unknown.extend(text),
                _ => {
                    blocked.push(format!("rule {} ({})", f.rule_key(), f.obligation));
                    blocked.extend(text);
                }
            }
        }
        if !blocked.is_empty() {
            RuleOutcome::Blocked(blocked)
        } else if !unknown.is_empty() {
            RuleOutcome::Unknown(unknown)
        } else {
            RuleOutcome::Allowed
        }
    }
}

/// A policy finding as the planner needs it. Needs-inspection findings become `review`.
pub fn finding_ref(f: &Finding) -> FindingRef {
    let obligation = match f.status {
        FindingStatus::NeedsInspection => "review".to_string(),
        _ => f.obligation.as_str().to_string(),
    };
    FindingRef {
        regime: f.regime_id.to_string(),
        rule: f.rule_id.to_string(),
        obligation,
        reasons: f.reasons.iter().map(|r| r.to_string()).collect(),
        due: f.due,
    }
}
