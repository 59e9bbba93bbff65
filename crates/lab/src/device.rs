//! One emulated device: its plan (identity, address), its bound sockets, and its running tasks.

use rand::Rng;
use socket2::{Domain, Protocol, Socket, Type};
use std::io::ErrorKind;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::Arc;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::identity::{self, Identity, Vars};
use crate::manifest::{ManifestDevice, ServicePort};
use crate::personality::{Personality, TcpKind, TcpService, UdpKind};
use crate::{proto, Credentials, LabError};

/// A device before its sockets exist.
pub struct DevicePlan {
    pub personality: Arc<Personality>,
    pub identity: Identity,
    pub vars: Vars,
    pub ip: Ipv4Addr,
}

#[derive(Debug, Clone, Copy)]
pub struct BindOptions {
    pub fallback_offset: u16,
    pub force_high: bool,
    /// Also receive multicast/broadcast probes (netns mode).
    pub multicast: bool,
}

/// Everything a responder needs to answer as this device.
pub struct Device {
    pub personality: Arc<Personality>,
    pub identity: Identity,
    pub vars: Vars,
    pub ip: Ipv4Addr,
    pub credentials: Option<Arc<Credentials>>,
}

impl Device {
    pub fn render(&self, tpl: &str) -> String {
        self.vars.render(tpl)
    }
}

pub(crate) struct BoundTcp {
    pub service: TcpService,
    pub listener: std::net::TcpListener,
    pub port: u16,
    pub port_taken: bool,
}

pub(crate) struct BoundUdp {
    pub kind: UdpKind,
    pub unicast: std::net::UdpSocket,
    pub wildcard: Option<std::net::UdpSocket>,
}

pub struct BoundDevice {
    plan: DevicePlan,
    tcp: Vec<BoundTcp>,
    udp: Vec<BoundUdp>,
}

pub fn kind_name(k: TcpKind) -> &'static str {
    match k {
        TcpKind::Http => "http",
        TcpKind::Rtsp => "rtsp",
        TcpKind::HikSdk => "hik-sdk",
        TcpKind::DahuaDvrip => "dahua-dvrip",
        TcpKind::Ipp => "ipp",
        TcpKind::Banner => "banner",
        TcpKind::Https => "https",
    }
}

impl DevicePlan {
    pub fn new(
        p: Arc<Personality>,
        ip: Ipv4Addr,
        mask: Ipv4Addr,
        gateway: Ipv4Addr,
        rng: &mut impl Rng,
    ) -> Self {
        let (identity, mut vars) = identity::generate(&p, rng);
        identity::set_address(&mut vars, ip, mask, gateway);
        DevicePlan {
            personality: p,
            identity,
            vars,
            ip,
        }
    }

    /// Bind every socket (call inside the target namespace, if any).
    pub fn bind(mut self, o: &BindOptions) -> Result<BoundDevice, LabError> {
        let mut tcp = Vec::new();
        for s in self.personality.tcp.clone() {
            let (listener, port, port_taken) = bind_tcp(self.ip, s.port, o)?;
            let name = kind_name(s.kind).replace('-', "_");
            if !self.vars.0.contains_key(&format!("port_{name}")) {
                self.vars.set(&format!("port_{name}"), port.to_string());
            }
            tcp.push(BoundTcp {
                service: s,
                listener,
                port,
                port_taken,
            });
        }
        let mut udp = Vec::new();
        for k in self.personality.udp.clone() {
            match bind_udp(self.ip, k, o) {
                Ok(b) => udp.push(b),
                Err(e) => tracing::warn!("{}: UDP {} not answered: {e}", self.ip, k.port()),
            }
        }
        Ok(BoundDevice {
            plan: self,
            tcp,
            udp,
        })
    }
}

fn tcp_socket(addr: SocketAddrV4) -> std::io::Result<std::net::TcpListener> {
    let s = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP))?;
    s.set_reuse_address(true)?;
    s.set_nonblocking(true)?;
    s.bind(&SocketAddr::V4(addr).into())?;
    s.listen(1024)?;
    Ok(s.into())
}

/// Bind `port` on `ip`, else `port + fallback_offset`, else any port. Returns the listener, the
/// port bound, and whether a port it tried was taken on this address by another program (in
/// use, rather than privileged).
fn bind_tcp(
    ip: Ipv4Addr,
    port: u16,
    o: &BindOptions,
) -> Result<(std::net::TcpListener, u16, bool), LabError> {
    let mut candidates = Vec::new();
    if !(o.force_high && port < 1024) {
        candidates.push(port);
    }
    if let Some(p) = port.checked_add(o.fallback_offset) {
        candidates.push(p);
    }
    candidates.push(0);
    let mut last = None;
    let mut port_taken = false;
    for c in candidates {
        match tcp_socket(SocketAddrV4::new(ip, c)) {
            Ok(l) => {
                let actual = l.local_addr()?.port();
                return Ok((l, actual, port_taken));
            }
            Err(e) if matches!(e.kind(), ErrorKind::PermissionDenied | ErrorKind::AddrInUse) => {
                if e.kind() == ErrorKind::AddrInUse {
                    port_taken = true;
                }
                last = Some(e)
            }
            Err(e) => {
                return Err(LabError::Bind {
                    addr: format!("{ip}:{c}"),
                    source: e,
                })
            }
        }
    }
    Err(LabError::Bind {
        addr: format!("{ip}:{port}"),
        source: last.unwrap_or_else(|| std::io::Error::other("no port")),
    })
}

fn udp_socket(addr: SocketAddrV4) -> std::io::Result<Socket> {
    let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    s.set_reuse_address(true)?;
    s.set_nonblocking(true)?;
    s.bind(&SocketAddr::V4(addr).into())?;
    Ok(s)
}

fn bind_udp(ip: Ipv4Addr, k: UdpKind, o: &BindOptions) -> std::io::Result<BoundUdp> {
    let uni = udp_socket(SocketAddrV4::new(ip, k.port()))?;
    uni.set_broadcast(true)?;
    if let Some(g) = k.group() {
        uni.set_multicast_if_v4(&ip)?;
        if k == UdpKind::Mdns {
            uni.set_multicast_ttl_v4(255)?;
        }
        let _ = g;
    }
    let wildcard = if o.multicast {
        let w = udp_socket(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, k.port()))?;
        if let Some(g) = k.group() {
            w.join_multicast_v4(&g, &ip)?;
        }
        // Only the groups joined on this socket, not every group of the host.
        w.set_multicast_all_v4(false)?;
        Some(w.into())
    } else {
        None
    };
    Ok(BoundUdp {
        kind: k,
        unicast: uni.into(),
        wildcard,
    })
}

impl BoundDevice {
    pub fn manifest_entry(&self) -> ManifestDevice {
        let p = &self.plan.personality;
        let mut ports: Vec<u16> = self.tcp.iter().map(|t| t.port).collect();
        ports.sort_unstable();
        let mut udp_ports: Vec<u16> = self.udp.iter().map(|u| u.kind.port()).collect();
        udp_ports.sort_unstable();
        ManifestDevice {
            target: self.plan.ip.to_string(),
            ports,
            udp_ports,
            services: self
                .tcp
                .iter()
                .map(|t| ServicePort {
                    port: t.port,
                    nominal_port: t.service.port,
                    protocol: kind_name(t.service.kind).to_string(),
                    port_taken: t.port_taken,
                })
                .collect(),
            brand: p.brand.clone(),
            maker: p.maker.clone(),
            model: self.plan.identity.model.clone(),
            firmware: self.plan.identity.firmware.clone(),
            serial: self.plan.identity.serial.clone(),
            device_class: p.class,
            personality: p.id.clone(),
            mac: identity::mac_string(&self.plan.identity.mac, ":", false),
            uuid: self.plan.identity.uuid.clone(),
        }
    }

    /// Register the sockets with the current runtime and start answering.
    pub fn spawn(
        self,
        cancel: CancellationToken,
        limit: Arc<Semaphore>,
        credentials: Option<Arc<Credentials>>,
    ) -> Result<Vec<tokio::task::JoinHandle<()>>, LabError> {
        let dev = Arc::new(Device {
            personality: self.plan.personality,
            identity: self.plan.identity,
            vars: self.plan.vars,
            ip: self.plan.ip,
            credentials,
        });
        let mut tasks = Vec::new();
        let mut tls = None;
        for t in self.tcp {
            let l = tokio::net::TcpListener::from_std(t.listener)?;
            if t.service.kind == TcpKind::Https && tls.is_none() {
                match proto::tls::server_config(&dev) {
                    Ok(c) => tls = Some(c),
                    Err(e) => {
                        tracing::warn!("{}: no TLS on {}: {e}", dev.ip, t.port);
                        continue;
                    }
                }
            }
            let this_tls = if t.service.kind == TcpKind::Https {
                tls.clone()
            } else {
                None
            };
            tasks.push(tokio::spawn(proto::accept_loop(
                l,
                t.service,
                dev.clone(),
                cancel.clone(),
                limit.clone(),
                this_tls,
            )));
        }
        for u in self.udp {
            let uni = Arc::new(tokio::net::UdpSocket::from_std(u.unicast)?);
            tasks.push(tokio::spawn(proto::udp::serve(
                uni.clone(),
                uni.clone(),
                u.kind,
                dev.clone(),
                cancel.clone(),
            )));
            if let Some(w) = u.wildcard {
                let w = Arc::new(tokio::net::UdpSocket::from_std(w)?);
                tasks.push(tokio::spawn(proto::udp::serve(
                    w,
                    uni,
                    u.kind,
                    dev.clone(),
                    cancel.clone(),
                )));
            }
        }
        Ok(tasks)
    }
}
