//! Judge an estate: every device against the selected regimes, at a date.

use crate::{EstateError, Result};
use camtrace_kb::{Kb, KbFiles};
use camtrace_model::Estate;
use camtrace_policy::{evaluate, DeviceFacts, EvalContext, Finding, PolicySet};
use chrono::NaiveDate;

/// The estate judged against the regimes.
pub struct Judged {
    pub estate: Estate,
    pub findings: Vec<Finding>,
    /// Ids of the regimes applied.
    pub regimes: Vec<String>,
}

/// The policy regimes of a knowledge base (`kb/policies/`).
pub fn load_policies(files: &KbFiles) -> Result<PolicySet> {
    PolicySet::load(files).map_err(|e| EstateError::Kb(format!("loading kb/policies: {e}")))
}

/// Judge `estate` against `regimes` (ids; empty: every regime that is not opt-in) as of `as_of`.
pub fn judge(
    kb: &Kb,
    policies: &PolicySet,
    estate: Estate,
    regimes: &[String],
    as_of: NaiveDate,
) -> Result<Judged> {
    judge_with(kb, policies, estate, regimes, as_of, None)
}

/// [`judge`], with identifications below `min_confidence` needing inspection (overriding every
/// regime's own floor; `None`: the regimes' floors). The floor must be within 0..=1.
pub fn judge_with(
    kb: &Kb,
    policies: &PolicySet,
    estate: Estate,
    regimes: &[String],
    as_of: NaiveDate,
    min_confidence: Option<f64>,
) -> Result<Judged> {
    if let Some(m) = min_confidence {
        if !(0.0..=1.0).contains(&m) {
            return Err(EstateError::Invalid(
                "the minimum confidence must be within 0..1".into(),
            ));
        }
    }
    let selected = policies.select(regimes).map_err(EstateError::Invalid)?;
    let ids = selected.iter().map(|r| r.id.clone()).collect();
    let facts = DeviceFacts::from_estate(&estate);
    let mut ctx = EvalContext::new(kb, selected, as_of);
    ctx.min_confidence = min_confidence;
    let findings = evaluate(&ctx, &facts, &estate.waivers);
    Ok(Judged {
        estate,
        findings,
        regimes: ids,
    })
}
