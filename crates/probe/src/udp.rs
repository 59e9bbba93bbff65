//! UDP discovery: unicast probes to every target (works on loopback and across routers where the
//! protocols allow it) and multicast/broadcast discovery on one chosen interface.
//!
//! One socket per protocol and address family serves every target; a receiver task per socket
//! keys replies by sender address. Datagrams are capped at 64 KiB, replies per sender are capped.

use crate::conn::Stats;
use crate::rate::RateLimiter;
use crate::replies::{udp_reply, UdpProto};
use camtrace_model::ObservationKind;
use socket2::{Domain, Protocol, Socket, Type};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::UdpSocket;
use tokio::task::JoinSet;

/// Replies kept per sender (a device answering in a loop cannot fill memory).
pub const MAX_REPLIES_PER_HOST: usize = 32;
/// Distinct senders kept.
pub const MAX_SENDERS: usize = 1 << 20;

pub type Replies = HashMap<IpAddr, Vec<(UdpProto, ObservationKind)>>;

#[derive(Debug, thiserror::Error)]
pub enum UdpError {
    #[error("interface `{0}` not found or has no IPv4 address")]
    NoInterface(String),
    #[error("socket: {0}")]
    Io(#[from] std::io::Error),
}

fn make_socket(bind: SocketAddr, reuse: bool) -> std::io::Result<Socket> {
    let domain = if bind.is_ipv4() {
        Domain::IPV4
    } else {
        Domain::IPV6
    };
    let s = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP))?;
    if reuse {
        s.set_reuse_address(true)?;
        #[cfg(unix)]
        s.set_reuse_port(true)?;
    }
    if !bind.is_ipv4() {
        s.set_only_v6(true)?;
    }
    let _ = s.set_recv_buffer_size(4 << 20);
    s.set_nonblocking(true)?;
    s.bind(&bind.into())?;
    Ok(s)
}

fn to_tokio(s: Socket) -> std::io::Result<UdpSocket> {
    UdpSocket::from_std(s.into())
}

type Store = Arc<Mutex<Replies>>;

fn store_reply(
    store: &Store,
    from: IpAddr,
    proto: UdpProto,
    data: &[u8],
    accept: &(dyn Fn(IpAddr) -> bool + Send + Sync),
    stats: &Stats,
) {
    if !accept(from) {
        tracing::debug!(%from, proto = proto.name(), "reply from an address outside the targets/scope ignored");
        return;
    }
    let kinds = udp_reply(proto, data);
    if kinds.is_empty() {
        return;
    }
    stats.udp_replies.fetch_add(1, Ordering::Relaxed);
    let Ok(mut g) = store.lock() else { return };
    if g.len() >= MAX_SENDERS && !g.contains_key(&from) {
        return;
    }
    let e = g.entry(from).or_default();
    for k in kinds {
        if e.len() < MAX_REPLIES_PER_HOST && !e.iter().any(|(p, old)| *p == proto && *old == k) {
            e.push((proto, k));
        }
    }
}

fn spawn_receiver(
    set: &mut JoinSet<()>,
    sock: Arc<UdpSocket>,
    proto: UdpProto,
    store: Store,
    accept: Arc<dyn Fn(IpAddr) -> bool + Send + Sync>,
    stats: Arc<Stats>,
    ignore_from: Vec<IpAddr>,
) {
    set.spawn(async move {
        let mut buf = vec![0u8; 65536];
        loop {
            match sock.recv_from(&mut buf).await {
                Ok((n, from)) => {
                    if ignore_from.contains(&from.ip()) {
                        continue;
                    }
                    store_reply(&store, from.ip(), proto, &buf[..n], accept.as_ref(), &stats);
                }
                Err(e) => {
                    // ICMP port unreachable surfaces as ConnectionRefused on Linux: normal.
                    if e.kind() != std::io::ErrorKind::ConnectionRefused {
                        tracing::debug!(error = %e, proto = proto.name(), "udp receive error");
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                }
            }
        }
    });
}

/// Send every discovery request to every target (unicast), listen `wait` after the last send.
/// `accept` filters senders (targets, or scope).
pub async fn unicast_sweep(
    targets: impl Iterator<Item = IpAddr>,
    protos: &[UdpProto],
    rate: &RateLimiter,
    wait: Duration,
    accept: Arc<dyn Fn(IpAddr) -> bool + Send + Sync>,
    stats: Arc<Stats>,
) -> Result<Replies, UdpError> {
    let sweep = Sweep::start(targets, protos, rate, accept, stats).await?;
    if sweep.sent_any() {
        tokio::time::sleep(wait).await;
    }
    Ok(sweep.finish())
}

/// A running unicast sweep: receivers collecting replies by sender while requests go out.
pub struct Sweep {
    store: Store,
    recv: Mutex<JoinSet<()>>,
    v4: Vec<(UdpProto, Arc<UdpSocket>)>,
    protos: Vec<UdpProto>,
    accept: Arc<dyn Fn(IpAddr) -> bool + Send + Sync>,
    stats: Arc<Stats>,
    /// Whether any request went out.
    sent_any: std::sync::atomic::AtomicBool,
    /// When the last request went out (`None` while sending).
    sent: tokio::sync::watch::Sender<Option<tokio::time::Instant>>,
    /// How many targets have had their requests sent (in target order).
    targets_sent: tokio::sync::watch::Sender<u64>,
}

impl Sweep {
    /// Replies collected so far from `ip` (removed from the sweep).
    pub fn take(&self, ip: IpAddr) -> Vec<(UdpProto, ObservationKind)> {
        self.store
            .lock()
            .ok()
            .and_then(|mut g| g.remove(&ip))
            .unwrap_or_default()
    }

    /// Add replies collected elsewhere (multicast discovery).
    pub fn merge(&self, more: Replies) {
        if let Ok(mut g) = self.store.lock() {
            for (ip, v) in more {
                let e = g.entry(ip).or_default();
                for item in v {
                    if !e.contains(&item) && e.len() < MAX_REPLIES_PER_HOST {
                        e.push(item);
                    }
                }
            }
        }
    }

    /// Stop listening; return what was not taken.
    pub fn finish(&self) -> Replies {
        if let Ok(mut r) = self.recv.lock() {
            r.abort_all();
        }
        self.store
            .lock()
            .map(|mut g| std::mem::take(&mut *g))
            .unwrap_or_default()
    }

    /// Create the sockets and receivers and send every request to every target.
    pub async fn start(
        targets: impl Iterator<Item = IpAddr>,
        protos: &[UdpProto],
        rate: &RateLimiter,
        accept: Arc<dyn Fn(IpAddr) -> bool + Send + Sync>,
        stats: Arc<Stats>,
    ) -> Result<Sweep, UdpError> {
        let sweep = Sweep::open(protos, accept, stats)?;
        sweep.send(targets, rate).await;
        Ok(sweep)
    }

    /// Create the sockets and start the receivers; nothing is sent yet (see [`Sweep::send`]).
    pub fn open(
        protos: &[UdpProto],
        accept: Arc<dyn Fn(IpAddr) -> bool + Send + Sync>,
        stats: Arc<Stats>,
    ) -> Result<Sweep, UdpError> {
        let store: Store = Arc::new(Mutex::new(HashMap::new()));
        let mut recv = JoinSet::new();
        let mut v4: Vec<(UdpProto, Arc<UdpSocket>)> = Vec::new();
        for &p in protos {
            let s = Arc::new(to_tokio(make_socket(
                SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)),
                false,
            )?)?);
            spawn_receiver(
                &mut recv,
                s.clone(),
                p,
                store.clone(),
                accept.clone(),
                stats.clone(),
                vec![],
            );
            v4.push((p, s));
        }
        Ok(Sweep {
            store,
            recv: Mutex::new(recv),
            v4,
            protos: protos.to_vec(),
            accept,
            stats,
            sent_any: false.into(),
            sent: tokio::sync::watch::channel(None).0,
            targets_sent: tokio::sync::watch::channel(0).0,
        })
    }

    /// Whether any request went out.
    pub fn sent_any(&self) -> bool {
        self.sent_any.load(Ordering::Relaxed)
    }

    /// Send every discovery request to every target, one rate slot per target. Marks the sweep
    /// sent when done (see [`Sweep::settled`]); call it once.
    pub async fn send(&self, targets: impl Iterator<Item = IpAddr>, rate: &RateLimiter) {
        let requests: Vec<(UdpProto, Vec<u8>)> = self
            .protos
            .iter()
            .filter(|p| **p != UdpProto::Ssdp)
            .map(|p| (*p, p.request("")))
            .collect();
        let mut v6: Option<Vec<(UdpProto, Arc<UdpSocket>)>> = None;
        for ip in targets {
            rate.acquire().await;
            let socks: &[(UdpProto, Arc<UdpSocket>)] = if ip.is_ipv4() {
                &self.v4
            } else {
                if v6.is_none() {
                    let mut list = Vec::new();
                    for &p in &self.protos {
                        match make_socket(SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0)), false)
                            .and_then(to_tokio)
                        {
                            Ok(s) => {
                                let s = Arc::new(s);
                                if let Ok(mut recv) = self.recv.lock() {
                                    spawn_receiver(
                                        &mut recv,
                                        s.clone(),
                                        p,
                                        self.store.clone(),
                                        self.accept.clone(),
                                        self.stats.clone(),
                                        vec![],
                                    );
                                }
                                list.push((p, s));
                            }
                            Err(e) => tracing::warn!(error = %e, "no IPv6 UDP socket"),
                        }
                    }
                    v6 = Some(list);
                }
                v6.as_deref().unwrap_or(&[])
            };
            for (p, s) in socks {
                let dest = SocketAddr::new(ip, p.port());
                let msg;
                let data: &[u8] = if *p == UdpProto::Ssdp {
                    msg = p.request(&dest.to_string());
                    &msg
                } else {
                    requests
                        .iter()
                        .find(|(q, _)| q == p)
                        .map(|(_, m)| m.as_slice())
                        .unwrap_or(&[])
                };
                match s.send_to(data, dest).await {
                    Ok(_) => {
                        self.stats.udp_sent.fetch_add(1, Ordering::Relaxed);
                        self.sent_any.store(true, Ordering::Relaxed);
                    }
                    Err(e) => tracing::debug!(%dest, error = %e, "udp send failed"),
                }
            }
            self.targets_sent.send_modify(|n| *n += 1);
        }
        self.mark_sent();
    }

    /// Declare sending over (also when the sending task failed), so waiters stop waiting.
    pub fn mark_sent(&self) {
        self.sent.send_if_modified(|v| {
            if v.is_none() {
                *v = Some(tokio::time::Instant::now());
                true
            } else {
                false
            }
        });
    }

    /// Wait until the requests to the target at `index` (in sending order) have gone out and
    /// `wait` more for its replies, or until the whole sweep has settled, whichever is first. A
    /// host can thus be reported while the sweep still runs through the rest of a large range.
    pub async fn settled_for(&self, index: u64, wait: Duration) {
        let mine = async {
            let mut rx = self.targets_sent.subscribe();
            let _ = rx.wait_for(|n| *n > index).await;
            tokio::time::sleep(wait).await;
        };
        tokio::select! {
            _ = mine => {}
            _ = self.settled(wait) => {}
        }
    }

    /// Wait until every request has gone out and then `wait` more for the replies.
    pub async fn settled(&self, wait: Duration) {
        let mut rx = self.sent.subscribe();
        let at = match rx.wait_for(|v| v.is_some()).await {
            Ok(v) => v.unwrap_or_else(tokio::time::Instant::now),
            Err(_) => tokio::time::Instant::now(),
        };
        tokio::time::sleep_until(at + wait).await;
    }
}

pub fn interface_v4(name: &str) -> Option<Ipv4Addr> {
    if_addrs::get_if_addrs()
        .ok()?
        .into_iter()
        .find_map(|i| match i.addr {
            if_addrs::IfAddr::V4(a) if i.name == name => Some(a.ip),
            _ => None,
        })
}

/// Multicast / broadcast discovery on `iface`: send each request to its group (twice, 250 ms
/// apart, as UDP is lossy), listen on the sending sockets (unicast replies) and on the groups
/// (replies some devices multicast), for `wait`.
pub async fn multicast_discover(
    iface: &str,
    protos: &[UdpProto],
    wait: Duration,
    accept: Arc<dyn Fn(IpAddr) -> bool + Send + Sync>,
    stats: Arc<Stats>,
) -> Result<Replies, UdpError> {
    let local = interface_v4(iface).ok_or_else(|| UdpError::NoInterface(iface.to_string()))?;
    let store: Store = Arc::new(Mutex::new(HashMap::new()));
    let mut recv = JoinSet::new();
    let mut senders = Vec::new();
    for &p in protos {
        let s = make_socket(SocketAddr::from((local, 0)), false)?;
        #[cfg(any(target_os = "linux", target_os = "android"))]
        if let Err(e) = s.bind_device(Some(iface.as_bytes())) {
            tracing::debug!(error = %e, "SO_BINDTODEVICE failed (needs privileges); relying on the source address");
        }
        s.set_multicast_if_v4(&local)?;
        s.set_multicast_loop_v4(false)?;
        s.set_multicast_ttl_v4(1)?;
        s.set_broadcast(true)?;
        let s = Arc::new(to_tokio(s)?);
        spawn_receiver(
            &mut recv,
            s.clone(),
            p,
            store.clone(),
            accept.clone(),
            stats.clone(),
            vec![IpAddr::V4(local)],
        );
        senders.push((p, s));
        // group listener for protocols whose replies may be multicast
        if p != UdpProto::Dahua {
            let group: Ipv4Addr = p.group_v4().parse().unwrap_or(Ipv4Addr::UNSPECIFIED);
            let g = make_socket(SocketAddr::from((Ipv4Addr::UNSPECIFIED, p.port())), true)
                .and_then(|g| {
                    #[cfg(any(target_os = "linux", target_os = "android"))]
                    let _ = g.bind_device(Some(iface.as_bytes()));
                    g.join_multicast_v4(&group, &local)?;
                    Ok(g)
                });
            match g.and_then(to_tokio) {
                Ok(g) => spawn_receiver(
                    &mut recv,
                    Arc::new(g),
                    p,
                    store.clone(),
                    accept.clone(),
                    stats.clone(),
                    vec![IpAddr::V4(local)],
                ),
                Err(e) => {
                    tracing::debug!(error = %e, proto = p.name(), "cannot listen on the group; unicast replies only")
                }
            }
        }
    }
    for round in 0..2 {
        for (p, s) in &senders {
            let group: Ipv4Addr = p.group_v4().parse().unwrap_or(Ipv4Addr::BROADCAST);
            let dest = SocketAddrV4::new(group, p.port());
            let msg = p.request(&dest.to_string());
            match s.send_to(&msg, dest).await {
                Ok(_) => {
                    stats.udp_sent.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => tracing::warn!(%dest, error = %e, "multicast send failed"),
            }
        }
        if round == 0 {
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
    tokio::time::sleep(wait).await;
    recv.abort_all();
    Ok(store
        .lock()
        .map(|mut g| std::mem::take(&mut *g))
        .unwrap_or_default())
}
