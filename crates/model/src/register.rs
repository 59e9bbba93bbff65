//! The estate register: organisations, sites, zones, network segments, devices.

use crate::DeviceClass;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// The four UK sensitive-site criteria (written answer to Lord Alton, 9 Apr 2024), kept as
/// separate facts: any one makes a site sensitive.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SensitivityCriteria {
    /// Routinely holds SECRET material or above.
    #[serde(default)]
    pub secret_or_above: bool,
    /// Hosts a significant proportion of officials holding DV clearance.
    #[serde(default)]
    pub dv_significant: bool,
    /// Routinely used by Ministers.
    #[serde(default)]
    pub ministerial_use: bool,
    /// A government location covered by the Serious Organised Crime and Police Act 2005.
    #[serde(default)]
    pub socpa_2005: bool,
}

impl SensitivityCriteria {
    pub fn is_sensitive(&self) -> bool {
        self.secret_or_above || self.dv_significant || self.ministerial_use || self.socpa_2005
    }

    /// The criteria that hold, by name.
    pub fn reasons(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        if self.secret_or_above {
            v.push("routinely holds SECRET material or above");
        }
        if self.dv_significant {
            v.push("hosts a significant proportion of DV-cleared officials");
        }
        if self.ministerial_use {
            v.push("routinely used by Ministers");
        }
        if self.socpa_2005 {
            v.push("covered by the Serious Organised Crime and Police Act 2005");
        }
        v
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Organisation {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub parent: Option<String>,
    /// e.g. `central_government`, `local_government`, `nhs`, `police`, `school`, `contractor`.
    #[serde(default)]
    pub kind: Option<String>,
    /// ISO country code of the jurisdiction (GB, US, AU, CA ...).
    #[serde(default)]
    pub country: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Site {
    pub id: String,
    pub organisation: String,
    pub name: String,
    #[serde(default)]
    pub address: Option<String>,
    #[serde(default)]
    pub criteria: SensitivityCriteria,
    /// A free classification label (e.g. `OFFICIAL`, `restricted-area`).
    #[serde(default)]
    pub classification: Option<String>,
    /// Whether it is a government building (for the stricter all-buildings regime).
    #[serde(default)]
    pub government_building: bool,
    #[serde(default)]
    pub tags: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Zone {
    pub id: String,
    pub site: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetworkSegment {
    pub id: String,
    pub site: String,
    pub name: String,
    /// CIDR ranges of the segment.
    #[serde(default)]
    pub cidrs: Vec<String>,
    /// Part of the core departmental network (the UK WMS instruction 2 applies).
    #[serde(default)]
    pub core: bool,
    /// Reachable from the internet.
    #[serde(default)]
    pub internet_exposed: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceStatus {
    Planned,
    #[default]
    Installed,
    Disconnected,
    Removed,
}

impl DeviceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Planned => "planned",
            Self::Installed => "installed",
            Self::Disconnected => "disconnected",
            Self::Removed => "removed",
        }
    }
}

impl std::str::FromStr for DeviceStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "planned" => Ok(Self::Planned),
            "installed" | "" => Ok(Self::Installed),
            "disconnected" => Ok(Self::Disconnected),
            "removed" => Ok(Self::Removed),
            _ => Err(format!(
                "unknown device status `{s}` (expected planned, installed, disconnected or removed)"
            )),
        }
    }
}

/// A device in the register.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Device {
    pub id: String,
    pub site: String,
    #[serde(default)]
    pub zone: Option<String>,
    #[serde(default)]
    pub network: Option<String>,
    /// Brand on the box (knowledge-base brand id or free text).
    #[serde(default)]
    pub brand: Option<String>,
    /// True maker (knowledge-base company id), when known.
    #[serde(default)]
    pub maker: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub firmware: Option<String>,
    #[serde(default)]
    pub class: DeviceClass,
    #[serde(default)]
    pub mac: Option<String>,
    #[serde(default)]
    pub addresses: Vec<String>,
    #[serde(default)]
    pub status: DeviceStatus,
    #[serde(default)]
    pub install_date: Option<NaiveDate>,
    #[serde(default)]
    pub scheduled_upgrade: Option<NaiveDate>,
    /// Replacement cost of the device itself, in the register's currency.
    #[serde(default)]
    pub cost_device: Option<f64>,
    /// Labour cost to remove or replace it.
    #[serde(default)]
    pub cost_labour: Option<f64>,
    /// Confidence of the identification behind `maker` (1.0 when declared in the register).
    #[serde(default)]
    pub confidence: Option<f64>,
    #[serde(default)]
    pub notes: Option<String>,
}

/// A register: the entities of one file, import or batch (applied in one transaction).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Register {
    #[serde(default)]
    pub organisations: Vec<Organisation>,
    #[serde(default)]
    pub sites: Vec<Site>,
    #[serde(default)]
    pub zones: Vec<Zone>,
    #[serde(default)]
    pub networks: Vec<NetworkSegment>,
    #[serde(default)]
    pub devices: Vec<Device>,
}

impl Register {
    pub fn len(&self) -> usize {
        self.organisations.len()
            + self.sites.len()
            + self.zones.len()
            + self.networks.len()
            + self.devices.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every list sorted by id (for comparisons).
    pub fn sorted(mut self) -> Self {
        self.organisations.sort_by(|a, b| a.id.cmp(&b.id));
        self.sites.sort_by(|a, b| a.id.cmp(&b.id));
        self.zones.sort_by(|a, b| a.id.cmp(&b.id));
        self.networks.sort_by(|a, b| a.id.cmp(&b.id));
        self.devices.sort_by(|a, b| a.id.cmp(&b.id));
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_one_criterion_makes_a_site_sensitive() {
        assert!(!SensitivityCriteria::default().is_sensitive());
        let c = SensitivityCriteria {
            ministerial_use: true,
            ..Default::default()
        };
        assert!(c.is_sensitive());
        assert_eq!(c.reasons(), vec!["routinely used by Ministers"]);
    }

    #[test]
    fn status_parses() {
        assert_eq!(
            "Removed".parse::<DeviceStatus>().unwrap(),
            DeviceStatus::Removed
        );
        assert!("gone".parse::<DeviceStatus>().is_err());
    }
}

/// A waiver: a signed, expiring exception to one rule for one device.
///
/// An expired or revoked waiver no longer suppresses the finding it covered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Waiver {
    pub id: String,
    pub device_id: String,
    /// The rule waived, `<regime>/<rule>` (e.g. `uk-2022-sensitive-sites/disconnect-core`).
    pub rule_id: String,
    pub reason: String,
    pub approver: String,
    /// RFC 3339 time the waiver was granted.
    pub created_at: String,
    /// Last day the waiver is in force.
    pub expires_on: NaiveDate,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoke_reason: Option<String>,
}

impl Waiver {
    /// In force on `date`: not revoked and not past its expiry date.
    pub fn active_on(&self, date: NaiveDate) -> bool {
        self.revoked_at.is_none() && date <= self.expires_on
    }
}

/// The latest identification of one discovered target, with where and when it was seen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeenIdentification {
    /// The register device this target was matched to, when any.
    #[serde(default)]
    pub device_id: Option<String>,
    #[serde(default)]
    pub site: Option<String>,
    pub scan_id: String,
    /// RFC 3339 time of the scan (or of the observation).
    pub seen_at: String,
    pub identification: crate::Identification,
}

/// Everything the policy, plan and report code needs about an estate (or a part of it).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Estate {
    pub organisations: Vec<Organisation>,
    pub sites: Vec<Site>,
    pub zones: Vec<Zone>,
    pub networks: Vec<NetworkSegment>,
    pub devices: Vec<Device>,
    /// Latest identification per discovered target.
    pub identifications: Vec<SeenIdentification>,
    pub waivers: Vec<Waiver>,
}
