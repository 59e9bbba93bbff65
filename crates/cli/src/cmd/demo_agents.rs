//! `camtrace demo --agents N`: a fleet on this machine. A central server on the demo's SQLite
//! register (127.0.0.1, an ephemeral port), N emulated sites on loopback (`127.22.<i>.0/24`), and
//! one site agent per site, each enrolled with a one-time token, scanning its own site and
//! pushing through the agents' ingest path. It ends with the fleet view (what
//! `GET /api/v1/agents` shows) and the findings that arrived, site by site.

use crate::common::{emit, today, Global};
use anyhow::Context;
use camtrace_agent::config::AgentConfig;
use camtrace_agent::{Agent, Client};
use camtrace_lab::{Ipv4Net, Lab, LabConfig, LabHandle};
use camtrace_model::{NetworkSegment, Organisation, SensitivityCriteria, Site};
use camtrace_store::{EstateFilter, RegisterBatch};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

/// Most agents the demo starts (each site is a /24 on loopback).
pub const MAX_AGENTS: usize = 50;
/// Devices on each emulated site.
const DEVICES_PER_SITE: usize = 12;
/// What the sites hold: mostly restricted makers, a rebrand, some Western cameras, a printer.
const MIX: [&str; 8] = [
    "hikvision-camera",
    "hikvision-nvr",
    "dahua-camera",
    "lts-camera",
    "axis-camera",
    "bosch-camera",
    "hanwha-camera",
    "hp-printer",
];
const ORG: &str = "fleet-dept";

/// One site of the fleet and what its agent did.
struct SiteRun {
    site: Site,
    range: Ipv4Net,
    observations: usize,
    delivered: usize,
    error: Option<String>,
}

/// Site `i` (1-based), its core network and its loopback range.
fn site(i: usize) -> anyhow::Result<(Site, NetworkSegment, Ipv4Net)> {
    let id = format!("fleet-site-{i:02}");
    let range: Ipv4Net = format!("127.22.{i}.0/24").parse()?;
    let site = Site {
        id: id.clone(),
        organisation: ORG.into(),
        name: format!("Fleet site {i}"),
        address: None,
        // Every third site holds SECRET material: a department's estate is mixed.
        criteria: SensitivityCriteria {
            secret_or_above: i % 3 == 1,
            ..Default::default()
        },
        classification: None,
        government_building: true,
        tags: Vec::new(),
    };
    let net = NetworkSegment {
        id: format!("{id}-core"),
        site: id,
        name: "core departmental network".into(),
        cidrs: vec![range.to_string()],
        core: true,
        internet_exposed: false,
    };
    Ok((site, net, range))
}

/// Remove what an earlier run left under `out` (the register and the agents' directories).
fn fresh(out: &Path) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let db = out.join("camtrace.db");
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let p = PathBuf::from(format!("{}{suffix}", db.display()));
        if p.exists() {
            std::fs::remove_file(&p)
                .with_context(|| format!("removing the previous {}", p.display()))?;
        }
    }
    let agents = out.join("agents");
    if agents.exists() {
        std::fs::remove_dir_all(&agents)
            .with_context(|| format!("removing the previous {}", agents.display()))?;
    }
    Ok(db)
}

/// Run the fleet demo with `n` agents; results under `out`.
pub async fn run(g: &Global, n: usize, out: &Path, rate: f64) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        (1..=MAX_AGENTS).contains(&n),
        "--agents: 1 to {MAX_AGENTS} (one emulated /24 site on loopback each)"
    );
    anyhow::ensure!(
        rate.is_finite() && (1.0..=100_000.0).contains(&rate),
        "--rate: 1 to 100000 per second"
    );
    let t0 = std::time::Instant::now();
    let files = g.kb_files()?;
    let kb = g.load_kb()?;
    let policies = camtrace_estate::load_policies(&files)?;

    // A fresh register: one central-government department and its sites.
    let db = fresh(out)?;
    let store = camtrace_store::open(&db.display().to_string())
        .await
        .context("creating the demo database")?;
    let plan = (1..=n).map(site).collect::<anyhow::Result<Vec<_>>>()?;
    store
        .apply_register(
            &RegisterBatch {
                organisations: vec![Organisation {
                    id: ORG.into(),
                    name: "Department for Fleet Affairs".into(),
                    parent: None,
                    kind: Some("central_government".into()),
                    country: Some("GB".into()),
                }],
                sites: plan.iter().map(|(s, _, _)| s.clone()).collect(),
                networks: plan.iter().map(|(_, net, _)| net.clone()).collect(),
                ..Default::default()
            },
            "demo:agents",
        )
        .await?;

    // The emulated sites.
    let mut labs: Vec<LabHandle> = Vec::new();
    for (i, (s, _, range)) in plan.iter().enumerate() {
        let lab = Lab::start(LabConfig {
            range: Some(*range),
            devices: DEVICES_PER_SITE,
            seed: 2026 + i as u64,
            mix: Some(MIX.iter().map(|m| m.to_string()).collect()),
            ..Default::default()
        })
        .await
        .with_context(|| format!("starting the lab for {}", s.id))?;
        labs.push(lab);
    }

    // The central server, on loopback only.
    let cfg = camtrace_server::ServerConfig {
        bind: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        ..Default::default()
    };
    let app =
        camtrace_server::App::new(Arc::from(store), &files, cfg).map_err(|e| anyhow::anyhow!(e))?;
    let (bound_tx, bound_rx) = tokio::sync::oneshot::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(camtrace_server::serve_until(
        app.clone(),
        move |addr, _| {
            let _ = bound_tx.send(addr);
        },
        async move {
            let _ = stop_rx.await;
        },
    ));
    let addr = bound_rx.await.context("starting the server")?;

    // One agent per site: a one-time token each, enrolled one after the other (as installers
    // do; the server throttles concurrent enrolments from one address), then every agent scans
    // its site once and delivers, concurrently.
    let ports = super::demo::scan_ports()
        .iter()
        .map(|p| p.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let server_url = format!("http://{addr}");
    let mut jobs = Vec::new();
    for (s, _, range) in &plan {
        let e = camtrace_server::api::agents::issue_enrolment(
            &app,
            s,
            &format!("{}-agent", s.id),
            1,
            "camtrace demo",
        )
        .await
        .map_err(|e| anyhow::anyhow!("enrolment for {}: {e}", s.id))?;
        let dir = out.join("agents").join(&s.id);
        let enrolled = enrol(&dir, &server_url, s, *range, &ports, rate, &e.token).await;
        jobs.push((s.clone(), *range, enrolled));
    }
    // The scanner's futures are not Send: the agents run concurrently on one thread.
    let local = tokio::task::LocalSet::new();
    let mut runs: Vec<SiteRun> = local
        .run_until(async move {
            let mut set = tokio::task::JoinSet::new();
            for (s, range, enrolled) in jobs {
                set.spawn_local(async move {
                    let r = match enrolled {
                        Ok(cfg) => scan_and_deliver(cfg).await,
                        Err(e) => Err(e),
                    };
                    let (observations, delivered, error) = match r {
                        Ok((o, d)) => (o, d, None),
                        Err(e) => (0, 0, Some(format!("{e:#}"))),
                    };
                    SiteRun {
                        site: s,
                        range,
                        observations,
                        delivered,
                        error,
                    }
                });
            }
            let mut done = Vec::new();
            while let Some(r) = set.join_next().await {
                if let Ok(r) = r {
                    done.push(r);
                }
            }
            done
        })
        .await;
    runs.sort_by(|a, b| a.site.id.cmp(&b.site.id));

    // What arrived: the fleet view, and the devices the agents found, registered and judged.
    let store = app.store.clone();
    let agents = store.list_agents(None).await?;
    let networks: Vec<NetworkSegment> = plan.iter().map(|(_, net, _)| net.clone()).collect();
    camtrace_estate::reconcile::adopt_everywhere(
        store.as_ref(),
        &networks,
        camtrace_estate::reconcile::Adopt::Surveillance,
        "demo:agents (adopted from the agents' evidence)",
    )
    .await?;
    let estate = store.load_estate(&EstateFilter::default()).await?;
    let judged = camtrace_estate::judge(
        &kb,
        &policies,
        estate,
        &["uk-2022-sensitive-sites".to_string()],
        today(),
    )?;
    let mut per_site: BTreeMap<&str, (usize, BTreeSet<&str>)> = BTreeMap::new();
    for d in &judged.estate.devices {
        per_site.entry(d.site.as_str()).or_default().0 += 1;
    }
    for f in judged.findings.iter().filter(|f| f.status.is_actionable()) {
        per_site
            .entry(&*f.site_id)
            .or_default()
            .1
            .insert(&*f.device_id);
    }
    let _ = stop_tx.send(());
    let _ = server.await;
    for l in labs {
        l.shutdown().await;
    }

    let now = chrono::Utc::now();
    let mut o = String::new();
    let _ = writeln!(
        o,
        "camtrace demo --agents {n}: done in {:.1} s; the server was http://{addr} (loopback)",
        t0.elapsed().as_secs_f64()
    );
    let _ = writeln!(
        o,
        "{:<15} {:<15} {:>5} {:>8} {:>7} {:>7} {:>10}  AGENT",
        "SITE", "RANGE", "OBS", "BATCHES", "OUTBOX", "DEVICES", "RESTRICTED"
    );
    for r in &runs {
        let a = agents.iter().find(|a| a.site == r.site.id);
        let (devices, restricted) = per_site
            .get(r.site.id.as_str())
            .map(|(d, x)| (*d, x.len()))
            .unwrap_or_default();
        let state = match (&r.error, a) {
            (Some(e), _) => format!("FAILED: {e}"),
            (None, Some(a)) if camtrace_server::api::agents::is_silent(a, now) => "silent".into(),
            (None, Some(_)) => "reporting".into(),
            (None, None) => "not enrolled".into(),
        };
        let _ = writeln!(
            o,
            "{:<15} {:<15} {:>5} {:>8} {:>7} {:>7} {:>10}  {state}{}",
            r.site.id,
            r.range.to_string(),
            r.observations,
            r.delivered,
            a.and_then(|a| a.outbox_depth).unwrap_or_default(),
            devices,
            restricted,
            if r.site.criteria.is_sensitive() {
                " (sensitive site)"
            } else {
                ""
            }
        );
    }
    let failed = runs.iter().filter(|r| r.error.is_some()).count();
    let _ = writeln!(
        o,
        "{} agents enrolled, {} delivered their scan. Next: camtrace serve --db {} (the fleet view \
         is GET /api/v1/agents and the dashboard), camtrace check --db {}",
        agents.len(),
        runs.len() - failed,
        db.display(),
        db.display()
    );
    emit(&o)?;
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Write an agent's configuration file under `dir` and enrol it with `token`: its credential
/// is saved beside the file.
async fn enrol(
    dir: &Path,
    server: &str,
    site: &Site,
    range: Ipv4Net,
    ports: &str,
    rate: f64,
    token: &str,
) -> anyhow::Result<AgentConfig> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join("agent.toml");
    let text = format!(
        "servers = [\"{server}\"]\ncredential_file = \"agent.credential\"\nsite = \"{}\"\n\
         targets = [\"{range}\"]\nscope = [\"{range}\"]\nports = \"{ports}\"\nno_udp = true\n\
         rate = {rate:.1}\nschedule_secs = 3600\noutbox = \"outbox.db\"\nrequest_timeout_secs = 60\n",
        site.id
    );
    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    let cfg = AgentConfig::load(&path)?;
    let cred = Client::new(&cfg)?.enrol(token).await?;
    cred.save(&cfg.credential_file)?;
    Ok(cfg)
}

/// An enrolled agent scans its site once and delivers its outbox. Returns the observations
/// scanned and the batches the server acknowledged.
async fn scan_and_deliver(cfg: AgentConfig) -> anyhow::Result<(usize, usize)> {
    let mut agent = Agent::open(cfg).await?;
    let scanned = agent.scan_once().await?;
    let pushed = agent.push_pending().await?;
    if let Some(e) = pushed.last_error {
        anyhow::bail!("delivery: {e}");
    }
    Ok((scanned.observations, pushed.delivered + pushed.duplicates))
}
