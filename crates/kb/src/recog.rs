//! Rapid7 recog fingerprint databases (vendored under `kb/recog/`) and component tells
//! (`kb/components/*.toml`).
//!
//! * `recog/*.xml`: recog's own databases, unchanged (BSD-2-Clause, upstream commit in
//!   `recog/README.md` and `recog/mapping.toml`). Parsed here into [`RecogFingerprint`]s; the
//!   patterns are compiled by the identify crate's signature engine.
//! * `recog/mapping.toml`: which database feeds which observation field, and how recog's vendor
//!   and device names map to knowledge-base companies, brands, components and device classes.
//! * `components/*.toml`: `[[component]]` patterns that show a part inside a device (a HiSilicon
//!   SoC), never its maker.

use crate::{parse_toml, Kb, KbDate, KbError, KbErrors, KbFile, KbFiles};
use base64::Engine as _;
use serde::{Deserialize, Serialize};

/// Longest recog XML file accepted.
const MAX_XML: usize = 8 << 20;

/// `[recog]` of `recog/mapping.toml`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecogSource {
    /// Upstream commit the XML files were copied from.
    pub commit: String,
    #[serde(default)]
    pub repository: String,
    #[serde(default)]
    pub licence: String,
    /// Why `source` gives no URL, when it gives none (see [`crate::SourceKind`]); `kb check` refuses a
    /// verified entry whose citation has no http(s) URL and no `source_kind`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_kind: Option<crate::SourceKind>,
    pub source: String,
    pub as_of: Option<KbDate>,
}

/// `[[database]]`: one recog file and the observation field it is matched against.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecogDatabaseMap {
    pub file: String,
    pub kind: String,
    pub field: String,
    /// 0..1: weight of a match's claims.
    pub strength: f64,
    #[serde(default)]
    pub note: Option<String>,
    /// Why `source` gives no URL, when it gives none (see [`crate::SourceKind`]); `kb check` refuses a
    /// verified entry whose citation has no http(s) URL and no `source_kind`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_kind: Option<crate::SourceKind>,
    pub source: String,
    pub as_of: KbDate,
}

/// `[[vendor]]`: recog vendor names to a company / brand, or to a component maker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecogVendorMap {
    /// recog names (`hw.vendor`, `os.vendor`, `service.vendor` values), compared
    /// case-insensitively.
    pub recog: Vec<String>,
    /// Only for fingerprints whose recog device is one of these (empty: any).
    #[serde(default)]
    pub devices: Vec<String>,
    #[serde(default)]
    pub company: Option<String>,
    #[serde(default)]
    pub brand: Option<String>,
    /// A component maker (chip vendor): a match is a component claim, not a maker claim.
    #[serde(default)]
    pub component: Option<String>,
    /// The component's role (`SoC`), with `component`.
    #[serde(default)]
    pub role: Option<String>,
    #[serde(default)]
    pub note: Option<String>,
    #[serde(default)]
    pub unverified: bool,
    /// Why `source` gives no URL, when it gives none (see [`crate::SourceKind`]); `kb check` refuses a
    /// verified entry whose citation has no http(s) URL and no `source_kind`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_kind: Option<crate::SourceKind>,
    pub source: String,
    pub as_of: KbDate,
}

/// `[[device]]`: recog device values to a camtrace device class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecogDeviceMap {
    pub recog: Vec<String>,
    pub class: String,
    #[serde(default)]
    pub note: Option<String>,
    /// Why `source` gives no URL, when it gives none (see [`crate::SourceKind`]); `kb check` refuses a
    /// verified entry whose citation has no http(s) URL and no `source_kind`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_kind: Option<crate::SourceKind>,
    pub source: String,
    pub as_of: KbDate,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MappingFile {
    recog: RecogSource,
    #[serde(default)]
    database: Vec<toml::Spanned<RecogDatabaseMap>>,
    #[serde(default)]
    vendor: Vec<toml::Spanned<RecogVendorMap>>,
    #[serde(default)]
    device: Vec<toml::Spanned<RecogDeviceMap>>,
}

/// A component tell (`kb/components/*.toml`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComponentSignature {
    pub id: String,
    /// `"<kind> <field>"` pairs the pattern is matched against (`"rtsp header:server"`).
    pub on: Vec<String>,
    /// A Rust `regex` pattern.
    pub pattern: String,
    #[serde(default)]
    pub case_insensitive: bool,
    /// Knowledge-base company id of the component's maker.
    pub company: String,
    /// What the part is (`SoC`).
    pub role: String,
    pub strength: f64,
    #[serde(default)]
    pub note: Option<String>,
    #[serde(default)]
    pub unverified: bool,
    #[serde(default)]
    pub unverified_fields: Vec<String>,
    /// Why `source` gives no URL, when it gives none (see [`crate::SourceKind`]); `kb check` refuses a
    /// verified entry whose citation has no http(s) URL and no `source_kind`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_kind: Option<crate::SourceKind>,
    pub source: String,
    pub as_of: KbDate,
}

impl ComponentSignature {
    /// The `(kind, field)` pairs of `on`.
    pub fn targets(&self) -> impl Iterator<Item = (&str, &str)> {
        self.on
            .iter()
            .filter_map(|s| s.trim().split_once(' '))
            .map(|(k, f)| (k.trim(), f.trim()))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ComponentsFile {
    #[serde(default)]
    component: Vec<toml::Spanned<ComponentSignature>>,
}

/// One `<example>` of a fingerprint: the text (base64-decoded when `_encoding="base64"`) and the
/// expected values given as attributes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecogExample {
    pub text: String,
    pub expect: Vec<(String, String)>,
}

/// One `<param>`: `pos` 0 is a fixed `value`, `pos` N takes capture group N.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecogParam {
    pub pos: usize,
    pub name: String,
    pub value: Option<String>,
}

/// One recog `<fingerprint>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecogFingerprint {
    /// 1-based line in its XML file.
    pub line: usize,
    pub pattern: String,
    /// recog flags (`REG_ICASE`, `REG_MULTILINE`, `REG_DOT_NEWLINE`, `REG_LINE_ANY_CRLF`).
    pub flags: Vec<String>,
    pub description: String,
    pub examples: Vec<RecogExample>,
    pub params: Vec<RecogParam>,
}

/// Vendor params in the order they name a device's maker.
pub const RECOG_VENDOR_PARAMS: [&str; 3] = ["hw.vendor", "os.vendor", "service.vendor"];
/// Device params in order of preference.
pub const RECOG_DEVICE_PARAMS: [&str; 3] = ["hw.device", "os.device", "service.device"];

impl RecogFingerprint {
    pub fn param(&self, name: &str) -> Option<&RecogParam> {
        self.params.iter().find(|p| p.name == name)
    }

    /// The fixed value of a param (pos 0), with `{name}` references to other fixed params
    /// replaced; `None` when the param is absent, captured, or refers to a captured param.
    pub fn fixed(&self, name: &str) -> Option<String> {
        let p = self.param(name)?;
        if p.pos != 0 {
            return None;
        }
        let v = p.value.as_deref()?;
        let mut out = String::new();
        let mut rest = v;
        while let Some(i) = rest.find('{') {
            out.push_str(&rest[..i]);
            let after = &rest[i + 1..];
            let j = after.find('}')?;
            let key = &after[..j];
            if key == name {
                return None;
            }
            let q = self.param(key)?;
            if q.pos != 0 || q.value.as_deref().is_some_and(|x| x.contains('{')) {
                return None;
            }
            out.push_str(q.value.as_deref()?);
            rest = &after[j + 1..];
        }
        out.push_str(rest);
        (!out.trim().is_empty()).then_some(out)
    }

    /// The recog device value (first of `hw.device`, `os.device`, `service.device`).
    pub fn device(&self) -> Option<String> {
        RECOG_DEVICE_PARAMS.iter().find_map(|n| self.fixed(n))
    }

    pub fn has_flag(&self, flag: &str) -> bool {
        self.flags.iter().any(|f| f == flag)
    }
}

/// One vendored recog database with its mapping.
#[derive(Debug, Clone, PartialEq)]
pub struct RecogDatabase {
    /// File name under `recog/` (`http_servers.xml`).
    pub file: String,
    /// Path for messages and evidence (`kb/recog/http_servers.xml`).
    pub display_path: String,
    pub map: RecogDatabaseMap,
    pub fingerprints: Vec<RecogFingerprint>,
}

/// The vendored recog databases, their mapping, and the component tells.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Recog {
    pub source: RecogSource,
    pub databases: Vec<RecogDatabase>,
    pub vendors: Vec<RecogVendorMap>,
    pub devices: Vec<RecogDeviceMap>,
    /// Where each vendor entry was defined (same order as `vendors`).
    pub vendor_locations: Vec<crate::Location>,
    pub components: Vec<ComponentSignature>,
    /// Where each component tell was defined (same order as `components`).
    pub component_locations: Vec<crate::Location>,
}

impl Recog {
    /// Short upstream commit (12 hex digits) for evidence.
    pub fn short_commit(&self) -> &str {
        let c = self.source.commit.as_str();
        &c[..c.len().min(12)]
    }

    /// The vendor mapping for a recog vendor name and device (case-insensitive).
    pub fn vendor(&self, name: &str, device: Option<&str>) -> Option<(usize, &RecogVendorMap)> {
        let name = name.trim();
        self.vendors.iter().enumerate().find(|(_, v)| {
            v.recog.iter().any(|r| r.eq_ignore_ascii_case(name))
                && (v.devices.is_empty()
                    || device.is_some_and(|d| v.devices.iter().any(|x| x.eq_ignore_ascii_case(d))))
        })
    }

    /// The device-class mapping of a recog device value (case-insensitive).
    pub fn device_class(&self, device: &str) -> Option<&RecogDeviceMap> {
        let device = device.trim();
        self.devices
            .iter()
            .find(|d| d.recog.iter().any(|r| r.eq_ignore_ascii_case(device)))
    }

    /// Number of fingerprints across the databases.
    pub fn fingerprint_count(&self) -> usize {
        self.databases.iter().map(|d| d.fingerprints.len()).sum()
    }
}

fn err_span(f: &KbFile, span: std::ops::Range<usize>, msg: impl Into<String>) -> KbError {
    let (line, col) = f.line_col(span.start);
    KbError::new(&f.display_path(), line, col, msg)
}

fn location(f: &KbFile, span: std::ops::Range<usize>) -> crate::Location {
    crate::Location {
        file: f.display_path(),
        line: f.line_col(span.start).0,
    }
}

/// Parse one recog XML database. Errors name the file and line.
pub fn parse_recog_xml(f: &KbFile) -> Result<Vec<RecogFingerprint>, KbError> {
    if f.text.len() > MAX_XML {
        return Err(KbError::new(
            &f.display_path(),
            0,
            0,
            format!("recog database is larger than {MAX_XML} bytes"),
        ));
    }
    let doc = roxmltree::Document::parse(&f.text).map_err(|e| {
        let p = e.pos();
        KbError::new(
            &f.display_path(),
            p.row as usize,
            p.col as usize,
            e.to_string(),
        )
    })?;
    let root = doc.root_element();
    if root.tag_name().name() != "fingerprints" {
        return Err(KbError::new(
            &f.display_path(),
            1,
            1,
            "recog database: root element is not <fingerprints>",
        ));
    }
    let mut out = Vec::new();
    // Line numbers counted incrementally (fingerprints come in document order).
    let (mut at_offset, mut at_line) = (0usize, 1usize);
    for fp in root
        .children()
        .filter(|n| n.is_element() && n.tag_name().name() == "fingerprint")
    {
        let start = fp.range().start.min(f.text.len());
        if start >= at_offset {
            at_line += f.text.as_bytes()[at_offset..start]
                .iter()
                .filter(|&&b| b == b'\n')
                .count();
            at_offset = start;
        }
        let line = at_line;
        let at = |msg: String| KbError::new(&f.display_path(), line, 1, msg);
        let pattern = fp
            .attribute("pattern")
            .ok_or_else(|| at("fingerprint without a pattern".into()))?
            .to_string();
        let flags = fp
            .attribute("flags")
            .map(|s| {
                s.split(',')
                    .map(|x| x.trim().to_string())
                    .filter(|x| !x.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        let mut description = String::new();
        let mut examples = Vec::new();
        let mut params = Vec::new();
        for c in fp.children().filter(|n| n.is_element()) {
            match c.tag_name().name() {
                "description" => {
                    description = c
                        .text()
                        .unwrap_or("")
                        .split_whitespace()
                        .collect::<Vec<_>>()
                        .join(" ")
                }
                "example" => {
                    let raw = c.text().unwrap_or("");
                    let mut expect = Vec::new();
                    let mut b64 = false;
                    for a in c.attributes() {
                        match a.name() {
                            "_encoding" => b64 = a.value() == "base64",
                            "_filename" => {}
                            n => expect.push((n.to_string(), a.value().to_string())),
                        }
                    }
                    let text = if b64 {
                        let clean: String = raw.chars().filter(|c| !c.is_whitespace()).collect();
                        match base64::engine::general_purpose::STANDARD.decode(clean) {
                            Ok(b) => String::from_utf8_lossy(&b).into_owned(),
                            Err(e) => return Err(at(format!("example is not base64: {e}"))),
                        }
                    } else {
                        raw.to_string()
                    };
                    examples.push(RecogExample { text, expect });
                }
                "param" => {
                    let pos = c
                        .attribute("pos")
                        .and_then(|p| p.trim().parse::<usize>().ok())
                        .ok_or_else(|| at("param without a numeric pos".into()))?;
                    let name = c
                        .attribute("name")
                        .ok_or_else(|| at("param without a name".into()))?
                        .to_string();
                    params.push(RecogParam {
                        pos,
                        name,
                        value: c.attribute("value").map(str::to_string),
                    });
                }
                _ => {}
            }
        }
        out.push(RecogFingerprint {
            line,
            pattern,
            flags,
            description,
            examples,
            params,
        });
    }
    Ok(out)
}

/// Load `recog/mapping.toml`, the databases it names and `components/*.toml`, checking every
/// reference against the (otherwise loaded) knowledge base.
pub(crate) fn load(files: &KbFiles, kb: &Kb, errors: &mut KbErrors) -> Recog {
    let mut r = Recog::default();
    let company = |id: &str| kb.company(id).is_some();
    if let Some(f) = files.get("recog/mapping.toml") {
        match parse_toml::<MappingFile>(f) {
            Ok(m) => {
                if m.recog.commit.len() < 12
                    || !m.recog.commit.chars().all(|c| c.is_ascii_hexdigit())
                {
                    errors.push(KbError::new(
                        &f.display_path(),
                        1,
                        1,
                        "[recog] commit must be the upstream commit id (hex)",
                    ));
                }
                r.source = m.recog;
                for d in m.database {
                    let span = d.span();
                    let d = d.into_inner();
                    if !(0.0..=1.0).contains(&d.strength) {
                        errors.push(err_span(
                            f,
                            span.clone(),
                            format!("database `{}`: strength outside 0..1", d.file),
                        ));
                    }
                    let path = format!("recog/{}", d.file);
                    let Some(x) = files.get(&path) else {
                        errors.push(err_span(
                            f,
                            span,
                            format!("database `{}`: no file kb/{path}", d.file),
                        ));
                        continue;
                    };
                    match parse_recog_xml(x) {
                        Ok(fps) => r.databases.push(RecogDatabase {
                            file: d.file.clone(),
                            display_path: x.display_path(),
                            map: d,
                            fingerprints: fps,
                        }),
                        Err(e) => errors.push(e),
                    }
                }
                for v in m.vendor {
                    let span = v.span();
                    let l = location(f, span.clone());
                    let v = v.into_inner();
                    let what = v.recog.join("/");
                    if v.company.is_none() && v.brand.is_none() && v.component.is_none() {
                        errors.push(err_span(
                            f,
                            span.clone(),
                            format!(
                                "vendor `{what}` maps to nothing: give company, brand or component"
                            ),
                        ));
                    }
                    if v.component.is_some() && (v.company.is_some() || v.brand.is_some()) {
                        errors.push(err_span(f, span.clone(), format!("vendor `{what}`: a component maker is not the device's maker (give component alone)")));
                    }
                    for c in [&v.company, &v.component].into_iter().flatten() {
                        if !company(c) {
                            errors.push(err_span(
                                f,
                                span.clone(),
                                format!("vendor `{what}` names unknown company `{c}`"),
                            ));
                        }
                    }
                    if let Some(b) = &v.brand {
                        if kb.brand(b).is_none() {
                            errors.push(err_span(
                                f,
                                span.clone(),
                                format!("vendor `{what}` names unknown brand `{b}`"),
                            ));
                        }
                    }
                    if v.source.trim().is_empty() {
                        errors.push(err_span(
                            f,
                            span.clone(),
                            format!("vendor `{what}`: `source` must not be empty"),
                        ));
                    }
                    r.vendor_locations.push(l);
                    r.vendors.push(v);
                }
                for d in m.device {
                    let span = d.span();
                    let d = d.into_inner();
                    if d.class.parse::<camtrace_model::DeviceClass>().is_err() {
                        errors.push(err_span(
                            f,
                            span,
                            format!(
                                "device `{}`: unknown class `{}`",
                                d.recog.join("/"),
                                d.class
                            ),
                        ));
                    }
                    r.devices.push(d);
                }
            }
            Err(e) => errors.push(e),
        }
    }
    for f in files.under("components/") {
        match parse_toml::<ComponentsFile>(f) {
            Ok(cf) => {
                for c in cf.component {
                    let span = c.span();
                    let s = c.get_ref();
                    let mut b = regex::RegexBuilder::new(&s.pattern);
                    b.case_insensitive(s.case_insensitive).size_limit(1 << 20);
                    if let Err(e) = b.build() {
                        errors.push(err_span(
                            f,
                            span.clone(),
                            format!("component `{}`: bad pattern: {e}", s.id),
                        ));
                    }
                    if !company(&s.company) {
                        errors.push(err_span(
                            f,
                            span.clone(),
                            format!("component `{}` names unknown company `{}`", s.id, s.company),
                        ));
                    }
                    if !(0.0..=1.0).contains(&s.strength) {
                        errors.push(err_span(
                            f,
                            span.clone(),
                            format!("component `{}`: strength outside 0..1", s.id),
                        ));
                    }
                    if s.on.is_empty() || s.targets().count() != s.on.len() {
                        errors.push(err_span(
                            f,
                            span.clone(),
                            format!("component `{}`: `on` entries are \"<kind> <field>\"", s.id),
                        ));
                    }
                    let says_unverified = s
                        .source
                        .trim_start()
                        .to_ascii_lowercase()
                        .starts_with("unverified");
                    if says_unverified != s.unverified {
                        errors.push(err_span(f, span.clone(), format!("component `{}`: `unverified = true` exactly when the source says \"unverified: ...\"", s.id)));
                    }
                    r.component_locations.push(location(f, span));
                    r.components.push(c.into_inner());
                }
            }
            Err(e) => errors.push(e),
        }
    }
    r
}
