//! The scan: UDP discovery sweep, then per host TCP connect + protocol probes, observations out.

use crate::conn::{connection_budget, raise_fd_limit, Conn, Connect, Dialer, Stats};
use crate::http::{self, HttpError, Limits, Reader, Response};
use crate::ports::{hint_for, PortHint};
use crate::rate::RateLimiter;
use crate::replies::{self, UdpProto};
use crate::requests::Credential;
use crate::targets::{Count, Scope, TargetError, TargetSet};
use crate::udp;
use camtrace_model::observation::Headers;
use camtrace_model::{Observation, ObservationKind};
use futures::stream::{self, StreamExt};
use md5::{Digest, Md5};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

/// Everything that tunes a scan. `Default` is the polite real-network profile.
#[derive(Debug, Clone)]
pub struct ScanConfig {
    pub ports: Vec<u16>,
    /// Host discovery: try these ports (those also in `ports`, in this order) and probe a host in
    /// full only if it is shown to be up. `None` (nmap's `-Pn`) treats every target as up.
    pub ping_ports: Option<Vec<u16>>,
    /// New TCP connections (and UDP probe rounds, one per host) per second, at most.
    pub rate: f64,
    /// Let the rate auto-tune below `rate` on timeouts/resets/local errors.
    pub auto_rate: bool,
    /// Connections to one host at once.
    pub per_host: usize,
    /// Sockets held at once; `None` = derived from RLIMIT_NOFILE (raised to the hard limit).
    pub max_connections: Option<usize>,
    pub connect_timeout: Duration,
    pub io_timeout: Duration,
    /// How long to wait for a server-speaks-first banner.
    pub banner_wait: Duration,
    /// Unicast UDP discovery to every target.
    pub udp: bool,
    /// Listen window after the last UDP probe.
    pub udp_wait: Duration,
    pub udp_protos: Vec<UdpProto>,
    /// TCP probing (off = UDP discovery only).
    pub tcp: bool,
    /// Extra safe paths fetched on every HTTP port (besides `/` and `/favicon.ico`).
    pub http_paths: Vec<String>,
    /// ONVIF credentials (tried in order, at most 5 per host). Never logged or saved.
    pub credentials: Vec<Credential>,
    /// Multicast discovery on this interface.
    pub discover_iface: Option<String>,
    pub discover_wait: Duration,
    /// Also run the TCP probes on hosts that answered multicast discovery (within `scope`).
    pub probe_discovered: bool,
    pub scope: Option<Scope>,
    pub max_hosts: u128,
    pub force: bool,
    pub limits: Limits,
    /// Longest body text kept in an observation (the read cap is `limits.max_body`).
    pub body_in_observation: usize,
}

/// Vendor-neutral but camera-relevant read-only paths (each a GET, unauthenticated: a 401 and its
/// realm are evidence too). `protocols.md` 2.2/2.3; Axis VAPIX basic device info is a POST of a
/// read-only JSON query, sent separately.
pub const DEFAULT_HTTP_PATHS: &[&str] = &[
    "/ISAPI/System/deviceInfo",
    "/cgi-bin/magicBox.cgi?action=getSystemInfo",
];

impl Default for ScanConfig {
    fn default() -> Self {
        Self {
            ports: crate::ports::default_ports(),
            ping_ports: Some(crate::ports::DEFAULT_PING_PORTS.to_vec()),
            rate: 500.0,
            auto_rate: true,
            per_host: 2,
            max_connections: None,
            connect_timeout: Duration::from_millis(1500),
            io_timeout: Duration::from_secs(3),
            banner_wait: Duration::from_millis(800),
            udp: true,
            udp_wait: Duration::from_millis(1500),
            udp_protos: UdpProto::ALL.to_vec(),
            tcp: true,
            http_paths: DEFAULT_HTTP_PATHS.iter().map(|s| s.to_string()).collect(),
            credentials: Vec::new(),
            discover_iface: None,
            discover_wait: Duration::from_secs(3),
            probe_discovered: false,
            scope: None,
            max_hosts: 65536,
            force: false,
            limits: Limits::default(),
            body_in_observation: 16 << 10,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error(transparent)]
    Targets(#[from] TargetError),
    #[error("UDP discovery: {0}")]
    Udp(#[from] udp::UdpError),
    #[error("invalid configuration: {0}")]
    Config(String),
}

/// Everything found about one host.
#[derive(Debug, Clone)]
pub struct HostReport {
    pub ip: IpAddr,
    pub open_ports: Vec<u16>,
    pub observations: Vec<Observation>,
    /// Whether the host was probed in full (false: host discovery found no sign of life yet).
    pub(crate) probed: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Udp,
    Discover,
    Tcp,
    Done,
}

#[derive(Debug, Clone)]
pub struct Progress {
    pub phase: Phase,
    pub hosts_total: Option<u64>,
    pub hosts_done: u64,
    pub hosts_up: u64,
    pub observations: u64,
    /// New TCP connections so far.
    pub connects: u64,
    /// Connections per second achieved since the previous update.
    pub rate: f64,
    /// The rate limit in force (the auto-tuner may hold it below `--rate`).
    pub rate_limit: f64,
    pub elapsed: Duration,
}

/// Refreshes the live figures of a [`Progress`] (at most every 200 ms unless forced).
struct Ticker {
    start: Instant,
    last: Instant,
    last_connects: u64,
}

impl Ticker {
    fn new() -> Self {
        let now = Instant::now();
        Self {
            start: now,
            last: now,
            last_connects: 0,
        }
    }

    fn tick(
        &mut self,
        force: bool,
        prog: &mut Progress,
        stats: &Stats,
        rate: &RateLimiter,
        sink: &mut dyn ScanSink,
    ) {
        let since = self.last.elapsed();
        if !force && since < Duration::from_millis(200) {
            return;
        }
        let connects = Stats::get(&stats.connects);
        let secs = since.as_secs_f64();
        if secs > 0.0 {
            prog.rate = connects.saturating_sub(self.last_connects) as f64 / secs;
        }
        self.last = Instant::now();
        self.last_connects = connects;
        prog.connects = connects;
        prog.rate_limit = rate.rate();
        prog.elapsed = self.start.elapsed();
        sink.progress(prog);
    }
}

/// Receives results as they come (a host at a time) and progress updates.
pub trait ScanSink {
    fn host(&mut self, report: HostReport);
    fn progress(&mut self, _p: &Progress) {}
}

/// A sink that keeps everything.
#[derive(Debug, Default)]
pub struct CollectSink {
    pub hosts: Vec<HostReport>,
}

impl CollectSink {
    pub fn observations(&self) -> Vec<Observation> {
        self.hosts
            .iter()
            .flat_map(|h| h.observations.iter().cloned())
            .collect()
    }
}

impl ScanSink for CollectSink {
    fn host(&mut self, report: HostReport) {
        self.hosts.push(report);
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ScanSummary {
    pub hosts_targeted: u64,
    pub hosts_up: u64,
    pub observations: u64,
    pub tcp_connects: u64,
    pub tcp_open: u64,
    pub tcp_timeouts: u64,
    pub udp_sent: u64,
    pub udp_replies: u64,
    pub elapsed_secs: f64,
    pub final_rate: f64,
}

struct Ctx {
    cfg: ScanConfig,
    dialer: Dialer,
    /// Host-discovery ports, in order (see [`ping_ports`]); empty = probe every target in full.
    ping: Vec<u16>,
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Scan `targets` with `cfg`, handing each host's observations to `sink` as soon as the host is
/// done. Checks scope and size first. Returns counters.
pub async fn scan(
    cfg: &ScanConfig,
    targets: &TargetSet,
    sink: &mut dyn ScanSink,
) -> Result<ScanSummary, ScanError> {
    if cfg.ports.is_empty() && cfg.tcp {
        return Err(ScanError::Config("no ports to scan".into()));
    }
    if cfg.rate <= 0.0 || !cfg.rate.is_finite() {
        return Err(ScanError::Config("--rate must be a positive number".into()));
    }
    if let Some(scope) = &cfg.scope {
        targets.check_scope(scope)?;
    }
    let total = match targets.check_size(cfg.max_hosts, cfg.force)? {
        Count::Exact(n) => Some(n.min(u64::MAX as u128) as u64),
        Count::AtLeast(_) => None,
    };
    let start = Instant::now();
    let nofile = raise_fd_limit();
    let budget = cfg
        .max_connections
        .unwrap_or_else(|| connection_budget(nofile))
        .max(1);
    let stats = Arc::new(Stats::default());
    let rate = Arc::new(RateLimiter::new(cfg.rate, cfg.auto_rate));
    let ctx = Arc::new(Ctx {
        ping: ping_ports(cfg),
        cfg: cfg.clone(),
        dialer: Dialer {
            rate: rate.clone(),
            fds: Arc::new(Semaphore::new(budget)),
            connect_timeout: cfg.connect_timeout,
            stats: stats.clone(),
        },
    });
    let mut prog = Progress {
        phase: Phase::Udp,
        hosts_total: total,
        hosts_done: 0,
        hosts_up: 0,
        observations: 0,
        connects: 0,
        rate: 0.0,
        rate_limit: rate.rate(),
        elapsed: Duration::ZERO,
    };
    let mut ticker = Ticker::new();

    // 1. UDP: unicast requests to every target, sent by a task of their own while TCP runs;
    //    replies are collected meanwhile and each host takes its own once the sweep has settled
    //    (`udp_wait` after the last request). Multicast discovery on the chosen interface.
    let mut sweep: Option<Arc<udp::Sweep>> = None;
    let mut sender = None;
    if cfg.udp && !cfg.udp_protos.is_empty() && !targets.specs.is_empty() {
        sink.progress(&prog);
        let ts = targets.membership();
        let accept: Arc<dyn Fn(IpAddr) -> bool + Send + Sync> = Arc::new(move |ip| ts.contains(ip));
        let sw = Arc::new(udp::Sweep::open(&cfg.udp_protos, accept, stats.clone())?);
        let (sw2, rate2, t2) = (sw.clone(), rate.clone(), targets.clone());
        sender = Some(tokio::spawn(async move {
            sw2.send(t2.iter(), &rate2).await;
        }));
        sweep = Some(sw);
    }
    let mut discovered: udp::Replies = HashMap::new();
    if let Some(iface) = &cfg.discover_iface {
        prog.phase = Phase::Discover;
        sink.progress(&prog);
        let scope = cfg.scope.clone();
        let accept: Arc<dyn Fn(IpAddr) -> bool + Send + Sync> =
            Arc::new(move |ip| scope.as_ref().map(|s| s.contains(ip)).unwrap_or(true));
        discovered = udp::multicast_discover(
            iface,
            &cfg.udp_protos,
            cfg.discover_wait,
            accept,
            stats.clone(),
        )
        .await?;
    }

    // 2. TCP, host by host, bounded.
    prog.phase = Phase::Tcp;
    sink.progress(&prog);
    let host_parallel = (budget / cfg.per_host.max(1)).max(1);
    // (whether this is the host's first report, the report)
    let mut set: JoinSet<(bool, HostReport)> = JoinSet::new();
    let reported: std::cell::RefCell<std::collections::HashSet<IpAddr>> = Default::default();
    let emit = |(first, r): (bool, HostReport), prog: &mut Progress, sink: &mut dyn ScanSink| {
        prog.hosts_done += first as u64;
        if r.probed {
            reported.borrow_mut().insert(r.ip);
        }
        if !r.observations.is_empty() {
            prog.hosts_up += 1;
            prog.observations += r.observations.len() as u64;
            sink.host(r);
        }
    };
    for (index, ip) in (0u64..).zip(targets.iter()) {
        while set.len() >= host_parallel {
            if let Some(Ok(r)) = set.join_next().await {
                emit(r, &mut prog, sink);
            }
        }
        let pre = discovered.remove(&ip).unwrap_or_default();
        let c = ctx.clone();
        let sw = sweep.clone();
        set.spawn(async move {
            let udp = UdpFeed {
                pre,
                sweep: sw,
                wait: c.cfg.udp_wait,
                index,
            };
            (true, probe_host(c, ip, udp).await)
        });
        ticker.tick(false, &mut prog, &stats, &rate, sink);
    }
    while let Some(res) = set.join_next().await {
        if let Ok(r) = res {
            emit(r, &mut prog, sink);
        }
        ticker.tick(false, &mut prog, &stats, &rate, sink);
    }
    // 3. Targets that showed no TCP sign of life but answered UDP discovery: probe them in full
    //    now, with their replies in hand. Late replies from hosts already reported are dropped.
    if let Some(sw) = &sweep {
        if let Some(h) = sender.take() {
            if h.await.is_err() {
                tracing::warn!("the UDP sweep task failed; replies so far are kept");
                sw.mark_sent();
            }
        }
        sw.settled(cfg.udp_wait).await;
        let mut late: Vec<_> = sw.finish().into_iter().collect();
        late.sort_by_key(|(ip, _)| *ip);
        late.retain(|(ip, _)| {
            let dup = reported.borrow().contains(ip);
            if dup {
                tracing::debug!(%ip, "late UDP reply after the host was reported; dropped");
            }
            !dup
        });
        probe_in_full(&ctx, &mut set, late, false, host_parallel, |r| {
            emit(r, &mut prog, sink)
        })
        .await;
    }
    let mut rest: Vec<_> = discovered.into_iter().collect();
    rest.sort_by_key(|(ip, _)| *ip);
    if cfg.probe_discovered && cfg.tcp {
        // the TCP probes of the targets, for hosts that answered on the chosen link
        probe_in_full(&ctx, &mut set, rest, true, host_parallel, |r| {
            emit(r, &mut prog, sink)
        })
        .await;
    } else {
        for (ip, v) in rest {
            let obs = v
                .into_iter()
                .map(|(p, k)| udp_observation(ip, p, k))
                .collect();
            emit(
                (
                    true,
                    HostReport {
                        ip,
                        open_ports: vec![],
                        observations: obs,
                        probed: false,
                    },
                ),
                &mut prog,
                sink,
            );
        }
    }
    prog.phase = Phase::Done;
    ticker.tick(true, &mut prog, &stats, &rate, sink);
    Ok(ScanSummary {
        hosts_targeted: total.unwrap_or(prog.hosts_done),
        hosts_up: prog.hosts_up,
        observations: prog.observations,
        tcp_connects: Stats::get(&stats.connects),
        tcp_open: Stats::get(&stats.open),
        tcp_timeouts: Stats::get(&stats.timeouts),
        udp_sent: Stats::get(&stats.udp_sent),
        udp_replies: Stats::get(&stats.udp_replies),
        elapsed_secs: start.elapsed().as_secs_f64(),
        final_rate: rate.rate(),
    })
}

/// Probe `hosts` in full (no host discovery: their UDP replies are in hand), at most `parallel`
/// at once, handing each report to `emit` with `first` (whether it is the host's first report).
async fn probe_in_full(
    ctx: &Arc<Ctx>,
    set: &mut JoinSet<(bool, HostReport)>,
    hosts: Vec<(IpAddr, Vec<(UdpProto, ObservationKind)>)>,
    first: bool,
    parallel: usize,
    mut emit: impl FnMut((bool, HostReport)),
) {
    for (ip, pre) in hosts {
        while set.len() >= parallel {
            if let Some(Ok(r)) = set.join_next().await {
                emit(r);
            }
        }
        let c = ctx.clone();
        set.spawn(async move {
            let udp = UdpFeed {
                pre,
                sweep: None,
                wait: Duration::ZERO,
                index: 0,
            };
            (first, probe_host(c, ip, udp).await)
        });
    }
    while let Some(res) = set.join_next().await {
        if let Ok(r) = res {
            emit(r);
        }
    }
}

/// Convenience for in-process callers (the demo, tests): scan and return every observation.
pub async fn scan_collect(
    cfg: &ScanConfig,
    targets: &TargetSet,
) -> Result<(Vec<Observation>, ScanSummary), ScanError> {
    let mut sink = CollectSink::default();
    let s = scan(cfg, targets, &mut sink).await?;
    Ok((sink.observations(), s))
}

fn udp_observation(ip: IpAddr, p: UdpProto, k: ObservationKind) -> Observation {
    Observation {
        target: ip.to_string(),
        time: Some(now()),
        source: Some(format!("camtrace-probe:udp/{}/{}", p.port(), p.name())),
        kind: k,
    }
}

/// One finding on one port, before it becomes an [`Observation`].
struct Found {
    source: String,
    kind: ObservationKind,
}

#[derive(Default)]
struct PortOut {
    port: u16,
    found: Vec<Found>,
    /// This port answered HTTP (plain or TLS).
    http: Option<bool>,
}

/// Where a host task gets its UDP discovery replies from.
struct UdpFeed {
    /// Multicast discovery replies already in hand.
    pre: Vec<(UdpProto, ObservationKind)>,
    /// The unicast sweep, to take from once it has settled.
    sweep: Option<Arc<udp::Sweep>>,
    /// How long after the host's requests replies are waited for.
    wait: Duration,
    /// The host's position in the sweep's sending order.
    index: u64,
}

/// What host discovery learnt about a target.
#[derive(Debug, Default, PartialEq, Eq)]
struct Ping {
    up: bool,
    /// Ping ports that refused (not worth dialling again).
    closed: Vec<u16>,
}

/// The ping ports to try: `cfg.ping_ports` that are also scanned, in ping order, then every
/// scanned port outside the curated list (a port the user added on purpose, such as a lab's
/// 10080, is tried on every host). Empty = no discovery phase (every target probed in full).
fn ping_ports(cfg: &ScanConfig) -> Vec<u16> {
    let Some(ping) = &cfg.ping_ports else {
        return Vec::new();
    };
    if !cfg.tcp {
        return Vec::new();
    }
    let curated = crate::ports::default_ports();
    let mut out: Vec<u16> = ping
        .iter()
        .copied()
        .filter(|x| cfg.ports.contains(x))
        .collect();
    for p in &cfg.ports {
        if !curated.contains(p) && !out.contains(p) {
            out.push(*p);
        }
    }
    out
}

/// Try the ping ports, `per_host` at a time, until one shows the host is up. An open port is
/// always proof; a refusal is proof except on loopback, where our own kernel refuses for every
/// address in 127/8.
async fn ping_host(ctx: &Ctx, ip: IpAddr, ports: &[u16]) -> Ping {
    let mut ping = Ping::default();
    let mut replies = stream::iter(ports.iter().copied())
        .map(|port| async move { (port, ctx.dialer.connect(ip, port).await) })
        .buffered(ctx.cfg.per_host.max(1));
    while let Some((port, r)) = replies.next().await {
        match r {
            Connect::Open(..) => ping.up = true,
            Connect::Closed => {
                ping.closed.push(port);
                ping.up |= !ip.is_loopback();
            }
            Connect::Unreachable | Connect::Timeout | Connect::Failed(_) => {}
        }
        if ping.up {
            break;
        }
    }
    ping
}

async fn probe_host(ctx: Arc<Ctx>, ip: IpAddr, feed: UdpFeed) -> HostReport {
    let mut observations: Vec<Observation> = Vec::new();
    let mut open_ports = Vec::new();
    let mut http_ports: Vec<(u16, bool)> = Vec::new();
    // Host discovery first, so that a sparse range costs a few connects per empty address.
    let mut udp_taken: Option<Vec<(UdpProto, ObservationKind)>> = None;
    let mut skip: Vec<u16> = Vec::new();
    if !ctx.ping.is_empty() && feed.pre.is_empty() {
        let ping = ping_host(&ctx, ip, &ctx.ping).await;
        if !ping.up {
            // Not up as far as TCP can tell. If its UDP replies are already here, it is up;
            // otherwise the scan re-probes it once the sweep has settled, if it answered then.
            let got = feed
                .sweep
                .as_ref()
                .map(|sw| sw.take(ip))
                .unwrap_or_default();
            if got.is_empty() {
                return HostReport {
                    ip,
                    open_ports,
                    observations,
                    probed: false,
                };
            }
            udp_taken = Some(got);
        }
        skip = ping.closed;
    }
    if ctx.cfg.tcp {
        let ports: Vec<u16> = ctx
            .cfg
            .ports
            .iter()
            .copied()
            .filter(|p| !skip.contains(p))
            .collect();
        let outs: Vec<Option<PortOut>> = stream::iter(ports)
            .map(|port| {
                let c = ctx.clone();
                async move { probe_port(&c, ip, port).await }
            })
            .buffered(ctx.cfg.per_host.max(1))
            .collect()
            .await;
        for out in outs.into_iter().flatten() {
            open_ports.push(out.port);
            if let Some(tls) = out.http {
                http_ports.push((out.port, tls));
            }
            for f in out.found {
                observations.push(Observation {
                    target: ip.to_string(),
                    time: Some(now()),
                    source: Some(f.source),
                    kind: f.kind,
                });
            }
        }
    }
    // UDP replies: those in hand plus what the sweep collected for this host.
    let mut udp_obs = feed.pre;
    if let Some(taken) = udp_taken {
        udp_obs.extend(taken);
    } else if let Some(sw) = &feed.sweep {
        sw.settled_for(feed.index, feed.wait).await;
        for item in sw.take(ip) {
            if !udp_obs.contains(&item) {
                udp_obs.push(item);
            }
        }
    }
    // ONVIF device information: the XAddr a probe match named, else each HTTP port.
    let mut onvif_targets: Vec<(u16, bool, String)> = Vec::new();
    for (_, k) in &udp_obs {
        if let ObservationKind::OnvifProbeMatch { xaddrs, .. } = k {
            for x in xaddrs {
                if let Some((host, port, tls, path)) = parse_url(x) {
                    if host
                        .trim_matches(|c| c == '[' || c == ']')
                        .parse::<IpAddr>()
                        .ok()
                        == Some(ip)
                        && !onvif_targets
                            .iter()
                            .any(|(p, _, q)| *p == port && *q == path)
                    {
                        onvif_targets.push((port, tls, path));
                    }
                }
            }
        }
    }
    if ctx.cfg.tcp {
        for (p, tls) in &http_ports {
            if !onvif_targets.iter().any(|(q, _, _)| q == p) {
                onvif_targets.push((*p, *tls, "/onvif/device_service".into()));
            }
        }
    }
    if !onvif_targets.is_empty() {
        if let Some(f) = onvif_info(&ctx, ip, &onvif_targets).await {
            observations.push(Observation {
                target: ip.to_string(),
                time: Some(now()),
                source: Some(f.source),
                kind: f.kind,
            });
        }
    }
    // mDNS: service types enumerated without instances get one follow-up query for them.
    let bare: Vec<String> = udp_obs
        .iter()
        .filter_map(|(_, k)| match k {
            ObservationKind::Mdns {
                service, instance, ..
            } if instance.is_empty() => Some(service.clone()),
            _ => None,
        })
        .take(4)
        .collect();
    if !bare.is_empty() {
        let more = mdns_follow_up(&ctx, ip, &bare).await;
        for k in more {
            if let ObservationKind::Mdns { service, .. } = &k {
                udp_obs.retain(|(_, o)| !matches!(o, ObservationKind::Mdns { service: s, instance, .. } if s == service && instance.is_empty()));
            }
            if !udp_obs.iter().any(|(_, o)| *o == k) {
                udp_obs.push((UdpProto::Mdns, k));
            }
        }
    }
    // UDP replies, SSDP descriptions fetched from the same host.
    for (p, mut k) in udp_obs {
        if let ObservationKind::Ssdp {
            headers,
            description,
        } = &mut k
        {
            if let Some(loc) =
                camtrace_model::observation::header(headers, "location").map(str::to_string)
            {
                if let Some((host, port, tls, path)) = parse_url(&loc) {
                    if host
                        .trim_matches(|c| c == '[' || c == ']')
                        .parse::<IpAddr>()
                        .ok()
                        == Some(ip)
                    {
                        let mut cl = HttpClient::new(ip, port, tls);
                        if let Ok(r) = cl.request(&ctx, "GET", &path, &[], b"").await {
                            if r.status == 200 {
                                let body = String::from_utf8_lossy(&r.body);
                                *description = Some(truncate(&body, ctx.cfg.body_in_observation));
                            }
                        }
                    }
                }
            }
        }
        observations.push(udp_observation(ip, p, k));
    }
    HostReport {
        ip,
        open_ports,
        observations,
        probed: true,
    }
}

/// Ask `ip` over unicast mDNS for the instances of the given service types (one query, short wait).
async fn mdns_follow_up(ctx: &Ctx, ip: IpAddr, services: &[String]) -> Vec<ObservationKind> {
    let bind: std::net::SocketAddr = if ip.is_ipv4() {
        (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    // the socket counts against the descriptor budget like a TCP connection
    let Ok(_permit) = ctx.dialer.fds.clone().acquire_owned().await else {
        return vec![];
    };
    let Ok(sock) = tokio::net::UdpSocket::bind(bind).await else {
        return vec![];
    };
    let names: Vec<&str> = services.iter().map(String::as_str).collect();
    ctx.dialer.rate.acquire().await;
    if sock
        .send_to(
            &crate::requests::mdns_query_for(&names),
            (ip, crate::requests::MDNS_PORT),
        )
        .await
        .is_err()
    {
        return vec![];
    }
    let mut buf = vec![0u8; 65536];
    let wait = ctx.cfg.udp_wait.min(Duration::from_millis(500));
    match tokio::time::timeout(wait, sock.recv_from(&mut buf)).await {
        Ok(Ok((n, from))) if from.ip() == ip => replies::mdns_reply(&buf[..n])
            .into_iter()
            .filter(|k| matches!(k, ObservationKind::Mdns { instance, .. } if !instance.is_empty()))
            .collect(),
        _ => vec![],
    }
}

fn parse_url(u: &str) -> Option<(String, u16, bool, String)> {
    let (tls, rest) = if let Some(r) = u.strip_prefix("http://") {
        (false, r)
    } else if let Some(r) = u.strip_prefix("https://") {
        (true, r)
    } else {
        return None;
    };
    let (hostport, path) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].to_string()),
        None => (rest, "/".to_string()),
    };
    let (host, port) = if let Some(end) = hostport.strip_prefix('[').and_then(|h| h.find(']')) {
        let host = &hostport[..end + 2];
        let port = hostport[end + 2..]
            .strip_prefix(':')
            .and_then(|p| p.parse().ok());
        (host.to_string(), port)
    } else if let Some((h, p)) = hostport.rsplit_once(':') {
        (h.to_string(), p.parse().ok())
    } else {
        (hostport.to_string(), None)
    };
    Some((host, port.unwrap_or(if tls { 443 } else { 80 }), tls, path))
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

/// Raw banner text: printable ASCII kept, everything else escaped as `\xNN` (nmap style), so
/// signatures can match binary banners losslessly.
pub fn escape_banner(b: &[u8]) -> String {
    b.escape_ascii().to_string()
}

/// HTTP over a connection that is reused while the server allows it.
struct HttpClient {
    ip: IpAddr,
    port: u16,
    tls: bool,
    conn: Option<Conn>,
    reader: Reader,
}

impl HttpClient {
    fn new(ip: IpAddr, port: u16, tls: bool) -> Self {
        Self {
            ip,
            port,
            tls,
            conn: None,
            reader: Reader::new(),
        }
    }
    fn with_conn(ip: IpAddr, port: u16, tls: bool, conn: Conn) -> Self {
        Self {
            conn: Some(conn),
            ..Self::new(ip, port, tls)
        }
    }
    fn host_header(&self) -> String {
        let h = match self.ip {
            IpAddr::V6(a) => format!("[{a}]"),
            IpAddr::V4(a) => a.to_string(),
        };
        let default = if self.tls { 443 } else { 80 };
        if self.port == default {
            h
        } else {
            format!("{h}:{}", self.port)
        }
    }
    async fn dial(&self, ctx: &Ctx) -> Result<Conn, HttpError> {
        let conn = ctx
            .dialer
            .open(self.ip, self.port)
            .await
            .ok_or_else(|| HttpError::Io(std::io::Error::other("connect failed")))?;
        if self.tls {
            let (c, _) = tls_wrap(ctx, self.ip, conn).await.map_err(HttpError::Io)?;
            Ok(c)
        } else {
            Ok(conn)
        }
    }
    async fn request(
        &mut self,
        ctx: &Ctx,
        method: &str,
        path: &str,
        extra: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Response, HttpError> {
        let req = http::build_request(method, path, &self.host_header(), extra, body);
        for attempt in 0..2 {
            let fresh = self.conn.is_none();
            if fresh {
                self.conn = Some(self.dial(ctx).await?);
                self.reader = Reader::new();
            }
            let Some(conn) = self.conn.as_mut() else {
                return Err(HttpError::Closed);
            };
            match http::exchange(
                conn.io.as_mut(),
                &mut self.reader,
                &req,
                &ctx.cfg.limits,
                method == "HEAD",
            )
            .await
            {
                Ok((r, keep)) => {
                    if !keep {
                        self.conn = None;
                    }
                    return Ok(r);
                }
                Err(e) => {
                    self.conn = None;
                    let retry =
                        !fresh && attempt == 0 && matches!(e, HttpError::Closed | HttpError::Io(_));
                    if !retry {
                        return Err(e);
                    }
                }
            }
        }
        Err(HttpError::Closed)
    }
}

async fn tls_wrap(
    ctx: &Ctx,
    ip: IpAddr,
    conn: Conn,
) -> std::io::Result<(Conn, Option<crate::tls::CertInfo>)> {
    let Conn { io, permit } = conn;
    let hs = crate::tls::connector().connect(crate::tls::server_name(ip), io);
    match tokio::time::timeout(ctx.cfg.io_timeout, hs).await {
        Ok(Ok(tls)) => {
            let cert = tls
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|c| c.first())
                .and_then(|der| crate::tls::cert_info(der.as_ref()));
            Ok((Conn::new(Box::new(tls), permit), cert))
        }
        Ok(Err(e)) => Err(e),
        Err(_) => Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "TLS handshake timed out",
        )),
    }
}

async fn probe_port(ctx: &Ctx, ip: IpAddr, port: u16) -> Option<PortOut> {
    let conn = match ctx.dialer.connect(ip, port).await {
        Connect::Open(s, p) => Conn::new(Box::new(s), p),
        _ => return None,
    };
    let mut out = PortOut {
        port,
        ..Default::default()
    };
    let hint = if crate::ports::is_send_nothing_port(port) {
        Some(PortHint::Banner)
    } else {
        hint_for(port)
    };
    match hint {
        Some(PortHint::Http) => {
            if !http_port(ctx, ip, port, conn, false, &mut out).await {
                try_tls_then_http(ctx, ip, port, &mut out).await;
            }
        }
        Some(PortHint::Https) => match tls_wrap(ctx, ip, conn).await {
            Ok((c, cert)) => {
                push_cert(&mut out, port, cert);
                http_port(ctx, ip, port, c, true, &mut out).await;
            }
            Err(_) => {
                if let Some(c) = ctx.dialer.open(ip, port).await {
                    http_port(ctx, ip, port, c, false, &mut out).await;
                }
            }
        },
        Some(PortHint::Rtsp) => rtsp_port(ctx, ip, port, conn, &mut out).await,
        Some(PortHint::Banner) | None => {
            let mut conn = conn;
            let mut buf = vec![0u8; 1024];
            let got = match tokio::time::timeout(ctx.cfg.banner_wait, conn.io.read(&mut buf)).await
            {
                Ok(Ok(n)) => n,
                _ => 0,
            };
            drop(conn);
            if got > 0 {
                out.found.push(Found {
                    source: format!("camtrace-probe:tcp/{port}/banner"),
                    kind: ObservationKind::Port {
                        port,
                        protocol: Some("tcp".into()),
                        banner: Some(escape_banner(&buf[..got])),
                    },
                });
            } else if hint.is_some() {
                // a known proprietary port that waits for its own client protocol (or a raw
                // printing port, where nothing may ever be sent): the open port is the evidence
            } else if let Some(c) = ctx.dialer.open(ip, port).await {
                // silent: maybe it waits for a client (HTTP, then TLS)
                if !http_port(ctx, ip, port, c, false, &mut out).await && out.found.is_empty() {
                    if hint_for(port).is_none() {
                        try_tls_then_http(ctx, ip, port, &mut out).await;
                    }
                    if out.found.is_empty() {
                        out.found.push(Found {
                            source: format!("camtrace-probe:tcp/{port}/connect"),
                            kind: ObservationKind::Port {
                                port,
                                protocol: Some("tcp".into()),
                                banner: None,
                            },
                        });
                    }
                }
            }
        }
    }
    if out.found.is_empty() {
        out.found.push(Found {
            source: format!("camtrace-probe:tcp/{port}/connect"),
            kind: ObservationKind::Port {
                port,
                protocol: Some("tcp".into()),
                banner: None,
            },
        });
    }
    Some(out)
}

fn push_cert(out: &mut PortOut, port: u16, cert: Option<crate::tls::CertInfo>) {
    if let Some(c) = cert {
        out.found.push(Found {
            source: format!("camtrace-probe:tcp/{port}/tls"),
            kind: ObservationKind::Tls {
                port: Some(port),
                subject: c.subject,
                issuer: c.issuer,
                san: c.san,
            },
        });
    }
}

async fn try_tls_then_http(ctx: &Ctx, ip: IpAddr, port: u16, out: &mut PortOut) {
    if let Some(c) = ctx.dialer.open(ip, port).await {
        if let Ok((c, cert)) = tls_wrap(ctx, ip, c).await {
            push_cert(out, port, cert);
            http_port(ctx, ip, port, c, true, out).await;
        }
    }
}

fn headers_map(r: &Response) -> Headers {
    let mut h = Headers::new();
    for (k, v) in &r.headers {
        match h.get_mut(k) {
            Some(old) => {
                if old.len() < 8192 {
                    old.push_str(", ");
                    old.push_str(v);
                }
            }
            None => {
                h.insert(k.clone(), v.chars().take(8192).collect());
            }
        }
    }
    h
}

fn http_obs(ctx: &Ctx, port: u16, tls: bool, path: &str, r: &Response, method: &str) -> Found {
    let text = String::from_utf8_lossy(&r.body);
    let title = http::html_title(&text);
    let body = if r.body.is_empty() {
        None
    } else {
        Some(truncate(&text, ctx.cfg.body_in_observation))
    };
    Found {
        source: format!(
            "camtrace-probe:tcp/{port}/{} {method} {path}",
            if tls { "https" } else { "http" }
        ),
        kind: ObservationKind::Http {
            port: Some(port),
            tls: Some(tls),
            path: Some(path.to_string()),
            status: Some(r.status),
            headers: headers_map(r),
            title,
            body,
            favicon_md5: None,
        },
    }
}

/// HTTP probes on an open port. Returns false when the first exchange was not HTTP (the banner,
/// if any, is recorded).
async fn http_port(
    ctx: &Ctx,
    ip: IpAddr,
    port: u16,
    conn: Conn,
    tls: bool,
    out: &mut PortOut,
) -> bool {
    let mut cl = HttpClient::with_conn(ip, port, tls, conn);
    let first = cl.request(ctx, "GET", "/", &[], b"").await;
    let r = match first {
        Ok(r) => r,
        Err(HttpError::NotHttp(bytes)) => {
            if bytes.starts_with(b"RTSP/") {
                return false;
            }
            out.found.push(Found {
                source: format!("camtrace-probe:tcp/{port}/banner"),
                kind: ObservationKind::Port {
                    port,
                    protocol: Some("tcp".into()),
                    banner: Some(escape_banner(&bytes)),
                },
            });
            return false;
        }
        Err(_) => return false,
    };
    out.http = Some(tls);
    out.found.push(Found {
        source: format!("camtrace-probe:tcp/{port}/connect"),
        kind: ObservationKind::Port {
            port,
            protocol: Some(if tls { "https" } else { "http" }.into()),
            banner: None,
        },
    });
    out.found.push(http_obs(ctx, port, tls, "/", &r, "GET"));
    // follow up to two same-host redirects from `/`
    let mut cur = r;
    for _ in 0..2 {
        if !(300..400).contains(&cur.status) {
            break;
        }
        let Some(loc) = cur.header("location").map(str::to_string) else {
            break;
        };
        let path = if loc.starts_with('/') {
            loc
        } else if let Some((host, p, t, path)) = parse_url(&loc) {
            let same = host
                .trim_matches(|c| c == '[' || c == ']')
                .parse::<IpAddr>()
                .ok()
                == Some(ip)
                && p == port
                && t == tls;
            if !same {
                break;
            }
            path
        } else {
            break;
        };
        match cl.request(ctx, "GET", &path, &[], b"").await {
            Ok(r) => {
                out.found.push(http_obs(ctx, port, tls, &path, &r, "GET"));
                cur = r;
            }
            Err(_) => break,
        }
    }
    // favicon → md5
    if let Ok(r) = cl.request(ctx, "GET", "/favicon.ico", &[], b"").await {
        if r.status == 200 && !r.body.is_empty() && !r.body_truncated {
            let md5 = Md5::digest(&r.body);
            let hex: String = md5.iter().map(|b| format!("{b:02x}")).collect();
            out.found.push(Found {
                source: format!(
                    "camtrace-probe:tcp/{port}/{} GET /favicon.ico",
                    if tls { "https" } else { "http" }
                ),
                kind: ObservationKind::Http {
                    port: Some(port),
                    tls: Some(tls),
                    path: Some("/favicon.ico".into()),
                    status: Some(r.status),
                    headers: headers_map(&r),
                    title: None,
                    body: None,
                    favicon_md5: Some(hex),
                },
            });
        }
    }
    for path in &ctx.cfg.http_paths {
        if let Ok(r) = cl.request(ctx, "GET", path, &[], b"").await {
            if r.status != 404 && r.status != 0 {
                out.found.push(http_obs(ctx, port, tls, path, &r, "GET"));
            }
        }
    }
    // Axis VAPIX basic device info: a read-only JSON query that needs no credentials.
    let q = br#"{"apiVersion":"1.0","method":"getAllUnrestrictedProperties"}"#;
    if let Ok(r) = cl
        .request(
            ctx,
            "POST",
            "/axis-cgi/basicdeviceinfo.cgi",
            &[("Content-Type", "application/json")],
            q,
        )
        .await
    {
        if r.status == 200 || r.status == 401 {
            out.found.push(http_obs(
                ctx,
                port,
                tls,
                "/axis-cgi/basicdeviceinfo.cgi",
                &r,
                "POST",
            ));
        }
    }
    true
}

async fn rtsp_port(ctx: &Ctx, ip: IpAddr, port: u16, conn: Conn, out: &mut PortOut) {
    let mut conn = conn;
    let host = match ip {
        IpAddr::V6(a) => format!("[{a}]"),
        IpAddr::V4(a) => a.to_string(),
    };
    let url = format!("rtsp://{host}:{port}/");
    let ua = concat!("camtrace/", env!("CARGO_PKG_VERSION"));
    let mut reader = Reader::new();
    let options = format!("OPTIONS {url} RTSP/1.0\r\nCSeq: 1\r\nUser-Agent: {ua}\r\n\r\n");
    match http::exchange(
        conn.io.as_mut(),
        &mut reader,
        options.as_bytes(),
        &ctx.cfg.limits,
        false,
    )
    .await
    {
        Ok((r, keep)) => {
            let mut status = Some(r.status);
            let mut headers = headers_map(&r);
            let describe = format!("DESCRIBE {url} RTSP/1.0\r\nCSeq: 2\r\nUser-Agent: {ua}\r\nAccept: application/sdp\r\n\r\n");
            let mut fresh;
            let io = if keep {
                conn.io.as_mut()
            } else {
                match ctx.dialer.open(ip, port).await {
                    Some(c) => {
                        fresh = c;
                        reader = Reader::new();
                        fresh.io.as_mut()
                    }
                    None => {
                        push_rtsp(out, port, status, headers);
                        return;
                    }
                }
            };
            if let Ok((d, _)) =
                http::exchange(io, &mut reader, describe.as_bytes(), &ctx.cfg.limits, false).await
            {
                status = Some(d.status);
                for (k, v) in headers_map(&d) {
                    headers.insert(k, v);
                }
            }
            push_rtsp(out, port, status, headers);
        }
        Err(HttpError::NotHttp(bytes)) => out.found.push(Found {
            source: format!("camtrace-probe:tcp/{port}/banner"),
            kind: ObservationKind::Port {
                port,
                protocol: Some("tcp".into()),
                banner: Some(escape_banner(&bytes)),
            },
        }),
        Err(_) => {
            // not RTSP: maybe HTTP on an RTSP port
            drop(conn);
            if let Some(c) = ctx.dialer.open(ip, port).await {
                http_port(ctx, ip, port, c, false, out).await;
            }
        }
    }
}

fn push_rtsp(out: &mut PortOut, port: u16, status: Option<u16>, headers: Headers) {
    out.found.push(Found {
        source: format!("camtrace-probe:tcp/{port}/rtsp OPTIONS+DESCRIBE"),
        kind: ObservationKind::Rtsp {
            port: Some(port),
            status,
            headers,
        },
    });
    out.found.push(Found {
        source: format!("camtrace-probe:tcp/{port}/connect"),
        kind: ObservationKind::Port {
            port,
            protocol: Some("rtsp".into()),
            banner: None,
        },
    });
}

/// ONVIF GetDeviceInformation: unauthenticated first, then each credential (at most 5).
async fn onvif_info(ctx: &Ctx, ip: IpAddr, candidates: &[(u16, bool, String)]) -> Option<Found> {
    let action = [(
        "Content-Type",
        "application/soap+xml; charset=utf-8; action=\"http://www.onvif.org/ver10/device/wsdl/GetDeviceInformation\"",
    )];
    for (port, tls, path) in candidates.iter().take(3) {
        let mut cl = HttpClient::new(ip, *port, *tls);
        let body = crate::requests::onvif_get_device_information_request(None);
        let Ok(r) = cl.request(ctx, "POST", path, &action, &body).await else {
            continue;
        };
        if let Some(k) = replies::onvif_device_info(&r.body) {
            return Some(Found {
                source: format!("camtrace-probe:tcp/{port}/onvif GetDeviceInformation"),
                kind: k,
            });
        }
        let soapish = r.status == 401
            || r.status == 400
            || String::from_utf8_lossy(&r.body).contains("Envelope");
        if !soapish {
            continue;
        }
        for cred in ctx.cfg.credentials.iter().take(5) {
            let body = crate::requests::onvif_get_device_information_request(Some(cred));
            if let Ok(r) = cl.request(ctx, "POST", path, &action, &body).await {
                if let Some(k) = replies::onvif_device_info(&r.body) {
                    // the source names the user, never the password
                    return Some(Found {
                        source: format!("camtrace-probe:tcp/{port}/onvif GetDeviceInformation (WS-UsernameToken)"),
                        kind: k,
                    });
                }
            }
        }
        return None;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            parse_url("http://127.0.0.1:8899/onvif/device_service"),
            Some((
                "127.0.0.1".into(),
                8899,
                false,
                "/onvif/device_service".into()
            ))
        );
        assert_eq!(
            parse_url("https://[::1]/x"),
            Some(("[::1]".into(), 443, true, "/x".into()))
        );
        assert_eq!(
            parse_url("http://h"),
            Some(("h".into(), 80, false, "/".into()))
        );
        assert_eq!(parse_url("ftp://h"), None);
    }

    #[test]
    fn ping_ports_are_the_scanned_ping_ports_then_the_added_ones() {
        let mut cfg = ScanConfig::default();
        assert_eq!(ping_ports(&cfg), [80, 443, 554, 8000, 37777]);
        cfg.ports = vec![80, 554, 10080, 10554];
        assert_eq!(ping_ports(&cfg), [80, 554, 10080, 10554]);
        cfg.ports = vec![12345];
        assert_eq!(ping_ports(&cfg), [12345]);
        cfg.ports = vec![81, 8899];
        assert!(
            ping_ports(&cfg).is_empty(),
            "no ping port scanned: probe all"
        );
        cfg.ports = crate::ports::default_ports();
        cfg.ping_ports = None;
        assert!(ping_ports(&cfg).is_empty(), "-Pn");
        cfg.ping_ports = Some(vec![554, 80]);
        assert_eq!(
            ping_ports(&cfg),
            [554, 80],
            "the order given is the order tried"
        );
        cfg.tcp = false;
        assert!(ping_ports(&cfg).is_empty());
    }

    #[test]
    fn banners_escape_losslessly() {
        assert_eq!(
            escape_banner(b"\0\0\0\x10ok\r\n"),
            "\\x00\\x00\\x00\\x10ok\\r\\n"
        );
        assert_eq!(truncate("héllo", 2), "h");
    }
}
