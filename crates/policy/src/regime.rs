//! Regimes as data: the TOML schema of `kb/policies/*.toml`, its validation, and the loaded
//! [`Regime`] / [`Rule`] types with compiled CEL predicates.
//!
//! A policy file holds one regime:
//!
//! ```toml
//! [regime]
//! id = "uk-2022-sensitive-sites"
//! title = "..."
//! jurisdiction = "GB"
//! effective = 2022-11-24
//! opt_in = false                 # default false; opt-in regimes only run when named
//! min_confidence = 0.5           # below this a maker identification needs inspection
//! inspection_severity = "high"   # severity of "needs inspection" findings
//! source = "https://..."
//! as_of = 2026-11-28
//! citation = { url = "https://...", text = "exact wording" }
//!
//! [[rule]]
//! id = "no-new-deployment"
//! title = "..."
//! scope = "site.sensitive"       # CEL over device, site, org, network (no maker facts)
//! classes = ["camera", "recorder"]  # default: every surveillance class
//! statuses = ["planned"]         # default: planned, installed, disconnected
//! when = 'maker.prc_nil == "yes"'   # CEL over every variable
//! obligation = "no_new_deployment"
//! due = 2025-04-30               # required for obligation = "remove_by"
//! severity = "critical"
//! effective = 2022-11-24         # default: the regime's
//! note = "how the scope was modelled"  # optional, shown in the reasons
//! source = "https://..."
//! as_of = 2026-11-28
//! citation = { url = "https://...", text = "exact wording" }
//! ```
//!
//! The CEL variables are documented in [`crate::vars`].

use crate::vars;
use camtrace_kb::{parse_toml, KbDate, KbError, KbErrors, KbFile, KbFiles};
use camtrace_model::{DeviceClass, DeviceStatus};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;
use toml::Spanned;

/// Default confidence below which a maker identification is not trusted (needs inspection).
pub const DEFAULT_MIN_CONFIDENCE: f64 = 0.5;

/// How bad an open finding is. Ordered: `Info < Low < Medium < High < Critical`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 5] = [
        Self::Info,
        Self::Low,
        Self::Medium,
        Self::High,
        Self::Critical,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                format!("unknown severity `{s}` (expected info, low, medium, high or critical)")
            })
    }
}

/// What a rule requires of a device it applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Obligation {
    /// Do not install (planned devices must not be deployed).
    NoNewDeployment,
    /// Take it off the core network.
    DisconnectFromCoreNetwork,
    /// Remove it by the rule's `due` date.
    RemoveBy,
    /// Replace it at its scheduled upgrade (the finding's `due` is the device's upgrade date).
    ReplaceAtScheduledUpgrade,
    /// Review and record a decision (e.g. remove now rather than await the upgrade).
    Review,
    /// Must not be used at all (buy or use ban).
    CeaseUse,
}

impl Obligation {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NoNewDeployment => "no_new_deployment",
            Self::DisconnectFromCoreNetwork => "disconnect_from_core_network",
            Self::RemoveBy => "remove_by",
            Self::ReplaceAtScheduledUpgrade => "replace_at_scheduled_upgrade",
            Self::Review => "review",
            Self::CeaseUse => "cease_use",
        }
    }
}

impl fmt::Display for Obligation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a rule comes from: the URL (or, when the source has no stable URL, a reference) and
/// the wording of the source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Citation {
    #[serde(default)]
    pub url: String,
    /// A textual reference (e.g. "HL9193, written answer of 24 Jul 2023") when there is no URL,
    /// or in addition to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// The exact wording of the source, or a close paraphrase when `paraphrase` is true.
    pub text: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub paraphrase: bool,
}

impl Citation {
    /// URL, else the reference.
    pub fn locator(&self) -> String {
        match (&self.reference, self.url.is_empty()) {
            (Some(r), true) => r.clone(),
            (Some(r), false) => format!("{} ({r})", self.url),
            (None, _) => self.url.clone(),
        }
    }
    /// The wording, quoted when exact.
    pub fn wording(&self) -> String {
        if self.paraphrase {
            format!("(paraphrase) {}", self.text)
        } else {
            format!("\"{}\"", self.text)
        }
    }
    fn check(&self) -> Option<&'static str> {
        if self.text.trim().is_empty() {
            Some("citation.text must not be empty")
        } else if self.url.trim().is_empty()
            && self
                .reference
                .as_deref()
                .is_none_or(|r| r.trim().is_empty())
        {
            Some("citation needs a url or a reference")
        } else {
            None
        }
    }
}

// ---------------------------------------------------------------------------------------------
// File schema (what is written in TOML)

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    regime: Spanned<RegimeDef>,
    #[serde(default)]
    rule: Vec<Spanned<RuleDef>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RegimeDef {
    id: String,
    title: String,
    jurisdiction: String,
    effective: KbDate,
    #[serde(default)]
    opt_in: bool,
    #[serde(default)]
    min_confidence: Option<f64>,
    #[serde(default)]
    inspection_severity: Option<Severity>,
    #[serde(default)]
    note: Option<String>,
    citation: Citation,
    source: String,
    /// Why the citation gives no URL, when it gives none (checked by the kb loader).
    #[serde(default)]
    #[allow(dead_code)]
    source_kind: Option<camtrace_kb::SourceKind>,
    as_of: KbDate,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleDef {
    id: String,
    title: String,
    #[serde(default)]
    scope: Option<Spanned<String>>,
    #[serde(default)]
    classes: Option<Vec<String>>,
    #[serde(default)]
    statuses: Option<Vec<String>>,
    when: Spanned<String>,
    obligation: Obligation,
    #[serde(default)]
    due: Option<KbDate>,
    severity: Severity,
    #[serde(default)]
    effective: Option<KbDate>,
    #[serde(default)]
    note: Option<String>,
    citation: Citation,
    source: String,
    /// Why the citation gives no URL, when it gives none (checked by the kb loader).
    #[serde(default)]
    #[allow(dead_code)]
    source_kind: Option<camtrace_kb::SourceKind>,
    as_of: KbDate,
}

// ---------------------------------------------------------------------------------------------
// Loaded types

/// A compiled CEL expression with its source text.
pub struct Predicate {
    pub source: String,
    pub(crate) program: cel::Program,
    /// The facts the expression reads, for the reasons (`maker.prc_nil`, list ids, ...).
    pub(crate) reads: vars::Reads,
}

impl fmt::Debug for Predicate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Predicate({:?})", self.source)
    }
}

/// One rule of a regime.
#[derive(Debug)]
pub struct Rule {
    pub id: String,
    pub title: String,
    /// Which devices the rule is about, independently of who made them (CEL over `device`,
    /// `site`, `org`, `network`). `None`: every site.
    pub scope: Option<Predicate>,
    pub classes: Vec<DeviceClass>,
    pub statuses: Vec<DeviceStatus>,
    /// When the rule applies to a device in scope (CEL over every variable).
    pub when: Predicate,
    pub obligation: Obligation,
    pub due: Option<NaiveDate>,
    pub severity: Severity,
    pub effective: NaiveDate,
    pub note: Option<String>,
    pub citation: Arc<Citation>,
    pub source: String,
    pub as_of: NaiveDate,
    /// `kb/policies/<file>:<line>` of the rule.
    pub location: String,
}

/// A regime: a government rule set, with its rules.
#[derive(Debug)]
pub struct Regime {
    pub id: String,
    pub title: String,
    pub jurisdiction: String,
    pub effective: NaiveDate,
    /// Opt-in regimes (e.g. the stricter all-government-buildings proposal) only run when named.
    pub opt_in: bool,
    /// Identifications of the maker below this confidence need inspection.
    pub min_confidence: f64,
    pub inspection_severity: Severity,
    pub note: Option<String>,
    pub citation: Arc<Citation>,
    pub source: String,
    pub as_of: NaiveDate,
    pub location: String,
    pub rules: Vec<Rule>,
}

impl Regime {
    pub fn rule(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.id == id)
    }
}

/// All regimes found under `policies/` in a knowledge-base file set.
#[derive(Debug, Default)]
pub struct PolicySet {
    pub regimes: Vec<Regime>,
}

impl PolicySet {
    /// Load and validate every `policies/*.toml` file. All errors are collected, each with its
    /// file and line (bad TOML, missing fields, CEL syntax errors, unknown variables or fields,
    /// predicates that do not yield a boolean, duplicate ids, `remove_by` without `due`).
    pub fn load(files: &KbFiles) -> Result<Self, KbErrors> {
        let mut errors = KbErrors::default();
        let mut regimes: Vec<Regime> = Vec::new();
        for f in files.under("policies/") {
            match load_file(f) {
                Ok(r) => {
                    if let Some(prev) = regimes.iter().find(|p| p.id == r.id) {
                        errors.push(KbError::new(
                            &f.display_path(),
                            r.location
                                .rsplit(':')
                                .next()
                                .and_then(|l| l.parse().ok())
                                .unwrap_or(0),
                            1,
                            format!(
                                "regime id `{}` is defined twice (first at {})",
                                r.id, prev.location
                            ),
                        ));
                    } else {
                        regimes.push(r);
                    }
                }
                Err(es) => errors.0.extend(es.0),
            }
        }
        errors.into_result(PolicySet { regimes })
    }

    /// The regime with this id.
    pub fn get(&self, id: &str) -> Option<&Regime> {
        self.regimes.iter().find(|r| r.id == id)
    }

    /// The regimes that run when the user names none: every regime that is not opt-in.
    pub fn defaults(&self) -> Vec<&Regime> {
        self.regimes.iter().filter(|r| !r.opt_in).collect()
    }

    /// Pick regimes by id; an empty list gives [`PolicySet::defaults`]. Unknown ids are an error
    /// naming the known ones.
    pub fn select(&self, ids: &[String]) -> Result<Vec<&Regime>, String> {
        if ids.is_empty() {
            return Ok(self.defaults());
        }
        ids.iter()
            .map(|id| {
                self.get(id).ok_or_else(|| {
                    let known: Vec<&str> = self.regimes.iter().map(|r| r.id.as_str()).collect();
                    format!(
                        "unknown regime `{id}` (known: {}; see `camtrace kb list regimes`)",
                        known.join(", ")
                    )
                })
            })
            .collect()
    }
}

fn load_file(f: &KbFile) -> Result<Regime, KbErrors> {
    let mut errors = KbErrors::default();
    let file: PolicyFile = parse_toml(f).map_err(|e| KbErrors(vec![e]))?;
    let path = f.display_path();
    let at = |span: std::ops::Range<usize>, msg: String| {
        let (line, col) = f.line_col(span.start);
        KbError::new(&path, line, col, msg)
    };
    let rspan = file.regime.span();
    let rdef = file.regime.into_inner();
    let rline = f.line_col(rspan.start).0;
    check_id(&rdef.id)
        .unwrap_or_else(|m| errors.push(at(rspan.clone(), format!("regime id: {m}"))));
    let min_confidence = rdef.min_confidence.unwrap_or(DEFAULT_MIN_CONFIDENCE);
    if !(0.0..=1.0).contains(&min_confidence) {
        errors.push(at(
            rspan.clone(),
            format!("min_confidence {min_confidence} is outside 0..1"),
        ));
    }
    if rdef.source.trim().is_empty() {
        errors.push(at(
            rspan.clone(),
            format!("regime `{}`: source must not be empty", rdef.id),
        ));
    }
    if let Some(m) = rdef.citation.check() {
        errors.push(at(rspan.clone(), format!("regime `{}`: {m}", rdef.id)));
    }
    let mut rules: Vec<Rule> = Vec::new();
    for r in file.rule {
        let span = r.span();
        let def = r.into_inner();
        let line = f.line_col(span.start).0;
        let ctx = format!("rule `{}`", def.id);
        if let Err(m) = check_id(&def.id) {
            errors.push(at(span.clone(), format!("{ctx}: id: {m}")));
        }
        if rules.iter().any(|x| x.id == def.id) {
            errors.push(at(
                span.clone(),
                format!("{ctx} is defined twice in regime `{}`", rdef.id),
            ));
        }
        if def.source.trim().is_empty() {
            errors.push(at(span.clone(), format!("{ctx}: source must not be empty")));
        }
        if let Some(m) = def.citation.check() {
            errors.push(at(span.clone(), format!("{ctx}: {m}")));
        }
        let scope = match &def.scope {
            Some(s) => match compile(s.get_ref(), vars::SCOPE_VARS) {
                Ok(p) => Some(p),
                Err(m) => {
                    errors.push(at(s.span(), format!("{ctx}: scope: {m}")));
                    None
                }
            },
            None => None,
        };
        let when = match compile(def.when.get_ref(), vars::ALL_VARS) {
            Ok(p) => Some(p),
            Err(m) => {
                errors.push(at(def.when.span(), format!("{ctx}: when: {m}")));
                None
            }
        };
        let classes = match &def.classes {
            None => DeviceClass::ALL
                .into_iter()
                .filter(|c| c.is_surveillance())
                .collect(),
            Some(v) => v
                .iter()
                .filter_map(|c| match c.parse::<DeviceClass>() {
                    Ok(c) => Some(c),
                    Err(m) => {
                        errors.push(at(span.clone(), format!("{ctx}: {m}")));
                        None
                    }
                })
                .collect(),
        };
        let statuses = match &def.statuses {
            None => vec![
                DeviceStatus::Planned,
                DeviceStatus::Installed,
                DeviceStatus::Disconnected,
            ],
            Some(v) => v
                .iter()
                .filter_map(|s| match s.parse::<DeviceStatus>() {
                    Ok(s) => Some(s),
                    Err(m) => {
                        errors.push(at(span.clone(), format!("{ctx}: {m}")));
                        None
                    }
                })
                .collect(),
        };
        if def.obligation == Obligation::RemoveBy && def.due.is_none() {
            errors.push(at(
                span.clone(),
                format!("{ctx}: obligation remove_by needs a `due` date"),
            ));
        }
        let effective = def.effective.map(|d| d.0).unwrap_or(rdef.effective.0);
        let scope_ok = def.scope.is_none() || scope.is_some();
        if let (true, Some(when)) = (scope_ok, when) {
            rules.push(Rule {
                id: def.id,
                title: def.title,
                scope,
                classes,
                statuses,
                when,
                obligation: def.obligation,
                due: def.due.map(|d| d.0),
                severity: def.severity,
                effective,
                note: def.note,
                citation: Arc::new(def.citation),
                source: def.source,
                as_of: def.as_of.0,
                location: format!("{path}:{line}"),
            });
        }
    }
    if rules.is_empty() && errors.is_empty() {
        errors.push(at(
            rspan.clone(),
            format!("regime `{}` has no [[rule]]", rdef.id),
        ));
    }
    errors.into_result(Regime {
        id: rdef.id,
        title: rdef.title,
        jurisdiction: rdef.jurisdiction,
        effective: rdef.effective.0,
        opt_in: rdef.opt_in,
        min_confidence,
        inspection_severity: rdef.inspection_severity.unwrap_or(Severity::High),
        note: rdef.note,
        citation: Arc::new(rdef.citation),
        source: rdef.source,
        as_of: rdef.as_of.0,
        location: format!("{path}:{rline}"),
        rules,
    })
}

fn check_id(id: &str) -> Result<(), String> {
    if !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        Ok(())
    } else {
        Err(format!(
            "`{id}` must be 1-64 characters of a-z, 0-9 and `-`"
        ))
    }
}

/// Compile a CEL expression and check it against the variables allowed here: syntax errors,
/// unknown variables, unknown fields and non-boolean results are all rejected.
pub(crate) fn compile(src: &str, allowed: &[&str]) -> Result<Predicate, String> {
    if src.len() > 4096 {
        return Err("expression is longer than 4096 characters".into());
    }
    let program =
        cel::Program::compile(src).map_err(|e| format!("bad CEL: {}", e.to_string().trim()))?;
    let refs = program.references();
    for v in refs.variables() {
        if allowed.contains(&v) || vars::is_comprehension_binder(src, v) {
            continue;
        }
        return Err(format!(
            "unknown variable `{v}` (known here: {})",
            allowed.join(", ")
        ));
    }
    // Dry runs over sample facts: unknown fields (`maker.prc_nill`) and non-boolean results show
    // up here, at load, instead of at evaluation.
    for sample in vars::samples() {
        match program.execute(&sample.context()) {
            Ok(cel::Value::Bool(_)) => {}
            Ok(other) => return Err(format!("must yield true or false, yields {other:?}")),
            Err(e) => {
                return Err(format!(
                    "does not evaluate over the documented variables: {e}"
                ))
            }
        }
    }
    let reads = vars::Reads::of(src);
    Ok(Predicate {
        source: src.to_string(),
        program,
        reads,
    })
}
