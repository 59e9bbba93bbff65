//! The append-only, hash-chained change history.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// `prev_hash` of the first entry.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// A change to append: who did what to which entity, with its state before and after.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewHistory {
    pub actor: String,
    /// `create`, `update`, `status`, `delete`, `import`, `waiver_add`, `waiver_revoke`, ...
    pub action: String,
    /// `organisation`, `site`, `zone`, `network`, `device`, `waiver`, `scan`, `snapshot`, ...
    pub entity_kind: String,
    pub entity_id: String,
    #[serde(default)]
    pub before: Option<serde_json::Value>,
    #[serde(default)]
    pub after: Option<serde_json::Value>,
}

/// One stored history entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub seq: i64,
    /// RFC 3339 UTC, microseconds.
    pub time: String,
    pub actor: String,
    pub action: String,
    pub entity_kind: String,
    pub entity_id: String,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
    pub prev_hash: String,
    pub hash: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryFilter {
    pub entity_kind: Option<String>,
    pub entity_id: Option<String>,
    pub action: Option<String>,
    pub actor: Option<String>,
    /// RFC 3339 (or a date): entries at or after.
    pub since: Option<String>,
    /// RFC 3339 (or a date): entries strictly before.
    pub until: Option<String>,
    /// Only entries with a larger sequence number (for paging).
    pub after_seq: Option<i64>,
    pub limit: Option<i64>,
}

/// The hash of one entry over exactly the text stored in the database.
#[allow(clippy::too_many_arguments)]
pub(crate) fn entry_hash(
    seq: i64,
    time: &str,
    actor: &str,
    action: &str,
    entity_kind: &str,
    entity_id: &str,
    before: Option<&str>,
    after: Option<&str>,
    prev_hash: &str,
) -> String {
    let canonical = serde_json::json!([
        seq,
        time,
        actor,
        action,
        entity_kind,
        entity_id,
        before,
        after,
        prev_hash
    ]);
    let mut h = Sha256::new();
    h.update(canonical.to_string().as_bytes());
    hex::encode(h.finalize())
}
