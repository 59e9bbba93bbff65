//! Protocol-level checks per personality family (loopback lab).

mod common;
use camtrace_lab::{Credentials, Lab, LabConfig, LabHandle, ManifestDevice};
use common::*;
use std::net::{IpAddr, SocketAddr};

fn addr(d: &ManifestDevice, port: u16) -> SocketAddr {
    SocketAddr::new(d.target.parse::<IpAddr>().unwrap(), port)
}

async fn lab(range: &str, ids: &[&str], creds: Option<Credentials>) -> LabHandle {
    Lab::start(LabConfig {
        range: Some(range.parse().unwrap()),
        devices: ids.len(),
        seed: 11,
        mix: Some(ids.iter().map(|s| s.to_string()).collect()),
        credentials: creds,
        ..Default::default()
    })
    .await
    .expect("lab starts")
}

fn dev<'a>(l: &'a LabHandle, id: &str) -> &'a ManifestDevice {
    l.manifest()
        .devices
        .iter()
        .find(|d| d.personality == id)
        .unwrap_or_else(|| panic!("{id} missing"))
}

fn dhip_probe() -> Vec<u8> {
    let body = b"{\"method\":\"DHDiscover.search\",\"params\":{\"mac\":\"\",\"uni\":1}}\n";
    let mut p = Vec::new();
    p.extend_from_slice(&0x20u32.to_le_bytes());
    p.extend_from_slice(b"DHIP");
    p.extend_from_slice(&[0u8; 8]);
    p.extend_from_slice(&(body.len() as u32).to_le_bytes());
    p.extend_from_slice(&[0u8; 4]);
    p.extend_from_slice(&(body.len() as u32).to_le_bytes());
    p.extend_from_slice(&[0u8; 4]);
    p.extend_from_slice(body);
    p
}

fn parse_dhip(reply: &[u8]) -> serde_json::Value {
    assert_eq!(&reply[..8], b"\x20\0\0\0DHIP");
    let len = u32::from_le_bytes(reply[16..20].try_into().unwrap()) as usize;
    assert_eq!(reply.len(), 32 + len, "body length field");
    assert_eq!(&reply[16..20], &reply[24..28], "both length fields agree");
    serde_json::from_slice(&reply[32..]).expect("DHIP body is JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dahua_family_dhip_binary_rtsp_http() {
    let l = lab(
        "127.30.0.0/24",
        &[
            "dahua-camera",
            "dahua-nvr",
            "amcrest-camera",
            "cpplus-camera",
            "lorex-camera",
            "intelbras-camera",
        ],
        None,
    )
    .await;
    let expect_vendor = [
        ("dahua-camera", "General"),
        ("dahua-nvr", "General"),
        ("amcrest-camera", "Amcrest"),
        ("cpplus-camera", "CPPLUS"),
        ("lorex-camera", "Lorex"),
        ("intelbras-camera", "Intelbras"),
    ];
    for (id, vendor) in expect_vendor {
        let d = dev(&l, id);
        assert_eq!(d.maker.as_deref(), Some("dahua"), "{id}");
        let v = parse_dhip(
            &udp_exchange(addr(d, 37810), &dhip_probe())
                .await
                .expect("DHIP reply"),
        );
        assert_eq!(v["method"], "client.notifyDevInfo");
        let info = &v["params"]["deviceInfo"];
        assert_eq!(info["Vendor"], vendor, "{id}");
        assert_eq!(info["SerialNo"], d.serial.as_str());
        assert_eq!(info["DeviceType"], d.model.as_str());
        assert_eq!(info["IPv4Address"]["IPAddress"], d.target.as_str());
        assert_eq!(v["mac"], d.mac.as_str());
        assert_eq!(info["Port"], d.port_of("dahua-dvrip").unwrap());
        let class = if id == "dahua-nvr" { "NVR" } else { "IPC" };
        assert_eq!(info["DeviceClass"], class);

        // Older binary discovery on 5050.
        let mut probe = vec![0xa3, 0x01, 0x00, 0x01];
        probe.extend_from_slice(&[0u8; 12]);
        probe.extend_from_slice(&[2, 0, 0, 0]);
        probe.extend_from_slice(&[0u8; 12]);
        let r = udp_exchange(addr(d, 5050), &probe)
            .await
            .expect("5050 reply");
        assert_eq!(r[0], 0xb3);
        let s2 = u16::from_le_bytes([r[2], r[3]]) as usize;
        let s3 = u16::from_le_bytes([r[20], r[21]]) as usize;
        assert_eq!(r.len(), 120 + s2 + s3);
        assert_eq!(
            &r[56..60],
            &d.target.parse::<std::net::Ipv4Addr>().unwrap().octets()
        );
        assert_eq!(&r[120..137], d.mac.as_bytes());
        assert_eq!(&r[137..120 + s2], d.model.as_bytes());
        let text = String::from_utf8_lossy(&r[120 + s2..]);
        assert!(text.contains(&format!("SerialNo:{}", d.serial)), "{text}");

        // RTSP: nmap's CSeq-less OPTIONS gets Dahua's exact 405.
        let rt = addr(d, d.port_of("rtsp").unwrap());
        let raw = tcp_exchange(rt, b"OPTIONS / RTSP/1.0\r\n\r\n", None).await;
        assert_eq!(
            String::from_utf8_lossy(&raw),
            "RTSP/1.0 405 Method Not Allowed\r\nServer: Dahua Rtsp Server\r\nContent-Length: 0\r\nCSeq: 0\r\n\r\n"
        );
        let raw = tcp_exchange(
            rt,
            b"DESCRIBE rtsp://x/cam/realmonitor?channel=1&subtype=0 RTSP/1.0\r\nCSeq: 3\r\n\r\n",
            Some(b"\r\n\r\n"),
        )
        .await;
        let r = String::from_utf8_lossy(&raw);
        assert!(
            r.starts_with("RTSP/1.0 401 Unauthorized\r\nCSeq: 3\r\n"),
            "{r}"
        );
        assert!(r.contains("realm=\"device\""), "{r}");
        assert!(r.contains("Server: Dahua Rtsp Server"), "{r}");

        // HTTP: RPC2_Login challenge and protected magicBox.
        let http = addr(d, d.port_of("http").unwrap());
        let r = http_post(http, "/RPC2_Login", "application/json", r#"{"method":"global.login","params":{"userName":"admin","password":"","clientType":"Web3.0"},"id":1}"#).await;
        let v: serde_json::Value = serde_json::from_str(body(&r)).expect("RPC2_Login JSON");
        assert_eq!(v["params"]["realm"], format!("Login to {}", d.serial));
        assert_eq!(v["result"], false);
        let r = http_get(http, "/cgi-bin/magicBox.cgi?action=getSystemInfo").await;
        assert!(r.starts_with("HTTP/1.1 401"), "{r}");
        assert!(header(&r, "WWW-Authenticate")[0].contains(&format!("Login to {}", d.serial)));
    }
    // CP PLUS keeps Dahua's ONVIF scope structure, with India and its own name.
    let wsd = wsd_probe();
    let dahua = String::from_utf8(
        udp_exchange(addr(dev(&l, "dahua-camera"), 3702), wsd.as_bytes())
            .await
            .unwrap(),
    )
    .unwrap();
    let cpp = String::from_utf8(
        udp_exchange(addr(dev(&l, "cpplus-camera"), 3702), wsd.as_bytes())
            .await
            .unwrap(),
    )
    .unwrap();
    let scopes = |x: &str| -> Vec<String> {
        let doc = roxmltree::Document::parse(x).unwrap();
        doc.descendants()
            .find(|n| n.has_tag_name("Scopes"))
            .and_then(|n| n.text())
            .unwrap_or("")
            .split_whitespace()
            .map(String::from)
            .collect()
    };
    let (sd, sc) = (scopes(&dahua), scopes(&cpp));
    assert_eq!(sd.len(), sc.len());
    let shape = |v: &[String]| -> Vec<String> {
        v.iter()
            .map(|s| s.rsplit_once('/').map(|x| x.0).unwrap_or("").to_string())
            .collect()
    };
    assert_eq!(shape(&sd), shape(&sc), "same scope structure and order");
    assert!(
        sc.contains(&"onvif://www.onvif.org/location/country/India".to_string()),
        "{sc:?}"
    );
    assert!(sc.contains(&"onvif://www.onvif.org/name/CP_PLUS".to_string()));
    assert!(sd.contains(&"onvif://www.onvif.org/location/country/china".to_string()));
    l.shutdown().await;
}

fn wsd_probe() -> String {
    r#"<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope" xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:wsd="http://schemas.xmlsoap.org/ws/2005/04/discovery" xmlns:dn="http://www.onvif.org/ver10/network/wsdl"><soap:Header><wsa:To>urn:schemas-xmlsoap-org:ws:2005:04:discovery</wsa:To><wsa:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe</wsa:Action><wsa:MessageID>urn:uuid:0a6dc791-2be6-4991-9af1-454778a1917a</wsa:MessageID></soap:Header><soap:Body><wsd:Probe><wsd:Types>dn:NetworkVideoTransmitter</wsd:Types></wsd:Probe></soap:Body></soap:Envelope>"#.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hikvision_rebrands_carry_oem_tells() {
    let l = lab(
        "127.31.0.0/24",
        &[
            "hikvision-camera",
            "lts-camera",
            "annke-camera",
            "swann-camera",
            "hikvision-nvr",
        ],
        None,
    )
    .await;
    let probe = b"<?xml version=\"1.0\" encoding=\"utf-8\"?><Probe><Uuid>AAAA</Uuid><Types>inquiry</Types></Probe>";
    for (id, oem, name) in [
        ("hikvision-camera", "N/A", "HIKVISION"),
        ("lts-camera", "LTS", "LTS"),
        ("annke-camera", "ANNKE", "ANNKE"),
        ("swann-camera", "SWANN", "Swann"),
    ] {
        let d = dev(&l, id);
        assert_eq!(d.maker.as_deref(), Some("hikvision"));
        let xml =
            String::from_utf8(udp_exchange(addr(d, 37020), probe).await.expect("SADP")).unwrap();
        let doc = roxmltree::Document::parse(&xml).unwrap();
        let get = |n: &str| {
            doc.descendants()
                .find(|e| e.has_tag_name(n))
                .and_then(|e| e.text())
                .unwrap_or("")
                .to_string()
        };
        assert_eq!(get("OEMInfo"), oem, "{id}");
        assert!(
            get("DeviceSN").starts_with(&d.model),
            "Hikvision SN scheme kept: {}",
            get("DeviceSN")
        );
        // HTTP still App-webs; WS-Discovery carries the brand in the name scope.
        let r = http_get(addr(d, d.port_of("http").unwrap()), "/").await;
        assert_eq!(header(&r, "Server"), vec!["App-webs/"]);
        let w = String::from_utf8(
            udp_exchange(addr(d, 3702), wsd_probe().as_bytes())
                .await
                .unwrap(),
        )
        .unwrap();
        assert!(
            w.contains(&format!("onvif://www.onvif.org/name/{name}")),
            "{id}: {w}"
        );
        assert!(
            w.contains("urn:uuid:0a6dc791-2be6-4991-9af1-454778a1917a"),
            "RelatesTo echoes MessageID"
        );
    }
    // OUI: LTS and Swann use their own registered OUIs.
    assert!(dev(&l, "lts-camera").mac.starts_with("14:2f:fd"));
    assert!(dev(&l, "swann-camera").mac.starts_with("bc:51:fe"));
    // NVR: Hikvision-Webs with an asctime Date.
    let d = dev(&l, "hikvision-nvr");
    assert_eq!(d.device_class, camtrace_model::DeviceClass::Recorder);
    let r = http_get(addr(d, d.port_of("http").unwrap()), "/").await;
    let lines: Vec<&str> = r.lines().collect();
    assert_eq!(lines[1], "Server: Hikvision-Webs");
    assert!(
        lines[2].starts_with("Date: ") && lines[2].len() == "Date: Sun Nov 29 05:00:00 2026".len(),
        "{}",
        lines[2]
    );
    l.shutdown().await;
}

fn soap(op: &str, header: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Header>{header}</s:Header><s:Body xmlns:tds="http://www.onvif.org/ver10/device/wsdl"><tds:{op}/></s:Body></s:Envelope>"#
    )
}

fn token(user: &str, pass: &str) -> String {
    use base64::Engine;
    use sha1::{Digest, Sha1};
    let nonce = b"lab-test-nonce-0";
    let created = "2026-11-29T05:00:00Z";
    let mut h = Sha1::new();
    h.update(nonce);
    h.update(created.as_bytes());
    h.update(pass.as_bytes());
    let b64 = base64::engine::general_purpose::STANDARD;
    format!(
        r#"<Security xmlns="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"><UsernameToken><Username>{user}</Username><Password Type="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest">{}</Password><Nonce EncodingType="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary">{}</Nonce><Created xmlns="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd">{created}</Created></UsernameToken></Security>"#,
        b64.encode(h.finalize()),
        b64.encode(nonce)
    )
}

fn xml_text(x: &str, tag: &str) -> String {
    let doc = roxmltree::Document::parse(x).unwrap_or_else(|e| panic!("{e}: {x}"));
    doc.descendants()
        .find(|n| n.has_tag_name(tag))
        .and_then(|n| n.text())
        .unwrap_or("")
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn onvif_device_service_with_and_without_credentials() {
    let creds = Credentials {
        username: "admin".into(),
        password: "Lab12345".into(),
    };
    let l = lab(
        "127.32.0.0/24",
        &["hikvision-camera", "axis-camera", "onvif-generic"],
        Some(creds),
    )
    .await;
    for (id, man) in [
        ("hikvision-camera", "HIKVISION"),
        ("axis-camera", "AXIS"),
        ("onvif-generic", "IPCAM"),
    ] {
        let d = dev(&l, id);
        let a = addr(d, d.port_of("http").unwrap());
        let ct = "application/soap+xml; charset=utf-8";
        let r = http_post(
            a,
            "/onvif/device_service",
            ct,
            &soap("GetSystemDateAndTime", ""),
        )
        .await;
        assert!(r.starts_with("HTTP/1.1 200"), "{r}");
        assert!(!xml_text(body(&r), "Year").is_empty());
        let r = http_post(
            a,
            "/onvif/device_service",
            ct,
            &soap("GetDeviceInformation", ""),
        )
        .await;
        assert!(r.starts_with("HTTP/1.1 400"), "{r}");
        assert!(body(&r).contains("ter:NotAuthorized"));
        let r = http_post(
            a,
            "/onvif/device_service",
            ct,
            &soap("GetDeviceInformation", &token("admin", "wrong")),
        )
        .await;
        assert!(body(&r).contains("ter:NotAuthorized"));
        let r = http_post(
            a,
            "/onvif/device_service",
            ct,
            &soap("GetDeviceInformation", &token("admin", "Lab12345")),
        )
        .await;
        assert!(r.starts_with("HTTP/1.1 200"), "{r}");
        let b = body(&r);
        assert_eq!(xml_text(b, "Manufacturer"), man);
        assert_eq!(xml_text(b, "Model"), d.model);
        assert_eq!(xml_text(b, "SerialNumber"), d.serial);
        assert_eq!(xml_text(b, "FirmwareVersion"), d.firmware);
        let r = http_post(
            a,
            "/onvif/device_service",
            ct,
            &soap("GetScopes", &token("admin", "Lab12345")),
        )
        .await;
        assert!(body(&r).contains("onvif://www.onvif.org/hardware/"), "{r}");
        let r = http_post(a, "/onvif/device_service", ct, &soap("GetCapabilities", "")).await;
        assert!(xml_text(body(&r), "XAddr").contains(&d.target));
        let r = http_post(a, "/onvif/device_service", ct, &soap("GetServices", "")).await;
        assert!(body(&r).contains("http://www.onvif.org/ver10/media/wsdl"));
        let r = http_post(
            a,
            "/onvif/device_service",
            ct,
            &soap("SystemReboot", &token("admin", "Lab12345")),
        )
        .await;
        assert!(body(&r).contains("ter:ActionNotSupported"), "{r}");
    }
    // With credentials, ISAPI deviceInfo answers the real DeviceInfo XML after Digest auth.
    let d = dev(&l, "hikvision-camera");
    let a = addr(d, d.port_of("http").unwrap());
    let r = http_get(a, "/ISAPI/System/deviceInfo").await;
    let chal = header(&r, "WWW-Authenticate")[0].to_string();
    let p = |k: &str| {
        let i = chal.find(&format!("{k}=\"")).unwrap() + k.len() + 2;
        chal[i..i + chal[i..].find('"').unwrap()].to_string()
    };
    let (realm, nonce) = (p("realm"), p("nonce"));
    let md5 = |s: String| format!("{:x}", md5::Md5::digest(s.as_bytes()));
    use md5::Digest;
    let ha1 = md5(format!("admin:{realm}:Lab12345"));
    let ha2 = md5("GET:/ISAPI/System/deviceInfo".to_string());
    let resp = md5(format!("{ha1}:{nonce}:00000001:abcdef:auth:{ha2}"));
    let req = format!("GET /ISAPI/System/deviceInfo HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Digest username=\"admin\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"/ISAPI/System/deviceInfo\", qop=auth, nc=00000001, cnonce=\"abcdef\", response=\"{resp}\"\r\n\r\n");
    let r = String::from_utf8_lossy(&tcp_exchange(a, req.as_bytes(), None).await).into_owned();
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    assert_eq!(xml_text(body(&r), "serialNumber"), d.serial);
    assert_eq!(xml_text(body(&r), "manufacturer"), "hikvision");
    l.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn axis_vapix_mdns_ssdp() {
    let l = lab("127.33.0.0/24", &["axis-camera", "hp-printer"], None).await;
    let d = dev(&l, "axis-camera");
    let a = addr(d, d.port_of("http").unwrap());
    let r = http_post(
        a,
        "/axis-cgi/basicdeviceinfo.cgi",
        "application/json",
        r#"{"apiVersion":"1.0","method":"getAllUnrestrictedProperties"}"#,
    )
    .await;
    let v: serde_json::Value = serde_json::from_str(body(&r)).unwrap();
    let pl = &v["data"]["propertyList"];
    assert_eq!(pl["Brand"], "AXIS");
    assert_eq!(pl["ProdNbr"], d.model.as_str());
    assert_eq!(pl["SerialNumber"], d.mac.replace(':', "").to_uppercase());
    let r = http_get(a, "/axis-cgi/param.cgi?action=list").await;
    let mac_plain = d.mac.replace(':', "").to_uppercase();
    assert!(
        header(&r, "WWW-Authenticate")[0].contains(&format!("realm=\"AXIS_{mac_plain}\"")),
        "{r}"
    );

    // mDNS legacy unicast query for _axis-video._tcp.local PTR.
    let mut q = simple_dns::Packet::new_query(0x4242);
    q.questions.push(simple_dns::Question::new(
        simple_dns::Name::new_unchecked("_axis-video._tcp.local"),
        simple_dns::QTYPE::TYPE(simple_dns::TYPE::PTR),
        simple_dns::QCLASS::CLASS(simple_dns::CLASS::IN),
        true,
    ));
    let reply = udp_exchange(addr(d, 5353), &q.build_bytes_vec().unwrap())
        .await
        .expect("mDNS reply");
    let p = simple_dns::Packet::parse(&reply).unwrap();
    assert_eq!(p.id(), 0x4242);
    let ptr = p.answers.iter().find_map(|rr| match &rr.rdata {
        simple_dns::rdata::RData::PTR(x) => Some(x.0.to_string()),
        _ => None,
    });
    assert_eq!(
        ptr.unwrap(),
        format!("AXIS {} - {mac_plain}._axis-video._tcp.local", d.model)
    );
    let txt = p.additional_records.iter().find_map(|rr| match &rr.rdata {
        simple_dns::rdata::RData::TXT(t) => Some(t.attributes()),
        _ => None,
    });
    assert_eq!(
        txt.unwrap().get("macaddress").cloned().flatten(),
        Some(mac_plain.clone())
    );

    // SSDP M-SEARCH and the description it points to.
    let ms = b"M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: \"ssdp:discover\"\r\nMX: 1\r\nST: upnp:rootdevice\r\n\r\n";
    let r = String::from_utf8(udp_exchange(addr(d, 1900), ms).await.expect("SSDP")).unwrap();
    assert!(r.starts_with("HTTP/1.1 200 OK\r\n"));
    let loc = header(&r, "LOCATION")[0].to_string();
    let path = loc.splitn(4, '/').nth(3).unwrap();
    let desc = http_get(a, &format!("/{path}")).await;
    assert_eq!(xml_text(body(&desc), "manufacturer"), "AXIS");

    // The printer answers WS-Discovery only for print types, never as a video transmitter.
    let p = dev(&l, "hp-printer");
    let nvt = r#"<?xml version="1.0"?><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery" xmlns:dn="http://www.onvif.org/ver10/network/wsdl"><s:Header><a:MessageID>urn:uuid:1</a:MessageID><a:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe</a:Action></s:Header><s:Body><d:Probe><d:Types>dn:NetworkVideoTransmitter</d:Types></d:Probe></s:Body></s:Envelope>"#;
    assert!(udp_exchange(addr(p, 3702), nvt.as_bytes()).await.is_none());
    let any = nvt.replace("<d:Types>dn:NetworkVideoTransmitter</d:Types>", "");
    let r = String::from_utf8(
        udp_exchange(addr(p, 3702), any.as_bytes())
            .await
            .expect("printer WSD"),
    )
    .unwrap();
    assert!(r.contains("wprt:PrintDeviceType"));
    let h = addr(p, p.port_of("http").unwrap());
    let r = http_post(
        h,
        "/onvif/device_service",
        "application/soap+xml",
        &soap("GetDeviceInformation", ""),
    )
    .await;
    assert!(
        r.starts_with("HTTP/1.1 404"),
        "printer must not serve ONVIF: {r}"
    );
    // IPP answers with the printer's make and model.
    let mut ipp = vec![0x02, 0x00, 0x00, 0x0b, 0, 0, 0, 7, 0x01];
    ipp.push(0x03);
    let req = [
        format!("POST /ipp/print HTTP/1.1\r\nHost: x\r\nContent-Type: application/ipp\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", ipp.len()).into_bytes(),
        ipp,
    ]
    .concat();
    let raw = tcp_exchange(addr(p, p.port_of("ipp").unwrap()), &req, None).await;
    let i = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert_eq!(
        &raw[i..i + 8],
        &[2, 0, 0, 0, 0, 0, 0, 7],
        "IPP status ok + request id echoed"
    );
    assert!(String::from_utf8_lossy(&raw[i..]).contains(&format!("HP {}", p.model)));
    l.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn privileged_ports_fall_back_to_high_ports() {
    let l = Lab::start(LabConfig {
        range: Some("127.34.0.0/24".parse().unwrap()),
        devices: 3,
        seed: 1,
        mix: Some(vec!["hikvision-camera".into()]),
        force_high_ports: true,
        ..Default::default()
    })
    .await
    .unwrap();
    for d in &l.manifest().devices {
        let http = d.services.iter().find(|s| s.protocol == "http").unwrap();
        assert_eq!((http.nominal_port, http.port), (80, 10080));
        assert_eq!(d.port_of("rtsp"), Some(10554));
        assert_eq!(d.port_of("hik-sdk"), Some(8000));
        // SADP advertises the port really bound.
        let probe = b"<Probe><Uuid>X</Uuid><Types>inquiry</Types></Probe>";
        let xml = String::from_utf8(udp_exchange(addr(d, 37020), probe).await.unwrap()).unwrap();
        assert!(xml.contains("<HttpPort>10080</HttpPort>"), "{xml}");
    }
    l.shutdown().await;
}

mod tls_client {
    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
    use rustls::{DigitallySignedStruct, SignatureScheme};
    use std::sync::{Arc, Mutex};

    /// Accepts any certificate and keeps it, so the test can look at the subject.
    #[derive(Debug, Default)]
    pub struct Keep(pub Mutex<Vec<u8>>);

    impl ServerCertVerifier for Keep {
        fn verify_server_cert(
            &self,
            end_entity: &CertificateDer<'_>,
            _: &[CertificateDer<'_>],
            _: &ServerName<'_>,
            _: &[u8],
            _: UnixTime,
        ) -> Result<ServerCertVerified, rustls::Error> {
            *self.0.lock().unwrap() = end_entity.to_vec();
            Ok(ServerCertVerified::assertion())
        }
        fn verify_tls12_signature(
            &self,
            m: &[u8],
            c: &CertificateDer<'_>,
            d: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls12_signature(
                m,
                c,
                d,
                &rustls::crypto::ring::default_provider().signature_verification_algorithms,
            )
        }
        fn verify_tls13_signature(
            &self,
            m: &[u8],
            c: &CertificateDer<'_>,
            d: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls13_signature(
                m,
                c,
                d,
                &rustls::crypto::ring::default_provider().signature_verification_algorithms,
            )
        }
        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            rustls::crypto::ring::default_provider()
                .signature_verification_algorithms
                .supported_schemes()
        }
    }

    pub fn config(keep: Arc<Keep>) -> Arc<rustls::ClientConfig> {
        Arc::new(
            rustls::ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .unwrap()
            .dangerous()
            .with_custom_certificate_verifier(keep)
            .with_no_client_auth(),
        )
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hikvision_https_has_factory_certificate_subject() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let l = lab("127.35.0.0/24", &["hikvision-camera"], None).await;
    let d = dev(&l, "hikvision-camera");
    let keep = std::sync::Arc::new(tls_client::Keep::default());
    let conn = tokio_rustls::TlsConnector::from(tls_client::config(keep.clone()));
    let tcp = tokio::net::TcpStream::connect(addr(d, d.port_of("https").unwrap()))
        .await
        .unwrap();
    let name = rustls::pki_types::ServerName::try_from(d.target.clone()).unwrap();
    let mut s = conn.connect(name, tcp).await.expect("TLS handshake");
    s.write_all(b"GET / HTTP/1.0\r\n\r\n").await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(T, s.read_to_end(&mut out)).await;
    let r = String::from_utf8_lossy(&out);
    assert!(r.contains("Server: App-webs/"), "{r}");
    let der = keep.0.lock().unwrap().clone();
    let has = |x: &[u8]| der.windows(x.len()).any(|w| w == x);
    for part in [
        &b"www.hikvision.com"[..],
        b"DVRNVR",
        b"HIKVISION",
        b"HangZhou",
        b"ZheJiang",
    ] {
        assert!(
            has(part),
            "certificate lacks {}",
            String::from_utf8_lossy(part)
        );
    }
    l.shutdown().await;
}

/// The Western personalities added for issue 14 serve their sourced tells on the wire, and the
/// identify engine names each (maker and class) from those bytes alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn western_personalities_serve_their_sourced_tells() {
    let ids = [
        "panasonic-camera",
        "sony-camera",
        "canon-camera",
        "pelco-camera",
        "axis-encoder",
    ];
    let l = lab("127.36.0.0/24", &ids, None).await;
    let kb = camtrace_kb::Kb::embedded().unwrap();
    let engine = camtrace_identify::Engine::new(&kb).unwrap();
    for id in ids {
        let d = dev(&l, id);
        let a = addr(d, d.port_of("http").unwrap());
        let mut obs = Vec::new();
        let mut http = |path: &str, r: &str| {
            let p = camtrace_identify::parse::http_response(r.as_bytes()).expect("HTTP");
            let headers: serde_json::Map<String, serde_json::Value> = p
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                .collect();
            let o = serde_json::json!({
                "target": d.target, "kind": "http", "port": a.port(), "path": path,
                "status": p.status, "headers": headers, "body": body(r),
            });
            obs.push(camtrace_model::Observation::from_json_line(&o.to_string()).unwrap());
        };
        let root = http_get(a, "/").await;
        match id {
            "panasonic-camera" => {
                assert!(root.contains(&format!("<title>{} Network Camera</title>", d.model)));
                assert!(d.model.starts_with("WV-NS"), "recog's pattern is WV-NS...");
            }
            "sony-camera" => assert!(root.contains("<title>Sony Network Camera</title>")),
            "pelco-camera" => assert_eq!(header(&root, "Server"), vec!["ev-compat"]),
            "canon-camera" => {
                assert!(root.starts_with("HTTP/1.1 302"), "{root}");
                let page = http_get(a, header(&root, "Location")[0]).await;
                assert!(page.contains("/-wvhttp-01-/"), "{page}");
                http("/viewer/live/en/live.html", &page);
            }
            "axis-encoder" => {
                let r = http_post(
                    a,
                    "/axis-cgi/basicdeviceinfo.cgi",
                    "application/json",
                    r#"{"apiVersion":"1.0","method":"getAllUnrestrictedProperties"}"#,
                )
                .await;
                let v: serde_json::Value = serde_json::from_str(body(&r)).unwrap();
                assert_eq!(v["data"]["propertyList"]["ProdType"], "Video Encoder");
                assert_eq!(v["data"]["propertyList"]["ProdNbr"], d.model.as_str());
                http("/axis-cgi/basicdeviceinfo.cgi", &r);
                assert!(
                    d.udp_ports.iter().all(|p| *p != 5353),
                    "no mDNS: _axis-video reads as a camera"
                );
            }
            _ => unreachable!(),
        }
        http("/", &root);
        if id == "sony-camera" {
            let req = format!("OPTIONS rtsp://{}/ RTSP/1.0\r\nCSeq: 1\r\n\r\n", d.target);
            let raw = tcp_exchange(
                addr(d, d.port_of("rtsp").unwrap()),
                req.as_bytes(),
                Some(b"\r\n\r\n"),
            )
            .await;
            let text = String::from_utf8_lossy(&raw).into_owned();
            assert_eq!(
                header(&text, "Server"),
                vec!["Linux/2.6.35.14_nl-xarina+ Ze-PRO"]
            );
        }
        let got = engine.identify(&d.target, &obs);
        assert_eq!(
            got.maker.as_ref().map(|m| m.id.as_str()),
            d.maker.as_deref(),
            "{id}: {got:#?}"
        );
        assert_eq!(got.device_class, d.device_class, "{id}: {got:#?}");
    }
    l.shutdown().await;
}
