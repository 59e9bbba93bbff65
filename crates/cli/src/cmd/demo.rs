//! `camtrace demo`: the whole job on a built-in estate, with nothing installed beyond the
//! project. Starts the lab (one loopback range per site, `127.21.<n>.0/24`), scans it, stores the
//! results in a fresh SQLite file, imports the bundled register (with deliberate gaps),
//! reconciles, checks the UK regime, plans within a budget, checks a sample quote, writes the
//! report and prints a short summary (also written as `summary.json`).
//!
//! Network safety: the lab listens only on 127.21.0.0/16 and the scanner is given exactly those
//! ranges (scope-checked), so no packet leaves the loopback interface.

use crate::cmd::procure::check_bytes;
use crate::common::today;
use crate::common::Global;
use anyhow::Context;
use camtrace_estate::report::{build_input, history};
use camtrace_estate::{judge, load_policies, make_plan, PlanSettings};
use camtrace_kb::Kb;
use camtrace_lab::{Ipv4Net, Lab, LabConfig, LabHandle, Manifest};
use camtrace_model::{
    Identification, NetworkSegment, Observation, Organisation, SensitivityCriteria, Site,
};
use camtrace_plan::Method;
use camtrace_store::{EstateFilter, RegisterBatch, ScanRecord};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

const ESTATE: &str = include_str!("../../../../demo/estate.toml");
const REGISTER: &str = include_str!("../../../../demo/register.csv");
const QUOTE: &str = include_str!("../../../../demo/quote.csv");
const PROGRESS: &str = include_str!("../../../../demo/progress.csv");

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Output directory: camtrace.db, report/, summary.json (recreated on every run).
    #[arg(long, default_value = "camtrace-demo")]
    pub out: PathBuf,
    /// Remediation budget for the period, in whole currency units.
    #[arg(long, default_value_t = 25_000)]
    pub budget: u64,
    /// Name of the budget period shown in the plan (e.g. 2026-27).
    #[arg(long, default_value = "2026-27")]
    pub period: String,
    /// Regimes to check (repeatable).
    #[arg(long = "regime", value_name = "ID", default_values_t = vec!["uk-2022-sensitive-sites".to_string()])]
    pub regimes: Vec<String>,
    /// Use this register instead of the bundled demo/register.csv.
    #[arg(long)]
    pub register: Option<PathBuf>,
    /// Use this quote instead of the bundled demo/quote.csv.
    #[arg(long)]
    pub quote: Option<PathBuf>,
    /// Scan rate (new connections per second, per site).
    #[arg(long, default_value_t = 4000.0)]
    pub rate: f64,
    /// Instead of the estate demo, a fleet: a central server on loopback and this many site
    /// agents (1 to 50), each scanning its own emulated site and pushing its evidence; prints
    /// the fleet view and the findings that arrived.
    #[arg(long, value_name = "N")]
    pub agents: Option<usize>,
    /// Regenerate the bundled register from the lab layout (maintainers) and exit.
    #[arg(long, hide = true, value_name = "PATH")]
    pub write_register: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Layout {
    seed: u64,
    organisation: Vec<Organisation>,
    site: Vec<SiteLayout>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct SiteLayout {
    n: u8,
    id: String,
    organisation: String,
    name: String,
    #[serde(default)]
    secret_or_above: bool,
    #[serde(default)]
    dv_significant: bool,
    #[serde(default)]
    ministerial_use: bool,
    #[serde(default)]
    socpa_2005: bool,
    #[serde(default)]
    government_building: bool,
    devices: usize,
    mix: Vec<String>,
    #[serde(default)]
    cctv_internet_exposed: bool,
}

impl SiteLayout {
    fn range(&self) -> String {
        format!("127.21.{}.0/24", self.n)
    }
    fn site(&self) -> Site {
        Site {
            id: self.id.clone(),
            organisation: self.organisation.clone(),
            name: self.name.clone(),
            address: None,
            criteria: SensitivityCriteria {
                secret_or_above: self.secret_or_above,
                dv_significant: self.dv_significant,
                ministerial_use: self.ministerial_use,
                socpa_2005: self.socpa_2005,
            },
            classification: None,
            government_building: self.government_building,
            tags: Vec::new(),
        }
    }
    fn networks(&self) -> Vec<NetworkSegment> {
        vec![
            NetworkSegment {
                id: format!("{}-core", self.id),
                site: self.id.clone(),
                name: "core departmental network".into(),
                cidrs: vec![format!("127.21.{}.0/25", self.n)],
                core: true,
                internet_exposed: false,
            },
            NetworkSegment {
                id: format!("{}-cctv", self.id),
                site: self.id.clone(),
                name: "isolated CCTV network".into(),
                cidrs: vec![format!("127.21.{}.128/25", self.n)],
                core: false,
                internet_exposed: self.cctv_internet_exposed,
            },
        ]
    }
    /// The segment an address is on.
    fn network_of(&self, addr: &str) -> Option<String> {
        let last: u8 = addr.rsplit('.').next()?.parse().ok()?;
        Some(if last < 128 {
            format!("{}-core", self.id)
        } else {
            format!("{}-cctv", self.id)
        })
    }
}

fn layout() -> anyhow::Result<Layout> {
    let file = camtrace_kb::KbFile {
        path: "demo/estate.toml".into(),
        origin: camtrace_kb::Origin::Embedded,
        text: ESTATE.to_string(),
    };
    camtrace_kb::parse_toml(&file).map_err(|e| anyhow::anyhow!("{e}"))
}

/// What the demo prints and writes to summary.json.
#[derive(Debug, Serialize)]
pub struct Summary {
    pub out: String,
    pub report: String,
    pub database: String,
    pub kb_version: String,
    pub organisations: usize,
    pub sites: usize,
    pub sensitive_sites: usize,
    pub lab_devices: usize,
    pub devices_found: usize,
    pub devices_identified: usize,
    /// Devices in the register file the demo imported.
    pub registered: usize,
    /// Devices found by the scan but not in the register file, adopted into the register.
    pub found_not_registered: usize,
    /// The device numbers of the whole estate after adoption, counted as `devices`, `sites`,
    /// `reconcile`, the report and the dashboard count them
    /// ([`camtrace_store::reconcile::device_counts`]).
    pub counts: camtrace_store::reconcile::DeviceCounts,
    /// The same, per site.
    pub counts_by_site: BTreeMap<String, camtrace_store::reconcile::DeviceCounts>,
    pub registered_not_found: usize,
    pub mismatched: usize,
    pub restricted_devices: usize,
    pub restricted_on_sensitive_sites: usize,
    pub findings_by_obligation: BTreeMap<String, usize>,
    pub regimes: Vec<String>,
    pub plan_cost: u64,
    pub plan_budget: u64,
    pub plan_exact: bool,
    pub plan_selected: usize,
    pub plan_waiting: usize,
    pub plan_risk_removed: f64,
    pub plan_total_risk: u64,
    pub currency: String,
    pub quote_verdict: String,
    pub quote_blocked: usize,
    pub quote_inquiry: usize,
    pub quote_allowed: usize,
    pub quote_blocked_lines: Vec<String>,
    /// Entries in the register's hash-chained history (verified) and its head, an anchor for
    /// `camtrace history verify --anchor`.
    pub history_entries: u64,
    pub history_head: Option<String>,
    /// Devices removed on record (demo/progress.csv).
    pub removals: usize,
    /// The progress series: restricted devices at each quarter end since the first removal,
    /// and today.
    pub progress: Vec<(chrono::NaiveDate, u64)>,
    pub timings_ms: BTreeMap<String, u128>,
    pub skipped: Vec<String>,
}

fn brand_name(kb: &Kb, id: &str) -> String {
    kb.brand(id)
        .map(|b| b.name.clone())
        .unwrap_or_else(|| id.to_string())
}

/// Build the register CSV from the lab manifests, with deliberate gaps: printers and web
/// servers are left out (not CCTV), every sixth camera is missing from the register, one
/// registered device is not on the network any more, and one Hikvision camera is registered as
/// an Axis camera.
fn generate_register(
    layout: &Layout,
    manifests: &[(SiteLayout, Manifest)],
    kb: &Kb,
) -> anyhow::Result<String> {
    let mut w = CsvOut::default();
    w.write_record([
        "organisation",
        "organisation_name",
        "organisation_kind",
        "country",
        "site",
        "site_name",
        "secret_or_above",
        "dv_significant",
        "ministerial_use",
        "socpa_2005",
        "government_building",
        "network",
        "network_name",
        "network_cidrs",
        "network_core",
        "internet_exposed",
        "device",
        "brand",
        "model",
        "class",
        "mac",
        "addresses",
        "status",
        "install_date",
        "scheduled_upgrade",
        "cost_device",
        "cost_labour",
        "notes",
    ])?;
    let yn = |b: bool| if b { "yes" } else { "no" }.to_string();
    let mut mismatch_done = false;
    for (sl, m) in manifests {
        let org = layout
            .organisation
            .iter()
            .find(|o| o.id == sl.organisation)
            .context("site names an unknown organisation")?;
        let site = sl.site();
        let nets = sl.networks();
        let mut devs: Vec<_> = m
            .devices
            .iter()
            .filter(|d| d.device_class.is_surveillance())
            .collect();
        devs.sort_by_key(|d| {
            d.target
                .parse::<std::net::Ipv4Addr>()
                .map(u32::from)
                .unwrap_or(0)
        });
        let used: HashSet<&str> = m.devices.iter().map(|d| d.target.as_str()).collect();
        let mut rows: Vec<(String, String, String, String, String, String, String)> = Vec::new();
        for (i, d) in devs.iter().enumerate() {
            if i % 6 == 5 {
                continue; // deliberately missing from the register
            }
            let mut brand = d
                .brand
                .as_deref()
                .map(|b| brand_name(kb, b))
                .unwrap_or_default();
            let mut model = d.model.clone();
            let mut notes = String::new();
            if !mismatch_done
                && sl.n == 1
                && d.maker.as_deref() == Some("hikvision")
                && d.brand.as_deref() == Some("hikvision")
            {
                brand = "Axis".into();
                model = "AXIS P3265-LVE".into();
                notes = "installer's handover sheet".into();
                mismatch_done = true;
            }
            let mac = if i % 4 == 3 {
                String::new()
            } else {
                d.mac.clone()
            };
            rows.push((
                format!("{}-{:03}", sl.id, i + 1),
                brand,
                model,
                d.device_class.as_str().to_string(),
                mac,
                d.target.clone(),
                notes,
            ));
        }
        if sl.n == 1 {
            // Registered, but no longer on the network.
            let gone = (200..=254)
                .map(|h| format!("127.21.{}.{h}", sl.n))
                .find(|a| !used.contains(a.as_str()))
                .context("no free address")?;
            rows.push((
                format!("{}-gone-01", sl.id),
                "Hikvision".into(),
                "DS-2CD2143G0-I".into(),
                "camera".into(),
                String::new(),
                gone,
                "removed in refurbishment? not confirmed".into(),
            ));
        }
        for (i, (id, brand, model, class, mac, addr, notes)) in rows.into_iter().enumerate() {
            let net_id = sl.network_of(&addr).unwrap_or_default();
            let net = nets.iter().find(|n| n.id == net_id).context("no network")?;
            let install = format!("{}-0{}-15", 2018 + (i % 6), 1 + i % 9);
            let upgrade = match i % 5 {
                0 => "2027-03-31".to_string(),
                1 => "2028-03-31".to_string(),
                2 => "2030-09-30".to_string(),
                3 => "2026-12-31".to_string(),
                _ => String::new(),
            };
            let (cd, cl) = if i % 10 == 7 {
                ("820".to_string(), "240".to_string())
            } else {
                (String::new(), String::new())
            };
            w.write_record([
                org.id.clone(),
                org.name.clone(),
                org.kind.clone().unwrap_or_default(),
                org.country.clone().unwrap_or_default(),
                site.id.clone(),
                site.name.clone(),
                yn(site.criteria.secret_or_above),
                yn(site.criteria.dv_significant),
                yn(site.criteria.ministerial_use),
                yn(site.criteria.socpa_2005),
                yn(site.government_building),
                net.id.clone(),
                net.name.clone(),
                net.cidrs.join(";"),
                yn(net.core),
                yn(net.internet_exposed),
                id,
                brand,
                model,
                class,
                mac,
                addr,
                "installed".into(),
                install,
                upgrade,
                cd,
                cl,
                notes,
            ])?;
        }
    }
    Ok(w.0)
}

/// The register CSV, through the one CSV writer ([`camtrace_model::csv_out`]).
#[derive(Default)]
struct CsvOut(String);

impl CsvOut {
    fn write_record<I: IntoIterator<Item = S>, S: AsRef<str>>(
        &mut self,
        fields: I,
    ) -> anyhow::Result<()> {
        camtrace_model::csv_out::push_record(&mut self.0, fields);
        Ok(())
    }
}

async fn start_labs(layout: &Layout) -> anyhow::Result<Vec<(SiteLayout, LabHandle)>> {
    let mut labs = Vec::new();
    for sl in &layout.site {
        let range: Ipv4Net = sl
            .range()
            .parse()
            .with_context(|| format!("range of site {}", sl.id))?;
        let cfg = LabConfig {
            range: Some(range),
            devices: sl.devices,
            seed: layout.seed + sl.n as u64,
            mix: Some(sl.mix.clone()),
            ..Default::default()
        };
        let lab = Lab::start(cfg)
            .await
            .with_context(|| format!("starting the lab for site {}", sl.id))?;
        labs.push((sl.clone(), lab));
    }
    Ok(labs)
}

pub(crate) fn scan_ports() -> Vec<u16> {
    // The curated camera ports, plus the high ports the lab moves privileged ports to when it
    // cannot bind them (80 -> 10080): the fallback offset of LabConfig::default().
    let offset = LabConfig::default().port_fallback_offset;
    let mut ports = camtrace_probe::default_ports();
    let extra: Vec<u16> = ports
        .iter()
        .filter(|&&p| p < 1024)
        .filter_map(|&p| p.checked_add(offset))
        .collect();
    ports.extend(extra);
    ports.sort_unstable();
    ports.dedup();
    ports
}

async fn scan_site(range: String, rate: f64) -> anyhow::Result<Vec<Observation>> {
    let targets = camtrace_probe::TargetSet::parse(std::slice::from_ref(&range), &[])?;
    let cfg = camtrace_probe::ScanConfig {
        ports: scan_ports(),
        rate,
        connect_timeout: std::time::Duration::from_millis(800),
        io_timeout: std::time::Duration::from_secs(2),
        banner_wait: std::time::Duration::from_millis(300),
        udp_wait: std::time::Duration::from_millis(700),
        scope: Some(camtrace_probe::Scope::parse_items(std::slice::from_ref(
            &range,
        ))?),
        ..Default::default()
    };
    let (obs, _summary) = camtrace_probe::scan_collect(&cfg, &targets).await?;
    Ok(obs)
}

/// Observations to identifications with the identification engine (one per target).
fn identify(engine: &camtrace_identify::Engine, obs: &[Observation]) -> Vec<Identification> {
    engine.identify_all(obs)
}

pub fn run(g: &Global, a: Args) -> anyhow::Result<ExitCode> {
    let rt = crate::common::runtime()?;
    rt.block_on(run_async(g, a))
}

async fn run_async(g: &Global, a: Args) -> anyhow::Result<ExitCode> {
    if let Some(n) = a.agents {
        return super::demo_agents::run(g, n, &a.out, a.rate).await;
    }
    let t0 = Instant::now();
    let mut timings = BTreeMap::new();
    let mut skipped = Vec::new();
    let lap = |name: &str, t: &mut Instant, timings: &mut BTreeMap<String, u128>| {
        timings.insert(name.to_string(), t.elapsed().as_millis());
        *t = Instant::now();
    };
    let mut t = Instant::now();
    let files = g.kb_files()?;
    let kb = g.load_kb()?;
    let policies = load_policies(&files)?;
    let layout = layout()?;
    let as_of = today();

    // 1. Lab.
    let labs = start_labs(&layout).await?;
    let lab_devices: usize = labs.iter().map(|(_, l)| l.manifest().devices.len()).sum();
    lap("lab_start", &mut t, &mut timings);
    if let Some(path) = &a.write_register {
        let manifests: Vec<(SiteLayout, Manifest)> = labs
            .iter()
            .map(|(s, l)| (s.clone(), l.manifest().clone()))
            .collect();
        let csv = generate_register(&layout, &manifests, &kb)?;
        std::fs::write(path, csv).with_context(|| format!("writing {}", path.display()))?;
        for (_, l) in labs {
            l.shutdown().await;
        }
        println!("register written to {}", path.display());
        return Ok(ExitCode::SUCCESS);
    }

    // 2. Fresh database, layout and register.
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    let db_path = a.out.join("camtrace.db");
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let p = PathBuf::from(format!("{}{suffix}", db_path.display()));
        if p.exists() {
            std::fs::remove_file(&p)
                .with_context(|| format!("removing the previous {}", p.display()))?;
        }
    }
    let report_dir = a.out.join("report");
    if report_dir.exists() {
        std::fs::remove_dir_all(&report_dir)
            .with_context(|| format!("removing the previous {}", report_dir.display()))?;
    }
    let db_url = db_path.display().to_string();
    let store = camtrace_store::open(&db_url)
        .await
        .context("creating the demo database")?;
    let base = RegisterBatch {
        organisations: layout.organisation.clone(),
        sites: layout.site.iter().map(SiteLayout::site).collect(),
        networks: layout.site.iter().flat_map(SiteLayout::networks).collect(),
        ..Default::default()
    };
    store.apply_register(&base, "demo:estate.toml").await?;
    let register_text = match &a.register {
        Some(p) => {
            std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?
        }
        None => REGISTER.to_string(),
    };
    let outcome =
        camtrace_ingest::register::read_csv(register_text.as_bytes(), &Default::default())
            .context("reading the register")?;
    let reg = outcome.register;
    let registered = reg.devices.len();
    store
        .apply_register(
            &RegisterBatch {
                organisations: reg.organisations,
                sites: reg.sites,
                zones: reg.zones,
                networks: reg.networks,
                devices: reg.devices,
            },
            "demo:register.csv",
        )
        .await?;
    // The estate's remediation history: devices removed since 2023, registered as removed.
    let removals =
        camtrace_estate::progress::read_removals(PROGRESS).context("reading demo/progress.csv")?;
    store
        .apply_register(
            &RegisterBatch {
                devices: removals.iter().map(|r| r.device.clone()).collect(),
                ..Default::default()
            },
            "demo:progress.csv",
        )
        .await?;
    lap("register_import", &mut t, &mut timings);

    // 3. Scan every site (concurrently), identify, store.
    // The scanner's futures are not Send: run the site scans concurrently on one thread.
    let local = tokio::task::LocalSet::new();
    let site_ranges: Vec<(String, String)> = labs
        .iter()
        .map(|(sl, _)| (sl.id.clone(), sl.range()))
        .collect();
    let rate = a.rate;
    let results = local
        .run_until(async move {
            let mut set = tokio::task::JoinSet::new();
            for (id, range) in site_ranges {
                set.spawn_local(async move { (id, scan_site(range, rate).await) });
            }
            let mut out = Vec::new();
            while let Some(r) = set.join_next().await {
                out.push(r);
            }
            out
        })
        .await;
    let mut scans: BTreeMap<String, Vec<Observation>> = BTreeMap::new();
    for r in results {
        let (id, obs) = r.context("scan task")?;
        scans.insert(
            id.clone(),
            obs.with_context(|| format!("scanning site {id}"))?,
        );
    }
    let targets_found: usize = scans
        .values()
        .map(|o| {
            o.iter()
                .map(|x| x.target.as_str())
                .collect::<HashSet<_>>()
                .len()
        })
        .sum();
    for (site, obs) in &scans {
        if obs.is_empty() {
            skipped.push(format!("site {site}: the scan found no hosts"));
        }
    }
    lap("scan", &mut t, &mut timings);
    let mut identified = 0usize;
    let engine = camtrace_identify::Engine::new(&kb)
        .map_err(|e| anyhow::anyhow!("{e}"))
        .context("compiling the signatures")?
        .with_date(as_of);
    for (site, obs) in &scans {
        let ids = identify(&engine, obs);
        identified += ids
            .iter()
            .filter(|i| i.maker.is_some() || i.brand.is_some())
            .count();
        let rec = ScanRecord {
            id: format!("demo-{site}-{}", camtrace_store::now_rfc3339()),
            started: camtrace_store::now_rfc3339(),
            finished: Some(camtrace_store::now_rfc3339()),
            source: "camtrace demo".into(),
            site: Some(site.clone()),
            kind: "scan".into(),
            observation_count: obs.len() as i64,
            identification_count: ids.len() as i64,
        };
        if let Some(mut imp) = store.begin_scan(&rec).await? {
            imp.add_observations(obs).await?;
            imp.add_identifications(&ids).await?;
            imp.commit("camtrace demo").await?;
        }
    }
    lap("identify_and_store", &mut t, &mut timings);

    // 4. Reconcile: register what was found but not registered (flagged in the report).
    let networks: Vec<_> = layout.site.iter().flat_map(SiteLayout::networks).collect();
    let found_not_registered = camtrace_estate::reconcile::adopt_everywhere(
        store.as_ref(),
        &networks,
        camtrace_estate::reconcile::Adopt::Surveillance,
        "demo:reconcile",
    )
    .await? as usize;
    let estate = store.load_estate(&EstateFilter::default()).await?;
    let (counts, counts_by_site) = camtrace_store::reconcile::device_counts(&estate);
    lap("reconcile", &mut t, &mut timings);

    // 5. Check, plan, quote, report.
    let judged = judge(&kb, &policies, estate, &a.regimes, as_of)?;
    lap("check", &mut t, &mut timings);
    // The trend: at each quarter end since the first removal, the estate as it stood then,
    // judged by the rules of that day.
    camtrace_estate::progress::record_progress(
        store.as_ref(),
        &kb,
        &policies,
        &judged.estate,
        &removals,
        &a.regimes,
        as_of,
    )
    .await?;
    lap("progress", &mut t, &mut timings);
    let plan = make_plan(
        &files,
        &kb,
        &judged,
        &PlanSettings {
            budget: Some(a.budget),
            period: Some(a.period.clone()),
            method: Method::Exact,
            as_of,
        },
    )?;
    lap("plan", &mut t, &mut timings);
    let quote_bytes = match &a.quote {
        Some(p) => std::fs::read(p).with_context(|| format!("reading {}", p.display()))?,
        None => QUOTE.as_bytes().to_vec(),
    };
    let quote = check_bytes(
        g,
        &quote_bytes,
        &a.regimes,
        &judged.estate.sites,
        &judged.estate.organisations,
        None,
        as_of,
    )?;
    lap("quote", &mut t, &mut timings);
    let hist = history(store.as_ref(), &judged, as_of, None, None, true).await?;
    let progress: Vec<(chrono::NaiveDate, u64)> = hist
        .iter()
        .map(|p| (p.date, p.sensitive + p.other))
        .collect();
    let mut input = build_input(
        &kb,
        &files.version(),
        &judged,
        Some(plan.clone()),
        as_of,
        "camtrace demo estate: surveillance equipment and remediation",
        hist,
    );
    input.history_head = store.history_head().await?.map(|h| h.to_string());
    let written =
        camtrace_report::write_report(&input, &report_dir).context("writing the report")?;
    let quote_json = serde_json::to_vec_pretty(&quote)?;
    std::fs::write(report_dir.join("quote-check.json"), quote_json)?;
    lap("report", &mut t, &mut timings);
    let history_entries = store
        .verify_history()
        .await
        .context("verifying the register's history")?;
    let history_head = store.history_head().await?.map(|h| h.to_string());
    for (_, l) in labs {
        l.shutdown().await;
    }
    timings.insert("total".into(), t0.elapsed().as_millis());

    let rs = input.summary();
    let rec = input.reconciliation.clone().unwrap_or_default();
    let summary = Summary {
        out: a.out.display().to_string(),
        report: written.index.display().to_string(),
        database: db_url,
        kb_version: input.kb_version.clone(),
        organisations: rs.organisations,
        sites: rs.sites,
        sensitive_sites: rs.sensitive_sites,
        lab_devices,
        devices_found: targets_found,
        devices_identified: identified,
        registered,
        found_not_registered,
        counts,
        counts_by_site,
        registered_not_found: rec.missing.len(),
        mismatched: rec.mismatched.len(),
        restricted_devices: rs.restricted_devices,
        restricted_on_sensitive_sites: rs.restricted_on_sensitive_sites,
        findings_by_obligation: rs.findings_by_obligation.clone(),
        regimes: judged.regimes.clone(),
        plan_cost: plan.total_cost,
        plan_budget: a.budget,
        plan_exact: plan.exact,
        plan_selected: plan.rows.iter().filter(|r| r.selected).count(),
        plan_waiting: plan.rows.iter().filter(|r| !r.selected).count(),
        plan_risk_removed: plan.risk_removed,
        plan_total_risk: plan.total_risk,
        currency: plan.currency.clone(),
        quote_verdict: quote.verdict.as_str().to_string(),
        quote_blocked: quote.blocked,
        quote_inquiry: quote.inquiry,
        quote_allowed: quote.allowed,
        quote_blocked_lines: quote
            .lines
            .iter()
            .filter(|l| l.verdict == camtrace_plan::Verdict::Blocked)
            .map(|l| {
                format!(
                    "line {}: {} {} -> {}",
                    l.line.line,
                    l.line.brand,
                    l.line.model,
                    l.maker.as_ref().map(|m| m.name.as_str()).unwrap_or("?")
                )
            })
            .collect(),
        history_entries,
        history_head,
        removals: removals.len(),
        progress,
        timings_ms: timings,
        skipped,
    };
    std::fs::write(
        a.out.join("summary.json"),
        serde_json::to_vec_pretty(&summary)?,
    )?;
    print_summary(&summary, &a.out)?;
    Ok(ExitCode::SUCCESS)
}

fn print_summary(s: &Summary, out: &Path) -> anyhow::Result<()> {
    use std::fmt::Write as _;
    let mut o = String::new();
    let _ = writeln!(
        o,
        "camtrace demo: done in {:.1} s",
        *s.timings_ms.get("total").unwrap_or(&0) as f64 / 1000.0
    );
    let _ = writeln!(o, "  report:    {}", s.report);
    let _ = writeln!(
        o,
        "  exports:   {}/report/{{findings,plan,devices}}.csv, report.json, report.xlsx",
        out.display()
    );
    let _ = writeln!(
        o,
        "  database:  {}   summary: {}/summary.json",
        s.database,
        out.display()
    );
    if let Some(head) = &s.history_head {
        let _ = writeln!(
            o,
            "  history:   {} entries, hash chain intact; head {}…",
            s.history_entries,
            &head[..head.len().min(24)]
        );
    }
    let _ = writeln!(
        o,
        "  knowledge base {}; regimes: {}",
        s.kb_version,
        s.regimes.join(", ")
    );
    let _ = writeln!(
        o,
        "  estate:    {} organisations, {} sites ({} sensitive), {} lab devices",
        s.organisations, s.sites, s.sensitive_sites, s.lab_devices
    );
    let _ = writeln!(o,
        "  found:     {} hosts answered, {} identified; the register file had {} devices: {} found but not registered (adopted), {} registered but not found, {} mismatched",
        s.devices_found, s.devices_identified, s.registered, s.found_not_registered, s.registered_not_found, s.mismatched
    );
    let c = &s.counts;
    let _ = writeln!(o,
        "  register:  {} devices ({} adopted from discovery, {} seen on the network); {} more found, not in the register; {} hosts unidentified",
        c.registered, c.adopted, c.matched, c.unregistered, c.unidentified_hosts
    );
    let _ = writeln!(
        o,
        "  restricted: {} devices, {} on sensitive sites",
        s.restricted_devices, s.restricted_on_sensitive_sites
    );
    for (k, v) in &s.findings_by_obligation {
        let _ = writeln!(o, "    {k}: {v} findings");
    }
    if let (Some(first), Some(last)) = (s.progress.first(), s.progress.last()) {
        let _ = writeln!(
            o,
            "  progress:  {} restricted devices on {} → {} on {} ({} removals on record, {} points in the report's chart)",
            first.1,
            first.0,
            last.1,
            last.0,
            s.removals,
            s.progress.len()
        );
    }
    let _ = writeln!(o,
        "  plan:      {} {} of {} {} budget ({}), {} actions now, {} wait; risk removed {:.0} of {}",
        s.currency,
        s.plan_cost,
        s.currency,
        s.plan_budget,
        if s.plan_exact { "exact optimum" } else { "optimal for rounded costs" },
        s.plan_selected,
        s.plan_waiting,
        s.plan_risk_removed,
        s.plan_total_risk
    );
    let _ = writeln!(
        o,
        "  quote:     {} ({} blocked, {} to inquire, {} allowed)",
        s.quote_verdict.to_uppercase(),
        s.quote_blocked,
        s.quote_inquiry,
        s.quote_allowed
    );
    for l in &s.quote_blocked_lines {
        let _ = writeln!(o, "    blocked {l}");
    }
    for sk in &s.skipped {
        let _ = writeln!(o, "  SKIPPED:   {sk}");
    }
    let _ = writeln!(o, "next, on this demo's register:");
    for c in next_commands(&s.database) {
        let _ = writeln!(o, "  {c}");
    }
    crate::common::emit(&o)
}

/// A path as one shell word (single-quoted when it has anything but plain characters).
fn shell_word(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+:=,@".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// The commands to try next, each with the demo's `--db`.
pub(crate) fn next_commands(db: &str) -> Vec<String> {
    let db = shell_word(db);
    [
        "check",
        "devices",
        "sites",
        "plan --budget 50000",
        "history verify",
        "report --out camtrace-report",
        "serve",
    ]
    .iter()
    .map(|c| format!("camtrace {c} --db {db}"))
    .collect()
}

#[cfg(test)]
mod next_tests {
    use super::*;

    #[test]
    fn demo_ends_with_next_commands_on_its_own_db() {
        let c = next_commands("camtrace-demo/camtrace.db");
        assert!(c
            .iter()
            .any(|x| x == "camtrace check --db camtrace-demo/camtrace.db"));
        assert!(c
            .iter()
            .all(|x| x.ends_with("--db camtrace-demo/camtrace.db")));
        let c = next_commands("/tmp/my demo/it's.db");
        assert!(
            c[0].ends_with("--db '/tmp/my demo/it'\\''s.db'"),
            "{}",
            c[0]
        );
    }
}
