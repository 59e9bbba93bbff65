//! `camtrace scan`: discover and identify devices on the targets the user names.

use crate::common::{default_format, Format, Global};
use anyhow::Context;
use camtrace_model::{Identification, Observation};
use camtrace_probe::{
    parse_credentials, parse_ports, targets, Credential, HostReport, Phase, Progress, ScanConfig,
    ScanSink, ScanSummary, Scope, TargetSet, UdpProto,
};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Discover and identify devices on the targets you name.
///
/// Targets use nmap syntax: addresses (IPv4/IPv6), CIDR blocks (127.20.0.0/16), octet ranges
/// (127.20.0.1-254, 127.20.1-3.1-10), host names. Every target gets unicast UDP discovery
/// (Hikvision SADP, Dahua DHIP and binary discovery, ONVIF WS-Discovery, SSDP, mDNS) and a TCP
/// connect scan of camera ports followed by read-only protocol probes (HTTP pages, favicon hash,
/// ISAPI/Dahua CGI/VAPIX device info, RTSP OPTIONS/DESCRIBE, TLS certificate, raw banners, ONVIF
/// GetDeviceInformation). Results go through the identification engine: one JSON line per
/// device (the `camtrace identify` format) or a table.
///
/// Scan only networks you are authorised to scan. Use --scope to pin an allow-list.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Examples:\n  camtrace scan 127.20.0.0/16             # loopback lab: 100,000 connections/s by default\n  camtrace scan 203.0.113.0/24 --rate 200\n  camtrace scan -iL hosts.txt --exclude 127.20.0.1 --scope allowed.txt\n  camtrace scan 127.20.0.5 --ports 80,554,8000-8100 --format table\n  camtrace scan --discover eth0            # multicast discovery on a LAN interface"
)]
pub struct Args {
    /// Targets: addresses, CIDR blocks, octet ranges, host names.
    #[arg(value_name = "TARGETS")]
    pub targets: Vec<String>,
    /// Read targets from a file (whitespace/line separated, `#` comments; `-` = stdin); nmap's `-iL FILE` works too.
    #[arg(long = "input-list", visible_alias = "iL", value_name = "FILE")]
    pub input_list: Vec<PathBuf>,
    /// Exclude hosts (comma-separated, any target syntax). Repeatable.
    #[arg(long, value_name = "HOSTS")]
    pub exclude: Vec<String>,
    /// Exclude the hosts listed in a file.
    #[arg(long, value_name = "FILE")]
    pub exclude_file: Vec<PathBuf>,
    /// Allow-list of networks (CIDRs, one per line): the scan refuses any target outside it.
    #[arg(long, value_name = "FILE")]
    pub scope: Option<PathBuf>,
    /// Refuse to scan more hosts than this without --force.
    #[arg(long, default_value_t = 65536, value_name = "N")]
    pub max_hosts: u64,
    /// Scan more than --max-hosts hosts.
    #[arg(long)]
    pub force: bool,

    /// TCP ports, nmap syntax (80,443,8000-8100); `default` is the curated camera list, `+N` adds.
    #[arg(short, long, value_name = "PORTS", default_value = "default")]
    pub ports: String,
    /// Print the default port list with the reason for each port and exit.
    #[arg(long)]
    pub list_ports: bool,
    /// Host discovery: probe a host in full only when one of these ports (those also in --ports,
    /// plus any port you added outside the curated list) is open, it answered UDP discovery, or
    /// (off loopback) it refused a connection. Tried in the order given.
    #[arg(long, value_name = "PORTS", default_value = "80,443,554,8000,37777")]
    pub ping_ports: String,
    /// No host discovery: treat every target as up and probe every port (nmap's `-Pn` works too).
    #[arg(long, visible_alias = "Pn")]
    pub no_ping: bool,
    /// New connections per second at most (UDP: probe rounds per host per second). Default: 500,
    /// or 100,000 when every target is on loopback (127.0.0.0/8, ::1), which is this machine.
    #[arg(long, value_name = "N")]
    pub rate: Option<f64>,
    /// Keep the rate fixed (no automatic slow-down on timeouts/resets).
    #[arg(long)]
    pub no_auto_rate: bool,
    /// Connections to one host at a time.
    #[arg(long, default_value_t = 2, value_name = "N")]
    pub per_host: usize,
    /// Sockets held at once (default: from the open-file limit, at most 4096).
    #[arg(long, value_name = "N")]
    pub max_connections: Option<usize>,
    /// TCP connect timeout in milliseconds.
    #[arg(long, default_value_t = 1500, value_name = "MS")]
    pub connect_timeout: u64,
    /// Read/write timeout per exchange in milliseconds.
    #[arg(long, default_value_t = 3000, value_name = "MS")]
    pub io_timeout: u64,
    /// How long to wait for a server-first banner, in milliseconds.
    #[arg(long, default_value_t = 800, value_name = "MS")]
    pub banner_wait: u64,
    /// How long each host's UDP discovery replies are waited for after its probes, in milliseconds.
    #[arg(long, default_value_t = 1500, value_name = "MS")]
    pub udp_wait: u64,
    /// No UDP discovery probes.
    #[arg(long)]
    pub no_udp: bool,
    /// No TCP probes (UDP discovery only).
    #[arg(long)]
    pub no_tcp: bool,
    /// UDP discovery protocols (comma-separated): sadp, dhip, dahua, wsd, ssdp, mdns.
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    pub udp_protos: Option<Vec<String>>,
    /// Also fetch this path (GET) on every HTTP port. Repeatable.
    #[arg(long = "http-path", value_name = "PATH")]
    pub http_paths: Vec<String>,
    /// Multicast/broadcast discovery on this interface (WS-Discovery, SADP, DHIP, SSDP, mDNS).
    #[arg(long, value_name = "IFACE")]
    pub discover: Option<String>,
    /// Listen window of --discover, in milliseconds.
    #[arg(long, default_value_t = 3000, value_name = "MS")]
    pub discover_wait: u64,
    /// Also probe (TCP) the hosts that answered --discover (only inside --scope when given).
    #[arg(long, requires = "discover")]
    pub probe_discovered: bool,

    /// ONVIF user for GetDeviceInformation (WS-UsernameToken). Never logged or saved.
    #[arg(long, value_name = "USER")]
    pub onvif_user: Option<String>,
    /// ONVIF password (prefer the environment variable).
    #[arg(
        long,
        env = "CAMTRACE_ONVIF_PASSWORD",
        hide_env_values = true,
        value_name = "PASSWORD"
    )]
    pub onvif_password: Option<String>,
    /// File of `user:password` lines to try for ONVIF (at most 5 per host).
    #[arg(long, value_name = "FILE")]
    pub credentials: Option<PathBuf>,

    /// Output format (default: table on a terminal, JSON Lines otherwise); `observations` writes
    /// the raw observations instead of identifications.
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: Option<OutFormat>,
    /// Also write every raw observation (JSON Lines) to this file.
    #[arg(long, value_name = "FILE")]
    pub save_observations: Option<PathBuf>,
    /// Store the scan's evidence (observations and the devices identified from them) in the
    /// register database (--db) in one step, as `camtrace import` of the saved observations
    /// would: the same evidence is never stored twice.
    #[arg(long)]
    pub save: bool,
    /// The register site the scanned network belongs to (with --save): the devices found are
    /// reconciled against that site's register. The site must exist.
    #[arg(long, value_name = "SITE", requires = "save")]
    pub site: Option<String>,
    /// Progress as JSON lines on stderr (for machines).
    #[arg(long)]
    pub json_progress: bool,
    /// No progress bar even on a terminal.
    #[arg(long)]
    pub no_progress: bool,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutFormat {
    Json,
    Table,
    Observations,
}

pub(crate) fn udp_proto(name: &str) -> anyhow::Result<UdpProto> {
    Ok(match name.trim().to_ascii_lowercase().as_str() {
        "sadp" => UdpProto::Sadp,
        "dhip" => UdpProto::Dhip,
        "dahua" | "dahua_discovery" => UdpProto::Dahua,
        "wsd" | "ws-discovery" | "ws_discovery" | "onvif" => UdpProto::WsDiscovery,
        "ssdp" | "upnp" => UdpProto::Ssdp,
        "mdns" => UdpProto::Mdns,
        other => {
            anyhow::bail!("unknown UDP protocol `{other}` (sadp, dhip, dahua, wsd, ssdp, mdns)")
        }
    })
}

/// Build the target set from the arguments (files read, names resolved, exclusions applied).
/// With a scope, every target is checked against it first and host names are refused without a
/// DNS look-up ([`targets::parse_targets`]).
fn build_targets(a: &Args, scope: Option<&Scope>) -> anyhow::Result<TargetSet> {
    let mut items = a.targets.clone();
    for f in &a.input_list {
        items.extend(targets::read_list_file(f)?);
    }
    let mut ex = Vec::new();
    for e in &a.exclude {
        ex.extend(targets::split_exclude_arg(e));
    }
    for f in &a.exclude_file {
        ex.extend(targets::read_list_file(f)?);
    }
    let specs = targets::parse_targets(&items, scope, &mut targets::resolve_host)?;
    let excludes = targets::parse_specs(&ex, true)?;
    Ok(TargetSet::new(specs, excludes))
}

/// The polite default rate for real networks, where fragile cameras must not be knocked over.
const DEFAULT_RATE: f64 = 500.0;
/// The default when every target is on loopback: the hosts are this machine (the lab).
const LOOPBACK_RATE: f64 = 100_000.0;

/// Whether every named target lies in 127.0.0.0/8 or ::1.
fn loopback_only(targets: &TargetSet) -> bool {
    let loopback = ["127.0.0.0/8".to_string(), "::1/128".to_string()];
    Scope::parse_items(&loopback).is_ok_and(|scope| targets.check_scope(&scope).is_ok())
}

/// The rate to use: the user's `--rate`, else the loopback default when every target is on
/// loopback and no multicast discovery (which reaches a real LAN) is asked for, else 500/s.
fn effective_rate(a: &Args, targets: &TargetSet) -> f64 {
    match a.rate {
        Some(r) => r,
        None if a.discover.is_none() && loopback_only(targets) => LOOPBACK_RATE,
        None => DEFAULT_RATE,
    }
}

/// `--ping-ports` in the order given (the order they are tried in), without duplicates.
fn ping_order(spec: &str) -> anyhow::Result<Vec<u16>> {
    let mut out: Vec<u16> = Vec::new();
    for item in spec.split(',') {
        for p in parse_ports(item).map_err(|e| anyhow::anyhow!("--ping-ports: {e}"))? {
            if !out.contains(&p) {
                out.push(p);
            }
        }
    }
    Ok(out)
}

fn build_config(a: &Args) -> anyhow::Result<ScanConfig> {
    let mut cfg = ScanConfig {
        ports: parse_ports(&a.ports)?,
        ping_ports: if a.no_ping {
            None
        } else {
            Some(ping_order(&a.ping_ports)?)
        },
        rate: a.rate.unwrap_or(DEFAULT_RATE),
        auto_rate: !a.no_auto_rate,
        per_host: a.per_host.max(1),
        max_connections: a.max_connections,
        connect_timeout: Duration::from_millis(a.connect_timeout.max(1)),
        io_timeout: Duration::from_millis(a.io_timeout.max(1)),
        banner_wait: Duration::from_millis(a.banner_wait),
        udp: !a.no_udp,
        udp_wait: Duration::from_millis(a.udp_wait),
        tcp: !a.no_tcp,
        discover_iface: a.discover.clone(),
        discover_wait: Duration::from_millis(a.discover_wait),
        probe_discovered: a.probe_discovered,
        max_hosts: a.max_hosts as u128,
        force: a.force,
        ..Default::default()
    };
    if !(cfg.rate > 0.0 && cfg.rate.is_finite()) {
        anyhow::bail!("--rate must be a positive number");
    }
    if let Some(list) = &a.udp_protos {
        cfg.udp_protos = list
            .iter()
            .map(|s| udp_proto(s))
            .collect::<anyhow::Result<_>>()?;
    }
    cfg.http_paths.extend(a.http_paths.iter().cloned());
    for p in &cfg.http_paths {
        if !p.starts_with('/') {
            anyhow::bail!("--http-path `{p}` must start with /");
        }
        if p.to_ascii_lowercase().starts_with("/sdk/weblanguage") {
            anyhow::bail!(
                "--http-path `{p}` is refused: it is the CVE-2021-36260 injection endpoint"
            );
        }
    }
    if let Some(scope) = &a.scope {
        cfg.scope = Some(
            Scope::from_file(scope)
                .with_context(|| format!("reading --scope {}", scope.display()))?,
        );
    }
    let mut creds = Vec::new();
    match (&a.onvif_user, &a.onvif_password) {
        (Some(u), Some(p)) => creds.push(Credential {
            user: u.clone(),
            password: p.clone(),
        }),
        (Some(_), None) => {
            anyhow::bail!("--onvif-user needs --onvif-password or CAMTRACE_ONVIF_PASSWORD")
        }
        (None, Some(_)) => anyhow::bail!("--onvif-password needs --onvif-user"),
        (None, None) => {}
    }
    if let Some(f) = &a.credentials {
        let meta = std::fs::metadata(f)
            .with_context(|| format!("reading --credentials {}", f.display()))?;
        if meta.len() > 1 << 20 {
            anyhow::bail!("--credentials {} is larger than 1 MiB", f.display());
        }
        let text = std::fs::read_to_string(f)
            .with_context(|| format!("reading --credentials {}", f.display()))?;
        creds.extend(
            parse_credentials(&text)
                .map_err(|e| anyhow::anyhow!("--credentials {}: {e}", f.display()))?,
        );
    }
    cfg.credentials = creds;
    Ok(cfg)
}

/// The identification engine, loaded once per run.
pub(crate) struct Identifier {
    engine: camtrace_identify::Engine,
}

impl Identifier {
    pub(crate) fn new(g: &Global) -> anyhow::Result<Self> {
        let kb = g.load_kb()?;
        let engine = camtrace_identify::Engine::new(&kb)
            .map_err(|e| anyhow::anyhow!("{e}"))
            .context("compiling the signatures")?;
        Ok(Self { engine })
    }
    /// Identifications of every target among `obs` (grouped by target).
    pub(crate) fn identify(&self, obs: &[Observation]) -> Vec<Identification> {
        self.engine.identify_all(obs)
    }
}

struct CliSink {
    format: OutFormat,
    ident: Option<Identifier>,
    out: std::io::BufWriter<std::io::Stdout>,
    save: Option<std::io::BufWriter<std::fs::File>>,
    table: Vec<Identification>,
    devices: u64,
    surveillance: u64,
    bar: Option<indicatif::ProgressBar>,
    json_progress: bool,
    error: Option<anyhow::Error>,
}

impl CliSink {
    fn fail(&mut self, e: impl Into<anyhow::Error>) {
        if self.error.is_none() {
            self.error = Some(e.into());
        }
    }
}

impl ScanSink for CliSink {
    fn host(&mut self, r: HostReport) {
        if let Some(w) = self.save.as_mut() {
            for o in &r.observations {
                let res = serde_json::to_writer(&mut *w, o)
                    .map_err(anyhow::Error::from)
                    .and_then(|_| Ok(w.write_all(b"\n")?));
                if let Err(e) = res {
                    self.fail(e.context("writing --save-observations"));
                    self.save = None;
                    break;
                }
            }
        }
        match (&self.ident, self.format) {
            (_, OutFormat::Observations) => {
                for o in &r.observations {
                    let _ = serde_json::to_writer(&mut self.out, o);
                    let _ = self.out.write_all(b"\n");
                }
                self.devices += 1;
                let _ = self.out.flush();
            }
            (Some(ident), fmt) => {
                let ids = ident.identify(&r.observations);
                for id in ids {
                    self.devices += 1;
                    if id.device_class.is_surveillance() {
                        self.surveillance += 1;
                    }
                    if fmt == OutFormat::Json {
                        let _ = serde_json::to_writer(&mut self.out, &id);
                        let _ = self.out.write_all(b"\n");
                    } else {
                        self.table.push(id);
                    }
                }
                let _ = self.out.flush();
            }
            (None, _) => {}
        }
        if let Some(b) = &self.bar {
            b.set_message(format!(
                "found {} ({} surveillance)",
                self.devices, self.surveillance
            ));
        }
    }

    fn progress(&mut self, p: &Progress) {
        if self.json_progress {
            let v = serde_json::json!({
                "phase": match p.phase { Phase::Udp => "udp", Phase::Discover => "discover", Phase::Tcp => "tcp", Phase::Done => "done" },
                "hosts_total": p.hosts_total,
                "hosts_done": p.hosts_done,
                "hosts_up": p.hosts_up,
                "devices": self.devices,
                "surveillance": self.surveillance,
                "observations": p.observations,
                "connects": p.connects,
                "rate": (p.rate * 10.0).round() / 10.0,
                "rate_limit": (p.rate_limit * 10.0).round() / 10.0,
                "elapsed_s": (p.elapsed.as_secs_f64() * 1000.0).round() / 1000.0,
            });
            eprintln!("{v}");
        }
        if let Some(b) = &self.bar {
            if let Some(t) = p.hosts_total {
                b.set_length(t);
            }
            b.set_position(p.hosts_done);
            b.set_prefix(match p.phase {
                Phase::Udp => "udp discovery",
                Phase::Discover => "multicast",
                Phase::Tcp => "probing",
                Phase::Done => "done",
            });
            b.set_message(format!(
                "up {}  found {} ({} surveillance)  {:.0} conn/s (limit {:.0})",
                p.hosts_up, self.devices, self.surveillance, p.rate, p.rate_limit
            ));
        }
    }
}

pub(crate) fn print_table(ids: &[Identification], w: &mut dyn Write) -> std::io::Result<()> {
    writeln!(
        w,
        "{:<16} {:<14} {:<14} {:<14} {:<22} {:>5}  EVIDENCE",
        "TARGET", "CLASS", "MAKER", "BRAND", "MODEL", "CONF"
    )?;
    for id in ids {
        let ev = id
            .evidence
            .first()
            .map(|e| {
                format!(
                    "{} ({} more)",
                    e.detail.chars().take(50).collect::<String>(),
                    id.evidence.len().saturating_sub(1)
                )
            })
            .unwrap_or_default();
        writeln!(
            w,
            "{:<16} {:<14} {:<14} {:<14} {:<22} {:>5.2}  {}",
            id.target,
            id.device_class.as_str(),
            id.maker.as_ref().map(|m| m.id.as_str()).unwrap_or("-"),
            id.brand.as_ref().map(|m| m.id.as_str()).unwrap_or("-"),
            id.model
                .as_deref()
                .unwrap_or("-")
                .chars()
                .take(22)
                .collect::<String>(),
            id.confidence,
            ev
        )?;
    }
    Ok(())
}

pub fn run(g: &Global, a: Args) -> anyhow::Result<ExitCode> {
    if a.list_ports {
        for (p, h, why) in camtrace_probe::DEFAULT_PORTS {
            println!("{p:>6}  {:<7} {why}", format!("{h:?}").to_lowercase());
        }
        return Ok(ExitCode::SUCCESS);
    }
    if a.targets.is_empty() && a.input_list.is_empty() && a.discover.is_none() {
        anyhow::bail!(
            "no targets: name addresses/ranges, use --input-list FILE, or --discover IFACE"
        );
    }
    let mut cfg = build_config(&a)?;
    let targets = build_targets(&a, cfg.scope.as_ref())?;
    cfg.rate = effective_rate(&a, &targets);
    // refuse early (before loading anything) when the targets leave the scope or are too many
    if let Some(scope) = &cfg.scope {
        targets.check_scope(scope)?;
    }
    targets.check_size(cfg.max_hosts, cfg.force)?;
    let format = match a.format {
        Some(f) => f,
        None => match default_format(None) {
            Format::Table => OutFormat::Table,
            _ => OutFormat::Json,
        },
    };
    let ident = if format == OutFormat::Observations {
        None
    } else {
        Some(Identifier::new(g)?)
    };
    // With --save, the register (and the site) must be there before the network is touched.
    if a.save {
        check_register(g, a.site.as_deref())?;
    }
    // --save stores the observations through the import path: from this file.
    let save_path: Option<PathBuf> = match (&a.save_observations, a.save) {
        (Some(p), _) => Some(p.clone()),
        (None, true) => Some(std::env::temp_dir().join(format!(
            "camtrace-scan-{}-{}.jsonl",
            std::process::id(),
            chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
        ))),
        (None, false) => None,
    };
    let save = match &save_path {
        Some(p) => Some(std::io::BufWriter::new(
            std::fs::File::create(p)
                .with_context(|| format!("creating --save-observations {}", p.display()))?,
        )),
        None => None,
    };
    let show_bar =
        !a.no_progress && !a.json_progress && !g.quiet && std::io::stderr().is_terminal();
    let bar = show_bar.then(|| {
        let b = indicatif::ProgressBar::new(0);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{prefix:>13} [{elapsed_precise}] {bar:30.cyan/blue} {pos}/{len} hosts  {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b.enable_steady_tick(Duration::from_millis(200));
        b
    });
    let mut sink = CliSink {
        format,
        ident,
        out: std::io::BufWriter::new(std::io::stdout()),
        save,
        table: Vec::new(),
        devices: 0,
        surveillance: 0,
        bar,
        json_progress: a.json_progress,
        error: None,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let summary: ScanSummary = rt.block_on(camtrace_probe::scan(&cfg, &targets, &mut sink))?;
    if let Some(b) = sink.bar.take() {
        b.finish_and_clear();
    }
    if let Some(mut w) = sink.save.take() {
        w.flush().context("writing --save-observations")?;
    }
    if format == OutFormat::Table {
        sink.table
            .sort_by_key(|i| (i.target.parse::<std::net::IpAddr>().ok(), i.target.clone()));
        print_table(&sink.table, &mut sink.out)?;
    }
    sink.out.flush()?;
    if let Some(e) = sink.error {
        return Err(e);
    }
    if a.save {
        if let Some(path) = &save_path {
            let stored = store_scan(g, &rt, path, a.site.as_deref());
            if a.save_observations.is_none() {
                let _ = std::fs::remove_file(path);
            }
            let s = stored?;
            eprintln!(
                "camtrace scan: saved to {} as scan {} ({}): {} observations, {} identifications{}",
                g.db,
                s.scan_id.as_deref().unwrap_or("-"),
                s.outcome,
                s.observations,
                s.identifications,
                match a.site.as_deref() {
                    Some(site) => format!(", site {site}"),
                    None =>
                        ", no site (give --site SITE to reconcile it with a site's register)".into(),
                }
            );
        }
    }
    if !g.quiet {
        eprintln!(
            "camtrace scan: {} hosts, {} up, {} identified ({} surveillance) in {:.2}s; {} TCP connects, {} UDP replies",
            summary.hosts_targeted,
            summary.hosts_up,
            sink.devices,
            sink.surveillance,
            summary.elapsed_secs,
            summary.tcp_connects,
            summary.udp_replies
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Before a `--save` scan: the register must be there when a site is named (a new database
/// cannot hold the site), and the site in it.
fn check_register(g: &Global, site: Option<&str>) -> anyhow::Result<()> {
    let Some(site) = site else { return Ok(()) };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let store = crate::common::open_register(&g.db).await?;
        if store.get_site(site).await?.is_none() {
            anyhow::bail!("{}", crate::common::site_missing_message(&g.db, site));
        }
        Ok(())
    })
}

/// Store the saved observations in the register through the import path shared with `camtrace
/// import` and the server (idempotent by content, identification included).
fn store_scan(
    g: &Global,
    rt: &tokio::runtime::Runtime,
    path: &std::path::Path,
    site: Option<&str>,
) -> anyhow::Result<camtrace_ingest::import::FileSummary> {
    let kb = g.load_kb()?;
    rt.block_on(async {
        let store = camtrace_store::open(&g.db)
            .await
            .with_context(|| format!("opening the register database `{}`", g.db))?;
        let opts = camtrace_ingest::import::ImportOptions {
            site: site.map(str::to_string),
            actor: format!(
                "{} (scan --save)",
                std::env::var("USER").unwrap_or_else(|_| "cli".into())
            ),
            ..Default::default()
        };
        camtrace_ingest::import::import(
            store.as_ref(),
            Some(&kb),
            camtrace_ingest::import::Input::File(path),
            Some(camtrace_ingest::FileKind::Scan),
            &opts,
        )
        .await
        .context("saving the scan to the register")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct T {
        #[command(flatten)]
        a: Args,
    }

    #[test]
    fn flags_parse_and_refuse_unsafe_paths() {
        let t = T::try_parse_from([
            "x",
            "127.0.0.1",
            "--iL",
            "/dev/null",
            "-p",
            "80,554",
            "--udp-protos",
            "sadp,wsd",
        ])
        .unwrap();
        let cfg = build_config(&t.a).unwrap();
        assert_eq!(cfg.ports, [80, 554]);
        assert_eq!(cfg.udp_protos, [UdpProto::Sadp, UdpProto::WsDiscovery]);
        let t = T::try_parse_from(["x", "127.0.0.1", "--http-path", "/SDK/webLanguage"]).unwrap();
        assert!(build_config(&t.a)
            .unwrap_err()
            .to_string()
            .contains("refused"));
        let t = T::try_parse_from(["x", "127.0.0.1", "--onvif-user", "admin"]).unwrap();
        assert!(build_config(&t.a).is_err());
        let t = T::try_parse_from(["x", "127.0.0.1", "-p", "0"]).unwrap();
        assert!(build_config(&t.a).is_err());
    }

    #[test]
    fn fast_default_rate_only_when_every_target_is_loopback() {
        let rate = |args: &[&str]| {
            let t = T::try_parse_from(args).unwrap();
            effective_rate(&t.a, &build_targets(&t.a, None).unwrap())
        };
        assert_eq!(rate(&["x", "127.20.0.0/16"]), LOOPBACK_RATE);
        assert_eq!(rate(&["x", "::1", "127.0.0.1"]), LOOPBACK_RATE);
        assert_eq!(rate(&["x", "127.20.0.0/16", "198.51.100.7"]), DEFAULT_RATE);
        assert_eq!(rate(&["x", "198.51.100.0/24"]), DEFAULT_RATE);
        assert_eq!(
            rate(&["x", "127.0.0.1", "--discover", "eth0"]),
            DEFAULT_RATE
        );
        assert_eq!(rate(&["x", "127.0.0.1", "--rate", "50"]), 50.0);
        let t = T::try_parse_from(["x", "127.0.0.1", "--rate", "0"]).unwrap();
        assert!(build_config(&t.a).is_err());
    }
}
