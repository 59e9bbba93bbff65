//! Request builders for the scanner and the lab: the exact bytes each discovery protocol expects.

use base64::Engine as _;
use sha1::{Digest, Sha1};

/// SADP inquiry (send to 239.255.255.250:37020 and/or 255.255.255.255:37020).
pub fn sadp_probe(uuid: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><Probe><Uuid>{}</Uuid><Types>inquiry</Types></Probe>",
        xml_escape(uuid)
    )
}

/// The JSON body of a DHIP discovery search.
pub const DHIP_SEARCH_BODY: &str =
    "{\"method\":\"DHDiscover.search\",\"params\":{\"mac\":\"\",\"uni\":1}}\n";

/// Wrap a JSON body in the 32-byte DHIP header.
pub fn dhip_frame(body: &[u8]) -> Vec<u8> {
    let len = u32::try_from(body.len()).unwrap_or(u32::MAX).to_le_bytes();
    let mut v = Vec::with_capacity(32 + body.len());
    v.extend_from_slice(&0x20u32.to_le_bytes());
    v.extend_from_slice(b"DHIP");
    v.extend_from_slice(&[0u8; 8]);
    v.extend_from_slice(&len);
    v.extend_from_slice(&[0u8; 4]);
    v.extend_from_slice(&len);
    v.extend_from_slice(&[0u8; 4]);
    v.extend_from_slice(body);
    v
}

/// DHIP discovery search datagram (send to 239.255.255.251:37810, or broadcast).
pub fn dhip_search_request() -> Vec<u8> {
    dhip_frame(DHIP_SEARCH_BODY.as_bytes())
}

/// The older Dahua binary discovery request (send to 255.255.255.255:5050).
pub fn dahua_discovery_request() -> [u8; 32] {
    let mut p = [0u8; 32];
    p[0] = 0xA3;
    p[1] = 0x01;
    p[3] = 0x01;
    p[16] = 0x02;
    p
}

/// A WS-Discovery Probe for ONVIF video transmitters (send to 239.255.255.250:3702 or FF02::C).
/// `message_id` is a UUID (without `urn:uuid:`).
pub fn ws_discovery_probe(message_id: &str) -> String {
    format!(
        concat!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>",
            "<s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\" ",
            "xmlns:a=\"http://schemas.xmlsoap.org/ws/2004/08/addressing\" ",
            "xmlns:d=\"http://schemas.xmlsoap.org/ws/2005/04/discovery\" ",
            "xmlns:dn=\"http://www.onvif.org/ver10/network/wsdl\">",
            "<s:Header>",
            "<a:Action s:mustUnderstand=\"1\">http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe</a:Action>",
            "<a:MessageID>urn:uuid:{}</a:MessageID>",
            "<a:ReplyTo><a:Address>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:Address></a:ReplyTo>",
            "<a:To s:mustUnderstand=\"1\">urn:schemas-xmlsoap-org:ws:2005:04:discovery</a:To>",
            "</s:Header>",
            "<s:Body><d:Probe><d:Types>dn:NetworkVideoTransmitter</d:Types></d:Probe></s:Body>",
            "</s:Envelope>"
        ),
        xml_escape(message_id)
    )
}

/// WS-Security UsernameToken PasswordDigest: Base64(SHA-1(nonce + created + password)).
pub fn ws_password_digest(nonce: &[u8], created: &str, password: &str) -> String {
    let mut h = Sha1::new();
    h.update(nonce);
    h.update(created.as_bytes());
    h.update(password.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(h.finalize())
}

/// An ONVIF GetDeviceInformation SOAP request (POST to the device service XAddr). With
/// credentials, a WS-UsernameToken with PasswordDigest is added; `nonce` (raw bytes, random in
/// production) and `created` (UTC, e.g. `2026-11-29T06:00:00Z`) are parameters so the request
/// is reproducible in tests. They are ignored without credentials.
pub fn onvif_get_device_information_request(
    credentials: Option<(&str, &str)>,
    nonce: &[u8],
    created: &str,
) -> String {
    let header = match credentials {
        Some((user, pass)) => format!(
            concat!(
                "<s:Header><wsse:Security s:mustUnderstand=\"1\" ",
                "xmlns:wsse=\"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd\" ",
                "xmlns:wsu=\"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd\">",
                "<wsse:UsernameToken><wsse:Username>{}</wsse:Username>",
                "<wsse:Password Type=\"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest\">{}</wsse:Password>",
                "<wsse:Nonce EncodingType=\"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary\">{}</wsse:Nonce>",
                "<wsu:Created>{}</wsu:Created></wsse:UsernameToken></wsse:Security></s:Header>"
            ),
            xml_escape(user),
            ws_password_digest(nonce, created, pass),
            base64::engine::general_purpose::STANDARD.encode(nonce),
            xml_escape(created)
        ),
        None => String::new(),
    };
    format!(
        concat!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>",
            "<s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\" ",
            "xmlns:tds=\"http://www.onvif.org/ver10/device/wsdl\">{}",
            "<s:Body><tds:GetDeviceInformation/></s:Body></s:Envelope>"
        ),
        header
    )
}

fn xml_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            c if (c as u32) < 0x20 && c != '\t' && c != '\n' && c != '\r' => {}
            c => o.push(c),
        }
    }
    o
}
