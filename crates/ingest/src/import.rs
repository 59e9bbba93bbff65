//! Importing one file into the register store: the code path shared by `camtrace import` and the
//! server's `POST /api/v1/import`, so that a file imports the same way whoever sends it.
//!
//! * Registers (CSV, JSON): [`read_register`] reads the file and fills what it leaves out from
//!   the stored register, then [`apply_register`] writes the batch in one transaction. The two
//!   steps are separate so that a caller can check the batch (the server checks the caller's
//!   roles on every entity) before anything is written.
//! * Evidence (nmap XML, pcap/pcapng, `camtrace scan` JSON Lines): [`import_evidence`] stores the
//!   file as one scan, in one transaction, with the devices identified from it. The scan id is
//!   derived from the file's content and site ([`scan_id`]), so the same file twice is a no-op.
//!
//! [`import`] picks the kind (or sniffs it, [`Input::detect`]) and does the whole thing.

use crate::register::{self, ReadOptions};
use crate::{FileKind, IngestError, RowError};
use camtrace_kb::Kb;
use camtrace_model::{Evidence, Identification, NamedRef, Observation, ObservationKind, Register};
use camtrace_store::{RegisterImport, RegisterSummary, ScanImport, ScanRecord, Store, StoreError};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufReader, Read};
use std::path::Path;

/// Observations kept in memory for identification; larger files are stored without it.
pub const MAX_IDENTIFY_OBSERVATIONS: usize = 2_000_000;
const CHUNK: usize = 2000;
/// How many leading bytes [`Input::detect`] looks at.
const SNIFF: usize = 4096;

/// Why a file was not imported. Nothing of the file is written in any of these cases.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The kind was not given and cannot be told from the file.
    #[error("cannot tell the kind of this file")]
    UnknownKind,
    /// The file is not what its kind says, or a row of it is bad (the row is named).
    #[error(transparent)]
    Ingest(#[from] IngestError),
    /// The file reads but cannot be applied as it stands (e.g. a new site without an
    /// organisation).
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<std::io::Error> for ImportError {
    fn from(e: std::io::Error) -> Self {
        Self::Ingest(IngestError::Io(e))
    }
}

pub type Result<T, E = ImportError> = std::result::Result<T, E>;

/// The file to import: on disk (streamed, never loaded whole) or already in memory.
#[derive(Debug, Clone, Copy)]
pub enum Input<'a> {
    File(&'a Path),
    /// `name` stands for the file name: in the scan's source, messages and extension sniffing.
    Bytes {
        name: &'a str,
        data: &'a [u8],
    },
}

impl<'a> Input<'a> {
    /// How the file is named in summaries and messages.
    pub fn display(&self) -> String {
        match self {
            Input::File(p) => p.display().to_string(),
            Input::Bytes { name, .. } => name.to_string(),
        }
    }

    /// The file's name without its directory (the scan's source).
    pub fn file_name(&self) -> String {
        match self {
            Input::File(p) => p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| p.display().to_string()),
            Input::Bytes { name, .. } => name.to_string(),
        }
    }

    fn open(&self) -> std::io::Result<Box<dyn Read + Send + 'a>> {
        Ok(match *self {
            Input::File(p) => Box::new(std::fs::File::open(p)?),
            Input::Bytes { data, .. } => Box::new(data),
        })
    }

    /// SHA-256 of the content, hex.
    pub fn sha256(&self) -> std::io::Result<String> {
        match self {
            Input::File(p) => crate::file_sha256(p),
            Input::Bytes { data, .. } => {
                use sha2::Digest;
                Ok(hex::encode(sha2::Sha256::digest(data)))
            }
        }
    }

    /// The kind, from the first bytes and the name's extension ([`crate::detect()`]).
    pub fn detect(&self) -> Result<FileKind> {
        let head = match *self {
            Input::File(p) => {
                let mut head = vec![0u8; SNIFF];
                let n = read_up_to(&mut std::fs::File::open(p)?, &mut head)?;
                head.truncate(n);
                head
            }
            Input::Bytes { data, .. } => data[..data.len().min(SNIFF)].to_vec(),
        };
        let path = match *self {
            Input::File(p) => p,
            Input::Bytes { name, .. } => Path::new(name),
        };
        crate::detect(path, &head).ok_or(ImportError::UnknownKind)
    }
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

/// How to import.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Site the evidence was gathered on; default site of register rows without one.
    pub site: Option<String>,
    /// Default organisation of register rows without one (created when new).
    pub org: Option<String>,
    /// Skip bad rows (each one reported) instead of rejecting the file.
    pub skip_bad: bool,
    /// Store observations without identifying devices from them.
    pub no_identify: bool,
    /// Who is importing, as written to the history with every change.
    pub actor: String,
    /// The organisations the importer may read (`None`: all, as for the CLI). Stored rows of
    /// any other organisation are treated as absent while the file is read, so that an error
    /// never discloses another organisation's rows (their site, or that they exist); the
    /// server's access check then refuses to write over them.
    pub readable: Option<HashSet<String>>,
    /// Observations written per INSERT (`None`: the store's default). For benchmarks: 1 is the
    /// naive one-statement-per-row way.
    pub rows_per_statement: Option<usize>,
    /// The signature engine compiled once by a long-running caller (the server); `None`:
    /// compiled for this import from the knowledge base.
    pub engine: Option<SharedEngine>,
}

/// A compiled signature engine shared by imports. Compiling one (every signature and recog
/// fingerprint) costs far more than identifying a batch, so the server builds it once.
#[derive(Clone)]
pub struct SharedEngine(pub std::sync::Arc<camtrace_identify::Engine>);

impl std::fmt::Debug for SharedEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SharedEngine")
    }
}

/// What importing one file did (the JSON summary of `camtrace import` and of the API).
#[derive(Debug, Clone, Serialize)]
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
    pub register: Option<RegisterSummary>,
    pub skipped: Vec<RowError>,
}

/// Import one file whole or not at all: its kind as given, else sniffed.
pub async fn import(
    store: &dyn Store,
    kb: Option<&Kb>,
    input: Input<'_>,
    kind: Option<FileKind>,
    opts: &ImportOptions,
) -> Result<FileSummary> {
    let kind = match kind {
        Some(k) => k,
        None => input.detect()?,
    };
    match kind {
        FileKind::Csv => import_csv_streamed(store, kb, input, opts).await,
        FileKind::Json => {
            let reg = read_register(store, kb, input, kind, opts).await?;
            apply_register(store, reg, opts).await
        }
        _ => import_evidence(store, kb, input, kind, opts).await,
    }
}

// ------------------------------------------------------------------ registers

/// A register file read and completed from the stored register, not yet written.
#[derive(Debug, Clone)]
pub struct ReadRegister {
    pub file: String,
    pub kind: FileKind,
    pub batch: Register,
    /// Rows skipped with `skip_bad`.
    pub skipped: Vec<RowError>,
}

/// Read a register file (CSV or JSON) and fill what it left out from the stored register.
/// Nothing is written.
pub async fn read_register(
    store: &dyn Store,
    kb: Option<&Kb>,
    input: Input<'_>,
    kind: FileKind,
    opts: &ImportOptions,
) -> Result<ReadRegister> {
    let ropts = ReadOptions {
        default_org: opts.org.clone(),
        default_site: opts.site.clone(),
        skip_bad: opts.skip_bad,
    };
    let f = BufReader::new(input.open()?);
    let outcome = match kind {
        FileKind::Csv => register::read_csv(f, &ropts)?,
        FileKind::Json => register::read_json(f, &ropts)?,
        other => {
            return Err(ImportError::Invalid(format!(
                "a {} file is not a register",
                other.as_str()
            )))
        }
    };
    let mut reg = outcome.register;
    resolve(store, kb, &mut reg, &outcome.columns, opts).await?;
    Ok(ReadRegister {
        file: input.display(),
        kind,
        batch: reg,
        skipped: outcome.skipped,
    })
}

/// Write a register read by [`read_register`] in one transaction.
pub async fn apply_register(
    store: &dyn Store,
    reg: ReadRegister,
    opts: &ImportOptions,
) -> Result<FileSummary> {
    apply_register_audited(store, reg, opts, |_| None).await
}

/// [`apply_register`], with the import's own history entry (made by `audit` from what the
/// import did; `None` for none) written in the same transaction as the changes.
pub async fn apply_register_audited(
    store: &dyn Store,
    reg: ReadRegister,
    opts: &ImportOptions,
    audit: impl FnOnce(&FileSummary) -> Option<camtrace_store::NewHistory>,
) -> Result<FileSummary> {
    let empty = reg.batch.is_empty();
    let mut r = store.begin_register(&opts.actor).await?;
    r.apply(&reg.batch).await?;
    let sum = r.summary().clone();
    let out = FileSummary {
        file: reg.file,
        kind: reg.kind.as_str().into(),
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
        skipped: reg.skipped,
    };
    if let Some(e) = audit(&out) {
        r.record(&e).await?;
    }
    r.commit().await?;
    Ok(out)
}

/// Fill what the file left out from the stored register, and normalise maker names to
/// knowledge-base company ids.
async fn resolve(
    store: &dyn Store,
    kb: Option<&Kb>,
    reg: &mut Register,
    columns: &HashSet<String>,
    opts: &ImportOptions,
) -> Result<()> {
    if let Some(org) = &opts.org {
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
    let readable = |org: &str| opts.readable.as_ref().is_none_or(|r| r.contains(org));
    for o in &mut reg.organisations {
        let old = store
            .get_organisation(&o.id)
            .await?
            .filter(|old| readable(&old.id));
        if let Some(old) = old {
            register::keep_absent_organisation(o, &old, columns);
        }
    }
    for s in &mut reg.sites {
        let old = store
            .get_site(&s.id)
            .await?
            .filter(|old| readable(&old.organisation));
        match old {
            Some(old) => register::keep_absent_site(s, &old, columns),
            None if s.organisation.is_empty() => {
                return Err(ImportError::Invalid(format!(
                "site `{}` is new and has no organisation (add an `organisation` column or --org)",
                s.id
            )))
            }
            None => {}
        }
    }
    resolve_devices(
        &mut Lookup::Store(store),
        kb,
        &mut reg.devices,
        columns,
        opts,
    )
    .await
}

/// Where a register's stored rows are read from: the store, or an open import (which sees its
/// own writes, and holds the only connection of an in-memory database).
enum Lookup<'a> {
    Store(&'a dyn Store),
    Tx(&'a mut RegisterImport),
}

impl Lookup<'_> {
    async fn device(&mut self, id: &str) -> Result<Option<camtrace_model::Device>> {
        Ok(match self {
            Lookup::Store(s) => s.get_device(id).await?,
            Lookup::Tx(t) => t.get_device(id).await?,
        })
    }
    async fn site(&mut self, id: &str) -> Result<Option<camtrace_model::Site>> {
        Ok(match self {
            Lookup::Store(s) => s.get_site(id).await?,
            Lookup::Tx(t) => t.get_site(id).await?,
        })
    }
}

/// Fill what the file left out of each device from the stored register (only rows the
/// importer may read), and normalise maker names to knowledge-base company ids.
async fn resolve_devices(
    look: &mut Lookup<'_>,
    kb: Option<&Kb>,
    devices: &mut [camtrace_model::Device],
    columns: &HashSet<String>,
    opts: &ImportOptions,
) -> Result<()> {
    let readable = |org: &str| opts.readable.as_ref().is_none_or(|r| r.contains(org));
    // Site → organisation of the stored sites looked at so far.
    let mut site_org: HashMap<String, Option<String>> = HashMap::new();
    for d in devices.iter_mut() {
        let mut old = look.device(&d.id).await?;
        if opts.readable.is_some() {
            if let Some(o) = &old {
                if !site_org.contains_key(&o.site) {
                    let org = look.site(&o.site).await?.map(|s| s.organisation);
                    site_org.insert(o.site.clone(), org);
                }
                let visible = site_org
                    .get(&o.site)
                    .and_then(|org| org.as_deref())
                    .is_some_and(readable);
                if !visible {
                    old = None;
                }
            }
        }
        match old {
            Some(old) => register::keep_absent_device(d, &old, columns),
            None if d.site.is_empty() => {
                return Err(ImportError::Invalid(format!(
                    "device `{}` is new and has no site (add a `site` column or --site)",
                    d.id
                )))
            }
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

/// Devices written per batch by a streamed CSV import.
pub const REGISTER_CHUNK: usize = 5_000;

/// Import a CSV register in two passes over the file, in one transaction: first its
/// organisations, sites, zones and networks (few), then its devices a chunk at a time, so that
/// memory grows with the chunk and not with the file. All or nothing, like [`apply_register`].
pub async fn import_csv_streamed(
    store: &dyn Store,
    kb: Option<&Kb>,
    input: Input<'_>,
    opts: &ImportOptions,
) -> Result<FileSummary> {
    let ropts = ReadOptions {
        default_org: opts.org.clone(),
        default_site: opts.site.clone(),
        skip_bad: opts.skip_bad,
    };
    let mut head = register::read_csv_head(BufReader::new(input.open()?), &ropts)?;
    let mut reg = std::mem::take(&mut head.outcome.register);
    let columns = std::mem::take(&mut head.outcome.columns);
    resolve(store, kb, &mut reg, &columns, opts).await?;
    let empty = reg.is_empty() && head.device_rows == 0;
    let mut w = store.begin_register(&opts.actor).await?;
    w.apply(&reg).await?;
    drop(reg);
    let mut devices =
        register::CsvDevices::open(BufReader::new(input.open()?), &ropts, &head, REGISTER_CHUNK)?;
    while let Some(mut chunk) = devices.next_chunk()? {
        resolve_devices(&mut Lookup::Tx(&mut w), kb, &mut chunk, &columns, opts).await?;
        w.apply(&Register {
            devices: chunk,
            ..Default::default()
        })
        .await?;
    }
    let sum = w.commit().await?;
    Ok(FileSummary {
        file: input.display(),
        kind: FileKind::Csv.as_str().into(),
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
        skipped: head.outcome.skipped,
    })
}

// ------------------------------------------------------------------ evidence

/// The id of the scan an evidence file becomes: its kind, content hash and site (the same file
/// for another site is another scan).
pub fn scan_id(kind: FileKind, sha: &str, site: Option<&str>) -> String {
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

/// Store an evidence file (nmap XML, pcap/pcapng, scan JSON Lines) as one scan, with the devices
/// identified from it, in one transaction. A file already imported (same content and site) is
/// left alone: outcome `unchanged`.
pub async fn import_evidence(
    store: &dyn Store,
    kb: Option<&Kb>,
    input: Input<'_>,
    kind: FileKind,
    opts: &ImportOptions,
) -> Result<FileSummary> {
    import_evidence_audited(store, kb, input, kind, opts, |_| None).await
}

/// [`import_evidence`], with the import's own history entry (made by `audit` from what the
/// import stored; `None` for none) written in the scan's transaction. A file imported before
/// writes nothing (`unchanged`); one moved to a site (`assigned`) is recorded by that move.
pub async fn import_evidence_audited(
    store: &dyn Store,
    kb: Option<&Kb>,
    input: Input<'_>,
    kind: FileKind,
    opts: &ImportOptions,
    audit: impl FnOnce(&FileSummary) -> Option<camtrace_store::NewHistory>,
) -> Result<FileSummary> {
    if matches!(kind, FileKind::Csv | FileKind::Json) {
        return Err(ImportError::Invalid(format!(
            "a {} register is not evidence",
            kind.as_str()
        )));
    }
    let sha = input.sha256()?;
    let id = scan_id(kind, &sha, opts.site.as_deref());
    let name = input.file_name();
    if let Some(s) = already_imported(store, kind, &sha, &id, &input, opts).await? {
        return Ok(s);
    }
    let rec = ScanRecord {
        id: id.clone(),
        started: camtrace_store::now_rfc3339(),
        finished: None,
        source: format!("{}:{}", kind.as_str(), name),
        site: opts.site.clone(),
        kind: kind.as_str().into(),
        observation_count: 0,
        identification_count: 0,
    };
    let mut summary = FileSummary {
        file: input.display(),
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
    // The engine: the caller's, else compiled for this import; without one (it failed to
    // compile from this knowledge base) targets are identified by MAC block alone.
    let own_engine = match (&opts.engine, kb) {
        (None, Some(kb)) if !opts.no_identify => match camtrace_identify::Engine::new(kb) {
            Ok(e) => Some(e),
            Err(e) => {
                tracing::warn!("signature engine unavailable ({e}); identifying by MAC block only");
                None
            }
        },
        _ => None,
    };
    let engine = opts.engine.as_ref().map(|e| &*e.0).or(own_engine.as_ref());
    let result: Result<()> = async {
        // Observations are identified as they are read: the stream keeps per target only what
        // they proved, not the observations.
        let mut identifying = match (opts.no_identify, engine, kb) {
            (true, _, _) => Identifying::Off,
            (false, Some(e), _) => Identifying::Stream(Box::new(e.stream()), 0),
            (false, None, Some(_)) => Identifying::Kept(Vec::new()),
            (false, None, None) => Identifying::Off,
        };
        let mut chunk: Vec<Observation> = Vec::with_capacity(CHUNK);
        let mut idents: Vec<Identification> = Vec::new();
        let (mut first, mut last): (Option<String>, Option<String>) = (None, None);
        let f = input.open()?;
        let mut on_obs = |o: Observation, chunk: &mut Vec<Observation>| {
            if let Some(t) = &o.time {
                if first.as_ref().is_none_or(|f| t < f) {
                    first = Some(t.clone());
                }
                if last.as_ref().is_none_or(|l| t > l) {
                    last = Some(t.clone());
                }
            }
            identifying.push(&o);
            chunk.push(o);
        };
        match kind {
            FileKind::Nmap => {
                let r = crate::nmap::read(BufReader::new(f), &name);
                for o in r {
                    on_obs(o?, &mut chunk);
                    if chunk.len() >= CHUNK {
                        flush(&mut imp, &mut chunk, opts.rows_per_statement).await?;
                    }
                }
            }
            FileKind::Pcap => {
                let mut r = crate::pcap::read(BufReader::new(f), &name)?;
                for o in r.by_ref() {
                    on_obs(o?, &mut chunk);
                    if chunk.len() >= CHUNK {
                        flush(&mut imp, &mut chunk, opts.rows_per_statement).await?;
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
                let mut r = crate::jsonl::read(BufReader::new(f));
                for item in r.by_ref() {
                    match item {
                        Ok(crate::jsonl::Item::Observation(o)) => on_obs(o, &mut chunk),
                        Ok(crate::jsonl::Item::Identification(i)) => idents.push(i),
                        Err(IngestError::Row(e)) if opts.skip_bad => summary.skipped.push(e),
                        Err(e) => return Err(e.into()),
                    }
                    if chunk.len() >= CHUNK {
                        flush(&mut imp, &mut chunk, opts.rows_per_statement).await?;
                    }
                }
                if r.unknown_kinds > 0 {
                    tracing::warn!("{} observations of unknown kinds skipped", r.unknown_kinds);
                }
            }
        }
        add(&mut imp, &chunk, opts.rows_per_statement).await?;
        if let Some(f) = first {
            imp.set_times(f, last);
        }
        if !idents.is_empty() {
            // One identification per target: the file's own, else ours.
            let mut seen = HashSet::new();
            idents.retain(|i| seen.insert(i.target.clone()));
            imp.add_identifications(&idents).await?;
            return Ok(());
        }
        match identifying {
            Identifying::Stream(stream, _) => {
                // Each with its JSON text written from the engine's view (no second
                // serialisation), stored a chunk at a time.
                let mut rows = stream.into_identified();
                loop {
                    let part: Vec<(Identification, String)> = rows.by_ref().take(CHUNK).collect();
                    if part.is_empty() {
                        break;
                    }
                    imp.add_identifications_json(part).await?;
                }
            }
            Identifying::Kept(obs) => {
                if let Some(kb) = kb {
                    imp.add_identifications(&identify_by_oui(kb, &obs)).await?;
                }
            }
            Identifying::Off => {}
        }
        Ok(())
    }
    .await;
    if let Err(e) = result {
        imp.rollback().await?;
        return Err(e);
    }
    let stored = |mut s: FileSummary, rec: &ScanRecord| {
        s.outcome = if rec.observation_count == 0 && rec.identification_count == 0 {
            "empty".into()
        } else {
            "imported".into()
        };
        s.observations = rec.observation_count;
        s.identifications = rec.identification_count;
        s
    };
    let before = summary.clone();
    let rec = imp
        .commit_audited(&opts.actor, |rec| audit(&stored(before, rec)))
        .await?;
    Ok(stored(summary, &rec))
}

/// The same content imported before, with or without a site: never stored twice.
///
/// * Without `--site`: a scan of the same content (for any site the importer may read) is the
///   same evidence: `unchanged`.
/// * With `--site S`: a scan of the same content for S is `unchanged`; one stored without a site
///   is moved to S (outcome `assigned`, recorded in the history), so its devices are counted
///   once, on S. The same content for another site is another scan (the same file gathered on
///   another site).
async fn already_imported(
    store: &dyn Store,
    kind: FileKind,
    sha: &str,
    id: &str,
    input: &Input<'_>,
    opts: &ImportOptions,
) -> Result<Option<FileSummary>> {
    let prefix = format!("{}-{}-", kind.as_str(), &sha[..24]);
    let same: Vec<ScanRecord> = store
        .list_scans(None)
        .await?
        .into_iter()
        .filter(|s| s.id.starts_with(&prefix) && s.id != id)
        .collect();
    let summary = |scan: &ScanRecord, outcome: &str| FileSummary {
        file: input.display(),
        kind: kind.as_str().into(),
        outcome: outcome.into(),
        scan_id: Some(scan.id.clone()),
        observations: scan.observation_count,
        identifications: scan.identification_count,
        register: None,
        skipped: Vec::new(),
    };
    match &opts.site {
        None => {
            // Only the CLI (which reads everything) hears of a copy on some site.
            let found = same
                .iter()
                .find(|s| s.site.is_none() || opts.readable.is_none());
            Ok(found.map(|s| summary(s, "unchanged")))
        }
        Some(site) => {
            // Stored for this site already (possibly moved here from no site).
            if let Some(here) = same
                .iter()
                .find(|s| s.site.as_deref() == Some(site.as_str()))
            {
                return Ok(Some(summary(here, "unchanged")));
            }
            let Some(unsited) = same.iter().find(|s| s.site.is_none()) else {
                return Ok(None);
            };
            Ok(store
                .assign_scan_site(&unsited.id, site, &opts.actor)
                .await?
                .map(|after| summary(&after, "assigned")))
        }
    }
}

/// How an evidence import identifies what it reads.
enum Identifying<'e> {
    /// With the signature engine, as observations are read (and how many were pushed).
    Stream(Box<camtrace_identify::Streaming<'e>>, usize),
    /// By MAC block alone (the engine failed to compile): the observations are kept.
    Kept(Vec<Observation>),
    /// Not at all (asked not to, or no knowledge base).
    Off,
}

impl Identifying<'_> {
    fn push(&mut self, o: &Observation) {
        let n = match self {
            Identifying::Stream(s, n) => {
                s.push(o);
                *n += 1;
                *n
            }
            Identifying::Kept(v) => {
                v.push(o.clone());
                v.len()
            }
            Identifying::Off => return,
        };
        if n > MAX_IDENTIFY_OBSERVATIONS {
            tracing::warn!("more than {MAX_IDENTIFY_OBSERVATIONS} observations: storing the rest without identification");
            *self = Identifying::Off;
        }
    }
}

/// Append observations, `rows` per statement (`None`: the store's default).
async fn add(imp: &mut ScanImport, obs: &[Observation], rows: Option<usize>) -> Result<()> {
    match rows {
        Some(n) => imp.add_observations_chunked(obs, n).await?,
        None => imp.add_observations(obs).await?,
    }
    Ok(())
}

/// Store a chunk of observations, logging progress every 100,000.
async fn flush(
    imp: &mut ScanImport,
    chunk: &mut Vec<Observation>,
    rows: Option<usize>,
) -> Result<()> {
    let before = imp.observation_count() / 100_000;
    add(imp, chunk, rows).await?;
    chunk.clear();
    if imp.observation_count() / 100_000 > before {
        tracing::info!(
            "{} observations stored (not yet committed)",
            imp.observation_count()
        );
    }
    Ok(())
}

// ------------------------------------------------------------------ identification

/// Identify the devices behind observations with the signature engine (every target seen is
/// reported, unknown when nothing matched). Should the engine fail to build from this knowledge
/// base, MAC address blocks (OUI) alone are used, with the block as evidence.
pub fn identify_observations(kb: &Kb, obs: &[Observation]) -> Vec<Identification> {
    match camtrace_identify::Engine::new(kb) {
        Ok(engine) => engine.identify_all(obs),
        Err(e) => {
            tracing::warn!("signature engine unavailable ({e}); identifying by MAC block only");
            identify_by_oui(kb, obs)
        }
    }
}

fn identify_by_oui(kb: &Kb, obs: &[Observation]) -> Vec<Identification> {
    let mut by_target: BTreeMap<&str, Identification> = BTreeMap::new();
    for o in obs {
        let ident = by_target
            .entry(o.target.as_str())
            .or_insert_with(|| Identification::unknown(o.target.clone()));
        let ObservationKind::Mac { mac } = &o.kind else {
            continue;
        };
        if ident.mac.is_none() {
            ident.mac = camtrace_store::normalise_mac(mac);
        }
        if ident.maker.is_some() {
            continue;
        }
        if let Some(hit) = kb.lookup_mac(mac) {
            ident.maker = Some(NamedRef::new(
                hit.company.id.clone(),
                hit.company.name.clone(),
            ));
            ident.confidence = 0.6;
            ident.evidence.push(Evidence {
                kind: "mac".into(),
                detail: format!(
                    "{mac} is in the {} block {} of {}",
                    hit.block.registry, hit.prefix, hit.block.assignee
                ),
                signature: format!("oui:{}", hit.prefix),
                source: hit.block.source.clone(),
                proves: vec!["maker".into()],
                weight: Some(0.6),
            });
        }
    }
    by_target.into_values().collect()
}
