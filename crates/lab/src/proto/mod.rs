//! Protocol responders.

pub mod auth;
pub mod http;
pub mod onvif;
pub mod rtsp;
pub mod tls;
pub mod udp;

use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::device::Device;
use crate::personality::{TcpKind, TcpService};

/// Idle timeout of a connection.
pub const IDLE: Duration = Duration::from_secs(20);
/// Largest request head accepted.
pub const MAX_HEAD: usize = 16 * 1024;
/// Largest request body accepted.
pub const MAX_BODY: usize = 256 * 1024;

/// The Hikvision SDK port greeting nmap's NULL probe recognises ("Hikvision IPCam control port").
const HIK_SDK_GREETING: [u8; 16] = [0, 0, 0, 0x10, 0, 0, 0, 0x1e, 0, 0, 0, 0x1e, 0, 0, 0, 0];

pub async fn accept_loop(
    l: TcpListener,
    svc: TcpService,
    dev: Arc<Device>,
    cancel: CancellationToken,
    limit: Arc<Semaphore>,
    tls: Option<Arc<rustls::ServerConfig>>,
) {
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    loop {
        let accepted = tokio::select! {
            _ = cancel.cancelled() => return,
            r = l.accept() => r,
        };
        let (stream, _peer) = match accepted {
            Ok(x) => x,
            Err(e) => {
                tracing::debug!("accept: {e}");
                // EMFILE etc.: back off instead of spinning.
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let permit = match limit.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => continue, // over the connection cap: drop it
        };
        let dev = dev.clone();
        let svc = svc.clone();
        let cancel = cancel.clone();
        let port = l.local_addr().map(|a| a.port()).unwrap_or(0);
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let _permit = permit;
            tokio::select! {
                _ = cancel.cancelled() => {}
                _ = handle(stream, svc, dev, port, acceptor) => {}
            }
        });
    }
}

async fn handle(
    mut s: TcpStream,
    svc: TcpService,
    dev: Arc<Device>,
    port: u16,
    tls: Option<tokio_rustls::TlsAcceptor>,
) {
    let _ = s.set_nodelay(true);
    match svc.kind {
        TcpKind::Https => {
            let Some(acc) = tls else { return };
            if let Ok(Ok(t)) = tokio::time::timeout(IDLE, acc.accept(s)).await {
                http::serve(t, dev, svc.kind, port).await;
            }
        }
        TcpKind::Http | TcpKind::Ipp => http::serve(s, dev, svc.kind, port).await,
        TcpKind::Rtsp => rtsp::serve(s, dev).await,
        TcpKind::HikSdk => {
            if s.write_all(&HIK_SDK_GREETING).await.is_err() {
                return;
            }
            // Answer every request frame with the same "not logged in" frame, until idle.
            let mut buf = [0u8; 4096];
            while let Ok(Ok(n)) = tokio::time::timeout(IDLE, s.read(&mut buf)).await {
                if n == 0 || s.write_all(&HIK_SDK_GREETING).await.is_err() {
                    break;
                }
            }
        }
        TcpKind::DahuaDvrip => {
            // DVRIP: 32-byte header frames. A login (0xa0) gets a login reply (0xb0) with a
            // failure code; anything else is ignored, as the real service does.
            let mut buf = [0u8; 4096];
            while let Ok(Ok(n)) = tokio::time::timeout(IDLE, s.read(&mut buf)).await {
                if n == 0 {
                    break;
                }
                if buf[0] == 0xa0 {
                    let mut r = [0u8; 32];
                    r[0] = 0xb0;
                    r[8] = 0x01; // result: failed (bad credentials)
                    r[9] = 0x01;
                    r[10] = 0x00;
                    if s.write_all(&r).await.is_err() {
                        break;
                    }
                }
            }
        }
        TcpKind::Banner => {
            let text = dev.render(svc.banner.as_deref().unwrap_or(""));
            if s.write_all(text.as_bytes()).await.is_err() {
                return;
            }
            let mut buf = [0u8; 1024];
            let _ = tokio::time::timeout(IDLE, s.read(&mut buf)).await;
        }
    }
}

/// Current time in RFC 7231 form.
pub fn http_date() -> String {
    chrono::Utc::now()
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string()
}

/// A fresh 32-hex-digit nonce.
pub fn nonce() -> String {
    use rand::Rng;
    let v: u128 = rand::thread_rng().gen();
    format!("{v:032x}")
}
