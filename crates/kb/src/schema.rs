//! The schema of the vendor side of the knowledge base. Every entry has `source` and `as_of`:
//! both are required fields, so an entry without them fails to load with its file and line.
//!
//! Files:
//! * `companies/*.toml`: `[[company]]` entries with nested `[[company.list]]` memberships.
//! * `lists.toml`: `[[list]]` definitions (FCC Covered List, NDAA 889, BIS Entity List ...).
//! * `brands/*.toml`: `[[brand]]` entries with `[[brand.owner]]` periods, and `[[oem]]` links.
//! * `oui/*.toml`: `[[block]]` entries: MAC prefixes assigned by the IEEE to a company.
//! * `signatures/*.toml`: `[[signature]]` entries: patterns over observation fields.

use crate::KbDate;
use serde::{Deserialize, Serialize};

/// Yes / no / unknown, for facts such as "subject to the PRC National Intelligence Law".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tristate {
    Yes,
    No,
    Unknown,
}

impl Tristate {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Yes => "yes",
            Self::No => "no",
            Self::Unknown => "unknown",
        }
    }
}

/// Why an entry's citation gives no URL (`source_kind = "..."`). An entry whose `source` (or
/// `also`, `citation`) holds an http(s) URL needs none; a verified entry without a URL must
/// say why, or `kb check` refuses it. The reason itself is written in `source`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// No public URL exists: a standard or report bought or behind a paywall, a printed
    /// document, a vendor's private letter. `source` names the document so a reader can get it.
    Offline,
    /// A public web source whose address was not recorded. Still read, so that a user's overlay
    /// written before the rule loads, but `kb check` refuses it: a public source has a URL, and
    /// a citation that omits it cannot be followed (issue 13). Record the URL, or, when no
    /// source can be followed, mark the entry `unverified = true`; `offline` is for a source
    /// that has no public URL at all.
    Unrecorded,
    /// camtrace's own stated assumption (planning defaults such as costs), not a fact from
    /// outside: there is nothing to link to.
    Assumption,
}

impl SourceKind {
    /// The kinds `kb check` accepts as a reason for citing no URL (and counts). `unrecorded` is
    /// not one of them: see [`SourceKind::parse_any`].
    pub const ALL: &'static [SourceKind] = &[Self::Offline, Self::Assumption];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Offline => "offline",
            Self::Unrecorded => "unrecorded",
            Self::Assumption => "assumption",
        }
    }

    /// What the kind means, for `kb check`'s counts.
    pub fn meaning(self) -> &'static str {
        match self {
            Self::Offline => "no public URL exists (bought, paywalled or private source)",
            Self::Unrecorded => {
                "public source whose URL was not recorded (refused: record the URL)"
            }
            Self::Assumption => "camtrace's own assumption, nothing to link to",
        }
    }

    /// An accepted kind by name (`offline`, `assumption`); `None` for any other name,
    /// `unrecorded` included.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|k| k.as_str() == s)
    }

    /// Any kind the loader reads, refused ones (`unrecorded`) included.
    pub fn parse_any(s: &str) -> Option<Self> {
        Self::parse(s).or((s == Self::Unrecorded.as_str()).then_some(Self::Unrecorded))
    }
}

/// How sure a relationship is (from the facts' own grading: strong, medium, weak).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Confidence {
    Weak,
    Medium,
    Strong,
}

impl Confidence {
    /// Numeric weight used by identification.
    pub fn weight(self) -> f64 {
        match self {
            Self::Weak => 0.4,
            Self::Medium => 0.65,
            Self::Strong => 0.9,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Weak => "weak",
            Self::Medium => "medium",
            Self::Strong => "strong",
        }
    }
}

/// State ownership facts of a company.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateOwnership {
    /// Share held by state entities, in percent, where a figure is published.
    #[serde(default)]
    pub share_pct: Option<f64>,
    /// Who holds it (e.g. "CETC, ultimately SASAC").
    pub holder: String,
    #[serde(default)]
    pub note: Option<String>,
    /// Verification state: `true` when no public source confirms the entry (its `source` says
    /// "unverified: ..."). The policy engine never decides a verdict on such a fact alone.
    #[serde(default)]
    pub unverified: bool,
    /// Fields of the entry that no public source confirms while the rest is sourced (e.g.
    /// `["parent_note"]`). Empty when every field is sourced (or the whole entry is `unverified`).
    #[serde(default)]
    pub unverified_fields: Vec<String>,
    /// Why `source` gives no URL, when it gives none (see [`SourceKind`]); `kb check` refuses a
    /// verified entry whose citation has no http(s) URL and no `source_kind`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_kind: Option<SourceKind>,
    pub source: String,
    pub as_of: KbDate,
}

/// Membership of a company in a government list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListMembership {
    /// A list id from `lists.toml`.
    pub list: String,
    pub added: KbDate,
    #[serde(default)]
    pub removed: Option<KbDate>,
    /// The scope as written by the list (e.g. FCC's "to the extent it is used for ...").
    #[serde(default)]
    pub scope: Option<String>,
    /// Context: precision of the date, what the entry covers when it is not a purpose scope.
    #[serde(default)]
    pub note: Option<String>,
    /// The membership is reported by a source but not confirmed: shown as unverified, never as
    /// certain (`Kb::lists_on` leaves it out; the policy engine asks for inspection where it
    /// would decide a rule).
    #[serde(default)]
    pub unverified: bool,
    /// Fields of the entry that no public source confirms while the rest is sourced (e.g.
    /// `["parent_note"]`). Empty when every field is sourced (or the whole entry is `unverified`).
    #[serde(default)]
    pub unverified_fields: Vec<String>,
    /// Why `source` gives no URL, when it gives none (see [`SourceKind`]); `kb check` refuses a
    /// verified entry whose citation has no http(s) URL and no `source_kind`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_kind: Option<SourceKind>,
    pub source: String,
    pub as_of: KbDate,
}

impl ListMembership {
    /// Whether the membership holds on `date`.
    pub fn active_on(&self, date: chrono::NaiveDate) -> bool {
        self.added.0 <= date && self.removed.is_none_or(|r| date < r.0)
    }
}

/// A company: maker, parent, or owner of brands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Company {
    /// Stable lower-case id (`hikvision`).
    pub id: String,
    /// Legal name.
    pub name: String,
    /// Common short name (`Hikvision`).
    pub short: String,
    #[serde(default)]
    pub aliases: Vec<String>,
    /// ISO 3166 alpha-2 country of headquarters.
    pub country: String,
    #[serde(default)]
    pub hq: Option<String>,
    /// Parent company id, when the parent is in the knowledge base.
    #[serde(default)]
    pub parent: Option<String>,
    /// Parent described in words, when not in the knowledge base.
    #[serde(default)]
    pub parent_note: Option<String>,
    #[serde(default)]
    pub state_ownership: Option<StateOwnership>,
    /// Subject to the PRC National Intelligence Law (2017)?
    pub prc_nil: Tristate,
    /// The reasoning behind `prc_nil`.
    pub prc_nil_reason: String,
    /// What the company makes: camera, recorder, encoder, vms, intercom, access_control, other.
    #[serde(default)]
    pub makes: Vec<String>,
    #[serde(default, rename = "list")]
    pub lists: Vec<ListMembership>,
    #[serde(default)]
    pub note: Option<String>,
    /// Verification state: `true` when no public source confirms the entry (its `source` says
    /// "unverified: ..."). The policy engine never decides a verdict on such a fact alone.
    #[serde(default)]
    pub unverified: bool,
    /// Fields of the entry that no public source confirms while the rest is sourced (e.g.
    /// `["parent_note"]`). Empty when every field is sourced (or the whole entry is `unverified`).
    #[serde(default)]
    pub unverified_fields: Vec<String>,
    /// Why `source` gives no URL, when it gives none (see [`SourceKind`]); `kb check` refuses a
    /// verified entry whose citation has no http(s) URL and no `source_kind`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_kind: Option<SourceKind>,
    pub source: String,
    /// Further sources for the entry.
    #[serde(default)]
    pub also: Vec<String>,
    pub as_of: KbDate,
}

/// A government list that companies can be on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListDef {
    pub id: String,
    pub name: String,
    pub authority: String,
    pub jurisdiction: String,
    #[serde(default)]
    pub description: Option<String>,
    /// The list's own wording that extends a named company's entry to its subsidiaries or
    /// affiliates. `None`: the list names specific entities only, so a parent's membership is
    /// not passed down to its subsidiaries.
    #[serde(default)]
    pub affiliates: Option<AffiliateCoverage>,
    /// Verification state: `true` when no public source confirms the entry (its `source` says
    /// "unverified: ..."). The policy engine never decides a verdict on such a fact alone.
    #[serde(default)]
    pub unverified: bool,
    /// Fields of the entry that no public source confirms while the rest is sourced (e.g.
    /// `["parent_note"]`). Empty when every field is sourced (or the whole entry is `unverified`).
    #[serde(default)]
    pub unverified_fields: Vec<String>,
    /// Why `source` gives no URL, when it gives none (see [`SourceKind`]); `kb check` refuses a
    /// verified entry whose citation has no http(s) URL and no `source_kind`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_kind: Option<SourceKind>,
    pub source: String,
    pub as_of: KbDate,
}

/// How a list's own text covers the subsidiaries or affiliates of the companies it names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AffiliateCoverage {
    /// The list's wording, quoted (e.g. NDAA s. 889(f)(3): "or any subsidiary or affiliate of
    /// such entities").
    pub text: String,
    /// Why `source` gives no URL, when it gives none (see [`SourceKind`]); `kb check` refuses a
    /// verified entry whose citation has no http(s) URL and no `source_kind`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_kind: Option<SourceKind>,
    pub source: String,
    pub as_of: KbDate,
}

/// A period during which a company owns or makes a brand.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrandOwner {
    pub company: String,
    /// `own` (the company's own name), `sub_brand`, `subsidiary`, `former_subsidiary`.
    pub relationship: String,
    #[serde(default)]
    pub from: Option<KbDate>,
    /// Exclusive end (e.g. Lorex sold by Dahua on 2022-11-24).
    #[serde(default)]
    pub to: Option<KbDate>,
    pub confidence: Confidence,
    #[serde(default)]
    pub note: Option<String>,
    /// Verification state: `true` when no public source confirms the entry (its `source` says
    /// "unverified: ..."). The policy engine never decides a verdict on such a fact alone.
    #[serde(default)]
    pub unverified: bool,
    /// Fields of the entry that no public source confirms while the rest is sourced (e.g.
    /// `["parent_note"]`). Empty when every field is sourced (or the whole entry is `unverified`).
    #[serde(default)]
    pub unverified_fields: Vec<String>,
    /// Why `source` gives no URL, when it gives none (see [`SourceKind`]); `kb check` refuses a
    /// verified entry whose citation has no http(s) URL and no `source_kind`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_kind: Option<SourceKind>,
    pub source: String,
    pub as_of: KbDate,
}

impl BrandOwner {
    pub fn active_on(&self, date: chrono::NaiveDate) -> bool {
        self.from.is_none_or(|f| f.0 <= date) && self.to.is_none_or(|t| date < t.0)
    }
}

/// A brand: the name on the box.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Brand {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub aliases: Vec<String>,
    #[serde(default, rename = "owner")]
    pub owners: Vec<BrandOwner>,
    #[serde(default)]
    pub note: Option<String>,
    /// Verification state: `true` when no public source confirms the entry (its `source` says
    /// "unverified: ..."). The policy engine never decides a verdict on such a fact alone.
    #[serde(default)]
    pub unverified: bool,
    /// Fields of the entry that no public source confirms while the rest is sourced (e.g.
    /// `["parent_note"]`). Empty when every field is sourced (or the whole entry is `unverified`).
    #[serde(default)]
    pub unverified_fields: Vec<String>,
    /// Why `source` gives no URL, when it gives none (see [`SourceKind`]); `kb check` refuses a
    /// verified entry whose citation has no http(s) URL and no `source_kind`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_kind: Option<SourceKind>,
    pub source: String,
    pub as_of: KbDate,
}

/// An OEM link: products sold under `brand` are made by `maker` (for the given model patterns,
/// or brand-wide when `models` is empty), during a period, with a confidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OemLink {
    pub brand: String,
    pub maker: String,
    /// Model patterns: a prefix, with `*` as a wildcard (`CMIP*`, `*-HDW*`). Empty: brand-wide.
    #[serde(default)]
    pub models: Vec<String>,
    #[serde(default)]
    pub from: Option<KbDate>,
    #[serde(default)]
    pub to: Option<KbDate>,
    pub confidence: Confidence,
    #[serde(default)]
    pub note: Option<String>,
    /// Verification state: `true` when no public source confirms the entry (its `source` says
    /// "unverified: ..."). The policy engine never decides a verdict on such a fact alone.
    #[serde(default)]
    pub unverified: bool,
    /// Fields of the entry that no public source confirms while the rest is sourced (e.g.
    /// `["parent_note"]`). Empty when every field is sourced (or the whole entry is `unverified`).
    #[serde(default)]
    pub unverified_fields: Vec<String>,
    /// Why `source` gives no URL, when it gives none (see [`SourceKind`]); `kb check` refuses a
    /// verified entry whose citation has no http(s) URL and no `source_kind`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_kind: Option<SourceKind>,
    pub source: String,
    pub as_of: KbDate,
}

impl OemLink {
    pub fn active_on(&self, date: chrono::NaiveDate) -> bool {
        self.from.is_none_or(|f| f.0 <= date) && self.to.is_none_or(|t| date < t.0)
    }
}

/// MAC prefixes the IEEE assigned to one company.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OuiBlock {
    pub company: String,
    /// `MA-L` (24-bit), `MA-M` (28-bit), `MA-S` (36-bit).
    pub registry: String,
    /// The organisation name as registered with the IEEE.
    pub assignee: String,
    /// Hex prefixes without separators: 6 digits (MA-L), 7 (MA-M), 9 (MA-S).
    pub prefixes: Vec<String>,
    /// A MAC prefix alone must not classify the device as surveillance equipment (e.g. Huawei, ZTE
    /// whose prefixes are mostly network gear).
    #[serde(default)]
    pub not_surveillance_alone: bool,
    #[serde(default)]
    pub note: Option<String>,
    /// Verification state: `true` when no public source confirms the entry (its `source` says
    /// "unverified: ..."). The policy engine never decides a verdict on such a fact alone.
    #[serde(default)]
    pub unverified: bool,
    /// Fields of the entry that no public source confirms while the rest is sourced (e.g.
    /// `["parent_note"]`). Empty when every field is sourced (or the whole entry is `unverified`).
    #[serde(default)]
    pub unverified_fields: Vec<String>,
    /// Why `source` gives no URL, when it gives none (see [`SourceKind`]); `kb check` refuses a
    /// verified entry whose citation has no http(s) URL and no `source_kind`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_kind: Option<SourceKind>,
    pub source: String,
    pub as_of: KbDate,
}

/// A fingerprint signature: a pattern over one field of one observation kind, and what a match
/// proves. Patterns are compiled once at load.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signature {
    pub id: String,
    /// Observation kind (`http`, `rtsp`, `tls`, `sadp`, `dhip`, `dns`, ...).
    pub kind: String,
    /// Which field of the observation (see the identify crate's docs for the field names, e.g.
    /// `header:server`, `title`, `body`, `realm`, `subject`, `query`, `scope:name`).
    pub field: String,
    /// A regular expression (Rust `regex` syntax). Named groups `model` and `firmware` capture.
    pub pattern: String,
    #[serde(default)]
    pub case_insensitive: bool,
    /// The company that made the device (firmware and hardware), when a match proves it.
    #[serde(default)]
    pub maker: Option<String>,
    /// The brand on the box, when a match proves it.
    #[serde(default)]
    pub brand: Option<String>,
    /// Firmware family (e.g. `hikvision`), when a match proves it but not the brand.
    #[serde(default)]
    pub firmware_family: Option<String>,
    /// Device class a match implies.
    #[serde(default)]
    pub class: Option<String>,
    /// Cloud service a look-up of this name calls home to (for `dns`).
    #[serde(default)]
    pub call_home: Option<String>,
    /// 0..1: how strongly a match proves its claims.
    pub strength: f64,
    #[serde(default)]
    pub note: Option<String>,
    /// Verification state: `true` when no public source confirms the entry (its `source` says
    /// "unverified: ..."). The policy engine never decides a verdict on such a fact alone.
    #[serde(default)]
    pub unverified: bool,
    /// Fields of the entry that no public source confirms while the rest is sourced (e.g.
    /// `["parent_note"]`). Empty when every field is sourced (or the whole entry is `unverified`).
    #[serde(default)]
    pub unverified_fields: Vec<String>,
    /// Why `source` gives no URL, when it gives none (see [`SourceKind`]); `kb check` refuses a
    /// verified entry whose citation has no http(s) URL and no `source_kind`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_kind: Option<SourceKind>,
    pub source: String,
    pub as_of: KbDate,
}

/// `kb/VERSION.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionFile {
    pub version: String,
    pub as_of: KbDate,
}
