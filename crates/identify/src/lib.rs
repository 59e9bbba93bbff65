//! Observations to identified devices: parsers of device replies (hostile-input safe) and the
//! signature engine. No I/O.
//!
//! * [`parse`]: SADP, DHIP, Dahua binary discovery, WS-Discovery / ONVIF, HTTP, RTSP, SSDP,
//!   UPnP, Axis VAPIX, Hikvision ISAPI, Dahua magicBox parsers, and request builders.

pub mod error;
pub mod parse;

pub use error::{IdentifyError, ParseError};
pub mod engine;
mod features;

pub use engine::{Engine, SignatureMatch};
