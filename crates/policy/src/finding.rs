//! Findings and their reasons: the output of [`crate::evaluate`].

use crate::regime::{Citation, Obligation, Severity};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize, Serializer};
use std::fmt;
use std::sync::{Arc, OnceLock};

/// One step of the chain of reasons behind a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// Which device, where.
    Device,
    /// Who made it and the evidence for that.
    Identification,
    /// A fact about the maker (PRC National Intelligence Law, country).
    Maker,
    /// A list membership of the maker or a parent.
    List,
    /// Why the site is in scope (sensitivity criteria, government building, purpose tags).
    Site,
    /// The organisation's kind or country.
    Org,
    /// The network segment (core network, internet exposure).
    Network,
    /// How the rule's scope was modelled (e.g. the FCC "to the extent used for ..." purposes).
    Scope,
    /// Which rule of which regime applies, since when, with its citation.
    Rule,
    /// Why the finding could not be decided and needs someone to look at the device.
    Inspection,
    /// A waiver that covers, covered or no longer covers the finding.
    Waiver,
}

impl Step {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Device => "device",
            Self::Identification => "identification",
            Self::Maker => "maker",
            Self::List => "list",
            Self::Site => "site",
            Self::Org => "org",
            Self::Network => "network",
            Self::Scope => "scope",
            Self::Rule => "rule",
            Self::Inspection => "inspection",
            Self::Waiver => "waiver",
        }
    }
}

/// One reason: the step, what it says, and where the fact comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    pub step: Step,
    pub text: String,
    /// The source of the fact: a URL, a knowledge-base file:line, an observation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

impl Reason {
    pub fn new(step: Step, text: impl Into<String>, source: Option<String>) -> Self {
        Reason {
            step,
            text: text.into(),
            source,
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {}", self.step.as_str(), self.text)?;
        if let Some(s) = &self.source {
            write!(f, " (source: {s})")?;
        }
        Ok(())
    }
}

/// The device-specific first reason, rendered on first use (a million findings need not format
/// a million strings unless someone reads them).
#[derive(Debug)]
pub(crate) struct DeviceHead {
    pub device_id: Arc<str>,
    pub class: camtrace_model::DeviceClass,
    pub status: camtrace_model::DeviceStatus,
    pub site_id: Arc<str>,
    pub network_id: Option<Arc<str>>,
    pub model: Option<Arc<str>>,
    pub rendered: OnceLock<Reason>,
}

impl DeviceHead {
    fn reason(&self) -> &Reason {
        self.rendered.get_or_init(|| {
            let mut text = format!(
                "device {} ({}, {}) at site {}",
                self.device_id,
                self.class,
                self.status.as_str(),
                self.site_id
            );
            if let Some(n) = &self.network_id {
                text.push_str(&format!(", network segment {n}"));
            }
            if let Some(m) = &self.model {
                text.push_str(&format!(", model {m}"));
            }
            Reason::new(Step::Device, text, None)
        })
    }
}

/// The chain of reasons of a finding, in order: device, identification, maker facts, site,
/// network, rule, waiver. The device step is rendered lazily; the identification steps and the
/// rest of the chain are shared (reference-counted) by every finding with the same facts, so a
/// million findings share the few distinct chains. Serialises as a plain list.
#[derive(Debug, Clone)]
pub struct Reasons {
    pub(crate) device: Option<Arc<DeviceHead>>,
    pub(crate) head: Arc<Vec<Reason>>,
    pub(crate) tail: Arc<Vec<Reason>>,
    /// Waiver notes; boxed so the common case (none) costs one word.
    #[allow(clippy::box_collection)]
    pub(crate) extra: Option<Box<Vec<Reason>>>,
}

impl PartialEq for Reasons {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Reasons {
    pub fn from_vec(v: Vec<Reason>) -> Self {
        Reasons {
            device: None,
            head: Arc::new(v),
            tail: Arc::new(Vec::new()),
            extra: None,
        }
    }
    pub fn iter(&self) -> impl Iterator<Item = &Reason> {
        self.device
            .iter()
            .map(|d| d.reason())
            .chain(self.head.iter())
            .chain(self.tail.iter())
            .chain(self.extra.iter().flat_map(|e| e.iter()))
    }
    pub fn len(&self) -> usize {
        usize::from(self.device.is_some())
            + self.head.len()
            + self.tail.len()
            + self.extra.as_ref().map_or(0, |e| e.len())
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn to_vec(&self) -> Vec<Reason> {
        self.iter().cloned().collect()
    }
    /// The reasons of one step.
    pub fn of(&self, step: Step) -> impl Iterator<Item = &Reason> {
        self.iter().filter(move |r| r.step == step)
    }
    pub(crate) fn push(&mut self, r: Reason) {
        self.extra.get_or_insert_with(Default::default).push(r);
    }
}

impl Serialize for Reasons {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for Reasons {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Vec::<Reason>::deserialize(d).map(Reasons::from_vec)
    }
}

/// Where a finding stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum FindingStatus {
    /// The obligation is not met and no waiver covers it.
    Open,
    /// A waiver in force covers it (shown, never hidden).
    Waived {
        waiver_id: String,
        expires: NaiveDate,
    },
    /// The maker or class could not be established with enough confidence: someone must look.
    NeedsInspection,
}

impl FindingStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Waived { .. } => "waived",
            Self::NeedsInspection => "needs_inspection",
        }
    }
    /// Open and needs-inspection findings both still need action.
    pub fn is_actionable(&self) -> bool {
        !matches!(self, Self::Waived { .. })
    }
}

/// Rule id used for "needs inspection" findings (one per device and regime).
pub const INSPECTION_RULE: &str = "needs-inspection";

/// One finding: a rule of a regime applies to a device (or could, and someone must look).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub device_id: Arc<str>,
    pub site_id: Arc<str>,
    pub org_id: Arc<str>,
    pub regime_id: Arc<str>,
    /// The rule id within the regime, or [`INSPECTION_RULE`].
    pub rule_id: Arc<str>,
    pub obligation: Obligation,
    pub severity: Severity,
    /// When the obligation falls due: the rule's `remove_by` date, or the device's scheduled
    /// upgrade for `replace_at_scheduled_upgrade`.
    pub due: Option<NaiveDate>,
    pub status: FindingStatus,
    /// Open, with its due date before the evaluation date: late, not merely open. Computed
    /// from `due` and the evaluation's `as_of` (see [`Finding::is_overdue`]), so every
    /// command, report and the API say the same.
    #[serde(default)]
    pub overdue: bool,
    /// The maker the finding rests on (knowledge-base company id), when known.
    #[serde(default)]
    pub maker: Option<Arc<str>>,
    pub reasons: Reasons,
    pub citation: Arc<Citation>,
}

impl Finding {
    /// `<regime>/<rule>`: the id waivers name.
    pub fn rule_key(&self) -> String {
        format!("{}/{}", self.regime_id, self.rule_id)
    }

    /// Whether the finding is overdue on `as_of`: open (not waived, not awaiting inspection)
    /// and due strictly before that date.
    pub fn is_overdue(&self, as_of: NaiveDate) -> bool {
        self.status == FindingStatus::Open && self.due.is_some_and(|d| d < as_of)
    }

    /// The state in words for people: `overdue`, `open`, `waived` or `needs_inspection`.
    pub fn state(&self) -> &'static str {
        if self.overdue {
            "overdue"
        } else {
            self.status.as_str()
        }
    }
}
