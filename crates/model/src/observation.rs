//! Observations: raw evidence about one target, one JSON object per line.
//!
//! The format is the one in `docs/observation-format.md`: common fields `target`, `kind`, `time`,
//! `source`, plus fields per kind. Unknown fields are ignored; an unknown kind is kept as
//! [`ObservationKind::Unknown`] so the caller can warn and go on.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Longest observation line accepted (bytes). Longer lines are refused with a clear error.
pub const MAX_OBSERVATION_LINE: usize = 1 << 20;

#[derive(Debug, thiserror::Error)]
pub enum ObservationError {
    #[error("line is {0} bytes, longer than the {MAX_OBSERVATION_LINE}-byte limit")]
    TooLong(usize),
    #[error("not a JSON object: {0}")]
    Json(#[from] serde_json::Error),
    #[error("missing required field `{0}`")]
    Missing(&'static str),
    #[error("field `{field}` of kind `{kind}`: {reason}")]
    BadField {
        kind: String,
        field: &'static str,
        reason: String,
    },
}

/// One observation about one target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    pub target: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(flatten)]
    pub kind: ObservationKind,
}

/// HTTP headers keep their order and original case; look-ups are case-insensitive.
pub type Headers = BTreeMap<String, String>;

/// Case-insensitive header look-up.
pub fn header<'a>(headers: &'a Headers, name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ObservationKind {
    Mac {
        mac: String,
    },
    Http {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        port: Option<u16>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tls: Option<bool>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        path: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        status: Option<u16>,
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        headers: Headers,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        title: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        body: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        favicon_md5: Option<String>,
    },
    Rtsp {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        port: Option<u16>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        status: Option<u16>,
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        headers: Headers,
    },
    Tls {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        port: Option<u16>,
        #[serde(default)]
        subject: String,
        #[serde(default)]
        issuer: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        san: Vec<String>,
    },
    OnvifProbeMatch {
        #[serde(default)]
        scopes: Vec<String>,
        #[serde(default)]
        types: Vec<String>,
        #[serde(default)]
        xaddrs: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        endpoint: Option<String>,
    },
    OnvifDeviceInfo {
        #[serde(default)]
        manufacturer: String,
        #[serde(default)]
        model: String,
        #[serde(default)]
        firmware: String,
        #[serde(default)]
        serial: String,
        #[serde(default)]
        hardware_id: String,
    },
    Sadp {
        payload: String,
    },
    Dhip {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        payload_b64: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        payload: Option<String>,
    },
    DahuaDiscovery {
        payload_b64: String,
    },
    Ssdp {
        #[serde(default)]
        headers: Headers,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        description: Option<String>,
    },
    Mdns {
        #[serde(default)]
        service: String,
        #[serde(default)]
        instance: String,
        #[serde(default)]
        txt: Vec<String>,
    },
    Dhcp {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        vendor_class: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        hostname: Option<String>,
    },
    Telnet {
        banner: String,
    },
    Ftp {
        banner: String,
    },
    SnmpSysdescr {
        banner: String,
    },
    Dns {
        query: String,
    },
    /// An open TCP port with no further protocol evidence (from a port scan or nmap XML).
    Port {
        port: u16,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        protocol: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        banner: Option<String>,
    },
    /// A kind this version does not know; kept so callers can warn, never an error.
    #[serde(other)]
    Unknown,
}

impl ObservationKind {
    /// The `kind` keyword of this observation, as written in JSON.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Mac { .. } => "mac",
            Self::Http { .. } => "http",
            Self::Rtsp { .. } => "rtsp",
            Self::Tls { .. } => "tls",
            Self::OnvifProbeMatch { .. } => "onvif_probe_match",
            Self::OnvifDeviceInfo { .. } => "onvif_device_info",
            Self::Sadp { .. } => "sadp",
            Self::Dhip { .. } => "dhip",
            Self::DahuaDiscovery { .. } => "dahua_discovery",
            Self::Ssdp { .. } => "ssdp",
            Self::Mdns { .. } => "mdns",
            Self::Dhcp { .. } => "dhcp",
            Self::Telnet { .. } => "telnet",
            Self::Ftp { .. } => "ftp",
            Self::SnmpSysdescr { .. } => "snmp_sysdescr",
            Self::Dns { .. } => "dns",
            Self::Port { .. } => "port",
            Self::Unknown => "unknown",
        }
    }
}

impl Observation {
    /// Parse one JSON Lines line, refusing lines over [`MAX_OBSERVATION_LINE`].
    ///
    /// An unknown `kind` parses as [`ObservationKind::Unknown`]; a known kind with a field of the
    /// wrong type is an error that names the field.
    pub fn from_json_line(line: &str) -> Result<Self, ObservationError> {
        if line.len() > MAX_OBSERVATION_LINE {
            return Err(ObservationError::TooLong(line.len()));
        }
        // A well-formed line parses straight into the observation (half the work of going
        // through a `Value`); anything else takes the path below, whose errors name what is
        // wrong.
        if let Ok(o) = serde_json::from_str::<Observation>(line) {
            return Ok(o);
        }
        let value: serde_json::Value = serde_json::from_str(line)?;
        let obj = value.as_object().ok_or_else(|| {
            ObservationError::Json(serde::de::Error::custom("expected an object"))
        })?;
        if !obj.contains_key("target") {
            return Err(ObservationError::Missing("target"));
        }
        if !obj.contains_key("kind") {
            return Err(ObservationError::Missing("kind"));
        }
        Ok(serde_json::from_value(value)?)
    }

    pub fn new(target: impl Into<String>, kind: ObservationKind) -> Self {
        Self {
            target: target.into(),
            time: None,
            source: None,
            kind,
        }
    }

    pub fn with_source(mut self, source: impl Into<String>) -> Self {
        self.source = Some(source.into());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_kind_of_the_format() {
        let lines = [
            r#"{"target":"a","kind":"mac","mac":"44:19:b6:01:02:03"}"#,
            r#"{"target":"a","kind":"http","port":80,"status":200,"headers":{"Server":"App-webs/"},"title":"","body":"x"}"#,
            r#"{"target":"a","kind":"rtsp","port":554,"status":401,"headers":{"Server":"Dahua Rtsp Server"}}"#,
            r#"{"target":"a","kind":"tls","port":443,"subject":"CN=x","issuer":"CN=y","san":["a"]}"#,
            r#"{"target":"a","kind":"onvif_probe_match","scopes":["onvif://www.onvif.org/name/X"],"types":[],"xaddrs":[]}"#,
            r#"{"target":"a","kind":"onvif_device_info","manufacturer":"AXIS","model":"P","firmware":"1","serial":"s","hardware_id":"h"}"#,
            r#"{"target":"a","kind":"sadp","payload":"<ProbeMatch/>"}"#,
            r#"{"target":"a","kind":"dhip","payload":"{}"}"#,
            r#"{"target":"a","kind":"dahua_discovery","payload_b64":"AAAA"}"#,
            r#"{"target":"a","kind":"ssdp","headers":{"SERVER":"Linux"}}"#,
            r#"{"target":"a","kind":"mdns","service":"_axis-video._tcp.local","instance":"i","txt":["macaddress=1"]}"#,
            r#"{"target":"a","kind":"dhcp","vendor_class":"udhcp 1.2","hostname":"cam"}"#,
            r#"{"target":"a","kind":"telnet","banner":"192.0.0.64 login:"}"#,
            r#"{"target":"a","kind":"snmp_sysdescr","banner":"x"}"#,
            r#"{"target":"a","kind":"dns","query":"litedev.ezvizlife.com"}"#,
        ];
        for l in lines {
            let o = Observation::from_json_line(l).unwrap_or_else(|e| panic!("{l}: {e}"));
            assert_ne!(o.kind, ObservationKind::Unknown, "{l}");
            let back = serde_json::to_string(&o).unwrap();
            assert_eq!(Observation::from_json_line(&back).unwrap(), o);
        }
    }

    #[test]
    fn unknown_kind_is_kept_not_an_error() {
        let o = Observation::from_json_line(r#"{"target":"a","kind":"lorawan","x":1}"#).unwrap();
        assert_eq!(o.kind, ObservationKind::Unknown);
    }

    #[test]
    fn missing_target_and_bad_types_are_clear_errors() {
        let e = Observation::from_json_line(r#"{"kind":"mac","mac":"x"}"#).unwrap_err();
        assert!(e.to_string().contains("target"), "{e}");
        assert!(
            Observation::from_json_line(r#"{"target":"a","kind":"http","port":"eighty"}"#).is_err()
        );
        assert!(Observation::from_json_line("[1,2]").is_err());
        let long = "x".repeat(MAX_OBSERVATION_LINE + 1);
        assert!(matches!(
            Observation::from_json_line(&long),
            Err(ObservationError::TooLong(_))
        ));
    }

    #[test]
    fn a_repeated_key_keeps_its_last_value_as_before() {
        // The direct parse refuses duplicate fields; the `Value` path it falls back to keeps
        // the last one, as every earlier release did.
        let o = Observation::from_json_line(
            r#"{"target":"a","target":"b","kind":"mac","mac":"00:00:00:00:00:01","mac":"00:00:00:00:00:02"}"#,
        )
        .unwrap();
        assert_eq!(o.target, "b");
        assert_eq!(
            o.kind,
            ObservationKind::Mac {
                mac: "00:00:00:00:00:02".into()
            }
        );
    }

    #[test]
    fn header_lookup_ignores_case() {
        let mut h = Headers::new();
        h.insert("Server".into(), "App-webs/".into());
        assert_eq!(header(&h, "server"), Some("App-webs/"));
        assert_eq!(header(&h, "SERVER"), Some("App-webs/"));
        assert_eq!(header(&h, "Date"), None);
    }
}
