//! ONVIF: WS-Discovery ProbeMatches and GetDeviceInformation replies.

use super::xml::{self, Node};
use crate::error::{ParseError, Result};
use serde::Serialize;

/// One WS-Discovery `ProbeMatch`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ProbeMatch {
    /// `EndpointReference/Address` (e.g. `urn:uuid:...`).
    pub endpoint: Option<String>,
    /// Types as written (`dn:NetworkVideoTransmitter`, `tds:Device`, `wprt:PrintDeviceType` ...).
    pub types: Vec<String>,
    /// Scope URIs, percent-decoded (`onvif://www.onvif.org/name/HIKVISION DS-2CD2143G0-I`).
    pub scopes: Vec<String>,
    pub xaddrs: Vec<String>,
    pub metadata_version: Option<String>,
}

const ONVIF_SCOPE: &str = "onvif://www.onvif.org/";

impl ProbeMatch {
    /// Values of ONVIF scopes of one category (`name`, `hardware`, `location`, `type`, `MAC`,
    /// `Profile` ...), compared case-insensitively; for `location` the rest of the path.
    pub fn scope_values<'a>(&'a self, category: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.scopes.iter().filter_map(move |s| {
            let rest = strip_prefix_ci(s, ONVIF_SCOPE)?;
            let (cat, val) = rest.split_once('/')?;
            cat.eq_ignore_ascii_case(category).then_some(val)
        })
    }
    /// Whether the types name a video device (`NetworkVideoTransmitter`, `NetworkVideoDisplay`,
    /// `Device` of the ONVIF device namespace).
    pub fn is_video(&self) -> bool {
        self.types.iter().any(|t| {
            let l = local_type(t);
            l.eq_ignore_ascii_case("NetworkVideoTransmitter")
                || l.eq_ignore_ascii_case("NetworkVideoDisplay")
                || l.eq_ignore_ascii_case("NetworkVideoStorage")
        })
    }
    /// Whether the types name a printer or a computer (which also answer WS-Discovery).
    pub fn is_printer_or_computer(&self) -> bool {
        self.types.iter().any(|t| {
            let l = local_type(t);
            l.eq_ignore_ascii_case("PrintDeviceType")
                || l.eq_ignore_ascii_case("Computer")
                || l.eq_ignore_ascii_case("ScanDeviceType")
        })
    }
}

fn local_type(t: &str) -> &str {
    t.rsplit(':').next().unwrap_or(t)
}

#[allow(dead_code)]
pub(crate) fn strip_prefix_ci<'a>(s: &'a str, p: &str) -> Option<&'a str> {
    (s.len() >= p.len() && s.is_char_boundary(p.len()) && s[..p.len()].eq_ignore_ascii_case(p))
        .then(|| &s[p.len()..])
}

/// Percent-decode a scope (invalid UTF-8 becomes U+FFFD).
pub fn decode_scope(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

fn words(n: Option<&Node>) -> Vec<String> {
    n.map(|n| {
        n.text
            .split_whitespace()
            .take(256)
            .map(str::to_string)
            .collect()
    })
    .unwrap_or_default()
}

/// Parse a WS-Discovery reply (a `ProbeMatches` envelope, or a `Hello`): every `ProbeMatch`
/// (or `Hello`) with its endpoint, types, decoded scopes and XAddrs. Printers and computers are
/// kept (see [`ProbeMatch::is_printer_or_computer`]) so the caller decides.
pub fn onvif_probe_matches(text: &str) -> Result<Vec<ProbeMatch>> {
    let root = xml::parse(text)?;
    if let Some(f) = root.find("Fault") {
        return Err(fault(f));
    }
    let mut nodes = Vec::new();
    root.find_all("ProbeMatch", &mut nodes);
    if nodes.is_empty() {
        root.find_all("Hello", &mut nodes);
    }
    if nodes.is_empty() {
        return Err(ParseError::Missing("ProbeMatch"));
    }
    Ok(nodes
        .into_iter()
        .take(64)
        .map(|n| ProbeMatch {
            endpoint: n
                .find("EndpointReference")
                .and_then(|e| e.child_text("Address")),
            types: words(n.child("Types")),
            scopes: words(n.child("Scopes"))
                .iter()
                .map(|s| decode_scope(s))
                .collect(),
            xaddrs: words(n.child("XAddrs")),
            metadata_version: n.child_text("MetadataVersion"),
        })
        .collect())
}

/// An ONVIF `GetDeviceInformationResponse`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct OnvifDeviceInfo {
    pub manufacturer: String,
    pub model: String,
    pub firmware_version: String,
    pub serial_number: String,
    pub hardware_id: String,
}

fn fault(f: &Node) -> ParseError {
    let mut codes = Vec::new();
    f.find_all("Value", &mut codes);
    let code = codes
        .iter()
        .map(|c| c.text.trim())
        .filter(|t| !t.is_empty())
        .collect::<Vec<_>>()
        .join(" / ");
    let code = if code.is_empty() {
        f.child_text("faultcode").unwrap_or_default()
    } else {
        code
    };
    let reason = f
        .find("Text")
        .map(|t| t.text.trim().to_string())
        .or_else(|| f.child_text("faultstring"))
        .unwrap_or_default();
    ParseError::SoapFault { code, reason }
}

/// Parse a GetDeviceInformation reply; a SOAP Fault (e.g. authentication refused) is an error.
pub fn onvif_device_info(text: &str) -> Result<OnvifDeviceInfo> {
    let root = xml::parse(text)?;
    if let Some(f) = root.find("Fault") {
        return Err(fault(f));
    }
    let r = root
        .find("GetDeviceInformationResponse")
        .ok_or(ParseError::Missing("GetDeviceInformationResponse"))?;
    let t = |n: &str| r.child_text(n).unwrap_or_default();
    Ok(OnvifDeviceInfo {
        manufacturer: t("Manufacturer"),
        model: t("Model"),
        firmware_version: t("FirmwareVersion"),
        serial_number: t("SerialNumber"),
        hardware_id: t("HardwareId"),
    })
}
