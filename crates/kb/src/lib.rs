//! The camtrace knowledge base.
//!
//! Knowledge is data: every fact lives in a TOML file under `kb/` in the repository, with a
//! `source` and an `as_of` date. The files are embedded in the binary at build time
//! ([`KbFiles::embedded`]) and a user directory can override or extend them
//! ([`KbFiles::with_overlay`]): a file at the same relative path replaces the embedded one, a new
//! file is added. Loading validates everything and reports errors with file, line and reason.
//!
//! This crate parses the vendor side of the knowledge base (companies, lists, brands, OEM links,
//! OUIs, signatures). Other crates parse their own folders (`policies/`, `catalogue/`) through the
//! same [`KbFiles`] and [`parse_toml`], so every error reads the same.

mod attribution;
mod date;
mod error;
mod explain;
mod files;
pub mod recog;
pub mod schema;
mod store;

pub use attribution::{Attribution, DateBasis, FactKind, MakerFact, NEAR_CHANGE_DAYS};
pub use date::KbDate;
pub use error::{KbError, KbErrors};
pub use explain::{
    BrandExplanation, CompanyExplanation, Fact, ListStatus, OemRef, OuiSummary, Ownership,
    ParentLink, Subject,
};
pub use files::{KbFile, KbFiles, Origin};
pub use recog::{ComponentSignature, Recog, RecogFingerprint};
pub use schema::*;
pub use store::{
    check_source_urls, internal_reference, model_matches, normalise_name, CitationSummary, Kb,
    Location, MembershipOn, OuiHit, VerificationSummary, INTERNAL_REFERENCES, MAKES,
    PRC_NIL_FIELDS, RELATIONSHIPS,
};

use serde::de::DeserializeOwned;

/// Parse one knowledge-base file, turning TOML and schema errors into a [`KbError`] that names
/// the file, line and column.
pub fn parse_toml<T: DeserializeOwned>(file: &KbFile) -> Result<T, KbError> {
    toml::from_str(&file.text).map_err(|e| {
        let (line, col) = e.span().map(|s| file.line_col(s.start)).unwrap_or((0, 0));
        KbError::new(&file.path, line, col, e.message().trim().to_string())
    })
}
