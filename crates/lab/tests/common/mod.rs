//! Small blocking/async clients used by the lab tests (loopback only).
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

pub const T: Duration = Duration::from_secs(5);

/// Send `req` and read until EOF, `until` appears, or timeout.
pub async fn tcp_exchange(addr: SocketAddr, req: &[u8], until: Option<&[u8]>) -> Vec<u8> {
    let mut s = tokio::time::timeout(T, TcpStream::connect(addr))
        .await
        .expect("connect timeout")
        .expect("connect");
    if !req.is_empty() {
        s.write_all(req).await.expect("write");
    }
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match tokio::time::timeout(Duration::from_secs(2), s.read(&mut buf)).await {
            Ok(Ok(0)) | Err(_) | Ok(Err(_)) => break,
            Ok(Ok(n)) => {
                out.extend_from_slice(&buf[..n]);
                if let Some(u) = until {
                    if out.windows(u.len()).any(|w| w == u) && complete_http(&out) {
                        break;
                    }
                }
            }
        }
    }
    out
}

/// True once a full HTTP-like message (head + Content-Length body) is in `b`.
fn complete_http(b: &[u8]) -> bool {
    let Some(i) = b.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&b[..i]).to_ascii_lowercase();
    let len = head
        .lines()
        .find_map(|l| {
            l.strip_prefix("content-length:")
                .map(|v| v.trim().parse::<usize>().unwrap_or(0))
        })
        .unwrap_or(0);
    b.len() >= i + 4 + len
}

pub async fn http_get(addr: SocketAddr, path: &str) -> String {
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    String::from_utf8_lossy(&tcp_exchange(addr, req.as_bytes(), None).await).into_owned()
}

pub async fn http_post(addr: SocketAddr, path: &str, ctype: &str, body: &str) -> String {
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    String::from_utf8_lossy(&tcp_exchange(addr, req.as_bytes(), None).await).into_owned()
}

pub async fn udp_exchange(to: SocketAddr, req: &[u8]) -> Option<Vec<u8>> {
    let s = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    for _ in 0..3 {
        s.send_to(req, to).await.expect("send");
        let mut buf = vec![0u8; 65536];
        if let Ok(Ok((n, from))) =
            tokio::time::timeout(Duration::from_millis(700), s.recv_from(&mut buf)).await
        {
            assert_eq!(
                from.ip(),
                to.ip(),
                "reply must come from the device's own address"
            );
            return Some(buf[..n].to_vec());
        }
    }
    None
}

pub fn header<'a>(resp: &'a str, name: &str) -> Vec<&'a str> {
    let head = resp.split("\r\n\r\n").next().unwrap_or("");
    head.lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .filter(|(k, _)| k.trim().eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
        .collect()
}

pub fn body(resp: &str) -> &str {
    resp.split_once("\r\n\r\n").map(|x| x.1).unwrap_or("")
}

pub fn require_all() -> bool {
    std::env::var("CAMTRACE_TEST_REQUIRE_ALL").is_ok_and(|v| v == "1")
}
