//! `camtrace devices`: list devices in the register, filtered, as a table, JSON or CSV (the CSV is
//! the register import format, so an export can be edited and imported back).

use crate::common::today;
use crate::common::{default_format, Format, Global};
use camtrace_estate::devices::{DeviceQuery, DeviceRow};
use camtrace_ingest::register::write_csv;
use camtrace_model::{DeviceClass, DeviceStatus};
use chrono::NaiveDate;
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
    /// Maker (knowledge-base company id or name, e.g. hikvision): the declared maker, else the
    /// maker the brand (and model) is attributed to at the install date.
    #[arg(long)]
    pub maker: Option<String>,
    /// Brand as registered (e.g. LTS).
    #[arg(long)]
    pub brand: Option<String>,
    /// Only devices of this class (camera, recorder, encoder, vms, intercom, access_control, other,
    /// unknown).
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
    let query = DeviceQuery {
        org: a.org.clone(),
        site: a.site.clone(),
        brand: a.brand.clone(),
        maker: a.maker.clone(),
        class: a.class,
        status: a.status,
        sensitive: sensitive(&a),
        as_of: a.as_of,
    };
    let listing =
        camtrace_estate::devices::list(store.as_ref(), kb.as_ref(), &query, today()).await?;
    let mut out = std::io::stdout().lock();
    match default_format(a.format) {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, &listing.rows)?;
            writeln!(out)?;
        }
        // The register import format, so an export can be edited and imported back.
        Format::Csv => write_csv(&listing.into_register(), &mut out)?,
        Format::Table => {
            let attributed = listing.rows.iter().any(DeviceRow::maker_is_attributed);
            let rows = listing.rows.iter().map(row).collect();
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

fn row(r: &DeviceRow) -> Vec<String> {
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
