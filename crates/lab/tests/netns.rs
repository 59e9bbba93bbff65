//! Network-namespace mode: devices behind a bridge on 198.18.x (never routed), multicast
//! discovery from the client namespace, nmap's broadcast-wsdd-discover, and clean removal.
//! Needs root and `ip`: reported as ignored, saying which is missing, when the build found
//! neither (`build.rs`).

mod common;
use camtrace_lab::{Lab, LabConfig};
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::process::Command;
use std::time::{Duration, Instant};

fn can_netns() -> Result<(), String> {
    if !nix_is_root() {
        return Err("not root".into());
    }
    match Command::new("ip").args(["netns", "list"]).output() {
        Ok(o) if o.status.success() => Ok(()),
        _ => Err("`ip netns` unavailable".into()),
    }
}

fn nix_is_root() -> bool {
    // /proc/self/status "Uid:" real effective ...
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|x| x == "0"))
        })
        .unwrap_or(false)
}

/// Send `probe` to a multicast group from the client namespace and collect replies for `wait`.
fn multicast_collect(
    sock: &UdpSocket,
    group: SocketAddr,
    probe: &[u8],
    wait: Duration,
) -> Vec<(SocketAddr, Vec<u8>)> {
    sock.send_to(probe, group).expect("send multicast probe");
    let mut out = Vec::new();
    let until = Instant::now() + wait;
    let mut buf = vec![0u8; 65536];
    while Instant::now() < until {
        sock.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        if let Ok((n, from)) = sock.recv_from(&mut buf) {
            out.push((from, buf[..n].to_vec()));
        }
    }
    out
}

fn netns_list() -> String {
    String::from_utf8_lossy(
        &Command::new("ip")
            .args(["netns", "list"])
            .output()
            .unwrap()
            .stdout,
    )
    .into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    all(not(camtrace_is_root), not(camtrace_has_ip)),
    ignore = "needs root and the ip command (iproute2) for network namespaces"
)]
#[cfg_attr(
    all(not(camtrace_is_root), camtrace_has_ip),
    ignore = "needs root for network namespaces (run the tests as root)"
)]
#[cfg_attr(
    all(camtrace_is_root, not(camtrace_has_ip)),
    ignore = "needs the ip command on PATH for network namespaces: apt-get install iproute2"
)]
async fn multicast_discovery_in_network_namespaces() {
    if let Err(why) = can_netns() {
        panic!("network namespaces are unavailable: {why}");
    }
    let lab = Lab::start(LabConfig {
        range: Some("198.18.10.0/24".parse().unwrap()),
        devices: 30,
        seed: 9,
        netns: true,
        ..Default::default()
    })
    .await
    .expect("netns lab starts");
    let m = lab.manifest().clone();
    let ns = m.netns.clone().expect("netns info");
    assert!(netns_list().contains(&ns.client_ns));
    for d in &m.devices {
        let ip: Ipv4Addr = d.target.parse().unwrap();
        assert!(ip.octets()[..3] == [198, 18, 10], "{ip}");
    }
    let sock = lab
        .run_in_client_netns(|| {
            let s = UdpSocket::bind("0.0.0.0:0").unwrap();
            s.set_multicast_ttl_v4(1).unwrap();
            s
        })
        .unwrap();

    // WS-Discovery multicast probe: every ONVIF video device answers with ProbeMatches.
    let probe = r#"<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope" xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:wsd="http://schemas.xmlsoap.org/ws/2005/04/discovery" xmlns:dn="http://www.onvif.org/ver10/network/wsdl"><soap:Header><wsa:To>urn:schemas-xmlsoap-org:ws:2005:04:discovery</wsa:To><wsa:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe</wsa:Action><wsa:MessageID>urn:uuid:5b3c7e0a-0000-4000-8000-000000000001</wsa:MessageID></soap:Header><soap:Body><wsd:Probe><wsd:Types>dn:NetworkVideoTransmitter</wsd:Types></wsd:Probe></soap:Body></soap:Envelope>"#;
    let replies = multicast_collect(
        &sock,
        "239.255.255.250:3702".parse().unwrap(),
        probe.as_bytes(),
        Duration::from_secs(2),
    );
    let expected: Vec<&str> = m
        .devices
        .iter()
        .filter(|d| {
            d.udp_ports.contains(&3702) && d.device_class != camtrace_model::DeviceClass::Other
        })
        .map(|d| d.target.as_str())
        .collect();
    assert!(!expected.is_empty());
    let mut got: Vec<String> = replies
        .iter()
        .filter(|(_, b)| String::from_utf8_lossy(b).contains("ProbeMatches"))
        .map(|(a, _)| a.ip().to_string())
        .collect();
    got.sort();
    got.dedup();
    let mut exp: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
    exp.sort();
    assert_eq!(
        got, exp,
        "every ONVIF camera answers the multicast probe, nothing else"
    );

    // SADP multicast probe: the Hikvision family answers.
    let sadp = b"<?xml version=\"1.0\" encoding=\"utf-8\"?><Probe><Uuid>D1E0C6A2-0000-4000-8000-000000000002</Uuid><Types>inquiry</Types></Probe>";
    let replies = multicast_collect(
        &sock,
        "239.255.255.250:37020".parse().unwrap(),
        sadp,
        Duration::from_millis(1500),
    );
    let n_sadp = m
        .devices
        .iter()
        .filter(|d| d.udp_ports.contains(&37020))
        .count();
    let senders: std::collections::BTreeSet<_> = replies.iter().map(|(a, _)| a.ip()).collect();
    assert_eq!(senders.len(), n_sadp);

    // DHIP multicast probe on 239.255.255.251:37810: the Dahua family answers.
    let body = b"{\"method\":\"DHDiscover.search\",\"params\":{\"mac\":\"\",\"uni\":1}}\n";
    let mut p = vec![0x20, 0, 0, 0];
    p.extend_from_slice(b"DHIP");
    p.extend_from_slice(&[0u8; 8]);
    p.extend_from_slice(&(body.len() as u32).to_le_bytes());
    p.extend_from_slice(&[0u8; 4]);
    p.extend_from_slice(&(body.len() as u32).to_le_bytes());
    p.extend_from_slice(&[0u8; 4]);
    p.extend_from_slice(body);
    let replies = multicast_collect(
        &sock,
        "239.255.255.251:37810".parse().unwrap(),
        &p,
        Duration::from_millis(1500),
    );
    let n_dhip = m
        .devices
        .iter()
        .filter(|d| d.udp_ports.contains(&37810))
        .count();
    let senders: std::collections::BTreeSet<_> = replies.iter().map(|(a, _)| a.ip()).collect();
    assert_eq!(senders.len(), n_dhip);

    // TCP from the client namespace reaches a device's HTTP port.
    let d = m
        .devices
        .iter()
        .find(|d| d.port_of("http").is_some())
        .unwrap()
        .clone();
    let target: SocketAddr = format!("{}:{}", d.target, d.port_of("http").unwrap())
        .parse()
        .unwrap();
    let resp = lab
        .run_in_client_netns(move || {
            use std::io::{Read, Write};
            let mut s =
                std::net::TcpStream::connect_timeout(&target, Duration::from_secs(3)).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
            s.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
            let mut v = Vec::new();
            let _ = s.read_to_end(&mut v);
            String::from_utf8_lossy(&v).into_owned()
        })
        .unwrap();
    assert!(resp.starts_with("HTTP/1."), "{resp}");
    // Each device answers ARP with its own MAC (the maker's OUI), as on a real LAN.
    let neigh = Command::new("ip")
        .args(["-n", &ns.client_ns, "neigh", "show", &d.target])
        .output()
        .unwrap();
    let neigh = String::from_utf8_lossy(&neigh.stdout);
    assert!(
        neigh.contains(&format!("lladdr {}", d.mac)),
        "{neigh} vs {}",
        d.mac
    );

    // nmap's broadcast-wsdd-discover run inside the client namespace finds the cameras.
    // (A part of this test: the namespaces are costly to set up twice. Set when the build found
    // nmap or CAMTRACE_TEST_REQUIRE_ALL=1; see build.rs.)
    if cfg!(camtrace_has_nmap) {
        let out = Command::new("ip")
            .args([
                "netns",
                "exec",
                &ns.client_ns,
                "nmap",
                "-e",
                "eth0",
                "--script",
                "broadcast-wsdd-discover",
                "--script-args",
                "broadcast-wsdd-discover.timeout=3s",
            ])
            .output()
            .expect("nmap in netns");
        let text = String::from_utf8_lossy(&out.stdout);
        println!("{text}");
        let found = expected.iter().filter(|ip| text.contains(*ip)).count();
        assert!(
            found * 2 >= expected.len() && found > 0,
            "nmap found {found} of {}: {text}",
            expected.len()
        );
    } else {
        eprintln!(
            "not run (part): broadcast-wsdd-discover needs nmap on PATH: apt-get install nmap"
        );
    }

    let names = [
        ns.client_ns.clone(),
        ns.devices_ns.clone(),
        ns.bridge_ns.clone(),
    ];
    lab.shutdown().await;
    let after = netns_list();
    for n in names {
        assert!(!after.contains(&n), "{n} left behind");
    }
}

#[tokio::test]
async fn netns_rejects_routed_ranges() {
    let err = Lab::start(LabConfig {
        range: Some("10.1.0.0/24".parse().unwrap()),
        devices: 2,
        netns: true,
        ..Default::default()
    })
    .await
    .err()
    .expect("refused");
    assert!(err.to_string().contains("198.18.0.0/15"), "{err}");
    let err = Lab::start(LabConfig {
        range: Some("10.1.0.0/24".parse().unwrap()),
        devices: 2,
        ..Default::default()
    })
    .await
    .err()
    .expect("refused");
    assert!(err.to_string().contains("127.0.0.0/8"), "{err}");
}
