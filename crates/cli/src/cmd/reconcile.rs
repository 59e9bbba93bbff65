//! `camtrace reconcile`: what discovery found against what the register says, for one site.

use crate::common::{default_format, Format, Global};
use camtrace_kb::Kb;
use camtrace_model::{Device, Observation};
use camtrace_store::reconcile::{reconcile, Reconciliation};
use camtrace_store::{EstateFilter, RegisterBatch};
use chrono::NaiveDate;
use std::collections::BTreeMap;
use std::io::Write;
use std::process::ExitCode;

/// Compare what was discovered (imported scans, nmap XML, captures) with the register of a site:
/// devices found but not registered, registered but not seen since a date, maker or class
/// mismatches (register says Axis, the wire says Hikvision), and one identity at two addresses.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The site to reconcile.
    #[arg(long)]
    pub site: String,
    /// Registered devices without evidence since this date (YYYY-MM-DD) are listed as not seen;
    /// without it, only devices never seen are.
    #[arg(long, value_name = "DATE")]
    pub since: Option<NaiveDate>,
    /// Register the discovered devices that are not in the register (status installed).
    #[arg(long)]
    pub adopt: bool,
    /// Output format (default: a table on a terminal, JSON otherwise).
    #[arg(long, value_enum)]
    pub format: Option<Format>,
}

pub fn run(g: &Global, a: Args) -> anyhow::Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async_run(g, a))
}

async fn async_run(g: &Global, a: Args) -> anyhow::Result<ExitCode> {
    let store = crate::common::open_register(&g.db).await?;
    if store.get_site(&a.site).await?.is_none() {
        anyhow::bail!("{}", crate::common::site_missing_message(&g.db, &a.site));
    }
    let kb = g.load_kb()?;
    let today = chrono::Utc::now().date_naive();
    let mut estate = store
        .load_estate(&EstateFilter {
            site: Some(a.site.clone()),
            ..Default::default()
        })
        .await?;
    one_view(store.as_ref(), &kb, &a.site, &mut estate).await?;
    let since = a.since.map(|d| d.format("%Y-%m-%d").to_string());
    let maker = |d: &Device| register_maker(&kb, d, today);
    let mut r = reconcile(&estate, &a.site, since.as_deref(), &maker);
    if a.adopt && !r.unregistered.is_empty() {
        let devices: Vec<Device> = estate
            .identifications
            .iter()
            .filter(|s| s.device_id.is_none() && s.site.as_deref() == Some(a.site.as_str()))
            .filter(|s| {
                r.unregistered
                    .iter()
                    .any(|u| u.target == s.identification.target)
            })
            .map(|s| camtrace_store::device_from_identification(&a.site, &s.identification))
            .collect();
        let sum = store
            .apply_register(
                &RegisterBatch {
                    devices,
                    ..Default::default()
                },
                &format!(
                    "{} (reconcile --adopt)",
                    std::env::var("USER").unwrap_or_else(|_| "cli".into())
                ),
            )
            .await?;
        eprintln!(
            "camtrace: registered {} discovered devices on site {}",
            sum.devices.created, a.site
        );
        let mut estate = store
            .load_estate(&EstateFilter {
                site: Some(a.site.clone()),
                ..Default::default()
            })
            .await?;
        one_view(store.as_ref(), &kb, &a.site, &mut estate).await?;
        r = reconcile(&estate, &a.site, since.as_deref(), &maker);
    }
    print(&r, default_format(a.format))?;
    Ok(ExitCode::SUCCESS)
}

/// Identify each target of the site from the observations of every scan and file imported for
/// it together (an nmap banner and a DHCP vendor class of one host make one identification),
/// dated by the latest evidence; targets known only from imported identifications keep those.
async fn one_view(
    store: &dyn camtrace_store::Store,
    kb: &Kb,
    site: &str,
    estate: &mut camtrace_model::Estate,
) -> anyhow::Result<()> {
    let scans: BTreeMap<String, camtrace_store::ScanRecord> = store
        .list_scans(Some(site))
        .await?
        .into_iter()
        .map(|s| (s.id.clone(), s))
        .collect();
    let stored = store
        .observations(&camtrace_store::ObservationFilter {
            site: Some(site.to_string()),
            ..Default::default()
        })
        .await?;
    if stored.is_empty() {
        return Ok(());
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
        estate
            .identifications
            .push(camtrace_model::SeenIdentification {
                device_id: None,
                site: Some(site.to_string()),
                scan_id,
                seen_at,
                identification: ident,
            });
    }
    camtrace_store::link_identifications(&mut estate.identifications, &estate.devices);
    Ok(())
}

pub use camtrace_estate::attribution::register_maker;

pub use camtrace_ingest::import::identify_observations;

fn print(r: &Reconciliation, fmt: Format) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match fmt {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, r)?;
            writeln!(out)?;
        }
        Format::Csv => {
            let mut w = crate::common::CsvOut::new(out);
            w.write_record([
                "finding", "device", "target", "field", "register", "observed", "detail",
            ])?;
            for u in &r.unregistered {
                w.write_record([
                    "unregistered",
                    &u.proposed_id,
                    &u.target,
                    "",
                    "",
                    format!(
                        "{} {}",
                        u.maker.as_deref().unwrap_or("?"),
                        u.model.as_deref().unwrap_or("")
                    )
                    .trim(),
                    &format!("seen {} (scan {})", u.seen_at, u.scan_id),
                ])?;
            }
            for u in &r.unseen {
                w.write_record([
                    "not_seen",
                    &u.device_id,
                    &u.addresses.join(";"),
                    "",
                    u.brand.as_deref().unwrap_or(""),
                    "",
                    &format!("last seen {}", u.last_seen.as_deref().unwrap_or("never")),
                ])?;
            }
            for m in &r.mismatches {
                w.write_record([
                    "mismatch",
                    &m.device_id,
                    &m.target,
                    &m.field,
                    &m.register,
                    &m.observed,
                    &m.evidence.join(" | "),
                ])?;
            }
            for d in &r.duplicates {
                w.write_record([
                    "duplicate",
                    &d.devices.join(";"),
                    &d.targets.join(";"),
                    "mac",
                    "",
                    &d.mac,
                    "",
                ])?;
            }
            w.flush()?;
        }
        Format::Table => {
            writeln!(
                out,
                "site {}: {} registered, {} discovered, {} matched{}",
                r.site,
                r.registered,
                r.discovered,
                r.matched,
                r.since
                    .as_deref()
                    .map(|s| format!(", not-seen cut-off {s}"))
                    .unwrap_or_default()
            )?;
            writeln!(
                out,
                "\nDiscovered, not registered ({}):",
                r.unregistered.len()
            )?;
            let rows = r
                .unregistered
                .iter()
                .map(|u| {
                    vec![
                        u.target.clone(),
                        u.mac.clone().unwrap_or_default(),
                        u.maker.clone().unwrap_or_default(),
                        u.model.clone().unwrap_or_default(),
                        u.class.as_str().into(),
                        u.seen_at.clone(),
                    ]
                })
                .collect();
            super::devices::table(
                &mut out,
                &["TARGET", "MAC", "MAKER", "MODEL", "CLASS", "SEEN"],
                rows,
            )?;
            writeln!(out, "\nRegistered, not seen ({}):", r.unseen.len())?;
            let rows = r
                .unseen
                .iter()
                .map(|u| {
                    vec![
                        u.device_id.clone(),
                        u.brand.clone().unwrap_or_default(),
                        u.model.clone().unwrap_or_default(),
                        u.addresses.join(";"),
                        u.status.as_str().into(),
                        u.last_seen.clone().unwrap_or_else(|| "never".into()),
                    ]
                })
                .collect();
            super::devices::table(
                &mut out,
                &[
                    "DEVICE",
                    "BRAND",
                    "MODEL",
                    "ADDRESSES",
                    "STATUS",
                    "LAST SEEN",
                ],
                rows,
            )?;
            writeln!(out, "\nMismatches ({}):", r.mismatches.len())?;
            let rows = r
                .mismatches
                .iter()
                .map(|m| {
                    vec![
                        m.device_id.clone(),
                        m.target.clone(),
                        m.field.clone(),
                        m.register.clone(),
                        m.observed.clone(),
                        m.evidence.first().cloned().unwrap_or_default(),
                    ]
                })
                .collect();
            super::devices::table(
                &mut out,
                &[
                    "DEVICE", "TARGET", "FIELD", "REGISTER", "OBSERVED", "EVIDENCE",
                ],
                rows,
            )?;
            writeln!(out, "\nDuplicate identities ({}):", r.duplicates.len())?;
            let rows = r
                .duplicates
                .iter()
                .map(|d| vec![d.mac.clone(), d.targets.join(", "), d.devices.join(", ")])
                .collect();
            super::devices::table(&mut out, &["MAC", "ADDRESSES", "DEVICES"], rows)?;
            if r.unidentified_hosts > 0 {
                writeln!(
                    out,
                    "\n{} other hosts seen with no maker or device class evidence.",
                    r.unidentified_hosts
                )?;
            }
        }
    }
    Ok(())
}
