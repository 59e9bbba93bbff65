//! `POST /api/v1/import`: a register batch as JSON (no `format`), or a file in any format
//! `camtrace import` reads (`format=...`), imported through the same code path as the CLI
//! ([`camtrace_ingest::import`]): all or nothing, idempotent, checked against the caller's roles
//! before anything is written.

use super::register::{check_batch, import_batch, readable_site};
use crate::auth::Role;
use crate::error::{ApiError, ApiResult};
use crate::extract::Caller;
use crate::App;
use axum::body::Bytes;
use axum::extract::{FromRequest, Query, Request, State};
use axum::response::IntoResponse;
use axum::Json;
use camtrace_ingest::import::{self, FileSummary, ImportError, ImportOptions, Input};
use camtrace_ingest::FileKind;
use camtrace_store::{NewHistory, RegisterBatch};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Most entities one register import may hold.
const MAX_ENTITIES: usize = 1_000_000;

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// What the body is: `register-csv`, `register-json`, `nmap-xml`, `pcap` (pcap or pcapng),
    /// `scan-jsonl` (`camtrace scan` output), or `auto` (told from the first bytes and the
    /// `name`'s extension, as `camtrace import` does). Absent: the body is a register batch as
    /// JSON (`{"organisations": [...], "sites": [...], ...}`).
    pub format: Option<String>,
    /// Evidence: the site it was gathered on (needed unless the caller has a central role).
    /// Registers: the site of rows without one.
    pub site: Option<String>,
    /// Registers: the organisation of rows without one (created when new).
    pub org: Option<String>,
    /// The file's name, recorded as the scan's source (and its extension helps `auto`).
    pub name: Option<String>,
    /// Skip bad rows (each one reported in `skipped`) instead of rejecting the file.
    pub skip_bad: Option<bool>,
}

/// The body formats of a file import.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportFormat {
    RegisterCsv,
    RegisterJson,
    NmapXml,
    Pcap,
    ScanJsonl,
    Auto,
}

impl ImportFormat {
    pub const ALL: [ImportFormat; 6] = [
        Self::RegisterCsv,
        Self::RegisterJson,
        Self::NmapXml,
        Self::Pcap,
        Self::ScanJsonl,
        Self::Auto,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::RegisterCsv => "register-csv",
            Self::RegisterJson => "register-json",
            Self::NmapXml => "nmap-xml",
            Self::Pcap => "pcap",
            Self::ScanJsonl => "scan-jsonl",
            Self::Auto => "auto",
        }
    }

    pub fn parse(s: &str) -> ApiResult<Self> {
        Self::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| ApiError::bad(format!("format: unknown `{s}`; one of {}", names())))
    }

    /// The importer's file kind (`None`: sniff it).
    pub fn kind(self) -> Option<FileKind> {
        match self {
            Self::RegisterCsv => Some(FileKind::Csv),
            Self::RegisterJson => Some(FileKind::Json),
            Self::NmapXml => Some(FileKind::Nmap),
            Self::Pcap => Some(FileKind::Pcap),
            Self::ScanJsonl => Some(FileKind::Scan),
            Self::Auto => None,
        }
    }

    pub fn of(kind: FileKind) -> Self {
        match kind {
            FileKind::Csv => Self::RegisterCsv,
            FileKind::Json => Self::RegisterJson,
            FileKind::Nmap => Self::NmapXml,
            FileKind::Pcap => Self::Pcap,
            FileKind::Scan => Self::ScanJsonl,
        }
    }
}

fn names() -> String {
    ImportFormat::ALL
        .iter()
        .map(|f| f.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// What a file import did (the JSON summary of `camtrace import`, plus the format).
#[derive(Debug, Serialize, ToSchema)]
pub struct FileImport {
    /// The format imported (sniffed when `auto` was asked).
    pub format: String,
    /// The `name` given (`upload` without one).
    pub file: String,
    /// The importer's kind: csv, json, nmap, pcap, scan.
    pub kind: String,
    /// `imported`, `unchanged` (the same file was imported before: nothing written), `empty`.
    pub outcome: String,
    /// Evidence: the scan the file became (derived from its content and site).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scan_id: Option<String>,
    /// Evidence: observations stored.
    pub observations: i64,
    /// Evidence: identifications stored.
    pub identifications: i64,
    /// Registers: created / updated / unchanged per entity kind.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub register: Option<camtrace_store::RegisterSummary>,
    /// Rows skipped with `skip_bad` (location and reason).
    #[schema(value_type = Vec<Object>)]
    pub skipped: Vec<camtrace_ingest::RowError>,
}

impl FileImport {
    fn new(format: ImportFormat, s: FileSummary) -> Self {
        FileImport {
            format: format.as_str().into(),
            file: s.file,
            kind: s.kind,
            outcome: s.outcome,
            scan_id: s.scan_id,
            observations: s.observations,
            identifications: s.identifications,
            register: s.register,
            skipped: s.skipped,
        }
    }
}

/// Import a register batch (JSON, no `format`) or a file (`format`), all or nothing.
///
/// Files go through the same importer as `camtrace import`: registers (CSV or JSON) create or
/// update organisations, sites, zones, networks and devices; evidence (nmap XML, pcap/pcapng,
/// `camtrace scan` JSON Lines) is stored as one scan of `site`, with the devices identified from
/// it. Every entity is checked against the caller's roles first (editor on the organisation of
/// every site touched; admin for organisations): one entity out of reach refuses the whole file.
/// The same file twice changes nothing the second time (`outcome: unchanged`). A malformed file
/// answers 400 naming the row at fault; a body over the server's `max_body_mib` answers 413.
/// With `format`, the answer is a `FileImport`; without, `{"summary": ...}`.
#[utoipa::path(
    post,
    path = "/api/v1/import",
    tag = "register",
    params(ImportQuery),
    request_body(
        description = "A register batch (JSON) without `format`; with `format`, the file itself.",
        content(
            (Object = "application/json"),
            (String = "text/csv"),
            (String = "application/xml"),
            (String = "application/x-ndjson"),
            (String = "application/octet-stream"),
        )
    ),
    responses(
        (status = 200, description = "What the import did: a `FileImport` with `format`, `{\"summary\": ...}` without.", body = Object),
        (status = 400, description = "Malformed file, unknown format, or `site` missing"),
        (status = 403, description = "The caller may read but not change something the file touches"),
        (status = 404, description = "Something the file touches is not visible to the caller"),
        (status = 413, description = "The body is larger than the server's max_body_mib"),
    )
)]
pub async fn import(
    State(app): State<App>,
    caller: Caller,
    Query(q): Query<ImportQuery>,
    req: Request,
) -> axum::response::Response {
    let Some(format) = q.format.as_deref() else {
        // The register batch as JSON, as before files were accepted.
        let batch = match Json::<RegisterBatch>::from_request(req, &app).await {
            Ok(Json(b)) => b,
            Err(rejection) => return rejection.into_response(),
        };
        return import_batch(&app, &caller, &batch, "api")
            .await
            .map(Json)
            .into_response();
    };
    let result = async {
        let format = ImportFormat::parse(format)?;
        let body = Bytes::from_request(req, &app).await.map_err(|e| {
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::TooLarge(format!(
                    "the file is larger than this server accepts ({} MiB, max_body_mib)",
                    app.config.max_body_bytes >> 20
                ))
            } else {
                ApiError::bad(format!("reading the body: {}", e.body_text()))
            }
        })?;
        import_file(&app, &caller, format, &q, &body).await
    }
    .await;
    result.map(Json).into_response()
}

/// A file's import error as the API answers it: the file's fault is a 400 with the reason (and
/// the row), the store's keeps its own status.
fn import_error(format: ImportFormat, e: ImportError) -> ApiError {
    match e {
        ImportError::UnknownKind => ApiError::bad(format!(
            "cannot tell the format of this file; give format={}",
            names().replace(", auto", "").replace(", ", "|")
        )),
        ImportError::Ingest(e) => {
            ApiError::bad(format!("not a valid {} file: {e}", format.as_str()))
        }
        ImportError::Invalid(m) => ApiError::bad(m),
        ImportError::Store(e) => e.into(),
    }
}

/// Import one file as `caller`: check, then write in one transaction.
pub async fn import_file(
    app: &App,
    caller: &Caller,
    format: ImportFormat,
    q: &ImportQuery,
    body: &[u8],
) -> ApiResult<FileImport> {
    let name = q.name.clone().unwrap_or_else(|| "upload".into());
    if name.is_empty() || name.len() > 200 || name.chars().any(char::is_control) {
        return Err(ApiError::bad(
            "name: 1-200 characters, no control characters",
        ));
    }
    let input = Input::Bytes {
        name: &name,
        data: body,
    };
    let kind = match format.kind() {
        Some(k) => k,
        None => input.detect().map_err(|e| import_error(format, e))?,
    };
    let format = ImportFormat::of(kind);
    let opts = ImportOptions {
        site: q.site.clone(),
        org: q.org.clone(),
        skip_bad: q.skip_bad.unwrap_or(false),
        no_identify: false,
        actor: caller.name().to_string(),
        // Rows of organisations the caller cannot read are treated as absent while reading.
        readable: (!caller.access.is_central())
            .then(|| caller.access.readable().into_iter().collect()),
        rows_per_statement: None,
        engine: app.engine_ready().await,
    };
    let store = app.store.as_ref();
    let kb = Some(app.kb.as_ref());
    let err = |e| import_error(format, e);
    let summary = match kind {
        FileKind::Csv | FileKind::Json => {
            let reg = import::read_register(store, kb, input, kind, &opts)
                .await
                .map_err(err)?;
            if reg.batch.len() > MAX_ENTITIES {
                return Err(ApiError::TooLarge(
                    "at most 1,000,000 entities per import".into(),
                ));
            }
            // All or nothing: every entity is checked before anything is written.
            check_batch(app, &caller.access, &reg.batch).await?;
            // The import's audit entry goes into the import's own transaction.
            import::apply_register_audited(store, reg, &opts, |s| {
                let changed = s.register.as_ref().is_some_and(|r| r.changed() > 0);
                changed.then(|| import_audit_entry(caller, q, &FileImport::new(format, s.clone())))
            })
            .await
            .map_err(err)?
        }
        _ => {
            match &q.site {
                Some(site) => {
                    readable_site(app, &caller.access, site, Role::Editor).await?;
                }
                // Scans tied to no site are visible to central roles only: only they add them.
                None if caller
                    .access
                    .central_role()
                    .is_some_and(|r| r >= Role::Editor) => {}
                None => {
                    return Err(ApiError::bad(
                        "give `site`: the site the evidence was gathered on",
                    ))
                }
            }
            // The import's audit entry goes into the scan's own transaction. A file imported
            // before writes nothing; one moved to this site is recorded by the move.
            import::import_evidence_audited(store, kb, input, kind, &opts, |s| {
                Some(import_audit_entry(
                    caller,
                    q,
                    &FileImport::new(format, s.clone()),
                ))
            })
            .await
            .map_err(err)?
        }
    };
    let out = FileImport::new(format, summary);
    if out.outcome != "unchanged" && out.outcome != "empty" {
        // Devices or identifications changed: let the alert checker look soon.
        app.alerts.kick.notify_one();
    }
    Ok(out)
}

/// The history entry an imported file leaves (register or evidence).
fn import_audit_entry(caller: &Caller, q: &ImportQuery, out: &FileImport) -> NewHistory {
    let (kind, id) = match &out.scan_id {
        Some(scan) => ("evidence", scan.as_str()),
        None => ("register", "api"),
    };
    NewHistory {
        actor: caller.name().to_string(),
        action: "import".into(),
        entity_kind: kind.into(),
        entity_id: id.into(),
        before: None,
        after: Some(serde_json::json!({
            "format": out.format,
            "file": out.file,
            "site": q.site,
            "outcome": out.outcome,
            "observations": out.observations,
            "identifications": out.identifications,
            "summary": serde_json::to_value(&out.register).unwrap_or_default(),
            "skipped": out.skipped.len(),
        })),
    }
}
