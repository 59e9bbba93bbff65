//! Device personalities: what an emulated device is (brand, maker, class, models, firmware, OUIs)
//! and how it answers each protocol (ports, HTTP routes, RTSP, ONVIF, discovery replies).
//!
//! Personalities are data: `data/personalities.toml`, embedded at build time. Strings are
//! templates: `{name}` is replaced with a per-device variable (see [`crate::identity`]).

use camtrace_model::DeviceClass;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::LabError;

const EMBEDDED: &str = include_str!("../data/personalities.toml");

/// TCP service kinds a personality can expose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TcpKind {
    /// HTTP/1.1 (routes, ONVIF device_service, UPnP description).
    Http,
    /// RTSP/1.0.
    Rtsp,
    /// Hikvision SDK/"control" port: sends the 16-byte greeting nmap's NULL probe matches.
    HikSdk,
    /// Dahua private protocol port (DVRIP, TCP 37777).
    DahuaDvrip,
    /// IPP over HTTP (printers).
    Ipp,
    /// Sends a fixed banner on connect (template), then closes after the peer writes.
    Banner,
    /// HTTP over TLS with a self-signed certificate carrying the personality's `tls` subject.
    Https,
}

/// UDP discovery responders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UdpKind {
    /// Hikvision SADP, UDP 37020.
    Sadp,
    /// Dahua DHIP discovery, UDP 37810.
    Dhip,
    /// Dahua older binary (DVRIP) discovery, UDP 5050.
    DahuaBin,
    /// WS-Discovery (ONVIF), UDP 3702.
    Wsd,
    /// SSDP M-SEARCH, UDP 1900.
    Ssdp,
    /// mDNS / DNS-SD, UDP 5353.
    Mdns,
}

impl UdpKind {
    pub fn port(self) -> u16 {
        match self {
            UdpKind::Sadp => 37020,
            UdpKind::Dhip => 37810,
            UdpKind::DahuaBin => 5050,
            UdpKind::Wsd => 3702,
            UdpKind::Ssdp => 1900,
            UdpKind::Mdns => 5353,
        }
    }

    /// The multicast group the protocol uses on a LAN (None: broadcast only).
    pub fn group(self) -> Option<std::net::Ipv4Addr> {
        use std::net::Ipv4Addr;
        match self {
            UdpKind::Sadp | UdpKind::Wsd | UdpKind::Ssdp => Some(Ipv4Addr::new(239, 255, 255, 250)),
            UdpKind::Dhip => Some(Ipv4Addr::new(239, 255, 255, 251)),
            UdpKind::Mdns => Some(Ipv4Addr::new(224, 0, 0, 251)),
            UdpKind::DahuaBin => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            UdpKind::Sadp => "sadp",
            UdpKind::Dhip => "dhip",
            UdpKind::DahuaBin => "dahua-bin",
            UdpKind::Wsd => "wsd",
            UdpKind::Ssdp => "ssdp",
            UdpKind::Mdns => "mdns",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TcpService {
    pub port: u16,
    pub kind: TcpKind,
    /// For `banner`: the text sent on connect (template).
    #[serde(default)]
    pub banner: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Personality {
    pub id: String,
    /// Canonical brand id (kb/brands), the name on the box. None for unbranded generic devices.
    #[serde(default)]
    pub brand: Option<String>,
    /// Canonical company id (kb/companies) that made firmware and hardware.
    #[serde(default)]
    pub maker: Option<String>,
    pub class: DeviceClass,
    /// Relative weight in a mixed estate.
    #[serde(default = "one")]
    pub weight: u32,
    /// Short description for humans.
    #[serde(default)]
    pub description: String,
    /// IEEE MA-L prefixes (6 hex digits) the MAC address is drawn from.
    pub oui: Vec<String>,
    pub models: Vec<String>,
    pub firmware: Vec<String>,
    /// Serial number template.
    pub serial: String,
    /// Extra template variables.
    #[serde(default)]
    pub vars: BTreeMap<String, String>,
    #[serde(default)]
    pub tcp: Vec<TcpService>,
    #[serde(default)]
    pub udp: Vec<UdpKind>,
    #[serde(default)]
    pub http: Option<HttpSpec>,
    #[serde(default)]
    pub rtsp: Option<RtspSpec>,
    #[serde(default)]
    pub onvif: Option<OnvifSpec>,
    #[serde(default)]
    pub sadp: Option<SadpSpec>,
    #[serde(default)]
    pub dhip: Option<DhipSpec>,
    #[serde(default)]
    pub ssdp: Option<SsdpSpec>,
    #[serde(default)]
    pub mdns: Option<MdnsSpec>,
    /// Certificate of `https` services.
    #[serde(default)]
    pub tls: Option<TlsSpec>,
    /// Where the facts behind this personality come from.
    #[serde(default)]
    pub source: String,
}

impl Personality {
    /// Check what the lab relies on (non-empty pick lists, well-formed OUIs).
    pub fn validate(&self) -> Result<(), LabError> {
        if self.models.is_empty() || self.firmware.is_empty() || self.oui.is_empty() {
            return Err(LabError::Personality(format!(
                "{}: models, firmware and oui must not be empty",
                self.id
            )));
        }
        for o in &self.oui {
            if o.len() != 6 || !o.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err(LabError::Personality(format!("{}: bad OUI {o:?}", self.id)));
            }
        }
        Ok(())
    }
}

fn one() -> u32 {
    1
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum AuthScheme {
    #[default]
    Digest,
    Basic,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSpec {
    /// `Server:` header (template); absent = no Server header.
    #[serde(default)]
    pub server: Option<String>,
    #[serde(default)]
    pub auth: AuthScheme,
    /// Realm for protected routes (template).
    #[serde(default = "default_realm")]
    pub realm: String,
    /// Extra headers on every response.
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    /// Status-line version: "1.0", "1.1" or "mirror" (answer with the request's version).
    #[serde(default = "v11")]
    pub version: String,
    /// Put `Date:` before `Server:` (App-webs, Hikvision-Webs style).
    #[serde(default)]
    pub date_first: bool,
    /// Send a `Date:` header.
    #[serde(default = "yes")]
    pub date: bool,
    /// chrono format of the `Date:` value (default RFC 7231, e.g. `Sun, 29 Nov 2026 05:00:00 GMT`).
    #[serde(default)]
    pub date_format: Option<String>,
    /// `WWW-Authenticate` header values for 401 replies (templates; `{nonce}` is fresh per reply).
    /// Default: one Digest or Basic challenge built from `auth` and `realm`.
    #[serde(default)]
    pub www_authenticate: Vec<String>,
    #[serde(default)]
    pub routes: Vec<Route>,
    /// Body served with 401 replies.
    #[serde(default)]
    pub unauthorized_body: Option<String>,
    /// 404 reply body.
    #[serde(default)]
    pub not_found_body: Option<String>,
}

fn default_realm() -> String {
    "device".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// Method to match (default: any of GET/HEAD, or POST when `method = "POST"`).
    #[serde(default)]
    pub method: Option<String>,
    /// Exact path (query string excluded), or a prefix ending in `*`.
    pub path: String,
    #[serde(default = "ok")]
    pub status: u16,
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    #[serde(default)]
    pub content_type: Option<String>,
    #[serde(default)]
    pub body: String,
    /// Route needs authentication: 401 unless valid credentials are given.
    #[serde(default)]
    pub auth: bool,
    /// Substring the query string must contain.
    #[serde(default)]
    pub query: Option<String>,
    /// Full response head (status line + headers, template; `{content_length}`, `{date}`,
    /// `{nonce}` available), sent byte for byte, then the body; the connection then closes.
    #[serde(default)]
    pub raw_head: Option<String>,
}

fn v11() -> String {
    "1.1".into()
}

fn yes() -> bool {
    true
}

fn ok() -> u16 {
    200
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RtspSpec {
    #[serde(default)]
    pub server: Option<String>,
    #[serde(default)]
    pub auth: AuthScheme,
    pub realm: String,
    #[serde(default = "default_public")]
    pub public: String,
    /// `WWW-Authenticate` values (templates with `{nonce}`); default built from `auth`/`realm`.
    #[serde(default)]
    pub www_authenticate: Vec<String>,
    /// Reply (template) to a request without CSeq (what nmap's RTSPRequest probe sends).
    #[serde(default)]
    pub bare: Option<String>,
    /// OPTIONS needs authentication too (reply 401).
    #[serde(default)]
    pub options_auth: bool,
}

fn default_public() -> String {
    "OPTIONS, DESCRIBE, PLAY, PAUSE, SETUP, TEARDOWN, SET_PARAMETER, GET_PARAMETER".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OnvifSpec {
    pub manufacturer: String,
    #[serde(default = "default_model_tpl")]
    pub model: String,
    #[serde(default = "default_model_tpl")]
    pub hardware_id: String,
    /// WS-Discovery Types value.
    #[serde(default = "default_types")]
    pub types: String,
    /// Scope URIs (templates), in the order the device lists them.
    pub scopes: Vec<String>,
    /// Path of the device service.
    #[serde(default = "default_onvif_path")]
    pub path: String,
    /// Serve the ONVIF device service over HTTP (false: WS-Discovery only, e.g. printers).
    #[serde(default = "yes")]
    pub device_service: bool,
}

fn default_model_tpl() -> String {
    "{model}".into()
}
fn default_types() -> String {
    "dn:NetworkVideoTransmitter tds:Device".into()
}
fn default_onvif_path() -> String {
    "/onvif/device_service".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SadpSpec {
    pub device_type: String,
    #[serde(default = "default_model_tpl")]
    pub description: String,
    pub sn: String,
    #[serde(default = "na")]
    pub oem_info: String,
    #[serde(default)]
    pub analog_channels: u32,
    #[serde(default = "one")]
    pub digital_channels: u32,
    #[serde(default)]
    pub disks: u32,
}

fn na() -> String {
    "N/A".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DhipSpec {
    pub vendor: String,
    /// DHIP `DeviceClass` (e.g. IPC, NVR).
    pub device_class: String,
    #[serde(default = "default_model_tpl")]
    pub device_type: String,
    #[serde(default = "default_model_tpl")]
    pub machine_name: String,
    #[serde(default = "one")]
    pub video_inputs: u32,
    #[serde(default)]
    pub remote_video_inputs: u32,
    /// Name line of the older binary discovery reply (5050).
    #[serde(default = "dahua_name")]
    pub bin_name: String,
}

fn dahua_name() -> String {
    "Dahua".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SsdpSpec {
    pub server: String,
    pub device_type: String,
    pub manufacturer: String,
    #[serde(default)]
    pub manufacturer_url: String,
    pub friendly_name: String,
    #[serde(default = "default_model_tpl")]
    pub model_name: String,
    #[serde(default)]
    pub model_description: String,
    #[serde(default = "default_desc_path")]
    pub location_path: String,
}

fn default_desc_path() -> String {
    "/rootDesc.xml".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSpec {
    /// Subject attributes in order: pairs of (CN|OU|O|L|ST|C, value template).
    pub subject: Vec<(String, String)>,
    /// Subject alternative names (templates); default none.
    #[serde(default)]
    pub san: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MdnsSpec {
    /// Service types, e.g. `_axis-video._tcp.local`.
    pub services: Vec<String>,
    /// Instance name (template).
    pub instance: String,
    /// TXT strings (templates).
    #[serde(default)]
    pub txt: Vec<String>,
    /// Host name label (template), `.local` appended.
    pub host: String,
    /// Which TCP kind's port the SRV record points to.
    #[serde(default = "http_kind")]
    pub port_of: TcpKind,
}

fn http_kind() -> TcpKind {
    TcpKind::Http
}

/// Deep-merge `over` into `base`: tables merge key by key, everything else is replaced.
fn merge(base: &mut toml::Table, over: toml::Table) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

/// Parse a personality table (the embedded one, or a user-supplied file). A personality with
/// `base = "<id>"` starts from that (earlier) personality and overrides what it lists; tables
/// such as `vars` and `http` merge key by key, arrays are replaced.
pub fn parse(text: &str) -> Result<Vec<Personality>, LabError> {
    let root: toml::Table =
        toml::from_str(text).map_err(|e| LabError::Personality(e.to_string()))?;
    let entries = match root.get("personality") {
        Some(toml::Value::Array(a)) => a.clone(),
        _ => return Err(LabError::Personality("no [[personality]] entries".into())),
    };
    let mut resolved: Vec<(String, toml::Table)> = Vec::new();
    let mut out = Vec::new();
    for e in entries {
        let toml::Value::Table(mut t) = e else {
            return Err(LabError::Personality(
                "personality entry is not a table".into(),
            ));
        };
        let id = t
            .get("id")
            .and_then(|v| v.as_str())
            .unwrap_or("?")
            .to_string();
        if let Some(base) = t.remove("base") {
            let base = base.as_str().unwrap_or("").to_string();
            let Some((_, b)) = resolved.iter().find(|(i, _)| *i == base) else {
                return Err(LabError::Personality(format!(
                    "{id}: base {base:?} is not defined before it"
                )));
            };
            let mut merged = b.clone();
            merge(&mut merged, t);
            t = merged;
        }
        let p: Personality = toml::Value::Table(t.clone())
            .try_into()
            .map_err(|e: toml::de::Error| LabError::Personality(format!("{id}: {e}")))?;
        p.validate()?;
        resolved.push((id, t));
        out.push(p);
    }
    Ok(out)
}

/// The built-in personalities.
pub fn builtin() -> Result<Vec<Personality>, LabError> {
    parse(EMBEDDED)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_table_parses_and_ids_are_unique() {
        let ps = parse(EMBEDDED).unwrap();
        assert!(ps.len() >= 16, "only {} personalities", ps.len());
        let mut ids: Vec<_> = ps.iter().map(|p| p.id.clone()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), ps.len());
    }

    /// The built-in personalities ship in the binary: every `source` cites a public source (or
    /// says it is unverified), never our internal reference files, and neither do the comments
    /// of the embedded table.
    #[test]
    fn builtin_table_cites_no_internal_reference() {
        // the knowledge base's own rule for what counts as an internal reference
        use camtrace_kb::internal_reference;
        for p in builtin().unwrap() {
            assert!(!p.source.trim().is_empty(), "{}: no source", p.id);
            assert_eq!(
                internal_reference(&p.source),
                None,
                "{}: source {:?} cites an internal reference file",
                p.id,
                p.source
            );
        }
        for (n, line) in EMBEDDED.lines().enumerate() {
            assert_eq!(
                internal_reference(line),
                None,
                "personalities.toml:{}: {line:?} cites an internal reference file",
                n + 1
            );
        }
    }
}

#[cfg(test)]
mod template_tests {
    use super::*;
    use rand::SeedableRng;

    /// Placeholders filled per response rather than per device.
    const LATE: &[&str] = &["nonce", "date", "content_length"];

    fn strings(p: &Personality) -> Vec<String> {
        let mut v = vec![p.serial.clone()];
        v.extend(p.vars.values().cloned());
        if let Some(h) = &p.http {
            v.extend(h.server.clone());
            v.push(h.realm.clone());
            v.extend(h.www_authenticate.clone());
            v.extend(h.unauthorized_body.clone());
            v.extend(h.not_found_body.clone());
            for r in &h.routes {
                v.push(r.body.clone());
                v.extend(r.raw_head.clone());
                v.extend(r.headers.iter().map(|(_, x)| x.clone()));
            }
        }
        if let Some(r) = &p.rtsp {
            v.extend(r.server.clone());
            v.push(r.realm.clone());
            v.extend(r.www_authenticate.clone());
            v.extend(r.bare.clone());
        }
        if let Some(o) = &p.onvif {
            v.extend([
                o.manufacturer.clone(),
                o.model.clone(),
                o.hardware_id.clone(),
                o.types.clone(),
            ]);
            v.extend(o.scopes.clone());
        }
        if let Some(s) = &p.sadp {
            v.extend([
                s.device_type.clone(),
                s.description.clone(),
                s.sn.clone(),
                s.oem_info.clone(),
            ]);
        }
        if let Some(d) = &p.dhip {
            v.extend([
                d.vendor.clone(),
                d.device_class.clone(),
                d.device_type.clone(),
                d.machine_name.clone(),
                d.bin_name.clone(),
            ]);
        }
        if let Some(s) = &p.ssdp {
            v.extend([
                s.server.clone(),
                s.device_type.clone(),
                s.manufacturer.clone(),
                s.friendly_name.clone(),
                s.model_name.clone(),
                s.model_description.clone(),
            ]);
        }
        if let Some(m) = &p.mdns {
            v.extend([m.instance.clone(), m.host.clone()]);
            v.extend(m.txt.clone());
        }
        if let Some(t) = &p.tls {
            v.extend(t.subject.iter().map(|(_, x)| x.clone()));
        }
        v
    }

    #[test]
    fn every_placeholder_is_a_known_variable() {
        let re = regex_lite_placeholders;
        for p in builtin().unwrap() {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
            let (_, mut vars) = crate::identity::generate(&p, &mut rng);
            crate::identity::set_address(
                &mut vars,
                "127.0.0.2".parse().unwrap(),
                "255.255.0.0".parse().unwrap(),
                "127.0.0.1".parse().unwrap(),
            );
            for k in [
                "http",
                "rtsp",
                "hik_sdk",
                "dahua_dvrip",
                "ipp",
                "https",
                "banner",
            ] {
                vars.set(&format!("port_{k}"), "1");
            }
            for s in strings(&p) {
                let out = vars.render(&s);
                for name in re(&out) {
                    assert!(
                        LATE.contains(&name.as_str()),
                        "{}: unknown placeholder {{{name}}} in {s:?}",
                        p.id
                    );
                }
            }
        }
    }

    /// `{lower_snake}` placeholders left in a string.
    fn regex_lite_placeholders(s: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut rest = s;
        while let Some(i) = rest.find('{') {
            let after = &rest[i + 1..];
            if let Some(j) = after.find('}') {
                let name = &after[..j];
                if !name.is_empty()
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
                    && name.as_bytes()[0].is_ascii_lowercase()
                {
                    out.push(name.to_string());
                }
            }
            rest = after;
        }
        out
    }
}
