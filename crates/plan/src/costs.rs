//! `kb/costs.toml`: default planning costs and risk weights, with source and as_of.

use crate::PlanError;
use camtrace_kb::{parse_toml, KbDate, KbFiles};
use camtrace_model::DeviceClass;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Default costs of one device class, in whole currency units.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassCost {
    pub class: DeviceClass,
    /// Replacement device when no catalogue price band applies.
    pub device: u64,
    /// Labour to remove the device and fit its replacement.
    pub labour_replace: u64,
    /// Labour to disconnect it from the core network (re-patch to an isolated segment).
    pub labour_disconnect: u64,
    /// Why `source` gives no URL, when it gives none (see [`camtrace_kb::SourceKind`]); `kb check` refuses a
    /// verified entry whose citation has no http(s) URL and no `source_kind`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_kind: Option<camtrace_kb::SourceKind>,
    pub source: String,
    pub as_of: KbDate,
}

/// Typical unit price of a catalogue price band.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BandPrice {
    pub band: String,
    pub price: u64,
    /// Why `source` gives no URL, when it gives none (see [`camtrace_kb::SourceKind`]); `kb check` refuses a
    /// verified entry whose citation has no http(s) URL and no `source_kind`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_kind: Option<camtrace_kb::SourceKind>,
    pub source: String,
    pub as_of: KbDate,
}

/// Risk points (see `docs/bench/plan.md`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RiskWeights {
    pub sensitive_site: u32,
    pub per_extra_criterion: u32,
    pub non_sensitive_site: u32,
    pub core_network: u32,
    pub internet_facing: u32,
    pub unknown_network: u32,
    pub call_home: u32,
    pub upgrade_per_year: u32,
    pub upgrade_cap_years: u32,
    pub no_upgrade_scheduled: u32,
    #[serde(default)]
    pub class: BTreeMap<String, u32>,
    #[serde(default)]
    pub capability: BTreeMap<String, u32>,
    /// Why `source` gives no URL, when it gives none (see [`camtrace_kb::SourceKind`]); `kb check` refuses a
    /// verified entry whose citation has no http(s) URL and no `source_kind`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_kind: Option<camtrace_kb::SourceKind>,
    pub source: String,
    pub as_of: KbDate,
}

/// The whole cost book.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CostBook {
    pub currency: String,
    pub site_overhead: u64,
    #[serde(rename = "class")]
    pub classes: Vec<ClassCost>,
    #[serde(default, rename = "band")]
    pub bands: Vec<BandPrice>,
    pub risk: RiskWeights,
    /// Why `source` gives no URL, when it gives none (see [`camtrace_kb::SourceKind`]); `kb check` refuses a
    /// verified entry whose citation has no http(s) URL and no `source_kind`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_kind: Option<camtrace_kb::SourceKind>,
    pub source: String,
    pub as_of: KbDate,
}

impl CostBook {
    /// Load `costs.toml` from a knowledge-base file set (embedded, or the user's overlay).
    pub fn load(files: &KbFiles) -> Result<Self, PlanError> {
        let f = files
            .get("costs.toml")
            .ok_or_else(|| PlanError::Kb("kb/costs.toml is missing".into()))?;
        let book: CostBook = parse_toml(f).map_err(|e| PlanError::Kb(e.to_string()))?;
        if book.classes.is_empty() {
            return Err(PlanError::Kb(format!(
                "{}: no [[class]] costs",
                f.display_path()
            )));
        }
        Ok(book)
    }

    /// Costs of a class, falling back to `unknown`, then to the first class given.
    pub fn class(&self, class: DeviceClass) -> &ClassCost {
        self.classes
            .iter()
            .find(|c| c.class == class)
            .or_else(|| {
                self.classes
                    .iter()
                    .find(|c| c.class == DeviceClass::Unknown)
            })
            .unwrap_or(&self.classes[0])
    }

    pub fn band_price(&self, band: &str) -> Option<u64> {
        self.bands
            .iter()
            .find(|b| b.band.eq_ignore_ascii_case(band))
            .map(|b| b.price)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_cost_book_loads_with_every_class() {
        let book = CostBook::load(&KbFiles::embedded()).unwrap();
        for c in DeviceClass::ALL {
            assert_eq!(book.class(c).class, c, "no costs for {c}");
        }
        assert!(book.band_price("mid").is_some());
        assert!(book.risk.class.contains_key("camera"));
    }

    #[test]
    fn bad_cost_file_names_file_and_line() {
        let mut files = KbFiles::default();
        files.insert(
            "costs.toml",
            "currency = \"GBP\"\nsite_overhead = \"lots\"\n",
        );
        let e = CostBook::load(&files).unwrap_err().to_string();
        assert!(e.contains("costs.toml:2"), "{e}");
    }
}
