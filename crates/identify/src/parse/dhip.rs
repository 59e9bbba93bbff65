//! Dahua discovery: DHIP (UDP 37810, 32-byte header + JSON) and the older binary reply
//! (UDP 5050, magic 0xB3).

use crate::error::{cap, ParseError, Result};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::LazyLock;

/// Largest DHIP / Dahua discovery datagram accepted.
pub const MAX_DHIP: usize = 64 * 1024;
/// Size of the DHIP header.
pub const DHIP_HEADER: usize = 32;

/// The device information of a DHIP `client.notifyDevInfo` reply.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DhipReply {
    pub mac: Option<String>,
    pub method: Option<String>,
    /// Scalar fields of `params.deviceInfo` as text (`DeviceType`, `DeviceClass`, `Vendor`,
    /// `Version`, `SerialNo`, `MachineName`, `HttpPort`, `Port` ...); nested objects are flattened
    /// as `IPv4Address.IPAddress`.
    pub fields: BTreeMap<String, String>,
    /// The JSON was malformed and the fields were recovered leniently.
    pub lenient: bool,
}

impl DhipReply {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }
    pub fn device_type(&self) -> Option<&str> {
        self.get("DeviceType")
    }
    pub fn device_class(&self) -> Option<&str> {
        self.get("DeviceClass")
    }
    pub fn vendor(&self) -> Option<&str> {
        self.get("Vendor")
    }
    pub fn version(&self) -> Option<&str> {
        self.get("Version")
    }
    pub fn serial_no(&self) -> Option<&str> {
        self.get("SerialNo")
    }
    pub fn machine_name(&self) -> Option<&str> {
        self.get("MachineName")
    }
}

fn u32le(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(a)
}

/// Parse a whole DHIP datagram: validate the 32-byte header (size 0x20, magic `DHIP`, body
/// length within the datagram) and parse the JSON body.
pub fn dhip(data: &[u8]) -> Result<DhipReply> {
    cap(data.len(), MAX_DHIP)?;
    if data.len() < DHIP_HEADER {
        return Err(ParseError::BadHeader(format!(
            "{} bytes, shorter than the {DHIP_HEADER}-byte DHIP header",
            data.len()
        )));
    }
    if u32le(data, 0) != 0x20 || &data[4..8] != b"DHIP" {
        return Err(ParseError::NotThisProtocol("DHIP"));
    }
    let len = u32le(data, 16) as usize;
    let avail = data.len() - DHIP_HEADER;
    if len > avail {
        return Err(ParseError::BadHeader(format!(
            "body length {len} is longer than the {avail} bytes that follow the header"
        )));
    }
    let body = &data[DHIP_HEADER..DHIP_HEADER + len];
    dhip_json(&String::from_utf8_lossy(body))
}

fn flatten(prefix: &str, v: &serde_json::Value, out: &mut BTreeMap<String, String>, depth: usize) {
    if depth > 4 || out.len() > 256 {
        return;
    }
    if let serde_json::Value::Object(m) = v {
        for (k, v) in m {
            let key = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            match v {
                serde_json::Value::String(s) => {
                    out.insert(key, s.clone());
                }
                serde_json::Value::Number(n) => {
                    out.insert(key, n.to_string());
                }
                serde_json::Value::Bool(b) => {
                    out.insert(key, b.to_string());
                }
                serde_json::Value::Object(_) => flatten(&key, v, out, depth + 1),
                _ => {}
            }
        }
    }
}

static LENIENT: LazyLock<regex::Regex> = LazyLock::new(|| {
    regex::Regex::new(
        r#""([A-Za-z0-9_]{1,64})"\s*:\s*(?:"([^"]{0,512})"|(-?[0-9]{1,20}|true|false))"#,
    )
    .expect("static regex")
});

/// Parse the JSON part of a DHIP reply (what the `payload` field of a `dhip` observation holds).
/// Malformed JSON (seen in the wild: an unterminated string) is recovered leniently when the
/// text still looks like a DHIP reply.
pub fn dhip_json(text: &str) -> Result<DhipReply> {
    cap(text.len(), MAX_DHIP)?;
    let text = text.trim_end_matches(['\0', '\n', '\r', ' ']);
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(v) => {
            let obj = v.as_object().ok_or(ParseError::NotThisProtocol("DHIP"))?;
            let info = obj
                .get("params")
                .and_then(|p| p.get("deviceInfo"))
                .ok_or(ParseError::Missing("params.deviceInfo"))?;
            let mut fields = BTreeMap::new();
            flatten("", info, &mut fields, 0);
            Ok(DhipReply {
                mac: obj.get("mac").and_then(|m| m.as_str()).map(str::to_string),
                method: obj
                    .get("method")
                    .and_then(|m| m.as_str())
                    .map(str::to_string),
                fields,
                lenient: false,
            })
        }
        Err(e) => {
            if !text.contains("deviceInfo") {
                return Err(ParseError::Json(e.to_string()));
            }
            let mut r = DhipReply {
                lenient: true,
                ..Default::default()
            };
            for c in LENIENT.captures_iter(text).take(256) {
                let k = c[1].to_string();
                let v = c
                    .get(2)
                    .or(c.get(3))
                    .map(|m| m.as_str().trim().trim_end_matches([',', ' ']).to_string())
                    .unwrap_or_default();
                match k.as_str() {
                    "mac" => r.mac = Some(v),
                    "method" => r.method = Some(v),
                    _ => {
                        r.fields.entry(k).or_insert(v);
                    }
                }
            }
            if r.fields.is_empty() {
                return Err(ParseError::Json(e.to_string()));
            }
            Ok(r)
        }
    }
}

/// The older Dahua binary discovery reply (UDP 5050, first byte 0xB3).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DahuaDiscoveryReply {
    /// Machine name from the binary part.
    pub machine_name: Option<String>,
    /// IPv4 address, mask and gateway from the binary part, dotted.
    pub ipv4: Option<String>,
    pub mask: Option<String>,
    pub gateway: Option<String>,
    pub mac: Option<String>,
    /// The text directly after the MAC, before the first `Key:` (the device model).
    pub model: Option<String>,
    /// `Key:value` lines of the text part (`Name`, `Device`, `SerialNo`, `IPv6Addr` ...).
    pub fields: BTreeMap<String, String>,
}

fn cstr(b: &[u8]) -> Option<String> {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    let s = String::from_utf8_lossy(&b[..end]).trim().to_string();
    (!s.is_empty() && s.chars().all(|c| !c.is_control())).then_some(s)
}

fn ip(b: &[u8]) -> String {
    format!("{}.{}.{}.{}", b[0], b[1], b[2], b[3])
}

/// Parse the older Dahua binary discovery reply: 32-byte header (magic 0xB3, binary length at
/// offset 4), a binary block (machine name at 0x28, IPv4/mask/gateway at 0x38), then text: the
/// MAC, the model, and `Key:value` lines.
pub fn dahua_discovery(data: &[u8]) -> Result<DahuaDiscoveryReply> {
    cap(data.len(), MAX_DHIP)?;
    if data.len() < 32 {
        return Err(ParseError::BadHeader(format!(
            "{} bytes, shorter than the 32-byte header",
            data.len()
        )));
    }
    if data[0] != 0xB3 {
        return Err(ParseError::NotThisProtocol("Dahua discovery reply (0xB3)"));
    }
    let bin = u32le(data, 4) as usize;
    let text_at = 32usize
        .checked_add(bin)
        .filter(|&t| t <= data.len())
        .ok_or_else(|| {
            ParseError::BadHeader(format!(
                "binary length {bin} runs past the {}-byte datagram",
                data.len()
            ))
        })?;
    let mut r = DahuaDiscoveryReply::default();
    if text_at >= 0x44 {
        r.machine_name = cstr(&data[0x28..0x38]);
        r.ipv4 = Some(ip(&data[0x38..0x3c]));
        r.mask = Some(ip(&data[0x3c..0x40]));
        r.gateway = Some(ip(&data[0x40..0x44]));
    }
    let text = String::from_utf8_lossy(&data[text_at..]);
    let mut rest: &str = &text;
    if rest.len() >= 17 && rest.is_char_boundary(17) {
        let m = &rest[..17];
        if m.split(':').count() == 6
            && m.split(':')
                .all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit()))
        {
            r.mac = Some(m.to_string());
            rest = &rest[17..];
        }
    }
    for (i, line) in rest.split(['\r', '\n']).enumerate().take(128) {
        let mut line = line.trim_matches('\0').trim();
        if line.is_empty() {
            continue;
        }
        if i == 0 {
            // The model runs straight into the first key (`VirtualName:Dahua`).
            if let Some(p) = line.find("Name:") {
                let model = line[..p].trim();
                if !model.is_empty() {
                    r.model = Some(model.to_string());
                }
                line = &line[p..];
            } else if !line.contains(':') {
                r.model = Some(line.to_string());
                continue;
            }
        }
        if let Some((k, v)) = line.split_once(':') {
            let k = k.trim();
            if !k.is_empty()
                && k.len() <= 64
                && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            {
                r.fields
                    .entry(k.to_string())
                    .or_insert_with(|| v.trim().to_string());
            }
        }
    }
    if r.mac.is_none() && r.fields.is_empty() && r.machine_name.is_none() {
        return Err(ParseError::Missing("device fields"));
    }
    Ok(r)
}
