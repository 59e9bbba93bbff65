//! Identifications: what camtrace concluded about one target, and why.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A reference to a knowledge-base entry: its stable id and display name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct NamedRef {
    pub id: String,
    pub name: String,
}

impl NamedRef {
    pub fn new(id: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            name: name.into(),
        }
    }
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum DeviceClass {
    Camera,
    Recorder,
    /// A video encoder (video server): puts analogue cameras on the network as streams.
    Encoder,
    Vms,
    Intercom,
    AccessControl,
    Other,
    #[default]
    Unknown,
}

impl DeviceClass {
    pub const ALL: [DeviceClass; 8] = [
        Self::Camera,
        Self::Recorder,
        Self::Encoder,
        Self::Vms,
        Self::Intercom,
        Self::AccessControl,
        Self::Other,
        Self::Unknown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Camera => "camera",
            Self::Recorder => "recorder",
            Self::Encoder => "encoder",
            Self::Vms => "vms",
            Self::Intercom => "intercom",
            Self::AccessControl => "access_control",
            Self::Other => "other",
            Self::Unknown => "unknown",
        }
    }

    /// Surveillance equipment in the sense of the regimes (cameras, recorders, video encoders,
    /// VMS, intercoms, access control). An encoder carries the video of the cameras behind it.
    pub fn is_surveillance(self) -> bool {
        matches!(
            self,
            Self::Camera
                | Self::Recorder
                | Self::Encoder
                | Self::Vms
                | Self::Intercom
                | Self::AccessControl
        )
    }
}

impl fmt::Display for DeviceClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for DeviceClass {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|c| c.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                format!(
                    "unknown device class `{s}` (expected one of: camera, recorder, encoder, vms, intercom, access_control, other, unknown)"
                )
            })
    }
}

/// One piece of evidence behind a claim: which probe or observation, which bytes or fields,
/// which signature, and where the signature's fact comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// Observation kind (`http`, `sadp`, `mac`, ...) or `conflict` / `kb` for derived evidence.
    pub kind: String,
    /// What was seen, quoted (e.g. `Server: App-webs/`).
    pub detail: String,
    /// The knowledge-base signature id that matched (empty when none).
    pub signature: String,
    /// Where the signature or fact comes from (knowledge-base file and its cited source).
    pub source: String,
    /// What this evidence supports: `maker`, `brand`, `model`, `firmware`, `class`, `call_home`, `conflict`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub proves: Vec<String>,
    /// Strength of this evidence, 0..1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<f64>,
}

/// A part inside the device made by another company than the device's maker (e.g. a HiSilicon
/// SoC in a camera of another brand), with the evidence that shows it. A component claim never
/// names the maker: a regime may still treat equipment with a component from a listed company
/// differently (NDAA s. 889 speaks of covered equipment "as a substantial or essential component
/// of any system").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Component {
    /// What the part is (`SoC`).
    pub role: String,
    /// The company that made the part (knowledge-base company id and name).
    pub company: NamedRef,
    /// The part maker's parent chain, nearest first (e.g. Huawei for HiSilicon).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parents: Vec<NamedRef>,
    /// One line for people: `SoC by HiSilicon, a subsidiary of Huawei`.
    pub summary: String,
    /// Confidence in the claim, 0..1.
    pub confidence: f64,
    /// The evidence for this claim (also listed in the identification's `evidence`).
    pub evidence: Vec<Evidence>,
}

/// The identification of one target (output format of `camtrace identify`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Identification {
    pub target: String,
    pub brand: Option<NamedRef>,
    pub maker: Option<NamedRef>,
    pub model: Option<String>,
    pub firmware: Option<String>,
    pub device_class: DeviceClass,
    /// Confidence in the maker (or, without a maker, in the class), 0..1.
    pub confidence: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
    /// Cloud services the device called (evidence of call-home), e.g. `hik-connect`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub call_home: Vec<String>,
    /// Conflicts between pieces of evidence (e.g. MAC of one maker, firmware of another).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conflicts: Vec<String>,
    pub evidence: Vec<Evidence>,
    /// Parts made by other companies than the maker (e.g. a HiSilicon SoC), each with evidence.
    /// Absent in older output (defaults to empty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<Component>,
    /// Makers that could have made the device because its date does not settle who made a
    /// brand whose maker changed over time (no date of its own, or a date near a change of
    /// owner or OEM): `maker` is then only the maker on the date used, and the device needs
    /// inspection (its install date or label). Empty when the maker is settled. Absent in older
    /// output.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub could_be: Vec<NamedRef>,
    /// The maker rests on the brand alone (an OEM link or the brand's owner, read by the
    /// knowledge base's one attribution rule), not on the device's own evidence (a firmware or
    /// hardware tell). Users of the identification (the register, `check`) read the brand again
    /// at the device's own date (its install date when known), with the same rule.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub maker_from_brand: bool,
    /// The first time the device was seen: the earliest observation `time`, when the
    /// observations carry one. Absent in older output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_seen: Option<chrono::NaiveDate>,
}

impl Identification {
    pub fn unknown(target: impl Into<String>) -> Self {
        Self {
            target: target.into(),
            brand: None,
            maker: None,
            model: None,
            firmware: None,
            device_class: DeviceClass::Unknown,
            confidence: 0.0,
            mac: None,
            call_home: Vec::new(),
            conflicts: Vec::new(),
            evidence: Vec::new(),
            components: Vec::new(),
            could_be: Vec::new(),
            maker_from_brand: false,
            first_seen: None,
        }
    }

    /// The maker, when the identification settles it from the device's own evidence: `None`
    /// when no maker is named, when the date leaves it open ([`Self::could_be`]) or when it
    /// rests on the brand alone ([`Self::maker_from_brand`], to be read again at the device's
    /// own date).
    pub fn settled_maker(&self) -> Option<&NamedRef> {
        if self.maker_ambiguous() || self.maker_from_brand {
            None
        } else {
            self.maker.as_ref()
        }
    }

    /// Whether the maker is left open between several candidates ([`Self::could_be`]).
    pub fn maker_ambiguous(&self) -> bool {
        !self.could_be.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_class_round_trips_through_text() {
        for c in DeviceClass::ALL {
            assert_eq!(c.as_str().parse::<DeviceClass>().unwrap(), c);
            let j = serde_json::to_string(&c).unwrap();
            assert_eq!(j, format!("\"{}\"", c.as_str()));
        }
        assert!("toaster".parse::<DeviceClass>().is_err());
    }

    #[test]
    fn an_encoder_is_its_own_class_and_surveillance_equipment() {
        let e: DeviceClass = "Encoder".parse().unwrap();
        assert_eq!(e, DeviceClass::Encoder);
        assert_eq!(e.to_string(), "encoder");
        assert!(e.is_surveillance());
        assert!(DeviceClass::ALL.contains(&e));
        let err = "video_server".parse::<DeviceClass>().unwrap_err();
        assert!(err.contains("encoder"), "{err}");
        assert!(!DeviceClass::Other.is_surveillance());
    }

    #[test]
    fn identification_without_components_still_parses() {
        // Output written before `components` existed.
        let old = r#"{"target":"t","brand":null,"maker":null,"model":null,"firmware":null,
            "device_class":"unknown","confidence":0.0,"evidence":[]}"#;
        let id: Identification = serde_json::from_str(old).unwrap();
        assert!(id.components.is_empty());
        // And an identification without components writes no `components` key.
        let j = serde_json::to_string(&Identification::unknown("t")).unwrap();
        assert!(!j.contains("components"));
    }
}
