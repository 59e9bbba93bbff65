//! The register's sites with the sensitive-site criteria they meet and their device numbers,
//! counted one way ([`camtrace_store::reconcile::device_counts`]): `camtrace sites` lists them.

use crate::Result;
use camtrace_model::Site;
use camtrace_store::reconcile::{device_counts, DeviceCounts};
use camtrace_store::{EstateFilter, SiteFilter, Store};
use serde::Serialize;
use std::collections::BTreeMap;

/// A site with its sensitivity and device numbers.
#[derive(Debug, Clone, Serialize)]
pub struct SiteRow {
    #[serde(flatten)]
    pub site: Site,
    /// Meets at least one UK sensitive-site criterion.
    pub sensitive: bool,
    /// The criteria it meets, in words.
    pub reasons: Vec<&'static str>,
    /// Devices in the register.
    pub devices: usize,
    /// Devices found on the network, identified, not in the register.
    pub unregistered: usize,
}

/// The sites matching `filter`, each with its numbers, counted as `devices`, `reconcile`, the
/// report and the dashboard count them.
pub async fn overview(store: &dyn Store, filter: &SiteFilter) -> Result<Vec<SiteRow>> {
    let sites = store.list_sites(filter).await?;
    let estate = store
        .load_estate(&EstateFilter {
            organisation: filter.organisation.clone(),
            site: filter.site.clone(),
        })
        .await?;
    let (_, counts): (_, BTreeMap<String, DeviceCounts>) = device_counts(&estate);
    Ok(sites
        .into_iter()
        .map(|s| {
            let c = counts.get(&s.id).copied().unwrap_or_default();
            SiteRow {
                sensitive: s.criteria.is_sensitive(),
                reasons: s.criteria.reasons(),
                devices: c.registered,
                unregistered: c.unregistered,
                site: s,
            }
        })
        .collect())
}
