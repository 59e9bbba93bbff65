//! Errors of the parsers and of the engine.

/// Why a device reply could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("input is {len} bytes, more than the {limit}-byte limit")]
    TooLarge { len: usize, limit: usize },
    #[error("input is empty")]
    Empty,
    #[error("not well-formed XML: {0}")]
    Xml(String),
    #[error("XML nests deeper than {0} levels")]
    TooDeep(usize),
    #[error("XML has more than {0} elements")]
    TooManyNodes(usize),
    #[error("expected root element `{expected}`, found `{found}`")]
    WrongRoot {
        expected: &'static str,
        found: String,
    },
    #[error("element `{0}` is missing")]
    Missing(&'static str),
    #[error("SOAP fault: {code}: {reason}")]
    SoapFault { code: String, reason: String },
    #[error("bad header: {0}")]
    BadHeader(String),
    #[error("not valid JSON: {0}")]
    Json(String),
    #[error("not a {0} message")]
    NotThisProtocol(&'static str),
}

pub type Result<T, E = ParseError> = std::result::Result<T, E>;

/// Why the engine could not be built from a knowledge base.
#[derive(Debug, thiserror::Error)]
pub enum IdentifyError {
    #[error("signature `{id}` ({location}): {reason}")]
    Signature {
        id: String,
        location: String,
        reason: String,
    },
    #[error("signature set for `{kind}`/`{field}` could not be compiled: {reason}")]
    SignatureSet {
        kind: String,
        field: String,
        reason: String,
    },
}

pub(crate) fn cap(len: usize, limit: usize) -> Result<()> {
    if len > limit {
        Err(ParseError::TooLarge { len, limit })
    } else if len == 0 {
        Err(ParseError::Empty)
    } else {
        Ok(())
    }
}
