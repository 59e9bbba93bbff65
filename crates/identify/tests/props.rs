//! Property tests: the parsers never panic on arbitrary input, and what the builders write,
//! the parsers read back.

use camtrace_identify::parse;
use proptest::prelude::*;

fn xml_text() -> impl Strategy<Value = String> {
    "[A-Za-z0-9 ._/:-]{0,40}"
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn sadp_never_panics(s in ".{0,600}") {
        let _ = parse::sadp(&s);
    }

    #[test]
    fn sadp_never_panics_on_xmlish(parts in proptest::collection::vec(prop_oneof![
        Just("<ProbeMatch>".to_string()), Just("</ProbeMatch>".to_string()), Just("<A>".to_string()),
        Just("</A>".to_string()), Just("&amp;".to_string()), Just("&#x41;".to_string()), Just("<![CDATA[x]]>".to_string()),
        Just("<?xml version=\"1.0\"?>".to_string()), Just("<b/>".to_string()), "[a-z<>&;/\"']{0,6}",
    ], 0..60)) {
        let s = parts.concat();
        let _ = parse::sadp(&s);
        let _ = parse::onvif_probe_matches(&s);
        let _ = parse::onvif_device_info(&s);
        let _ = parse::upnp_description(&s);
        let _ = parse::hikvision_device_info_xml(&s);
    }

    #[test]
    fn sadp_round_trips(model in xml_text(), sw in xml_text(), mac in "[0-9a-f]{2}(-[0-9a-f]{2}){5}") {
        let xml = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ProbeMatch><DeviceDescription>{}</DeviceDescription><SoftwareVersion>{}</SoftwareVersion><MAC>{mac}</MAC></ProbeMatch>",
            model.replace('&', "&amp;"), sw.replace('&', "&amp;"));
        let r = parse::sadp(&xml).unwrap();
        prop_assert_eq!(r.device_description(), Some(model.trim()).filter(|m| !m.is_empty()));
        prop_assert_eq!(r.software_version(), Some(sw.trim()).filter(|m| !m.is_empty()));
        prop_assert_eq!(r.mac(), Some(mac.as_str()));
    }

    #[test]
    fn dhip_never_panics(b in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = parse::dhip(&b);
        let _ = parse::dahua_discovery(&b);
        let _ = parse::dhip_json(&String::from_utf8_lossy(&b));
    }

    #[test]
    fn dhip_header_mutations_never_panic(b in proptest::collection::vec(any::<u8>(), 0..64), len in any::<u32>()) {
        let mut d = parse::dhip_frame(&b);
        d[16..20].copy_from_slice(&len.to_le_bytes());
        let _ = parse::dhip(&d);
        let mut d2 = vec![0xB3u8, 0, 0, 0];
        d2.extend_from_slice(&len.to_le_bytes());
        d2.extend_from_slice(&b);
        let _ = parse::dahua_discovery(&d2);
    }

    #[test]
    fn dhip_round_trips(model in "[A-Z0-9-]{1,20}", vendor in "[A-Za-z ]{1,12}", version in "[0-9.]{1,12}") {
        let body = serde_json::json!({"mac":"00:11:22:33:44:55","method":"client.notifyDevInfo",
            "params":{"deviceInfo":{"DeviceType":model,"Vendor":vendor,"Version":version,"Port":37777}}}).to_string();
        let r = parse::dhip(&parse::dhip_frame(body.as_bytes())).unwrap();
        prop_assert_eq!(r.device_type(), Some(model.as_str()));
        prop_assert_eq!(r.vendor(), Some(vendor.as_str()));
        prop_assert_eq!(r.version(), Some(version.as_str()));
        prop_assert_eq!(r.get("Port"), Some("37777"));
        prop_assert!(!r.lenient);
    }

    #[test]
    fn onvif_never_panics(s in ".{0,600}") {
        let _ = parse::onvif_probe_matches(&s);
        let _ = parse::onvif_device_info(&s);
    }

    #[test]
    fn onvif_scopes_round_trip(name in "[A-Za-z0-9 _%]{1,20}", hw in "[A-Z0-9-]{1,16}") {
        let enc: String = percent_encode(&name);
        let xml = format!(
            "<e:Envelope xmlns:e=\"s\" xmlns:d=\"d\" xmlns:a=\"a\"><e:Body><d:ProbeMatches><d:ProbeMatch><a:EndpointReference><a:Address>urn:uuid:1</a:Address></a:EndpointReference><d:Types>dn:NetworkVideoTransmitter</d:Types><d:Scopes>onvif://www.onvif.org/name/{enc} onvif://www.onvif.org/hardware/{hw}</d:Scopes><d:XAddrs>http://192.0.2.1/onvif/device_service</d:XAddrs></d:ProbeMatch></d:ProbeMatches></e:Body></e:Envelope>");
        let m = parse::onvif_probe_matches(&xml).unwrap();
        prop_assert_eq!(m.len(), 1);
        prop_assert_eq!(m[0].scope_values("name").collect::<Vec<_>>(), vec![name.as_str()]);
        prop_assert_eq!(m[0].scope_values("hardware").collect::<Vec<_>>(), vec![hw.as_str()]);
        prop_assert!(m[0].is_video());
    }

    #[test]
    fn http_never_panics(b in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = parse::http_response(&b);
        let _ = parse::rtsp_response(&b);
        let _ = parse::ssdp_response(&b);
        let s = String::from_utf8_lossy(&b);
        let _ = parse::html_title(&s);
        let _ = parse::www_authenticate_realm(&s);
        let _ = parse::dahua_magicbox(&s);
        let _ = parse::axis_basic_device_info(&s);
    }

    #[test]
    fn http_round_trips(status in 100u16..600, server in "[A-Za-z0-9/._ -]{0,30}", body in proptest::collection::vec(any::<u8>(), 0..100)) {
        let mut msg = format!("HTTP/1.1 {status} Whatever\r\nServer: {server}\r\nX-A: 1\r\n\r\n").into_bytes();
        msg.extend_from_slice(&body);
        let r = parse::http_response(&msg).unwrap();
        prop_assert_eq!(r.status, status);
        prop_assert_eq!(r.header("SERVER"), Some(server.trim()));
        prop_assert_eq!(r.header("x-a"), Some("1"));
        prop_assert_eq!(r.body, body);
    }
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[test]
fn request_builders_are_well_formed() {
    let p = parse::sadp_probe("9A1C2B3D-1111-2222-3333-444455556666");
    assert_eq!(
        p,
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><Probe><Uuid>9A1C2B3D-1111-2222-3333-444455556666</Uuid><Types>inquiry</Types></Probe>"
    );
    let d = parse::dhip_search_request();
    assert_eq!(&d[..8], &[0x20, 0, 0, 0, b'D', b'H', b'I', b'P']);
    assert_eq!(
        u32::from_le_bytes(d[16..20].try_into().unwrap()) as usize,
        d.len() - 32
    );
    assert_eq!(&d[16..20], &d[24..28]);
    assert!(std::str::from_utf8(&d[32..])
        .unwrap()
        .contains("DHDiscover.search"));
    // The DHIP framing read back by the parser: header validated, body reached (no deviceInfo).
    assert_eq!(
        parse::dhip(&d),
        Err(parse::ParseError::Missing("params.deviceInfo"))
    );
    let b = parse::dahua_discovery_request();
    assert_eq!(b.len(), 32);
    assert_eq!(&b[..4], &[0xA3, 0x01, 0x00, 0x01]);
    assert_eq!(b[16], 0x02);
    let w = parse::ws_discovery_probe("11223344-5566-7788-9900-aabbccddeeff");
    assert!(w.contains("<a:MessageID>urn:uuid:11223344-5566-7788-9900-aabbccddeeff</a:MessageID>"));
    assert!(w.contains("http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe"));
    assert!(w.contains("dn:NetworkVideoTransmitter"));
    assert!(roxml_ok(&w));
}

fn roxml_ok(s: &str) -> bool {
    // Well-formedness via the crate's own XML reader: a Probe is not a ProbeMatch, so the
    // error must be "missing", not a syntax error.
    matches!(
        parse::onvif_probe_matches(s),
        Err(parse::ParseError::Missing(_))
    )
}

#[test]
fn onvif_request_with_password_digest() {
    // Digest computed independently (Python hashlib): base64(sha1(nonce + created + password)).
    assert_eq!(
        parse::ws_password_digest(b"0123456789abcdef", "2026-11-29T06:00:00Z", "secret"),
        "jcpZk7/JSKEUN+ls08LyzXF87WI="
    );
    let r = parse::onvif_get_device_information_request(
        Some(("ad<min", "secret")),
        b"0123456789abcdef",
        "2026-11-29T06:00:00Z",
    );
    assert!(r.contains("<wsse:Username>ad&lt;min</wsse:Username>"));
    assert!(r.contains(">jcpZk7/JSKEUN+ls08LyzXF87WI=</wsse:Password>"));
    assert!(r.contains(">MDEyMzQ1Njc4OWFiY2RlZg==</wsse:Nonce>"));
    assert!(r.contains("<wsu:Created>2026-11-29T06:00:00Z</wsu:Created>"));
    assert!(r.contains("<tds:GetDeviceInformation/>"));
    let anon = parse::onvif_get_device_information_request(None, b"", "");
    assert!(!anon.contains("Security"));
    assert!(matches!(
        parse::onvif_device_info(&anon),
        Err(parse::ParseError::Missing(_))
    ));
}

#[test]
fn http_helpers() {
    assert_eq!(
        parse::html_title("<html><TITLE>\n NETSurveillance   WEB </TITLE>").as_deref(),
        Some("NETSurveillance WEB")
    );
    assert_eq!(parse::html_title("<title></title>"), None);
    assert_eq!(
        parse::www_authenticate_realm(r#"Digest realm="Hikvision", nonce="x""#).as_deref(),
        Some("Hikvision")
    );
    assert_eq!(
        parse::www_authenticate_realm("Basic realm=device").as_deref(),
        Some("device")
    );
    let r = parse::rtsp_response(
        b"RTSP/1.0 401 Unauthorized\r\nCSeq: 1\r\nServer: Dahua Rtsp Server\r\n\r\n",
    )
    .unwrap();
    assert_eq!(
        (r.status, r.header("server")),
        (401, Some("Dahua Rtsp Server"))
    );
    assert!(parse::rtsp_response(b"HTTP/1.1 200 OK\r\n\r\n").is_err());
    let big = vec![b'a'; parse::MAX_MESSAGE + 1];
    assert!(matches!(
        parse::http_response(&big),
        Err(parse::ParseError::TooLarge { .. })
    ));
    let m = parse::dahua_magicbox(
        "deviceType=IP4M-1041B\r\nserialNumber=AMC0\r\nupdateSerial=IPC-AW46WN-S2\r\n",
    )
    .unwrap();
    assert_eq!(m["deviceType"], "IP4M-1041B");
    assert_eq!(m["updateSerial"], "IPC-AW46WN-S2");
    let a = parse::axis_basic_device_info(r#"{"apiVersion":"1.1","data":{"propertyList":{"Brand":"AXIS","ProdNbr":"Q6135-LE","ProdType":"PTZ Network Camera","Version":"10.12.182"}}}"#).unwrap();
    assert_eq!(
        (a.brand(), a.model(), a.firmware()),
        (Some("AXIS"), Some("Q6135-LE"), Some("10.12.182"))
    );
    let h = parse::hikvision_device_info_xml(r#"<DeviceInfo version="2.0" xmlns="http://www.hikvision.com/ver20/XMLSchema"><model>DS-2CD2143G0-I</model><firmwareVersion>V5.5.0</firmwareVersion><manufacturer>hikvision</manufacturer><OEMCode>1</OEMCode><deviceType>IPCamera</deviceType></DeviceInfo>"#).unwrap();
    assert_eq!(
        (
            h.model(),
            h.firmware_version(),
            h.manufacturer(),
            h.oem_code(),
            h.device_type()
        ),
        (
            Some("DS-2CD2143G0-I"),
            Some("V5.5.0"),
            Some("hikvision"),
            Some("1"),
            Some("IPCamera")
        )
    );
    let u = parse::upnp_description("<root xmlns=\"urn:schemas-upnp-org:device-1-0\"><device><friendlyName>Cam</friendlyName><manufacturer>Bosch</manufacturer><modelName>DINION</modelName><modelNumber>NBN-73023</modelNumber></device></root>").unwrap();
    assert_eq!(
        (
            u.manufacturer.as_deref(),
            u.model_name.as_deref(),
            u.model_number.as_deref(),
            u.friendly_name.as_deref()
        ),
        (
            Some("Bosch"),
            Some("DINION"),
            Some("NBN-73023"),
            Some("Cam")
        )
    );
}

mod engine_props {
    use camtrace_identify::Engine;
    use camtrace_kb::Kb;
    use camtrace_model::{Observation, ObservationKind};
    use proptest::prelude::*;
    use std::sync::OnceLock;

    fn engine() -> &'static Engine {
        static E: OnceLock<Engine> = OnceLock::new();
        E.get_or_init(|| Engine::new(&Kb::embedded().expect("embedded kb")).unwrap())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

        #[test]
        fn identify_never_panics_and_confidence_is_bounded(
            server in ".{0,80}", realm in ".{0,40}", title in ".{0,40}", body in ".{0,200}",
            mac in "[0-9a-fA-F:.-]{0,20}", scope in ".{0,60}", payload in ".{0,200}",
        ) {
            let obs = vec![
                Observation::new("p", ObservationKind::Http {
                    port: Some(80), tls: None, path: Some(body.clone()), status: Some(200),
                    headers: [("Server".to_string(), server.clone()), ("WWW-Authenticate".to_string(), format!("Digest realm=\"{realm}\""))].into(),
                    title: Some(title), body: Some(body), favicon_md5: Some(server.clone()),
                }),
                Observation::new("p", ObservationKind::Mac { mac }),
                Observation::new("p", ObservationKind::OnvifProbeMatch { scopes: vec![scope.clone()], types: vec![scope], xaddrs: vec![], endpoint: None }),
                Observation::new("p", ObservationKind::Sadp { payload: payload.clone() }),
                Observation::new("p", ObservationKind::Dhip { payload_b64: Some(payload.clone()), payload: Some(payload.clone()) }),
                Observation::new("p", ObservationKind::DahuaDiscovery { payload_b64: payload.clone() }),
                Observation::new("p", ObservationKind::Ssdp { headers: Default::default(), description: Some(payload) }),
            ];
            let id = engine().identify("p", &obs);
            prop_assert!((0.0..1.0).contains(&id.confidence));
            prop_assert!(id.maker.is_some() || id.conflicts.is_empty());
            for o in &obs {
                prop_assert_eq!(engine().matches(&o.kind), engine().matches_naive(&o.kind));
            }
        }
    }
}
