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

use crate::cmd::plan::{load_estate, load_policies, parse_date, runtime, today};
use crate::common::{default_format, Format, Global};
use anyhow::Context;
use camtrace_ingest::register::{read_csv, read_json, ReadOptions};
use camtrace_model::{
    DeviceStatus, Estate, NetworkSegment, Organisation, SeenIdentification, SensitivityCriteria,
    Site,
};
use camtrace_policy::{count_failing, evaluate, render, DeviceFacts, EvalContext, Severity};
use std::collections::HashSet;
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
struct Placement {
    criteria: SensitivityCriteria,
    core: bool,
    internet: bool,
    org_kind: Option<String>,
    country: Option<String>,
    government_building: bool,
    tags: Vec<String>,
}

impl Placement {
    fn from_args(a: &Args) -> anyhow::Result<Self> {
        let mut c = SensitivityCriteria::default();
        for s in &a.site_criteria {
            match s.trim().to_ascii_lowercase().as_str() {
                "" => {}
                "secret" | "secret_or_above" => c.secret_or_above = true,
                "dv" | "dv_significant" => c.dv_significant = true,
                "ministerial" | "ministerial_use" => c.ministerial_use = true,
                "socpa" | "socpa_2005" => c.socpa_2005 = true,
                other => anyhow::bail!(
                    "unknown site criterion `{other}` (expected secret, dv, ministerial or socpa)"
                ),
            }
        }
        Ok(Placement {
            criteria: c,
            core: a.core_network,
            internet: a.internet_exposed,
            org_kind: a.org_kind.clone(),
            country: a.country.clone().map(|c| c.to_ascii_uppercase()),
            government_building: a.government_building,
            tags: a.tags.clone(),
        })
    }

    const ORG: &'static str = "cli-input";
    const NET: &'static str = "cli-input-network";

    fn org(&self) -> Organisation {
        Organisation {
            id: Self::ORG.into(),
            name: "organisation described on the command line".into(),
            parent: None,
            kind: self.org_kind.clone(),
            country: self.country.clone(),
        }
    }

    fn site(&self, id: &str) -> Site {
        Site {
            id: id.into(),
            organisation: Self::ORG.into(),
            name: format!("{id} (described on the command line)"),
            address: None,
            criteria: self.criteria,
            classification: None,
            government_building: self.government_building,
            tags: self.tags.clone(),
        }
    }

    fn network(&self, site: &str) -> NetworkSegment {
        NetworkSegment {
            id: Self::NET.into(),
            site: site.into(),
            name: "network described on the command line".into(),
            cidrs: Vec::new(),
            core: self.core,
            internet_exposed: self.internet,
        }
    }

    fn described(&self) -> bool {
        self.criteria.is_sensitive()
            || self.core
            || self.internet
            || self.org_kind.is_some()
            || self.country.is_some()
            || self.government_building
            || !self.tags.is_empty()
    }
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
    let mut est = Estate::default();
    let site_id = "cli-input-site";
    est.organisations.push(p.org());
    est.sites.push(p.site(site_id));
    est.networks.push(p.network(site_id));
    let mut seen = HashSet::new();
    let mut observations = 0u64;
    for item in camtrace_ingest::jsonl::read(BufReader::new(reader)) {
        match item.with_context(|| format!("reading identifications from {src}"))? {
            camtrace_ingest::jsonl::Item::Identification(id) => {
                if !seen.insert(id.target.clone()) {
                    anyhow::bail!("target `{}` appears twice in {src}", id.target);
                }
                let mut d = camtrace_store::device_from_identification(site_id, &id);
                d.id = id.target.clone();
                d.site = site_id.into();
                d.network = Some(Placement::NET.into());
                if planned {
                    d.status = DeviceStatus::Planned;
                }
                est.devices.push(d);
                est.identifications.push(SeenIdentification {
                    device_id: Some(id.target.clone()),
                    site: Some(site_id.into()),
                    scan_id: "cli-input".into(),
                    seen_at: String::new(),
                    identification: id,
                });
            }
            camtrace_ingest::jsonl::Item::Observation(_) => observations += 1,
        }
    }
    if observations > 0 {
        tracing::warn!(
            "{observations} observation line(s) in {src} ignored: run `camtrace identify` first"
        );
    }
    Ok(est)
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
    if db_exists(&g.db) {
        match runtime()?.block_on(load_estate(&g.db, None, None, None)) {
            Ok(stored) => {
                let have: HashSet<String> = est.sites.iter().map(|s| s.id.clone()).collect();
                let orgs: HashSet<String> =
                    est.organisations.iter().map(|o| o.id.clone()).collect();
                let nets: HashSet<String> = est.networks.iter().map(|n| n.id.clone()).collect();
                est.sites
                    .extend(stored.sites.into_iter().filter(|s| !have.contains(&s.id)));
                est.organisations.extend(
                    stored
                        .organisations
                        .into_iter()
                        .filter(|o| !orgs.contains(&o.id)),
                );
                est.networks.extend(
                    stored
                        .networks
                        .into_iter()
                        .filter(|n| !nets.contains(&n.id)),
                );
                est.waivers = stored.waivers;
            }
            Err(e) => tracing::warn!("register database not used: {e:#}"),
        }
    }
    let known: HashSet<String> = est.sites.iter().map(|s| s.id.clone()).collect();
    let missing: Vec<String> = est
        .devices
        .iter()
        .map(|d| d.site.clone())
        .filter(|s| !known.contains(s))
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    if !missing.is_empty() {
        if !p.described() {
            tracing::warn!(
                "site(s) {} are neither in the file nor in the database: judged as sites with no facts (use --site-criteria, --org-kind, --country to describe them)",
                missing.join(", ")
            );
        }
        if !est.organisations.iter().any(|o| o.id == Placement::ORG) {
            est.organisations.push(p.org());
        }
        for s in missing {
            est.sites.push(p.site(&s));
        }
    }
    Ok(est)
}

pub fn run(g: &Global, a: Args) -> anyhow::Result<ExitCode> {
    let files = g.kb_files()?;
    let kb = g.load_kb()?;
    let policies = load_policies(&files)?;
    let selected = policies
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
    let placement = Placement::from_args(&a)?;

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
    // Filters (the database applies --org/--site itself; files are filtered here).
    if a.input.is_some() || a.devices.is_some() {
        if let Some(s) = &a.site {
            estate.devices.retain(|d| &d.site == s);
        }
        if let Some(o) = &a.org {
            let sites: HashSet<&str> = estate
                .sites
                .iter()
                .filter(|s| &s.organisation == o)
                .map(|s| s.id.as_str())
                .collect();
            let keep: HashSet<String> = estate
                .devices
                .iter()
                .filter(|d| sites.contains(d.site.as_str()))
                .map(|d| d.id.clone())
                .collect();
            estate.devices.retain(|d| keep.contains(&d.id));
        }
    }
    if a.planned {
        estate.devices.retain(|d| d.status == DeviceStatus::Planned);
    }

    let facts = DeviceFacts::from_estate(&estate);
    let mut ctx = EvalContext::new(&kb, selected, as_of);
    ctx.min_confidence = a.min_confidence;
    let findings = evaluate(&ctx, &facts, &estate.waivers);

    let text = match default_format(a.format) {
        Format::Json => render::json(&findings) + "\n",
        Format::Csv => render::csv(&findings),
        Format::Table => {
            let regimes: Vec<&str> = ctx.regimes.iter().map(|r| r.id.as_str()).collect();
            format!(
                "{} device(s) judged on {as_of} under {}\n{}",
                facts.len(),
                regimes.join(", "),
                render::table(&findings, a.reasons)
            )
        }
    };
    match &a.out {
        Some(p) => std::fs::write(p, text).with_context(|| format!("writing {}", p.display()))?,
        None => std::io::stdout().write_all(text.as_bytes())?,
    }
    if a.input.is_none() && a.devices.is_none() && !a.planned && !g.quiet {
        if let Some(note) = unregistered_note(&ctx, &estate) {
            eprintln!("{note}");
        }
    }
    if let Some(sev) = a.fail_on {
        let n = count_failing(&findings, sev);
        if n > 0 {
            eprintln!("camtrace check: {n} open or needs-inspection finding(s) at or above {sev}");
            return Ok(ExitCode::from(1));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// What the register does not judge: devices found on the network, identified, and not in the
/// register (counted as `camtrace_store::reconcile` counts them), how many of them the same rules
/// would restrict if they were registered where they were found, and how to adopt them.
fn unregistered_note(ctx: &EvalContext, estate: &Estate) -> Option<String> {
    use std::collections::BTreeMap;
    let found: Vec<&SeenIdentification> = estate
        .identifications
        .iter()
        .filter(|s| camtrace_store::reconcile::is_unregistered(s) && s.site.is_some())
        .collect();
    if found.is_empty() {
        return None;
    }
    // Judged as if adopted: each one a device of its site, seen as identified.
    let mut shadow = Estate {
        organisations: estate.organisations.clone(),
        sites: estate.sites.clone(),
        zones: estate.zones.clone(),
        networks: estate.networks.clone(),
        ..Default::default()
    };
    let mut per_site: BTreeMap<&str, usize> = BTreeMap::new();
    for s in &found {
        let site = s.site.as_deref().unwrap_or_default();
        *per_site.entry(site).or_default() += 1;
        let mut d = camtrace_store::device_from_identification(site, &s.identification);
        d.id = format!("found:{site}/{}", s.identification.target);
        let mut seen = (*s).clone();
        seen.device_id = Some(d.id.clone());
        shadow.devices.push(d);
        shadow.identifications.push(seen);
    }
    let facts = DeviceFacts::from_estate(&shadow);
    let restricted: HashSet<String> = evaluate(ctx, &facts, &[])
        .iter()
        .filter(|f| f.status.is_actionable())
        .map(|f| f.device_id.to_string())
        .collect();
    let sites: Vec<String> = per_site.iter().map(|(s, n)| format!("{s} {n}")).collect();
    let first = per_site.keys().next().copied().unwrap_or_default();
    Some(format!(
        "camtrace check: {} device(s) found on the network are not in the register and were not judged \
         ({} of them would be restricted or need inspection if registered where they were found; by site: {}). \
         List them with `camtrace reconcile --site {first}` and register them with \
         `camtrace reconcile --site {first} --adopt` (one site at a time).",
        found.len(),
        restricted.len(),
        sites.join(", ")
    ))
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
        assert_eq!(d.status, DeviceStatus::Installed);
    }
}
