//! End to end against the emulated estate: start the lab in-process, scan it, check what was
//! found against the lab's manifest (ground truth). Plus multicast discovery inside network
//! namespaces (root only).

use camtrace_lab::{Lab, LabConfig};
use camtrace_model::ObservationKind;
use camtrace_probe::{scan_collect, ScanConfig, TargetSet, UdpProto};
use std::collections::{HashMap, HashSet};
use std::time::Duration;

fn require_all() -> bool {
    std::env::var("CAMTRACE_TEST_REQUIRE_ALL").as_deref() == Ok("1")
}

fn skip(why: &str) {
    eprintln!("SKIP: {why}");
    if require_all() {
        panic!("required test cannot run: {why}");
    }
}

fn quick() -> ScanConfig {
    ScanConfig {
        rate: 20000.0,
        udp_wait: Duration::from_millis(800),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scan_finds_every_lab_device_and_its_maker() {
    let range = format!("127.{}.0.0/16", 150 + std::process::id() % 50);
    let lab = match Lab::start(LabConfig {
        devices: 60,
        range: Some(range.parse().unwrap()),
        seed: 7,
        ..Default::default()
    })
    .await
    {
        Ok(l) => l,
        Err(e) => return skip(&format!("lab cannot start: {e}")),
    };
    let manifest = lab.manifest().clone();
    let targets: Vec<String> = manifest.devices.iter().map(|d| d.target.clone()).collect();
    // the device list plus some (mostly empty) neighbours
    let mut items = targets.clone();
    items.push(format!("{}.0.1-20", range.trim_end_matches(".0.0/16")));
    let set = TargetSet::parse(&items, &[]).unwrap();
    let (obs, summary) = scan_collect(&quick(), &set).await.unwrap();
    lab.shutdown().await;

    let mut by_host: HashMap<&str, Vec<&ObservationKind>> = HashMap::new();
    for o in &obs {
        by_host.entry(o.target.as_str()).or_default().push(&o.kind);
    }
    let scanned: HashSet<u16> = camtrace_probe::default_ports().into_iter().collect();
    for d in &manifest.devices {
        let got = by_host
            .get(d.target.as_str())
            .unwrap_or_else(|| panic!("device {} ({}) not found", d.target, d.personality));
        // every bound TCP port we scan was seen open
        let open = open_ports(got);
        for p in d.ports.iter().filter(|p| scanned.contains(p)) {
            assert!(
                open.contains(p),
                "{} ({}) port {p} not seen open: {open:?}",
                d.target,
                d.personality
            );
        }
        // every UDP discovery protocol the device answers produced an observation
        for u in &d.udp_ports {
            let want = |k: &&&ObservationKind| match u {
                37020 => matches!(k, ObservationKind::Sadp { .. }),
                37810 => matches!(k, ObservationKind::Dhip { .. }),
                5050 => matches!(k, ObservationKind::DahuaDiscovery { .. }),
                3702 => matches!(k, ObservationKind::OnvifProbeMatch { .. }),
                1900 => matches!(k, ObservationKind::Ssdp { .. }),
                5353 => matches!(k, ObservationKind::Mdns { .. }),
                _ => true,
            };
            assert!(
                got.iter().any(|k| want(&k)),
                "{} ({}) no reply seen on UDP {u}",
                d.target,
                d.personality
            );
        }
    }
    let device_set: HashSet<&str> = targets.iter().map(String::as_str).collect();
    assert!(
        by_host.keys().all(|h| device_set.contains(h)),
        "only lab devices answer"
    );
    assert_eq!(summary.hosts_up as usize, manifest.devices.len());
    identify_and_check(&manifest, &obs);
}

/// The lab's Western personalities: makers outside the restricted lists, each to be named.
const WESTERN: &[&str] = &[
    "axis-camera",
    "bosch-camera",
    "hanwha-camera",
    "avigilon-camera",
    "mobotix-camera",
    "vivotek-camera",
    "panasonic-camera",
    "sony-camera",
    "canon-camera",
    "pelco-camera",
    "axis-encoder",
];

/// A scan of the lab names every Western personality: the maker and the class of the manifest,
/// each with sourced evidence that is not the MAC (scans over loopback see no MAC).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scan_names_every_western_personality_with_evidence() {
    let range = format!("127.{}.1.0/24", 100 + std::process::id() % 40);
    let lab = match Lab::start(LabConfig {
        devices: WESTERN.len(),
        range: Some(range.parse().unwrap()),
        seed: 14,
        mix: Some(WESTERN.iter().map(|s| s.to_string()).collect()),
        ..Default::default()
    })
    .await
    {
        Ok(l) => l,
        Err(e) => return skip(&format!("lab cannot start: {e}")),
    };
    let manifest = lab.manifest().clone();
    let targets: Vec<String> = manifest.devices.iter().map(|d| d.target.clone()).collect();
    let set = TargetSet::parse(&targets, &[]).unwrap();
    let (obs, _) = scan_collect(&quick(), &set).await.unwrap();
    lab.shutdown().await;

    let kb = camtrace_kb::Kb::embedded().expect("embedded kb loads");
    let engine = camtrace_identify::Engine::new(&kb).expect("signatures compile");
    let ids = engine.identify_all(obs);
    let by: HashMap<&str, &camtrace_model::Identification> =
        ids.iter().map(|i| (i.target.as_str(), i)).collect();
    let mut seen: HashSet<&str> = HashSet::new();
    let mut wrong = Vec::new();
    for d in &manifest.devices {
        seen.insert(d.personality.as_str());
        let want = d
            .maker
            .as_deref()
            .expect("Western personalities name their maker");
        let Some(id) = by.get(d.target.as_str()) else {
            wrong.push(format!("{} ({}): not identified", d.target, d.personality));
            continue;
        };
        let maker = id.maker.as_ref().map(|m| m.id.as_str());
        if maker != Some(want) || id.device_class != d.device_class {
            wrong.push(format!(
                "{} ({}): maker {maker:?} class {}, expected {want} {}; evidence {:?}",
                d.target,
                d.personality,
                id.device_class,
                d.device_class,
                id.evidence.iter().map(|e| &e.detail).collect::<Vec<_>>()
            ));
            continue;
        }
        for claim in ["maker", "class"] {
            let backed = id.evidence.iter().any(|e| {
                e.proves.iter().any(|p| p == claim)
                    && !e.kind.ends_with("mac")
                    && !e.signature.is_empty()
                    && !e.source.is_empty()
            });
            if !backed {
                wrong.push(format!(
                    "{} ({}): no sourced evidence for the {claim}: {:#?}",
                    d.target, d.personality, id.evidence
                ));
            }
        }
        assert!(
            id.could_be.is_empty(),
            "{}: the maker is settled",
            d.personality
        );
        // The personality's own sourced tell is among the evidence.
        let tell = match d.personality.as_str() {
            "panasonic-camera" => Some("recog:html_title:"),
            "sony-camera" => Some("recog:"),
            "canon-camera" => Some("canon-http-body-wvhttp"),
            "pelco-camera" => Some("recog:http_servers:"),
            "axis-encoder" => Some("vapix-prodtype-encoder"),
            _ => None,
        };
        if let Some(t) = tell {
            if !id.evidence.iter().any(|e| e.signature.starts_with(t)) {
                wrong.push(format!(
                    "{} ({}): no `{t}` evidence: {:?}",
                    d.target,
                    d.personality,
                    id.evidence.iter().map(|e| &e.signature).collect::<Vec<_>>()
                ));
            }
        }
    }
    assert_eq!(seen.len(), WESTERN.len(), "every personality served once");
    assert!(
        wrong.is_empty(),
        "Western devices not named:\n{}",
        wrong.join("\n")
    );
}

/// The TCP ports a host's observations show open.
fn open_ports(got: &[&ObservationKind]) -> HashSet<u16> {
    got.iter()
        .filter_map(|k| match k {
            ObservationKind::Port { port, .. } => Some(*port),
            _ => None,
        })
        .collect()
}

/// Identification through the engine: maker right for every device whose maker the manifest
/// names, and no printer / web server called a camera or recorder.
fn identify_and_check(manifest: &camtrace_lab::Manifest, obs: &[camtrace_model::Observation]) {
    let kb = camtrace_kb::Kb::embedded().expect("embedded kb loads");
    let engine = camtrace_identify::Engine::new(&kb).expect("signatures compile");
    let ids = engine.identify_all(obs);
    let by: HashMap<&str, &camtrace_model::Identification> =
        ids.iter().map(|i| (i.target.as_str(), i)).collect();
    let mut wrong = Vec::new();
    for d in &manifest.devices {
        let id = by.get(d.target.as_str());
        if let Some(m) = &d.maker {
            let got = id.and_then(|i| i.maker.as_ref()).map(|m| m.id.as_str());
            if got != Some(m.as_str()) {
                wrong.push(format!(
                    "{} {}: maker {:?}, expected {m}",
                    d.target, d.personality, got
                ));
            }
        }
        if !d.device_class.is_surveillance() {
            if let Some(i) = id {
                assert!(
                    !matches!(
                        i.device_class,
                        camtrace_model::DeviceClass::Camera | camtrace_model::DeviceClass::Recorder
                    ),
                    "{} ({}) is not a camera but was classified {:?}",
                    d.target,
                    d.personality,
                    i.device_class
                );
            }
        }
    }
    assert!(wrong.is_empty(), "makers wrong:\n{}", wrong.join("\n"));
}

fn have_root_and_ip() -> Result<(), String> {
    if !nix_is_root() {
        return Err("needs root for network namespaces".into());
    }
    match std::process::Command::new("ip").arg("-V").output() {
        Ok(o) if o.status.success() => Ok(()),
        _ => Err("`ip` (iproute2) not installed".into()),
    }
}

fn nix_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
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
    if let Err(why) = have_root_and_ip() {
        panic!("network namespaces are unavailable: {why}");
    }
    let lab = match Lab::start(LabConfig {
        devices: 12,
        netns: true,
        seed: 3,
        mix: Some(vec![
            "hikvision-camera".into(),
            "dahua-camera".into(),
            "axis-camera".into(),
            "onvif-generic".into(),
        ]),
        ..Default::default()
    })
    .await
    {
        Ok(l) => l,
        Err(e) => panic!("the lab cannot start in network-namespace mode: {e}"),
    };
    let manifest = lab.manifest().clone();
    // Run discovery inside the client namespace: its sockets are created on a thread that joined it.
    let ns = lab
        .client_netns()
        .map(str::to_string)
        .expect("netns mode has a client namespace");
    let path = std::path::PathBuf::from("/run/netns").join(&ns);
    let found = tokio::task::spawn_blocking(move || {
        camtrace_lab::netns::run_in_netns(&path, || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let cfg = ScanConfig {
                    discover_iface: Some("eth0".into()),
                    discover_wait: Duration::from_millis(1500),
                    udp: false,
                    ..Default::default()
                };
                // no unicast targets: multicast discovery only, replies only
                let set = TargetSet::default();
                let only_udp = scan_collect(&cfg, &set).await?;
                // discover then probe the hosts that answered
                let cfg = ScanConfig {
                    probe_discovered: true,
                    rate: 5000.0,
                    ..cfg
                };
                let probed = scan_collect(&cfg, &set).await?;
                Ok::<_, camtrace_probe::ScanError>((only_udp, probed))
            })
        })
    })
    .await
    .unwrap();
    lab.shutdown().await;
    let ((obs, _), (probed, _)) = found.expect("namespace").expect("discovery runs");
    assert!(
        obs.iter()
            .all(|o| !matches!(o.kind, ObservationKind::Port { .. })),
        "without --probe-discovered nothing is probed over TCP"
    );
    for d in &manifest.devices {
        let http = probed
            .iter()
            .any(|o| o.target == d.target && matches!(o.kind, ObservationKind::Http { .. }));
        assert!(http, "{} was discovered but not probed", d.target);
    }
    let mut by_host: HashMap<&str, Vec<&ObservationKind>> = HashMap::new();
    for o in &obs {
        by_host.entry(o.target.as_str()).or_default().push(&o.kind);
    }
    for d in &manifest.devices {
        let got = by_host.get(d.target.as_str()).unwrap_or_else(|| {
            panic!(
                "{} ({}) did not answer multicast discovery",
                d.target, d.personality
            )
        });
        if d.udp_ports.contains(&3702) {
            assert!(
                got.iter()
                    .any(|k| matches!(k, ObservationKind::OnvifProbeMatch { .. })),
                "{} no WS-Discovery",
                d.target
            );
        }
        if d.udp_ports.contains(&37020) {
            assert!(
                got.iter()
                    .any(|k| matches!(k, ObservationKind::Sadp { .. })),
                "{} no SADP",
                d.target
            );
        }
        if d.udp_ports.contains(&37810) {
            assert!(
                got.iter()
                    .any(|k| matches!(k, ObservationKind::Dhip { .. })),
                "{} no DHIP",
                d.target
            );
        }
    }
    // nothing but the lab's devices answered
    let devs: HashSet<&str> = manifest.devices.iter().map(|d| d.target.as_str()).collect();
    assert!(
        by_host.keys().all(|h| devs.contains(h)),
        "{:?}",
        by_host.keys()
    );
    let _ = UdpProto::ALL;
}

async fn lab_in(range: &str, devices: usize, seed: u64) -> Option<camtrace_lab::LabHandle> {
    match Lab::start(LabConfig {
        devices,
        range: Some(range.parse().unwrap()),
        seed,
        ..Default::default()
    })
    .await
    {
        Ok(l) => Some(l),
        Err(e) => {
            skip(&format!("lab cannot start: {e}"));
            None
        }
    }
}

/// Host discovery: a sparse range costs at most the ping ports per empty address (it used to
/// cost every curated port, which made a /16 sweep take a minute), and still finds every device
/// with its maker.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_addresses_cost_only_the_ping_ports() {
    let range = format!("127.{}.0.0/20", 100 + std::process::id() % 40);
    let Some(lab) = lab_in(&range, 20, 3).await else {
        return;
    };
    let manifest = lab.manifest().clone();
    let cfg = quick();
    let set = TargetSet::parse(std::slice::from_ref(&range), &[]).unwrap();
    let (obs, summary) = scan_collect(&cfg, &set).await.unwrap();
    lab.shutdown().await;
    let hosts = 4096u64;
    let live = manifest.devices.len() as u64;
    let ping = camtrace_probe::DEFAULT_PING_PORTS.len() as u64;
    let full = cfg.ports.len() as u64;
    // every live host: its ping ports, every port again, and a few re-dials for HTTP/TLS/ONVIF
    let bound = ping * (hosts - live) + live * (ping + 3 * full);
    assert!(
        summary.tcp_connects <= bound,
        "{} connects for {hosts} addresses, {live} live (bound {bound}; dialling every port \
         everywhere would be {})",
        summary.tcp_connects,
        full * hosts
    );
    assert_eq!(summary.hosts_up, live);
    identify_and_check(&manifest, &obs);
}

/// A device that no ping port shows up (here: the only ping port is one nobody listens on) but
/// that answers UDP discovery is still probed in full, once the sweep has settled; a device that
/// answers neither is not reported. Nothing is reported twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_answerers_are_probed_in_full_when_no_ping_port_is_open() {
    let range = format!("127.{}.0.0/24", 140 + std::process::id() % 10);
    let Some(lab) = lab_in(&range, 30, 5).await else {
        return;
    };
    let manifest = lab.manifest().clone();
    let mut cfg = quick();
    cfg.ports.push(1);
    cfg.ping_ports = Some(vec![1]);
    let set = TargetSet::parse(std::slice::from_ref(&range), &[]).unwrap();
    let (obs, summary) = scan_collect(&cfg, &set).await.unwrap();
    lab.shutdown().await;
    let mut by_host: HashMap<&str, Vec<&ObservationKind>> = HashMap::new();
    for o in &obs {
        by_host.entry(o.target.as_str()).or_default().push(&o.kind);
    }
    let protos: HashSet<u16> = cfg.udp_protos.iter().map(|p| p.port()).collect();
    let mut udp_devices = 0;
    for d in &manifest.devices {
        let answers_udp = d.udp_ports.iter().any(|p| protos.contains(p));
        match by_host.get(d.target.as_str()) {
            Some(got) => {
                assert!(
                    answers_udp,
                    "{} ({}) reported without UDP",
                    d.target, d.personality
                );
                udp_devices += 1;
                let open = open_ports(got);
                for p in d.ports.iter().filter(|p| cfg.ports.contains(p)) {
                    assert!(
                        open.contains(p),
                        "{} ({}): port {p} not probed after the UDP reply",
                        d.target,
                        d.personality
                    );
                }
            }
            None => assert!(
                !answers_udp,
                "{} ({}) answered UDP but was not reported",
                d.target, d.personality
            ),
        }
    }
    assert!(udp_devices > 0, "the mix has UDP answerers");
    assert_eq!(summary.hosts_up, udp_devices, "each host reported once");
}

/// `-Pn`: no host discovery, every port of every target is dialled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_ping_dials_every_port_of_every_target() {
    let range = format!("127.{}.1.0/26", 140 + std::process::id() % 10);
    let Some(lab) = lab_in(&range, 5, 9).await else {
        return;
    };
    let manifest = lab.manifest().clone();
    let mut cfg = quick();
    cfg.ping_ports = None;
    cfg.udp = false;
    let set = TargetSet::parse(std::slice::from_ref(&range), &[]).unwrap();
    let (_, summary) = scan_collect(&cfg, &set).await.unwrap();
    lab.shutdown().await;
    assert!(
        summary.tcp_connects >= 64 * cfg.ports.len() as u64,
        "{} connects",
        summary.tcp_connects
    );
    assert_eq!(summary.hosts_up as usize, manifest.devices.len());
}
