//! The application layer: the use cases both front doors share. The CLI's subcommands and the
//! server's handlers parse their input, check access and serialise; what happens in between
//! (judge an estate, plan, build a report, reconcile, record progress) is here, once.
//!
//! * [`mod@judge`]: an estate judged against the regimes ([`judge::judge`]), and the policies.
//! * [`mod@plan`]: the remediation plan of a judged estate.
//! * [`attribution`]: who made a registered device, read from the register's maker and brand.
//! * [`check`]: the estate `check` judges from piped identifications or a register file, and
//!   what the register leaves out.
//! * [`devices`]: the register's devices, filtered on the attributed maker, listed and exported.
//! * [`progress`]: a remediation history and the dated progress series it makes.
//! * [`reconcile`]: a site's discovery against its register, and adopting what was found.
//! * [`report`]: the report input for a scope (the CLI's whole view and the server's
//!   per-organisation view are one function) and the progress series.
//! * [`sites`]: the sites with their sensitivity and device numbers.
//! * [`waiver`]: what a waiver must meet, from the CLI or the server.
//!
//! It depends on the core crates and on the store trait, never on axum or clap.

pub mod attribution;
pub mod check;
pub mod devices;
pub mod judge;
pub mod plan;
pub mod progress;
pub mod reconcile;
pub mod report;
pub mod sites;
pub mod waiver;

pub use judge::{judge, judge_with, load_policies, Judged};
pub use plan::{make_plan, plan_devices, PlanSettings};
pub use report::{report_input, ReportRequest, Scope};

/// What can go wrong in a use case.
#[derive(Debug, thiserror::Error)]
pub enum EstateError {
    #[error(transparent)]
    Store(#[from] camtrace_store::StoreError),
    /// A knowledge-base file (policies, costs, catalogue) is invalid.
    #[error("knowledge base: {0}")]
    Kb(String),
    /// The request names something unknown (a regime id) or out of range.
    #[error("{0}")]
    Invalid(String),
}

pub type Result<T, E = EstateError> = std::result::Result<T, E>;
