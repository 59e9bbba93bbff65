//! Observations to identified devices: parsers of device replies (hostile-input safe) and the
//! signature engine. No I/O.
//!
//! * [`parse`]: SADP, DHIP, Dahua binary discovery, WS-Discovery / ONVIF, HTTP, RTSP, SSDP,
//!   UPnP, Axis VAPIX, Hikvision ISAPI and Dahua magicBox parsers (size- and depth-capped, no
//!   panics, [`ParseError`]), and the request builders the scanner and the lab send.
//! * [`Engine`]: compiles the knowledge base's signatures once (one `RegexSet` per
//!   (kind, field) group) and turns observations into [`camtrace_model::Identification`]s.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let kb = camtrace_kb::Kb::embedded()?;
//! let engine = camtrace_identify::Engine::new(&kb)?;
//! let obs = camtrace_model::Observation::from_json_line(
//!     r#"{"target":"10.0.0.5","kind":"rtsp","headers":{"Server":"Dahua Rtsp Server"}}"#)?;
//! let ids = engine.identify_all([obs]);
//! assert_eq!(ids[0].maker.as_ref().unwrap().id, "dahua");
//! # Ok(()) }
//! ```
//!
//! # Signature fields
//!
//! Each observation is normalised to `(field, value)` features; a signature names one kind and
//! one field. Field names per observation kind:
//!
//! | kind | fields |
//! |---|---|
//! | `http` | `header:<lower-case name>` (e.g. `header:server`, `header:set-cookie`), `title` (the observation's title, or the `<title>` of the body), `body`, `realm` (of `WWW-Authenticate`), `favicon_md5`, `path`, `status`; parsed bodies add `vapix:<property>` (Axis basicdeviceinfo), `isapi:<element>` (Hikvision ISAPI deviceInfo), `magicbox:<key>` (Dahua magicBox) |
//! | `rtsp` | `header:<lower-case name>`, `realm` |
//! | `tls` | `subject`, `issuer`, `san` (one feature per name) |
//! | `onvif_probe_match` | `scope:name`, `scope:hardware`, `scope:location`, `scope:type`, `scope:mac`, `scope:profile`, `scope` (every decoded scope URI), `scopes` (all decoded scopes joined by one space, in order), `types` (one feature per type), `xaddr` |
//! | `onvif_device_info` | `manufacturer`, `model`, `firmware`, `serial`, `hardware_id` |
//! | `sadp` | `reply` (root element, `ProbeMatch`), then each element name as sent: `DeviceDescription`, `DeviceSN`, `DeviceType`, `OEMInfo`, `SoftwareVersion`, `DSPVersion`, `MAC`, `AnalogChannelNum`, `DigitalChannelNum`, ... |
//! | `dhip` | `method`, `mac`, and each `deviceInfo` field: `Vendor`, `DeviceType`, `DeviceClass`, `Version`, `SerialNo`, `MachineName`, ... |
//! | `dahua_discovery` | `mac`, `model`, `machine_name`, and each `Key:` line (`Name`, `Device`, `SerialNo`, ...) |
//! | `ssdp` | `header:<lower-case name>`, and from the description: `manufacturer`, `modelName`, `modelNumber`, `modelDescription`, `friendlyName`, `deviceType` |
//! | `mdns` | `service`, `instance`, `txt` (each TXT string, `key=value`), `txt:<lower-case key>` |
//! | `dhcp` | `vendor_class`, `hostname` |
//! | `telnet`, `ftp`, `snmp_sysdescr` | `banner` |
//! | `dns` | `query` |
//! | `port` | `port` (decimal), `banner` |
//! | `mac` | `mac` |
//!
//! # Resolution
//!
//! * Signatures with `maker` or `firmware_family` are maker claims (weight = `strength`);
//!   `brand`, `class`, `call_home` and the named captures `model` / `firmware` feed those fields.
//! * Structured fields feed the result directly: SADP `DeviceDescription` → model,
//!   `SoftwareVersion` → firmware, `OEMInfo` → brand; DHIP `DeviceType` → model, `Version` →
//!   firmware, `Vendor` → brand; ONVIF `Manufacturer` / scope `name` → brand, `Model`,
//!   `FirmwareVersion`, scope `hardware` → model; VAPIX, ISAPI, UPnP likewise. Brand names are
//!   looked up with `Kb::brand_by_name` / `Kb::company_by_name`.
//! * A MAC is looked up in the OUI blocks: a maker claim of medium weight (0.65), or weak (0.3)
//!   for blocks marked `not_surveillance_alone`; a MAC never sets the device class.
//! * The brand (the name on the box) yields a maker claim through an OEM link (model-specific,
//!   or brand-wide of at least medium confidence) or else through the brand's owner on the
//!   engine's date ([`Engine::with_date`]).
//! * Claims are grouped by corporate family (parent chain); the family with the highest
//!   noisy-or score wins, and within it the company with the strongest device evidence is the
//!   maker. Other families with evidence become `conflicts` (and `conflict` evidence) unless an
//!   OEM link explains the rebrand (then a `kb` evidence line states it). Conflicts lower the
//!   confidence; confidence never exceeds 0.99.
//! * Safety: a restricted maker (PRC National Intelligence Law applies, itself or via a parent)
//!   without a claim of at least 0.8 never displaces a Western maker that has a claim of at least
//!   0.5; and a restricted maker whose strongest claim is below 0.5 (weak evidence only) is
//!   reported with confidence below 0.5 ("needs inspection").
//! * Class: the best-supported class at or above 0.3; otherwise `camera` when the maker is known
//!   from more than a MAC with confidence ≥ 0.5 and makes cameras.
//!
//! # recog fingerprints and components
//!
//! * The vendored recog databases (`kb/recog/*.xml`, Rapid7, BSD-2-Clause) join the signatures:
//!   `kb/recog/mapping.toml` says which database feeds which field and maps recog's vendor and
//!   device names to companies, brands, components and classes. A fingerprint that maps to
//!   nothing is not compiled. Patterns are translated from Ruby syntax ([`recog::translate`]);
//!   those `regex` cannot parse go to `fancy-regex`; any neither compiles is listed by
//!   [`Engine::recog_report`] (and `camtrace kb check`). Evidence: signature
//!   `recog:<database>:<line>`, source `kb/recog/<file>:<line>` with the upstream commit, the
//!   fingerprint's description and pattern. recog's `hw.product` / `hw.model` captures give the
//!   model, `hw.version` (or `os.version` of the maker's own OS) the firmware.
//! * Component tells (`kb/components/*.toml`) and recog vendors mapped to a `component` (a chip
//!   maker such as HiSilicon) give [`camtrace_model::Component`] claims, with evidence; they never
//!   make a maker claim.

pub mod engine;
pub mod error;
mod features;
pub mod parse;
pub mod recog;
mod view;

pub use engine::{Engine, Identified, RecogReport, SignatureMatch, Streaming, UnsupportedPattern};
pub use error::{IdentifyError, ParseError};
