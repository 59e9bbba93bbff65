//! The register store: SQLite and PostgreSQL behind one trait, migrations, history.
//!
//! * [`open`] takes a file path, `sqlite://path`, `sqlite::memory:` or `postgres://...`, creates
//!   the SQLite file on first use (WAL, foreign keys on), and brings the schema up to date.
//! * One code path: every query is a runtime sqlx query over the `Any` driver with `$1`-style
//!   parameters, which both SQLite and PostgreSQL accept. Values are stored as text, 64-bit
//!   integers and doubles only, so the same statements read and write both backends.
//! * Every register change appends to the hash-chained [`history`](Store::history) in the same
//!   transaction; [`Store::verify_history`] detects tampering.
//! * Migrations are numbered files `migrations/{sqlite,postgres}/NNNN_name.sql`, embedded at build
//!   time by `build.rs`: adding a file (one per backend) is all it takes.

pub mod access_log;
pub mod accounts;
pub mod agents;
pub mod background;
mod history;
pub mod lookups;
mod migrate;
pub mod outbox;
pub mod reconcile;
pub mod requests;
mod sql;
pub mod testing;
pub mod webhooks;

use async_trait::async_trait;
use camtrace_model::{
    Device, DeviceClass, DeviceStatus, Estate, Identification, NetworkSegment, Observation,
    Organisation, SeenIdentification, Site, Waiver, Zone,
};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

pub use access_log::{AccessEntry, AccessEvent, AccessFilter, AccessLog};
pub use accounts::{
    Accounts, CallerCredential, CallerRecord, GrantRecord, NewUser, TokenRecord, UserRecord,
};
pub use agents::{
    AgentBatchRecord, AgentHealth, AgentRecord, Agents, EnrolmentRecord, RedeemRefusal,
};
pub use background::{Background, JobCounts, JobOutcome, WebhookJob};
pub use history::{HistoryAnchor, HistoryEntry, HistoryFilter, NewHistory, GENESIS_HASH};
pub use lookups::{DevicePageQuery, Lookups};
pub use migrate::Migration;
pub use requests::{PlanRow, RequestDecision, Requests, WaiverRequestRecord};
pub use sql::{link_identifications, RegisterImport, ScanImport, SqlStore};
pub use webhooks::{AlertEventRecord, DeliveryRecord, WebhookRecord, Webhooks};

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A break in the history hash chain: the first entry whose hash or link does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("history tampered at entry {seq}: {reason}")]
pub struct TamperError {
    pub seq: i64,
    pub reason: String,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("database URL `{url}`: {reason}")]
    Url { url: String, reason: String },
    #[error("migration {version} ({name}): {reason}")]
    Migration {
        version: i64,
        name: String,
        reason: String,
    },
    #[error("{kind} `{id}` not found")]
    NotFound { kind: &'static str, id: String },
    #[error("invalid {what}: {reason}")]
    Invalid { what: String, reason: String },
    #[error(transparent)]
    Tamper(#[from] TamperError),
    #[error("stored JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// The change conflicts with the stored state (a name taken, a request decided meanwhile).
    #[error("{0}")]
    Conflict(String),
}

impl StoreError {
    /// Whether the error means "busy, try again" rather than a fault: no pooled connection came
    /// free in time, SQLite's lock wait ran out (`SQLITE_BUSY`/`SQLITE_LOCKED`, extended codes
    /// included), or PostgreSQL gave up on a lock or the statement timeout, or picked this
    /// transaction as a deadlock or serialization victim.
    pub fn is_busy(&self) -> bool {
        match self {
            Self::Db(e) => db_busy(e),
            _ => false,
        }
    }

    pub(crate) fn invalid(what: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Invalid {
            what: what.into(),
            reason: reason.into(),
        }
    }
}

fn db_busy(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut => true,
        sqlx::Error::Database(d) => {
            let code = d.code().map(|c| c.into_owned()).unwrap_or_default();
            let sqlite_busy = code.parse::<i64>().is_ok_and(|c| matches!(c & 0xff, 5 | 6));
            sqlite_busy
                || matches!(code.as_str(), "55P03" | "57014" | "40001" | "40P01")
                || d.message().contains("database is locked")
        }
        _ => false,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// What an upsert did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    Created,
    Updated,
    Unchanged,
}

/// Counts of what a batch did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeCounts {
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
}

impl ChangeCounts {
    pub fn add(&mut self, c: Change) {
        match c {
            Change::Created => self.created += 1,
            Change::Updated => self.updated += 1,
            Change::Unchanged => self.unchanged += 1,
        }
    }
    pub fn changed(&self) -> u64 {
        self.created + self.updated
    }
}

/// A register batch applied in one transaction (all or nothing).
pub use camtrace_model::Register as RegisterBatch;

/// What [`Store::apply_register`] did, per entity kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterSummary {
    pub organisations: ChangeCounts,
    pub sites: ChangeCounts,
    pub zones: ChangeCounts,
    pub networks: ChangeCounts,
    pub devices: ChangeCounts,
}

impl RegisterSummary {
    pub fn changed(&self) -> u64 {
        self.organisations.changed()
            + self.sites.changed()
            + self.zones.changed()
            + self.networks.changed()
            + self.devices.changed()
    }
}

/// One scan (or one imported evidence file): observations and identifications hang off it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScanRecord {
    /// Stable id. For an imported file, derive it from the file's content hash so that importing
    /// the same file twice is a no-op.
    pub id: String,
    /// RFC 3339.
    pub started: String,
    #[serde(default)]
    pub finished: Option<String>,
    /// What produced it (`camtrace scan`, `nmap:file.xml`, `pcap:file.pcap` ...).
    pub source: String,
    #[serde(default)]
    pub site: Option<String>,
    /// `scan`, `nmap`, `pcap`, `jsonl`.
    pub kind: String,
    #[serde(default)]
    pub observation_count: i64,
    #[serde(default)]
    pub identification_count: i64,
}

/// An observation as stored, with its scan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredObservation {
    pub scan_id: String,
    pub seq: i64,
    pub observation: Observation,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservationFilter {
    pub scan_id: Option<String>,
    pub site: Option<String>,
    pub target: Option<String>,
    pub kind: Option<String>,
    pub limit: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteFilter {
    /// The organisation and every organisation below it.
    pub organisation: Option<String>,
    pub site: Option<String>,
    /// Only sites meeting (true) or not meeting (false) a sensitive-site criterion.
    pub sensitive: Option<bool>,
    pub tag: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceFilter {
    /// The organisation and every organisation below it.
    pub organisation: Option<String>,
    pub site: Option<String>,
    /// Maker id or name, case-insensitive.
    pub maker: Option<String>,
    /// Brand id or name, case-insensitive.
    pub brand: Option<String>,
    pub class: Option<DeviceClass>,
    pub status: Option<DeviceStatus>,
    /// Only devices on sites meeting (true) / not meeting (false) a sensitive-site criterion.
    pub sensitive: Option<bool>,
    pub mac: Option<String>,
    pub limit: Option<i64>,
}

/// Which part of the estate to load.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EstateFilter {
    /// The organisation and every organisation below it.
    pub organisation: Option<String>,
    pub site: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaiverFilter {
    pub device_id: Option<String>,
    pub rule_id: Option<String>,
    /// Only waivers in force on this date (not revoked, not expired).
    pub active_on: Option<NaiveDate>,
    pub include_revoked: bool,
}

/// Counts of findings on one date, for progress over time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FindingsSnapshot {
    pub date: NaiveDate,
    pub regime: String,
    /// Empty when the snapshot covers every organisation.
    #[serde(default)]
    pub organisation: String,
    /// Empty when the snapshot covers every site of the organisation.
    #[serde(default)]
    pub site: String,
    /// Free-form counts, e.g. `{"by_severity":{"high":3},"sensitive_sites":2}`.
    pub counts: serde_json::Value,
    #[serde(default)]
    pub recorded_at: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotFilter {
    pub regime: Option<String>,
    pub organisation: Option<String>,
    pub site: Option<String>,
    pub since: Option<NaiveDate>,
    pub until: Option<NaiveDate>,
}

/// The register store. Object-safe: use it as `Box<dyn Store>` from [`open`].
///
/// `actor` is who made a change (a user name, `import:<file>`, `cli`); it is written to history.
///
/// The store owns every query: the server's tables (users, sessions, tokens, webhooks, waiver
/// requests, plans, the access log) are reached through the supertraits [`Accounts`],
/// [`Webhooks`], [`Background`], [`Requests`], [`AccessLog`] and [`Lookups`]; no other crate
/// writes SQL.
#[async_trait]
pub trait Store:
    Accounts + Agents + Webhooks + Background + Requests + AccessLog + Lookups + Send + Sync
{
    fn backend(&self) -> Backend;
    /// For tests that tamper with the database or inject faults
    /// ([`testing`](crate::testing)); production code never calls it.
    #[doc(hidden)]
    async fn execute_for_tests(&self, sql: &str) -> Result<u64>;
    /// Highest applied migration version.
    async fn schema_version(&self) -> Result<i64>;

    // --- register ---
    async fn upsert_organisation(&self, org: &Organisation, actor: &str) -> Result<Change>;
    async fn upsert_site(&self, site: &Site, actor: &str) -> Result<Change>;
    async fn upsert_zone(&self, zone: &Zone, actor: &str) -> Result<Change>;
    async fn upsert_network(&self, net: &NetworkSegment, actor: &str) -> Result<Change>;
    async fn upsert_device(&self, device: &Device, actor: &str) -> Result<Change>;
    /// Apply a whole register batch in one transaction; any error rolls everything back.
    async fn apply_register(&self, batch: &RegisterBatch, actor: &str) -> Result<RegisterSummary>;
    /// Start a register import written in batches ([`RegisterImport::apply`]) in one
    /// transaction, visible at [`RegisterImport::commit`]: a large file is streamed, not held.
    async fn begin_register(&self, actor: &str) -> Result<RegisterImport>;
    /// Change a device's status (history action `status`), with an optional reason.
    async fn set_device_status(
        &self,
        id: &str,
        status: DeviceStatus,
        actor: &str,
        reason: Option<&str>,
    ) -> Result<Change>;
    async fn get_organisation(&self, id: &str) -> Result<Option<Organisation>>;
    async fn get_site(&self, id: &str) -> Result<Option<Site>>;
    async fn get_device(&self, id: &str) -> Result<Option<Device>>;
    async fn get_zone(&self, id: &str) -> Result<Option<Zone>>;
    async fn get_network(&self, id: &str) -> Result<Option<NetworkSegment>>;
    async fn list_organisations(&self) -> Result<Vec<Organisation>>;
    async fn list_sites(&self, filter: &SiteFilter) -> Result<Vec<Site>>;
    async fn list_zones(&self, site: Option<&str>) -> Result<Vec<Zone>>;
    async fn list_networks(&self, site: Option<&str>) -> Result<Vec<NetworkSegment>>;
    async fn list_devices(&self, filter: &DeviceFilter) -> Result<Vec<Device>>;

    // --- evidence ---
    /// Start importing a scan. `None` when a scan with this id is already stored (idempotent
    /// import). Nothing is visible until [`ScanImport::commit`].
    async fn begin_scan(&self, scan: &ScanRecord) -> Result<Option<ScanImport>>;
    async fn list_scans(&self, site: Option<&str>) -> Result<Vec<ScanRecord>>;
    /// Attribute a scan stored without a site to `site` (its evidence then counts on that site
    /// only), recorded in the history. `None` when the scan is not there or already has a site.
    async fn assign_scan_site(
        &self,
        scan_id: &str,
        site: &str,
        actor: &str,
    ) -> Result<Option<ScanRecord>>;
    async fn observations(&self, filter: &ObservationFilter) -> Result<Vec<StoredObservation>>;
    /// The latest identification per (site, target), linked to register devices by MAC or address.
    async fn latest_identifications(
        &self,
        filter: &EstateFilter,
    ) -> Result<Vec<SeenIdentification>>;

    // --- history ---
    /// Append one entry in its own transaction (for changes the store does not make itself).
    async fn append_history(&self, entry: &NewHistory) -> Result<HistoryEntry>;
    async fn history(&self, filter: &HistoryFilter) -> Result<Vec<HistoryEntry>>;
    /// Check the whole hash chain; returns the number of entries, or
    /// [`StoreError::Tamper`] naming the first bad entry.
    async fn verify_history(&self) -> Result<u64>;
    /// Verify at most `max` entries after `from` (after the genesis when `None`), for checking
    /// the chain a bounded piece at a time from a checkpoint: `from` must still be stored with
    /// the same hash, and each entry after it must link to the one before and match its hash.
    /// Returns the last entry verified (`from` when none follow) and how many were checked, or
    /// [`StoreError::Tamper`] naming the first bad entry.
    async fn verify_history_segment(
        &self,
        from: Option<&HistoryAnchor>,
        max: u64,
    ) -> Result<(Option<HistoryAnchor>, u64)>;
    /// The newest entry as an anchor to keep outside the database (`None`: no history yet).
    async fn history_head(&self) -> Result<Option<HistoryAnchor>>;
    /// [`Store::verify_history`], and that the chain still holds `anchor` unchanged: catches the
    /// newest entries cut off (which leaves a shorter chain that verifies on its own) and a
    /// chain rebuilt from before the anchor.
    async fn verify_history_against(&self, anchor: &HistoryAnchor) -> Result<u64> {
        let n = self.verify_history().await?;
        if anchor.seq > n as i64 {
            return Err(TamperError {
                seq: n as i64 + 1,
                reason: format!(
                    "the history ends at entry {n}, but entry {} was recorded earlier: the newest entries were removed",
                    anchor.seq
                ),
            }
            .into());
        }
        let at = self
            .history(&HistoryFilter {
                after_seq: Some(anchor.seq - 1),
                limit: Some(1),
                ..Default::default()
            })
            .await?;
        match at.first() {
            Some(e) if e.seq == anchor.seq && e.hash == anchor.hash => Ok(n),
            _ => Err(TamperError {
                seq: anchor.seq,
                reason: "differs from the anchor recorded earlier: the history was rewritten from this entry or before".into(),
            }
            .into()),
        }
    }

    // --- waivers ---
    async fn add_waiver(&self, waiver: &Waiver, actor: &str) -> Result<()>;
    async fn list_waivers(&self, filter: &WaiverFilter) -> Result<Vec<Waiver>>;
    async fn revoke_waiver(&self, id: &str, by: &str, reason: &str) -> Result<Waiver>;

    // --- estate views ---
    async fn load_estate(&self, filter: &EstateFilter) -> Result<Estate>;
    /// The estate as it was at the end of `date`, rebuilt from history (register entities and
    /// waivers) and from identifications seen up to that day.
    async fn estate_as_of(&self, date: NaiveDate, filter: &EstateFilter) -> Result<Estate>;
    /// Every device's status at the end of `date` (devices that existed then).
    async fn device_status_on(&self, date: NaiveDate) -> Result<Vec<(String, DeviceStatus)>>;

    // --- findings snapshots ---
    /// Record (or replace) the snapshot for (date, regime, organisation, site).
    async fn record_snapshot(&self, snap: &FindingsSnapshot, actor: &str) -> Result<()>;
    async fn snapshots(&self, filter: &SnapshotFilter) -> Result<Vec<FindingsSnapshot>>;
}

/// Open (creating when needed) the store at `url` and bring its schema up to date.
///
/// Accepts `postgres://...` / `postgresql://...`, `sqlite::memory:`, `sqlite://path`,
/// `sqlite:path`, or a plain file path.
pub async fn open(url: &str) -> Result<Box<dyn Store>> {
    Ok(Box::new(SqlStore::open(url).await?))
}

/// Canonical MAC notation (the workspace's one normaliser, re-exported).
pub use camtrace_model::normalise_mac;

/// The id a device discovered on `site` gets when it is registered: from its MAC when known,
/// otherwise from the site and its address.
pub fn discovered_device_id(site: &str, ident: &Identification) -> String {
    match ident.mac.as_deref().and_then(normalise_mac) {
        Some(mac) => format!("mac-{}", mac.replace(':', "")),
        None => format!("{site}/{}", ident.target),
    }
}

/// A register device built from a discovered identification (status `installed`). Only a maker
/// the device's own evidence settles is recorded: one the identification left open between
/// candidates (`could_be`) or read from the brand alone is not, and the register keeps the brand
/// for the one attribution rule to read at the device's own date.
pub fn device_from_identification(site: &str, ident: &Identification) -> Device {
    Device {
        id: discovered_device_id(site, ident),
        site: site.to_string(),
        zone: None,
        network: None,
        brand: ident.brand.as_ref().map(|b| b.id.clone()),
        maker: ident.settled_maker().map(|m| m.id.clone()),
        model: ident.model.clone(),
        firmware: ident.firmware.clone(),
        class: ident.device_class,
        mac: ident.mac.as_deref().and_then(normalise_mac),
        addresses: vec![ident.target.clone()],
        status: DeviceStatus::Installed,
        install_date: None,
        scheduled_upgrade: None,
        cost_device: None,
        cost_labour: None,
        confidence: Some(ident.confidence),
        notes: Some("registered from discovery".into()),
    }
}

/// The current time as RFC 3339 UTC with microseconds (fixed width: sorts as text).
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs_normalise_from_every_notation() {
        for s in [
            "44:19:B6:01:02:03",
            "44-19-b6-01-02-03",
            "4419.b601.0203",
            "4419B6010203",
        ] {
            assert_eq!(
                normalise_mac(s).as_deref(),
                Some("44:19:b6:01:02:03"),
                "{s}"
            );
        }
        assert_eq!(normalise_mac("44:19:b6:01:02"), None);
        assert_eq!(normalise_mac("zz:19:b6:01:02:03"), None);
    }
}
