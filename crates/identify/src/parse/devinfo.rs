//! Device-information documents: UPnP device description, Axis basicdeviceinfo (VAPIX JSON),
//! Hikvision ISAPI `/ISAPI/System/deviceInfo`, Dahua `magicBox.cgi` key=value text.

use super::xml;
use crate::error::{cap, ParseError, Result};
use serde::Serialize;
use std::collections::BTreeMap;

/// The `<device>` of a UPnP device description.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct UpnpDevice {
    pub device_type: Option<String>,
    pub friendly_name: Option<String>,
    pub manufacturer: Option<String>,
    pub manufacturer_url: Option<String>,
    pub model_description: Option<String>,
    pub model_name: Option<String>,
    pub model_number: Option<String>,
    pub model_url: Option<String>,
    pub serial_number: Option<String>,
    pub udn: Option<String>,
    pub presentation_url: Option<String>,
}

/// Parse a UPnP device description (`<root><device>...`).
pub fn upnp_description(text: &str) -> Result<UpnpDevice> {
    let root = xml::parse(text)?;
    let d = root.find("device").ok_or(ParseError::Missing("device"))?;
    Ok(UpnpDevice {
        device_type: d.child_text("deviceType"),
        friendly_name: d.child_text("friendlyName"),
        manufacturer: d.child_text("manufacturer"),
        manufacturer_url: d.child_text("manufacturerURL"),
        model_description: d.child_text("modelDescription"),
        model_name: d.child_text("modelName"),
        model_number: d.child_text("modelNumber"),
        model_url: d.child_text("modelURL"),
        serial_number: d.child_text("serialNumber"),
        udn: d.child_text("UDN"),
        presentation_url: d.child_text("presentationURL"),
    })
}

/// Axis VAPIX `basicdeviceinfo.cgi` reply: the `data.propertyList` strings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AxisDeviceInfo {
    /// `Brand`, `ProdFullName`, `ProdNbr`, `ProdType`, `Version`, `SerialNumber`, `HardwareID` ...
    pub properties: BTreeMap<String, String>,
}

impl AxisDeviceInfo {
    pub fn get(&self, k: &str) -> Option<&str> {
        self.properties
            .get(k)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }
    pub fn brand(&self) -> Option<&str> {
        self.get("Brand")
    }
    pub fn model(&self) -> Option<&str> {
        self.get("ProdNbr")
    }
    pub fn firmware(&self) -> Option<&str> {
        self.get("Version")
    }
    pub fn product_type(&self) -> Option<&str> {
        self.get("ProdType")
    }
}

/// Largest JSON document accepted by the device-info parsers.
pub const MAX_JSON: usize = 256 * 1024;

/// Parse an Axis `basicdeviceinfo.cgi` JSON reply.
pub fn axis_basic_device_info(json: &str) -> Result<AxisDeviceInfo> {
    cap(json.len(), MAX_JSON)?;
    let v: serde_json::Value =
        serde_json::from_str(json).map_err(|e| ParseError::Json(e.to_string()))?;
    let pl = v
        .get("data")
        .and_then(|d| d.get("propertyList"))
        .and_then(|p| p.as_object())
        .ok_or(ParseError::Missing("data.propertyList"))?;
    let properties = pl
        .iter()
        .take(256)
        .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
        .collect();
    Ok(AxisDeviceInfo { properties })
}

/// Hikvision ISAPI `DeviceInfo` (`/ISAPI/System/deviceInfo`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct HikDeviceInfo {
    /// Every child element: `deviceName`, `deviceID`, `model`, `serialNumber`, `macAddress`,
    /// `firmwareVersion`, `firmwareReleasedDate`, `encoderVersion`, `deviceType`,
    /// `manufacturer`, `OEMCode`, `marketType`, `customizedInfo` ...
    pub fields: BTreeMap<String, String>,
}

impl HikDeviceInfo {
    pub fn get(&self, k: &str) -> Option<&str> {
        self.fields
            .get(k)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }
    pub fn model(&self) -> Option<&str> {
        self.get("model")
    }
    pub fn firmware_version(&self) -> Option<&str> {
        self.get("firmwareVersion")
    }
    pub fn manufacturer(&self) -> Option<&str> {
        self.get("manufacturer")
    }
    pub fn oem_code(&self) -> Option<&str> {
        self.get("OEMCode")
    }
    pub fn device_type(&self) -> Option<&str> {
        self.get("deviceType")
    }
    pub fn serial_number(&self) -> Option<&str> {
        self.get("serialNumber")
    }
    pub fn mac_address(&self) -> Option<&str> {
        self.get("macAddress")
    }
}

/// Parse an ISAPI `DeviceInfo` XML document (root `DeviceInfo`).
pub fn hikvision_device_info_xml(text: &str) -> Result<HikDeviceInfo> {
    let root = xml::parse(text)?;
    if !root.name.eq_ignore_ascii_case("DeviceInfo") {
        return Err(ParseError::WrongRoot {
            expected: "DeviceInfo",
            found: root.name,
        });
    }
    let mut fields = BTreeMap::new();
    for c in root.children.iter().take(256) {
        fields
            .entry(c.name.clone())
            .or_insert_with(|| c.text.clone());
    }
    Ok(HikDeviceInfo { fields })
}

/// Parse Dahua `magicBox.cgi` output: `key=value` lines (`deviceType=IP4M-1041B`,
/// `serialNumber=...`, `updateSerial=IPC-AW46WN-S2`). Lines without `=` are ignored; no
/// `key=value` line at all is an error.
pub fn dahua_magicbox(text: &str) -> Result<BTreeMap<String, String>> {
    cap(text.len(), MAX_JSON)?;
    let mut m = BTreeMap::new();
    for line in text.lines().take(512) {
        if let Some((k, v)) = line.split_once('=') {
            let k = k.trim();
            if !k.is_empty()
                && k.len() <= 64
                && k.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._[]".contains(c))
            {
                m.entry(k.to_string())
                    .or_insert_with(|| v.trim().to_string());
            }
        }
    }
    if m.is_empty() {
        return Err(ParseError::NotThisProtocol("magicBox key=value"));
    }
    Ok(m)
}
