//! Turning discovery replies (UDP datagrams, ONVIF SOAP) into observations. Hostile-input safe:
//! every function accepts arbitrary bytes and returns nothing rather than failing loudly.

use base64::Engine as _;
use camtrace_model::observation::Headers;
use camtrace_model::ObservationKind;

/// The UDP discovery protocols.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum UdpProto {
    Sadp,
    Dhip,
    Dahua,
    WsDiscovery,
    Ssdp,
    Mdns,
}

impl UdpProto {
    pub const ALL: [UdpProto; 6] = [
        UdpProto::Sadp,
        UdpProto::Dhip,
        UdpProto::Dahua,
        UdpProto::WsDiscovery,
        UdpProto::Ssdp,
        UdpProto::Mdns,
    ];
    pub fn port(self) -> u16 {
        use crate::requests::*;
        match self {
            UdpProto::Sadp => SADP_PORT,
            UdpProto::Dhip => DHIP_PORT,
            UdpProto::Dahua => DAHUA_PORT,
            UdpProto::WsDiscovery => WSD_PORT,
            UdpProto::Ssdp => SSDP_PORT,
            UdpProto::Mdns => MDNS_PORT,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            UdpProto::Sadp => "sadp",
            UdpProto::Dhip => "dhip",
            UdpProto::Dahua => "dahua_discovery",
            UdpProto::WsDiscovery => "ws_discovery",
            UdpProto::Ssdp => "ssdp",
            UdpProto::Mdns => "mdns",
        }
    }
    /// The multicast group (IPv4) used by `--discover`.
    pub fn group_v4(self) -> &'static str {
        use crate::requests::*;
        match self {
            UdpProto::Sadp => SADP_GROUP_V4,
            UdpProto::Dhip => DHIP_GROUP_V4,
            UdpProto::Dahua => "255.255.255.255",
            UdpProto::WsDiscovery => WSD_GROUP_V4,
            UdpProto::Ssdp => SSDP_GROUP_V4,
            UdpProto::Mdns => MDNS_GROUP_V4,
        }
    }
    /// The request for this protocol; `host` is used for SSDP's HOST header.
    pub fn request(self, host: &str) -> Vec<u8> {
        use crate::requests::*;
        match self {
            UdpProto::Sadp => sadp_probe(),
            UdpProto::Dhip => dhip_search_request(),
            UdpProto::Dahua => dahua_discovery_request(),
            UdpProto::WsDiscovery => ws_discovery_probe(),
            UdpProto::Ssdp => ssdp_msearch(host),
            UdpProto::Mdns => mdns_query(),
        }
    }
}

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

/// Observations carried by one datagram of the given protocol. Our own requests (seen when
/// listening on a multicast group) yield nothing.
pub fn udp_reply(proto: UdpProto, data: &[u8]) -> Vec<ObservationKind> {
    match proto {
        UdpProto::Sadp => {
            let text = String::from_utf8_lossy(data);
            if text.contains("<ProbeMatch") {
                vec![ObservationKind::Sadp {
                    payload: text.into_owned(),
                }]
            } else {
                vec![]
            }
        }
        UdpProto::Dhip => {
            if data.len() >= 32 && &data[4..8] == b"DHIP" {
                let body = String::from_utf8_lossy(&data[32..]);
                if body.contains("DHDiscover.search") && !body.contains("deviceInfo") {
                    return vec![]; // a request, not a reply
                }
                vec![ObservationKind::Dhip {
                    payload_b64: Some(b64(data)),
                    payload: None,
                }]
            } else {
                vec![]
            }
        }
        UdpProto::Dahua => {
            if data.len() >= 32 && data[0] == 0xb3 {
                vec![ObservationKind::DahuaDiscovery {
                    payload_b64: b64(data),
                }]
            } else {
                vec![]
            }
        }
        UdpProto::WsDiscovery => ws_probe_matches(data),
        UdpProto::Ssdp => ssdp_reply(data).into_iter().collect(),
        UdpProto::Mdns => mdns_reply(data),
    }
}

fn local<'a>(n: &roxmltree::Node<'a, '_>) -> &'a str {
    n.tag_name().name()
}

/// WS-Discovery `ProbeMatches` → one observation per `ProbeMatch`.
pub fn ws_probe_matches(data: &[u8]) -> Vec<ObservationKind> {
    let Ok(text) = std::str::from_utf8(data) else {
        return vec![];
    };
    let opts = roxmltree::ParsingOptions {
        allow_dtd: false,
        nodes_limit: 20_000,
        ..Default::default()
    };
    let Ok(doc) = roxmltree::Document::parse_with_options(text, opts) else {
        return vec![];
    };
    let words = |n: roxmltree::Node, name: &str| -> Vec<String> {
        n.descendants()
            .filter(|d| d.is_element() && local(d) == name)
            .flat_map(|d| {
                d.text()
                    .unwrap_or("")
                    .split_whitespace()
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    doc.descendants()
        .filter(|n| n.is_element() && local(n) == "ProbeMatch")
        .map(|m| {
            let endpoint = m
                .descendants()
                .find(|d| d.is_element() && local(d) == "Address")
                .and_then(|d| d.text())
                .map(|s| s.trim().to_string());
            ObservationKind::OnvifProbeMatch {
                scopes: words(m, "Scopes"),
                types: words(m, "Types"),
                xaddrs: words(m, "XAddrs"),
                endpoint,
            }
        })
        .collect()
}

/// SSDP search response (or NOTIFY) → headers.
pub fn ssdp_reply(data: &[u8]) -> Option<ObservationKind> {
    let text = String::from_utf8_lossy(data);
    let mut lines = text.split("\r\n").flat_map(|l| l.split('\n'));
    let first = lines.next()?;
    if !(first.starts_with("HTTP/1.") || first.starts_with("NOTIFY")) {
        return None;
    }
    let mut headers = Headers::new();
    for l in lines.take(64) {
        if let Some((k, v)) = l.split_once(':') {
            let k = k.trim();
            if !k.is_empty() && k.len() < 128 {
                headers.insert(k.to_string(), v.trim().chars().take(1024).collect());
            }
        }
    }
    if headers.is_empty() {
        return None;
    }
    Some(ObservationKind::Ssdp {
        headers,
        description: None,
    })
}

/// mDNS response → one observation per service instance (PTR), with its TXT strings.
pub fn mdns_reply(data: &[u8]) -> Vec<ObservationKind> {
    use simple_dns::rdata::RData;
    let Ok(p) = simple_dns::Packet::parse(data) else {
        return vec![];
    };
    if !p.has_flags(simple_dns::PacketFlag::RESPONSE) {
        return vec![];
    }
    let records: Vec<&simple_dns::ResourceRecord> = p
        .answers
        .iter()
        .chain(p.additional_records.iter())
        .collect();
    let mut out = Vec::new();
    let mut types: Vec<String> = Vec::new();
    let name_of = |n: &simple_dns::Name| n.to_string().trim_end_matches('.').to_string();
    for r in &records {
        if let RData::PTR(ptr) = &r.rdata {
            let service = name_of(&r.name);
            let target = name_of(&ptr.0);
            if service.eq_ignore_ascii_case("_services._dns-sd._udp.local") {
                // DNS-SD service enumeration: the device offers this service type
                if !types.contains(&target) {
                    types.push(target);
                }
                continue;
            }
            let mut txt = Vec::new();
            for t in &records {
                if let RData::TXT(tx) = &t.rdata {
                    if name_of(&t.name).eq_ignore_ascii_case(&target) {
                        for (k, v) in tx.attributes() {
                            txt.push(match v {
                                Some(v) => format!("{k}={v}"),
                                None => k,
                            });
                        }
                    }
                }
            }
            out.push(ObservationKind::Mdns {
                service,
                instance: target,
                txt,
            });
        }
    }
    for t in types {
        let known = out
            .iter()
            .any(|o| matches!(o, ObservationKind::Mdns { service, .. } if service.eq_ignore_ascii_case(&t)));
        if !known {
            out.push(ObservationKind::Mdns {
                service: t,
                instance: String::new(),
                txt: vec![],
            });
        }
    }
    out
}

/// ONVIF `GetDeviceInformationResponse` → device info (None for faults and anything else).
pub fn onvif_device_info(body: &[u8]) -> Option<ObservationKind> {
    let text = std::str::from_utf8(body).ok()?;
    let opts = roxmltree::ParsingOptions {
        allow_dtd: false,
        nodes_limit: 20_000,
        ..Default::default()
    };
    let doc = roxmltree::Document::parse_with_options(text, opts).ok()?;
    let resp = doc
        .descendants()
        .find(|n| n.is_element() && local(n) == "GetDeviceInformationResponse")?;
    let field = |name: &str| {
        resp.children()
            .find(|c| c.is_element() && local(c) == name)
            .and_then(|c| c.text())
            .unwrap_or("")
            .trim()
            .to_string()
    };
    Some(ObservationKind::OnvifDeviceInfo {
        manufacturer: field("Manufacturer"),
        model: field("Model"),
        firmware: field("FirmwareVersion"),
        serial: field("SerialNumber"),
        hardware_id: field("HardwareId"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ws_discovery_matches() {
        let xml = br#"<?xml version="1.0"?><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing"><s:Body><d:ProbeMatches><d:ProbeMatch><a:EndpointReference><a:Address>urn:uuid:1</a:Address></a:EndpointReference><d:Types>dn:NetworkVideoTransmitter tds:Device</d:Types><d:Scopes>onvif://www.onvif.org/name/HIKVISION%20DS-2CD2143G0-I onvif://www.onvif.org/type/video_encoder</d:Scopes><d:XAddrs>http://127.0.0.1/onvif/device_service</d:XAddrs></d:ProbeMatch></d:ProbeMatches></s:Body></s:Envelope>"#;
        let v = udp_reply(UdpProto::WsDiscovery, xml);
        assert_eq!(v.len(), 1);
        let ObservationKind::OnvifProbeMatch {
            scopes,
            types,
            xaddrs,
            endpoint,
        } = &v[0]
        else {
            panic!()
        };
        assert_eq!(scopes.len(), 2);
        assert_eq!(types, &["dn:NetworkVideoTransmitter", "tds:Device"]);
        assert_eq!(xaddrs, &["http://127.0.0.1/onvif/device_service"]);
        assert_eq!(endpoint.as_deref(), Some("urn:uuid:1"));
        // our own probe is not a match
        assert!(udp_reply(
            UdpProto::WsDiscovery,
            &crate::requests::ws_discovery_probe()
        )
        .is_empty());
        assert!(udp_reply(UdpProto::WsDiscovery, b"\xff\xfe garbage").is_empty());
    }

    #[test]
    fn binary_and_text_replies() {
        assert!(udp_reply(UdpProto::Dhip, &crate::requests::dhip_search_request()).is_empty());
        let mut r = crate::requests::dhip_search_request()[..32].to_vec();
        r.extend_from_slice(
            br#"{"method":"client.notifyDevInfo","params":{"deviceInfo":{"Vendor":"General"}}}"#,
        );
        assert_eq!(udp_reply(UdpProto::Dhip, &r).len(), 1);
        assert!(udp_reply(UdpProto::Dahua, &crate::requests::dahua_discovery_request()).is_empty());
        let mut b = vec![0xb3u8; 1];
        b.extend([0u8; 40]);
        assert_eq!(udp_reply(UdpProto::Dahua, &b).len(), 1);
        assert!(udp_reply(UdpProto::Sadp, &crate::requests::sadp_probe()).is_empty());
        assert_eq!(
            udp_reply(
                UdpProto::Sadp,
                b"<ProbeMatch><OEMInfo>N/A</OEMInfo></ProbeMatch>"
            )
            .len(),
            1
        );
        let s = udp_reply(UdpProto::Ssdp, b"HTTP/1.1 200 OK\r\nSERVER: Linux UPnP/1.0\r\nLOCATION: http://127.0.0.1/d.xml\r\n\r\n");
        let ObservationKind::Ssdp { headers, .. } = &s[0] else {
            panic!()
        };
        assert_eq!(
            headers.get("SERVER").map(String::as_str),
            Some("Linux UPnP/1.0")
        );
        assert!(udp_reply(UdpProto::Ssdp, &crate::requests::ssdp_msearch("x")).is_empty());
        assert!(udp_reply(UdpProto::Mdns, &crate::requests::mdns_query()).is_empty());
    }

    #[test]
    fn mdns_response() {
        use simple_dns::{rdata::*, Name, Packet, ResourceRecord, CLASS};
        let mut p = Packet::new_reply(0);
        let inst = Name::new_unchecked("AXIS M3045._axis-video._tcp.local");
        p.answers.push(ResourceRecord::new(
            Name::new("_axis-video._tcp.local").unwrap(),
            CLASS::IN,
            120,
            RData::PTR(PTR(inst.clone())),
        ));
        let mut txt = TXT::new();
        txt.add_string("macaddress=00408C123456").unwrap();
        p.additional_records
            .push(ResourceRecord::new(inst, CLASS::IN, 120, RData::TXT(txt)));
        let bytes = p.build_bytes_vec().unwrap();
        let v = udp_reply(UdpProto::Mdns, &bytes);
        assert_eq!(
            v,
            vec![ObservationKind::Mdns {
                service: "_axis-video._tcp.local".into(),
                instance: "AXIS M3045._axis-video._tcp.local".into(),
                txt: vec!["macaddress=00408C123456".into()],
            }]
        );
    }

    #[test]
    fn mdns_service_enumeration_keeps_the_types() {
        use simple_dns::{rdata::*, Name, Packet, ResourceRecord, CLASS};
        let mut p = Packet::new_reply(0);
        for t in ["_axis-video._tcp.local", "_http._tcp.local"] {
            p.answers.push(ResourceRecord::new(
                Name::new("_services._dns-sd._udp.local").unwrap(),
                CLASS::IN,
                120,
                RData::PTR(PTR(Name::new(t).unwrap())),
            ));
        }
        let v = udp_reply(UdpProto::Mdns, &p.build_bytes_vec().unwrap());
        assert_eq!(v.len(), 2);
        assert!(
            matches!(&v[0], ObservationKind::Mdns { service, instance, .. } if service == "_axis-video._tcp.local" && instance.is_empty())
        );
    }

    #[test]
    fn onvif_info() {
        let xml = br#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:tds="http://www.onvif.org/ver10/device/wsdl"><s:Body><tds:GetDeviceInformationResponse><tds:Manufacturer>AXIS</tds:Manufacturer><tds:Model>P1448-LE</tds:Model><tds:FirmwareVersion>10.12</tds:FirmwareVersion><tds:SerialNumber>ACCC</tds:SerialNumber><tds:HardwareId>7A1</tds:HardwareId></tds:GetDeviceInformationResponse></s:Body></s:Envelope>"#;
        let ObservationKind::OnvifDeviceInfo {
            manufacturer,
            model,
            ..
        } = onvif_device_info(xml).unwrap()
        else {
            panic!()
        };
        assert_eq!(
            (manufacturer.as_str(), model.as_str()),
            ("AXIS", "P1448-LE")
        );
        assert!(
            onvif_device_info(b"<s:Envelope><s:Body><s:Fault/></s:Body></s:Envelope>").is_none()
        );
    }
}
