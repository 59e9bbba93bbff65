//! Hikvision SADP (UDP 37020) discovery replies: `<ProbeMatch>` XML.

use super::xml;
use crate::error::{ParseError, Result};
use serde::Serialize;
use std::collections::BTreeMap;

/// Largest SADP reply accepted.
pub const MAX_SADP: usize = 64 * 1024;

/// A SADP `<ProbeMatch>` reply. Every child element is kept in `fields` (element name → text);
/// the common ones also have typed accessors.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SadpReply {
    pub fields: BTreeMap<String, String>,
}

impl SadpReply {
    /// Text of one element (exact element name, e.g. `DeviceDescription`).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }
    pub fn uuid(&self) -> Option<&str> {
        self.get("Uuid")
    }
    pub fn types(&self) -> Option<&str> {
        self.get("Types")
    }
    /// Numeric device type code (e.g. `44322`).
    pub fn device_type(&self) -> Option<&str> {
        self.get("DeviceType")
    }
    /// The model (e.g. `DS-7804HQH-K1`).
    pub fn device_description(&self) -> Option<&str> {
        self.get("DeviceDescription")
    }
    pub fn device_sn(&self) -> Option<&str> {
        self.get("DeviceSN")
    }
    pub fn mac(&self) -> Option<&str> {
        self.get("MAC")
    }
    pub fn ipv4_address(&self) -> Option<&str> {
        self.get("IPv4Address")
    }
    pub fn software_version(&self) -> Option<&str> {
        self.get("SoftwareVersion")
    }
    pub fn dsp_version(&self) -> Option<&str> {
        self.get("DSPVersion")
    }
    /// `N/A` on genuine Hikvision units; an OEM name otherwise.
    pub fn oem_info(&self) -> Option<&str> {
        self.get("OEMInfo")
    }
    pub fn command_port(&self) -> Option<u16> {
        self.get("CommandPort")?.trim().parse().ok()
    }
    pub fn http_port(&self) -> Option<u16> {
        self.get("HttpPort")?.trim().parse().ok()
    }
    pub fn analog_channels(&self) -> Option<u32> {
        self.get("AnalogChannelNum")?.trim().parse().ok()
    }
    pub fn digital_channels(&self) -> Option<u32> {
        self.get("DigitalChannelNum")?.trim().parse().ok()
    }
    pub fn activated(&self) -> Option<bool> {
        match self.get("Activated")?.trim() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        }
    }
}

/// Parse a SADP reply. The root must be `ProbeMatch`.
pub fn sadp(text: &str) -> Result<SadpReply> {
    crate::error::cap(text.len(), MAX_SADP)?;
    let root = xml::parse(text)?;
    if !root.name.eq_ignore_ascii_case("ProbeMatch") {
        return Err(ParseError::WrongRoot {
            expected: "ProbeMatch",
            found: root.name,
        });
    }
    let mut fields = BTreeMap::new();
    for c in root.children.iter().take(256) {
        fields
            .entry(c.name.clone())
            .or_insert_with(|| c.text.clone());
    }
    Ok(SadpReply { fields })
}
