//! The estate `camtrace check` judges when it is not the register as stored: identifications
//! piped in from `identify` or `scan`, or a register file, placed on a site described by the
//! caller ([`Placement`]); and what the register leaves out ([`unregistered_found`]): devices
//! found on the network and not registered, judged as if they were.

use crate::judge::Judged;
use crate::{EstateError, Result};
use camtrace_kb::Kb;
use camtrace_model::{
    DeviceStatus, Estate, NetworkSegment, Organisation, SeenIdentification, SensitivityCriteria,
    Site,
};
use camtrace_policy::{evaluate, DeviceFacts, EvalContext, PolicySet};
use chrono::NaiveDate;
use std::collections::{BTreeMap, HashSet};
use std::io::BufRead;

/// Where devices whose site the register does not know are: the site, organisation and network
/// described by the caller (`check --site-criteria --core-network --org-kind ...`).
#[derive(Debug, Clone, Default)]
pub struct Placement {
    pub criteria: SensitivityCriteria,
    pub core: bool,
    pub internet: bool,
    /// Kind of organisation (central_government, local_government, defence ...).
    pub org_kind: Option<String>,
    /// ISO country (upper case).
    pub country: Option<String>,
    pub government_building: bool,
    pub tags: Vec<String>,
}

impl Placement {
    /// Id of the organisation the described sites belong to.
    pub const ORG: &'static str = "cli-input";
    /// Id of the described network segment.
    pub const NET: &'static str = "cli-input-network";
    /// Id of the site piped identifications are placed on.
    pub const SITE: &'static str = "cli-input-site";

    /// Sensitive-site criteria from their names (secret, dv, ministerial, socpa; the model's
    /// field names too); an unknown name is an error naming the accepted ones.
    pub fn criteria(names: &[String]) -> Result<SensitivityCriteria> {
        let mut c = SensitivityCriteria::default();
        for s in names {
            match s.trim().to_ascii_lowercase().as_str() {
                "" => {}
                "secret" | "secret_or_above" => c.secret_or_above = true,
                "dv" | "dv_significant" => c.dv_significant = true,
                "ministerial" | "ministerial_use" => c.ministerial_use = true,
                "socpa" | "socpa_2005" => c.socpa_2005 = true,
                other => {
                    return Err(EstateError::Invalid(format!(
                    "unknown site criterion `{other}` (expected secret, dv, ministerial or socpa)"
                )))
                }
            }
        }
        Ok(c)
    }

    pub fn org(&self) -> Organisation {
        Organisation {
            id: Self::ORG.into(),
            name: "organisation described on the command line".into(),
            parent: None,
            kind: self.org_kind.clone(),
            country: self.country.clone(),
        }
    }

    pub fn site(&self, id: &str) -> Site {
        Site {
            id: id.into(),
            organisation: Self::ORG.into(),
            name: format!("{id} (described on the command line)"),
            address: None,
            criteria: self.criteria,
            classification: None,
            government_building: self.government_building,
            tags: self.tags.clone(),
        }
    }

    pub fn network(&self, site: &str) -> NetworkSegment {
        NetworkSegment {
            id: Self::NET.into(),
            site: site.into(),
            name: "network described on the command line".into(),
            cidrs: Vec::new(),
            core: self.core,
            internet_exposed: self.internet,
        }
    }

    /// True when the caller described anything at all.
    pub fn described(&self) -> bool {
        self.criteria.is_sensitive()
            || self.core
            || self.internet
            || self.org_kind.is_some()
            || self.country.is_some()
            || self.government_building
            || !self.tags.is_empty()
    }
}

/// Identifications read from JSON Lines.
#[derive(Debug, Default)]
pub struct FromIdentifications {
    pub estate: Estate,
    /// Observation lines skipped (they need `camtrace identify` first).
    pub observations_skipped: u64,
}

/// An estate of the identifications in `input` (JSON Lines of `camtrace identify` or `scan`),
/// each a device on one site placed by `p`; `planned`: the devices are planned, not installed
/// (the deployment gate). `name` names the input in errors. A target seen twice is an error.
pub fn from_identifications<R: BufRead>(
    input: R,
    name: &str,
    p: &Placement,
    planned: bool,
) -> Result<FromIdentifications> {
    use camtrace_ingest::jsonl::Item;
    let site_id = Placement::SITE;
    let mut est = Estate::default();
    est.organisations.push(p.org());
    est.sites.push(p.site(site_id));
    est.networks.push(p.network(site_id));
    let mut seen = HashSet::new();
    let mut observations_skipped = 0u64;
    for item in camtrace_ingest::jsonl::read(input) {
        let item = item.map_err(|e| {
            EstateError::Invalid(format!("reading identifications from {name}: {e}"))
        })?;
        match item {
            Item::Identification(id) => {
                if !seen.insert(id.target.clone()) {
                    return Err(EstateError::Invalid(format!(
                        "target `{}` appears twice in {name}",
                        id.target
                    )));
                }
                let mut d = camtrace_store::device_from_identification(site_id, &id);
                d.id = id.target.clone();
                d.network = Some(Placement::NET.into());
                if planned {
                    d.status = DeviceStatus::Planned;
                }
                est.devices.push(d);
                est.identifications.push(SeenIdentification {
                    device_id: Some(id.target.clone()),
                    site: Some(site_id.into()),
                    scan_id: "cli-input".into(),
                    seen_at: String::new(),
                    identification: id,
                });
            }
            Item::Observation(_) => observations_skipped += 1,
        }
    }
    Ok(FromIdentifications {
        estate: est,
        observations_skipped,
    })
}

/// Complete the estate of a register file: the organisations, sites and networks it lacks come
/// from the stored register (when there is one), its waivers too, and sites known to neither
/// are placed by `p`. Returns the ids of the sites placed so.
pub fn complete_register_file(
    est: &mut Estate,
    stored: Option<Estate>,
    p: &Placement,
) -> Vec<String> {
    if let Some(stored) = stored {
        let have: HashSet<String> = est.sites.iter().map(|s| s.id.clone()).collect();
        let orgs: HashSet<String> = est.organisations.iter().map(|o| o.id.clone()).collect();
        let nets: HashSet<String> = est.networks.iter().map(|n| n.id.clone()).collect();
        est.sites
            .extend(stored.sites.into_iter().filter(|s| !have.contains(&s.id)));
        est.organisations.extend(
            stored
                .organisations
                .into_iter()
                .filter(|o| !orgs.contains(&o.id)),
        );
        est.networks.extend(
            stored
                .networks
                .into_iter()
                .filter(|n| !nets.contains(&n.id)),
        );
        est.waivers = stored.waivers;
    }
    let known: HashSet<&str> = est.sites.iter().map(|s| s.id.as_str()).collect();
    let mut missing: Vec<String> = est
        .devices
        .iter()
        .map(|d| d.site.as_str())
        .filter(|s| !known.contains(s))
        .collect::<HashSet<_>>()
        .into_iter()
        .map(String::from)
        .collect();
    missing.sort();
    if !missing.is_empty() {
        if !est.organisations.iter().any(|o| o.id == Placement::ORG) {
            est.organisations.push(p.org());
        }
        for s in &missing {
            est.sites.push(p.site(s));
        }
    }
    missing
}

/// Keep only the devices of `site`, of `org` (its own sites; the register's loader applies the
/// organisation tree itself), and with `planned_only` only those planned for installation.
pub fn restrict(est: &mut Estate, org: Option<&str>, site: Option<&str>, planned_only: bool) {
    if let Some(s) = site {
        est.devices.retain(|d| d.site == s);
    }
    if let Some(o) = org {
        let sites: HashSet<&str> = est
            .sites
            .iter()
            .filter(|s| s.organisation == o)
            .map(|s| s.id.as_str())
            .collect();
        est.devices.retain(|d| sites.contains(d.site.as_str()));
    }
    if planned_only {
        est.devices.retain(|d| d.status == DeviceStatus::Planned);
    }
}

/// Devices found on the network and not in the register, judged as if they were registered
/// where they were found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnregisteredFound {
    /// How many (counted as [`camtrace_store::reconcile::is_unregistered`] counts).
    pub found: usize,
    /// Of those, how many the same rules would restrict or send for inspection.
    pub restricted: usize,
    /// Found per site id.
    pub per_site: BTreeMap<String, usize>,
}

/// What the judged register leaves out ([`UnregisteredFound`]), under the same regimes, date and
/// confidence floor; `None` when everything found is registered.
pub fn unregistered_found(
    kb: &Kb,
    policies: &PolicySet,
    judged: &Judged,
    as_of: NaiveDate,
    min_confidence: Option<f64>,
) -> Result<Option<UnregisteredFound>> {
    let estate = &judged.estate;
    let found: Vec<&SeenIdentification> = estate
        .identifications
        .iter()
        .filter(|s| camtrace_store::reconcile::is_unregistered(s) && s.site.is_some())
        .collect();
    if found.is_empty() {
        return Ok(None);
    }
    let mut shadow = Estate {
        organisations: estate.organisations.clone(),
        sites: estate.sites.clone(),
        zones: estate.zones.clone(),
        networks: estate.networks.clone(),
        ..Default::default()
    };
    let mut per_site: BTreeMap<String, usize> = BTreeMap::new();
    for s in &found {
        let site = s.site.as_deref().unwrap_or_default();
        *per_site.entry(site.to_string()).or_default() += 1;
        let mut d = camtrace_store::device_from_identification(site, &s.identification);
        d.id = format!("found:{site}/{}", s.identification.target);
        let mut seen = (*s).clone();
        seen.device_id = Some(d.id.clone());
        shadow.devices.push(d);
        shadow.identifications.push(seen);
    }
    let selected = policies
        .select(&judged.regimes)
        .map_err(EstateError::Invalid)?;
    let mut ctx = EvalContext::new(kb, selected, as_of);
    ctx.min_confidence = min_confidence;
    let facts = DeviceFacts::from_estate(&shadow);
    let restricted: HashSet<String> = evaluate(&ctx, &facts, &[])
        .iter()
        .filter(|f| f.status.is_actionable())
        .map(|f| f.device_id.to_string())
        .collect();
    Ok(Some(UnregisteredFound {
        found: found.len(),
        restricted: restricted.len(),
        per_site,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn criteria_names_are_checked() {
        let c = Placement::criteria(&["secret".into(), " DV ".into(), String::new()]).unwrap();
        assert!(c.secret_or_above && c.dv_significant && !c.socpa_2005);
        let e = Placement::criteria(&["topsecret".into()]).unwrap_err();
        assert!(e.to_string().contains("`topsecret`"), "{e}");
    }

    #[test]
    fn piped_identifications_are_devices_of_one_described_site() {
        let input = concat!(
            r#"{"target":"127.0.0.5","maker":{"id":"hikvision","name":"Hikvision"},"device_class":"camera","confidence":0.9,"evidence":[]}"#,
            "\n",
            r#"{"target":"127.0.0.6","device_class":"camera","confidence":0.4,"evidence":[]}"#,
            "\n"
        );
        let p = Placement {
            core: true,
            ..Default::default()
        };
        let got = from_identifications(input.as_bytes(), "test", &p, true).unwrap();
        let e = &got.estate;
        assert_eq!(e.devices.len(), 2);
        assert!(e.devices.iter().all(|d| d.status == DeviceStatus::Planned
            && d.site == Placement::SITE
            && d.network.as_deref() == Some(Placement::NET)));
        assert!(e.networks[0].core);
        let twice = format!("{input}{input}");
        let err = from_identifications(twice.as_bytes(), "dup.jsonl", &p, false).unwrap_err();
        assert!(
            err.to_string().contains("appears twice in dup.jsonl"),
            "{err}"
        );
    }

    #[test]
    fn a_register_file_takes_missing_sites_from_the_register_then_the_placement() {
        let mut file = Estate::default();
        for (id, site) in [("a", "known"), ("b", "nowhere")] {
            file.devices
                .push(serde_json::from_value(serde_json::json!({"id": id, "site": site})).unwrap());
        }
        let mut stored = Estate::default();
        stored.sites.push(Placement::default().site("known"));
        stored.sites[0].organisation = "org".into();
        let p = Placement {
            criteria: Placement::criteria(&["secret".into()]).unwrap(),
            ..Default::default()
        };
        let missing = complete_register_file(&mut file, Some(stored), &p);
        assert_eq!(missing, ["nowhere"]);
        let nowhere = file.sites.iter().find(|s| s.id == "nowhere").unwrap();
        assert!(nowhere.criteria.secret_or_above);
        let known = file.sites.iter().find(|s| s.id == "known").unwrap();
        assert_eq!(known.organisation, "org");
        restrict(&mut file, None, Some("known"), false);
        assert_eq!(file.devices.len(), 1);
        restrict(&mut file, None, None, true);
        assert!(file.devices.is_empty(), "installed devices are not planned");
    }
}
