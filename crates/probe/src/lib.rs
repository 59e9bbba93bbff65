//! Active discovery: target parsing, rate-limited TCP/HTTP/RTSP/TLS/ONVIF probes and multicast
//! discoveries, producing observations in the `docs/observation-format.md` format.
//!
//! Entry point: [`scan()`] (or [`scan_collect`]) with a [`ScanConfig`] and a [`TargetSet`].
//! Network safety: the scanner sends only to the targets it is given (unicast) and, with
//! `discover_iface`, to the discovery multicast groups on that one interface.

pub mod conn;
pub mod http;
pub mod ports;
pub mod rate;
pub mod replies;
pub mod requests;
pub mod scan;
pub mod targets;
pub mod tls;
pub mod udp;

pub use ports::{default_ports, parse_ports, PortHint, DEFAULT_PING_PORTS, DEFAULT_PORTS};
pub use rate::{AutoTune, RateLimiter};
pub use replies::UdpProto;
pub use requests::{parse_credentials, Credential};
pub use scan::{
    scan, scan_collect, CollectSink, HostReport, Phase, Progress, ScanConfig, ScanError, ScanSink,
    ScanSummary, DEFAULT_HTTP_PATHS,
};
pub use targets::{Count, Membership, Scope, Spec, TargetError, TargetSet};
