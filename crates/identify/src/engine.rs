//! The signature engine: observations → [`Identification`] with evidence for every claim.

use crate::error::IdentifyError;
use crate::features::{features, Field, Structured};
use crate::view::{CompView, Ev, Proves, Ref, Text, View};
use camtrace_kb::{Attribution, Company, DateBasis, FactKind, Kb, MakerFact, Signature, Tristate};
use camtrace_model::{DeviceClass, Identification, Observation, ObservationKind};
use chrono::NaiveDate;
use indexmap::IndexMap;
use indexmap::IndexSet;
use regex::{Regex, RegexBuilder, RegexSet, RegexSetBuilder};
use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

type FastMap<V> = HashMap<String, V, foldhash::fast::RandomState>;

/// Weight of a MAC prefix of a surveillance maker (IEEE assignment: medium evidence).
const OUI_WEIGHT: f64 = 0.65;
/// Weight of a MAC prefix of a block marked `not_surveillance_alone` (weak).
const OUI_WEAK_WEIGHT: f64 = 0.3;
/// Class claims below this are reported as evidence but do not set the class.
const CLASS_THRESHOLD: f64 = 0.3;
/// A restricted maker is only asserted with confidence ≥ 0.5 when some claim reaches this.
const ASSERT_RESTRICTED: f64 = 0.5;
/// Confidence cap for a restricted maker backed by weak evidence only.
const WEAK_CAP: f64 = 0.45;
/// Highest confidence ever reported.
const MAX_CONFIDENCE: f64 = 0.99;
/// Longest value quoted in evidence.
const MAX_DETAIL: usize = 200;

struct Group {
    /// One or more sets (a group too large for one set is split).
    sets: Vec<(RegexSet, Vec<usize>)>,
    /// Signatures only `fancy-regex` compiles (look-around ...): tried one by one.
    fancy: Vec<usize>,
}

/// A compiled pattern: `regex` (compiled at build, or lazily for recog fingerprints, which the
/// group's `RegexSet` screens first) or `fancy-regex`.
enum Re {
    Std(Regex),
    Lazy(std::sync::OnceLock<Option<Regex>>, String),
    Fancy(Box<fancy_regex::Regex>),
}

struct Compiled {
    re: Re,
    /// Whether a match has captures to read (named `model` / `firmware`, or recog groups).
    captures: bool,
    /// recog capture groups of the model and firmware.
    model_group: Option<usize>,
    firmware_group: Option<usize>,
    /// (company, role) of a component claim.
    component: Option<(String, String)>,
    source: String,
    /// What evidence writes before the excerpt: `Server: ` for `header:server`, `title: `.
    detail_prefix: String,
    /// The class the signature claims.
    class: Option<DeviceClass>,
}

impl Compiled {
    fn std(&self) -> Option<&Regex> {
        match &self.re {
            Re::Std(r) => Some(r),
            Re::Lazy(cell, p) => cell
                .get_or_init(|| RegexBuilder::new(p).size_limit(4 << 20).build().ok())
                .as_ref(),
            Re::Fancy(_) => None,
        }
    }

    fn is_match(&self, value: &str) -> bool {
        match &self.re {
            Re::Fancy(f) => f.is_match(value).unwrap_or(false),
            _ => self.std().is_some_and(|r| r.is_match(value)),
        }
    }

    /// `None` when the pattern does not match; else the model and firmware it captures.
    fn extract(&self, value: &str) -> Option<(Option<String>, Option<String>)> {
        let clean = |m: Option<&str>| {
            m.map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty() && s.len() <= MAX_DETAIL)
        };
        match &self.re {
            Re::Fancy(f) => {
                let caps = f.captures(value).ok().flatten()?;
                let get = |name: &str, group: Option<usize>| {
                    clean(
                        caps.name(name)
                            .or_else(|| group.and_then(|g| caps.get(g)))
                            .map(|m| m.as_str()),
                    )
                };
                Some((
                    get("model", self.model_group),
                    get("firmware", self.firmware_group),
                ))
            }
            _ => {
                let caps = self.std()?.captures(value)?;
                let get = |name: &str, group: Option<usize>| {
                    clean(
                        caps.name(name)
                            .or_else(|| group.and_then(|g| caps.get(g)))
                            .map(|m| m.as_str()),
                    )
                };
                Some((
                    get("model", self.model_group),
                    get("firmware", self.firmware_group),
                ))
            }
        }
    }
}

/// A recog pattern that neither `regex` nor `fancy-regex` compiles (listed by `kb check`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsupportedPattern {
    /// `kb/recog/<file>:<line>`.
    pub location: String,
    pub pattern: String,
    pub reason: String,
}

/// How the vendored recog databases went into the engine.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecogReport {
    /// Upstream commit.
    pub commit: String,
    /// Fingerprints in the vendored databases.
    pub fingerprints: usize,
    /// Fingerprints whose vendor or device maps to something camtrace uses (compiled).
    pub used: usize,
    /// Of those, compiled with `fancy-regex` (look-around, back-references).
    pub fancy: usize,
    /// Fingerprints whose vendor and device map to nothing in camtrace (not compiled).
    pub no_claim: usize,
    /// Used fingerprints whose pattern no engine compiles.
    pub unsupported: Vec<UnsupportedPattern>,
    /// Component tells (`kb/components/`), one per (kind, field).
    pub component_signatures: usize,
}

/// One signature that matched one feature of one observation.
#[derive(Debug, Clone, PartialEq)]
pub struct SignatureMatch {
    /// Index into [`Engine::signatures`].
    pub signature: usize,
    pub field: String,
    /// The value matched (truncated for display).
    pub value: String,
    pub model: Option<String>,
    pub firmware: Option<String>,
}

/// The compiled signature engine. Build once with [`Engine::new`], then identify any number of
/// targets; it is `Send + Sync`.
pub struct Engine {
    kb: Kb,
    date: NaiveDate,
    /// kind → field → compiled group.
    groups: HashMap<String, HashMap<String, Group>>,
    compiled: Vec<Compiled>,
    /// The knowledge base's signatures, then recog fingerprints, then component tells.
    signatures: Vec<Signature>,
    recog_report: RecogReport,
    /// Per company and per brand: what resolution reads of them (see [`CompanyInfo`]).
    company_info: FastMap<CompanyInfo>,
    brand_info: FastMap<BrandInfo>,
    /// `<location>; <source>` of each OUI block, by index.
    oui_sources: Vec<String>,
}

fn build_regex(s: &Signature) -> Result<Regex, regex::Error> {
    RegexBuilder::new(&s.pattern)
        .case_insensitive(s.case_insensitive)
        .size_limit(1 << 20)
        .build()
}

fn set_pattern(s: &Signature) -> String {
    if s.case_insensitive {
        format!("(?i:{})", s.pattern)
    } else {
        format!("(?:{})", s.pattern)
    }
}

/// One or more `RegexSet`s over the members of a group: a group whose set exceeds the size
/// limit is split in halves until each part compiles.
fn build_sets(
    sigs: &[Signature],
    members: Vec<usize>,
) -> Result<Vec<(RegexSet, Vec<usize>)>, regex::Error> {
    if members.is_empty() {
        return Ok(Vec::new());
    }
    let built = RegexSetBuilder::new(members.iter().map(|&i| set_pattern(&sigs[i])))
        .size_limit(16 << 20)
        .dfa_size_limit(8 << 20)
        .build();
    match built {
        Ok(set) => Ok(vec![(set, members)]),
        Err(regex::Error::CompiledTooBig(_)) if members.len() > 1 => {
            let mut a = members;
            let b = a.split_off(a.len() / 2);
            let mut out = build_sets(sigs, a)?;
            out.extend(build_sets(sigs, b)?);
            Ok(out)
        }
        Err(e) => Err(e),
    }
}

/// Append the recog fingerprints that prove something to camtrace, and the component tells,
/// to the engine's signatures.
fn add_recog(kb: &Kb, sigs: &mut Vec<Signature>, compiled: &mut Vec<Compiled>) -> RecogReport {
    let recog = &kb.recog;
    let mut report = RecogReport {
        commit: recog.source.commit.clone(),
        fingerprints: recog.fingerprint_count(),
        ..Default::default()
    };
    for db in &recog.databases {
        for fp in &db.fingerprints {
            let claims = crate::recog::claims(recog, fp);
            if !claims.proves_anything() {
                report.no_claim += 1;
                continue;
            }
            let sig = crate::recog::signature(recog, db, fp, &claims);
            let location = format!("{}:{}", db.display_path, fp.line);
            let re = if regex_syntax::Parser::new().parse(&sig.pattern).is_ok() {
                Re::Lazy(std::sync::OnceLock::new(), sig.pattern.clone())
            } else {
                match fancy_regex::Regex::new(&sig.pattern) {
                    Ok(f) => {
                        report.fancy += 1;
                        Re::Fancy(Box::new(f))
                    }
                    Err(e) => {
                        let std_err = RegexBuilder::new(&sig.pattern)
                            .build()
                            .err()
                            .map(|e| e.to_string())
                            .unwrap_or_default();
                        report.unsupported.push(UnsupportedPattern {
                            location,
                            pattern: fp.pattern.clone(),
                            reason: format!(
                                "regex: {}; fancy-regex: {e}",
                                std_err.lines().last().unwrap_or("")
                            ),
                        });
                        continue;
                    }
                }
            };
            report.used += 1;
            compiled.push(Compiled {
                re,
                captures: claims.model_group.is_some() || claims.firmware_group.is_some(),
                model_group: claims.model_group,
                firmware_group: claims.firmware_group,
                component: claims.component.clone(),
                source: format!("{location}; {}", sig.source),
                detail_prefix: String::new(),
                class: None,
            });
            sigs.push(sig);
        }
    }
    for (c, l) in recog.components.iter().zip(&recog.component_locations) {
        for (kind, field) in c.targets() {
            let Ok(re) = RegexBuilder::new(&c.pattern)
                .case_insensitive(c.case_insensitive)
                .size_limit(1 << 20)
                .build()
            else {
                continue; // refused by the loader already
            };
            report.component_signatures += 1;
            compiled.push(Compiled {
                re: Re::Std(re),
                captures: false,
                model_group: None,
                firmware_group: None,
                component: Some((c.company.clone(), c.role.clone())),
                source: format!("{l}; {}", c.source),
                detail_prefix: String::new(),
                class: None,
            });
            sigs.push(Signature {
                id: c.id.clone(),
                kind: kind.to_string(),
                field: field.to_string(),
                pattern: c.pattern.clone(),
                case_insensitive: c.case_insensitive,
                maker: None,
                brand: None,
                firmware_family: None,
                class: None,
                call_home: None,
                strength: if c.unverified {
                    c.strength.min(0.45)
                } else {
                    c.strength
                },
                note: c.note.clone(),
                unverified: c.unverified,
                unverified_fields: c.unverified_fields.clone(),
                source_kind: c.source_kind,
                source: c.source.clone(),
                as_of: c.as_of,
            });
        }
    }
    report
}

fn quote(s: &str) -> String {
    let end = crate::parse::http_floor(s, MAX_DETAIL);
    if end < s.len() {
        format!("{}…", &s[..end])
    } else {
        s.to_string()
    }
}

fn noisy_or(ws: impl IntoIterator<Item = f64>) -> f64 {
    1.0 - ws
        .into_iter()
        .fold(1.0, |acc, w| acc * (1.0 - w.clamp(0.0, 1.0)))
}

/// The first time the device was seen: the earliest observation `time` (RFC 3339, or a bare
/// `YYYY-MM-DD`). Times that do not parse are ignored (the observation still counts as
/// evidence; it just dates nothing).
/// The day an observation was made, when it says (RFC 3339 or a date).
fn observed_on(o: &Observation) -> Option<NaiveDate> {
    let t = o.time.as_deref()?.trim();
    chrono::DateTime::parse_from_rfc3339(t)
        .map(|d| d.with_timezone(&chrono::Utc).date_naive())
        .ok()
        .or_else(|| NaiveDate::parse_from_str(t, "%Y-%m-%d").ok())
}

/// Marks "no string" in a [`Fact`].
const NO_STR: u32 = u32::MAX;

/// Strings a stream keeps once, referred to by a `u32` id: evidence excerpts, captured models
/// and firmware, structured field names, brand ids, parser notes. Devices of one model repeat
/// the same banners, so most of a target's evidence costs a few ids, not copies.
#[derive(Default)]
struct Strings {
    set: IndexSet<Box<str>, foldhash::fast::RandomState>,
    /// Distinct weights of structured facts, by id.
    weights: Vec<f64>,
    /// Observation kinds (`ObservationKind::name`), by id.
    kinds: Vec<&'static str>,
    /// The brand id (or [`NO_STR`]) of names devices state, by the id of the name: devices of
    /// one brand state the same name.
    brand_of: HashMap<u32, u32, foldhash::fast::RandomState>,
}

impl Strings {
    fn id(&mut self, s: &str) -> u32 {
        let i = match self.set.get_index_of(s) {
            Some(i) => i,
            None => self.set.insert_full(s.into()).0,
        };
        // Four billion distinct strings would need far more memory than any machine has
        // before this limit is reached.
        u32::try_from(i).unwrap_or(NO_STR - 1)
    }

    /// The id of `value` as evidence quotes it ([`quote`]), without copying it when it is short.
    fn quoted(&mut self, value: &str) -> u32 {
        if crate::parse::http_floor(value, MAX_DETAIL) < value.len() {
            self.id(&quote(value))
        } else {
            self.id(value)
        }
    }

    fn opt(&mut self, s: Option<&str>) -> u32 {
        s.map_or(NO_STR, |s| self.id(s))
    }

    fn get(&self, id: u32) -> &str {
        self.set.get_index(id as usize).map_or("", |s| s)
    }

    fn get_opt(&self, id: u32) -> Option<&str> {
        (id != NO_STR).then(|| self.get(id))
    }

    fn kind(&mut self, kind: &'static str) -> u16 {
        let i = match self.kinds.iter().position(|k| *k == kind) {
            Some(i) => i,
            None => {
                self.kinds.push(kind);
                self.kinds.len() - 1
            }
        };
        u16::try_from(i).unwrap_or(u16::MAX)
    }

    fn kind_name(&self, id: u16) -> &'static str {
        self.kinds.get(id as usize).copied().unwrap_or("")
    }

    fn weight(&mut self, w: f64) -> u32 {
        let i = match self.weights.iter().position(|x| x.to_bits() == w.to_bits()) {
            Some(i) => i,
            None => {
                self.weights.push(w);
                self.weights.len() - 1
            }
        };
        u32::try_from(i).unwrap_or(0)
    }
}

/// What one observation proved, in the order its evidence is listed: enough to rebuild the
/// evidence and claims when the target is resolved, without keeping the evidence itself (its
/// detail, sources and lists of what it proves are rebuilt from the engine's tables).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Fact {
    /// Signature `sig` matched a feature whose quoted excerpt is `value`; `model` and
    /// `firmware` are its captures (or [`NO_STR`]). The kind and field are the signature's.
    Hit {
        sig: u32,
        value: u32,
        model: u32,
        firmware: u32,
    },
    /// A structured field (`what`) gave a model.
    Model {
        kind: u16,
        what: u32,
        value: u32,
        weight: u32,
    },
    /// A structured field gave a firmware version.
    Firmware {
        kind: u16,
        what: u32,
        value: u32,
        weight: u32,
    },
    /// A name the device states (`value`, field `what`) that is brand `brand`.
    Brand {
        kind: u16,
        brand: u32,
        what: u32,
        value: u32,
        weight: u32,
    },
    /// A MAC address (normalised), from field `what`.
    Mac { kind: u16, what: u32, mac: [u8; 6] },
    /// A parser note.
    Note { kind: u16, text: u32 },
}

fn mac_bytes(norm: &str) -> Option<[u8; 6]> {
    let mut out = [0u8; 6];
    let mut parts = norm.split(':');
    for b in &mut out {
        *b = u8::from_str_radix(parts.next()?, 16).ok()?;
    }
    parts.next().is_none().then_some(out)
}

/// The text `normalise_mac` gives for these bytes.
fn mac_text(m: &[u8; 6]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(17);
    for (i, b) in m.iter().enumerate() {
        if i > 0 {
            s.push(':');
        }
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// What is known of one target while its observations are read: the facts its observations
/// proved (compact, see [`Fact`]) and the earliest day it was seen.
#[derive(Default)]
struct TargetState {
    facts: Vec<Fact>,
    /// The earliest day it was seen (the device's date for attribution).
    first_seen: Option<NaiveDate>,
}

/// See [`Engine::stream`].
pub struct Streaming<'e> {
    engine: &'e Engine,
    /// Targets in first-seen order, each name kept once.
    targets: IndexMap<Box<str>, TargetState, foldhash::fast::RandomState>,
    strings: Strings,
    facts: Vec<Fact>,
}

impl<'e> Streaming<'e> {
    /// Add one observation.
    pub fn push(&mut self, o: &Observation) {
        let i = match self.targets.get_index_of(o.target.as_str()) {
            Some(i) => i,
            None => {
                self.targets
                    .insert_full(o.target.as_str().into(), TargetState::default())
                    .0
            }
        };
        let Some((_, t)) = self.targets.get_index_mut(i) else {
            return;
        };
        self.engine
            .add_observation(t, o, &mut self.strings, &mut self.facts);
    }

    /// Whether `target` has been seen.
    pub fn knows(&self, target: &str) -> bool {
        self.targets.contains_key(target)
    }

    /// Targets seen so far.
    pub fn targets(&self) -> usize {
        self.targets.len()
    }

    /// The heap the stream holds, counted from its tables' capacities (an estimate that leaves
    /// out the allocator's own overhead): the target table and names, each target's facts, and
    /// the shared strings.
    pub fn heap_bytes(&self) -> usize {
        use std::mem::size_of;
        // indexmap: an entry (hash, key, value) per slot of its vector, a `usize` and a control
        // byte per slot of its hash table (at least 8/7 of the entries).
        let table = |cap: usize, entry: usize| cap * (size_of::<u64>() + entry) + cap * 8 / 7 * 9;
        let targets = table(
            self.targets.capacity(),
            size_of::<Box<str>>() + size_of::<TargetState>(),
        ) + self
            .targets
            .iter()
            .map(|(k, t)| k.len() + t.facts.capacity() * size_of::<Fact>())
            .sum::<usize>();
        let strings = table(self.strings.set.capacity(), size_of::<Box<str>>())
            + self.strings.set.iter().map(|s| s.len()).sum::<usize>()
            + self.strings.weights.capacity() * size_of::<f64>()
            + self.strings.kinds.capacity() * size_of::<&str>()
            + self.strings.brand_of.capacity() * (2 * size_of::<u32>() + 1);
        targets + strings
    }

    /// One identification per target, in first-seen order.
    pub fn finish(self) -> Vec<Identification> {
        let mut out = Vec::with_capacity(self.targets.len());
        self.finish_each(|i| out.push(i));
        out
    }

    /// Write each target's identification as one line of JSON, in first-seen order, freeing
    /// what was kept of the target as it goes: the bytes `serde_json::to_writer` writes for each
    /// [`Identification`] of [`Streaming::finish_each`], each followed by a newline, without
    /// building the identifications (their text is borrowed from the engine's tables and the
    /// stream's strings). Written in blocks of about 64 KiB.
    pub fn write_json_lines(self, out: &mut impl std::io::Write) -> std::io::Result<()> {
        const BLOCK: usize = 64 << 10;
        let engine = self.engine;
        let strings = self.strings;
        let mut buf = Vec::with_capacity(BLOCK + (16 << 10));
        let mut cache = AttrCache::default();
        for (t, st) in self.targets {
            engine
                .view(&t, &strings, &st, &mut cache)
                .write_json(&mut buf);
            buf.push(b'\n');
            if buf.len() >= BLOCK {
                out.write_all(&buf)?;
                buf.clear();
            }
        }
        out.write_all(&buf)
    }

    /// Each target's identification with its JSON text (the bytes `serde_json::to_string`
    /// writes for it, written as [`Streaming::write_json_lines`] writes them), in first-seen
    /// order, freeing what was kept of the target as it goes. For a caller that stores both (a
    /// scan import stores the text as the identification's record and some fields as columns).
    pub fn into_identified(self) -> Identified<'e> {
        Identified {
            engine: self.engine,
            targets: self.targets.into_iter(),
            strings: self.strings,
            cache: AttrCache::default(),
            last_len: 0,
        }
    }

    /// Hand each target's identification to `each`, in first-seen order, freeing what was
    /// kept of the target as it goes: the caller can write them out without holding them all.
    pub fn finish_each(self, mut each: impl FnMut(Identification)) {
        let engine = self.engine;
        let strings = self.strings;
        let mut cache = AttrCache::default();
        for (t, st) in self.targets {
            each(engine.finish_target(&t, &strings, st, &mut cache));
        }
    }
}

/// See [`Streaming::into_identified`].
pub struct Identified<'e> {
    engine: &'e Engine,
    targets: indexmap::map::IntoIter<Box<str>, TargetState>,
    strings: Strings,
    cache: AttrCache,
    last_len: usize,
}

impl Iterator for Identified<'_> {
    type Item = (Identification, String);

    fn next(&mut self) -> Option<Self::Item> {
        let (t, st) = self.targets.next()?;
        let view = self.engine.view(&t, &self.strings, &st, &mut self.cache);
        // Sized by the last one written (identifications of one stream are alike).
        let mut buf = Vec::with_capacity(self.last_len + 64);
        view.write_json(&mut buf);
        self.last_len = buf.len();
        // The writer writes only `str`s and ASCII, so the text is always UTF-8.
        let text = String::from_utf8(buf)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
        Some((view.to_identification(), text))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.targets.size_hint()
    }
}

/// Sizes of the per-target state, for tests that keep it compact.
#[doc(hidden)]
pub fn state_sizes() -> (usize, usize) {
    (
        std::mem::size_of::<TargetState>(),
        std::mem::size_of::<Fact>(),
    )
}

/// The evidence of a model or firmware (`proves`) read from a structured field `what`, and the
/// claim it makes: (value, weight, evidence index).
fn field_claim<'a>(
    acc: &mut Acc<'a>,
    strings: &'a Strings,
    kind: u16,
    what: u32,
    value: u32,
    w: f64,
    proves: &'static str,
) -> (&'a str, f64, usize) {
    let (value, what) = (strings.get(value), strings.get(what));
    let ev = acc.push(Ev {
        kind: Text::Str(strings.kind_name(kind)),
        detail: quoted_detail(what, value),
        signature: "",
        source: Text::Cat(["observation field (", what, ")", ""]),
        proves: Proves::of(&[proves]),
        weight: Some(w),
    });
    (value, w, ev)
}

/// `{what}: {quote(value)}` without copying.
fn quoted_detail<'a>(what: &'a str, value: &'a str) -> Text<'a> {
    let end = crate::parse::http_floor(value, MAX_DETAIL);
    if end < value.len() {
        Text::Cat([what, ": ", &value[..end], "…"])
    } else {
        Text::Cat([what, ": ", value, ""])
    }
}

fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

use camtrace_model::normalise_mac as norm_mac;

#[derive(Debug, Clone)]
struct Claim<'a> {
    company: Cow<'a, str>,
    weight: f64,
    /// From device evidence (signature, structured field, MAC), not derived from a brand.
    direct: bool,
    ev: usize,
}

#[derive(Default)]
struct Acc<'a> {
    evidence: Vec<Ev<'a>>,
    makers: Vec<Claim<'a>>,
    brands: Vec<(&'a str, f64, usize)>,
    classes: Vec<(DeviceClass, f64, usize)>,
    models: Vec<(&'a str, f64, usize)>,
    firmwares: Vec<(&'a str, f64, usize)>,
    call_home: BTreeSet<&'a str>,
    macs: Vec<[u8; 6]>,
    conflicts: Vec<String>,
    /// (company, role, weight, evidence index) of component claims.
    components: Vec<(&'a str, &'a str, f64, usize)>,
}

impl<'a> Acc<'a> {
    fn push(&mut self, e: Ev<'a>) -> usize {
        self.evidence.push(e);
        self.evidence.len() - 1
    }
}

/// What resolution needs of a company, read once from the knowledge base when the engine is
/// built instead of once per target.
struct CompanyInfo {
    name: String,
    short: String,
    /// The root of its parent chain (itself without a parent).
    root: String,
    restricted: bool,
    western: bool,
    /// `<location>; <source>` for evidence.
    location: String,
    /// The parent chain above it (id, name), nearest first, and the nearest parent's short name.
    parents: Vec<(String, String)>,
    parent_short: Option<String>,
}

/// A model, a date basis and the knowledge base's attribution of a brand for them.
type CachedAttribution = (Option<Box<str>>, DateBasis, Option<Arc<Attribution>>);

/// The knowledge base's attributions of (brand, model, date basis) already read in one pass over
/// the targets: devices of one brand and model ask the same question (`Kb::attribute_brand`
/// scans the OEM links and owners each time).
#[derive(Default)]
struct AttrCache {
    by_brand: FastMap<Vec<CachedAttribution>>,
}

impl AttrCache {
    /// At most this many (model, date) entries per brand are kept.
    const PER_BRAND: usize = 256;

    fn attribute(
        &mut self,
        kb: &Kb,
        brand: &str,
        model: Option<&str>,
        basis: DateBasis,
    ) -> Option<Arc<Attribution>> {
        if let Some(v) = self.by_brand.get(brand) {
            if let Some((_, _, a)) = v
                .iter()
                .find(|(m, b, _)| m.as_deref() == model && *b == basis)
            {
                return a.clone();
            }
        }
        let a = kb.attribute_brand(brand, model, basis).map(Arc::new);
        let v = self.by_brand.entry(brand.to_string()).or_default();
        if v.len() < Self::PER_BRAND {
            v.push((model.map(Into::into), basis, a.clone()));
        }
        a
    }
}

/// What resolution needs of a brand: its name and `<location>; <source>`.
struct BrandInfo {
    name: String,
    location: String,
}

impl Engine {
    /// Compile every signature of the knowledge base once: one `RegexSet` per (kind, field)
    /// group, plus each signature's own regex for captures. recog fingerprints (`kb/recog/`)
    /// and component tells (`kb/components/`) join the same groups.
    pub fn new(kb: &Kb) -> Result<Engine, IdentifyError> {
        let mut compiled = Vec::with_capacity(kb.signatures.len());
        let mut signatures: Vec<Signature> = Vec::with_capacity(kb.signatures.len());
        for (i, s) in kb.signatures.iter().enumerate() {
            let location = kb
                .signature_locations
                .get(i)
                .map(|l| l.to_string())
                .unwrap_or_else(|| "kb/signatures".into());
            let re = build_regex(s).map_err(|e| IdentifyError::Signature {
                id: s.id.clone(),
                location: location.clone(),
                reason: e.to_string(),
            })?;
            let captures = re
                .capture_names()
                .flatten()
                .any(|n| n == "model" || n == "firmware");
            compiled.push(Compiled {
                re: Re::Std(re),
                captures,
                model_group: None,
                firmware_group: None,
                component: None,
                source: format!("{location}; {}", s.source),
                detail_prefix: String::new(),
                class: None,
            });
            signatures.push(s.clone());
        }
        let recog_report = add_recog(kb, &mut signatures, &mut compiled);
        for (s, c) in signatures.iter().zip(&mut compiled) {
            c.detail_prefix = if let Some(n) = s.field.strip_prefix("header:") {
                let mut n = n.to_string();
                if let Some(f) = n.get_mut(0..1) {
                    f.make_ascii_uppercase();
                }
                format!("{n}: ")
            } else {
                format!("{}: ", s.field)
            };
            c.class = s
                .class
                .as_deref()
                .and_then(|c| c.parse::<DeviceClass>().ok());
        }
        let (company_info, brand_info) = company_tables(kb);
        let oui_sources = kb
            .oui_blocks
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let loc = kb
                    .oui_locations
                    .get(i)
                    .map(|l| l.to_string())
                    .unwrap_or_else(|| "kb/oui".into());
                format!("{loc}; {}", b.source)
            })
            .collect();

        let mut by_group: HashMap<String, Vec<usize>> = HashMap::new();
        let mut fancy_by_group: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, s) in signatures.iter().enumerate() {
            let key = format!("{}\u{1}{}", s.kind, s.field);
            if matches!(compiled[i].re, Re::Fancy(_)) {
                fancy_by_group.entry(key).or_default().push(i);
            } else {
                by_group.entry(key).or_default().push(i);
            }
        }
        let mut groups: HashMap<String, HashMap<String, Group>> = HashMap::new();
        let keys: BTreeSet<String> = by_group
            .keys()
            .chain(fancy_by_group.keys())
            .cloned()
            .collect();
        for key in keys {
            let (kind, field) = key.split_once('\u{1}').unwrap_or((&key, ""));
            let members = by_group.remove(&key).unwrap_or_default();
            let sets =
                build_sets(&signatures, members).map_err(|e| IdentifyError::SignatureSet {
                    kind: kind.to_string(),
                    field: field.to_string(),
                    reason: e.to_string(),
                })?;
            groups.entry(kind.to_string()).or_default().insert(
                field.to_string(),
                Group {
                    sets,
                    fancy: fancy_by_group.remove(&key).unwrap_or_default(),
                },
            );
        }
        Ok(Engine {
            kb: kb.clone(),
            date: chrono::Utc::now().date_naive(),
            groups,
            compiled,
            signatures,
            recog_report,
            company_info,
            brand_info,
            oui_sources,
        })
    }

    /// How the vendored recog databases were compiled: counts, and every pattern that no
    /// engine compiles (for `camtrace kb check`).
    pub fn recog_report(&self) -> &RecogReport {
        &self.recog_report
    }

    /// Resolve brand ownership and OEM links as on `date` (default: today).
    pub fn with_date(mut self, date: NaiveDate) -> Self {
        self.date = date;
        self
    }

    pub fn date(&self) -> NaiveDate {
        self.date
    }

    pub fn kb(&self) -> &Kb {
        &self.kb
    }

    /// The signatures, in the order [`SignatureMatch::signature`] indexes.
    pub fn signatures(&self) -> &[Signature] {
        &self.signatures
    }

    fn scan(&self, kind: &ObservationKind, st: &mut Structured, out: &mut Vec<SignatureMatch>) {
        self.scan_each(kind, st, |si, field, value, model, firmware| {
            out.push(SignatureMatch {
                signature: si,
                field: field.to_string_owned(),
                value: quote(value),
                model,
                firmware,
            })
        });
    }

    /// Call `each` with every signature that matches a feature of `kind`: the signature's
    /// index, the field, the whole value (not quoted) and the captured model and firmware.
    fn scan_each(
        &self,
        kind: &ObservationKind,
        st: &mut Structured,
        mut each: impl FnMut(usize, Field<'_>, &str, Option<String>, Option<String>),
    ) {
        let name = kind.name();
        let empty = HashMap::new();
        let fields = self.groups.get(name).unwrap_or(&empty);
        let mut lower = [0u8; 96];
        let mut emit = |field: Field<'_>, value: &str| {
            if fields.is_empty() || value.is_empty() {
                return;
            }
            let g = match field {
                Field::Static(f) => fields.get(f),
                Field::Lower(p, n) | Field::Exact(p, n) => {
                    let len = p.len() + n.len();
                    if len > lower.len() {
                        return;
                    }
                    lower[..p.len()].copy_from_slice(p.as_bytes());
                    lower[p.len()..len].copy_from_slice(n.as_bytes());
                    if matches!(field, Field::Lower(..)) {
                        lower[p.len()..len].make_ascii_lowercase();
                    }
                    match std::str::from_utf8(&lower[..len]) {
                        Ok(k) => fields.get(k),
                        Err(_) => None,
                    }
                }
            };
            let Some(g) = g else { return };
            let mut hit = |si: usize| {
                let c = &self.compiled[si];
                let (model, firmware) = if c.captures {
                    match c.extract(value) {
                        Some(x) => x,
                        None => return,
                    }
                } else {
                    (None, None)
                };
                each(si, field, value, model, firmware);
            };
            for (set, members) in &g.sets {
                let hits = set.matches(value);
                if !hits.matched_any() {
                    continue;
                }
                for h in hits.iter() {
                    hit(members[h]);
                }
            }
            for &si in &g.fancy {
                if self.compiled[si].is_match(value) {
                    hit(si);
                }
            }
        };
        features(kind, st, &|f| fields.contains_key(f), &mut emit);
    }

    /// The signatures that match one observation (no resolution).
    pub fn matches(&self, obs: &ObservationKind) -> Vec<SignatureMatch> {
        let mut out = Vec::new();
        self.scan(obs, &mut Structured::default(), &mut out);
        out
    }

    /// The `(field, value)` features of one observation, as signatures see them (for writing
    /// and debugging signatures).
    pub fn features(obs: &ObservationKind) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut st = Structured::default();
        features(obs, &mut st, &|_| true, &mut |f: Field<'_>, v: &str| {
            out.push((f.to_string_owned(), quote(v)))
        });
        out
    }

    /// The same result as [`Engine::matches`], computed the naive way: every signature's regex
    /// tried one by one against every feature. The benchmark baseline, and a test oracle.
    pub fn matches_naive(&self, obs: &ObservationKind) -> Vec<SignatureMatch> {
        let name = obs.name();
        let mut out = Vec::new();
        let mut st = Structured::default();
        let mut field_buf = String::new();
        let mut emit = |field: Field<'_>, value: &str| {
            if value.is_empty() {
                return;
            }
            field_buf.clear();
            field.write(&mut field_buf);
            for (si, s) in self.signatures.iter().enumerate() {
                if s.kind != name || s.field != field_buf {
                    continue;
                }
                let c = &self.compiled[si];
                if let Some((model, firmware)) = c.extract(value) {
                    out.push(SignatureMatch {
                        signature: si,
                        field: field_buf.clone(),
                        value: quote(value),
                        model,
                        firmware,
                    });
                }
            }
        };
        features(obs, &mut st, &|_| true, &mut emit);
        out
    }

    /// Identify one target from its observations (observations of other targets are used too:
    /// the caller decides what belongs together).
    pub fn identify(&self, target: &str, obs: &[Observation]) -> Identification {
        let mut t = TargetState::default();
        let mut strings = Strings::default();
        let mut facts = Vec::new();
        for o in obs {
            self.add_observation(&mut t, o, &mut strings, &mut facts);
        }
        self.finish_target(target, &strings, t, &mut AttrCache::default())
    }

    /// Fold one observation into a target's state: the facts it proves (signature hits and
    /// structured fields, as ids into `strings` and the engine's tables) and the earliest date
    /// it was seen. Nothing of the observation is kept but the excerpts evidence quotes.
    fn add_observation(
        &self,
        t: &mut TargetState,
        o: &Observation,
        strings: &mut Strings,
        facts: &mut Vec<Fact>,
    ) {
        let mut st = Structured::default();
        facts.clear();
        self.scan_each(&o.kind, &mut st, |si, _, value, model, firmware| {
            facts.push(Fact::Hit {
                sig: u32::try_from(si).unwrap_or(NO_STR),
                value: strings.quoted(value),
                model: strings.opt(model.as_deref()),
                firmware: strings.opt(firmware.as_deref()),
            })
        });
        let kind = strings.kind(o.kind.name());
        self.record_structured(kind, st, strings, &t.facts, facts);
        if !facts.is_empty() {
            t.facts.reserve_exact(facts.len());
            t.facts.extend_from_slice(facts);
        }
        if let Some(d) = observed_on(o) {
            t.first_seen = Some(t.first_seen.map_or(d, |f| f.min(d)));
        }
    }

    fn finish_target(
        &self,
        target: &str,
        strings: &Strings,
        t: TargetState,
        cache: &mut AttrCache,
    ) -> Identification {
        self.view(target, strings, &t, cache).to_identification()
    }

    /// A target's identification, borrowed from the engine's tables and the stream's strings.
    fn view<'a>(
        &'a self,
        target: &'a str,
        strings: &'a Strings,
        t: &TargetState,
        cache: &mut AttrCache,
    ) -> View<'a> {
        let basis = DateBasis::of(None, t.first_seen, self.date);
        let acc = self.replay(strings, &t.facts);
        self.resolve(target, acc, basis, cache)
    }

    /// A target's evidence and claims, rebuilt from its facts in the order they were proved.
    fn replay<'a>(&'a self, strings: &'a Strings, facts: &[Fact]) -> Acc<'a> {
        let mut acc = Acc::default();
        let weight = |i: u32| strings.weights.get(i as usize).copied().unwrap_or(0.0);
        for f in facts {
            match *f {
                Fact::Hit {
                    sig,
                    value,
                    model,
                    firmware,
                } => self.add_hit(
                    &mut acc,
                    sig as usize,
                    strings.get(value),
                    strings.get_opt(model),
                    strings.get_opt(firmware),
                ),
                Fact::Model {
                    kind,
                    what,
                    value,
                    weight: w,
                } => {
                    let m = field_claim(&mut acc, strings, kind, what, value, weight(w), "model");
                    acc.models.push(m);
                }
                Fact::Firmware {
                    kind,
                    what,
                    value,
                    weight: w,
                } => {
                    let f =
                        field_claim(&mut acc, strings, kind, what, value, weight(w), "firmware");
                    acc.firmwares.push(f);
                }
                Fact::Brand {
                    kind,
                    brand,
                    what,
                    value,
                    weight: w,
                } => {
                    let (b, w) = (strings.get(brand), weight(w));
                    let ev = acc.push(Ev {
                        kind: Text::Str(strings.kind_name(kind)),
                        detail: quoted_detail(strings.get(what), strings.get(value)),
                        signature: "",
                        source: self.brand_location(b),
                        proves: Proves::of(&["brand"]),
                        weight: Some(w),
                    });
                    acc.brands.push((b, w, ev));
                }
                Fact::Mac { kind, what, mac } => {
                    self.add_mac(&mut acc, strings.kind_name(kind), mac, strings.get(what))
                }
                Fact::Note { kind, text } => {
                    acc.push(Ev {
                        kind: Text::Str(strings.kind_name(kind)),
                        detail: Text::Str(strings.get(text)),
                        signature: "",
                        source: Text::Str("parser"),
                        proves: Proves::default(),
                        weight: Some(0.0),
                    });
                }
            }
        }
        acc
    }

    /// Identify every target of a stream of observations, grouped by target in first-seen order.
    ///
    /// Observations are only read, so they may be given by reference (`obs.iter()`) as well as
    /// by value: nothing needs cloning.
    pub fn identify_all<O: std::borrow::Borrow<Observation>>(
        &self,
        obs: impl IntoIterator<Item = O>,
    ) -> Vec<Identification> {
        let mut s = self.stream();
        for o in obs {
            s.push(o.borrow());
        }
        s.finish()
    }

    /// An identification of a stream of observations that keeps, per target, only what the
    /// observations proved (hits and evidence), not the observations: memory grows with the
    /// number of targets, not with the input.
    pub fn stream(&self) -> Streaming<'_> {
        Streaming {
            engine: self,
            targets: IndexMap::default(),
            strings: Strings::default(),
            facts: Vec::new(),
        }
    }

    /// The evidence and claims of signature `sig` matching a feature whose quoted excerpt is
    /// `value` (the kind and field are the signature's).
    fn add_hit<'a>(
        &'a self,
        acc: &mut Acc<'a>,
        sig: usize,
        value: &'a str,
        model: Option<&'a str>,
        firmware: Option<&'a str>,
    ) {
        let (Some(s), Some(c)) = (self.signatures.get(sig), self.compiled.get(sig)) else {
            return;
        };
        let component = c.component.as_ref();
        let mut proves = Proves::default();
        if s.maker.is_some() || s.firmware_family.is_some() {
            proves.push("maker");
        }
        if s.brand.is_some() {
            proves.push("brand");
        }
        if s.class.is_some() {
            proves.push("class");
        }
        if s.call_home.is_some() {
            proves.push("call_home");
        }
        if model.is_some() {
            proves.push("model");
        }
        if firmware.is_some() {
            proves.push("firmware");
        }
        if component.is_some() {
            proves.push("component");
        }
        let ev = acc.push(Ev {
            kind: Text::Str(&s.kind),
            detail: Text::cat2(&c.detail_prefix, value),
            signature: &s.id,
            source: Text::Str(&c.source),
            proves,
            weight: Some(s.strength),
        });
        for m in [&s.maker, &s.firmware_family].into_iter().flatten() {
            acc.makers.push(Claim {
                company: Cow::Borrowed(m),
                weight: s.strength,
                direct: true,
                ev,
            });
            if s.maker.is_some() && s.firmware_family.is_some() {
                break;
            }
        }
        if let Some(b) = &s.brand {
            acc.brands.push((b, s.strength, ev));
        }
        if let Some(class) = c.class {
            acc.classes.push((class, s.strength, ev));
        }
        if let Some(c) = &s.call_home {
            acc.call_home.insert(c);
        }
        if let Some((company, role)) = component {
            acc.components.push((company, role, s.strength, ev));
        }
        if let Some(m) = model {
            acc.models.push((m, s.strength, ev));
        }
        if let Some(f) = firmware {
            acc.firmwares.push((f, s.strength, ev));
        }
    }

    /// `<location>; <source>` of a brand, for evidence.
    fn brand_location(&self, id: &str) -> Text<'_> {
        match self.brand_info.get(id) {
            Some(b) => Text::Str(&b.location),
            None => Text::Own(brand_location(&self.kb, id)),
        }
    }

    /// `<location>; <source>` of a company, for evidence.
    fn company_location(&self, id: &str) -> Text<'_> {
        match self.company_info.get(id) {
            Some(c) => Text::Str(&c.location),
            None => Text::Own(company_location(&self.kb, id)),
        }
    }

    /// A brand id for a name as a device states it (`CP_PLUS`, `HIKVISION DS-2CD...`, `AXIS`).
    fn brand_for_name(&self, name: &str) -> Option<String> {
        let name = name.trim();
        if name.is_empty() {
            return None;
        }
        let by = |n: &str| {
            self.kb.brand_by_name(n).map(|b| b.id.clone()).or_else(|| {
                self.kb
                    .company_by_name(n)
                    .and_then(|c| self.kb.brand(&c.id))
                    .map(|b| b.id.clone())
            })
        };
        by(name).or_else(|| {
            let first = name
                .split(|c: char| c.is_whitespace() || c == '/' || c == ',')
                .next()?;
            (first.len() >= 2 && first != name)
                .then(|| by(first))
                .flatten()
        })
    }

    /// The facts of an observation's structured fields, after its signature hits: models,
    /// firmware, names that are brands, MACs (each once per target: `seen` holds the target's
    /// facts so far), parser notes.
    fn record_structured(
        &self,
        kind: u16,
        st: Structured,
        strings: &mut Strings,
        seen: &[Fact],
        facts: &mut Vec<Fact>,
    ) {
        for (value, w, what) in st.model {
            facts.push(Fact::Model {
                kind,
                what: strings.id(what),
                value: strings.id(&value),
                weight: strings.weight(w),
            });
        }
        for (value, w, what) in st.firmware {
            facts.push(Fact::Firmware {
                kind,
                what: strings.id(what),
                value: strings.id(&value),
                weight: strings.weight(w),
            });
        }
        for (value, w, what) in st.names {
            let value = strings.id(&value);
            let brand = match strings.brand_of.get(&value) {
                Some(&b) => b,
                None => {
                    let b = self.brand_for_name(strings.get(value));
                    let b = strings.opt(b.as_deref());
                    strings.brand_of.insert(value, b);
                    b
                }
            };
            if brand != NO_STR {
                facts.push(Fact::Brand {
                    kind,
                    brand,
                    what: strings.id(what),
                    value,
                    weight: strings.weight(w),
                });
            }
        }
        for (mac, what) in st.macs {
            let Some(mac) = norm_mac(&mac).as_deref().and_then(mac_bytes) else {
                continue;
            };
            // Only a target's first sighting of a MAC is evidence.
            let known = |f: &Fact| matches!(f, Fact::Mac { mac: m, .. } if *m == mac);
            if seen.iter().any(known) || facts.iter().any(known) {
                continue;
            }
            facts.push(Fact::Mac {
                kind,
                what: strings.id(what),
                mac,
            });
        }
        for n in st.notes {
            facts.push(Fact::Note {
                kind,
                text: strings.id(&n),
            });
        }
    }

    fn add_mac<'a>(&'a self, acc: &mut Acc<'a>, kind: &'static str, mac: [u8; 6], what: &str) {
        if acc.macs.contains(&mac) {
            return;
        }
        acc.macs.push(mac);
        let norm = mac_text(&mac);
        let Some(hit) = self.kb.lookup_mac(&norm) else {
            return;
        };
        let weak = hit.block.not_surveillance_alone;
        let w = if weak { OUI_WEAK_WEIGHT } else { OUI_WEIGHT };
        // The block's index, from its address in the knowledge base's list.
        let size = std::mem::size_of::<camtrace_kb::OuiBlock>().max(1);
        let index = (hit.block as *const camtrace_kb::OuiBlock as usize)
            .checked_sub(self.kb.oui_blocks.as_ptr() as usize)
            .map(|off| off / size)
            .filter(|&i| {
                self.kb
                    .oui_blocks
                    .get(i)
                    .is_some_and(|b| std::ptr::eq(b, hit.block))
            });
        let source = match index.and_then(|i| self.oui_sources.get(i)) {
            Some(s) => Text::Str(s),
            None => Text::Own(format!("kb/oui; {}", hit.block.source)),
        };
        let ev = acc.push(Ev {
            kind: if kind == "mac" {
                Text::Str("mac")
            } else {
                Text::cat2(kind, " mac")
            },
            detail: Text::Own(format!(
                "{what} {norm}: prefix {} assigned by the IEEE to {}{}",
                hit.prefix,
                hit.block.assignee,
                if weak {
                    " (mostly non-surveillance equipment: not enough alone)"
                } else {
                    ""
                }
            )),
            signature: "",
            source,
            proves: Proves::of(&["maker"]),
            weight: Some(w),
        });
        acc.makers.push(Claim {
            company: Cow::Borrowed(&hit.company.id),
            weight: w,
            direct: true,
            ev,
        });
    }

    /// A company id as a reference (its name from the knowledge base, else the id).
    fn company_ref<'a>(&'a self, id: &str) -> Ref<'a> {
        match self.company_info.get_key_value(id) {
            Some((k, c)) => (Cow::Borrowed(k.as_str()), Cow::Borrowed(c.name.as_str())),
            None => (Cow::Owned(id.to_string()), Cow::Owned(id.to_string())),
        }
    }

    /// A company id, borrowed from the engine's table when the knowledge base knows it.
    fn company_id<'a>(&'a self, id: &str) -> Cow<'a, str> {
        match self.company_info.get_key_value(id) {
            Some((k, _)) => Cow::Borrowed(k.as_str()),
            None => Cow::Owned(id.to_string()),
        }
    }

    fn root_of<'a>(&'a self, id: &'a str) -> &'a str {
        self.company_info.get(id).map_or(id, |c| c.root.as_str())
    }

    /// Subject to the PRC National Intelligence Law, itself or through a parent.
    fn restricted(&self, id: &str) -> bool {
        self.company_info.get(id).is_some_and(|c| c.restricted)
    }

    fn western(&self, id: &str) -> bool {
        self.company_info.get(id).is_some_and(|c| c.western)
    }

    /// Component claims, one per (company, role), with their evidence.
    fn components<'a>(&'a self, acc: &Acc<'a>) -> Vec<CompView<'a>> {
        let mut out: Vec<CompView<'a>> = Vec::new();
        for &(company, role, w, ev) in &acc.components {
            if let Some(c) = out
                .iter_mut()
                .find(|c| c.company.0 == company && c.role == role)
            {
                c.confidence = round(noisy_or([c.confidence, w]).min(MAX_CONFIDENCE));
                c.evidence.push(ev);
                continue;
            }
            let info = self.company_info.get(company);
            let name = info.map_or(company, |c| c.short.as_str());
            let parents: Vec<Ref<'a>> = info
                .map(|c| {
                    c.parents
                        .iter()
                        .map(|(i, n)| (Cow::Borrowed(i.as_str()), Cow::Borrowed(n.as_str())))
                        .collect()
                })
                .unwrap_or_default();
            let summary = match info.and_then(|c| c.parent_short.as_deref()) {
                Some(p) => format!("{role} by {name}, a subsidiary of {p}"),
                None => format!("{role} by {name}"),
            };
            out.push(CompView {
                role,
                company: self.company_ref(company),
                parents,
                summary,
                confidence: round(w.min(MAX_CONFIDENCE)),
                evidence: vec![ev],
            });
        }
        out
    }

    fn resolve<'a>(
        &'a self,
        target: &'a str,
        mut acc: Acc<'a>,
        basis: DateBasis,
        cache: &mut AttrCache,
    ) -> View<'a> {
        let mut id = View {
            target,
            brand: None,
            maker: None,
            model: None,
            firmware: None,
            device_class: DeviceClass::Unknown,
            confidence: 0.0,
            mac: acc.macs.first().map(mac_text),
            call_home: Vec::new(),
            conflicts: Vec::new(),
            evidence: Vec::new(),
            order: Vec::new(),
            components: Vec::new(),
            could_be: Vec::new(),
            maker_from_brand: false,
            first_seen: None,
        };
        if let DateBasis::FirstSeen(d) = basis {
            id.first_seen = Some(d);
        }

        // Brand: the best-supported brand id.
        let mut brand_scores: Vec<(&'a str, f64)> = Vec::new();
        for &(b, w, _) in &acc.brands {
            match brand_scores.iter_mut().find(|(x, _)| *x == b) {
                Some((_, s)) => *s = noisy_or([*s, w]),
                None => brand_scores.push((b, w)),
            }
        }
        brand_scores.sort_by(|a, b| b.1.total_cmp(&a.1));
        let brand = brand_scores.first().copied();

        // Model and firmware: the strongest candidates.
        let best = |v: &Vec<(&'a str, f64, usize)>| {
            v.iter()
                .max_by(|a, b| a.1.total_cmp(&b.1))
                .map(|&(s, _, _)| s)
        };
        id.model = best(&acc.models);
        id.firmware = best(&acc.firmwares);

        // Brand-derived maker claim: the knowledge base's one attribution rule
        // (`Kb::attribute_brand`: an OEM link naming the model, a brand-wide OEM link of at least
        // medium confidence, the owner, then a weak OEM link), read at the device's own date
        // (first seen), else the evaluation date. The fact that decides is the claim; the others
        // are kept as evidence that decides nothing.
        let mut oem_explains: Vec<String> = Vec::new();
        let mut could_be: Vec<MakerFact> = Vec::new();
        if let Some((b, bw)) = brand {
            if let Some(att) = cache.attribute(&self.kb, b, id.model, basis) {
                for f in att.maker.iter().chain(&att.others).chain(&att.could_be) {
                    if f.kind != FactKind::Owner && !oem_explains.contains(&f.company) {
                        oem_explains.push(f.company.clone());
                    }
                }
                if let Some(m) = &att.maker {
                    let w = bw * m.confidence.weight();
                    let ev = acc.push(Ev {
                        kind: Text::Str("kb"),
                        detail: Text::Own(format!(
                            "{} (the device's date: {})",
                            m.text,
                            basis.describe()
                        )),
                        signature: "",
                        source: Text::Own(format!("{}; {}", m.location, m.source)),
                        proves: Proves::of(&["maker"]),
                        weight: Some(round(w)),
                    });
                    acc.makers.push(Claim {
                        company: self.company_id(&m.company),
                        weight: w,
                        direct: false,
                        ev,
                    });
                }
                for o in &att.others {
                    acc.push(Ev {
                        kind: Text::Str("kb"),
                        detail: Text::Own(format!(
                            "not relied on ({} confidence, weaker or less specific): {}",
                            o.confidence.as_str(),
                            o.text
                        )),
                        signature: "",
                        source: Text::Own(format!("{}; {}", o.location, o.source)),
                        proves: Proves::default(),
                        weight: Some(round(bw * o.confidence.weight() * 0.5)),
                    });
                }
                could_be.clone_from(&att.could_be);
            }
        }

        // Maker: group claims by corporate family, best family wins; within it, the company
        // with the strongest direct (firmware/hardware) evidence.
        struct Fam<'a, 'c> {
            root: &'c str,
            score: f64,
            max: f64,
            claims: Vec<&'c Claim<'a>>,
        }
        let makers = std::mem::take(&mut acc.makers);
        let mut fams: Vec<Fam<'a, '_>> = Vec::new();
        for c in &makers {
            let root = self.root_of(&c.company);
            match fams.iter_mut().find(|f| f.root == root) {
                Some(f) => {
                    f.score = noisy_or([f.score, c.weight]);
                    f.max = f.max.max(c.weight);
                    f.claims.push(c);
                }
                None => fams.push(Fam {
                    root,
                    score: c.weight,
                    max: c.weight,
                    claims: vec![c],
                }),
            }
        }
        fams.sort_by(|a, b| b.score.total_cmp(&a.score));
        let pick = |f: &Fam<'a, '_>| -> Cow<'a, str> {
            let mut per: Vec<(&Cow<'a, str>, f64, bool)> = Vec::new();
            for c in &f.claims {
                match per.iter_mut().find(|(x, _, _)| **x == c.company) {
                    Some(p) => {
                        if c.direct {
                            p.1 = noisy_or([p.1, c.weight]);
                            p.2 = true;
                        }
                    }
                    None => per.push((&c.company, if c.direct { c.weight } else { 0.0 }, c.direct)),
                }
            }
            per.sort_by(|a, b| b.2.cmp(&a.2).then(b.1.total_cmp(&a.1)));
            per[0].0.clone()
        };
        if let Some(mut chosen) = (!fams.is_empty()).then_some(0usize) {
            // Safety: a restricted maker without a strong tell never displaces a Western maker
            // with real evidence.
            let top_company = pick(&fams[0]);
            if self.restricted(&top_company) && fams[0].max < 0.8 {
                if let Some(w) = fams
                    .iter()
                    .position(|f| f.max >= ASSERT_RESTRICTED && self.western(&pick(f)))
                {
                    chosen = w;
                }
            }
            let fam = &fams[chosen];
            let maker = pick(fam);
            let maker_ref = self.company_ref(&maker);
            let mut conf = fam.score;
            // Conflicts: other families with direct evidence, or a brand owner that is not the
            // maker without an OEM link to explain it.
            let mut conflict_w: f64 = 0.0;
            for (i, f) in fams.iter().enumerate() {
                if i == chosen {
                    continue;
                }
                let other = pick(f);
                let explained = oem_explains.iter().any(|m| self.root_of(m) == fam.root)
                    && f.claims.iter().all(|c| !c.direct);
                if explained {
                    let brand_name = brand
                        .and_then(|(b, _)| self.kb.brand(b))
                        .map(|b| b.name.as_str())
                        .unwrap_or_default();
                    acc.push(Ev {
                        kind: Text::Str("kb"),
                        detail: Text::Own(format!(
                            "rebrand: {brand_name} (brand of {}) is made by {} per an OEM link",
                            self.company_ref(&other).1,
                            maker_ref.1
                        )),
                        signature: "",
                        source: self.brand_location(brand.map(|b| b.0).unwrap_or("")),
                        proves: Proves::of(&["maker", "brand"]),
                        weight: None,
                    });
                    continue;
                }
                let strongest = f
                    .claims
                    .iter()
                    .max_by(|a, b| a.weight.total_cmp(&b.weight))
                    .map(|c| acc.evidence[c.ev].detail.to_owned_string())
                    .unwrap_or_default();
                let text = format!(
                    "evidence for {} ({}) disagrees with maker {}",
                    self.company_ref(&other).1,
                    strongest,
                    maker_ref.1
                );
                conflict_w = conflict_w.max(f.max);
                acc.push(Ev {
                    kind: Text::Str("conflict"),
                    detail: Text::Own(text.clone()),
                    signature: "",
                    source: self.company_location(&other),
                    proves: Proves::of(&["conflict"]),
                    weight: Some(round(f.max)),
                });
                acc.conflicts.push(text);
            }
            conf *= 1.0 - 0.5 * conflict_w;
            if self.restricted(&maker) && fam.max < ASSERT_RESTRICTED {
                conf = conf.min(WEAK_CAP);
            }
            id.confidence = round(conf.min(MAX_CONFIDENCE));
            // The device's own evidence (a firmware or hardware tell) settles a maker the date
            // leaves open; the brand alone does not.
            let settled_by_device = fam
                .claims
                .iter()
                .any(|c| c.direct && c.weight >= ASSERT_RESTRICTED);
            id.maker_from_brand =
                !settled_by_device && fam.claims.iter().any(|c| !c.direct && c.company == maker);
            if !could_be.is_empty() && settled_by_device {
                acc.push(Ev {
                    kind: Text::Str("kb"),
                    detail: Text::Own(format!(
                        "the device's date does not settle who made the brand ({}), but the device's own evidence names {}",
                        basis.describe(),
                        maker_ref.1
                    )),
                    signature: "",
                    source: self.company_location(&maker),
                    proves: Proves::of(&["maker"]),
                    weight: None,
                });
                could_be.clear();
            }
            id.maker = Some(maker_ref);
        }
        if !could_be.is_empty() {
            let list: Vec<String> = could_be
                .iter()
                .map(|c| format!("{} ({})", self.company_ref(&c.company).1, c.text))
                .collect();
            let text = format!(
                "the device's date does not settle who made it ({}): it could be {}; check its install date or label",
                basis.describe(),
                list.join(", or ")
            );
            acc.push(Ev {
                kind: Text::Str("kb"),
                detail: Text::Own(text),
                signature: "",
                source: Text::Own(
                    could_be
                        .iter()
                        .map(|c| format!("{}; {}", c.location, c.source))
                        .collect::<Vec<_>>()
                        .join(" | "),
                ),
                proves: Proves::of(&["maker"]),
                weight: None,
            });
            id.could_be = could_be
                .iter()
                .map(|c| self.company_ref(&c.company))
                .collect();
        }

        if let Some((b, _)) = brand {
            id.brand = Some(match self.brand_info.get_key_value(b) {
                Some((k, info)) => (Cow::Borrowed(k.as_str()), Cow::Borrowed(info.name.as_str())),
                None => (Cow::Borrowed(b), Cow::Borrowed(b)),
            });
        }

        // Class: the best-supported class above the threshold; else cameras for a surveillance
        // maker identified from device evidence.
        let mut class_scores: Vec<(DeviceClass, f64)> = Vec::new();
        for (c, w, _) in &acc.classes {
            match class_scores.iter_mut().find(|(x, _)| x == c) {
                Some((_, s)) => *s = noisy_or([*s, *w]),
                None => class_scores.push((*c, *w)),
            }
        }
        class_scores.sort_by(|a, b| b.1.total_cmp(&a.1));
        match class_scores.first() {
            Some((c, s)) if *s >= CLASS_THRESHOLD => {
                id.device_class = *c;
                if id.maker.is_none() {
                    id.confidence = round(s.min(MAX_CONFIDENCE));
                }
            }
            _ => {
                if let Some(m) = &id.maker {
                    let evidence_beyond_mac = makers
                        .iter()
                        .any(|c| !acc.evidence[c.ev].kind.ends_with("mac"))
                        || brand.is_some();
                    let makes_cameras = self
                        .kb
                        .company(&m.0)
                        .is_some_and(|c| c.makes.iter().any(|x| x == "camera"));
                    if evidence_beyond_mac && makes_cameras && id.confidence >= ASSERT_RESTRICTED {
                        id.device_class = DeviceClass::Camera;
                        let ev = Ev {
                            kind: Text::Str("kb"),
                            detail: Text::Own(format!(
                                "no class evidence: {} makes cameras, the most common device",
                                m.1
                            )),
                            signature: "",
                            source: self.company_location(&m.0),
                            proves: Proves::of(&["class"]),
                            weight: Some(0.3),
                        };
                        acc.push(ev);
                    }
                }
            }
        }
        id.components = self.components(&acc);
        id.call_home = acc.call_home.into_iter().collect();
        id.conflicts = acc.conflicts;
        let mut order: Vec<usize> = (0..acc.evidence.len()).collect();
        let w = |i: usize| acc.evidence[i].weight.unwrap_or(0.5);
        order.sort_by(|&a, &b| w(b).total_cmp(&w(a)));
        id.order = order;
        id.evidence = acc.evidence;
        id
    }
}

/// `<location>; <source>` of a brand (`kb/brands` when the knowledge base does not place it).
fn brand_location(kb: &Kb, id: &str) -> String {
    let source = kb.brand(id).map(|b| b.source.as_str());
    kb_location(kb, "brand", "kb/brands", id, source)
}

/// `<location>; <source>` of a company (`kb/companies` when the knowledge base does not place
/// it).
fn company_location(kb: &Kb, id: &str) -> String {
    let source = kb.company(id).map(|c| c.source.as_str());
    kb_location(kb, "company", "kb/companies", id, source)
}

/// `<location>; <source>` of a knowledge-base entry of `kind` (its file and line, else
/// `fallback`).
fn kb_location(kb: &Kb, kind: &str, fallback: &str, id: &str, source: Option<&str>) -> String {
    let loc = kb
        .location(kind, id)
        .map_or_else(|| fallback.to_string(), |l| l.to_string());
    format!("{loc}; {}", source.unwrap_or(""))
}

/// The engine's per-company and per-brand tables.
fn company_tables(kb: &Kb) -> (FastMap<CompanyInfo>, FastMap<BrandInfo>) {
    let mut companies = FastMap::default();
    for c in &kb.companies {
        let chain = kb.company_chain(&c.id);
        let restricted = chain.iter().any(|c| c.prc_nil == Tristate::Yes);
        let western = !chain.is_empty()
            && chain.first().map(|c: &&Company| c.prc_nil) == Some(Tristate::No)
            && !restricted;
        companies.insert(
            c.id.clone(),
            CompanyInfo {
                name: c.name.clone(),
                short: chain
                    .first()
                    .map_or_else(|| c.id.clone(), |c| c.short.clone()),
                root: chain.last().map_or_else(|| c.id.clone(), |c| c.id.clone()),
                restricted,
                western,
                location: company_location(kb, &c.id),
                parents: chain
                    .iter()
                    .skip(1)
                    .map(|p| (p.id.clone(), p.name.clone()))
                    .collect(),
                parent_short: chain.get(1).map(|p| p.short.clone()),
            },
        );
    }
    let mut brands = FastMap::default();
    for b in &kb.brands {
        brands.insert(
            b.id.clone(),
            BrandInfo {
                name: b.name.clone(),
                location: brand_location(kb, &b.id),
            },
        );
    }
    (companies, brands)
}
