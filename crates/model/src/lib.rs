//! Domain types shared by every camtrace crate. Pure data: no I/O.
//!
//! * [`observation`]: raw evidence about one target (the input format of `camtrace identify`,
//!   fixed by `docs/observation-format.md`).
//! * [`identification`]: what camtrace concluded about one target, with the evidence for each claim.
//! * [`register`]: organisations, sites, zones, network segments and devices.
//! * [`mac`]: the one MAC address normaliser.
//! * [`csv_out`]: the one CSV writer (RFC 4180 quoting, spreadsheet formulas neutralised).

pub mod csv_out;
pub mod identification;
pub mod mac;
pub mod observation;
pub mod register;

pub use identification::{Component, DeviceClass, Evidence, Identification, NamedRef};
pub use mac::{mac_from_bytes, normalise_mac};
pub use observation::{Observation, ObservationError, ObservationKind, MAX_OBSERVATION_LINE};
pub use register::*;
