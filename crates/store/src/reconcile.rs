//! Reconciliation of discovery against the register, for one site: what was found but is not
//! registered, what is registered but was not seen, where the register and the wire disagree on
//! the maker (or class), and identities seen twice (one MAC at two addresses).
//!
//! Pure: it works on an [`Estate`] (from [`Store::load_estate`](crate::Store::load_estate)) and a
//! function that says which maker the register's brand/model text means (the caller resolves it
//! with the knowledge base, OEM rebrands included).

use crate::normalise_mac;
use camtrace_model::{Device, DeviceClass, DeviceStatus, Estate, SeenIdentification};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// A discovered target with no register entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Unregistered {
    pub target: String,
    pub mac: Option<String>,
    pub brand: Option<String>,
    pub maker: Option<String>,
    pub model: Option<String>,
    pub class: DeviceClass,
    pub confidence: f64,
    pub seen_at: String,
    pub scan_id: String,
    /// The id the device would get if registered from this discovery.
    pub proposed_id: String,
}

/// A registered device not seen (since the cut-off date, or at all).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Unseen {
    pub device_id: String,
    pub brand: Option<String>,
    pub model: Option<String>,
    pub status: DeviceStatus,
    pub addresses: Vec<String>,
    pub mac: Option<String>,
    /// Last time any evidence matched it, if ever.
    pub last_seen: Option<String>,
}

/// The register and the evidence disagree about one field of one device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mismatch {
    pub device_id: String,
    pub target: String,
    /// `maker` or `class`.
    pub field: String,
    /// What the register says (for `maker`: the brand/model as written, and the maker it means).
    pub register: String,
    pub observed: String,
    pub confidence: f64,
    /// The evidence behind the observed value, summarised (`kind: detail [signature]`).
    pub evidence: Vec<String>,
}

/// One identity (MAC) at several addresses, or claimed by several register devices.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Duplicate {
    pub mac: String,
    pub targets: Vec<String>,
    pub devices: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Reconciliation {
    pub site: String,
    pub since: Option<String>,
    /// Register devices matched to evidence.
    pub matched: usize,
    pub registered: usize,
    pub discovered: usize,
    /// Discovered hosts with neither a maker nor a device class (not listed as unregistered).
    pub unidentified_hosts: usize,
    pub unregistered: Vec<Unregistered>,
    pub unseen: Vec<Unseen>,
    pub mismatches: Vec<Mismatch>,
    pub duplicates: Vec<Duplicate>,
}

impl Reconciliation {
    /// True when the register and the evidence agree completely.
    pub fn is_clean(&self) -> bool {
        self.unregistered.is_empty()
            && self.unseen.is_empty()
            && self.mismatches.is_empty()
            && self.duplicates.is_empty()
    }
}

/// The note a device registered from discovery carries ([`crate::device_from_identification`]).
pub const ADOPTED_NOTE: &str = "registered from discovery";

/// A register device that was adopted from discovery (it is in the register all the same).
pub fn is_adopted(d: &Device) -> bool {
    d.notes.as_deref() == Some(ADOPTED_NOTE)
}

/// A discovered host with neither a maker nor a device class: counted as an unidentified host,
/// never as a device "found, not in register".
pub fn is_unidentified(s: &SeenIdentification) -> bool {
    s.identification.maker.is_none() && s.identification.device_class == DeviceClass::Unknown
}

/// A discovery that counts as a device "found, not in register": not linked to a register
/// device, and identified (a maker or a class).
pub fn is_unregistered(s: &SeenIdentification) -> bool {
    s.device_id.is_none() && !is_unidentified(s)
}

/// The device numbers of one scope, counted one way for every front door (`camtrace devices`
/// and `sites`, `reconcile`, the report, the dashboard and the demo).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceCounts {
    /// Devices in the register (what `camtrace devices` lists), adopted ones included.
    pub registered: usize,
    /// Of `registered`, those adopted from discovery.
    pub adopted: usize,
    /// Of `registered`, those matched to discovery evidence.
    pub matched: usize,
    /// Discovered and identified, not in the register ("found, not in register").
    pub unregistered: usize,
    /// Discovered hosts with neither a maker nor a class (not devices).
    pub unidentified_hosts: usize,
}

impl DeviceCounts {
    /// Devices known in the scope: in the register, or found and not (yet) in it.
    pub fn total(&self) -> usize {
        self.registered + self.unregistered
    }

    fn add(&mut self, o: &DeviceCounts) {
        self.registered += o.registered;
        self.adopted += o.adopted;
        self.matched += o.matched;
        self.unregistered += o.unregistered;
        self.unidentified_hosts += o.unidentified_hosts;
    }
}

/// The device numbers of an estate (as loaded for a scope), per site and in total. Discoveries
/// without a site are counted under the empty site id.
pub fn device_counts(estate: &Estate) -> (DeviceCounts, BTreeMap<String, DeviceCounts>) {
    let mut by_site: BTreeMap<String, DeviceCounts> = BTreeMap::new();
    let matched: BTreeSet<&str> = estate
        .identifications
        .iter()
        .filter_map(|s| s.device_id.as_deref())
        .collect();
    for d in &estate.devices {
        let c = by_site.entry(d.site.clone()).or_default();
        c.registered += 1;
        if is_adopted(d) {
            c.adopted += 1;
        }
        if matched.contains(d.id.as_str()) {
            c.matched += 1;
        }
    }
    for s in &estate.identifications {
        if s.device_id.is_some() {
            continue;
        }
        let c = by_site
            .entry(s.site.clone().unwrap_or_default())
            .or_default();
        if is_unidentified(s) {
            c.unidentified_hosts += 1;
        } else {
            c.unregistered += 1;
        }
    }
    let mut total = DeviceCounts::default();
    for c in by_site.values() {
        total.add(c);
    }
    (total, by_site)
}

fn evidence_summary(s: &SeenIdentification) -> Vec<String> {
    s.identification
        .evidence
        .iter()
        .filter(|e| e.proves.is_empty() || e.proves.iter().any(|p| p == "maker" || p == "class"))
        .take(8)
        .map(|e| {
            if e.signature.is_empty() {
                format!("{}: {}", e.kind, e.detail)
            } else {
                format!("{}: {} [{}]", e.kind, e.detail, e.signature)
            }
        })
        .collect()
}

/// Reconcile one site. `since` (RFC 3339 or a date) is the cut-off for "not seen";
/// `register_maker` maps a register device to the maker its brand/model means (or its declared
/// maker), `None` when unknown.
pub fn reconcile(
    estate: &Estate,
    site: &str,
    since: Option<&str>,
    register_maker: &dyn Fn(&Device) -> Option<String>,
) -> Reconciliation {
    let devices: Vec<&Device> = estate.devices.iter().filter(|d| d.site == site).collect();
    let seen: Vec<&SeenIdentification> = estate
        .identifications
        .iter()
        .filter(|i| i.site.as_deref() == Some(site))
        .collect();
    let mut out = Reconciliation {
        site: site.to_string(),
        since: since.map(str::to_string),
        registered: devices.len(),
        discovered: seen.len(),
        ..Default::default()
    };

    // Evidence per device (already linked by MAC or address by the store).
    let mut by_device: BTreeMap<&str, Vec<&SeenIdentification>> = BTreeMap::new();
    for s in &seen {
        match s.device_id.as_deref() {
            Some(id) => by_device.entry(id).or_default().push(s),
            None if is_unidentified(s) => out.unidentified_hosts += 1,
            None => out.unregistered.push(Unregistered {
                target: s.identification.target.clone(),
                mac: s.identification.mac.as_deref().and_then(normalise_mac),
                brand: s.identification.brand.as_ref().map(|b| b.id.clone()),
                maker: s.identification.maker.as_ref().map(|m| m.id.clone()),
                model: s.identification.model.clone(),
                class: s.identification.device_class,
                confidence: s.identification.confidence,
                seen_at: s.seen_at.clone(),
                scan_id: s.scan_id.clone(),
                proposed_id: crate::discovered_device_id(site, &s.identification),
            }),
        }
    }

    for d in &devices {
        let ev = by_device.get(d.id.as_str());
        let last_seen = ev.and_then(|v| v.iter().map(|s| s.seen_at.clone()).max());
        let expected = matches!(
            d.status,
            DeviceStatus::Installed | DeviceStatus::Disconnected
        );
        let stale = match (&last_seen, since) {
            (None, _) => true,
            (Some(t), Some(cut)) => t.as_str() < cut,
            (Some(_), None) => false,
        };
        if ev.is_some() {
            out.matched += 1;
        }
        if expected && stale {
            out.unseen.push(Unseen {
                device_id: d.id.clone(),
                brand: d.brand.clone(),
                model: d.model.clone(),
                status: d.status,
                addresses: d.addresses.clone(),
                mac: d.mac.clone(),
                last_seen: last_seen.clone(),
            });
        }
        let Some(ev) = ev else { continue };
        let reg_maker = register_maker(d);
        for s in ev {
            let ident = &s.identification;
            // A maker that rests on the brand alone was dated by the device's first sighting;
            // read the brand again at this register device's own date (install date first), as
            // the register's side is, so a Lorex installed in 2020 is not a "mismatch" for
            // having been seen after Lorex's sale.
            let observed = if ident.maker_from_brand {
                ident
                    .brand
                    .as_ref()
                    .and_then(|b| {
                        register_maker(&Device {
                            maker: None,
                            brand: Some(b.id.clone()),
                            model: ident.model.clone(),
                            ..(*d).clone()
                        })
                    })
                    .or_else(|| ident.maker.as_ref().map(|m| m.id.clone()))
            } else {
                ident.maker.as_ref().map(|m| m.id.clone())
            };
            if let (Some(want), Some(got)) = (&reg_maker, &observed) {
                if !want.eq_ignore_ascii_case(got) {
                    let said = match (&d.brand, &d.model) {
                        (Some(b), Some(m)) => format!("{b} {m}"),
                        (Some(b), None) => b.clone(),
                        (None, Some(m)) => m.clone(),
                        (None, None) => String::new(),
                    };
                    out.mismatches.push(Mismatch {
                        device_id: d.id.clone(),
                        target: ident.target.clone(),
                        field: "maker".into(),
                        register: if said.is_empty() {
                            want.clone()
                        } else {
                            format!("{said} (maker {want})")
                        },
                        observed: got.clone(),
                        confidence: ident.confidence,
                        evidence: evidence_summary(s),
                    });
                }
            }
            let known = |c: DeviceClass| c != DeviceClass::Unknown;
            // Only a class seen on the wire counts, not a default assumed from the maker.
            let observed_class = ident
                .evidence
                .iter()
                .any(|e| e.kind != "kb" && e.proves.iter().any(|p| p == "class"));
            if known(d.class)
                && known(ident.device_class)
                && observed_class
                && d.class != ident.device_class
            {
                out.mismatches.push(Mismatch {
                    device_id: d.id.clone(),
                    target: ident.target.clone(),
                    field: "class".into(),
                    register: d.class.as_str().into(),
                    observed: ident.device_class.as_str().into(),
                    confidence: ident.confidence,
                    evidence: evidence_summary(s),
                });
            }
        }
    }

    // One MAC at several addresses (in the evidence), or on several register devices.
    let mut macs: BTreeMap<String, (BTreeSet<String>, BTreeSet<String>)> = BTreeMap::new();
    for s in &seen {
        if let Some(m) = s.identification.mac.as_deref().and_then(normalise_mac) {
            let e = macs.entry(m).or_default();
            e.0.insert(s.identification.target.clone());
            if let Some(d) = &s.device_id {
                e.1.insert(d.clone());
            }
        }
    }
    for d in &devices {
        if let Some(m) = d.mac.as_deref().and_then(normalise_mac) {
            macs.entry(m).or_default().1.insert(d.id.clone());
        }
    }
    for (mac, (targets, devs)) in macs {
        if targets.len() > 1 || devs.len() > 1 {
            let mut targets: Vec<String> = targets.into_iter().collect();
            targets.sort_by(|a, b| address_order(a, b));
            out.duplicates.push(Duplicate {
                mac,
                targets,
                devices: devs.into_iter().collect(),
            });
        }
    }
    out.unregistered
        .sort_by(|a, b| address_order(&a.target, &b.target));
    out
}

/// Addresses in numeric order (`127.0.0.9` before `127.0.0.10`; IPv4 before IPv6, an optional
/// `:port` or `/prefix` ignored), then anything that is not an address, as text.
pub fn address_order(a: &str, b: &str) -> std::cmp::Ordering {
    fn key(s: &str) -> Option<std::net::IpAddr> {
        let s = s.trim();
        if let Ok(ip) = s.parse() {
            return Some(ip);
        }
        if let Ok(sa) = s.parse::<std::net::SocketAddr>() {
            return Some(sa.ip());
        }
        s.split(['/', ':'])
            .next()
            .and_then(|h| h.parse().ok())
            .filter(|_| s.matches(':').count() <= 1)
    }
    match (key(a), key(b)) {
        (Some(x), Some(y)) => x.cmp(&y).then_with(|| a.cmp(b)),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.cmp(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use camtrace_model::{Identification, NamedRef};

    #[test]
    fn reconcile_sorts_addresses_numerically() {
        let mut v = vec![
            "127.0.0.10",
            "printer.local",
            "::1",
            "127.0.0.9",
            "127.0.0.100:8080",
            "10.0.0.2",
            "127.0.0.2/32",
        ];
        v.sort_by(|a, b| address_order(a, b));
        assert_eq!(
            v,
            vec![
                "10.0.0.2",
                "127.0.0.2/32",
                "127.0.0.9",
                "127.0.0.10",
                "127.0.0.100:8080",
                "::1",
                "printer.local"
            ]
        );
    }

    fn dev(id: &str, brand: &str, mac: &str, addr: &str) -> Device {
        Device {
            id: id.into(),
            site: "hq".into(),
            zone: None,
            network: None,
            brand: Some(brand.into()),
            maker: None,
            model: None,
            firmware: None,
            class: DeviceClass::Camera,
            mac: Some(mac.into()),
            addresses: vec![addr.into()],
            status: DeviceStatus::Installed,
            install_date: None,
            scheduled_upgrade: None,
            cost_device: None,
            cost_labour: None,
            confidence: None,
            notes: None,
        }
    }

    fn seen(
        target: &str,
        maker: &str,
        mac: Option<&str>,
        device: Option<&str>,
        at: &str,
    ) -> SeenIdentification {
        let mut i = Identification::unknown(target);
        i.maker = Some(NamedRef::new(maker, maker));
        i.mac = mac.map(str::to_string);
        i.device_class = DeviceClass::Camera;
        i.confidence = 0.9;
        i.evidence.push(camtrace_model::Evidence {
            kind: "http".into(),
            detail: "title".into(),
            signature: "s".into(),
            source: "kb/test".into(),
            proves: vec!["class".into()],
            weight: None,
        });
        SeenIdentification {
            device_id: device.map(str::to_string),
            site: Some("hq".into()),
            scan_id: "s".into(),
            seen_at: at.into(),
            identification: i,
        }
    }

    /// Issue 13: a maker read from the brand alone is read again at the register device's own
    /// date before it is compared: a Lorex installed in 2020 (Dahua then), identified from its
    /// brand after the 2022 sale (Skywatch now), is no mismatch; the same brand installed in
    /// 2024 against a register that says Dahua is.
    #[test]
    fn a_maker_from_the_brand_is_compared_at_the_devices_own_date() {
        let mut old = dev("cam-1", "Lorex", "44:19:b6:00:00:10", "192.0.2.10");
        old.install_date = chrono::NaiveDate::from_ymd_opt(2020, 6, 1);
        let mut new = dev("cam-2", "Lorex", "44:19:b6:00:00:11", "192.0.2.11");
        new.install_date = chrono::NaiveDate::from_ymd_opt(2024, 6, 1);
        new.maker = Some("dahua".into());
        let mut a = seen(
            "192.0.2.10",
            "skywatch",
            None,
            Some("cam-1"),
            "2026-11-01T00:00:00Z",
        );
        let mut b = seen(
            "192.0.2.11",
            "skywatch",
            None,
            Some("cam-2"),
            "2026-11-01T00:00:00Z",
        );
        for s in [&mut a, &mut b] {
            s.identification.maker_from_brand = true;
            s.identification.brand = Some(camtrace_model::NamedRef {
                id: "lorex".into(),
                name: "Lorex".into(),
            });
        }
        let estate = Estate {
            devices: vec![old, new],
            identifications: vec![a, b],
            ..Default::default()
        };
        // The knowledge base's rule, in small: Lorex was Dahua's from 2018 to 24 Nov 2022.
        let maker = |d: &Device| {
            if let Some(m) = &d.maker {
                return Some(m.clone());
            }
            let sold = chrono::NaiveDate::from_ymd_opt(2022, 11, 24).unwrap();
            match (d.brand.as_deref(), d.install_date) {
                (Some(b), Some(at)) if b.eq_ignore_ascii_case("lorex") && at < sold => {
                    Some("dahua".to_string())
                }
                (Some(b), _) if b.eq_ignore_ascii_case("lorex") => Some("skywatch".to_string()),
                _ => None,
            }
        };
        let r = reconcile(&estate, "hq", None, &maker);
        let m: Vec<(&str, &str)> = r
            .mismatches
            .iter()
            .filter(|m| m.field == "maker")
            .map(|m| (m.device_id.as_str(), m.observed.as_str()))
            .collect();
        assert_eq!(m, [("cam-2", "skywatch")]);
    }

    #[test]
    fn lists_every_kind_of_difference() {
        let estate = Estate {
            devices: vec![
                dev("cam-1", "Axis", "44:19:b6:00:00:10", "192.0.2.10"),
                dev("cam-2", "LTS", "44:19:b6:00:00:11", "192.0.2.11"),
                dev("cam-3", "LTS", "44:19:b6:00:00:12", "192.0.2.12"),
            ],
            identifications: vec![
                seen(
                    "192.0.2.10",
                    "hikvision",
                    Some("44:19:b6:00:00:10"),
                    Some("cam-1"),
                    "2026-11-01T00:00:00Z",
                ),
                seen(
                    "192.0.2.11",
                    "hikvision",
                    None,
                    Some("cam-2"),
                    "2026-01-01T00:00:00Z",
                ),
                seen(
                    "192.0.2.30",
                    "dahua",
                    Some("3c:ef:8c:00:00:30"),
                    None,
                    "2026-11-01T00:00:00Z",
                ),
                seen(
                    "192.0.2.31",
                    "dahua",
                    Some("3c:ef:8c:00:00:30"),
                    None,
                    "2026-11-01T00:00:00Z",
                ),
            ],
            ..Default::default()
        };
        let maker = |d: &Device| match d.brand.as_deref() {
            Some("Axis") => Some("axis".to_string()),
            Some("LTS") => Some("hikvision".to_string()),
            _ => None,
        };
        let r = reconcile(&estate, "hq", Some("2026-06-01"), &maker);
        assert_eq!(r.matched, 2);
        assert_eq!(r.unregistered.len(), 2);
        assert_eq!(
            r.unseen
                .iter()
                .map(|u| u.device_id.as_str())
                .collect::<Vec<_>>(),
            ["cam-2", "cam-3"],
            "cam-2 last seen before the cut-off, cam-3 never"
        );
        assert_eq!(r.mismatches.len(), 1);
        assert_eq!(r.mismatches[0].device_id, "cam-1");
        assert_eq!(r.mismatches[0].observed, "hikvision");
        assert_eq!(r.duplicates.len(), 1);
        assert_eq!(r.duplicates[0].targets, ["192.0.2.30", "192.0.2.31"]);
        // A recorder in the register that the wire shows as a camera, with class evidence.
        let mut e2 = estate.clone();
        e2.devices[1].class = DeviceClass::Recorder;
        let r2 = reconcile(&e2, "hq", None, &maker);
        assert!(r2
            .mismatches
            .iter()
            .any(|m| m.device_id == "cam-2" && m.field == "class"));
        // Without observed class evidence (a default), no class mismatch.
        for i in &mut e2.identifications {
            i.identification.evidence.clear();
        }
        let r3 = reconcile(&e2, "hq", None, &maker);
        assert!(!r3.mismatches.iter().any(|m| m.field == "class"));
        let all = reconcile(&estate, "hq", None, &maker);
        assert_eq!(
            all.unseen.len(),
            1,
            "without a cut-off only never-seen devices"
        );
    }
}
