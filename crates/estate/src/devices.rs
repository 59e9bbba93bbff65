//! The register's devices as every front door lists them: filtered (on the attributed maker,
//! not only the declared one), each with the maker the register means, and exported with the
//! sites, zones, networks and organisations they need. `camtrace devices`, the API's
//! `GET /api/v1/devices` and the dashboard's device page read devices through here.

use crate::attribution::{maker_matches, register_maker};
use crate::Result;
use camtrace_kb::Kb;
use camtrace_model::{Device, DeviceClass, DeviceStatus, NetworkSegment, Organisation, Site, Zone};
use camtrace_store::{
    DeviceFilter, DevicePageQuery, EstateFilter, RegisterBatch, SiteFilter, Store,
};
use chrono::NaiveDate;
use serde::Serialize;
use std::collections::HashSet;

/// Which devices to list.
#[derive(Debug, Clone, Default)]
pub struct DeviceQuery {
    /// The organisation and every organisation below it.
    pub org: Option<String>,
    pub site: Option<String>,
    /// Brand as registered, case-insensitive.
    pub brand: Option<String>,
    /// Maker: a knowledge-base company id or name, matched against the declared maker, else the
    /// maker attributed from the brand ([`maker_matches`]).
    pub maker: Option<String>,
    pub class: Option<DeviceClass>,
    pub status: Option<DeviceStatus>,
    /// Only devices on sites meeting (true) / not meeting (false) a sensitive-site criterion.
    pub sensitive: Option<bool>,
    /// The register as it stood at the end of this date (rebuilt from its history); `None`: now.
    pub as_of: Option<NaiveDate>,
}

/// A register device with the maker the register means: its declared maker, else the maker its
/// brand (and model) resolves to through the knowledge base at its install date
/// ([`register_maker`], the one attribution rule).
#[derive(Debug, Clone, Serialize)]
pub struct DeviceRow {
    #[serde(flatten)]
    pub device: Device,
    /// The knowledge-base company id the declared maker or the brand names (absent: unknown).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attributed_maker: Option<String>,
}

impl DeviceRow {
    /// The row of `device`, its maker attributed on `date` when the register names none
    /// (without a knowledge base, the declared maker only).
    pub fn new(kb: Option<&Kb>, device: Device, date: NaiveDate) -> Self {
        DeviceRow {
            attributed_maker: kb.and_then(|k| register_maker(k, &device, date)),
            device,
        }
    }

    /// True when the register names no maker and the knowledge base attributed one.
    pub fn maker_is_attributed(&self) -> bool {
        self.device.maker.is_none() && self.attributed_maker.is_some()
    }
}

/// The devices of a query, with the register entries around them.
#[derive(Debug, Clone, Default)]
pub struct Listing {
    pub rows: Vec<DeviceRow>,
    pub sites: Vec<Site>,
    pub organisations: Vec<Organisation>,
    pub zones: Vec<Zone>,
    pub networks: Vec<NetworkSegment>,
}

/// List the devices matching `q`. Without a knowledge base (`kb: None`) only declared makers
/// are shown and matched. `today` dates the attribution of devices without an install date.
pub async fn list(
    store: &dyn Store,
    kb: Option<&Kb>,
    q: &DeviceQuery,
    today: NaiveDate,
) -> Result<Listing> {
    let date = q.as_of.unwrap_or(today);
    let mut listing = match q.as_of {
        None => {
            let devices = store
                .list_devices(&DeviceFilter {
                    organisation: q.org.clone(),
                    site: q.site.clone(),
                    brand: q.brand.clone(),
                    // Matched below, on the attributed maker too.
                    maker: None,
                    class: q.class,
                    status: q.status,
                    sensitive: q.sensitive,
                    mac: None,
                    limit: None,
                })
                .await?;
            let sites = store
                .list_sites(&SiteFilter {
                    organisation: q.org.clone(),
                    site: q.site.clone(),
                    ..Default::default()
                })
                .await?;
            Listing {
                rows: devices
                    .into_iter()
                    .map(|device| DeviceRow::new(kb, device, date))
                    .collect(),
                sites,
                organisations: store.list_organisations().await?,
                zones: store.list_zones(q.site.as_deref()).await?,
                networks: store.list_networks(q.site.as_deref()).await?,
            }
        }
        Some(at) => {
            let e = store
                .estate_as_of(
                    at,
                    &EstateFilter {
                        organisation: q.org.clone(),
                        site: q.site.clone(),
                    },
                )
                .await?;
            let sensitive_sites: HashSet<&str> = e
                .sites
                .iter()
                .filter(|s| s.criteria.is_sensitive())
                .map(|s| s.id.as_str())
                .collect();
            let rows = e
                .devices
                .iter()
                .filter(|d| {
                    q.brand.as_ref().is_none_or(|b| {
                        d.brand
                            .as_deref()
                            .is_some_and(|x| x.eq_ignore_ascii_case(b))
                    }) && q.class.is_none_or(|c| d.class == c)
                        && q.status.is_none_or(|s| d.status == s)
                        && q.sensitive
                            .is_none_or(|want| sensitive_sites.contains(d.site.as_str()) == want)
                })
                .cloned()
                .map(|device| DeviceRow::new(kb, device, date))
                .collect();
            Listing {
                rows,
                sites: e.sites,
                organisations: e.organisations,
                zones: e.zones,
                networks: e.networks,
            }
        }
    };
    if let Some(want) = &q.maker {
        listing
            .rows
            .retain(|r| matches_maker(kb, &r.device, date, want));
    }
    Ok(listing)
}

/// [`maker_matches`] with a knowledge base; without one, the declared maker only.
fn matches_maker(kb: Option<&Kb>, d: &Device, date: NaiveDate, want: &str) -> bool {
    match kb {
        Some(k) => maker_matches(k, d, date, want),
        None => d
            .maker
            .as_deref()
            .is_some_and(|m| m.eq_ignore_ascii_case(want)),
    }
}

impl Listing {
    /// The listed devices in the register format, with the sites, zones and networks they use
    /// and their organisations and those organisations' parents, so that the export imports
    /// into an empty register. A blank maker stays blank: the register as it is.
    pub fn into_register(self) -> RegisterBatch {
        let devices: Vec<Device> = self.rows.into_iter().map(|r| r.device).collect();
        let site_ids: HashSet<&str> = devices.iter().map(|d| d.site.as_str()).collect();
        let sites: Vec<Site> = self
            .sites
            .into_iter()
            .filter(|s| site_ids.contains(s.id.as_str()))
            .collect();
        let mut org_ids: HashSet<String> = sites.iter().map(|s| s.organisation.clone()).collect();
        loop {
            let before = org_ids.len();
            for o in &self.organisations {
                if org_ids.contains(&o.id) {
                    if let Some(p) = &o.parent {
                        org_ids.insert(p.clone());
                    }
                }
            }
            if org_ids.len() == before {
                break;
            }
        }
        let zone_ids: HashSet<&str> = devices.iter().filter_map(|d| d.zone.as_deref()).collect();
        let net_ids: HashSet<&str> = devices
            .iter()
            .filter_map(|d| d.network.as_deref())
            .collect();
        RegisterBatch {
            organisations: self
                .organisations
                .into_iter()
                .filter(|o| org_ids.contains(&o.id))
                .collect(),
            zones: self
                .zones
                .into_iter()
                .filter(|z| zone_ids.contains(z.id.as_str()))
                .collect(),
            networks: self
                .networks
                .into_iter()
                .filter(|n| net_ids.contains(n.id.as_str()))
                .collect(),
            sites,
            devices,
        }
    }
}

/// Devices read per store page while filtering on the attributed maker.
const MAKER_SCAN_PAGE: i64 = 1000;

/// One page (keyset on the id) of devices matching `q`. A maker in `q.maker` is matched as
/// [`list`] matches it (declared maker, else attributed from the brand on `date`): the store
/// cannot filter on an attribution, so store pages are read until this page is full. Returns
/// the devices and the cursor of the next page, if any.
pub async fn page(
    store: &dyn Store,
    kb: &Kb,
    q: &DevicePageQuery,
    date: NaiveDate,
) -> Result<(Vec<Device>, Option<String>)> {
    let Some(want) = q.maker.clone() else {
        let (devices, more) = store.device_page(q).await?;
        let next = more.then(|| devices.last().map(|d| d.id.clone())).flatten();
        return Ok((devices, next));
    };
    let limit = q.limit.max(1) as usize;
    let mut sq = DevicePageQuery {
        maker: None,
        limit: MAKER_SCAN_PAGE.max(q.limit),
        ..q.clone()
    };
    let mut rows: Vec<Device> = Vec::new();
    loop {
        let (devices, more) = store.device_page(&sq).await?;
        let last = devices.last().map(|d| d.id.clone());
        for d in devices {
            if !maker_matches(kb, &d, date, &want) {
                continue;
            }
            if rows.len() == limit {
                // A further match exists: this page ends at its last row.
                let next = rows.last().map(|d| d.id.clone());
                return Ok((rows, next));
            }
            rows.push(d);
        }
        match (more, last) {
            (true, Some(after)) => sq.after_id = Some(after),
            _ => return Ok((rows, None)),
        }
    }
}
