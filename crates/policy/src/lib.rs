//! Policy regimes as data, CEL predicates, findings with reasons, waivers. No I/O.
//!
//! * [`PolicySet::load`] reads `kb/policies/*.toml` (see [`regime`] for the schema and [`vars`]
//!   for the CEL variables) and validates it with file:line errors.
//! * [`evaluate`] applies regimes to devices at a date and returns [`Finding`]s, each with the
//!   full chain of [`Reason`]s. Predicates are evaluated once per distinct combination of facts
//!   (maker, brand, class, status, site facts, network facts), never per device.
//! * Waivers change a finding's status to waived (never hide it); an expired or revoked waiver
//!   leaves the finding open with a reason saying so.
//! * [`render`] writes findings as a table, JSON or CSV.

mod eval;
mod finding;
pub mod regime;
pub mod render;
pub mod vars;

pub use camtrace_model::Waiver;
pub use eval::{evaluate, DeviceFacts, EvalContext, IdentSummary};
pub use finding::{Finding, FindingStatus, Reason, Reasons, Step, INSPECTION_RULE};
pub use regime::{
    Citation, Obligation, PolicySet, Predicate, Regime, Rule, Severity, DEFAULT_MIN_CONFIDENCE,
};

/// Findings that are still actionable (open or needing inspection) at or above `severity`.
pub fn count_failing(findings: &[Finding], severity: Severity) -> usize {
    findings
        .iter()
        .filter(|f| f.status.is_actionable() && f.severity >= severity)
        .count()
}
