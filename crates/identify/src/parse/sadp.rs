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

/// The fields of a SADP reply in its plain form, borrowed, without building a tree: an optional
/// `<?xml ...?>` declaration, `<ProbeMatch>`, then at most 256 child elements
/// `<Name>text</Name>` (names of letters, digits, `_`, `-`, `.`; text without `<` or `&`),
/// whitespace between, and `</ProbeMatch>`. The fields are what [`sadp`] gives (sorted by name,
/// the first of a repeated name kept, text trimmed). `None` for anything else (entities,
/// attributes, nesting, comments, errors): [`sadp`] then reads it, with its errors.
pub(crate) fn sadp_fields_plain(text: &str) -> Option<Vec<(&str, &str)>> {
    if text.len() > MAX_SADP {
        return None;
    }
    let mut rest = text.trim_start();
    if let Some(r) = rest.strip_prefix("<?xml") {
        let end = r.find("?>")?;
        if r[..end].contains('<') {
            return None;
        }
        rest = r[end + 2..].trim_start();
    }
    let name_ok = |n: &str| {
        !n.is_empty()
            && n.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
    };
    let r = rest.strip_prefix('<')?;
    let end = r.find('>')?;
    let root = &r[..end];
    if !name_ok(root) || !root.eq_ignore_ascii_case("ProbeMatch") {
        return None;
    }
    rest = &r[end + 1..];
    let mut fields = Vec::with_capacity(16);
    loop {
        rest = rest.trim_start();
        let r = rest.strip_prefix('<')?;
        if let Some(r) = r.strip_prefix('/') {
            // The root's end tag, then nothing but whitespace.
            let r = r.strip_prefix(root)?.strip_prefix('>')?;
            if !r.trim().is_empty() {
                return None;
            }
            break;
        }
        let end = r.find('>')?;
        let name = &r[..end];
        if !name_ok(name) || fields.len() >= 256 {
            return None;
        }
        let body = &r[end + 1..];
        let close = body.find('<')?;
        let value = &body[..close];
        if value.contains('&') {
            return None;
        }
        let r = body[close..].strip_prefix("</")?.strip_prefix(name)?;
        rest = r.strip_prefix('>')?;
        fields.push((name, value.trim()));
    }
    // As the map of `sadp`: by name, the first of a repeated name.
    fields.sort_by(|a, b| a.0.cmp(b.0));
    fields.dedup_by(|b, a| a.0 == b.0);
    Some(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plain form gives exactly the fields `sadp` gives; anything else is left to `sadp`.
    #[test]
    fn plain_fields_agree_with_the_parser() {
        let plain = [
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ProbeMatch><Uuid>1</Uuid><Types>inquiry</Types><MAC>68-6d-bc-ee-f8-f0</MAC><DeviceDescription> DS-7804 </DeviceDescription><MAC>second</MAC><OEMInfo></OEMInfo></ProbeMatch>",
            "\n <probematch>\n  <B>x y</B>\r\n  <A.b-c_d>1</A.b-c_d>\n</probematch>\n",
            "<ProbeMatch></ProbeMatch>",
            "<ProbeMatch><Déjà>x</Déjà></ProbeMatch>",
        ];
        for t in plain {
            let fast = sadp_fields_plain(t);
            let slow = sadp(t).unwrap();
            let slow: Vec<(&str, &str)> = slow
                .fields
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            if t.contains("Déjà") {
                assert_eq!(fast, None);
                continue;
            }
            assert_eq!(fast, Some(slow), "{t}");
        }
        for t in [
            "<ProbeMatch><A>1 &amp; 2</A></ProbeMatch>",
            "<ProbeMatch><A x=\"1\">1</A></ProbeMatch>",
            "<ProbeMatch><A><B>1</B></A></ProbeMatch>",
            "<ProbeMatch><A>1</B></ProbeMatch>",
            "<ProbeMatch><!-- c --><A>1</A></ProbeMatch>",
            "<ProbeMatch><A>1</A></ProbeMatch><X/>",
            "<ProbeMatch><A>1</A>",
            "<Other><A>1</A></Other>",
            "<ProbeMatch><A/></ProbeMatch>",
            "<ProbeMatch>text<A>1</A></ProbeMatch>",
            "",
        ] {
            assert_eq!(sadp_fields_plain(t), None, "{t}");
        }
        let many: String = (0..300).map(|i| format!("<F{i}>v</F{i}>")).collect();
        assert_eq!(
            sadp_fields_plain(&format!("<ProbeMatch>{many}</ProbeMatch>")),
            None
        );
    }
}
