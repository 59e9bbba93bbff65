//! `camtrace import`: registers (CSV, JSON), nmap XML, pcap/pcapng and scan results into the
//! register database. One transaction per file: a file is imported whole or not at all, and the
//! same file twice changes nothing.

use crate::common::{default_format, Format, Global};
use anyhow::{bail, Context};
use camtrace_ingest::import::{self, ImportError, ImportOptions, Input};
use camtrace_ingest::register;
use camtrace_ingest::FileKind;
use camtrace_kb::Kb;
use camtrace_store::Store;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum KindArg {
    Auto,
    Csv,
    Json,
    Nmap,
    Pcap,
    Scan,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum TemplateArg {
    Csv,
    Json,
}

/// Import registers, nmap XML, pcap files or scan results into the register.
///
/// Registers (CSV or JSON) create or update organisations, sites, zones, networks and devices;
/// evidence files (nmap XML, pcap/pcapng, `camtrace scan` JSON Lines) are stored as one scan
/// per file, with the devices identified from it. A bad row rejects the whole file with its line
/// and reason, unless --skip-bad.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Files to import (each in its own transaction).
    #[arg(required_unless_present = "template", value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// File kind; `auto` looks at the first bytes and the extension.
    #[arg(long, value_enum, default_value = "auto")]
    pub kind: KindArg,
    /// Site the evidence was gathered on; default site of register rows without one.
    #[arg(long, value_name = "SITE")]
    pub site: Option<String>,
    /// Default organisation of register rows without one (created when new).
    #[arg(long, value_name = "ORG")]
    pub org: Option<String>,
    /// Skip bad rows (each one reported) instead of rejecting the file.
    #[arg(long)]
    pub skip_bad: bool,
    /// Print a register template (with the column documentation) and exit.
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub template: Option<TemplateArg>,
    /// Who is importing (written to the audit history); default: $USER.
    #[arg(long)]
    pub actor: Option<String>,
    /// Store observations without identifying devices from them.
    #[arg(long)]
    pub no_identify: bool,
    /// Output format of the summary.
    #[arg(long, value_enum)]
    pub format: Option<Format>,
}

pub use camtrace_ingest::import::FileSummary;

pub fn run(g: &Global, a: Args) -> anyhow::Result<ExitCode> {
    if let Some(t) = a.template {
        let text = match t {
            TemplateArg::Csv => register::template_csv(),
            TemplateArg::Json => register::template_json(),
        };
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes())?;
        out.write_all(b"\n")?;
        return Ok(ExitCode::SUCCESS);
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async_run(g, a))
}

fn actor(a: &Args) -> String {
    a.actor
        .clone()
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "cli".into())
}

async fn async_run(g: &Global, a: Args) -> anyhow::Result<ExitCode> {
    // Every named file must be there before anything is opened or created.
    for file in &a.files {
        if file.as_os_str() != "-" && !file.exists() {
            anyhow::bail!("importing {}: no such file", file.display());
        }
    }
    let store = camtrace_store::open(&g.db)
        .await
        .with_context(|| format!("opening the register database `{}`", g.db))?;
    // The knowledge base resolves maker names and identifies devices; without it the import
    // still stores everything.
    let kb = match g.load_kb() {
        Ok(k) => Some(k),
        Err(e) => {
            tracing::warn!("knowledge base unavailable, importing without identification: {e:#}");
            None
        }
    };
    let mut summaries = Vec::new();
    for file in &a.files {
        let s = match import_file(store.as_ref(), kb.as_ref(), &a, file).await {
            Ok(s) => s,
            Err(e) => match &a.site {
                Some(site) if crate::common::is_site_missing(&e, site) => {
                    bail!(
                        "importing {}: {}",
                        file.display(),
                        crate::common::site_missing_message(&g.db, site)
                    )
                }
                _ => return Err(e.context(format!("importing {}", file.display()))),
            },
        };
        summaries.push(s);
    }
    let fmt = default_format(a.format);
    print_summaries(&summaries, fmt)?;
    Ok(ExitCode::SUCCESS)
}

fn print_summaries(s: &[FileSummary], fmt: Format) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match fmt {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, s)?;
            writeln!(out)?;
        }
        Format::Table | Format::Csv => {
            for f in s {
                for k in &f.skipped {
                    eprintln!(
                        "camtrace: skipped {} of {}: {}",
                        k.location, f.file, k.reason
                    );
                }
                match &f.register {
                    Some(r) => writeln!(
                        out,
                        "{}: {} register ({}): organisations +{} ~{}, sites +{} ~{}, zones +{} ~{}, networks +{} ~{}, devices +{} ~{} ({} unchanged), {} rows skipped",
                        f.file,
                        f.kind,
                        f.outcome,
                        r.organisations.created,
                        r.organisations.updated,
                        r.sites.created,
                        r.sites.updated,
                        r.zones.created,
                        r.zones.updated,
                        r.networks.created,
                        r.networks.updated,
                        r.devices.created,
                        r.devices.updated,
                        r.devices.unchanged,
                        f.skipped.len()
                    )?,
                    None => writeln!(
                        out,
                        "{}: {} ({}): scan {}, {} observations, {} identifications, {} rows skipped",
                        f.file,
                        f.kind,
                        f.outcome,
                        f.scan_id.as_deref().unwrap_or("-"),
                        f.observations,
                        f.identifications,
                        f.skipped.len()
                    )?,
                }
            }
        }
    }
    Ok(())
}

fn kind(a: &Args) -> Option<FileKind> {
    match a.kind {
        KindArg::Auto => None,
        KindArg::Csv => Some(FileKind::Csv),
        KindArg::Json => Some(FileKind::Json),
        KindArg::Nmap => Some(FileKind::Nmap),
        KindArg::Pcap => Some(FileKind::Pcap),
        KindArg::Scan => Some(FileKind::Scan),
    }
}

/// One file through the import path shared with the server ([`camtrace_ingest::import`]).
async fn import_file(
    store: &dyn Store,
    kb: Option<&Kb>,
    a: &Args,
    file: &Path,
) -> anyhow::Result<FileSummary> {
    let opts = ImportOptions {
        site: a.site.clone(),
        org: a.org.clone(),
        skip_bad: a.skip_bad,
        no_identify: a.no_identify,
        actor: format!("{} (import {})", actor(a), file.display()),
        readable: None,
        rows_per_statement: None,
        engine: None,
    };
    match import::import(store, kb, Input::File(file), kind(a), &opts).await {
        Err(ImportError::UnknownKind) => {
            bail!("cannot tell the kind of this file; give --kind csv|json|nmap|pcap|scan")
        }
        r => Ok(r?),
    }
}
