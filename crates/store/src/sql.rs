//! The one implementation of [`Store`]: sqlx runtime queries over the `Any` driver.

use crate::history::{entry_hash, HistoryEntry, HistoryFilter, NewHistory, GENESIS_HASH};
use crate::*;
use futures_util::TryStreamExt;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{Any, AssertSqlSafe, Row, Transaction};
use sqlx::{AnyConnection, AnyPool};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

pub(crate) type Tx = Transaction<'static, Any>;
type AnyQuery<'q> = sqlx::query::Query<'q, Any, sqlx::any::AnyArguments>;

/// Longest id accepted for register entities.
const MAX_ID: usize = 200;
/// Rows per multi-row INSERT of observations, per backend (measured: docs/bench/store.md).
const OBS_CHUNK_SQLITE: usize = 20;
const OBS_CHUNK_POSTGRES: usize = 200;

/// The SQL store (SQLite or PostgreSQL).
#[derive(Clone)]
pub struct SqlStore {
    pub(crate) pool: AnyPool,
    pub(crate) backend: Backend,
}

/// A dynamic query argument.
#[derive(Debug, Clone)]
enum Arg {
    S(Option<String>),
    I(i64),
}

/// A query under construction with numbered `$n` parameters.
#[derive(Default)]
struct Q {
    sql: String,
    args: Vec<Arg>,
}

impl Q {
    fn new(sql: &str) -> Self {
        Self {
            sql: sql.to_string(),
            args: Vec::new(),
        }
    }
    fn arg(&mut self, a: Arg) -> String {
        self.args.push(a);
        format!("${}", self.args.len())
    }
    fn s(&mut self, v: impl Into<String>) -> String {
        self.arg(Arg::S(Some(v.into())))
    }
    fn push(&mut self, s: &str) {
        self.sql.push_str(s);
    }
    fn build(&self) -> AnyQuery<'_> {
        bind_all(sqlx::query(AssertSqlSafe(self.sql.clone())), &self.args)
    }
}

/// `($1, ..., $cols), ($cols+1, ...), ...`: the placeholders of a multi-row `VALUES` list of
/// `rows` rows of `cols` values each.
pub(crate) fn values_rows(rows: usize, cols: usize) -> String {
    (0..rows)
        .map(|r| format!("({})", placeholders(r * cols, cols)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `$from+1, ..., $from+n`.
pub(crate) fn placeholders(from: usize, n: usize) -> String {
    (from + 1..=from + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn bind_all<'q>(mut q: AnyQuery<'q>, args: &[Arg]) -> AnyQuery<'q> {
    for a in args {
        q = match a {
            Arg::S(v) => q.bind(v.clone()),
            Arg::I(v) => q.bind(*v),
        };
    }
    q
}

fn b(v: bool) -> i64 {
    v as i64
}

pub(crate) fn date_str(d: Option<NaiveDate>) -> Option<String> {
    d.map(|d| d.format("%Y-%m-%d").to_string())
}

fn parse_date(what: &str, s: Option<String>) -> Result<Option<NaiveDate>> {
    match s {
        None => Ok(None),
        Some(s) if s.is_empty() => Ok(None),
        Some(s) => NaiveDate::parse_from_str(&s, "%Y-%m-%d")
            .map(Some)
            .map_err(|e| StoreError::invalid(what, format!("stored date `{s}`: {e}"))),
    }
}

fn validate_id(kind: &str, id: &str) -> Result<()> {
    if id.trim().is_empty() {
        return Err(StoreError::invalid(format!("{kind} id"), "empty"));
    }
    if id.len() > MAX_ID {
        return Err(StoreError::invalid(
            format!("{kind} id"),
            format!("longer than {MAX_ID} bytes"),
        ));
    }
    if id.chars().any(|c| c.is_control()) {
        return Err(StoreError::invalid(
            format!("{kind} id `{}`", id.escape_debug()),
            "contains control characters",
        ));
    }
    Ok(())
}

/// First instant of the day after `date`, as stored-time text (history `time` sorts as text).
fn end_of(date: NaiveDate) -> String {
    let next = date.succ_opt().unwrap_or(date);
    format!("{}T00:00:00", next.format("%Y-%m-%d"))
}

// ---------------------------------------------------------------- row mapping

fn row_org(r: &AnyRow) -> Result<Organisation> {
    Ok(Organisation {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        parent: r.try_get("parent")?,
        kind: r.try_get("kind")?,
        country: r.try_get("country")?,
    })
}

fn row_site(r: &AnyRow) -> Result<Site> {
    let tags: String = r.try_get("tags")?;
    Ok(Site {
        id: r.try_get("id")?,
        organisation: r.try_get("organisation")?,
        name: r.try_get("name")?,
        address: r.try_get("address")?,
        criteria: camtrace_model::SensitivityCriteria {
            secret_or_above: r.try_get::<i64, _>("secret_or_above")? != 0,
            dv_significant: r.try_get::<i64, _>("dv_significant")? != 0,
            ministerial_use: r.try_get::<i64, _>("ministerial_use")? != 0,
            socpa_2005: r.try_get::<i64, _>("socpa_2005")? != 0,
        },
        classification: r.try_get("classification")?,
        government_building: r.try_get::<i64, _>("government_building")? != 0,
        tags: serde_json::from_str(&tags)?,
    })
}

fn row_zone(r: &AnyRow) -> Result<Zone> {
    Ok(Zone {
        id: r.try_get("id")?,
        site: r.try_get("site")?,
        name: r.try_get("name")?,
    })
}

fn row_net(r: &AnyRow) -> Result<NetworkSegment> {
    let cidrs: String = r.try_get("cidrs")?;
    Ok(NetworkSegment {
        id: r.try_get("id")?,
        site: r.try_get("site")?,
        name: r.try_get("name")?,
        cidrs: serde_json::from_str(&cidrs)?,
        core: r.try_get::<i64, _>("core")? != 0,
        internet_exposed: r.try_get::<i64, _>("internet_exposed")? != 0,
    })
}

pub(crate) fn row_device(r: &AnyRow) -> Result<Device> {
    let addresses: String = r.try_get("addresses")?;
    let class: String = r.try_get("class")?;
    let status: String = r.try_get("status")?;
    Ok(Device {
        id: r.try_get("id")?,
        site: r.try_get("site")?,
        zone: r.try_get("zone")?,
        network: r.try_get("network")?,
        brand: r.try_get("brand")?,
        maker: r.try_get("maker")?,
        model: r.try_get("model")?,
        firmware: r.try_get("firmware")?,
        class: class
            .parse()
            .map_err(|e: String| StoreError::invalid("stored device class", e))?,
        mac: r.try_get("mac")?,
        addresses: serde_json::from_str(&addresses)?,
        status: status
            .parse()
            .map_err(|e: String| StoreError::invalid("stored device status", e))?,
        install_date: parse_date("install_date", r.try_get("install_date")?)?,
        scheduled_upgrade: parse_date("scheduled_upgrade", r.try_get("scheduled_upgrade")?)?,
        cost_device: r.try_get("cost_device")?,
        cost_labour: r.try_get("cost_labour")?,
        confidence: r.try_get("confidence")?,
        notes: r.try_get("notes")?,
    })
}

fn row_waiver(r: &AnyRow) -> Result<Waiver> {
    Ok(Waiver {
        id: r.try_get("id")?,
        device_id: r.try_get("device_id")?,
        rule_id: r.try_get("rule_id")?,
        reason: r.try_get("reason")?,
        approver: r.try_get("approver")?,
        created_at: r.try_get("created_at")?,
        expires_on: parse_date("expires_on", r.try_get("expires_on")?)?
            .ok_or_else(|| StoreError::invalid("waiver", "no expiry date"))?,
        revoked_at: r.try_get("revoked_at")?,
        revoked_by: r.try_get("revoked_by")?,
        revoke_reason: r.try_get("revoke_reason")?,
    })
}

fn row_scan(r: &AnyRow) -> Result<ScanRecord> {
    Ok(ScanRecord {
        id: r.try_get("id")?,
        started: r.try_get("started")?,
        finished: r.try_get("finished")?,
        source: r.try_get("source")?,
        site: r.try_get("site")?,
        kind: r.try_get("kind")?,
        observation_count: r.try_get("observation_count")?,
        identification_count: r.try_get("identification_count")?,
    })
}

fn row_history(r: &AnyRow) -> Result<HistoryEntry> {
    let before: Option<String> = r.try_get("before")?;
    let after: Option<String> = r.try_get("after")?;
    Ok(HistoryEntry {
        seq: r.try_get("seq")?,
        time: r.try_get("time")?,
        actor: r.try_get("actor")?,
        action: r.try_get("action")?,
        entity_kind: r.try_get("entity_kind")?,
        entity_id: r.try_get("entity_id")?,
        before: before.map(|s| serde_json::from_str(&s)).transpose()?,
        after: after.map(|s| serde_json::from_str(&s)).transpose()?,
        prev_hash: r.try_get("prev_hash")?,
        hash: r.try_get("hash")?,
    })
}

// ---------------------------------------------------------------- history in a transaction

/// Append one history entry inside the caller's transaction (the change and its record commit
/// or roll back together).
pub(crate) async fn append_history_in(
    conn: &mut AnyConnection,
    backend: Backend,
    e: &NewHistory,
) -> Result<HistoryEntry> {
    append_history_at(conn, &mut Chain::new(backend), e, &now_rfc3339()).await
}

/// The end of the history chain as seen by one transaction: after the first append it is kept
/// here, so a batch does not re-read it (the transaction holds the write lock meanwhile).
pub(crate) struct Chain {
    backend: Backend,
    last: Option<(i64, String)>,
}

impl Chain {
    pub(crate) fn new(backend: Backend) -> Self {
        Self {
            backend,
            last: None,
        }
    }
}

pub(crate) async fn append_history_at(
    conn: &mut AnyConnection,
    chain: &mut Chain,
    e: &NewHistory,
    time: &str,
) -> Result<HistoryEntry> {
    let mut written = append_history_many(conn, chain, std::slice::from_ref(e), time, 1).await?;
    Ok(written.remove(0))
}

/// The last entry of the chain (seq and hash), read once per transaction. On PostgreSQL this
/// takes the lock that serialises appenders: the chain needs the previous entry's hash.
async fn chain_tail(conn: &mut AnyConnection, chain: &mut Chain) -> Result<(i64, String)> {
    if let Some(last) = &chain.last {
        return Ok(last.clone());
    }
    if chain.backend == Backend::Postgres {
        sqlx::query("SELECT pg_advisory_xact_lock(7261002)")
            .execute(&mut *conn)
            .await?;
    }
    let last = sqlx::query("SELECT seq, hash FROM history ORDER BY seq DESC LIMIT 1")
        .fetch_optional(&mut *conn)
        .await?;
    let tail = match last {
        Some(r) => (r.try_get::<i64, _>("seq")?, r.try_get::<String, _>("hash")?),
        None => (0, GENESIS_HASH.to_string()),
    };
    chain.last = Some(tail.clone());
    Ok(tail)
}

/// Append entries to the chain in order, all dated `time`: hashes are computed here, rows
/// inserted `rows` per statement.
async fn append_history_many(
    conn: &mut AnyConnection,
    chain: &mut Chain,
    entries: &[NewHistory],
    time: &str,
    rows: usize,
) -> Result<Vec<HistoryEntry>> {
    let texts = entries
        .iter()
        .map(|e| EntryText {
            actor: e.actor.clone(),
            action: e.action.clone(),
            entity_kind: e.entity_kind.clone(),
            entity_id: e.entity_id.clone(),
            before: e.before.as_ref().map(|v| v.to_string()),
            after: e.after.as_ref().map(|v| v.to_string()),
        })
        .collect();
    let links = append_history_texts(conn, chain, texts, time, rows).await?;
    Ok(entries
        .iter()
        .zip(links)
        .map(|(e, (seq, prev_hash, hash))| HistoryEntry {
            seq,
            time: time.to_string(),
            actor: e.actor.clone(),
            action: e.action.clone(),
            entity_kind: e.entity_kind.clone(),
            entity_id: e.entity_id.clone(),
            before: e.before.clone(),
            after: e.after.clone(),
            prev_hash,
            hash,
        })
        .collect())
}

/// A history entry whose `before` and `after` are already JSON text: the text is what is stored
/// and hashed. (A register import writes one per device; going through `serde_json::Value`
/// would build and copy a map per device for nothing.)
struct EntryText {
    actor: String,
    action: String,
    entity_kind: String,
    entity_id: String,
    before: Option<String>,
    after: Option<String>,
}

/// [`append_history_many`] for entries already in text: returns each one's (seq, previous
/// hash, hash).
async fn append_history_texts(
    conn: &mut AnyConnection,
    chain: &mut Chain,
    entries: Vec<EntryText>,
    time: &str,
    rows: usize,
) -> Result<Vec<(i64, String, String)>> {
    if entries.is_empty() {
        return Ok(Vec::new());
    }
    let (mut seq, mut prev_hash) = chain_tail(conn, chain).await?;
    let mut links = Vec::with_capacity(entries.len());
    for e in &entries {
        seq += 1;
        let hash = entry_hash(
            seq,
            time,
            &e.actor,
            &e.action,
            &e.entity_kind,
            &e.entity_id,
            e.before.as_deref(),
            e.after.as_deref(),
            &prev_hash,
        );
        links.push((seq, std::mem::replace(&mut prev_hash, hash.clone()), hash));
    }
    let rows = rows.clamp(1, 1000);
    let mut pending = entries.into_iter().zip(&links).peekable();
    while pending.peek().is_some() {
        let chunk: Vec<_> = pending.by_ref().take(rows).collect();
        let sql = format!("INSERT INTO history (seq, time, actor, action, entity_kind, entity_id, before, after, prev_hash, hash) VALUES {}", values_rows(chunk.len(), 10));
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for (e, (seq, prev, hash)) in chunk {
            q = q
                .bind(*seq)
                .bind(time.to_string())
                .bind(e.actor)
                .bind(e.action)
                .bind(e.entity_kind)
                .bind(e.entity_id)
                .bind(e.before)
                .bind(e.after)
                .bind(prev.clone())
                .bind(hash.clone());
        }
        q.execute(&mut *conn).await?;
    }
    chain.last = Some((seq, prev_hash));
    Ok(links)
}

/// Record a create or update of `kind`/`id` and say which it was.
#[allow(clippy::too_many_arguments)]
async fn record<T: Serialize>(
    conn: &mut AnyConnection,
    chain: &mut Chain,
    actor: &str,
    kind: &str,
    id: &str,
    before: Option<&T>,
    after: &T,
    action: Option<&str>,
) -> Result<Change> {
    let change = if before.is_some() {
        Change::Updated
    } else {
        Change::Created
    };
    let action = action.unwrap_or(match change {
        Change::Created => "create",
        _ => "update",
    });
    append_history_at(
        conn,
        chain,
        &NewHistory {
            actor: actor.to_string(),
            action: action.to_string(),
            entity_kind: kind.to_string(),
            entity_id: id.to_string(),
            before: before.map(serde_json::to_value).transpose()?,
            after: Some(serde_json::to_value(after)?),
        },
        &now_rfc3339(),
    )
    .await?;
    Ok(change)
}

// ---------------------------------------------------------------- entity writes

/// One row by id, mapped by `row`: the same look-up for every register table.
async fn fetch_by_id<T>(
    c: &mut AnyConnection,
    table: &'static str,
    id: &str,
    row: fn(&AnyRow) -> Result<T>,
) -> Result<Option<T>> {
    let sql = format!("SELECT * FROM {table} WHERE id = $1");
    sqlx::query(AssertSqlSafe(sql))
        .bind(id.to_string())
        .fetch_optional(&mut *c)
        .await?
        .map(|r| row(&r))
        .transpose()
}

async fn fetch_org(c: &mut AnyConnection, id: &str) -> Result<Option<Organisation>> {
    fetch_by_id(c, "organisations", id, row_org).await
}

async fn fetch_site(c: &mut AnyConnection, id: &str) -> Result<Option<Site>> {
    fetch_by_id(c, "sites", id, row_site).await
}

async fn fetch_zone(c: &mut AnyConnection, id: &str) -> Result<Option<Zone>> {
    fetch_by_id(c, "zones", id, row_zone).await
}

async fn fetch_net(c: &mut AnyConnection, id: &str) -> Result<Option<NetworkSegment>> {
    fetch_by_id(c, "networks", id, row_net).await
}

async fn fetch_device(c: &mut AnyConnection, id: &str) -> Result<Option<Device>> {
    fetch_by_id(c, "devices", id, row_device).await
}

async fn fetch_waiver(c: &mut AnyConnection, id: &str) -> Result<Option<Waiver>> {
    fetch_by_id(c, "waivers", id, row_waiver).await
}

pub(crate) async fn exists(c: &mut AnyConnection, table: &'static str, id: &str) -> Result<bool> {
    let sql = format!("SELECT 1 AS one FROM {table} WHERE id = $1");
    Ok(sqlx::query(AssertSqlSafe(sql))
        .bind(id.to_string())
        .fetch_optional(&mut *c)
        .await?
        .is_some())
}

async fn upsert_org_in(
    c: &mut AnyConnection,
    be: &mut Chain,
    o: &Organisation,
    actor: &str,
) -> Result<Change> {
    validate_id("organisation", &o.id)?;
    let before = fetch_org(c, &o.id).await?;
    if before.as_ref() == Some(o) {
        return Ok(Change::Unchanged);
    }
    if let Some(p) = &o.parent {
        if p == &o.id {
            return Err(StoreError::invalid(
                format!("organisation `{}`", o.id),
                "is its own parent",
            ));
        }
        if !exists(c, "organisations", p).await? {
            return Err(StoreError::invalid(
                format!("organisation `{}`", o.id),
                format!("parent organisation `{p}` is not in the register"),
            ));
        }
    }
    sqlx::query("INSERT INTO organisations (id, name, parent, kind, country) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO UPDATE SET name = excluded.name, parent = excluded.parent, kind = excluded.kind, country = excluded.country")
        .bind(o.id.clone())
        .bind(o.name.clone())
        .bind(o.parent.clone())
        .bind(o.kind.clone())
        .bind(o.country.clone())
        .execute(&mut *c)
        .await?;
    record(
        c,
        be,
        actor,
        "organisation",
        &o.id,
        before.as_ref(),
        o,
        None,
    )
    .await
}

async fn upsert_site_in(
    c: &mut AnyConnection,
    be: &mut Chain,
    s: &Site,
    actor: &str,
) -> Result<Change> {
    validate_id("site", &s.id)?;
    let before = fetch_site(c, &s.id).await?;
    if before.as_ref() == Some(s) {
        return Ok(Change::Unchanged);
    }
    if !exists(c, "organisations", &s.organisation).await? {
        return Err(StoreError::invalid(
            format!("site `{}`", s.id),
            format!("organisation `{}` is not in the register", s.organisation),
        ));
    }
    sqlx::query("INSERT INTO sites (id, organisation, name, address, secret_or_above, dv_significant, ministerial_use, socpa_2005, classification, government_building, tags) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (id) DO UPDATE SET organisation = excluded.organisation, name = excluded.name, address = excluded.address, secret_or_above = excluded.secret_or_above, dv_significant = excluded.dv_significant, ministerial_use = excluded.ministerial_use, socpa_2005 = excluded.socpa_2005, classification = excluded.classification, government_building = excluded.government_building, tags = excluded.tags")
        .bind(s.id.clone())
        .bind(s.organisation.clone())
        .bind(s.name.clone())
        .bind(s.address.clone())
        .bind(b(s.criteria.secret_or_above))
        .bind(b(s.criteria.dv_significant))
        .bind(b(s.criteria.ministerial_use))
        .bind(b(s.criteria.socpa_2005))
        .bind(s.classification.clone())
        .bind(b(s.government_building))
        .bind(serde_json::to_string(&s.tags)?)
        .execute(&mut *c)
        .await?;
    record(c, be, actor, "site", &s.id, before.as_ref(), s, None).await
}

async fn require_site(c: &mut AnyConnection, what: String, site: &str) -> Result<()> {
    if exists(c, "sites", site).await? {
        Ok(())
    } else {
        Err(StoreError::invalid(
            what,
            format!("site `{site}` is not in the register"),
        ))
    }
}

async fn upsert_zone_in(
    c: &mut AnyConnection,
    be: &mut Chain,
    z: &Zone,
    actor: &str,
) -> Result<Change> {
    validate_id("zone", &z.id)?;
    let before = fetch_zone(c, &z.id).await?;
    if before.as_ref() == Some(z) {
        return Ok(Change::Unchanged);
    }
    require_site(c, format!("zone `{}`", z.id), &z.site).await?;
    sqlx::query("INSERT INTO zones (id, site, name) VALUES ($1, $2, $3) ON CONFLICT (id) DO UPDATE SET site = excluded.site, name = excluded.name")
        .bind(z.id.clone())
        .bind(z.site.clone())
        .bind(z.name.clone())
        .execute(&mut *c)
        .await?;
    record(c, be, actor, "zone", &z.id, before.as_ref(), z, None).await
}

async fn upsert_net_in(
    c: &mut AnyConnection,
    be: &mut Chain,
    n: &NetworkSegment,
    actor: &str,
) -> Result<Change> {
    validate_id("network", &n.id)?;
    let before = fetch_net(c, &n.id).await?;
    if before.as_ref() == Some(n) {
        return Ok(Change::Unchanged);
    }
    require_site(c, format!("network `{}`", n.id), &n.site).await?;
    sqlx::query("INSERT INTO networks (id, site, name, cidrs, core, internet_exposed) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO UPDATE SET site = excluded.site, name = excluded.name, cidrs = excluded.cidrs, core = excluded.core, internet_exposed = excluded.internet_exposed")
        .bind(n.id.clone())
        .bind(n.site.clone())
        .bind(n.name.clone())
        .bind(serde_json::to_string(&n.cidrs)?)
        .bind(b(n.core))
        .bind(b(n.internet_exposed))
        .execute(&mut *c)
        .await?;
    record(c, be, actor, "network", &n.id, before.as_ref(), n, None).await
}

/// The checks a device passes before it is written (the same for one device and a batch).
fn check_device(d: &Device) -> Result<()> {
    validate_id("device", &d.id)?;
    for (what, v) in [
        ("cost_device", d.cost_device),
        ("cost_labour", d.cost_labour),
    ] {
        if v.is_some_and(|v| !v.is_finite() || v < 0.0) {
            return Err(StoreError::invalid(
                format!("device `{}` {what}", d.id),
                "must be a non-negative number",
            ));
        }
    }
    if d.confidence.is_some_and(|v| !(0.0..=1.0).contains(&v)) {
        return Err(StoreError::invalid(
            format!("device `{}` confidence", d.id),
            "must be between 0 and 1",
        ));
    }
    Ok(())
}

async fn upsert_device_in(
    c: &mut AnyConnection,
    be: &mut Chain,
    d: &Device,
    actor: &str,
) -> Result<Change> {
    let changes = upsert_devices_in(
        c,
        be,
        std::slice::from_ref(d),
        actor,
        &mut HashSet::new(),
        DEVICE_ROWS_PER_STATEMENT,
    )
    .await?;
    Ok(changes[0])
}

/// Devices (and history entries) per multi-row statement, by backend: measured with the store
/// benchmark (`docs/bench/store.md`). SQLite through sqlx slows down with many bound values per
/// statement, as for observations; PostgreSQL gains from fewer round trips.
pub(crate) fn device_rows(backend: Backend) -> usize {
    match backend {
        Backend::Sqlite => 20,
        Backend::Postgres => 200,
    }
}

/// For one device at a time.
const DEVICE_ROWS_PER_STATEMENT: usize = 1;

/// What an upsert of a device row changes when the row exists (everything but `created_at`).
const DEVICE_UPSERT: &str = " ON CONFLICT (id) DO UPDATE SET site = excluded.site, zone = excluded.zone, network = excluded.network, brand = excluded.brand, maker = excluded.maker, model = excluded.model, firmware = excluded.firmware, class = excluded.class, mac = excluded.mac, addresses = excluded.addresses, status = excluded.status, install_date = excluded.install_date, scheduled_upgrade = excluded.scheduled_upgrade, cost_device = excluded.cost_device, cost_labour = excluded.cost_labour, confidence = excluded.confidence, notes = excluded.notes, updated_at = excluded.updated_at";

/// Ids per `IN (...)` look-up.
const IDS_PER_LOOKUP: usize = 500;

/// The stored devices among `ids`, looked up `IDS_PER_LOOKUP` at a time.
async fn fetch_devices(c: &mut AnyConnection, ids: &[&str]) -> Result<HashMap<String, Device>> {
    let mut out = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(IDS_PER_LOOKUP) {
        let sql = format!(
            "SELECT * FROM devices WHERE id IN ({})",
            placeholders(0, chunk.len())
        );
        // Not a cached prepared statement: a plan cached while the table was small (a first
        // import) would scan the whole table for every look-up once it is large.
        let mut q = sqlx::query(AssertSqlSafe(sql)).persistent(false);
        for id in chunk {
            q = q.bind(id.to_string());
        }
        for r in q.fetch_all(&mut *c).await? {
            let d = row_device(&r)?;
            out.insert(d.id.clone(), d);
        }
    }
    Ok(out)
}

/// Write devices in order, as one would one at a time, but with set-based statements: stored
/// rows are read `IDS_PER_LOOKUP` at a time, changed rows written `rows` per statement and
/// their history entries chained in memory and inserted together. This keeps the write
/// transaction of a large import short (it holds the database's write lock). A device listed
/// twice is written once, in its last state, with a history entry for each change. `sites`
/// holds sites known to exist; a device on another site is refused unless the site exists.
async fn upsert_devices_in(
    c: &mut AnyConnection,
    chain: &mut Chain,
    devices: &[Device],
    actor: &str,
    sites: &mut HashSet<String>,
    rows: usize,
) -> Result<Vec<Change>> {
    for d in devices {
        check_device(d)?;
    }
    let ids: Vec<&str> = {
        let mut seen = HashSet::new();
        devices
            .iter()
            .map(|d| d.id.as_str())
            .filter(|id| seen.insert(*id))
            .collect()
    };
    let mut state = fetch_devices(c, &ids).await?;
    let now = now_rfc3339();
    let mut changes = Vec::with_capacity(devices.len());
    let mut entries: Vec<EntryText> = Vec::new();
    let mut dirty: Vec<&str> = Vec::new();
    let mut dirty_set: HashSet<&str> = HashSet::new();
    for d in devices {
        let before = state.get(&d.id);
        if before == Some(d) {
            changes.push(Change::Unchanged);
            continue;
        }
        if !sites.contains(&d.site) {
            require_site(c, format!("device `{}`", d.id), &d.site).await?;
            sites.insert(d.site.clone());
        }
        let (change, action) = match before {
            None => (Change::Created, "create"),
            Some(bf)
                if bf.status != d.status
                    && Device {
                        status: d.status,
                        ..bf.clone()
                    } == *d =>
            {
                (Change::Updated, "status")
            }
            Some(_) => (Change::Updated, "update"),
        };
        entries.push(EntryText {
            actor: actor.to_string(),
            action: action.to_string(),
            entity_kind: "device".into(),
            entity_id: d.id.clone(),
            before: before.map(serde_json::to_string).transpose()?,
            after: Some(serde_json::to_string(d)?),
        });
        changes.push(change);
        if dirty_set.insert(d.id.as_str()) {
            dirty.push(d.id.as_str());
        }
        state.insert(d.id.clone(), d.clone());
    }
    let finals: Vec<Device> = dirty.iter().filter_map(|id| state.remove(*id)).collect();
    let mut pending = finals.into_iter().peekable();
    while pending.peek().is_some() {
        let chunk: Vec<Device> = pending.by_ref().take(rows.clamp(1, 1000)).collect();
        // 19 values a row: the last, `now`, is both created_at and updated_at of a new row.
        let values: Vec<String> = (0..chunk.len())
            .map(|i| {
                let now = format!("${}", i * 19 + 19);
                format!("({}, {now})", placeholders(i * 19, 19))
            })
            .collect();
        let mut sql = format!("INSERT INTO devices (id, site, zone, network, brand, maker, model, firmware, class, mac, addresses, status, install_date, scheduled_upgrade, cost_device, cost_labour, confidence, notes, created_at, updated_at) VALUES {}", values.join(", "));
        sql.push_str(DEVICE_UPSERT);
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for d in chunk {
            let addresses = serde_json::to_string(&d.addresses)?;
            q = q
                .bind(d.id)
                .bind(d.site)
                .bind(d.zone)
                .bind(d.network)
                .bind(d.brand)
                .bind(d.maker)
                .bind(d.model)
                .bind(d.firmware)
                .bind(d.class.as_str().to_string())
                .bind(d.mac)
                .bind(addresses)
                .bind(d.status.as_str().to_string())
                .bind(date_str(d.install_date))
                .bind(date_str(d.scheduled_upgrade))
                .bind(d.cost_device)
                .bind(d.cost_labour)
                .bind(d.confidence)
                .bind(d.notes)
                .bind(now.clone());
        }
        q.execute(&mut *c).await?;
    }
    append_history_texts(c, chain, entries, &now, rows).await?;
    Ok(changes)
}

/// Parents before children, so a batch may list organisations in any order.
fn parents_first(orgs: &[Organisation]) -> Vec<&Organisation> {
    let ids: HashSet<&str> = orgs.iter().map(|o| o.id.as_str()).collect();
    let mut done: HashSet<&str> = HashSet::new();
    let mut out = Vec::with_capacity(orgs.len());
    let mut pending: Vec<&Organisation> = orgs.iter().collect();
    while !pending.is_empty() {
        let before = pending.len();
        pending.retain(|o| {
            let ready = match o.parent.as_deref() {
                None => true,
                Some(p) => !ids.contains(p) || done.contains(p) || p == o.id,
            };
            if ready {
                done.insert(o.id.as_str());
                out.push(*o);
            }
            !ready
        });
        if pending.len() == before {
            // A cycle: let the parent check report it.
            out.append(&mut pending);
        }
    }
    out
}

// ---------------------------------------------------------------- scope filters

/// ` AND <col> IN (sites of the organisation subtree)` / ` AND <col> = site`.
fn push_site_scope(q: &mut Q, col: &str, organisation: Option<&str>, site: Option<&str>) {
    if let Some(site) = site {
        let p = q.s(site);
        q.push(&format!(" AND {col} = {p}"));
    }
    if let Some(org) = organisation {
        let p = q.s(org);
        q.push(&format!(
            " AND {col} IN (SELECT s2.id FROM sites s2 WHERE s2.organisation IN (WITH RECURSIVE sub(id) AS (SELECT id FROM organisations WHERE id = {p} UNION SELECT o.id FROM organisations o JOIN sub ON o.parent = sub.id) SELECT id FROM sub))"
        ));
    }
}

const SENSITIVE: &str =
    "(s.secret_or_above + s.dv_significant + s.ministerial_use + s.socpa_2005) > 0";

/// The organisation ids under `root` (itself included), from a parent map.
fn subtree(orgs: &[Organisation], root: &str) -> HashSet<String> {
    let mut set: HashSet<String> = HashSet::from([root.to_string()]);
    loop {
        let before = set.len();
        for o in orgs {
            if o.parent.as_ref().is_some_and(|p| set.contains(p)) {
                set.insert(o.id.clone());
            }
        }
        if set.len() == before {
            return set;
        }
    }
}

/// Link identifications to register devices: by MAC on the same site, else by address.
pub fn link_identifications(idents: &mut [SeenIdentification], devices: &[Device]) {
    link(idents, devices)
}

fn link(idents: &mut [SeenIdentification], devices: &[Device]) {
    let mut by_mac: HashMap<(Option<&str>, String), &str> = HashMap::new();
    let mut by_addr: HashMap<(Option<&str>, &str), &str> = HashMap::new();
    for d in devices {
        if let Some(m) = d.mac.as_deref().and_then(normalise_mac) {
            by_mac.entry((Some(d.site.as_str()), m)).or_insert(&d.id);
        }
        for a in &d.addresses {
            by_addr
                .entry((Some(d.site.as_str()), a.as_str()))
                .or_insert(&d.id);
        }
    }
    for i in idents.iter_mut() {
        let site = i.site.as_deref();
        let mac = i.identification.mac.as_deref().and_then(normalise_mac);
        let hit = mac
            .and_then(|m| by_mac.get(&(site, m)).copied())
            .or_else(|| {
                by_addr
                    .get(&(site, i.identification.target.as_str()))
                    .copied()
            });
        i.device_id = hit.map(str::to_string);
    }
}

/// Add a waiver inside the caller's transaction, with its history entry. `false` when the same
/// waiver was already stored (nothing written).
pub(crate) async fn add_waiver_in(
    tx: &mut AnyConnection,
    chain: &mut Chain,
    w: &Waiver,
    actor: &str,
) -> Result<bool> {
    validate_id("waiver", &w.id)?;
    for (what, v) in [
        ("reason", &w.reason),
        ("approver", &w.approver),
        ("rule_id", &w.rule_id),
    ] {
        if v.trim().is_empty() {
            return Err(StoreError::invalid(
                format!("waiver `{}`", w.id),
                format!("{what} is empty"),
            ));
        }
    }
    if let Some(existing) = fetch_waiver(&mut *tx, &w.id).await? {
        if existing == *w {
            return Ok(false);
        }
        return Err(StoreError::invalid(
            format!("waiver `{}`", w.id),
            "already exists with other content (waivers are not edited: revoke and add a new one)",
        ));
    }
    if !exists(&mut *tx, "devices", &w.device_id).await? {
        return Err(StoreError::invalid(
            format!("waiver `{}`", w.id),
            format!("device `{}` is not in the register", w.device_id),
        ));
    }
    sqlx::query("INSERT INTO waivers (id, device_id, rule_id, reason, approver, created_at, expires_on, revoked_at, revoked_by, revoke_reason) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")
        .bind(w.id.clone())
        .bind(w.device_id.clone())
        .bind(w.rule_id.clone())
        .bind(w.reason.clone())
        .bind(w.approver.clone())
        .bind(w.created_at.clone())
        .bind(date_str(Some(w.expires_on)))
        .bind(w.revoked_at.clone())
        .bind(w.revoked_by.clone())
        .bind(w.revoke_reason.clone())
        .execute(&mut *tx)
        .await?;
    record(
        &mut *tx,
        chain,
        actor,
        "waiver",
        &w.id,
        None,
        w,
        Some("waiver_add"),
    )
    .await?;
    Ok(true)
}

// ---------------------------------------------------------------- the store

/// Reads one stored row into its record.
pub(crate) type RowReader<T> = fn(&AnyRow) -> Result<T>;

/// `sql` with its text parameters `$1`, `$2` ... bound to `keys`.
fn keyed<'q>(
    sql: &'static str,
    keys: &[&str],
) -> sqlx::query::Query<'q, Any, sqlx::any::AnyArguments> {
    keys.iter()
        .fold(sqlx::query(sql), |q, k| q.bind(k.to_string()))
}

impl SqlStore {
    /// Every row `sql` selects with `keys` ([`keyed`]), read by `row`: the shape of the
    /// store's plain lists.
    pub(crate) async fn rows<T>(
        &self,
        sql: &'static str,
        keys: &[&str],
        row: RowReader<T>,
    ) -> Result<Vec<T>> {
        let found = keyed(sql, keys).fetch_all(&self.pool).await?;
        found.iter().map(row).collect()
    }

    /// The row `sql` selects with `keys` ([`keyed`]), read by `row`; `None` when there is
    /// none.
    pub(crate) async fn row<T>(
        &self,
        sql: &'static str,
        keys: &[&str],
        row: RowReader<T>,
    ) -> Result<Option<T>> {
        let found = keyed(sql, keys).fetch_optional(&self.pool).await?;
        found.as_ref().map(row).transpose()
    }
}

impl SqlStore {
    /// Open (creating a SQLite file when needed) and migrate.
    pub async fn open(url: &str) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let (backend, url, memory) = normalise_url(url)?;
        if backend == Backend::Sqlite && !memory {
            // Create the file's directory on first use too.
            let path = url
                .trim_start_matches("sqlite://")
                .split('?')
                .next()
                .unwrap_or_default();
            if let Some(dir) = std::path::Path::new(path).parent() {
                if !dir.as_os_str().is_empty() && !dir.exists() {
                    std::fs::create_dir_all(dir).map_err(|e| StoreError::Url {
                        url: url.clone(),
                        reason: format!("creating {}: {e}", dir.display()),
                    })?;
                }
            }
        }
        let opts = AnyPoolOptions::new();
        let opts = match backend {
            Backend::Postgres => opts.max_connections(8),
            Backend::Sqlite if memory => opts
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None),
            Backend::Sqlite => opts.max_connections(4),
        };
        let opts = opts.acquire_timeout(Duration::from_secs(30));
        let opts = if backend == Backend::Sqlite {
            opts.after_connect(|conn, _meta| {
                Box::pin(async move {
                    sqlx::raw_sql(
                        "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 30000; PRAGMA synchronous = NORMAL;",
                    )
                    .execute(&mut *conn)
                    .await?;
                    Ok(())
                })
            })
        } else {
            opts
        };
        let pool = opts.connect(&url).await.map_err(|e| StoreError::Url {
            url: redact(&url),
            reason: e.to_string(),
        })?;
        if backend == Backend::Sqlite && !memory {
            sqlx::query("PRAGMA journal_mode = WAL")
                .fetch_all(&pool)
                .await?;
        }
        migrate::run(&pool, backend).await?;
        Ok(Self { pool, backend })
    }

    pub(crate) async fn begin(&self) -> Result<Tx> {
        Ok(match self.backend {
            // Take the write lock at once: a read-then-write transaction in WAL mode would
            // otherwise fail instead of waiting for another writer.
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }

    /// The latest identification per (site, target) in (site, target) order, not yet linked to
    /// register devices (callers link them to the devices they hold).
    async fn latest_idents(
        &self,
        filter: &EstateFilter,
        until: Option<&str>,
    ) -> Result<Vec<SeenIdentification>> {
        // The latest identification of each (site, target) is picked in the database, over the
        // narrow key columns: only those rows' evidence is sent, parsed and held, not every
        // identification ever made (a fleet's agents make one per target per scan). "Latest" is
        // the greatest `seen_at`, then the greatest scan id; the rows come in (site, target)
        // order, sites without a site first, as the map they are collected into orders them.
        let mut q = Q::new("SELECT i.scan_id, i.target, i.seen_at, i.data, l.site FROM (SELECT i.scan_id, i.target, s.site, ROW_NUMBER() OVER (PARTITION BY s.site, i.target ORDER BY i.seen_at DESC, i.scan_id DESC) AS rn FROM identifications i JOIN scans s ON s.id = i.scan_id WHERE 1 = 1");
        push_site_scope(
            &mut q,
            "s.site",
            filter.organisation.as_deref(),
            filter.site.as_deref(),
        );
        if let Some(u) = until {
            let p = q.s(u);
            q.push(&format!(" AND i.seen_at < {p}"));
        }
        q.push(") l JOIN identifications i ON i.scan_id = l.scan_id AND i.target = l.target WHERE l.rn = 1 ORDER BY (l.site IS NOT NULL), l.site, i.target");
        let mut out = Vec::new();
        // Streamed: one row's text is held at a time, not the whole result.
        let mut rows = q.build().fetch(&self.pool);
        while let Some(r) = rows.try_next().await? {
            let data: String = r.try_get("data")?;
            out.push(SeenIdentification {
                device_id: None,
                site: r.try_get("site")?,
                scan_id: r.try_get("scan_id")?,
                seen_at: r.try_get("seen_at")?,
                identification: serde_json::from_str(&data)?,
            });
        }
        Ok(out)
    }

    /// Entities as they were at `cutoff` (exclusive), folded from history.
    async fn fold_history(
        &self,
        cutoff: &str,
    ) -> Result<BTreeMap<(String, String), serde_json::Value>> {
        let mut state: BTreeMap<(String, String), serde_json::Value> = BTreeMap::new();
        let mut after_seq = 0i64;
        loop {
            let rows = sqlx::query("SELECT seq, entity_kind, entity_id, after FROM history WHERE time < $1 AND seq > $2 AND entity_kind IN ('organisation', 'site', 'zone', 'network', 'device', 'waiver') ORDER BY seq LIMIT 10000")
                .bind(cutoff.to_string())
                .bind(after_seq)
                .fetch_all(&self.pool)
                .await?;
            if rows.is_empty() {
                return Ok(state);
            }
            for r in &rows {
                after_seq = r.try_get("seq")?;
                let key = (r.try_get("entity_kind")?, r.try_get("entity_id")?);
                let after: Option<String> = r.try_get("after")?;
                match after {
                    Some(a) => {
                        state.insert(key, serde_json::from_str(&a)?);
                    }
                    None => {
                        state.remove(&key);
                    }
                }
            }
        }
    }
}

fn redact(url: &str) -> String {
    // postgres://user:password@host -> postgres://user:***@host
    if let Some((scheme, rest)) = url.split_once("://") {
        if let Some((cred, host)) = rest.split_once('@') {
            if let Some((user, _)) = cred.split_once(':') {
                return format!("{scheme}://{user}:***@{host}");
            }
        }
    }
    url.to_string()
}

/// (backend, sqlx URL, in-memory)
fn normalise_url(url: &str) -> Result<(Backend, String, bool)> {
    let u = url.trim();
    if u.is_empty() {
        return Err(StoreError::Url {
            url: url.into(),
            reason: "empty".into(),
        });
    }
    if u.starts_with("postgres://") || u.starts_with("postgresql://") {
        return Ok((Backend::Postgres, u.to_string(), false));
    }
    if u == "sqlite::memory:" || u == "sqlite://:memory:" || u == ":memory:" {
        return Ok((Backend::Sqlite, "sqlite::memory:".into(), true));
    }
    let path = if let Some(p) = u.strip_prefix("sqlite://") {
        p
    } else if let Some(p) = u.strip_prefix("sqlite:") {
        p
    } else if u.contains("://") {
        return Err(StoreError::Url {
            url: redact(u),
            reason: "unsupported scheme (use a file path, sqlite://PATH or postgres://...)".into(),
        });
    } else {
        u
    };
    let (path, query) = match path.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path, None),
    };
    if path.is_empty() {
        return Err(StoreError::Url {
            url: u.into(),
            reason: "no file path".into(),
        });
    }
    if path.contains('#') || path.contains('%') {
        return Err(StoreError::Url {
            url: u.into(),
            reason: "file paths with `#` or `%` are not supported".into(),
        });
    }
    let query = query.unwrap_or("mode=rwc");
    Ok((Backend::Sqlite, format!("sqlite://{path}?{query}"), false))
}

#[async_trait]
impl Store for SqlStore {
    fn backend(&self) -> Backend {
        self.backend
    }

    async fn execute_for_tests(&self, sql: &str) -> Result<u64> {
        Ok(sqlx::raw_sql(AssertSqlSafe(sql.to_string()))
            .execute(&self.pool)
            .await?
            .rows_affected())
    }

    async fn schema_version(&self) -> Result<i64> {
        let r = sqlx::query("SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations")
            .fetch_one(&self.pool)
            .await?;
        Ok(r.try_get("v")?)
    }

    async fn upsert_organisation(&self, org: &Organisation, actor: &str) -> Result<Change> {
        let mut tx = self.begin().await?;
        let c = upsert_org_in(&mut tx, &mut Chain::new(self.backend), org, actor).await?;
        tx.commit().await?;
        Ok(c)
    }

    async fn upsert_site(&self, site: &Site, actor: &str) -> Result<Change> {
        let mut tx = self.begin().await?;
        let c = upsert_site_in(&mut tx, &mut Chain::new(self.backend), site, actor).await?;
        tx.commit().await?;
        Ok(c)
    }

    async fn upsert_zone(&self, zone: &Zone, actor: &str) -> Result<Change> {
        let mut tx = self.begin().await?;
        let c = upsert_zone_in(&mut tx, &mut Chain::new(self.backend), zone, actor).await?;
        tx.commit().await?;
        Ok(c)
    }

    async fn upsert_network(&self, net: &NetworkSegment, actor: &str) -> Result<Change> {
        let mut tx = self.begin().await?;
        let c = upsert_net_in(&mut tx, &mut Chain::new(self.backend), net, actor).await?;
        tx.commit().await?;
        Ok(c)
    }

    async fn upsert_device(&self, device: &Device, actor: &str) -> Result<Change> {
        let mut tx = self.begin().await?;
        let c = upsert_device_in(&mut tx, &mut Chain::new(self.backend), device, actor).await?;
        tx.commit().await?;
        Ok(c)
    }

    async fn apply_register(&self, batch: &RegisterBatch, actor: &str) -> Result<RegisterSummary> {
        let mut r = self.begin_register(actor).await?;
        r.apply(batch).await?;
        r.commit().await
    }

    async fn begin_register(&self, actor: &str) -> Result<RegisterImport> {
        Ok(RegisterImport {
            tx: self.begin().await?,
            chain: Chain::new(self.backend),
            actor: actor.to_string(),
            sites: HashSet::new(),
            summary: RegisterSummary::default(),
            rows: device_rows(self.backend),
        })
    }

    async fn set_device_status(
        &self,
        id: &str,
        status: DeviceStatus,
        actor: &str,
        reason: Option<&str>,
    ) -> Result<Change> {
        let mut tx = self.begin().await?;
        let before = fetch_device(&mut tx, id)
            .await?
            .ok_or_else(|| StoreError::NotFound {
                kind: "device",
                id: id.into(),
            })?;
        if before.status == status {
            return Ok(Change::Unchanged);
        }
        sqlx::query("UPDATE devices SET status = $1, updated_at = $2 WHERE id = $3")
            .bind(status.as_str().to_string())
            .bind(now_rfc3339())
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        let after = Device {
            status,
            ..before.clone()
        };
        let mut after_json = serde_json::to_value(&after)?;
        if let (Some(r), Some(obj)) = (reason, after_json.as_object_mut()) {
            // The reason rides along in history only; it is not a register field.
            obj.insert("status_reason".into(), r.into());
        }
        append_history_in(
            &mut tx,
            self.backend,
            &NewHistory {
                actor: actor.into(),
                action: "status".into(),
                entity_kind: "device".into(),
                entity_id: id.into(),
                before: Some(serde_json::to_value(&before)?),
                after: Some(after_json),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(Change::Updated)
    }

    async fn get_organisation(&self, id: &str) -> Result<Option<Organisation>> {
        let mut c = self.pool.acquire().await?;
        fetch_org(&mut c, id).await
    }

    async fn get_site(&self, id: &str) -> Result<Option<Site>> {
        let mut c = self.pool.acquire().await?;
        fetch_site(&mut c, id).await
    }

    async fn get_device(&self, id: &str) -> Result<Option<Device>> {
        let mut c = self.pool.acquire().await?;
        fetch_device(&mut c, id).await
    }

    async fn get_zone(&self, id: &str) -> Result<Option<Zone>> {
        let mut c = self.pool.acquire().await?;
        fetch_zone(&mut c, id).await
    }

    async fn get_network(&self, id: &str) -> Result<Option<NetworkSegment>> {
        let mut c = self.pool.acquire().await?;
        fetch_net(&mut c, id).await
    }

    async fn list_organisations(&self) -> Result<Vec<Organisation>> {
        self.rows("SELECT * FROM organisations ORDER BY id", &[], row_org)
            .await
    }

    async fn list_sites(&self, f: &SiteFilter) -> Result<Vec<Site>> {
        let mut q = Q::new("SELECT s.* FROM sites s WHERE 1 = 1");
        push_site_scope(&mut q, "s.id", f.organisation.as_deref(), f.site.as_deref());
        match f.sensitive {
            Some(true) => q.push(&format!(" AND {SENSITIVE}")),
            Some(false) => q.push(&format!(" AND NOT {SENSITIVE}")),
            None => {}
        }
        q.push(" ORDER BY s.id");
        let mut sites: Vec<Site> = q
            .build()
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(row_site)
            .collect::<Result<_>>()?;
        if let Some(tag) = &f.tag {
            sites.retain(|s| s.tags.iter().any(|t| t.eq_ignore_ascii_case(tag)));
        }
        Ok(sites)
    }

    async fn list_zones(&self, site: Option<&str>) -> Result<Vec<Zone>> {
        let mut q = Q::new("SELECT * FROM zones WHERE 1 = 1");
        push_site_scope(&mut q, "site", None, site);
        q.push(" ORDER BY id");
        q.build()
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(row_zone)
            .collect()
    }

    async fn list_networks(&self, site: Option<&str>) -> Result<Vec<NetworkSegment>> {
        let mut q = Q::new("SELECT * FROM networks WHERE 1 = 1");
        push_site_scope(&mut q, "site", None, site);
        q.push(" ORDER BY id");
        q.build()
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(row_net)
            .collect()
    }

    async fn list_devices(&self, f: &DeviceFilter) -> Result<Vec<Device>> {
        let mut q = Q::new("SELECT d.* FROM devices d JOIN sites s ON s.id = d.site WHERE 1 = 1");
        push_site_scope(
            &mut q,
            "d.site",
            f.organisation.as_deref(),
            f.site.as_deref(),
        );
        if let Some(m) = &f.maker {
            let p = q.s(m.to_lowercase());
            q.push(&format!(" AND LOWER(d.maker) = {p}"));
        }
        if let Some(m) = &f.brand {
            let p = q.s(m.to_lowercase());
            q.push(&format!(" AND LOWER(d.brand) = {p}"));
        }
        if let Some(c) = f.class {
            let p = q.s(c.as_str());
            q.push(&format!(" AND d.class = {p}"));
        }
        if let Some(st) = f.status {
            let p = q.s(st.as_str());
            q.push(&format!(" AND d.status = {p}"));
        }
        if let Some(mac) = &f.mac {
            let p = q.s(normalise_mac(mac).unwrap_or_else(|| mac.to_lowercase()));
            q.push(&format!(" AND d.mac = {p}"));
        }
        match f.sensitive {
            Some(true) => q.push(&format!(" AND {SENSITIVE}")),
            Some(false) => q.push(&format!(" AND NOT {SENSITIVE}")),
            None => {}
        }
        q.push(" ORDER BY d.id");
        if let Some(l) = f.limit {
            let p = q.arg(Arg::I(l.max(0)));
            q.push(&format!(" LIMIT {p}"));
        }
        q.build()
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(row_device)
            .collect()
    }

    async fn begin_scan(&self, scan: &ScanRecord) -> Result<Option<ScanImport>> {
        validate_id("scan", &scan.id)?;
        let mut tx = self.begin().await?;
        if exists(&mut tx, "scans", &scan.id).await? {
            tx.rollback().await?;
            return Ok(None);
        }
        if let Some(site) = &scan.site {
            require_site(&mut tx, format!("scan `{}`", scan.id), site).await?;
        }
        sqlx::query("INSERT INTO scans (id, started, finished, source, site, kind, observation_count, identification_count) VALUES ($1, $2, $3, $4, $5, $6, 0, 0)")
            .bind(scan.id.clone())
            .bind(scan.started.clone())
            .bind(scan.finished.clone())
            .bind(scan.source.clone())
            .bind(scan.site.clone())
            .bind(scan.kind.clone())
            .execute(&mut *tx)
            .await?;
        Ok(Some(ScanImport {
            tx,
            backend: self.backend,
            scan: scan.clone(),
            next_seq: 0,
            sql_cache: HashMap::new(),
        }))
    }

    async fn list_scans(&self, site: Option<&str>) -> Result<Vec<ScanRecord>> {
        let mut q = Q::new("SELECT * FROM scans WHERE 1 = 1");
        push_site_scope(&mut q, "site", None, site);
        q.push(" ORDER BY started, id");
        q.build()
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(row_scan)
            .collect()
    }

    async fn assign_scan_site(
        &self,
        scan_id: &str,
        site: &str,
        actor: &str,
    ) -> Result<Option<ScanRecord>> {
        let mut tx = self.begin().await?;
        require_site(&mut tx, format!("scan `{scan_id}`"), site).await?;
        let before = sqlx::query("SELECT * FROM scans WHERE id = $1 AND site IS NULL")
            .bind(scan_id.to_string())
            .fetch_optional(&mut *tx)
            .await?
            .as_ref()
            .map(row_scan)
            .transpose()?;
        let Some(before) = before else {
            tx.rollback().await?;
            return Ok(None);
        };
        sqlx::query("UPDATE scans SET site = $1 WHERE id = $2 AND site IS NULL")
            .bind(site.to_string())
            .bind(scan_id.to_string())
            .execute(&mut *tx)
            .await?;
        let after = ScanRecord {
            site: Some(site.to_string()),
            ..before.clone()
        };
        append_history_in(
            &mut tx,
            self.backend,
            &NewHistory {
                actor: actor.into(),
                action: "assign-site".into(),
                entity_kind: "scan".into(),
                entity_id: scan_id.into(),
                before: Some(serde_json::to_value(&before)?),
                after: Some(serde_json::to_value(&after)?),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(Some(after))
    }

    async fn observations(&self, f: &ObservationFilter) -> Result<Vec<StoredObservation>> {
        let mut q = Q::new("SELECT o.scan_id, o.seq, o.data FROM observations o JOIN scans s ON s.id = o.scan_id WHERE 1 = 1");
        if let Some(v) = &f.scan_id {
            let p = q.s(v);
            q.push(&format!(" AND o.scan_id = {p}"));
        }
        if let Some(v) = &f.site {
            let p = q.s(v);
            q.push(&format!(" AND s.site = {p}"));
        }
        if let Some(v) = &f.target {
            let p = q.s(v);
            q.push(&format!(" AND o.target = {p}"));
        }
        if let Some(v) = &f.kind {
            let p = q.s(v);
            q.push(&format!(" AND o.kind = {p}"));
        }
        q.push(" ORDER BY s.started, o.scan_id, o.seq");
        if let Some(l) = f.limit {
            let p = q.arg(Arg::I(l.max(0)));
            q.push(&format!(" LIMIT {p}"));
        }
        let rows = q.build().fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                let data: String = r.try_get("data")?;
                Ok(StoredObservation {
                    scan_id: r.try_get("scan_id")?,
                    seq: r.try_get("seq")?,
                    observation: serde_json::from_str(&data)?,
                })
            })
            .collect()
    }

    async fn latest_identifications(
        &self,
        filter: &EstateFilter,
    ) -> Result<Vec<SeenIdentification>> {
        let mut out = self.latest_idents(filter, None).await?;
        let devices = self
            .list_devices(&DeviceFilter {
                organisation: filter.organisation.clone(),
                site: filter.site.clone(),
                ..Default::default()
            })
            .await?;
        link(&mut out, &devices);
        Ok(out)
    }

    async fn append_history(&self, entry: &NewHistory) -> Result<HistoryEntry> {
        let mut tx = self.begin().await?;
        let e = append_history_in(&mut tx, self.backend, entry).await?;
        tx.commit().await?;
        Ok(e)
    }

    async fn history(&self, f: &HistoryFilter) -> Result<Vec<HistoryEntry>> {
        let mut q = Q::new("SELECT * FROM history WHERE 1 = 1");
        for (col, v) in [
            ("entity_kind", &f.entity_kind),
            ("entity_id", &f.entity_id),
            ("action", &f.action),
            ("actor", &f.actor),
        ] {
            if let Some(v) = v {
                let p = q.s(v);
                q.push(&format!(" AND {col} = {p}"));
            }
        }
        if let Some(v) = &f.since {
            let p = q.s(v);
            q.push(&format!(" AND time >= {p}"));
        }
        if let Some(v) = &f.until {
            let p = q.s(v);
            q.push(&format!(" AND time < {p}"));
        }
        if let Some(v) = f.after_seq {
            let p = q.arg(Arg::I(v));
            q.push(&format!(" AND seq > {p}"));
        }
        if let Some(v) = f.before_seq {
            let p = q.arg(Arg::I(v));
            q.push(&format!(" AND seq < {p}"));
        }
        q.push(if f.newest_first {
            " ORDER BY seq DESC"
        } else {
            " ORDER BY seq"
        });
        if let Some(l) = f.limit {
            let p = q.arg(Arg::I(l.max(0)));
            q.push(&format!(" LIMIT {p}"));
        }
        q.build()
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(row_history)
            .collect()
    }

    async fn verify_history(&self) -> Result<u64> {
        let (_, n) = self.verify_history_segment(None, u64::MAX).await?;
        Ok(n)
    }

    async fn verify_history_segment(
        &self,
        from: Option<&crate::HistoryAnchor>,
        max: u64,
    ) -> Result<(Option<crate::HistoryAnchor>, u64)> {
        let (mut prev, mut expect_seq) = match from {
            None => (GENESIS_HASH.to_string(), 1i64),
            Some(a) => {
                // The starting point must still be stored unchanged.
                let row = sqlx::query("SELECT hash FROM history WHERE seq = $1")
                    .bind(a.seq)
                    .fetch_optional(&self.pool)
                    .await?;
                let stored: Option<String> = row.map(|r| r.try_get("hash")).transpose()?;
                if stored.as_deref() != Some(a.hash.as_str()) {
                    return Err(TamperError {
                        seq: a.seq,
                        reason: match stored {
                            None => "entry verified earlier is gone: the history was cut".into(),
                            Some(_) => "differs from when it was verified: the history was rewritten from this entry or before".into(),
                        },
                    }
                    .into());
                }
                (a.hash.clone(), a.seq + 1)
            }
        };
        let mut last = from.cloned();
        let mut checked = 0u64;
        while checked < max {
            let batch = (max - checked).min(10_000) as i64;
            let rows = sqlx::query("SELECT seq, time, actor, action, entity_kind, entity_id, before, after, prev_hash, hash FROM history WHERE seq >= $1 ORDER BY seq LIMIT $2")
                .bind(expect_seq)
                .bind(batch)
                .fetch_all(&self.pool)
                .await?;
            if rows.is_empty() {
                break;
            }
            for r in &rows {
                let seq: i64 = r.try_get("seq")?;
                let tamper = |reason: &str| TamperError {
                    seq,
                    reason: reason.to_string(),
                };
                if seq != expect_seq {
                    return Err(TamperError {
                        seq: expect_seq,
                        reason: format!("entry missing (next stored entry is {seq})"),
                    }
                    .into());
                }
                let prev_hash: String = r.try_get("prev_hash")?;
                if prev_hash != prev {
                    return Err(tamper("does not link to the entry before it").into());
                }
                let before: Option<String> = r.try_get("before")?;
                let after: Option<String> = r.try_get("after")?;
                let hash: String = r.try_get("hash")?;
                let recomputed = entry_hash(
                    seq,
                    &r.try_get::<String, _>("time")?,
                    &r.try_get::<String, _>("actor")?,
                    &r.try_get::<String, _>("action")?,
                    &r.try_get::<String, _>("entity_kind")?,
                    &r.try_get::<String, _>("entity_id")?,
                    before.as_deref(),
                    after.as_deref(),
                    &prev_hash,
                );
                if recomputed != hash {
                    return Err(tamper("content does not match its hash").into());
                }
                prev = hash;
                expect_seq += 1;
                checked += 1;
            }
            if (rows.len() as i64) < batch {
                break;
            }
        }
        if expect_seq - 1 > last.as_ref().map_or(0, |a| a.seq) {
            last = Some(crate::HistoryAnchor {
                seq: expect_seq - 1,
                hash: prev,
            });
        }
        Ok((last, checked))
    }

    async fn history_head(&self) -> Result<Option<crate::HistoryAnchor>> {
        let row = sqlx::query("SELECT seq, hash FROM history ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            Ok(crate::HistoryAnchor {
                seq: r.try_get("seq")?,
                hash: r.try_get("hash")?,
            })
        })
        .transpose()
    }

    async fn add_waiver(&self, w: &Waiver, actor: &str) -> Result<()> {
        let mut tx = self.begin().await?;
        if add_waiver_in(&mut tx, &mut Chain::new(self.backend), w, actor).await? {
            tx.commit().await?;
        }
        Ok(())
    }

    async fn list_waivers(&self, f: &WaiverFilter) -> Result<Vec<Waiver>> {
        let mut q = Q::new("SELECT * FROM waivers WHERE 1 = 1");
        if let Some(v) = &f.device_id {
            let p = q.s(v);
            q.push(&format!(" AND device_id = {p}"));
        }
        if let Some(v) = &f.rule_id {
            let p = q.s(v);
            q.push(&format!(" AND rule_id = {p}"));
        }
        if let Some(d) = f.active_on {
            let p = q.s(d.format("%Y-%m-%d").to_string());
            q.push(&format!(" AND revoked_at IS NULL AND expires_on >= {p}"));
        } else if !f.include_revoked {
            q.push(" AND revoked_at IS NULL");
        }
        q.push(" ORDER BY id");
        q.build()
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(row_waiver)
            .collect()
    }

    async fn revoke_waiver(&self, id: &str, by: &str, reason: &str) -> Result<Waiver> {
        let mut tx = self.begin().await?;
        let before = fetch_waiver(&mut tx, id)
            .await?
            .ok_or_else(|| StoreError::NotFound {
                kind: "waiver",
                id: id.into(),
            })?;
        if before.revoked_at.is_some() {
            return Err(StoreError::invalid(
                format!("waiver `{id}`"),
                "already revoked",
            ));
        }
        let after = Waiver {
            revoked_at: Some(now_rfc3339()),
            revoked_by: Some(by.to_string()),
            revoke_reason: Some(reason.to_string()),
            ..before.clone()
        };
        sqlx::query(
            "UPDATE waivers SET revoked_at = $1, revoked_by = $2, revoke_reason = $3 WHERE id = $4",
        )
        .bind(after.revoked_at.clone())
        .bind(after.revoked_by.clone())
        .bind(after.revoke_reason.clone())
        .bind(id.to_string())
        .execute(&mut *tx)
        .await?;
        record(
            &mut tx,
            &mut Chain::new(self.backend),
            by,
            "waiver",
            id,
            Some(&before),
            &after,
            Some("waiver_revoke"),
        )
        .await?;
        tx.commit().await?;
        Ok(after)
    }

    async fn load_estate(&self, f: &EstateFilter) -> Result<Estate> {
        let all_orgs = self.list_organisations().await?;
        let sites = self
            .list_sites(&SiteFilter {
                organisation: f.organisation.clone(),
                site: f.site.clone(),
                ..Default::default()
            })
            .await?;
        let site_ids: HashSet<&str> = sites.iter().map(|s| s.id.as_str()).collect();
        let organisations = scope_orgs(all_orgs, f, &sites);
        let zones = self
            .list_zones(f.site.as_deref())
            .await?
            .into_iter()
            .filter(|z| site_ids.contains(z.site.as_str()))
            .collect();
        let networks = self
            .list_networks(f.site.as_deref())
            .await?
            .into_iter()
            .filter(|n| site_ids.contains(n.site.as_str()))
            .collect();
        let devices = self
            .list_devices(&DeviceFilter {
                organisation: f.organisation.clone(),
                site: f.site.clone(),
                ..Default::default()
            })
            .await?;
        let mut identifications = self.latest_idents(f, None).await?;
        link(&mut identifications, &devices);
        let device_ids: HashSet<&str> = devices.iter().map(|d| d.id.as_str()).collect();
        let waivers = self
            .list_waivers(&WaiverFilter {
                include_revoked: true,
                ..Default::default()
            })
            .await?
            .into_iter()
            .filter(|w| device_ids.contains(w.device_id.as_str()))
            .collect();
        Ok(Estate {
            organisations,
            sites,
            zones,
            networks,
            devices,
            identifications,
            waivers,
        })
    }

    async fn estate_as_of(&self, date: NaiveDate, f: &EstateFilter) -> Result<Estate> {
        let cutoff = end_of(date);
        let state = self.fold_history(&cutoff).await?;
        let mut e = Estate::default();
        for ((kind, _), v) in state {
            match kind.as_str() {
                "organisation" => e.organisations.push(serde_json::from_value(v)?),
                "site" => e.sites.push(serde_json::from_value(v)?),
                "zone" => e.zones.push(serde_json::from_value(v)?),
                "network" => e.networks.push(serde_json::from_value(v)?),
                "device" => e.devices.push(serde_json::from_value(v)?),
                "waiver" => e.waivers.push(serde_json::from_value(v)?),
                _ => {}
            }
        }
        if let Some(org) = &f.organisation {
            let orgs = subtree(&e.organisations, org);
            e.sites.retain(|s| orgs.contains(&s.organisation));
        }
        if let Some(site) = &f.site {
            e.sites.retain(|s| &s.id == site);
        }
        if f.organisation.is_some() || f.site.is_some() {
            let sites = e.sites.clone();
            let site_ids: HashSet<&str> = sites.iter().map(|s| s.id.as_str()).collect();
            e.zones.retain(|z| site_ids.contains(z.site.as_str()));
            e.networks.retain(|n| site_ids.contains(n.site.as_str()));
            e.devices.retain(|d| site_ids.contains(d.site.as_str()));
            let device_ids: HashSet<&str> = e.devices.iter().map(|d| d.id.as_str()).collect();
            e.waivers
                .retain(|w| device_ids.contains(w.device_id.as_str()));
            e.organisations = scope_orgs(std::mem::take(&mut e.organisations), f, &sites);
        }
        let mut idents = self.latest_idents(f, Some(&cutoff)).await?;
        link(&mut idents, &e.devices);
        e.identifications = idents;
        Ok(e)
    }

    async fn device_status_on(&self, date: NaiveDate) -> Result<Vec<(String, DeviceStatus)>> {
        let state = self.fold_history(&end_of(date)).await?;
        let mut out = Vec::new();
        for ((kind, id), v) in state {
            if kind == "device" {
                let d: Device = serde_json::from_value(v)?;
                out.push((id, d.status));
            }
        }
        Ok(out)
    }

    async fn record_snapshot(&self, s: &FindingsSnapshot, actor: &str) -> Result<()> {
        if s.regime.trim().is_empty() {
            return Err(StoreError::invalid("snapshot", "regime is empty"));
        }
        let mut tx = self.begin().await?;
        let same = sqlx::query("SELECT counts FROM findings_snapshots WHERE date = $1 AND regime = $2 AND organisation = $3 AND site = $4")
            .bind(s.date.format("%Y-%m-%d").to_string())
            .bind(s.regime.clone())
            .bind(s.organisation.clone())
            .bind(s.site.clone())
            .fetch_optional(&mut *tx)
            .await?
            .map(|r| r.try_get::<String, _>("counts"))
            .transpose()?
            .and_then(|c| serde_json::from_str::<serde_json::Value>(&c).ok())
            .is_some_and(|c| c == s.counts);
        if same {
            // Recording the same counts again changes nothing.
            return Ok(());
        }
        let recorded_at = if s.recorded_at.is_empty() {
            now_rfc3339()
        } else {
            s.recorded_at.clone()
        };
        let stored = FindingsSnapshot {
            recorded_at: recorded_at.clone(),
            ..s.clone()
        };
        sqlx::query("INSERT INTO findings_snapshots (date, regime, organisation, site, counts, recorded_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (date, regime, organisation, site) DO UPDATE SET counts = excluded.counts, recorded_at = excluded.recorded_at")
            .bind(s.date.format("%Y-%m-%d").to_string())
            .bind(s.regime.clone())
            .bind(s.organisation.clone())
            .bind(s.site.clone())
            .bind(s.counts.to_string())
            .bind(recorded_at)
            .execute(&mut *tx)
            .await?;
        let id = format!("{}/{}/{}/{}", s.date, s.regime, s.organisation, s.site);
        append_history_in(
            &mut tx,
            self.backend,
            &NewHistory {
                actor: actor.into(),
                action: "snapshot".into(),
                entity_kind: "snapshot".into(),
                entity_id: id,
                before: None,
                after: Some(serde_json::to_value(&stored)?),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn snapshots(&self, f: &SnapshotFilter) -> Result<Vec<FindingsSnapshot>> {
        let mut q = Q::new("SELECT * FROM findings_snapshots WHERE 1 = 1");
        for (col, v) in [
            ("regime", &f.regime),
            ("organisation", &f.organisation),
            ("site", &f.site),
        ] {
            if let Some(v) = v {
                let p = q.s(v);
                q.push(&format!(" AND {col} = {p}"));
            }
        }
        if let Some(d) = f.since {
            let p = q.s(d.format("%Y-%m-%d").to_string());
            q.push(&format!(" AND date >= {p}"));
        }
        if let Some(d) = f.until {
            let p = q.s(d.format("%Y-%m-%d").to_string());
            q.push(&format!(" AND date <= {p}"));
        }
        q.push(" ORDER BY date, regime, organisation, site");
        let rows = q.build().fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                let counts: String = r.try_get("counts")?;
                Ok(FindingsSnapshot {
                    date: parse_date("snapshot date", r.try_get("date")?)?
                        .ok_or_else(|| StoreError::invalid("snapshot", "no date"))?,
                    regime: r.try_get("regime")?,
                    organisation: r.try_get("organisation")?,
                    site: r.try_get("site")?,
                    counts: serde_json::from_str(&counts)?,
                    recorded_at: r.try_get("recorded_at")?,
                })
            })
            .collect()
    }
}

/// Organisations relevant to a filtered estate: the sites' organisations, their ancestors and
/// (with an organisation filter) the whole subtree.
fn scope_orgs(all: Vec<Organisation>, f: &EstateFilter, sites: &[Site]) -> Vec<Organisation> {
    if f.organisation.is_none() && f.site.is_none() {
        return all;
    }
    let mut keep: HashSet<String> = sites.iter().map(|s| s.organisation.clone()).collect();
    if let Some(org) = &f.organisation {
        keep.extend(subtree(&all, org));
    }
    let parents: HashMap<&str, Option<&str>> = all
        .iter()
        .map(|o| (o.id.as_str(), o.parent.as_deref()))
        .collect();
    let mut ancestors = Vec::new();
    for id in &keep {
        let mut cur = parents.get(id.as_str()).copied().flatten();
        let mut guard = 0;
        while let Some(p) = cur {
            ancestors.push(p.to_string());
            cur = parents.get(p).copied().flatten();
            guard += 1;
            if guard > 64 {
                break;
            }
        }
    }
    keep.extend(ancestors);
    all.into_iter().filter(|o| keep.contains(&o.id)).collect()
}

/// An open register import: batches of register entities go into one transaction, visible only
/// after [`commit`](Self::commit), so a file too large to hold in memory is written in chunks
/// and still all or nothing. Dropping it (or a crash) leaves the database as before.
pub struct RegisterImport {
    tx: Tx,
    chain: Chain,
    actor: String,
    /// Sites known to exist (checked once per import).
    sites: HashSet<String>,
    summary: RegisterSummary,
    /// Devices per multi-row statement.
    rows: usize,
}

impl RegisterImport {
    /// Write a batch: organisations (parents first), sites, zones, networks, then devices. A
    /// device's site must be in the register or written by an earlier batch of this import.
    pub async fn apply(&mut self, batch: &RegisterBatch) -> Result<()> {
        let (tx, be, actor, sum) = (
            &mut self.tx,
            &mut self.chain,
            self.actor.as_str(),
            &mut self.summary,
        );
        for o in parents_first(&batch.organisations) {
            sum.organisations
                .add(upsert_org_in(tx, be, o, actor).await?);
        }
        for s in &batch.sites {
            sum.sites.add(upsert_site_in(tx, be, s, actor).await?);
        }
        for z in &batch.zones {
            sum.zones.add(upsert_zone_in(tx, be, z, actor).await?);
        }
        for n in &batch.networks {
            sum.networks.add(upsert_net_in(tx, be, n, actor).await?);
        }
        let rows = self.rows;
        for c in upsert_devices_in(tx, be, &batch.devices, actor, &mut self.sites, rows).await? {
            sum.devices.add(c);
        }
        Ok(())
    }

    /// Devices written per statement (1 to 1,000; default 20 on SQLite, 200 on PostgreSQL).
    /// For benchmarks: 1 is the naive one-statement-per-row way.
    pub fn set_rows_per_statement(&mut self, rows: usize) {
        self.rows = rows.clamp(1, 1000);
    }

    /// A device as this import sees it (its own writes included).
    pub async fn get_device(&mut self, id: &str) -> Result<Option<Device>> {
        fetch_device(&mut self.tx, id).await
    }

    /// A site as this import sees it (its own writes included).
    pub async fn get_site(&mut self, id: &str) -> Result<Option<Site>> {
        fetch_site(&mut self.tx, id).await
    }

    /// Append an entry to the history inside this import's transaction (the import's own
    /// summary, say), so that it is written with the changes or not at all.
    pub async fn record(&mut self, e: &NewHistory) -> Result<()> {
        append_history_at(&mut self.tx, &mut self.chain, e, &now_rfc3339()).await?;
        Ok(())
    }

    /// What the batches so far changed.
    pub fn summary(&self) -> &RegisterSummary {
        &self.summary
    }

    /// Make every batch visible at once.
    pub async fn commit(self) -> Result<RegisterSummary> {
        self.tx.commit().await?;
        Ok(self.summary)
    }
}

/// An open scan import: observations and identifications go into one transaction, visible only
/// after [`commit`](Self::commit). Dropping it (or a crash) leaves the database as before.
pub struct ScanImport {
    tx: Tx,
    backend: Backend,
    scan: ScanRecord,
    next_seq: i64,
    sql_cache: HashMap<usize, String>,
}

impl ScanImport {
    pub fn scan_id(&self) -> &str {
        &self.scan.id
    }

    pub fn observation_count(&self) -> i64 {
        self.next_seq
    }

    /// Set when the evidence was gathered (e.g. first and last packet of a capture), before
    /// adding identifications: they are dated `finished` (or `started`).
    pub fn set_times(&mut self, started: String, finished: Option<String>) {
        self.scan.started = started;
        self.scan.finished = finished;
    }

    /// Append observations (numbered in the order given), in multi-row INSERTs.
    pub async fn add_observations(&mut self, obs: &[Observation]) -> Result<()> {
        let rows = match self.backend {
            Backend::Sqlite => OBS_CHUNK_SQLITE,
            Backend::Postgres => OBS_CHUNK_POSTGRES,
        };
        self.add_observations_chunked(obs, rows).await
    }

    /// [`add_observations`](Self::add_observations) with `rows` observations per INSERT (1 to
    /// 1,000; for benchmarks).
    pub async fn add_observations_chunked(
        &mut self,
        obs: &[Observation],
        rows: usize,
    ) -> Result<()> {
        for chunk in obs.chunks(rows.clamp(1, 1000)) {
            let sql = self
                .sql_cache
                .entry(chunk.len())
                .or_insert_with(|| {
                    format!(
                        "INSERT INTO observations (scan_id, seq, target, kind, time, data) VALUES {}",
                        values_rows(chunk.len(), 6)
                    )
                })
                .clone();
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for o in chunk {
                q = q
                    .bind(self.scan.id.clone())
                    .bind(self.next_seq)
                    .bind(o.target.clone())
                    .bind(o.kind.name().to_string())
                    .bind(o.time.clone())
                    .bind(serde_json::to_string(o)?);
                self.next_seq += 1;
            }
            q.execute(&mut *self.tx).await?;
        }
        Ok(())
    }

    /// Store identifications of this scan (one per target; a later one replaces an earlier one),
    /// in multi-row INSERTs as observations are (one statement may not update a row twice, so
    /// only the last identification of a target is written).
    pub async fn add_identifications(&mut self, ids: &[Identification]) -> Result<()> {
        // Written a thousand at a time, so that only those texts are held; a later chunk's
        // identification of a target replaces an earlier one's as within a chunk.
        for part in ids.chunks(1000) {
            let rows = part
                .iter()
                .map(|i| Ok((i, serde_json::to_string(i)?)))
                .collect::<Result<Vec<_>>>()?;
            self.write_identifications(rows).await?;
        }
        Ok(())
    }

    /// [`add_identifications`](Self::add_identifications) of identifications that come with
    /// their JSON text already written (as `camtrace_identify::Streaming::into_identified`
    /// gives them): the text is stored as the identification's record, as it is, so it must be
    /// what `serde_json` writes for the identification beside it.
    pub async fn add_identifications_json(
        &mut self,
        ids: Vec<(Identification, String)>,
    ) -> Result<()> {
        let (idents, texts): (Vec<Identification>, Vec<String>) = ids.into_iter().unzip();
        self.write_identifications(idents.iter().zip(texts).collect())
            .await
    }

    /// Write identifications with their texts (moved into the statement, not copied).
    async fn write_identifications(&mut self, ids: Vec<(&Identification, String)>) -> Result<()> {
        let seen_at = self
            .scan
            .finished
            .clone()
            .unwrap_or_else(|| self.scan.started.clone());
        let mut last: HashMap<&str, usize> = HashMap::new();
        for (k, (i, _)) in ids.iter().enumerate() {
            last.insert(i.target.as_str(), k);
        }
        let mut keep: Vec<usize> = last.into_values().collect();
        keep.sort_unstable();
        let (idents, mut texts): (Vec<&Identification>, Vec<String>) = ids.into_iter().unzip();
        let rows = match self.backend {
            Backend::Sqlite => OBS_CHUNK_SQLITE,
            Backend::Postgres => OBS_CHUNK_POSTGRES,
        };
        for chunk in keep.chunks(rows) {
            let values: Vec<String> = (0..chunk.len())
                .map(|r| {
                    // device_id, the third column, is linked later.
                    let b = r * 11;
                    format!("(${}, ${}, NULL, {})", b + 1, b + 2, placeholders(b + 2, 9))
                })
                .collect();
            let sql = format!("INSERT INTO identifications (scan_id, target, device_id, seen_at, brand, maker, model, firmware, class, mac, confidence, data) VALUES {} ON CONFLICT (scan_id, target) DO UPDATE SET seen_at = excluded.seen_at, brand = excluded.brand, maker = excluded.maker, model = excluded.model, firmware = excluded.firmware, class = excluded.class, mac = excluded.mac, confidence = excluded.confidence, data = excluded.data", values.join(", "));
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for &k in chunk {
                let i = idents[k];
                let text = std::mem::take(&mut texts[k]);
                q = q
                    .bind(self.scan.id.clone())
                    .bind(i.target.clone())
                    .bind(seen_at.clone())
                    .bind(i.brand.as_ref().map(|b| b.id.clone()))
                    .bind(i.maker.as_ref().map(|m| m.id.clone()))
                    .bind(i.model.clone())
                    .bind(i.firmware.clone())
                    .bind(i.device_class.as_str().to_string())
                    .bind(i.mac.as_deref().and_then(normalise_mac))
                    .bind(if i.confidence.is_finite() {
                        i.confidence
                    } else {
                        0.0
                    })
                    .bind(text);
            }
            q.execute(&mut *self.tx).await?;
        }
        Ok(())
    }

    /// Make the whole scan visible at once, with its history entry.
    pub async fn commit(self, actor: &str) -> Result<ScanRecord> {
        self.commit_audited(actor, |_| None).await
    }

    /// [`commit`](Self::commit), with one more history entry made by `audit` from the scan as
    /// committed (an importer's own summary, say; `None` for none), written in the same
    /// transaction: the scan and its entries are kept together or not at all.
    pub async fn commit_audited(
        mut self,
        actor: &str,
        audit: impl FnOnce(&ScanRecord) -> Option<NewHistory>,
    ) -> Result<ScanRecord> {
        let idents: i64 =
            sqlx::query("SELECT COUNT(*) AS n FROM identifications WHERE scan_id = $1")
                .bind(self.scan.id.clone())
                .fetch_one(&mut *self.tx)
                .await?
                .try_get("n")?;
        let finished = self.scan.finished.clone().unwrap_or_else(now_rfc3339);
        sqlx::query("UPDATE scans SET observation_count = $1, identification_count = $2, finished = $3, started = $5 WHERE id = $4")
            .bind(self.next_seq)
            .bind(idents)
            .bind(finished.clone())
            .bind(self.scan.id.clone())
            .bind(self.scan.started.clone())
            .execute(&mut *self.tx)
            .await?;
        let rec = ScanRecord {
            observation_count: self.next_seq,
            identification_count: idents,
            finished: Some(finished),
            ..self.scan.clone()
        };
        // Both entries in one statement: the chain's lock is held from here to the commit, and
        // every import waits for it, so the fewer round trips under it the better.
        let mut entries = vec![NewHistory {
            actor: actor.into(),
            action: "import".into(),
            entity_kind: "scan".into(),
            entity_id: rec.id.clone(),
            before: None,
            after: Some(serde_json::to_value(&rec)?),
        }];
        entries.extend(audit(&rec));
        let rows = entries.len();
        append_history_many(
            &mut self.tx,
            &mut Chain::new(self.backend),
            &entries,
            &now_rfc3339(),
            rows,
        )
        .await?;
        self.tx.commit().await?;
        Ok(rec)
    }

    /// Abandon the import: nothing of it is kept.
    pub async fn rollback(self) -> Result<()> {
        self.tx.rollback().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_normalise() {
        assert_eq!(
            normalise_url("camtrace.db").unwrap(),
            (
                Backend::Sqlite,
                "sqlite://camtrace.db?mode=rwc".into(),
                false
            )
        );
        assert_eq!(
            normalise_url("sqlite:///tmp/x.db").unwrap().1,
            "sqlite:///tmp/x.db?mode=rwc"
        );
        assert!(normalise_url("sqlite::memory:").unwrap().2);
        assert_eq!(
            normalise_url("postgres://u:p@127.0.0.1/db").unwrap().0,
            Backend::Postgres
        );
        assert!(normalise_url("mysql://x").is_err());
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
    }
}
