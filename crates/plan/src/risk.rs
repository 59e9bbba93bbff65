//! Risk score of a device with open findings: a sum of documented parts (weights in
//! `kb/costs.toml` `[risk]`).

use crate::costs::RiskWeights;
use camtrace_model::{DeviceClass, NetworkSegment, Site};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RiskPart {
    pub factor: String,
    pub points: u32,
    pub why: String,
    /// Removed by disconnecting from the core network (exposure, call-home).
    pub removed_by_disconnect: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Risk {
    pub score: u32,
    pub parts: Vec<RiskPart>,
}

impl Risk {
    /// Points removed by disconnecting from the core network.
    pub fn disconnect_share(&self) -> u32 {
        self.parts
            .iter()
            .filter(|p| p.removed_by_disconnect)
            .map(|p| p.points)
            .sum()
    }

    pub fn summary(&self) -> String {
        self.parts
            .iter()
            .map(|p| format!("{} +{}", p.factor, p.points))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// What the risk score looks at.
pub struct RiskInput<'a> {
    pub site: &'a Site,
    pub network: Option<&'a NetworkSegment>,
    pub call_home: &'a [String],
    pub class: DeviceClass,
    pub capabilities: &'a [String],
    pub scheduled_upgrade: Option<NaiveDate>,
    pub today: NaiveDate,
}

pub fn score(w: &RiskWeights, i: &RiskInput<'_>) -> Risk {
    let mut parts = Vec::new();
    let mut add = |factor: &str, points: u32, why: String, disc: bool| {
        if points > 0 {
            parts.push(RiskPart {
                factor: factor.to_string(),
                points,
                why,
                removed_by_disconnect: disc,
            });
        }
    };
    let crit = i.site.criteria.reasons();
    if crit.is_empty() {
        add(
            "site",
            w.non_sensitive_site,
            format!("site `{}` is not sensitive", i.site.id),
            false,
        );
    } else {
        let pts = w.sensitive_site + w.per_extra_criterion * (crit.len() as u32 - 1);
        add(
            "sensitive site",
            pts,
            format!("site `{}`: {}", i.site.id, crit.join("; ")),
            false,
        );
    }
    match i.network {
        Some(n) => {
            if n.core {
                add(
                    "core network",
                    w.core_network,
                    format!("on core network segment `{}`", n.id),
                    true,
                );
            }
            if n.internet_exposed {
                add(
                    "internet-facing",
                    w.internet_facing,
                    format!("segment `{}` is reachable from the internet", n.id),
                    true,
                );
            }
        }
        None => add(
            "network unknown",
            w.unknown_network,
            "network segment not recorded".into(),
            true,
        ),
    }
    if !i.call_home.is_empty() {
        add(
            "cloud call-home",
            w.call_home,
            format!("calls home to {}", i.call_home.join(", ")),
            true,
        );
    }
    let cp = w.class.get(i.class.as_str()).copied().unwrap_or(0);
    add("device class", cp, format!("a {}", i.class), false);
    for c in i.capabilities {
        if let Some(&p) = w.capability.get(c.as_str()) {
            add("capability", p, format!("capability: {c}"), false);
        }
    }
    match i.scheduled_upgrade {
        Some(d) => {
            let years =
                ((d - i.today).num_days().max(0) as f64 / 365.25).min(w.upgrade_cap_years as f64);
            let pts = (years * w.upgrade_per_year as f64).round() as u32;
            add(
                "time to upgrade",
                pts,
                format!("scheduled upgrade {d} ({years:.1} years away)"),
                false,
            );
        }
        None => add(
            "no upgrade scheduled",
            w.no_upgrade_scheduled,
            "no scheduled upgrade in the register".into(),
            false,
        ),
    }
    let score = parts.iter().map(|p| p.points).sum();
    Risk { score, parts }
}
