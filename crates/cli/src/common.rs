//! Options and helpers shared by every subcommand.

use anyhow::Context;
use camtrace_kb::{Kb, KbFiles};
use camtrace_model::Estate;
use camtrace_store::EstateFilter;
use chrono::NaiveDate;
use clap::Args;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;

#[derive(Args, Debug, Clone)]
pub struct Global {
    /// Knowledge-base directory overlaid on the built-in one (same relative path replaces a file,
    /// new files are added).
    #[arg(
        long,
        global = true,
        env = "CAMTRACE_KB",
        value_name = "DIR",
        help_heading = "Global options"
    )]
    pub kb: Option<PathBuf>,
    /// Register database: a SQLite file path or `sqlite://...`, or `postgres://...`.
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        env = "CAMTRACE_DB",
        value_name = "URL",
        default_value = DEFAULT_DB
    )]
    pub db: String,
    /// More log output (-v, -vv).
    #[arg(short, long, global = true, help_heading = "Global options", action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true, help_heading = "Global options")]
    pub quiet: bool,
}

impl Global {
    /// The knowledge-base files: embedded, overlaid by `--kb` when given.
    pub fn kb_files(&self) -> anyhow::Result<KbFiles> {
        match &self.kb {
            Some(dir) => KbFiles::with_overlay(dir).map_err(|e| anyhow::anyhow!("{e}")),
            None => Ok(KbFiles::embedded()),
        }
    }

    /// The loaded and validated vendor knowledge base.
    pub fn load_kb(&self) -> anyhow::Result<Kb> {
        let files = self.kb_files()?;
        Kb::load(&files)
            .map_err(|e| anyhow::anyhow!("{e}"))
            .context("loading the knowledge base")
    }
}

pub fn init_tracing(g: &Global) {
    let level = if g.quiet {
        "error"
    } else {
        match g.verbose {
            0 => "warn",
            1 => "info",
            _ => "debug",
        }
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("CAMTRACE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .try_init();
}

/// Output formats shared by listing commands.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Json,
    Table,
    Csv,
}

/// The format to use when the user gave none: a table on a terminal, JSON otherwise.
pub fn default_format(given: Option<Format>) -> Format {
    given.unwrap_or(if std::io::stdout().is_terminal() {
        Format::Table
    } else {
        Format::Json
    })
}

/// CSV records to a writer, through the one CSV writer of the workspace
/// ([`camtrace_model::csv_out`]: RFC 4180 quoting, spreadsheet formulas neutralised).
pub struct CsvOut<W: std::io::Write>(W);

impl<W: std::io::Write> CsvOut<W> {
    pub fn new(w: W) -> Self {
        Self(w)
    }

    /// Write one record.
    pub fn write_record<I, S>(&mut self, cells: I) -> std::io::Result<()>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.0
            .write_all(camtrace_model::csv_out::record(cells).as_bytes())
    }

    pub fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

/// The SQLite file a `--db` value names; `None` for PostgreSQL and in-memory databases.
pub fn sqlite_file(db: &str) -> Option<PathBuf> {
    let db = db.trim();
    if db.starts_with("postgres://") || db.starts_with("postgresql://") {
        return None;
    }
    let path = db
        .strip_prefix("sqlite://")
        .or_else(|| db.strip_prefix("sqlite:"))
        .unwrap_or(db);
    let path = path.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return None;
    }
    Some(PathBuf::from(path))
}

/// The message for a read command run where there is no register database.
pub fn no_register_message(db: &str, file: &std::path::Path) -> String {
    let shown = std::path::absolute(file).unwrap_or_else(|_| file.to_path_buf());
    format!(
        "no register database at {} (looked there because of {}). Nothing was created. \
         To get one: run `camtrace demo` (it prints the --db to use next), import a register \
         with `camtrace import REGISTER.csv --db {db}`, or pass --db PATH (or set CAMTRACE_DB) \
         naming an existing register",
        shown.display(),
        if db == DEFAULT_DB {
            "the default --db camtrace.db in the current directory".to_string()
        } else {
            format!("--db / CAMTRACE_DB `{db}`")
        }
    )
}

/// What to say when a site is not in the register: how to create it.
pub fn site_missing_message(db: &str, site: &str) -> String {
    format!(
        "site `{site}` is not in the register {db}. Create it first with a register file, \
         for example:\n  printf 'organisation,organisation_name,site,site_name\\nmy-dept,My Department,{site},{site}\\n' > sites.csv\n  \
         camtrace --db {db} import sites.csv\n(`camtrace import --template csv` shows every column, \
         including the sensitive-site criteria), or list the sites there are with \
         `camtrace --db {db} sites`"
    )
}

/// Whether an error says that `site` is not in the register.
pub fn is_site_missing(e: &anyhow::Error, site: &str) -> bool {
    let needle = format!("site `{site}` is not in the register");
    e.chain().any(|c| c.to_string().contains(&needle))
}

/// The `--db` default.
pub const DEFAULT_DB: &str = "camtrace.db";

/// Open the register for a command that only reads it (or changes records that must already
/// exist): never creates a database. A SQLite file that is not there is an error that says
/// where camtrace looked and what to do.
pub async fn open_register(db: &str) -> anyhow::Result<Box<dyn camtrace_store::Store>> {
    if let Some(file) = sqlite_file(db) {
        if !file.exists() {
            anyhow::bail!("{}", no_register_message(db, &file));
        }
    }
    camtrace_store::open(db)
        .await
        .with_context(|| format!("opening the register database {db}"))
}

/// Text from the register (user names, reasons, ids) made safe to print on a terminal: control
/// characters (escape sequences, carriage returns, newlines, tabs, C1 controls) and the Unicode
/// bidirectional overrides are shown as `\u{..}` escapes, so stored text can neither move the
/// cursor nor forge an output line.
pub fn term_safe(s: &str) -> std::borrow::Cow<'_, str> {
    let bad =
        |c: char| c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
    if !s.chars().any(bad) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if bad(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

pub(crate) fn parse_date(s: &str) -> anyhow::Result<NaiveDate> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .with_context(|| format!("`{s}` is not a date (YYYY-MM-DD)"))
}

/// Write to stdout; a closed pipe (`| head`) is not an error.
pub(crate) fn emit(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => Ok(r?),
    }
}

pub(crate) fn today() -> NaiveDate {
    chrono::Utc::now().date_naive()
}

/// The register's estate (of `org`, of `site`), as it is or as it stood at the end of `as_of`.
pub(crate) async fn load_estate(
    db: &str,
    org: Option<&str>,
    site: Option<&str>,
    as_of: Option<NaiveDate>,
) -> anyhow::Result<Estate> {
    let store = crate::common::open_register(db).await?;
    let filter = EstateFilter {
        organisation: org.map(str::to_string),
        site: site.map(str::to_string),
    };
    Ok(match as_of {
        Some(d) => store.estate_as_of(d, &filter).await?,
        None => store.load_estate(&filter).await?,
    })
}

pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}
