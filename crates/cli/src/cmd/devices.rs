//! `camtrace devices`: list devices in the register, filtered, as a table, JSON or CSV (the CSV is
//! the register import format, so an export can be edited and imported back).

use crate::common::{default_format, Format, Global};
use camtrace_ingest::register::{write_csv, Register};
use camtrace_model::{Device, DeviceClass, DeviceStatus};
use camtrace_store::{DeviceFilter, EstateFilter, SiteFilter};
use chrono::NaiveDate;
use std::collections::HashSet;
use std::io::Write;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Only this organisation and the organisations below it.
    #[arg(long, value_name = "ORG")]
    pub org: Option<String>,
    /// Only this site.
    #[arg(long, value_name = "SITE")]
    pub site: Option<String>,
    /// Maker (knowledge-base company id, e.g. hikvision).
    #[arg(long)]
    pub maker: Option<String>,
    /// Brand as registered (e.g. LTS).
    #[arg(long)]
    pub brand: Option<String>,
    /// Only devices of this class (camera, recorder, vms, intercom, access_control, other, unknown).
    #[arg(long, value_parser = parse_class)]
    pub class: Option<DeviceClass>,
    /// Only devices with this status (planned, installed, disconnected, removed).
    #[arg(long, value_parser = parse_status)]
    pub status: Option<DeviceStatus>,
    /// Only devices on sites meeting a UK sensitive-site criterion.
    #[arg(long, conflicts_with = "not_sensitive")]
    pub sensitive: bool,
    /// Only devices on sites meeting no sensitive-site criterion.
    #[arg(long)]
    pub not_sensitive: bool,
    /// The register as it was at the end of this date (rebuilt from the audit history).
    #[arg(long, value_name = "DATE")]
    pub as_of: Option<NaiveDate>,
    /// Output format (default: a table on a terminal, JSON otherwise).
    #[arg(long, value_enum)]
    pub format: Option<Format>,
}

fn parse_class(s: &str) -> Result<DeviceClass, String> {
    s.parse()
}

fn parse_status(s: &str) -> Result<DeviceStatus, String> {
    s.parse()
}

pub fn run(g: &Global, a: Args) -> anyhow::Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async_run(g, a))
}

fn sensitive(a: &Args) -> Option<bool> {
    if a.sensitive {
        Some(true)
    } else if a.not_sensitive {
        Some(false)
    } else {
        None
    }
}

/// A register device with the maker the register means: its declared maker, else the maker its
/// brand (and model) resolves to through the knowledge base at its install date
/// ([`camtrace_estate::attribution::register_maker`], the one attribution rule).
#[derive(serde::Serialize)]
struct Row {
    #[serde(flatten)]
    device: Device,
    /// The knowledge-base company id the declared maker or the brand names (empty: unknown).
    #[serde(skip_serializing_if = "Option::is_none")]
    attributed_maker: Option<String>,
}

async fn async_run(g: &Global, a: Args) -> anyhow::Result<ExitCode> {
    let store = crate::common::open_register(&g.db).await?;
    // The knowledge base attributes a maker to devices registered with a brand only; without
    // it the declared makers are still shown.
    let kb = match g.load_kb() {
        Ok(k) => Some(k),
        Err(e) => {
            tracing::warn!("knowledge base unavailable, showing declared makers only: {e:#}");
            None
        }
    };
    let date = a.as_of.unwrap_or_else(crate::cmd::plan::today);
    let scope = EstateFilter {
        organisation: a.org.clone(),
        site: a.site.clone(),
    };
    let (devices, sites, orgs, zones, networks) = match a.as_of {
        None => {
            let devices = store
                .list_devices(&DeviceFilter {
                    organisation: a.org.clone(),
                    site: a.site.clone(),
                    brand: a.brand.clone(),
                    // Filtered below, on the attributed maker too.
                    maker: None,
                    class: a.class,
                    status: a.status,
                    sensitive: sensitive(&a),
                    mac: None,
                    limit: None,
                })
                .await?;
            let sites = store
                .list_sites(&SiteFilter {
                    organisation: a.org.clone(),
                    site: a.site.clone(),
                    ..Default::default()
                })
                .await?;
            (
                devices,
                sites,
                store.list_organisations().await?,
                store.list_zones(a.site.as_deref()).await?,
                store.list_networks(a.site.as_deref()).await?,
            )
        }
        Some(date) => {
            let e = store.estate_as_of(date, &scope).await?;
            let sens = sensitive(&a);
            let devices = e
                .devices
                .into_iter()
                .filter(|d| {
                    a.brand.as_ref().is_none_or(|b| {
                        d.brand
                            .as_deref()
                            .is_some_and(|x| x.eq_ignore_ascii_case(b))
                    }) && a.class.is_none_or(|c| d.class == c)
                        && a.status.is_none_or(|s| d.status == s)
                        && sens.is_none_or(|want| {
                            e.sites
                                .iter()
                                .find(|s| s.id == d.site)
                                .is_some_and(|s| s.criteria.is_sensitive() == want)
                        })
                })
                .collect();
            (devices, e.sites, e.organisations, e.zones, e.networks)
        }
    };
    let rows: Vec<Row> = devices
        .into_iter()
        .map(|d| Row {
            attributed_maker: kb
                .as_ref()
                .and_then(|k| camtrace_estate::attribution::register_maker(k, &d, date)),
            device: d,
        })
        .filter(|r| {
            a.maker.as_deref().is_none_or(|m| match &kb {
                Some(k) => camtrace_estate::attribution::maker_matches(k, &r.device, date, m),
                None => r
                    .device
                    .maker
                    .as_deref()
                    .is_some_and(|x| x.eq_ignore_ascii_case(m)),
            })
        })
        .collect();
    let mut out = std::io::stdout().lock();
    match default_format(a.format) {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, &rows)?;
            writeln!(out)?;
        }
        Format::Csv => {
            // The register as it is (a blank maker stays blank, so an export imports back).
            let devices: Vec<Device> = rows.into_iter().map(|r| r.device).collect();
            // The register format: the devices with their sites, zones, networks, organisations.
            let site_ids: HashSet<&str> = devices.iter().map(|d| d.site.as_str()).collect();
            let sites: Vec<_> = sites
                .into_iter()
                .filter(|s| site_ids.contains(s.id.as_str()))
                .collect();
            let mut org_ids: HashSet<String> =
                sites.iter().map(|s| s.organisation.clone()).collect();
            // Parents too, so the file imports into an empty register.
            loop {
                let before = org_ids.len();
                for o in &orgs {
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
            let zone_ids: HashSet<&str> =
                devices.iter().filter_map(|d| d.zone.as_deref()).collect();
            let net_ids: HashSet<&str> = devices
                .iter()
                .filter_map(|d| d.network.as_deref())
                .collect();
            let reg = Register {
                organisations: orgs
                    .into_iter()
                    .filter(|o| org_ids.contains(&o.id))
                    .collect(),
                zones: zones
                    .into_iter()
                    .filter(|z| zone_ids.contains(z.id.as_str()))
                    .collect(),
                networks: networks
                    .into_iter()
                    .filter(|n| net_ids.contains(n.id.as_str()))
                    .collect(),
                sites,
                devices,
            };
            write_csv(&reg, &mut out)?;
        }
        Format::Table => {
            let attributed = rows
                .iter()
                .any(|r| r.device.maker.is_none() && r.attributed_maker.is_some());
            let rows = rows.iter().map(row).collect();
            table(
                &mut out,
                &[
                    "ID",
                    "SITE",
                    "BRAND",
                    "MAKER",
                    "MODEL",
                    "CLASS",
                    "STATUS",
                    "MAC",
                    "ADDRESSES",
                    "UPGRADE",
                ],
                rows,
            )?;
            if attributed {
                writeln!(
                    out,
                    "* maker attributed from the brand and model by the knowledge base (the register names none)"
                )?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn row(r: &Row) -> Vec<String> {
    let d = &r.device;
    vec![
        d.id.clone(),
        d.site.clone(),
        d.brand.clone().unwrap_or_default(),
        match (&d.maker, &r.attributed_maker) {
            (Some(m), _) => m.clone(),
            (None, Some(m)) => format!("{m}*"),
            (None, None) => String::new(),
        },
        d.model.clone().unwrap_or_default(),
        d.class.as_str().into(),
        d.status.as_str().into(),
        d.mac.clone().unwrap_or_default(),
        d.addresses.join(";"),
        d.scheduled_upgrade
            .map(|x| x.to_string())
            .unwrap_or_default(),
    ]
}

/// Print rows as aligned columns (control characters in cells are escaped).
pub fn table(
    out: &mut impl Write,
    headers: &[&str],
    rows: Vec<Vec<String>>,
) -> std::io::Result<()> {
    let clean = |s: &str| -> String {
        s.chars()
            .flat_map(|c| {
                if c.is_control() {
                    c.escape_default().collect::<Vec<_>>()
                } else {
                    vec![c]
                }
            })
            .collect()
    };
    let rows: Vec<Vec<String>> = rows
        .into_iter()
        .map(|r| r.iter().map(|c| clean(c)).collect())
        .collect();
    if rows.is_empty() {
        return writeln!(out, "  (none)");
    }
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(c.chars().count().min(60));
            }
        }
    }
    let line = |cells: Vec<&str>| -> String {
        cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let w = widths.get(i).copied().unwrap_or(0);
                let cut: String = c.chars().take(60).collect();
                format!("{cut:<w$}")
            })
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    writeln!(out, "{}", line(headers.to_vec()))?;
    for r in &rows {
        writeln!(out, "{}", line(r.iter().map(String::as_str).collect()))?;
    }
    Ok(())
}
