//! File importers: CSV/JSON registers, nmap XML, pcap/pcapng, scan results.
//!
//! Every reader streams its input, caps what it keeps, never panics on bad input and names the
//! row, element or packet at fault. Readers return plain data ([`Register`], observations,
//! identifications). [`import`] writes a file to the store, one transaction per file: the one
//! code path behind `camtrace import` and the server's import endpoint.
//!
//! | kind | reader | output |
//! |---|---|---|
//! | CSV register | [`register::read_csv`] | [`Register`] (documented columns: [`register::COLUMNS`]) |
//! | JSON register | [`register::read_json`] | [`Register`] |
//! | nmap XML | [`nmap::read`] | port/service, MAC, hostname observations |
//! | pcap / pcapng | [`pcap::read`] | DHCP, mDNS, SSDP, DNS and ARP observations |
//! | `camtrace scan` JSONL | [`jsonl::read`] | observations and identifications |

pub mod detect;
pub mod import;
pub mod jsonl;
pub mod nmap;
pub mod pcap;
pub mod register;
pub mod synth;

pub use detect::{detect, FileKind};
pub use register::Register;

/// Longest text field kept from any file (longer values are cut at a character boundary).
pub const MAX_FIELD: usize = 4096;
/// Largest register file accepted (bytes).
pub const MAX_REGISTER_BYTES: u64 = 512 << 20;

/// A problem with one row (or element, or packet) of an input file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
#[error("{location}: {reason}")]
pub struct RowError {
    /// `line 12`, `devices[3]`, `packet 7` ...
    pub location: String,
    pub reason: String,
}

impl RowError {
    pub fn new(location: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            location: location.into(),
            reason: reason.into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The I/O error is part of the message and deliberately not also the `source`, so an
    /// error chain printed in full (`{:#}`) says it once.
    #[error("reading the file: {0}")]
    Io(std::io::Error),
    /// The file as a whole cannot be read (not the format, truncated beyond use, too large).
    #[error("{0}")]
    Format(String),
    /// One row is bad; with skip-bad off the whole file is rejected.
    #[error(transparent)]
    Row(#[from] RowError),
}

impl From<std::io::Error> for IngestError {
    fn from(e: std::io::Error) -> Self {
        Self::Io(e)
    }
}

pub type Result<T, E = IngestError> = std::result::Result<T, E>;

/// Cut `s` to at most [`MAX_FIELD`] bytes at a character boundary.
pub fn cap(s: &str) -> String {
    if s.len() <= MAX_FIELD {
        return s.to_string();
    }
    let mut end = MAX_FIELD;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

/// Canonical MAC notation (the workspace's one normaliser, re-exported).
pub use camtrace_model::normalise_mac;

pub(crate) fn mac_bytes(m: &[u8; 6]) -> String {
    camtrace_model::mac_from_bytes(m)
}

/// Seconds since the epoch to RFC 3339 UTC (`None` when out of range).
pub(crate) fn epoch_rfc3339(secs: i64, micros: u32) -> Option<String> {
    chrono::DateTime::from_timestamp(secs, micros.saturating_mul(1000).min(999_999_999))
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
}

/// SHA-256 of a file's content, hex (for idempotent imports: the same file twice is one scan).
pub fn file_sha256(path: &std::path::Path) -> std::io::Result<String> {
    use sha2::Digest;
    let mut f = std::fs::File::open(path)?;
    let mut h = sha2::Sha256::new();
    std::io::copy(&mut f, &mut h)?;
    Ok(hex::encode(h.finalize()))
}

#[cfg(test)]
mod error_tests {
    use super::*;

    #[test]
    fn io_error_is_said_once_in_the_full_chain() {
        let e = IngestError::from(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "No such file or directory",
        ));
        let mut chain = e.to_string();
        let mut src = std::error::Error::source(&e);
        while let Some(s) = src {
            chain.push_str(&format!(": {s}"));
            src = s.source();
        }
        assert_eq!(chain.matches("No such file").count(), 1, "{chain}");
    }
}
