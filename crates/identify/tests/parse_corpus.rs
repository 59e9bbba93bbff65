//! Parse the real wire formats of tests/data (protocol-replies selftests and ONVIF mockups).

use camtrace_identify::parse::{self, ParseError};
use std::path::PathBuf;

fn corpus(rel: &str) -> Option<Vec<u8>> {
    let p = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data")).join(rel);
    match std::fs::read(&p) {
        Ok(b) => Some(b),
        // Part of the repository (tests/data/README.md): missing is a broken checkout.
        Err(e) => panic!("{}: {e}", p.display()),
    }
}

fn text(rel: &str) -> Option<String> {
    corpus(rel).map(|b| String::from_utf8_lossy(&b).into_owned())
}

#[test]
fn hikvision_sadp_selftest() {
    let Some(t) = text("protocol-replies/Hikvision.selftest") else {
        return;
    };
    let r = parse::sadp(&t).unwrap();
    assert_eq!(r.device_description(), Some("Virtual"));
    assert_eq!(r.device_sn(), Some("Virtual-123456789"));
    assert_eq!(r.mac(), Some("00-11-22-33-44-55"));
    assert_eq!(r.command_port(), Some(8000));
    assert_eq!(r.http_port(), Some(80));
    assert_eq!(r.software_version(), Some("V1.0build 200101"));
    assert_eq!(r.digital_channels(), Some(1));
    assert_eq!(r.activated(), Some(true));
    assert_eq!(r.get("HCPlatformEnable"), Some("flase"));
    assert_eq!(r.fields.len(), 28);
}

#[test]
fn dahua_dhip_selftest_with_its_broken_json() {
    let Some(b) = corpus("protocol-replies/Dahua2.selftest") else {
        return;
    };
    let r = parse::dhip(&b).unwrap();
    // The selftest's JSON has an unterminated string after "Version": recovered leniently.
    assert!(r.lenient);
    assert_eq!(r.mac.as_deref(), Some("00:11:22:33:44:55"));
    assert_eq!(r.method.as_deref(), Some("client.notifyDevInfo"));
    assert_eq!(r.device_type(), Some("Virtual (JSON)"));
    assert_eq!(r.device_class(), Some("V"));
    assert_eq!(r.vendor(), Some("General"));
    assert_eq!(r.version(), Some("1.0000"));
    assert_eq!(r.serial_no(), Some("123456789"));
    // Header validation: truncated body, wrong magic, short datagram.
    assert!(matches!(
        parse::dhip(&b[..b.len() - 10]),
        Err(ParseError::BadHeader(_))
    ));
    let mut bad = b.clone();
    bad[4] = b'X';
    assert_eq!(parse::dhip(&bad), Err(ParseError::NotThisProtocol("DHIP")));
    assert!(parse::dhip(&b[..20]).is_err());
}

#[test]
fn dahua_binary_discovery_selftest() {
    let Some(b) = corpus("protocol-replies/Dahua1.selftest") else {
        return;
    };
    let r = parse::dahua_discovery(&b).unwrap();
    assert_eq!(r.mac.as_deref(), Some("00:11:22:33:44:55"));
    assert_eq!(r.machine_name.as_deref(), Some("Virtual"));
    assert_eq!(r.model.as_deref(), Some("Virtual"));
    assert_eq!(r.fields.get("Name").map(String::as_str), Some("Dahua"));
    assert_eq!(r.fields.get("Device").map(String::as_str), Some("Virtual"));
    assert_eq!(
        r.fields.get("SerialNo").map(String::as_str),
        Some("123456789")
    );
    assert_eq!(r.ipv4.as_deref(), Some("127.0.3.0"));
    assert!(parse::dahua_discovery(&b[..40]).is_err());
}

#[test]
fn ws_discovery_selftest_and_onvif_probe() {
    let Some(t) = text("protocol-replies/Wsdiscovery.selftest") else {
        return;
    };
    let m = parse::onvif_probe_matches(&t).unwrap();
    assert_eq!(m.len(), 1);
    assert_eq!(
        m[0].endpoint.as_deref(),
        Some("urn:uuid:11223344-5566-7788-9900-000000000002")
    );
    assert_eq!(m[0].types, vec!["Virtual", "tds:Device"]);
    assert!(m[0].scopes.is_empty());
    assert_eq!(m[0].xaddrs, vec!["http://127.0.2.0/", "http://[::1]/"]);
    let Some(t) = text("onvif/Probe.xml") else {
        return;
    };
    let m = parse::onvif_probe_matches(&t).unwrap();
    assert_eq!(m.len(), 1);
    assert!(m[0].is_video());
    assert!(!m[0].is_printer_or_computer());
    assert_eq!(
        m[0].scope_values("name").collect::<Vec<_>>(),
        vec!["PREDATOR"]
    );
    assert_eq!(
        m[0].scope_values("hardware").collect::<Vec<_>>(),
        vec!["HD_PREDATOR"]
    );
    assert_eq!(m[0].scope_values("type").count(), 3);
    assert_eq!(
        m[0].endpoint.as_deref(),
        Some("uuid:c9790c3a-701b-464d-a189-0060351c8ada")
    );
}

#[test]
fn onvif_device_information_and_fault() {
    let Some(t) = text("onvif/GetDeviceInformation.xml") else {
        return;
    };
    let d = parse::onvif_device_info(&t).unwrap();
    assert_eq!(d.manufacturer, "Mockup Manufacturer");
    assert_eq!(d.model, "Mockup Model");
    assert_eq!(d.firmware_version, "Mockup_15_14_13");
    assert_eq!(d.serial_number, "00000000");
    assert_eq!(d.hardware_id, "MOCKUP");
    let Some(t) = text("onvif/Error.xml") else {
        return;
    };
    match parse::onvif_device_info(&t) {
        Err(ParseError::SoapFault { code, reason }) => {
            assert!(code.contains("fault code"), "{code}");
            assert_eq!(reason, "fault reason");
        }
        other => panic!("expected a SOAP fault, got {other:?}"),
    }
    // Other replies are not device information.
    let Some(t) = text("onvif/GetScopes.xml") else {
        return;
    };
    assert_eq!(
        parse::onvif_device_info(&t),
        Err(ParseError::Missing("GetDeviceInformationResponse"))
    );
}

#[test]
fn ssdp_selftest() {
    let Some(b) = corpus("protocol-replies/SSDP.selftest") else {
        return;
    };
    let r = parse::ssdp_response(&b).unwrap();
    assert_eq!(r.method.as_deref(), Some("NOTIFY"));
    assert_eq!(
        r.header("server"),
        Some("Universal Scanner/0.0, Virtual/1.0")
    );
    assert_eq!(r.header("LOCATION"), Some("http://127.0.1.0/rootDesc.xml"));
    assert_eq!(r.header("nts"), Some("ssdp:alive"));
}

#[test]
fn every_onvif_mockup_parses_as_xml_or_fails_cleanly() {
    for f in [
        "GetCapabilities.xml",
        "GetHostname.xml",
        "GetScopes.xml",
        "GetServices.xml",
        "GetSystemDateAndTime.xml",
    ] {
        let Some(t) = text(&format!("onvif/{f}")) else {
            return;
        };
        // None of these is a ProbeMatches or device information: a clear error, no panic.
        assert!(parse::onvif_probe_matches(&t).is_err(), "{f}");
        assert!(parse::onvif_device_info(&t).is_err(), "{f}");
    }
}

#[test]
fn other_vendor_replies_are_refused_by_each_parser() {
    for f in [
        "Axis.selftest",
        "Bosch.xml.selftest",
        "Hanwha.selftest",
        "Vivotek.selftest",
        "Sony.selftest",
        "Panasonic.selftest",
        "Ubiquiti.selftest",
    ] {
        let Some(b) = corpus(&format!("protocol-replies/{f}")) else {
            return;
        };
        let t = String::from_utf8_lossy(&b);
        assert!(parse::sadp(&t).is_err(), "{f}");
        assert!(parse::dhip(&b).is_err(), "{f}");
        assert!(parse::dahua_discovery(&b).is_err(), "{f}");
        assert!(parse::onvif_probe_matches(&t).is_err(), "{f}");
        assert!(parse::http_response(&b).is_err(), "{f}");
    }
}
