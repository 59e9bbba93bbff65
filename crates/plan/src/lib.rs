//! Remediation plans under a budget, the approved alternatives catalogue and the procurement
//! gate. No I/O: callers pass knowledge-base files, devices and quotes in.
//!
//! * [`build_plan`]: risk-ranked, costed actions; with a budget, the exact selection of actions
//!   removing the most risk ([`optimise`] explains the method).
//! * [`Catalogue`]: approved models (`kb/catalogue/*.toml`) and like-for-like proposals.
//! * [`check_quote`]: the procurement gate, line by line, with the reason chain.

pub mod catalogue;
pub mod costs;
pub mod devices;
pub mod optimise;
pub mod plan;
pub mod policy_gate;
pub mod procure;
pub mod risk;

pub use catalogue::{Catalogue, CatalogueEntry, Want};
pub use costs::{CostBook, RiskWeights};
pub use devices::plan_devices;
pub use plan::{
    build_plan, Action, Alternative, Cost, FindingRef, Method, Plan, PlanDevice, PlanOptions,
    PlanRow, SiteVisit,
};
pub use policy_gate::{finding_ref, unknown_destination, RegimeRule};
pub use procure::{
    check_quote, parse_quote, resolve_maker, FactRule, LineCheck, MakerRule, QuoteCheck, QuoteLine,
    RegimeVerdict, RuleOutcome, Verdict,
};
pub use risk::{Risk, RiskPart};

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("knowledge base: {0}")]
    Kb(String),
    #[error("{0}")]
    Input(String),
}
