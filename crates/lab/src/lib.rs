//! Emulated estate of surveillance devices answering the real protocols, on loopback or in network
//! namespaces.
//!
//! ```no_run
//! # async fn demo() -> Result<(), camtrace_lab::LabError> {
//! let lab = camtrace_lab::Lab::start(camtrace_lab::LabConfig {
//!     devices: 40,
//!     ..Default::default()
//! })
//! .await?;
//! for d in &lab.manifest().devices {
//!     println!("{} {:?} {} {:?}", d.target, d.brand, d.model, d.ports);
//! }
//! lab.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! Every device gets its own IPv4 address (127.x on loopback, or a 198.18.0.0/15 address inside a
//! private network namespace with `netns: true`), its own TCP listeners (HTTP, RTSP, vendor ports)
//! and UDP discovery responders (SADP, DHIP, Dahua binary, WS-Discovery, SSDP, mDNS) answering
//! unicast probes (and, in netns mode, multicast/broadcast probes as on a LAN).

pub mod device;
pub mod identity;
pub mod manifest;
pub mod netns;
pub mod personality;
mod proto;

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

pub use ipnet::Ipv4Net;
pub use manifest::{Manifest, ManifestDevice, NetnsInfo, ServicePort};
pub use personality::{Personality, TcpKind, UdpKind};

/// Errors of the lab.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    #[error("invalid personality table: {0}")]
    Personality(String),
    #[error("unknown personality {0:?} (known: {1})")]
    UnknownPersonality(String, String),
    #[error(
        "range {range} has {hosts} usable addresses, fewer than the {devices} devices asked for"
    )]
    RangeTooSmall {
        range: Ipv4Net,
        hosts: u64,
        devices: usize,
    },
    #[error(
        "loopback mode needs a range inside 127.0.0.0/8 (got {0}); use --netns for other ranges"
    )]
    NotLoopback(Ipv4Net),
    #[error("netns mode needs a range inside 198.18.0.0/15 or 169.254.0.0/16 (got {0})")]
    NetnsRange(Ipv4Net),
    #[error("network namespace mode needs root (CAP_NET_ADMIN): {0}")]
    NeedRoot(String),
    #[error("network namespace setup failed: {0}")]
    Netns(String),
    #[error("cannot bind {addr}: {source}")]
    Bind {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

/// Login that protected routes (HTTP Digest/Basic, RTSP, ONVIF WS-UsernameToken) accept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

/// Lab configuration.
#[derive(Debug, Clone)]
pub struct LabConfig {
    /// Address range. Default 127.20.0.0/16 (loopback) or 198.18.0.0/16 with `netns`.
    pub range: Option<Ipv4Net>,
    /// Number of devices.
    pub devices: usize,
    /// Seed: same seed, same estate (addresses, personalities, models, serials, MACs).
    pub seed: u64,
    /// Offset added to a port that cannot be bound (privileged or in use): 80 → 10080.
    pub port_fallback_offset: u16,
    /// Always move ports below 1024 up by `port_fallback_offset`, even when they could be bound.
    pub force_high_ports: bool,
    /// Restrict the estate to these personality ids (each at least once when `devices` allows,
    /// the rest by weight). None: all built-in personalities.
    pub mix: Option<Vec<String>>,
    /// Replace the built-in personality table.
    pub personalities: Option<Vec<Personality>>,
    /// Run devices inside a private network namespace with a bridge (needs root).
    pub netns: bool,
    /// Credentials accepted by the devices; None: protected resources always answer 401, and
    /// ONVIF GetDeviceInformation is open.
    pub credentials: Option<Credentials>,
    /// Maximum concurrent TCP connections over the whole lab.
    pub max_connections: usize,
}

impl Default for LabConfig {
    fn default() -> Self {
        Self {
            range: None,
            devices: 40,
            seed: 1,
            port_fallback_offset: 10000,
            force_high_ports: false,
            mix: None,
            personalities: None,
            netns: false,
            credentials: None,
            max_connections: 8192,
        }
    }
}

/// Default loopback range.
pub const DEFAULT_RANGE: &str = "127.20.0.0/16";
/// Default range inside a network namespace (RFC 2544 benchmark range, never routed).
pub const DEFAULT_NETNS_RANGE: &str = "198.18.0.0/16";

/// Entry point.
pub struct Lab;

/// A running lab. Dropping it without [`LabHandle::shutdown`] stops the listeners too (they are
/// cancelled) but a network namespace is only removed by `shutdown` or by the drop guard.
pub struct LabHandle {
    manifest: Manifest,
    cancel: CancellationToken,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    netns: Option<netns::NetnsGuard>,
}

impl Lab {
    /// Start a lab: choose addresses and personalities from the seed, bind every listener, spawn
    /// the responders on the current tokio runtime, and return the manifest of what is running.
    pub async fn start(cfg: LabConfig) -> Result<LabHandle, LabError> {
        raise_nofile_limit();
        let range = match cfg.range {
            Some(r) => r,
            None if cfg.netns => DEFAULT_NETNS_RANGE
                .parse()
                .map_err(|_| LabError::Netns("bad default range".into()))?,
            None => DEFAULT_RANGE
                .parse()
                .map_err(|_| LabError::Netns("bad default range".into()))?,
        };
        let loopback: Ipv4Net = "127.0.0.0/8"
            .parse()
            .map_err(|_| LabError::Netns("x".into()))?;
        if !cfg.netns && !loopback.contains(&range) {
            return Err(LabError::NotLoopback(range));
        }
        if cfg.netns {
            let bench: Ipv4Net = "198.18.0.0/15"
                .parse()
                .map_err(|_| LabError::Netns("x".into()))?;
            let ll: Ipv4Net = "169.254.0.0/16"
                .parse()
                .map_err(|_| LabError::Netns("x".into()))?;
            if !bench.contains(&range) && !ll.contains(&range) {
                return Err(LabError::NetnsRange(range));
            }
        }
        let all = match &cfg.personalities {
            Some(p) => {
                for x in p {
                    x.validate()?;
                }
                p.clone()
            }
            None => personality::builtin()?,
        };
        let chosen: Vec<Arc<Personality>> = match &cfg.mix {
            None => all.into_iter().map(Arc::new).collect(),
            Some(ids) => {
                let mut v = Vec::new();
                for id in ids {
                    match all.iter().find(|p| &p.id == id) {
                        Some(p) => v.push(Arc::new(p.clone())),
                        None => {
                            return Err(LabError::UnknownPersonality(
                                id.clone(),
                                all.iter()
                                    .map(|p| p.id.as_str())
                                    .collect::<Vec<_>>()
                                    .join(", "),
                            ))
                        }
                    }
                }
                v
            }
        };
        if chosen.is_empty() {
            return Err(LabError::Personality("no personality selected".into()));
        }

        let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
        // In netns mode the first two host addresses are reserved (scanner side, spare).
        let reserved: u32 = if cfg.netns { 2 } else { 0 };
        let addrs = pick_addresses(range, cfg.devices, reserved, &mut rng)?;

        // Each personality once (when there is room), then by weight; order shuffled.
        let mut assign: Vec<Arc<Personality>> = Vec::with_capacity(cfg.devices);
        for p in chosen.iter().take(cfg.devices) {
            assign.push(p.clone());
        }
        let total_w: u32 = chosen.iter().map(|p| p.weight.max(1)).sum();
        while assign.len() < cfg.devices {
            let mut x = rng.gen_range(0..total_w);
            for p in &chosen {
                let w = p.weight.max(1);
                if x < w {
                    assign.push(p.clone());
                    break;
                }
                x -= w;
            }
        }
        assign.shuffle(&mut rng);

        let mask = range.netmask();
        let gateway = Ipv4Addr::from(u32::from(range.network()).saturating_add(1));
        let mut plans = Vec::with_capacity(cfg.devices);
        for (ip, p) in addrs.iter().zip(assign) {
            plans.push(device::DevicePlan::new(p, *ip, mask, gateway, &mut rng));
        }

        let netns_guard = if cfg.netns {
            let hosts: Vec<(Ipv4Addr, [u8; 6])> =
                plans.iter().map(|p| (p.ip, p.identity.mac)).collect();
            Some(netns::NetnsGuard::create(range, &hosts).await?)
        } else {
            None
        };

        let bind_opts = device::BindOptions {
            fallback_offset: cfg.port_fallback_offset,
            force_high: cfg.force_high_ports,
            multicast: cfg.netns,
        };
        // Sockets are created inside the namespace (if any) and keep it for their lifetime.
        let bound = {
            let ns_path = netns_guard.as_ref().map(|g| g.devices_ns_path());
            tokio::task::spawn_blocking(move || -> Result<Vec<device::BoundDevice>, LabError> {
                let run = move || {
                    plans
                        .into_iter()
                        .map(|p| p.bind(&bind_opts))
                        .collect::<Result<Vec<_>, _>>()
                };
                match ns_path {
                    Some(path) => netns::run_in_netns(&path, run)?,
                    None => run(),
                }
            })
            .await
            .map_err(|e| LabError::Netns(format!("bind task failed: {e}")))??
        };

        let cancel = CancellationToken::new();
        let conn_limit = Arc::new(Semaphore::new(cfg.max_connections.max(16)));
        let creds = cfg.credentials.clone().map(Arc::new);
        let mut tasks = Vec::new();
        let mut devices = Vec::with_capacity(bound.len());
        for b in bound {
            devices.push(b.manifest_entry());
            tasks.extend(b.spawn(cancel.clone(), conn_limit.clone(), creds.clone())?);
        }
        devices.sort_by_key(|d| d.target.parse::<Ipv4Addr>().map(u32::from).unwrap_or(0));
        debug!(devices = devices.len(), tasks = tasks.len(), "lab started");
        let manifest = Manifest {
            range: range.to_string(),
            seed: cfg.seed,
            netns: netns_guard.as_ref().map(|g| g.info()),
            devices,
        };
        Ok(LabHandle {
            manifest,
            cancel,
            tasks,
            netns: netns_guard,
        })
    }
}

impl LabHandle {
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Name of the namespace a scanner should run in to reach the devices (netns mode).
    pub fn client_netns(&self) -> Option<&str> {
        self.netns.as_ref().map(|g| g.client_ns())
    }

    /// Run a blocking closure (e.g. create a socket) inside the scanner-side namespace.
    pub fn run_in_client_netns<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, LabError> {
        match &self.netns {
            Some(g) => netns::run_in_netns(&g.client_ns_path(), f),
            None => Ok(f()),
        }
    }

    /// Stop every listener, wait for the tasks, remove the namespaces.
    pub async fn shutdown(mut self) {
        self.cancel.cancel();
        for t in self.tasks.drain(..) {
            let _ = tokio::time::timeout(Duration::from_secs(2), t).await;
        }
        if let Some(g) = self.netns.take() {
            g.remove().await;
        }
    }
}

impl Drop for LabHandle {
    fn drop(&mut self) {
        self.cancel.cancel();
        for t in &self.tasks {
            t.abort();
        }
    }
}

fn pick_addresses(
    range: Ipv4Net,
    n: usize,
    reserved: u32,
    rng: &mut ChaCha8Rng,
) -> Result<Vec<Ipv4Addr>, LabError> {
    let base = u32::from(range.network());
    let size: u64 = 1u64 << (32 - u32::from(range.prefix_len()));
    // Skip the network address, the broadcast address and the reserved ones.
    let (first, last) = if size <= 2 {
        (0u64, size)
    } else {
        (1 + u64::from(reserved), size - 1)
    };
    let hosts = last.saturating_sub(first);
    if (n as u64) > hosts {
        return Err(LabError::RangeTooSmall {
            range,
            hosts,
            devices: n,
        });
    }
    let idx = rand::seq::index::sample(rng, hosts as usize, n);
    let mut v: Vec<Ipv4Addr> = idx
        .into_iter()
        .map(|i| Ipv4Addr::from(base + (first + i as u64) as u32))
        .collect();
    v.sort();
    Ok(v)
}

/// Raise RLIMIT_NOFILE to the hard limit (a lab of 1000 devices holds ~8000 sockets).
pub fn raise_nofile_limit() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(n) => debug!(limit = n, "RLIMIT_NOFILE"),
        Err(e) => warn!("cannot raise RLIMIT_NOFILE: {e}"),
    }
}
