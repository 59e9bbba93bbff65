//! Discovery requests as they go on the wire (facts: `shared/facts/protocols.md` 2.1-2.4).
//!
//! These are read-only inquiries. Nothing here logs in, changes settings or exercises a known
//! vulnerability (no POST to `/SDK/webLanguage`, no RPC2 login).

pub const SADP_PORT: u16 = 37020;
pub const DHIP_PORT: u16 = 37810;
pub const DAHUA_PORT: u16 = 5050;
pub const WSD_PORT: u16 = 3702;
pub const SSDP_PORT: u16 = 1900;
pub const MDNS_PORT: u16 = 5353;

pub const WSD_GROUP_V4: &str = "239.255.255.250";
pub const SADP_GROUP_V4: &str = "239.255.255.250";
pub const DHIP_GROUP_V4: &str = "239.255.255.251";
pub const SSDP_GROUP_V4: &str = "239.255.255.250";
pub const MDNS_GROUP_V4: &str = "224.0.0.251";

fn uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Hikvision SADP inquiry (UDP 37020); the bytes come from `camtrace_identify`'s builders.
pub fn sadp_probe() -> Vec<u8> {
    camtrace_identify::parse::sadp_probe(&uuid().to_uppercase()).into_bytes()
}

/// Dahua DHIP `DHDiscover.search` (UDP 37810): 32-byte header then JSON.
pub fn dhip_search_request() -> Vec<u8> {
    camtrace_identify::parse::dhip_search_request()
}

/// The older Dahua binary discovery request (UDP 5050), 32 bytes.
pub fn dahua_discovery_request() -> Vec<u8> {
    camtrace_identify::parse::dahua_discovery_request().to_vec()
}

/// ONVIF WS-Discovery Probe with no type filter, so every WS-Discovery device answers (printers
/// and computers too: their Types are evidence that a host is *not* a camera). The
/// `camtrace_identify` builder filters on NetworkVideoTransmitter, which hides those.
pub fn ws_discovery_probe() -> Vec<u8> {
    format!(
        concat!(
            r#"<?xml version="1.0" encoding="UTF-8"?>"#,
            r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" "#,
            r#"xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" "#,
            r#"xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery">"#,
            r#"<s:Header><a:Action s:mustUnderstand="1">http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe</a:Action>"#,
            r#"<a:MessageID>urn:uuid:{}</a:MessageID>"#,
            r#"<a:ReplyTo><a:Address>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:Address></a:ReplyTo>"#,
            r#"<a:To s:mustUnderstand="1">urn:schemas-xmlsoap-org:ws:2005:04:discovery</a:To></s:Header>"#,
            r#"<s:Body><d:Probe/></s:Body></s:Envelope>"#
        ),
        uuid()
    )
    .into_bytes()
}

/// SSDP M-SEARCH for everything; `host` is the HOST header (`239.255.255.250:1900` for multicast,
/// the target for unicast).
pub fn ssdp_msearch(host: &str) -> Vec<u8> {
    format!(
        "M-SEARCH * HTTP/1.1\r\nHOST: {host}\r\nMAN: \"ssdp:discover\"\r\nMX: 1\r\nST: ssdp:all\r\nUSER-AGENT: camtrace/{} UPnP/1.1\r\n\r\n",
        env!("CARGO_PKG_VERSION")
    )
    .into_bytes()
}

/// Service types asked for over mDNS: the DNS-SD meta query plus the camera-relevant ones.
pub const MDNS_SERVICES: &[&str] = &[
    "_services._dns-sd._udp.local",
    "_axis-video._tcp.local",
    "_rtsp._tcp.local",
    "_onvif._tcp.local",
    "_http._tcp.local",
];

/// An mDNS PTR query (several questions, unicast-response bit set).
pub fn mdns_query() -> Vec<u8> {
    mdns_query_for(MDNS_SERVICES)
}

/// An mDNS PTR query for the given service types.
pub fn mdns_query_for(services: &[&str]) -> Vec<u8> {
    use simple_dns::{Name, Packet, Question, CLASS, QCLASS, QTYPE, TYPE};
    let mut p = Packet::new_query(0);
    for s in services {
        if let Ok(name) = Name::new(s) {
            p.questions.push(Question::new(
                name,
                QTYPE::TYPE(TYPE::PTR),
                QCLASS::CLASS(CLASS::IN),
                true,
            ));
        }
    }
    p.build_bytes_vec().unwrap_or_default()
}

/// Credentials for ONVIF WS-UsernameToken. `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    pub user: String,
    pub password: String,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Credential {{ user: {:?}, password: <redacted> }}",
            self.user
        )
    }
}

/// Parse a credentials file: one `user:password` per line, `#` comments, blank lines ignored.
pub fn parse_credentials(text: &str) -> Result<Vec<Credential>, String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let l = line.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let (u, p) = l
            .split_once(':')
            .ok_or_else(|| format!("line {}: expected user:password", i + 1))?;
        out.push(Credential {
            user: u.to_string(),
            password: p.to_string(),
        });
    }
    Ok(out)
}

/// ONVIF `GetDeviceInformation` SOAP 1.2 request, optionally with a WS-UsernameToken
/// (PasswordDigest, fresh random nonce, current time); built by `camtrace_identify`.
pub fn onvif_get_device_information_request(cred: Option<&Credential>) -> Vec<u8> {
    let nonce = *uuid::Uuid::new_v4().as_bytes();
    let created = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    camtrace_identify::parse::onvif_get_device_information_request(
        cred.map(|c| (c.user.as_str(), c.password.as_str())),
        &nonce,
        &created,
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dhip_header_layout() {
        let v = dhip_search_request();
        assert_eq!(&v[..8], &[0x20, 0, 0, 0, b'D', b'H', b'I', b'P']);
        let len = u32::from_le_bytes(v[16..20].try_into().unwrap()) as usize;
        assert_eq!(len, v.len() - 32);
        assert_eq!(&v[24..28], &v[16..20]);
        assert!(std::str::from_utf8(&v[32..])
            .unwrap()
            .contains("DHDiscover.search"));
    }

    #[test]
    fn other_requests() {
        let d = dahua_discovery_request();
        assert_eq!((d.len(), d[0], d[16]), (32, 0xa3, 0x02));
        let s = String::from_utf8(sadp_probe()).unwrap();
        assert!(s.contains("<Types>inquiry</Types>"));
        let w = String::from_utf8(ws_discovery_probe()).unwrap();
        assert!(roxmltree::Document::parse(&w).is_ok());
        assert!(w.contains("discovery/Probe"));
        let q = mdns_query();
        let p = simple_dns::Packet::parse(&q).unwrap();
        assert_eq!(p.questions.len(), MDNS_SERVICES.len());
        assert!(String::from_utf8(ssdp_msearch("127.0.0.1:1900"))
            .unwrap()
            .ends_with("\r\n\r\n"));
    }

    #[test]
    fn ws_username_token_never_carries_the_password() {
        let c = Credential {
            user: "admin".into(),
            password: "secret".into(),
        };
        assert!(format!("{c:?}").contains("redacted") && !format!("{c:?}").contains("secret"));
        let doc = String::from_utf8(onvif_get_device_information_request(Some(&c))).unwrap();
        assert!(roxmltree::Document::parse(&doc).is_ok());
        assert!(doc.contains("PasswordDigest") && doc.contains("<wsse:Username>admin<"));
        assert!(!doc.contains("secret"), "password never in clear");
        let anon = String::from_utf8(onvif_get_device_information_request(None)).unwrap();
        assert!(!anon.contains("wsse") && anon.contains("GetDeviceInformation"));
    }

    #[test]
    fn credential_files() {
        let c = parse_credentials("# x\nadmin:pa:ss\n\nroot:\n").unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].password, "pa:ss");
        assert!(parse_credentials("nocolon").is_err());
    }
}
