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

/// A point of the chain recorded outside the database (printed by `camtrace history verify`,
/// written into every report): `SEQ:HASH`. The chain proves that nothing before its newest entry
/// was changed, but whoever can write the database can also cut the newest entries off and
/// leave a shorter chain that still verifies. Checking against an anchor kept elsewhere catches
/// that: the entry must still exist with the same hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryAnchor {
    pub seq: i64,
    pub hash: String,
}

impl std::fmt::Display for HistoryAnchor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.seq, self.hash)
    }
}

impl std::str::FromStr for HistoryAnchor {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || {
            format!("history anchor `{s}`: expected SEQ:HASH (a sequence number and a 64-hex-digit SHA-256), as printed by `camtrace history verify`")
        };
        let (seq, hash) = s.trim().split_once(':').ok_or_else(bad)?;
        let seq: i64 = seq.trim().parse().map_err(|_| bad())?;
        let hash = hash.trim().to_ascii_lowercase();
        if seq < 1 || hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad());
        }
        Ok(Self { seq, hash })
    }
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
    /// Only entries with a smaller sequence number (for paging from the newest).
    #[serde(default)]
    pub before_seq: Option<i64>,
    /// Newest entries first (the default is oldest first).
    #[serde(default)]
    pub newest_first: bool,
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
    // The canonical form is the JSON array of the fields, written straight into the hash (no
    // intermediate value or string: a register import hashes one entry per device).
    let mut w = HashWriter(Sha256::new());
    serde_json::to_writer(
        &mut w,
        &(
            seq,
            time,
            actor,
            action,
            entity_kind,
            entity_id,
            before,
            after,
            prev_hash,
        ),
    )
    .expect("writing JSON into a hash cannot fail");
    hex::encode(w.0.finalize())
}

struct HashWriter(Sha256);

impl std::io::Write for HashWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod hash_tests {
    use super::*;

    /// The hash is over the JSON array of the fields, as every stored chain was hashed: the
    /// streamed form must give the same bytes as the array value written out.
    #[test]
    fn entry_hash_is_over_the_json_array_of_the_fields() {
        for (before, after) in [
            (None, Some(r#"{"a":"x\"y","n":1.5}"#)),
            (Some("{}"), None),
            (None, None),
        ] {
            let text = serde_json::json!([
                42,
                "2026-12-03T10:00:00Z",
                "admin",
                "update",
                "device",
                "cam-1\u{e9}\n",
                before,
                after,
                "00ff"
            ])
            .to_string();
            let want = hex::encode(Sha256::digest(text.as_bytes()));
            assert_eq!(
                entry_hash(
                    42,
                    "2026-12-03T10:00:00Z",
                    "admin",
                    "update",
                    "device",
                    "cam-1\u{e9}\n",
                    before,
                    after,
                    "00ff"
                ),
                want
            );
        }
    }
}

#[cfg(test)]
mod anchor_tests {
    use super::HistoryAnchor;

    #[test]
    fn anchors_round_trip_and_bad_ones_are_refused() {
        let h = "ab".repeat(32);
        let a: HistoryAnchor = format!("42:{}", h.to_uppercase()).parse().unwrap();
        assert_eq!(a.seq, 42);
        assert_eq!(a.hash, h);
        assert_eq!(a.to_string().parse::<HistoryAnchor>().unwrap(), a);
        for bad in [
            "",
            "42",
            "x:ab",
            "0:",
            "-1:00",
            "42:abc",
            &format!("42:{}", "g".repeat(64)),
        ] {
            let e = bad.parse::<HistoryAnchor>().unwrap_err();
            assert!(e.contains("SEQ:HASH"), "{bad}: {e}");
        }
    }
}
