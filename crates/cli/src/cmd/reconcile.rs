//! `camtrace reconcile`: what discovery found against what the register says, for one site.

use crate::common::{default_format, Format, Global};
use camtrace_store::reconcile::Reconciliation;
use chrono::NaiveDate;
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
    let today = crate::common::today();
    let r = if a.adopt {
        let actor = format!(
            "{} (reconcile --adopt)",
            std::env::var("USER").unwrap_or_else(|_| "cli".into())
        );
        let done =
            camtrace_estate::reconcile::adopt(store.as_ref(), &kb, &a.site, a.since, today, &actor)
                .await?;
        eprintln!(
            "camtrace: registered {} discovered devices on site {}",
            done.created, a.site
        );
        done.reconciliation
    } else {
        camtrace_estate::reconcile::reconcile_site(store.as_ref(), &kb, &a.site, a.since, today)
            .await?
    };
    print(&r, default_format(a.format))?;
    Ok(ExitCode::SUCCESS)
}

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
