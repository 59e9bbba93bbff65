//! Reconcile a site: what discovery found against what the register says, and adopting what was
//! found. `camtrace reconcile` and the demo call these; the comparison itself is
//! [`camtrace_store::reconcile::reconcile`], the maker of a register device is
//! [`register_maker`] (the one attribution rule).

use crate::attribution::register_maker;
use crate::Result;
use camtrace_ingest::import::identify_observations;
use camtrace_kb::Kb;
use camtrace_model::{Device, Estate, NetworkSegment, Observation, SeenIdentification};
use camtrace_store::reconcile::{is_unregistered, reconcile, Reconciliation};
use camtrace_store::{EstateFilter, ObservationFilter, RegisterBatch, ScanRecord, Store};
use chrono::NaiveDate;
use std::collections::BTreeMap;

/// The register of `site` with one identification per discovered target: the observations of
/// every scan and file imported for the site are identified together (an nmap banner and a
/// DHCP vendor class of one host make one identification), dated by the latest evidence;
/// targets known only from imported identifications keep those.
pub async fn site_view(store: &dyn Store, kb: &Kb, site: &str) -> Result<Estate> {
    let mut estate = store
        .load_estate(&EstateFilter {
            site: Some(site.to_string()),
            ..Default::default()
        })
        .await?;
    let scans: BTreeMap<String, ScanRecord> = store
        .list_scans(Some(site))
        .await?
        .into_iter()
        .map(|s| (s.id.clone(), s))
        .collect();
    let stored = store
        .observations(&ObservationFilter {
            site: Some(site.to_string()),
            ..Default::default()
        })
        .await?;
    if stored.is_empty() {
        return Ok(estate);
    }
    // Latest evidence per target: its time (observation time, else the scan's) and scan.
    let mut latest: BTreeMap<String, (String, String)> = BTreeMap::new();
    for s in &stored {
        let scan = scans.get(&s.scan_id);
        let t = s
            .observation
            .time
            .clone()
            .or_else(|| scan.map(|x| x.finished.clone().unwrap_or_else(|| x.started.clone())))
            .unwrap_or_default();
        let e = latest
            .entry(s.observation.target.clone())
            .or_insert_with(|| (t.clone(), s.scan_id.clone()));
        if t > e.0 {
            *e = (t, s.scan_id.clone());
        }
    }
    let obs: Vec<Observation> = stored.into_iter().map(|s| s.observation).collect();
    let combined = identify_observations(kb, &obs);
    estate.identifications.retain(|i| {
        i.site.as_deref() != Some(site) || !latest.contains_key(&i.identification.target)
    });
    for ident in combined {
        let (seen_at, scan_id) = latest.get(&ident.target).cloned().unwrap_or_default();
        estate.identifications.push(SeenIdentification {
            device_id: None,
            site: Some(site.to_string()),
            scan_id,
            seen_at,
            identification: ident,
        });
    }
    camtrace_store::link_identifications(&mut estate.identifications, &estate.devices);
    Ok(estate)
}

/// Reconcile `site` ([`site_view`] against its register). `since` is the "not seen" cut-off;
/// register makers are attributed on `today` for devices without an install date.
pub async fn reconcile_site(
    store: &dyn Store,
    kb: &Kb,
    site: &str,
    since: Option<NaiveDate>,
    today: NaiveDate,
) -> Result<Reconciliation> {
    let estate = site_view(store, kb, site).await?;
    Ok(compare(kb, &estate, site, since, today))
}

fn compare(
    kb: &Kb,
    estate: &Estate,
    site: &str,
    since: Option<NaiveDate>,
    today: NaiveDate,
) -> Reconciliation {
    let since = since.map(|d| d.format("%Y-%m-%d").to_string());
    let maker = |d: &Device| register_maker(kb, d, today);
    reconcile(estate, site, since.as_deref(), &maker)
}

/// Which discovered devices [`adoptable`] registers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Adopt {
    /// Every identified device found and not registered (`camtrace reconcile --adopt`).
    All,
    /// Only surveillance equipment (cameras, recorders, VMS, intercoms, access control): the
    /// demo's choice.
    Surveillance,
}

/// The register entries for the devices found on the network and not in the register
/// (identified: a maker or a device class; as counted by
/// [`camtrace_store::reconcile::is_unregistered`]), each on the site it was found on and on the
/// network segment whose range holds its address. `site`: only those of one site.
pub fn adoptable(
    seen: &[SeenIdentification],
    networks: &[NetworkSegment],
    site: Option<&str>,
    which: Adopt,
) -> Vec<Device> {
    seen.iter()
        .filter(|s| is_unregistered(s))
        .filter(|s| site.is_none_or(|want| s.site.as_deref() == Some(want)))
        .filter(|s| which == Adopt::All || s.identification.device_class.is_surveillance())
        .filter_map(|s| {
            let on = s.site.as_deref()?;
            let mut d = camtrace_store::device_from_identification(on, &s.identification);
            d.network = networks
                .iter()
                .filter(|n| n.site == on)
                .find(|n| {
                    n.cidrs
                        .iter()
                        .any(|c| cidr_contains(c, &s.identification.target))
                })
                .map(|n| n.id.clone());
            Some(d)
        })
        .collect()
}

/// Whether `cidr` (`addr/len`, IPv4 or IPv6; a bare address is a single host) holds the
/// address `addr`; false for anything that does not parse.
pub fn cidr_contains(cidr: &str, addr: &str) -> bool {
    let Ok(a) = addr.parse::<std::net::IpAddr>() else {
        return false;
    };
    match cidr.parse::<ipnet::IpNet>() {
        Ok(n) => n.contains(&a),
        Err(_) => cidr.parse::<std::net::IpAddr>() == Ok(a),
    }
}

/// What [`adopt`] did.
#[derive(Debug, Clone)]
pub struct Adopted {
    /// Devices registered.
    pub created: u64,
    /// The site reconciled again after adopting.
    pub reconciliation: Reconciliation,
}

/// Register every device found on `site` and not in its register (one transaction, its history
/// entries written by `actor`), then reconcile the site again.
pub async fn adopt(
    store: &dyn Store,
    kb: &Kb,
    site: &str,
    since: Option<NaiveDate>,
    today: NaiveDate,
    actor: &str,
) -> Result<Adopted> {
    let estate = site_view(store, kb, site).await?;
    let devices = adoptable(
        &estate.identifications,
        &estate.networks,
        Some(site),
        Adopt::All,
    );
    let created = register(store, devices, actor).await?;
    let reconciliation = reconcile_site(store, kb, site, since, today).await?;
    Ok(Adopted {
        created,
        reconciliation,
    })
}

/// Register the devices found on the network and not in the register, on every site (those
/// [`adoptable`] gives for `which`, each on the segment whose range holds its address), in one
/// transaction whose history entries name `actor`. Returns how many were registered.
pub async fn adopt_everywhere(
    store: &dyn Store,
    networks: &[NetworkSegment],
    which: Adopt,
    actor: &str,
) -> Result<u64> {
    let seen = store
        .latest_identifications(&EstateFilter::default())
        .await?;
    register(store, adoptable(&seen, networks, None, which), actor).await
}

/// Write `devices` to the register (nothing when there are none); how many were created.
async fn register(store: &dyn Store, devices: Vec<Device>, actor: &str) -> Result<u64> {
    if devices.is_empty() {
        return Ok(0);
    }
    let batch = RegisterBatch {
        devices,
        ..Default::default()
    };
    Ok(store.apply_register(&batch, actor).await?.devices.created)
}

#[cfg(test)]
mod tests {
    use super::cidr_contains;

    #[test]
    fn cidrs_hold_their_addresses_only() {
        assert!(cidr_contains("127.0.0.0/8", "127.4.5.6"));
        assert!(!cidr_contains("127.0.0.0/24", "127.0.1.1"));
        assert!(cidr_contains("127.0.0.7", "127.0.0.7"));
        assert!(cidr_contains("0.0.0.0/0", "127.0.0.1"));
        assert!(cidr_contains("::1/128", "::1"));
        assert!(cidr_contains("fd00::/8", "fd12::1"));
        assert!(!cidr_contains("::1/128", "127.0.0.1"));
        assert!(!cidr_contains("127.0.0.0/33", "127.0.0.1"));
        assert!(!cidr_contains("127.0.0.0/x", "127.0.0.1"));
        assert!(!cidr_contains("nonsense", "127.0.0.1"));
        assert!(!cidr_contains("127.0.0.0/8", "camera.local"));
    }
}
