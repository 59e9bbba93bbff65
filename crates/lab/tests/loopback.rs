//! A lab of ~40 devices on 127.x loopback: every manifest port answers, and each protocol replies
//! in the vendor's real format.

mod common;
use camtrace_lab::{Lab, LabConfig, Manifest, ManifestDevice};
use common::*;
use std::net::{IpAddr, SocketAddr};

fn addr(d: &ManifestDevice, port: u16) -> SocketAddr {
    SocketAddr::new(d.target.parse::<IpAddr>().unwrap(), port)
}

fn first<'a>(m: &'a Manifest, id: &'a str) -> &'a ManifestDevice {
    m.by_personality(id)
        .next()
        .unwrap_or_else(|| panic!("no {id} device in the lab"))
}

async fn start(range: &str, devices: usize, seed: u64) -> camtrace_lab::LabHandle {
    Lab::start(LabConfig {
        range: Some(range.parse().unwrap()),
        devices,
        seed,
        ..Default::default()
    })
    .await
    .expect("lab starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_manifest_port_accepts_and_http_answers() {
    let lab = start("127.26.0.0/16", 40, 7).await;
    let m = lab.manifest().clone();
    assert_eq!(m.devices.len(), 40);
    let mut ids: Vec<&str> = m.devices.iter().map(|d| d.personality.as_str()).collect();
    ids.sort();
    ids.dedup();
    let builtin = camtrace_lab::personality::builtin().unwrap();
    assert_eq!(
        ids.len(),
        builtin.len().min(40),
        "every personality present once at least"
    );
    for d in &m.devices {
        assert!(d.target.starts_with("127.26."), "{}", d.target);
        assert!(!d.ports.is_empty(), "{} has no TCP port", d.target);
        for s in &d.services {
            let a = addr(d, s.port);
            tokio::time::timeout(T, tokio::net::TcpStream::connect(a))
                .await
                .unwrap_or_else(|_| panic!("connect timeout {a}"))
                .unwrap_or_else(|e| panic!("connect {a}: {e}"));
            if s.protocol == "http" {
                let r = http_get(a, "/").await;
                assert!(r.starts_with("HTTP/1."), "{} {a}: {r:?}", d.personality);
            }
        }
    }
    lab.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_seed_same_estate_and_two_labs_coexist() {
    let a = start("127.22.0.0/24", 20, 42).await;
    let b = start("127.23.0.0/24", 20, 42).await;
    let (ma, mb) = (a.manifest().clone(), b.manifest().clone());
    for (x, y) in ma.devices.iter().zip(&mb.devices) {
        assert_eq!(x.personality, y.personality);
        assert_eq!(x.serial, y.serial);
        assert_eq!(x.mac, y.mac);
        assert_eq!(
            x.target.replace("127.22.", ""),
            y.target.replace("127.23.", "")
        );
    }
    a.shutdown().await;
    b.shutdown().await;
    // Addresses are free again after shutdown.
    let c = start("127.22.0.0/24", 20, 42).await;
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hikvision_http_rtsp_sdk_sadp() {
    let lab = start("127.24.0.0/16", 40, 3).await;
    let m = lab.manifest().clone();
    let d = first(&m, "hikvision-camera");
    assert_eq!(d.brand.as_deref(), Some("hikvision"));
    assert!(d.model.starts_with("DS-2CD"), "{}", d.model);
    assert!(d.mac.starts_with(&d.mac[..8])); // shape
    let http = addr(d, d.port_of("http").unwrap());

    // nmap's GetRequest probe is HTTP/1.0: the answer mirrors it with Date before Server.
    let raw = tcp_exchange(http, b"GET / HTTP/1.0\r\n\r\n", None).await;
    let r = String::from_utf8_lossy(&raw);
    assert!(r.starts_with("HTTP/1.0 200 OK\r\nDate: "), "{r}");
    assert!(r.contains("\r\nServer: App-webs/\r\n"), "{r}");
    assert!(r.contains("/doc/page/login.asp"));

    let r = http_get(http, "/ISAPI/System/deviceInfo").await;
    assert!(r.starts_with("HTTP/1.1 401"), "{r}");
    let wa = header(&r, "WWW-Authenticate");
    assert!(
        wa[0].starts_with("Digest ") && wa[0].contains("realm="),
        "{wa:?}"
    );

    // RTSP: nmap's CSeq-less OPTIONS gets the Hikvision 401.
    let raw = tcp_exchange(
        addr(d, d.port_of("rtsp").unwrap()),
        b"OPTIONS / RTSP/1.0\r\n\r\n",
        None,
    )
    .await;
    let r = String::from_utf8_lossy(&raw);
    assert!(
        r.starts_with("RTSP/1.0 401 Unauthorized\r\nWWW-Authenticate: Digest realm=\"Hikvision\""),
        "{r}"
    );
    let raw = tcp_exchange(
        addr(d, d.port_of("rtsp").unwrap()),
        format!(
            "DESCRIBE rtsp://{}/Streaming/Channels/101 RTSP/1.0\r\nCSeq: 2\r\n\r\n",
            d.target
        )
        .as_bytes(),
        Some(b"\r\n\r\n"),
    )
    .await;
    let r = String::from_utf8_lossy(&raw);
    assert!(
        r.starts_with("RTSP/1.0 401 Unauthorized\r\nCSeq: 2\r\n"),
        "{r}"
    );

    // SDK port greets with the 16 bytes nmap's NULL probe matches.
    let raw = tcp_exchange(addr(d, d.port_of("hik-sdk").unwrap()), b"", None).await;
    assert_eq!(&raw[..16], b"\0\0\0\x10\0\0\0\x1e\0\0\0\x1e\0\0\0\0");

    // SADP on UDP 37020.
    let probe = b"<?xml version=\"1.0\" encoding=\"utf-8\"?><Probe><Uuid>8B1D1F3C-1111-2222-3333-444455556666</Uuid><Types>inquiry</Types></Probe>";
    let reply = udp_exchange(addr(d, 37020), probe)
        .await
        .expect("SADP reply");
    let xml = String::from_utf8(reply).unwrap();
    let doc = roxmltree::Document::parse(&xml).expect("SADP reply is XML");
    let get = |n: &str| {
        doc.descendants()
            .find(|e| e.has_tag_name(n))
            .and_then(|e| e.text())
            .unwrap_or("")
            .to_string()
    };
    assert_eq!(doc.root_element().tag_name().name(), "ProbeMatch");
    assert_eq!(get("Uuid"), "8B1D1F3C-1111-2222-3333-444455556666");
    assert_eq!(get("DeviceDescription"), d.model);
    assert_eq!(get("DeviceSN"), d.serial);
    assert_eq!(get("IPv4Address"), d.target);
    assert_eq!(get("MAC"), d.mac.replace(':', "-"));
    assert_eq!(get("OEMInfo"), "N/A");
    assert_eq!(get("HttpPort"), d.port_of("http").unwrap().to_string());
    lab.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_cameras_do_not_look_like_cameras() {
    let lab = start("127.25.0.0/16", 40, 5).await;
    let m = lab.manifest().clone();
    let d = first(&m, "nginx-web");
    assert_eq!(d.device_class, camtrace_model::DeviceClass::Other);
    assert!(d.brand.is_none() && d.maker.is_none());
    let r = http_get(addr(d, d.port_of("http").unwrap()), "/").await;
    assert!(header(&r, "Server")[0].starts_with("nginx/"), "{r}");
    assert!(body(&r).contains("Welcome to nginx!"));
    let r = http_get(
        addr(d, d.port_of("http").unwrap()),
        "/ISAPI/System/deviceInfo",
    )
    .await;
    assert!(r.starts_with("HTTP/1.1 404"), "{r}");
    // No discovery responders on a web server.
    assert!(d.udp_ports.is_empty());
    lab.shutdown().await;
}
