//! The rules a waiver (an exception to a rule for one device) must meet, whichever front door it
//! comes through: `camtrace waiver add` and the server's waiver requests ask [`validate`].

use crate::{EstateError, Result};
use camtrace_policy::{PolicySet, INSPECTION_RULE};
use chrono::NaiveDate;

/// The longest a waiver may last from the day it is made: a waiver is reviewed at least this
/// often, and a typo in the year cannot make it permanent.
pub const MAX_DAYS: i64 = 3 * 366;
/// Longest reason, in characters.
pub const MAX_REASON: usize = 4000;

/// A waiver to check before it is stored.
#[derive(Debug, Clone)]
pub struct WaiverDraft<'a> {
    /// `<regime>/<rule>`, as findings name it.
    pub rule_id: &'a str,
    pub reason: &'a str,
    /// The last day it is in force.
    pub expires_on: NaiveDate,
}

/// Check a waiver against the loaded regimes on `today`: the rule exists (or is the regime's
/// "needs inspection" rule), the reason is given, and the waiver is in force today and for at
/// most [`MAX_DAYS`]. The error says what to change.
pub fn validate(policies: &PolicySet, w: &WaiverDraft<'_>, today: NaiveDate) -> Result<()> {
    let bad = |m: String| Err(EstateError::Invalid(m));
    let reason = w.reason.trim();
    if reason.is_empty() {
        return bad("the reason is empty: say why the rule cannot be met".into());
    }
    if reason.chars().count() > MAX_REASON {
        return bad(format!("the reason is longer than {MAX_REASON} characters"));
    }
    if reason
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return bad("the reason contains control characters".into());
    }
    if w.rule_id.len() > 200 {
        return bad("the rule id is longer than 200 characters".into());
    }
    let Some((regime, rule)) = w.rule_id.split_once('/') else {
        return bad(format!(
            "rule `{}` must be `<regime>/<rule>`, e.g. uk-2022-sensitive-sites/consider-removal",
            w.rule_id
        ));
    };
    let Some(r) = policies.get(regime) else {
        let known: Vec<&str> = policies.regimes.iter().map(|r| r.id.as_str()).collect();
        return bad(format!(
            "unknown regime `{regime}` (known: {})",
            known.join(", ")
        ));
    };
    if rule != INSPECTION_RULE && r.rule(rule).is_none() {
        let known: Vec<&str> = r.rules.iter().map(|x| x.id.as_str()).collect();
        return bad(format!(
            "regime `{regime}` has no rule `{rule}` (rules: {}, {INSPECTION_RULE})",
            known.join(", ")
        ));
    }
    if w.expires_on < today {
        return bad(format!(
            "the expiry {} is in the past: a waiver must be in force for at least today",
            w.expires_on
        ));
    }
    if (w.expires_on - today).num_days() > MAX_DAYS {
        return bad(format!(
            "the expiry {} is more than three years ahead: a waiver lasts at most {MAX_DAYS} days",
            w.expires_on
        ));
    }
    Ok(())
}
