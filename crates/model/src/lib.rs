//! Domain types shared by every camtrace crate. Pure data: no I/O.
//!
//! * [`observation`]: raw evidence about one target (the input format of `camtrace identify`,
//!   fixed by `shared/corpus/FORMAT.md`).
//! * [`identification`]: what camtrace concluded about one target, with the evidence for each claim.
//! * [`register`]: organisations, sites, zones, network segments and devices.

pub mod identification;
pub mod observation;
pub mod register;

pub use identification::{DeviceClass, Evidence, Identification, NamedRef};
pub use observation::{Observation, ObservationError, ObservationKind, MAX_OBSERVATION_LINE};
pub use register::*;
