//! `camtrace check`: apply the policy regimes to devices and list the findings with their full
//! chain of reasons.
//!
//! Devices come from the register database (default), from a device list (`--devices FILE`,
//! CSV or JSON in the `camtrace import` register format), or from identifications piped in
//! (`--input -`, the JSON Lines of `camtrace identify` / `scan`) with flags describing where the
//! devices are (`--site-criteria`, `--core-network`, `--org-kind`, `--country`, `--tag`).
//! `--planned` is the deployment gate: only devices planned for installation are judged, so a
//! "cease deployment" rule stops them before they go in.
//!
//! Exit status: 0, or 1 when an open (or needs-inspection) finding is at or above `--fail-on`;
//! 2 on errors.

use crate::common::{default_format, Format, Global};
use crate::common::{load_estate, parse_date, runtime, today};
use anyhow::Context;
use camtrace_estate::check::{
    complete_register_file, from_identifications, restrict, unregistered_found, Placement,
    UnregisteredFound,
};
use camtrace_estate::judge_with;
use camtrace_estate::load_policies;
use camtrace_ingest::register::{read_csv, read_json, ReadOptions};
use camtrace_model::Estate;
use camtrace_policy::{count_failing, render, Severity};
use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Regimes to apply (repeatable); default: every regime that is not opt-in.
    #[arg(long = "regime", value_name = "ID")]
    pub regimes: Vec<String>,
    /// Only this site.
    #[arg(long)]
    pub site: Option<String>,
    /// Only this organisation (and those below it).
    #[arg(long)]
    pub org: Option<String>,
    /// Evaluate as of this date (YYYY-MM-DD): rules, list memberships and waivers on that day.
    /// With the register database, the estate is also rebuilt as it was then. Default: today.
    #[arg(long, value_name = "DATE")]
    pub as_of: Option<String>,
    /// Output format (default: a table on a terminal, JSON otherwise).
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Exit with status 1 when an open or needs-inspection finding is at or above this severity
    /// (info, low, medium, high, critical).
    #[arg(long, value_name = "SEVERITY")]
    pub fail_on: Option<Severity>,
    /// Deployment gate: judge only devices whose status is `planned`. With --input, the piped
    /// devices are treated as planned.
    #[arg(long)]
    pub planned: bool,
    /// Judge the devices in this register file (CSV or JSON, as `camtrace import` reads) instead
    /// of the database. Sites missing from the file are taken from the database when it exists,
    /// else described by the site flags below.
    #[arg(long, value_name = "FILE", conflicts_with = "input")]
    pub devices: Option<PathBuf>,
    /// Judge identifications (JSON Lines from `camtrace identify` or `scan`; `-` for stdin).
    /// Where they are is described by the site flags below.
    #[arg(long, value_name = "FILE")]
    pub input: Option<String>,
    /// Sensitive-site criteria of the site the piped devices are on (comma-separated):
    /// secret, dv, ministerial, socpa.
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub site_criteria: Vec<String>,
    /// The piped devices are on a core network segment.
    #[arg(long)]
    pub core_network: bool,
    /// The piped devices are reachable from the internet.
    #[arg(long)]
    pub internet_exposed: bool,
    /// Kind of the organisation the piped devices belong to (central_government,
    /// local_government, federal_agency, contractor, defence, crown_corporation ...).
    #[arg(long, value_name = "KIND")]
    pub org_kind: Option<String>,
    /// ISO country of that organisation (GB, US, AU, CA).
    #[arg(long, value_name = "CC")]
    pub country: Option<String>,
    /// The site is a government building.
    #[arg(long)]
    pub government_building: bool,
    /// Site tags (repeatable), e.g. public-safety, government-facility, critical-infrastructure,
    /// national-security (the purposes that bring the FCC Covered List's scoped entries in).
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,
    /// Identifications below this confidence need inspection (overrides every regime's
    /// `min_confidence`, default 0.5).
    #[arg(long, value_name = "X")]
    pub min_confidence: Option<f64>,
    /// In the table, print each finding's chain of reasons.
    #[arg(long)]
    pub reasons: bool,
    /// Write the output to this file instead of stdout.
    #[arg(long, short)]
    pub out: Option<PathBuf>,
}

/// Site, organisation and network built from the flags, for devices whose site is not known.
fn placement(a: &Args) -> anyhow::Result<Placement> {
    Ok(Placement {
        criteria: Placement::criteria(&a.site_criteria)?,
        core: a.core_network,
        internet: a.internet_exposed,
        org_kind: a.org_kind.clone(),
        country: a.country.clone().map(|c| c.to_ascii_uppercase()),
        government_building: a.government_building,
        tags: a.tags.clone(),
    })
}

/// Whether the database named by `--db` can be opened without creating it.
fn db_exists(db: &str) -> bool {
    if db.starts_with("postgres://") || db.starts_with("postgresql://") {
        return true;
    }
    let path = db
        .strip_prefix("sqlite://")
        .or_else(|| db.strip_prefix("sqlite:"))
        .unwrap_or(db);
    path != ":memory:" && Path::new(path).exists()
}

/// Read JSON Lines identifications into an estate placed by the flags.
fn estate_from_input(src: &str, p: &Placement, planned: bool) -> anyhow::Result<Estate> {
    let reader: Box<dyn Read> = if src == "-" {
        Box::new(std::io::stdin())
    } else {
        Box::new(std::fs::File::open(src).with_context(|| format!("opening {src}"))?)
    };
    let got = from_identifications(BufReader::new(reader), src, p, planned)?;
    if got.observations_skipped > 0 {
        tracing::warn!(
            "{} observation line(s) in {src} ignored: run `camtrace identify` first",
            got.observations_skipped
        );
    }
    Ok(got.estate)
}

/// Read a register file and complete it with sites from the database or from the flags.
fn estate_from_devices(g: &Global, file: &Path, p: &Placement) -> anyhow::Result<Estate> {
    let f = std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?;
    let opts = ReadOptions::default();
    let json = file
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    let outcome = if json {
        read_json(f, &opts)
    } else {
        read_csv(f, &opts)
    }
    .with_context(|| format!("reading the device list {}", file.display()))?;
    let reg = outcome.register;
    let mut est = Estate {
        organisations: reg.organisations,
        sites: reg.sites,
        zones: reg.zones,
        networks: reg.networks,
        devices: reg.devices,
        ..Default::default()
    };
    let stored = if db_exists(&g.db) {
        match runtime()?.block_on(load_estate(&g.db, None, None, None)) {
            Ok(stored) => Some(stored),
            Err(e) => {
                tracing::warn!("register database not used: {e:#}");
                None
            }
        }
    } else {
        None
    };
    let placed = complete_register_file(&mut est, stored, p);
    if !placed.is_empty() && !p.described() {
        tracing::warn!(
            "site(s) {} are neither in the file nor in the database: judged as sites with no facts (use --site-criteria, --org-kind, --country to describe them)",
            placed.join(", ")
        );
    }
    Ok(est)
}

pub fn run(g: &Global, a: Args) -> anyhow::Result<ExitCode> {
    let files = g.kb_files()?;
    let kb = g.load_kb()?;
    let policies = load_policies(&files)?;
    // The arguments are checked before any input is read.
    policies
        .select(&a.regimes)
        .map_err(|e| anyhow::anyhow!(e))?;
    if let Some(m) = a.min_confidence {
        anyhow::ensure!(
            (0.0..=1.0).contains(&m),
            "--min-confidence must be within 0..1"
        );
    }
    let as_of_given = a.as_of.as_deref().map(parse_date).transpose()?;
    let as_of = as_of_given.unwrap_or_else(today);
    let placement = placement(&a)?;

    let mut estate = if let Some(src) = &a.input {
        estate_from_input(src, &placement, a.planned)?
    } else if let Some(file) = &a.devices {
        estate_from_devices(g, file, &placement)?
    } else {
        runtime()?.block_on(load_estate(
            &g.db,
            a.org.as_deref(),
            a.site.as_deref(),
            as_of_given,
        ))?
    };
    // The database applies --org/--site itself; files are restricted here.
    let from_file = a.input.is_some() || a.devices.is_some();
    restrict(
        &mut estate,
        a.org.as_deref().filter(|_| from_file),
        a.site.as_deref().filter(|_| from_file),
        a.planned,
    );
    let judged = judge_with(&kb, &policies, estate, &a.regimes, as_of, a.min_confidence)?;
    let findings = &judged.findings;

    let text = match default_format(a.format) {
        Format::Json => render::json(findings) + "\n",
        Format::Csv => render::csv(findings),
        Format::Table => format!(
            "{} device(s) judged on {as_of} under {}\n{}",
            judged.estate.devices.len(),
            judged.regimes.join(", "),
            render::table(findings, a.reasons)
        ),
    };
    match &a.out {
        Some(p) => std::fs::write(p, text).with_context(|| format!("writing {}", p.display()))?,
        None => std::io::stdout().write_all(text.as_bytes())?,
    }
    if !from_file && !a.planned && !g.quiet {
        if let Some(u) = unregistered_found(&kb, &policies, &judged, as_of, a.min_confidence)? {
            eprintln!("{}", unregistered_note(&u));
        }
    }
    if let Some(sev) = a.fail_on {
        let n = count_failing(findings, sev);
        if n > 0 {
            eprintln!("camtrace check: {n} open or needs-inspection finding(s) at or above {sev}");
            return Ok(ExitCode::from(1));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// What the register does not judge: devices found on the network, identified, and not in the
/// register, how many of them the same rules would restrict if they were registered where they
/// were found, and how to adopt them.
fn unregistered_note(u: &UnregisteredFound) -> String {
    let sites: Vec<String> = u.per_site.iter().map(|(s, n)| format!("{s} {n}")).collect();
    let first = u
        .per_site
        .keys()
        .next()
        .map(String::as_str)
        .unwrap_or_default();
    format!(
        "camtrace check: {} device(s) found on the network are not in the register and were not judged \
         ({} of them would be restricted or need inspection if registered where they were found; by site: {}). \
         List them with `camtrace reconcile --site {first}` and register them with \
         `camtrace reconcile --site {first} --adopt` (one site at a time).",
        u.found,
        u.restricted,
        sites.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn db_paths() {
        assert!(!db_exists("/nonexistent/dir/camtrace.db"));
        assert!(!db_exists("sqlite::memory:"));
        assert!(db_exists("postgres://x"));
    }

    #[test]
    fn devices_are_kept_as_given() {
        let d: camtrace_model::Device = serde_json::from_str(r#"{"id":"a","site":"s"}"#).unwrap();
        assert_eq!(d.status, camtrace_model::DeviceStatus::Installed);
    }
}
