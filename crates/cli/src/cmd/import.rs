//! `camtrace import`: registers (CSV, JSON), nmap XML, pcap/pcapng and scan results into the
//! register database. One transaction per file: a file is imported whole or not at all, and the
//! same file twice changes nothing.

use crate::common::{default_format, Format, Global};
use anyhow::{bail, Context};
use camtrace_ingest::register::{self, ReadOptions};
use camtrace_ingest::{self as ingest, FileKind, RowError};
use camtrace_kb::Kb;
use camtrace_model::{Identification, Observation};
use camtrace_store::{RegisterBatch, ScanRecord, Store};
use serde::Serialize;
use std::collections::HashSet;
use std::io::{BufReader, Read, Write};
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

/// What importing one file did.
#[derive(Debug, Serialize)]
pub struct FileSummary {
    pub file: String,
    pub kind: String,
    /// `imported`, `unchanged` (already imported), `empty`.
    pub outcome: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scan_id: Option<String>,
    pub observations: i64,
    pub identifications: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub register: Option<camtrace_store::RegisterSummary>,
    pub skipped: Vec<RowError>,
}

/// Observations kept in memory for identification; larger files are stored without it.
const MAX_IDENTIFY_OBSERVATIONS: usize = 2_000_000;
const CHUNK: usize = 2000;

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
        let s = import_file(store.as_ref(), kb.as_ref(), &a, file)
            .await
            .with_context(|| format!("importing {}", file.display()))?;
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

fn detect_kind(a: &Args, file: &Path) -> anyhow::Result<FileKind> {
    Ok(match a.kind {
        KindArg::Csv => FileKind::Csv,
        KindArg::Json => FileKind::Json,
        KindArg::Nmap => FileKind::Nmap,
        KindArg::Pcap => FileKind::Pcap,
        KindArg::Scan => FileKind::Scan,
        KindArg::Auto => {
            let mut head = vec![0u8; 4096];
            let mut f = std::fs::File::open(file)?;
            let n = read_up_to(&mut f, &mut head)?;
            ingest::detect(file, &head[..n]).with_context(|| {
                "cannot tell the kind of this file; give --kind csv|json|nmap|pcap|scan"
            })?
        }
    })
}

fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

async fn import_file(
    store: &dyn Store,
    kb: Option<&Kb>,
    a: &Args,
    file: &Path,
) -> anyhow::Result<FileSummary> {
    let kind = detect_kind(a, file)?;
    match kind {
        FileKind::Csv | FileKind::Json => import_register(store, kb, a, file, kind).await,
        _ => import_evidence(store, kb, a, file, kind).await,
    }
}

// ------------------------------------------------------------------ registers

async fn import_register(
    store: &dyn Store,
    kb: Option<&Kb>,
    a: &Args,
    file: &Path,
    kind: FileKind,
) -> anyhow::Result<FileSummary> {
    let opts = ReadOptions {
        default_org: a.org.clone(),
        default_site: a.site.clone(),
        skip_bad: a.skip_bad,
    };
    let f = BufReader::new(std::fs::File::open(file)?);
    let outcome = match kind {
        FileKind::Csv => register::read_csv(f, &opts)?,
        _ => register::read_json(f, &opts)?,
    };
    let mut reg = outcome.register;
    let columns = outcome.columns;
    resolve(store, kb, &mut reg, &columns, a).await?;
    let batch = RegisterBatch {
        organisations: reg.organisations,
        sites: reg.sites,
        zones: reg.zones,
        networks: reg.networks,
        devices: reg.devices,
    };
    let empty = batch.is_empty();
    let sum = store
        .apply_register(&batch, &format!("{} (import {})", actor(a), file.display()))
        .await?;
    Ok(FileSummary {
        file: file.display().to_string(),
        kind: kind.as_str().into(),
        outcome: if empty {
            "empty".into()
        } else if sum.changed() == 0 {
            "unchanged".into()
        } else {
            "imported".into()
        },
        scan_id: None,
        observations: 0,
        identifications: 0,
        register: Some(sum),
        skipped: outcome.skipped,
    })
}

/// Fill what the file left out from the stored register, and normalise maker names to
/// knowledge-base company ids.
async fn resolve(
    store: &dyn Store,
    kb: Option<&Kb>,
    reg: &mut ingest::Register,
    columns: &HashSet<String>,
    a: &Args,
) -> anyhow::Result<()> {
    if let Some(org) = &a.org {
        let in_file = reg.organisations.iter().any(|o| &o.id == org);
        if !in_file && store.get_organisation(org).await?.is_none() {
            reg.organisations.insert(
                0,
                camtrace_model::Organisation {
                    id: org.clone(),
                    name: org.clone(),
                    parent: None,
                    kind: None,
                    country: None,
                },
            );
        }
    }
    for s in &mut reg.sites {
        match store.get_site(&s.id).await? {
            Some(old) => register::keep_absent_site(s, &old, columns),
            None if s.organisation.is_empty() => bail!(
                "site `{}` is new and has no organisation (add an `organisation` column or --org)",
                s.id
            ),
            None => {}
        }
    }
    for d in &mut reg.devices {
        match store.get_device(&d.id).await? {
            Some(old) => register::keep_absent_device(d, &old, columns),
            None if d.site.is_empty() => bail!(
                "device `{}` is new and has no site (add a `site` column or --site)",
                d.id
            ),
            None => {}
        }
        if let (Some(kb), Some(m)) = (kb, &d.maker) {
            if let Some(c) = kb.company_by_name(m) {
                d.maker = Some(c.id.clone());
            }
        }
    }
    Ok(())
}

// ------------------------------------------------------------------ evidence

fn scan_id(kind: FileKind, sha: &str, site: Option<&str>) -> String {
    use std::hash::{Hash, Hasher};
    // The content hash alone identifies the file; the site is part of the scan's identity too.
    let mut h = std::collections::hash_map::DefaultHasher::new();
    site.unwrap_or("").hash(&mut h);
    format!(
        "{}-{}-{:04x}",
        kind.as_str(),
        &sha[..24],
        h.finish() & 0xffff
    )
}

async fn import_evidence(
    store: &dyn Store,
    kb: Option<&Kb>,
    a: &Args,
    file: &Path,
    kind: FileKind,
) -> anyhow::Result<FileSummary> {
    let sha = ingest::file_sha256(file)?;
    let id = scan_id(kind, &sha, a.site.as_deref());
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| file.display().to_string());
    let rec = ScanRecord {
        id: id.clone(),
        started: camtrace_store::now_rfc3339(),
        finished: None,
        source: format!("{}:{}", kind.as_str(), name),
        site: a.site.clone(),
        kind: kind.as_str().into(),
        observation_count: 0,
        identification_count: 0,
    };
    let mut summary = FileSummary {
        file: file.display().to_string(),
        kind: kind.as_str().into(),
        outcome: "unchanged".into(),
        scan_id: Some(id.clone()),
        observations: 0,
        identifications: 0,
        register: None,
        skipped: Vec::new(),
    };
    let Some(mut imp) = store.begin_scan(&rec).await? else {
        return Ok(summary);
    };
    let result: anyhow::Result<()> = async {
        let mut kept: Vec<Observation> = Vec::new();
        let mut keep = !a.no_identify;
        let mut chunk: Vec<Observation> = Vec::with_capacity(CHUNK);
        let mut idents: Vec<Identification> = Vec::new();
        let (mut first, mut last): (Option<String>, Option<String>) = (None, None);
        let f = std::fs::File::open(file)?;
        let mut on_obs = |o: Observation, chunk: &mut Vec<Observation>| {
            if let Some(t) = &o.time {
                if first.as_ref().is_none_or(|f| t < f) {
                    first = Some(t.clone());
                }
                if last.as_ref().is_none_or(|l| t > l) {
                    last = Some(t.clone());
                }
            }
            if keep {
                if kept.len() < MAX_IDENTIFY_OBSERVATIONS {
                    kept.push(o.clone());
                } else {
                    tracing::warn!("more than {MAX_IDENTIFY_OBSERVATIONS} observations: storing the rest without identification");
                    keep = false;
                    kept.clear();
                }
            }
            chunk.push(o);
        };
        match kind {
            FileKind::Nmap => {
                let r = ingest::nmap::read(BufReader::new(f), &name);
                for o in r {
                    on_obs(o?, &mut chunk);
                    if chunk.len() >= CHUNK {
                        flush(&mut imp, &mut chunk).await?;
                    }
                }
            }
            FileKind::Pcap => {
                let mut r = ingest::pcap::read(BufReader::new(f), &name)?;
                for o in r.by_ref() {
                    on_obs(o?, &mut chunk);
                    if chunk.len() >= CHUNK {
                        flush(&mut imp, &mut chunk).await?;
                    }
                }
                let st = r.stats();
                tracing::info!(
                    packets = st.packets,
                    ignored = st.ignored,
                    malformed = st.malformed,
                    "capture read"
                );
            }
            _ => {
                let mut r = ingest::jsonl::read(BufReader::new(f));
                for item in r.by_ref() {
                    match item {
                        Ok(ingest::jsonl::Item::Observation(o)) => on_obs(o, &mut chunk),
                        Ok(ingest::jsonl::Item::Identification(i)) => idents.push(i),
                        Err(ingest::IngestError::Row(e)) if a.skip_bad => {
                            summary.skipped.push(e)
                        }
                        Err(e) => return Err(e.into()),
                    }
                    if chunk.len() >= CHUNK {
                        flush(&mut imp, &mut chunk).await?;
                    }
                }
                if r.unknown_kinds > 0 {
                    tracing::warn!("{} observations of unknown kinds skipped", r.unknown_kinds);
                }
            }
        }
        imp.add_observations(&chunk).await?;
        if let Some(f) = first {
            imp.set_times(f, last);
        }
        if idents.is_empty() && !a.no_identify {
            if let Some(kb) = kb {
                idents = identify(kb, &kept);
            }
        }
        // One identification per target: the file's own, else ours.
        let mut seen = HashSet::new();
        idents.retain(|i| seen.insert(i.target.clone()));
        imp.add_identifications(&idents).await?;
        Ok(())
    }
    .await;
    if let Err(e) = result {
        imp.rollback().await?;
        return Err(e);
    }
    let rec = imp
        .commit(&format!("{} (import {})", actor(a), file.display()))
        .await?;
    summary.outcome = if rec.observation_count == 0 && rec.identification_count == 0 {
        "empty".into()
    } else {
        "imported".into()
    };
    summary.observations = rec.observation_count;
    summary.identifications = rec.identification_count;
    Ok(summary)
}

/// Store a chunk of observations, logging progress every 100,000.
async fn flush(
    imp: &mut camtrace_store::ScanImport,
    chunk: &mut Vec<Observation>,
) -> anyhow::Result<()> {
    let before = imp.observation_count() / 100_000;
    imp.add_observations(chunk).await?;
    chunk.clear();
    if imp.observation_count() / 100_000 > before {
        tracing::info!(
            "{} observations stored (not yet committed)",
            imp.observation_count()
        );
    }
    Ok(())
}

/// Identify the devices behind observations with the knowledge base.
pub fn identify(kb: &Kb, obs: &[Observation]) -> Vec<Identification> {
    crate::cmd::reconcile::identify_observations(kb, obs)
}
