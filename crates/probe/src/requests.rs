//! Discovery requests as they go on the wire (facts: `shared/facts/protocols.md` 2.1-2.4).
//!
//! These are read-only inquiries. Nothing here logs in, changes settings or exercises a known
//! vulnerability (no POST to `/SDK/webLanguage`, no RPC2 login).

use base64::Engine as _;
use sha1::{Digest, Sha1};

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

/// Hikvision SADP inquiry (UDP 37020).
pub fn sadp_probe() -> Vec<u8> {
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><Probe><Uuid>{}</Uuid><Types>inquiry</Types></Probe>",
        uuid().to_uppercase()
    )
    .into_bytes()
}

/// Dahua DHIP `DHDiscover.search` (UDP 37810): 32-byte header then JSON.
pub fn dhip_search_request() -> Vec<u8> {
    let body = b"{\"method\":\"DHDiscover.search\",\"params\":{\"mac\":\"\",\"uni\":1}}\n";
    let len = (body.len() as u32).to_le_bytes();
    let mut v = Vec::with_capacity(32 + body.len());
    v.extend_from_slice(&0x20u32.to_le_bytes());
    v.extend_from_slice(b"DHIP");
    v.extend_from_slice(&[0; 8]);
    v.extend_from_slice(&len);
    v.extend_from_slice(&[0; 4]);
    v.extend_from_slice(&len);
    v.extend_from_slice(&[0; 4]);
    v.extend_from_slice(body);
    v
}

/// The older Dahua binary discovery request (UDP 5050), 32 bytes.
pub fn dahua_discovery_request() -> Vec<u8> {
    let mut v = vec![0u8; 32];
    v[..4].copy_from_slice(&[0xa3, 0x01, 0x00, 0x01]);
    v[16..20].copy_from_slice(&[0x02, 0x00, 0x00, 0x00]);
    v
}

/// ONVIF WS-Discovery Probe for network video transmitters and devices (UDP 3702).
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

/// WS-Security UsernameToken header with PasswordDigest = base64(sha1(nonce + created + password)).
pub fn username_token(c: &Credential, nonce: &[u8], created: &str) -> String {
    let mut h = Sha1::new();
    h.update(nonce);
    h.update(created.as_bytes());
    h.update(c.password.as_bytes());
    let digest = base64::engine::general_purpose::STANDARD.encode(h.finalize());
    let nonce_b64 = base64::engine::general_purpose::STANDARD.encode(nonce);
    format!(
        concat!(
            r#"<wsse:Security s:mustUnderstand="1" xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd" "#,
            r#"xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd">"#,
            r#"<wsse:UsernameToken><wsse:Username>{}</wsse:Username>"#,
            r#"<wsse:Password Type="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest">{}</wsse:Password>"#,
            r#"<wsse:Nonce EncodingType="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary">{}</wsse:Nonce>"#,
            r#"<wsu:Created>{}</wsu:Created></wsse:UsernameToken></wsse:Security>"#
        ),
        xml_escape(&c.user),
        digest,
        nonce_b64,
        created
    )
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// ONVIF `GetDeviceInformation` SOAP 1.2 request, optionally with a UsernameToken.
pub fn onvif_get_device_information_request(cred: Option<&Credential>) -> Vec<u8> {
    let header = match cred {
        Some(c) => {
            let nonce = *uuid::Uuid::new_v4().as_bytes();
            let created = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
            format!(
                "<s:Header>{}</s:Header>",
                username_token(c, &nonce, &created)
            )
        }
        None => String::new(),
    };
    format!(
        concat!(
            r#"<?xml version="1.0" encoding="UTF-8"?>"#,
            r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:tds="http://www.onvif.org/ver10/device/wsdl">"#,
            r#"{}<s:Body><tds:GetDeviceInformation/></s:Body></s:Envelope>"#
        ),
        header
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
    fn ws_username_token_digest_is_the_standard_one() {
        // Digest = base64(sha1(nonce + created + password)), computed independently here.
        let c = Credential {
            user: "admin".into(),
            password: "secret".into(),
        };
        let nonce = [1u8; 16];
        let created = "2026-11-29T05:00:00Z";
        let t = username_token(&c, &nonce, created);
        let mut h = Sha1::new();
        h.update([1u8; 16]);
        h.update(b"2026-11-29T05:00:00Z");
        h.update(b"secret");
        let want = base64::engine::general_purpose::STANDARD.encode(h.finalize());
        assert!(t.contains(&want));
        assert!(!t.contains("secret"), "password never in clear");
        assert!(format!("{c:?}").contains("redacted") && !format!("{c:?}").contains("secret"));
        let doc = String::from_utf8(onvif_get_device_information_request(Some(&c))).unwrap();
        assert!(roxmltree::Document::parse(&doc).is_ok());
    }

    #[test]
    fn credential_files() {
        let c = parse_credentials("# x\nadmin:pa:ss\n\nroot:\n").unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].password, "pa:ss");
        assert!(parse_credentials("nocolon").is_err());
    }
}
