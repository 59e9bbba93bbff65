//! The fixture files of one example site (register CSV, nmap XML, capture): the capture is
//! built here and must match the committed file (`CAMTRACE_UPDATE_FIXTURES=1` rewrites it).
//! Every address is a documentation address (192.0.2.0/24, 198.51.100.0/24).

use camtrace_ingest::register::{read_csv, ReadOptions};
use camtrace_ingest::synth::{self, PcapWriter};
use camtrace_model::ObservationKind;
use std::path::PathBuf;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

const HIK_CAM: [u8; 6] = [0x44, 0x19, 0xb6, 0, 0, 0x10];
const HIK_NVR: [u8; 6] = [0x44, 0x19, 0xb6, 0, 0, 0x20];
const AXIS: [u8; 6] = [0xac, 0xcc, 0x8e, 0, 0, 0x12];
const DAHUA: [u8; 6] = [0x08, 0xed, 0xed, 0, 0, 0x30];

/// The capture of the example site: a Hikvision camera where the register has an Axis, a
/// Hikvision recorder announcing itself over SSDP, an Axis camera over mDNS, and one Dahua MAC
/// answering ARP at two addresses.
pub fn site_pcap() -> Vec<u8> {
    let t = 1_764_400_100u32;
    let frames = [
        synth::arp(HIK_CAM, [192, 0, 2, 10]),
        synth::dhcp_request(HIK_CAM, [192, 0, 2, 10], "udhcp 1.19.4", "HIKVISION-CAM"),
        synth::dns_query(
            HIK_CAM,
            [192, 0, 2, 10],
            [198, 51, 100, 53],
            "litedev.ezvizlife.com",
        ),
        synth::ssdp_notify(
            HIK_NVR,
            [192, 0, 2, 20],
            &[
                ("CACHE-CONTROL", "max-age=1800"),
                ("LOCATION", "http://192.0.2.20:8000/upnp.xml"),
                ("SERVER", "Linux/3.0, UPnP/1.0, DVRDVS-Webs"),
                ("NT", "upnp:rootdevice"),
                (
                    "USN",
                    "uuid:fixture-0000-0000-0000-000000000020::upnp:rootdevice",
                ),
            ],
        ),
        synth::mdns_answer(
            AXIS,
            [192, 0, 2, 12],
            "_axis-video._tcp.local",
            "AXIS P1455-LE - ACCC8E000012._axis-video._tcp.local",
            &["macaddress=ACCC8E000012"],
        ),
        synth::arp(DAHUA, [192, 0, 2, 30]),
        synth::arp(DAHUA, [192, 0, 2, 31]),
    ];
    let mut w = PcapWriter::new(Vec::new()).unwrap();
    for (i, f) in frames.iter().enumerate() {
        w.packet(t + i as u32, f).unwrap();
    }
    w.finish().unwrap()
}

#[test]
fn committed_capture_matches_its_generator() {
    let want = site_pcap();
    let path = dir().join("site.pcap");
    if std::env::var("CAMTRACE_UPDATE_FIXTURES").is_ok_and(|v| v == "1") {
        std::fs::write(&path, &want).unwrap();
    }
    let have = std::fs::read(&path)
        .expect("tests/fixtures/site.pcap (CAMTRACE_UPDATE_FIXTURES=1 writes it)");
    assert_eq!(
        have, want,
        "site.pcap is stale: run with CAMTRACE_UPDATE_FIXTURES=1"
    );
    let obs: Vec<_> = camtrace_ingest::pcap::read(std::io::Cursor::new(have), "site.pcap")
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let at = |t: &str, k: &str| {
        obs.iter()
            .filter(|o| o.target == t && o.kind.name() == k)
            .count()
    };
    assert_eq!(at("192.0.2.10", "dhcp"), 1);
    assert_eq!(at("192.0.2.10", "dns"), 1);
    assert_eq!(at("192.0.2.20", "ssdp"), 1);
    assert_eq!(at("192.0.2.12", "mdns"), 1);
    assert_eq!(at("192.0.2.30", "mac"), 1);
    assert_eq!(at("192.0.2.31", "mac"), 1);
    assert!(obs.iter().any(|o| o.kind
        == ObservationKind::Dns {
            query: "litedev.ezvizlife.com".into()
        }));
}

#[test]
fn fixtures_parse_and_use_only_documentation_addresses() {
    let csv = std::fs::read(dir().join("site-register.csv")).unwrap();
    let reg = read_csv(csv.as_slice(), &ReadOptions::default())
        .unwrap()
        .register;
    assert_eq!(reg.devices.len(), 4);
    assert_eq!(reg.sites.len(), 1);
    let xml = std::fs::read(dir().join("site-nmap.xml")).unwrap();
    let obs: Vec<_> = camtrace_ingest::nmap::read(xml.as_slice(), "site-nmap.xml")
        .map(Result::unwrap)
        .collect();
    assert_eq!(obs.iter().filter(|o| o.kind.name() == "mac").count(), 4);
    for f in ["site-register.csv", "site-nmap.xml"] {
        let text = std::fs::read_to_string(dir().join(f)).unwrap();
        for word in text.split(|c: char| !(c.is_ascii_digit() || c == '.')) {
            let parts: Vec<&str> = word.split('.').collect();
            if parts.len() == 4 && parts.iter().all(|p| p.parse::<u8>().is_ok()) {
                assert!(
                    word.starts_with("192.0.2.")
                        || word.starts_with("198.51.100.")
                        || word.starts_with("203.0.113.")
                        || word.starts_with("127."),
                    "{f}: {word} is not a documentation address"
                );
            }
        }
    }
}
