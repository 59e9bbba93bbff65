//! End-to-end probes against small tokio servers on 127.x loopback addresses written here.

use camtrace_model::ObservationKind;
use camtrace_probe::{scan_collect, Credential, ScanConfig, TargetSet, UdpProto};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};

fn base() -> String {
    // a per-process /24 under 127.213/16 so parallel test binaries do not collide
    format!("127.213.{}", std::process::id() % 200 + 20)
}

async fn listen(addr: String) -> Option<TcpListener> {
    match TcpListener::bind(&addr).await {
        Ok(l) => Some(l),
        Err(e) => {
            eprintln!("SKIP: cannot bind {addr}: {e}");
            if std::env::var("CAMTRACE_TEST_REQUIRE_ALL").as_deref() == Ok("1") {
                panic!("cannot bind {addr}: {e}");
            }
            None
        }
    }
}

async fn read_request(s: &mut TcpStream) -> Option<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..p]).to_string();
            let clen = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                })
                .unwrap_or(0);
            let mut body = buf[p + 4..].to_vec();
            while body.len() < clen {
                let n = s.read(&mut chunk).await.ok()?;
                if n == 0 {
                    break;
                }
                body.extend_from_slice(&chunk[..n]);
            }
            return Some((head, body));
        }
        let n = s.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn resp(status: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut r = format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in headers {
        r.push_str(&format!("{k}: {v}\r\n"));
    }
    r.push_str("\r\n");
    let mut v = r.into_bytes();
    v.extend_from_slice(body);
    v
}

const FAVICON: &[u8] = b"\x00\x00\x01\x00fake-icon-bytes";

/// A Hikvision-like web server: keep-alive, redirect, favicon, ISAPI 401 with realm.
async fn hik_http(l: TcpListener) {
    loop {
        let Ok((mut s, _)) = l.accept().await else {
            return;
        };
        tokio::spawn(async move {
            while let Some((head, _)) = read_request(&mut s).await {
                let path = head.split_whitespace().nth(1).unwrap_or("").to_string();
                let r = match path.as_str() {
                    "/" => resp("302 Found", &[("Server", "App-webs/"), ("Location", "/doc/page/login.asp")], b""),
                    "/doc/page/login.asp" => resp(
                        "200 OK",
                        &[("Server", "App-webs/"), ("Content-Type", "text/html")],
                        b"<html><head><title>Camera Login</title></head><body>doc/page/login.asp</body></html>",
                    ),
                    "/favicon.ico" => resp("200 OK", &[("Server", "App-webs/")], FAVICON),
                    "/ISAPI/System/deviceInfo" => resp(
                        "401 Unauthorized",
                        &[("Server", "App-webs/"), ("WWW-Authenticate", "Digest realm=\"hikvision\", nonce=\"x\"")],
                        b"",
                    ),
                    _ => resp("404 Not Found", &[("Server", "App-webs/")], b"nope"),
                };
                if s.write_all(&r).await.is_err() {
                    return;
                }
            }
        });
    }
}

async fn rtsp(l: TcpListener) {
    loop {
        let Ok((mut s, _)) = l.accept().await else {
            return;
        };
        tokio::spawn(async move {
            while let Some((head, _)) = read_request(&mut s).await {
                let cseq = head
                    .lines()
                    .find_map(|l| l.strip_prefix("CSeq: "))
                    .unwrap_or("0")
                    .to_string();
                let r = if head.starts_with("OPTIONS") {
                    format!("RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\nPublic: OPTIONS, DESCRIBE, SETUP, PLAY\r\nServer: Dahua Rtsp Server\r\n\r\n")
                } else {
                    format!("RTSP/1.0 401 Unauthorized\r\nCSeq: {cseq}\r\nWWW-Authenticate: Basic realm=\"device\"\r\n\r\n")
                };
                if s.write_all(r.as_bytes()).await.is_err() {
                    return;
                }
            }
        });
    }
}

async fn banner(l: TcpListener, bytes: &'static [u8]) {
    loop {
        let Ok((mut s, _)) = l.accept().await else {
            return;
        };
        let _ = s.write_all(bytes).await;
    }
}

async fn sadp(sock: UdpSocket) {
    let mut buf = [0u8; 2048];
    loop {
        let Ok((n, from)) = sock.recv_from(&mut buf).await else {
            return;
        };
        let req = String::from_utf8_lossy(&buf[..n]);
        if req.contains("<Types>inquiry</Types>") {
            let reply = "<?xml version=\"1.0\"?><ProbeMatch><Uuid>1</Uuid><Types>inquiry</Types><DeviceDescription>DS-2CD2143G0-I</DeviceDescription><OEMInfo>N/A</OEMInfo><MAC>44-19-b6-01-02-03</MAC></ProbeMatch>";
            let _ = sock.send_to(reply.as_bytes(), from).await;
        }
    }
}

fn tls_acceptor() -> tokio_rustls::TlsAcceptor {
    let mut params = rcgen::CertificateParams::new(vec!["nvr.local".to_string()]).unwrap();
    let mut dn = rcgen::DistinguishedName::new();
    dn.push(rcgen::DnType::CommonName, "www.hikvision.com");
    dn.push(rcgen::DnType::OrganizationName, "HIKVISION");
    params.distinguished_name = dn;
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    let der_key = rustls::pki_types::PrivateKeyDer::try_from(key.serialize_der()).unwrap();
    let cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert.der().clone()], der_key)
    .unwrap();
    tokio_rustls::TlsAcceptor::from(Arc::new(cfg))
}

/// HTTPS server + ONVIF device service that requires a WS-UsernameToken for admin/secret.
async fn https_onvif(l: TcpListener, acceptor: tokio_rustls::TlsAcceptor) {
    loop {
        let Ok((s, _)) = l.accept().await else { return };
        let acc = acceptor.clone();
        tokio::spawn(async move {
            let Ok(mut s) = acc.accept(s).await else {
                return;
            };
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            loop {
                let n = match s.read(&mut chunk).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                buf.extend_from_slice(&chunk[..n]);
                if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&buf[..p]).to_string();
                    buf.drain(..p + 4);
                    let r = if head.starts_with("GET / ") {
                        resp("200 OK", &[("Server", "DNVRS-Webs")], b"<title>NVR</title>")
                    } else {
                        resp("404 Not Found", &[], b"")
                    };
                    if s.write_all(&r).await.is_err() {
                        return;
                    }
                }
            }
        });
    }
}

async fn onvif_plain(l: TcpListener) {
    loop {
        let Ok((mut s, _)) = l.accept().await else {
            return;
        };
        tokio::spawn(async move {
            while let Some((head, body)) = read_request(&mut s).await {
                let body = String::from_utf8_lossy(&body).to_string();
                let r = if head.starts_with("POST /onvif/device_service") {
                    if body.contains("<wsse:Username>admin</wsse:Username>")
                        && body.contains("PasswordDigest")
                        && !body.contains("secret")
                    {
                        resp(
                            "200 OK",
                            &[("Content-Type", "application/soap+xml")],
                            br#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:tds="http://www.onvif.org/ver10/device/wsdl"><s:Body><tds:GetDeviceInformationResponse><tds:Manufacturer>UNIVIEW</tds:Manufacturer><tds:Model>IPC2122</tds:Model><tds:FirmwareVersion>V1</tds:FirmwareVersion><tds:SerialNumber>S1</tds:SerialNumber><tds:HardwareId>H</tds:HardwareId></tds:GetDeviceInformationResponse></s:Body></s:Envelope>"#,
                        )
                    } else {
                        resp("400 Bad Request", &[("Content-Type", "application/soap+xml")], b"<s:Envelope><s:Body><s:Fault>NotAuthorized</s:Fault></s:Body></s:Envelope>")
                    }
                } else {
                    resp("200 OK", &[("Server", "nginx")], b"<title>Web</title>")
                };
                if s.write_all(&r).await.is_err() {
                    return;
                }
            }
        });
    }
}

fn quick_cfg(ports: &[u16]) -> ScanConfig {
    ScanConfig {
        ports: ports.to_vec(),
        rate: 2000.0,
        udp_wait: Duration::from_millis(400),
        banner_wait: Duration::from_millis(300),
        connect_timeout: Duration::from_millis(500),
        io_timeout: Duration::from_secs(2),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scan_finds_every_protocol_on_loopback_servers() {
    let b = base();
    let (a1, a2, a3) = (format!("{b}.1"), format!("{b}.2"), format!("{b}.3"));
    let Some(http) = listen(format!("{a1}:80")).await else {
        return;
    };
    let Some(rt) = listen(format!("{a1}:554")).await else {
        return;
    };
    let Some(sdk) = listen(format!("{a1}:8000")).await else {
        return;
    };
    let Some(tls) = listen(format!("{a2}:443")).await else {
        return;
    };
    let Some(onv) = listen(format!("{a2}:80")).await else {
        return;
    };
    let udp = UdpSocket::bind(format!("{a1}:37020")).await.unwrap();
    tokio::spawn(hik_http(http));
    tokio::spawn(rtsp(rt));
    tokio::spawn(banner(
        sdk,
        b"\x00\x00\x00\x10\x00\x00\x00\x1e\x00\x00\x00\x1e\x00\x00\x00\x00",
    ));
    tokio::spawn(https_onvif(tls, tls_acceptor()));
    tokio::spawn(onvif_plain(onv));
    tokio::spawn(sadp(udp));

    let mut cfg = quick_cfg(&[80, 443, 554, 8000]);
    cfg.udp_protos = vec![UdpProto::Sadp, UdpProto::WsDiscovery];
    cfg.credentials = vec![
        Credential {
            user: "root".into(),
            password: "wrong".into(),
        },
        Credential {
            user: "admin".into(),
            password: "secret".into(),
        },
    ];
    let targets = TargetSet::parse(&[format!("{b}.1-3")], &[]).unwrap();
    let (obs, summary) = scan_collect(&cfg, &targets).await.unwrap();
    let json: Vec<String> = obs
        .iter()
        .map(|o| serde_json::to_string(o).unwrap())
        .collect();
    let all = json.join("\n");
    assert!(
        !all.contains("secret"),
        "credentials never appear in observations"
    );
    assert_eq!(summary.hosts_up, 2, "{all}");
    assert!(
        obs.iter().all(|o| o.target != a3),
        "the silent host is not reported"
    );
    let on = |t: &str| {
        obs.iter()
            .filter(move |o| o.target == t)
            .map(|o| &o.kind)
            .collect::<Vec<_>>()
    };
    let h1 = on(&a1);
    // HTTP: redirect followed, title, favicon md5, ISAPI realm
    assert!(h1.iter().any(|k| matches!(k, ObservationKind::Http { path: Some(p), status: Some(302), headers, .. } if p == "/" && headers.get("Server").map(String::as_str) == Some("App-webs/"))), "{all}");
    assert!(h1.iter().any(|k| matches!(k, ObservationKind::Http { path: Some(p), title: Some(t), .. } if p == "/doc/page/login.asp" && t == "Camera Login")), "{all}");
    let md5 = format!("{:x}", md5_of(FAVICON));
    assert!(
        h1.iter()
            .any(|k| matches!(k, ObservationKind::Http { favicon_md5: Some(m), .. } if *m == md5)),
        "{all}"
    );
    assert!(h1.iter().any(|k| matches!(k, ObservationKind::Http { path: Some(p), status: Some(401), headers, .. } if p == "/ISAPI/System/deviceInfo" && headers.get("WWW-Authenticate").is_some_and(|v| v.contains("hikvision")))), "{all}");
    // RTSP merged OPTIONS + DESCRIBE
    assert!(h1.iter().any(|k| matches!(k, ObservationKind::Rtsp { port: Some(554), status: Some(401), headers } if headers.get("Server").map(String::as_str) == Some("Dahua Rtsp Server") && headers.contains_key("WWW-Authenticate"))), "{all}");
    // banner on the SDK port, escaped losslessly
    assert!(h1.iter().any(|k| matches!(k, ObservationKind::Port { port: 8000, banner: Some(b), .. } if b == "\\x00\\x00\\x00\\x10\\x00\\x00\\x00\\x1e\\x00\\x00\\x00\\x1e\\x00\\x00\\x00\\x00")), "{all}");
    // SADP unicast reply
    assert!(
        h1.iter().any(
            |k| matches!(k, ObservationKind::Sadp { payload } if payload.contains("DS-2CD2143G0-I"))
        ),
        "{all}"
    );
    let h2 = on(&a2);
    assert!(h2.iter().any(|k| matches!(k, ObservationKind::Tls { port: Some(443), subject, .. } if subject == "O=HIKVISION,CN=www.hikvision.com")), "{all}");
    assert!(h2.iter().any(|k| matches!(k, ObservationKind::Http { port: Some(443), tls: Some(true), headers, .. } if headers.get("Server").map(String::as_str) == Some("DNVRS-Webs"))), "{all}");
    assert!(h2.iter().any(|k| matches!(k, ObservationKind::OnvifDeviceInfo { manufacturer, .. } if manufacturer == "UNIVIEW")), "{all}");
    // every observation is in the interchange format
    for l in &json {
        camtrace_model::Observation::from_json_line(l).unwrap();
    }
}

fn md5_of(b: &[u8]) -> md5_hex::Hex {
    md5_hex::Hex(b.to_vec())
}

mod md5_hex {
    pub struct Hex(pub Vec<u8>);
    impl std::fmt::LowerHex for Hex {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            use md5::Digest;
            for b in md5::Md5::digest(&self.0) {
                write!(f, "{b:02x}")?;
            }
            Ok(())
        }
    }
}

#[tokio::test]
async fn scope_and_size_guards_refuse_before_sending() {
    let cfg = ScanConfig {
        scope: Some(camtrace_probe::Scope::parse_items(&["127.213.0.0/16".into()]).unwrap()),
        ..quick_cfg(&[80])
    };
    let t = TargetSet::parse(&["127.213.1.1".into(), "127.214.0.0/30".into()], &[]).unwrap();
    let e = scan_collect(&cfg, &t).await.unwrap_err().to_string();
    assert!(e.contains("127.214.0.0/30"), "{e}");
    let big = TargetSet::parse(&["127.0.0.0/8".into()], &[]).unwrap();
    let e = scan_collect(&quick_cfg(&[80]), &big)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("--max-hosts") && e.contains("--force"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_slash_24_is_fast_and_fd_bounded() {
    let b = format!("127.214.{}", std::process::id() % 200 + 20);
    let mut cfg = quick_cfg(&[80, 554, 8000, 37777]);
    cfg.rate = 20000.0;
    cfg.max_connections = Some(16);
    cfg.udp_wait = Duration::from_millis(100);
    let t = TargetSet::parse(&[format!("{b}.0/24")], &[]).unwrap();
    let start = std::time::Instant::now();
    let (obs, s) = scan_collect(&cfg, &t).await.unwrap();
    assert!(obs.is_empty());
    assert_eq!(s.hosts_targeted, 256);
    assert_eq!(s.tcp_connects, 256 * 4);
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
    let _ = SocketAddr::new(IpAddr::from([127, 0, 0, 1]), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipv6_and_unknown_ports_fall_back_to_http() {
    // an HTTP server on an arbitrary port of ::1: silent on connect, so the scanner tries HTTP
    let l = match TcpListener::bind("[::1]:0").await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("SKIP: no IPv6 loopback: {e}");
            return;
        }
    };
    let port = l.local_addr().unwrap().port();
    tokio::spawn(onvif_plain(l));
    let mut cfg = quick_cfg(&[port]);
    cfg.udp = false;
    let t = TargetSet::parse(&["::1".into()], &[]).unwrap();
    let (obs, _) = scan_collect(&cfg, &t).await.unwrap();
    assert!(obs.iter().all(|o| o.target == "::1"));
    assert!(
        obs.iter().any(|o| matches!(&o.kind, ObservationKind::Http { port: Some(p), title: Some(t), .. } if *p == port && t == "Web")),
        "{obs:?}"
    );
    assert!(obs.iter().any(|o| matches!(&o.kind, ObservationKind::Port { port: p, protocol: Some(pr), .. } if *p == port && pr == "http")));
}
