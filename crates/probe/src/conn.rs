//! Connection set-up under the global limits: rate tokens, a file-descriptor budget, timeouts,
//! back-off on local resource errors, and outcome counters.

use crate::rate::RateLimiter;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Anything we can speak a protocol over (plain TCP or TLS over TCP).
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send + Sync {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + Sync> Io for T {}

/// An open connection and the file-descriptor permit it holds.
pub struct Conn {
    pub io: Box<dyn Io>,
    pub permit: OwnedSemaphorePermit,
}

impl Conn {
    pub fn new(io: Box<dyn Io>, permit: OwnedSemaphorePermit) -> Self {
        Self { io, permit }
    }
}

#[derive(Debug)]
pub enum Connect {
    Open(TcpStream, OwnedSemaphorePermit),
    /// Refused or reset: the host (or, on loopback, our own kernel) answered.
    Closed,
    /// No route / host unreachable: nobody answered for the address.
    Unreachable,
    Timeout,
    Failed(io::Error),
}

/// Counters for the summary.
#[derive(Debug, Default)]
pub struct Stats {
    pub connects: AtomicU64,
    pub open: AtomicU64,
    pub closed: AtomicU64,
    pub timeouts: AtomicU64,
    pub errors: AtomicU64,
    pub udp_sent: AtomicU64,
    pub udp_replies: AtomicU64,
}

impl Stats {
    pub fn get(c: &AtomicU64) -> u64 {
        c.load(Ordering::Relaxed)
    }
    fn inc(c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }
}

pub struct Dialer {
    pub rate: Arc<RateLimiter>,
    pub fds: Arc<Semaphore>,
    pub connect_timeout: Duration,
    pub stats: Arc<Stats>,
}

fn is_local_resource_error(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE)
            | Some(libc::ENFILE)
            | Some(libc::ENOBUFS)
            | Some(libc::EADDRNOTAVAIL)
            | Some(libc::ENOMEM)
    )
}

impl Dialer {
    /// Connect to `ip:port` once the rate limiter and the descriptor budget allow it. Local
    /// resource errors back off (50 ms, 100 ms, 200 ms) and retry; they also slow the global rate.
    pub async fn connect(&self, ip: IpAddr, port: u16) -> Connect {
        let addr = SocketAddr::new(ip, port);
        let Ok(permit) = self.fds.clone().acquire_owned().await else {
            return Connect::Failed(io::Error::other("scan cancelled"));
        };
        let mut backoff = Duration::from_millis(50);
        for attempt in 0..4 {
            self.rate.acquire().await;
            Stats::inc(&self.stats.connects);
            match tokio::time::timeout(self.connect_timeout, TcpStream::connect(addr)).await {
                Err(_) => {
                    self.rate.record(true, false, false);
                    Stats::inc(&self.stats.timeouts);
                    return Connect::Timeout;
                }
                Ok(Ok(s)) => {
                    self.rate.record(false, false, false);
                    let _ = s.set_nodelay(true);
                    Stats::inc(&self.stats.open);
                    return Connect::Open(s, permit);
                }
                Ok(Err(e)) => match e.kind() {
                    io::ErrorKind::ConnectionRefused => {
                        self.rate.record(false, false, false);
                        Stats::inc(&self.stats.closed);
                        return Connect::Closed;
                    }
                    io::ErrorKind::HostUnreachable | io::ErrorKind::NetworkUnreachable => {
                        self.rate.record(false, false, false);
                        Stats::inc(&self.stats.closed);
                        return Connect::Unreachable;
                    }
                    io::ErrorKind::ConnectionReset => {
                        self.rate.record(false, true, false);
                        Stats::inc(&self.stats.closed);
                        return Connect::Closed;
                    }
                    _ if is_local_resource_error(&e) && attempt < 3 => {
                        self.rate.record(false, false, true);
                        tracing::debug!(%addr, error = %e, "local resource error, backing off");
                        tokio::time::sleep(backoff).await;
                        backoff *= 2;
                    }
                    _ => {
                        self.rate.record(false, false, is_local_resource_error(&e));
                        Stats::inc(&self.stats.errors);
                        return Connect::Failed(e);
                    }
                },
            }
        }
        Stats::inc(&self.stats.errors);
        Connect::Failed(io::Error::other(
            "gave up after repeated local resource errors",
        ))
    }

    /// Connect and wrap into a [`Conn`], mapping every non-open outcome to `None`.
    pub async fn open(&self, ip: IpAddr, port: u16) -> Option<Conn> {
        match self.connect(ip, port).await {
            Connect::Open(s, p) => Some(Conn::new(Box::new(s), p)),
            _ => None,
        }
    }
}

/// Raise the soft RLIMIT_NOFILE to the hard limit; returns the soft limit now in force.
pub fn raise_fd_limit() -> u64 {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(n) => n,
        Err(_) => rlimit::getrlimit(rlimit::Resource::NOFILE)
            .map(|(s, _)| s)
            .unwrap_or(1024),
    }
}

/// How many sockets the scanner may hold at once given the descriptor limit: half of what is
/// left after a reserve (the other half is for everything else in the process, e.g. an
/// in-process lab), at most 4096.
pub fn connection_budget(nofile: u64) -> usize {
    let usable = nofile.saturating_sub(128) / 2;
    usable.clamp(16, 4096) as usize
}
