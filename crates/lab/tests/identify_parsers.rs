//! The identify crate's own request builders and reply parsers, run against the lab: what the
//! scanner will send and parse must round-trip with every family's emulation.

mod common;
use camtrace_identify::parse;
use camtrace_lab::{Credentials, Lab, LabConfig, LabHandle, ManifestDevice};
use common::*;
use std::net::{IpAddr, SocketAddr};

fn addr(d: &ManifestDevice, port: u16) -> SocketAddr {
    SocketAddr::new(d.target.parse::<IpAddr>().unwrap(), port)
}

async fn full_lab() -> LabHandle {
    let n = camtrace_lab::personality::builtin().unwrap().len();
    Lab::start(LabConfig {
        range: Some("127.46.0.0/24".parse().unwrap()),
        devices: n,
        seed: 21,
        credentials: Some(Credentials {
            username: "admin".into(),
            password: "Parse-Me1".into(),
        }),
        ..Default::default()
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identify_parsers_read_every_lab_reply() {
    let lab = full_lab().await;
    let m = lab.manifest().clone();
    let mut checked = 0;
    for d in &m.devices {
        if d.udp_ports.contains(&37020) {
            let r = udp_exchange(
                addr(d, 37020),
                parse::sadp_probe("C0FFEE00-1111-2222-3333-444455556666").as_bytes(),
            )
            .await
            .expect("SADP");
            let s = parse::sadp(std::str::from_utf8(&r).unwrap()).expect("identify parses SADP");
            assert_eq!(
                s.device_description(),
                Some(d.model.as_str()),
                "{}",
                d.personality
            );
            assert_eq!(s.device_sn(), Some(d.serial.as_str()));
            assert_eq!(s.ipv4_address(), Some(d.target.as_str()));
            assert_eq!(s.http_port(), d.port_of("http"));
            assert_eq!(s.command_port(), d.port_of("hik-sdk"));
            let oem = s.oem_info().unwrap_or("");
            assert_eq!(
                oem == "N/A",
                d.brand.as_deref() == Some("hikvision"),
                "{}: {oem}",
                d.personality
            );
            checked += 1;
        }
        if d.udp_ports.contains(&37810) {
            let r = udp_exchange(addr(d, 37810), &parse::dhip_search_request())
                .await
                .expect("DHIP");
            let x = parse::dhip(&r).expect("identify parses DHIP");
            assert_eq!(x.method.as_deref(), Some("client.notifyDevInfo"));
            assert_eq!(x.serial_no(), Some(d.serial.as_str()));
            assert_eq!(x.device_type(), Some(d.model.as_str()));
            let v = x.vendor().unwrap_or("");
            assert_eq!(
                v == "General",
                d.brand.as_deref() == Some("dahua"),
                "{}: {v}",
                d.personality
            );
            checked += 1;
        }
        if d.udp_ports.contains(&5050) {
            let r = udp_exchange(addr(d, 5050), &parse::dahua_discovery_request())
                .await
                .expect("5050");
            let x = parse::dahua_discovery(&r).expect("identify parses Dahua binary discovery");
            assert_eq!(x.ipv4.as_deref(), Some(d.target.as_str()));
            assert_eq!(x.model.as_deref(), Some(d.model.as_str()));
            assert_eq!(
                x.mac.as_deref().map(str::to_ascii_lowercase),
                Some(d.mac.clone())
            );
            checked += 1;
        }
        if d.udp_ports.contains(&3702) {
            let probe = parse::ws_discovery_probe("urn:uuid:3a0c2f10-0000-4000-8000-00000000abcd");
            let r = udp_exchange(addr(d, 3702), probe.as_bytes()).await;
            if d.device_class == camtrace_model::DeviceClass::Other {
                // Printers ignore a NetworkVideoTransmitter probe... unless the probe is untyped.
                if let Some(r) = r {
                    let pm = parse::onvif_probe_matches(std::str::from_utf8(&r).unwrap()).unwrap();
                    assert!(
                        pm.iter().all(|p| !p.is_video()),
                        "{} looks like video",
                        d.personality
                    );
                }
            } else {
                let r = r.expect("WS-Discovery reply");
                let pm = parse::onvif_probe_matches(std::str::from_utf8(&r).unwrap())
                    .expect("ProbeMatches");
                assert_eq!(pm.len(), 1);
                assert!(pm[0].is_video(), "{}", d.personality);
                assert!(pm[0].xaddrs[0].contains(&d.target));
                assert!(
                    pm[0].scope_values("hardware").next().is_some(),
                    "{}",
                    d.personality
                );
                // ONVIF GetDeviceInformation with the identify crate's WS-UsernameToken request.
                let req = parse::onvif_get_device_information_request(
                    Some(("admin", "Parse-Me1")),
                    b"0123456789abcdef",
                    "2026-11-29T06:00:00Z",
                );
                let resp = http_post(
                    addr(d, d.port_of("http").unwrap()),
                    "/onvif/device_service",
                    "application/soap+xml; charset=utf-8",
                    &req,
                )
                .await;
                let info = parse::onvif_device_info(body(&resp))
                    .expect("identify parses GetDeviceInformation");
                assert_eq!(info.model, d.model);
                assert_eq!(info.serial_number, d.serial);
                checked += 1;
            }
        }
        if d.udp_ports.contains(&1900) {
            let ms = b"M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: \"ssdp:discover\"\r\nMX: 1\r\nST: ssdp:all\r\n\r\n";
            let r = udp_exchange(addr(d, 1900), ms).await.expect("SSDP reply");
            let resp = parse::ssdp_response(&r).expect("identify parses SSDP");
            let _ = resp;
            let text = String::from_utf8_lossy(&r).into_owned();
            let loc = header(&text, "LOCATION")[0].to_string();
            let path = format!("/{}", loc.splitn(4, '/').nth(3).unwrap());
            let desc = http_get(addr(d, d.port_of("http").unwrap()), &path).await;
            let u = parse::upnp_description(body(&desc)).expect("identify parses UPnP description");
            assert_eq!(
                u.serial_number.as_deref(),
                Some(d.serial.as_str()),
                "{}",
                d.personality
            );
            assert!(u.manufacturer.is_some());
            checked += 1;
        }
        if let Some(http) = d.port_of("http") {
            let raw = tcp_exchange(addr(d, http), b"GET / HTTP/1.0\r\n\r\n", None).await;
            let r = parse::http_response(&raw).expect("identify parses HTTP");
            let _ = r;
            checked += 1;
        }
        if let Some(rtsp) = d.port_of("rtsp") {
            let req = format!("OPTIONS rtsp://{}/ RTSP/1.0\r\nCSeq: 1\r\n\r\n", d.target);
            let raw = tcp_exchange(addr(d, rtsp), req.as_bytes(), Some(b"\r\n\r\n")).await;
            parse::rtsp_response(&raw).expect("identify parses RTSP");
            checked += 1;
        }
        match d.personality.as_str() {
            "axis-camera" => {
                let r = http_post(
                    addr(d, d.port_of("http").unwrap()),
                    "/axis-cgi/basicdeviceinfo.cgi",
                    "application/json",
                    r#"{"apiVersion":"1.0","method":"getAllUnrestrictedProperties"}"#,
                )
                .await;
                let a = parse::axis_basic_device_info(body(&r)).expect("axis");
                assert_eq!(a.brand(), Some("AXIS"));
                assert_eq!(a.model(), Some(d.model.as_str()));
                checked += 1;
            }
            "hikvision-camera" | "lts-camera" => {
                // Basic is not offered; check the unauthenticated challenge realm parses.
                let r = http_get(
                    addr(d, d.port_of("http").unwrap()),
                    "/ISAPI/System/deviceInfo",
                )
                .await;
                let realm = parse::www_authenticate_realm(header(&r, "WWW-Authenticate")[0]);
                assert!(realm.is_some());
                checked += 1;
            }
            _ => {}
        }
    }
    assert!(checked > 60, "only {checked} checks");
    lab.shutdown().await;
}
