//! Asset registers: a flat CSV (one row per device, like a NetBox bulk import) and a JSON
//! document, both read and written.
//!
//! CSV rules:
//! * The header names the columns ([`COLUMNS`]); order is free, names are case-insensitive,
//!   spaces count as `_`; an unknown column rejects the file (typos do not pass silently).
//! * A row describes whatever its non-empty cells name: an organisation (`organisation`), a site
//!   (`site`), a zone (`zone`), a network segment (`network`) and a device (`device`). Rows
//!   without `device` describe sites, zones or organisations only.
//! * The same site (or organisation, zone, network) may appear on many rows: empty cells add
//!   nothing, differing non-empty cells are an error naming both lines.
//! * Booleans: `yes`/`no`, `true`/`false`, `y`/`n`, `1`/`0`, `x`; lists (`addresses`, `site_tags`,
//!   `network_cidrs`) are separated by `;`; dates are `YYYY-MM-DD`; costs are plain numbers (a
//!   leading `£`, `$` or `€` and thousands commas are accepted).
//! * A cell that camtrace's CSV writer neutralised against spreadsheet formulas (`'=...`,
//!   `'@...`, see [`camtrace_model::csv_out`]) reads back without that one leading `'`.
//! * A column missing from the header leaves that field of an existing record as it is (the
//!   caller merges with [`keep_absent_device`] / [`keep_absent_site`] /
//!   [`keep_absent_organisation`]), so `device,status` is a valid bulk status update.

use crate::{cap, normalise_mac, IngestError, Result, RowError, MAX_REGISTER_BYTES};
use camtrace_model::{
    Device, DeviceClass, DeviceStatus, NetworkSegment, Organisation, SensitivityCriteria, Site,
    Zone,
};
use chrono::NaiveDate;
use std::collections::{BTreeMap, HashSet};
use std::io::{Read, Write};

/// A register read from a file (or to write to one).
pub use camtrace_model::Register;

#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// Organisation for sites whose row has none.
    pub default_org: Option<String>,
    /// Site for devices whose row has none.
    pub default_site: Option<String>,
    /// Skip bad rows (each reported) instead of rejecting the file.
    pub skip_bad: bool,
}

#[derive(Debug, Clone, Default)]
pub struct ReadOutcome {
    pub register: Register,
    /// Rows skipped with `skip_bad`, with the reason.
    pub skipped: Vec<RowError>,
    /// Columns present in the file (all fields for JSON).
    pub columns: HashSet<String>,
}

/// The CSV columns and what they mean (also the `--template` documentation).
pub const COLUMNS: &[(&str, &str)] = &[
    ("organisation", "organisation id (default: --org)"),
    (
        "organisation_name",
        "organisation display name (default: its id)",
    ),
    ("organisation_parent", "id of the parent organisation"),
    (
        "organisation_kind",
        "central_government, local_government, nhs, police, school, contractor ...",
    ),
    (
        "country",
        "ISO country code of the organisation (GB, US, AU, CA ...)",
    ),
    ("site", "site id (default: --site)"),
    ("site_name", "site display name (default: its id)"),
    ("address", "postal address of the site"),
    (
        "secret_or_above",
        "UK criterion: routinely holds SECRET material or above (yes/no)",
    ),
    (
        "dv_significant",
        "UK criterion: hosts a significant proportion of DV-cleared officials (yes/no)",
    ),
    (
        "ministerial_use",
        "UK criterion: routinely used by Ministers (yes/no)",
    ),
    (
        "socpa_2005",
        "UK criterion: covered by the Serious Organised Crime and Police Act 2005 (yes/no)",
    ),
    (
        "classification",
        "free classification label of the site (e.g. OFFICIAL)",
    ),
    (
        "government_building",
        "the site is a government building (yes/no)",
    ),
    ("site_tags", "tags of the site, `;`-separated"),
    ("zone", "zone (location) id within the site"),
    ("zone_name", "zone display name (default: its id)"),
    ("network", "network segment id within the site"),
    ("network_name", "network display name (default: its id)"),
    ("network_cidrs", "CIDR ranges of the segment, `;`-separated"),
    (
        "network_core",
        "the segment is part of the core network (yes/no)",
    ),
    (
        "internet_exposed",
        "the segment is reachable from the internet (yes/no)",
    ),
    ("device", "device id (asset tag)"),
    ("brand", "brand on the box (e.g. LTS, Axis)"),
    (
        "maker",
        "true maker (knowledge-base company id), when known",
    ),
    ("model", "model"),
    ("firmware", "firmware version"),
    (
        "class",
        "camera, recorder, encoder, vms, intercom, access_control, other, unknown (nvr/dvr = recorder, video server = encoder)",
    ),
    ("mac", "MAC address (any common notation)"),
    ("addresses", "IP addresses or host names, `;`-separated"),
    (
        "status",
        "planned, installed, disconnected, removed (default installed)",
    ),
    ("install_date", "YYYY-MM-DD"),
    (
        "scheduled_upgrade",
        "YYYY-MM-DD: date the device is due for replacement",
    ),
    ("cost_device", "replacement cost of the device"),
    ("cost_labour", "labour cost to remove or replace it"),
    (
        "confidence",
        "confidence in `maker`, 0..1 (1 when declared)",
    ),
    ("notes", "free text"),
];

fn column_index() -> BTreeMap<&'static str, usize> {
    COLUMNS
        .iter()
        .enumerate()
        .map(|(i, (n, _))| (*n, i))
        .collect()
}

fn norm_header(h: &str) -> String {
    h.trim()
        .trim_start_matches('\u{feff}')
        .to_ascii_lowercase()
        .replace([' ', '-'], "_")
}

// ------------------------------------------------------------------ cell parsers

fn opt(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| cap(t))
}

fn parse_bool(col: &str, s: &str) -> Result<Option<bool>, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "" => Ok(None),
        "yes" | "y" | "true" | "t" | "1" | "x" => Ok(Some(true)),
        "no" | "n" | "false" | "f" | "0" => Ok(Some(false)),
        other => Err(format!("`{col}`: `{other}` is not yes or no")),
    }
}

fn parse_list(s: &str) -> Option<Vec<String>> {
    let v: Vec<String> = s
        .split(';')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(cap)
        .collect();
    (!s.trim().is_empty()).then_some(v)
}

fn parse_date(col: &str, s: &str) -> Result<Option<NaiveDate>, String> {
    let t = s.trim();
    if t.is_empty() {
        return Ok(None);
    }
    NaiveDate::parse_from_str(t, "%Y-%m-%d")
        .map(Some)
        .map_err(|_| format!("`{col}`: `{t}` is not a date (YYYY-MM-DD)"))
}

fn parse_money(col: &str, s: &str) -> Result<Option<f64>, String> {
    let t: String = s
        .trim()
        .trim_start_matches(['£', '$', '€'])
        .chars()
        .filter(|c| *c != ',')
        .collect();
    if t.is_empty() {
        return Ok(None);
    }
    match t.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(Some(v)),
        _ => Err(format!(
            "`{col}`: `{}` is not a non-negative number",
            s.trim()
        )),
    }
}

fn parse_class(s: &str) -> Result<DeviceClass, String> {
    let t = s.trim().to_ascii_lowercase().replace([' ', '-'], "_");
    match t.as_str() {
        "" => Ok(DeviceClass::Unknown),
        "nvr" | "dvr" | "xvr" => Ok(DeviceClass::Recorder),
        "access" => Ok(DeviceClass::AccessControl),
        "video_encoder" | "video_server" => Ok(DeviceClass::Encoder),
        _ => t.parse(),
    }
}

fn check_id(kind: &str, id: &str) -> Result<(), String> {
    if id.len() > 200 {
        return Err(format!("{kind} id is longer than 200 characters"));
    }
    if id.chars().any(char::is_control) {
        return Err(format!("{kind} id contains control characters"));
    }
    Ok(())
}

// ------------------------------------------------------------------ partial entities

/// Merge `b` into `a`: `None` adds nothing, differing values are a conflict.
fn merge_field<T: PartialEq + Clone + std::fmt::Debug>(
    name: &str,
    a: &mut Option<T>,
    b: &Option<T>,
) -> Result<(), String> {
    match (a.as_ref(), b) {
        (_, None) => Ok(()),
        (None, Some(v)) => {
            *a = Some(v.clone());
            Ok(())
        }
        (Some(x), Some(y)) if x == y => Ok(()),
        (Some(x), Some(y)) => Err(format!(
            "`{name}` is {y:?} here but {x:?} on an earlier row"
        )),
    }
}

#[derive(Debug, Clone, Default)]
struct OrgP {
    id: String,
    name: Option<String>,
    parent: Option<String>,
    kind: Option<String>,
    country: Option<String>,
}

impl OrgP {
    fn merge(&mut self, o: &OrgP) -> Result<(), String> {
        merge_field("organisation_name", &mut self.name, &o.name)?;
        merge_field("organisation_parent", &mut self.parent, &o.parent)?;
        merge_field("organisation_kind", &mut self.kind, &o.kind)?;
        merge_field("country", &mut self.country, &o.country)
    }
    fn finish(self) -> Organisation {
        Organisation {
            name: self.name.unwrap_or_else(|| self.id.clone()),
            id: self.id,
            parent: self.parent,
            kind: self.kind,
            country: self.country,
        }
    }
}

#[derive(Debug, Clone, Default)]
struct SiteP {
    id: String,
    organisation: Option<String>,
    name: Option<String>,
    address: Option<String>,
    crit: [Option<bool>; 4],
    classification: Option<String>,
    government_building: Option<bool>,
    tags: Option<Vec<String>>,
}

impl SiteP {
    fn merge(&mut self, o: &SiteP) -> Result<(), String> {
        merge_field("organisation", &mut self.organisation, &o.organisation)?;
        merge_field("site_name", &mut self.name, &o.name)?;
        merge_field("address", &mut self.address, &o.address)?;
        for (i, n) in [
            "secret_or_above",
            "dv_significant",
            "ministerial_use",
            "socpa_2005",
        ]
        .iter()
        .enumerate()
        {
            merge_field(n, &mut self.crit[i], &o.crit[i])?;
        }
        merge_field(
            "classification",
            &mut self.classification,
            &o.classification,
        )?;
        merge_field(
            "government_building",
            &mut self.government_building,
            &o.government_building,
        )?;
        merge_field("site_tags", &mut self.tags, &o.tags)
    }
    fn finish(self) -> Site {
        Site {
            organisation: self.organisation.unwrap_or_default(),
            name: self.name.unwrap_or_else(|| self.id.clone()),
            id: self.id,
            address: self.address,
            criteria: SensitivityCriteria {
                secret_or_above: self.crit[0].unwrap_or(false),
                dv_significant: self.crit[1].unwrap_or(false),
                ministerial_use: self.crit[2].unwrap_or(false),
                socpa_2005: self.crit[3].unwrap_or(false),
            },
            classification: self.classification,
            government_building: self.government_building.unwrap_or(false),
            tags: self.tags.unwrap_or_default(),
        }
    }
}

#[derive(Debug, Clone, Default)]
struct ZoneP {
    id: String,
    site: Option<String>,
    name: Option<String>,
}

#[derive(Debug, Clone, Default)]
struct NetP {
    id: String,
    site: Option<String>,
    name: Option<String>,
    cidrs: Option<Vec<String>>,
    core: Option<bool>,
    exposed: Option<bool>,
}

/// Accumulates entities across rows, remembering the line each was first defined on.
#[derive(Default)]
struct Acc {
    orgs: Vec<OrgP>,
    org_ix: BTreeMap<String, (usize, String)>,
    sites: Vec<SiteP>,
    site_ix: BTreeMap<String, (usize, String)>,
    zones: Vec<ZoneP>,
    zone_ix: BTreeMap<String, (usize, String)>,
    nets: Vec<NetP>,
    net_ix: BTreeMap<String, (usize, String)>,
    devices: Vec<Device>,
    device_ix: BTreeMap<String, String>,
}

/// What one row defines.
#[derive(Default)]
struct RowP {
    org: Option<OrgP>,
    site: Option<SiteP>,
    zone: Option<ZoneP>,
    net: Option<NetP>,
    device: Option<Device>,
}

impl Acc {
    /// Check that the row merges cleanly, then merge it (all or nothing for the row).
    fn add(&mut self, row: RowP, loc: &str) -> Result<(), String> {
        // Dry run on copies first so a bad row leaves nothing behind.
        if let Some(o) = &row.org {
            if let Some((i, at)) = self.org_ix.get(&o.id) {
                let mut t = self.orgs[*i].clone();
                t.merge(o)
                    .map_err(|e| format!("organisation `{}`: {e} ({at})", o.id))?;
            }
        }
        if let Some(s) = &row.site {
            if let Some((i, at)) = self.site_ix.get(&s.id) {
                let mut t = self.sites[*i].clone();
                t.merge(s)
                    .map_err(|e| format!("site `{}`: {e} ({at})", s.id))?;
            }
        }
        if let Some(z) = &row.zone {
            if let Some((i, at)) = self.zone_ix.get(&z.id) {
                let mut t = self.zones[*i].clone();
                merge_field("site", &mut t.site, &z.site)
                    .and_then(|_| merge_field("zone_name", &mut t.name, &z.name))
                    .map_err(|e| format!("zone `{}`: {e} ({at})", z.id))?;
            }
        }
        if let Some(n) = &row.net {
            if let Some((i, at)) = self.net_ix.get(&n.id) {
                let mut t = self.nets[*i].clone();
                merge_net(&mut t, n).map_err(|e| format!("network `{}`: {e} ({at})", n.id))?;
            }
        }
        if let Some(d) = &row.device {
            if let Some(at) = self.device_ix.get(&d.id) {
                return Err(format!("device `{}` is already defined ({at})", d.id));
            }
        }
        // Commit.
        if let Some(o) = row.org {
            match self.org_ix.get(&o.id) {
                Some((i, _)) => self.orgs[*i].merge(&o)?,
                None => {
                    self.org_ix
                        .insert(o.id.clone(), (self.orgs.len(), loc.to_string()));
                    self.orgs.push(o);
                }
            }
        }
        if let Some(s) = row.site {
            match self.site_ix.get(&s.id) {
                Some((i, _)) => self.sites[*i].merge(&s)?,
                None => {
                    self.site_ix
                        .insert(s.id.clone(), (self.sites.len(), loc.to_string()));
                    self.sites.push(s);
                }
            }
        }
        if let Some(z) = row.zone {
            match self.zone_ix.get(&z.id) {
                Some((i, _)) => {
                    let t = &mut self.zones[*i];
                    merge_field("site", &mut t.site, &z.site)?;
                    merge_field("zone_name", &mut t.name, &z.name)?;
                }
                None => {
                    self.zone_ix
                        .insert(z.id.clone(), (self.zones.len(), loc.to_string()));
                    self.zones.push(z);
                }
            }
        }
        if let Some(n) = row.net {
            match self.net_ix.get(&n.id) {
                Some((i, _)) => merge_net(&mut self.nets[*i], &n)?,
                None => {
                    self.net_ix
                        .insert(n.id.clone(), (self.nets.len(), loc.to_string()));
                    self.nets.push(n);
                }
            }
        }
        if let Some(d) = row.device {
            self.device_ix.insert(d.id.clone(), loc.to_string());
            self.devices.push(d);
        }
        Ok(())
    }

    fn finish(self) -> Register {
        Register {
            organisations: self.orgs.into_iter().map(OrgP::finish).collect(),
            sites: self.sites.into_iter().map(SiteP::finish).collect(),
            zones: self
                .zones
                .into_iter()
                .map(|z| Zone {
                    name: z.name.unwrap_or_else(|| z.id.clone()),
                    site: z.site.unwrap_or_default(),
                    id: z.id,
                })
                .collect(),
            networks: self
                .nets
                .into_iter()
                .map(|n| NetworkSegment {
                    name: n.name.unwrap_or_else(|| n.id.clone()),
                    site: n.site.unwrap_or_default(),
                    id: n.id,
                    cidrs: n.cidrs.unwrap_or_default(),
                    core: n.core.unwrap_or(false),
                    internet_exposed: n.exposed.unwrap_or(false),
                })
                .collect(),
            devices: self.devices,
        }
    }
}

fn merge_net(t: &mut NetP, n: &NetP) -> Result<(), String> {
    merge_field("site", &mut t.site, &n.site)?;
    merge_field("network_name", &mut t.name, &n.name)?;
    merge_field("network_cidrs", &mut t.cidrs, &n.cidrs)?;
    merge_field("network_core", &mut t.core, &n.core)?;
    merge_field("internet_exposed", &mut t.exposed, &n.exposed)
}

// ------------------------------------------------------------------ CSV

/// The rows of a CSV register, read one at a time.
struct Rows<R: Read> {
    rdr: csv::Reader<std::io::Take<R>>,
    /// Column of the file → index in [`COLUMNS`].
    map: Vec<usize>,
    record: csv::StringRecord,
    opts: ReadOptions,
}

/// One row: parsed, or a row to skip (with `skip_bad`) or reject.
enum RowItem {
    Row { line: u64, row: Box<RowP> },
    Bad(RowError),
}

impl<R: Read> Rows<R> {
    /// Open a CSV register: check its header. The set of columns present comes back too.
    fn open(input: R, opts: &ReadOptions) -> Result<(Rows<R>, HashSet<String>)> {
        let mut rdr = csv::ReaderBuilder::new()
            .flexible(false)
            .trim(csv::Trim::None)
            .from_reader(input.take(MAX_REGISTER_BYTES));
        let headers = rdr
            .headers()
            .map_err(|e| IngestError::Format(format!("CSV header: {e}")))?
            .clone();
        let known = column_index();
        let mut map: Vec<usize> = Vec::new();
        let mut columns = HashSet::new();
        for h in headers.iter() {
            let n = norm_header(h);
            match known.get(n.as_str()) {
                Some(&i) => {
                    if !columns.insert(n.clone()) {
                        return Err(IngestError::Format(format!("column `{n}` appears twice")));
                    }
                    map.push(i);
                }
                None => {
                    return Err(IngestError::Format(format!(
                    "unknown column `{}` (known columns: {}; see `camtrace import --template csv`)",
                    h.trim(),
                    COLUMNS.iter().map(|c| c.0).collect::<Vec<_>>().join(", ")
                )))
                }
            }
        }
        if !columns.contains("device")
            && !columns.contains("site")
            && !columns.contains("organisation")
        {
            return Err(IngestError::Format(
                "the header names none of `organisation`, `site`, `device`".into(),
            ));
        }
        Ok((
            Rows {
                rdr,
                map,
                record: csv::StringRecord::new(),
                opts: opts.clone(),
            },
            columns,
        ))
    }

    /// The next non-empty row; `Err` only for what no `skip_bad` can pass (I/O).
    fn next(&mut self) -> Result<Option<RowItem>> {
        loop {
            let line = self.rdr.position().line() + 1;
            let more = match self.rdr.read_record(&mut self.record) {
                Ok(m) => m,
                Err(e) => {
                    let loc = e
                        .position()
                        .map(|p| format!("line {}", p.line()))
                        .unwrap_or_else(|| format!("line {line}"));
                    let err = RowError::new(loc, format!("unreadable CSV row: {e}"));
                    // A malformed row (e.g. wrong number of fields) can be skipped; an I/O
                    // error cannot.
                    if matches!(
                        e.kind(),
                        csv::ErrorKind::UnequalLengths { .. } | csv::ErrorKind::Utf8 { .. }
                    ) {
                        return Ok(Some(RowItem::Bad(err)));
                    }
                    return Err(err.into());
                }
            };
            if !more {
                return Ok(None);
            }
            let line = self.record.position().map(|p| p.line()).unwrap_or(line);
            let mut cells: Vec<&str> = vec![""; COLUMNS.len()];
            for (j, v) in self.record.iter().enumerate() {
                if let Some(&i) = self.map.get(j) {
                    // Undo the formula neutralisation of camtrace's own CSV writer.
                    cells[i] = camtrace_model::csv_out::restore(v);
                }
            }
            if cells.iter().all(|c| c.trim().is_empty()) {
                continue;
            }
            return Ok(Some(match parse_row(&cells, &self.opts) {
                Ok(row) => RowItem::Row {
                    line,
                    row: Box::new(row),
                },
                Err(reason) => RowItem::Bad(RowError::new(format!("line {line}"), reason)),
            }));
        }
    }
}

/// Read a CSV register. A bad row rejects the file (its line and reason) unless
/// `opts.skip_bad`, when each skipped row is reported in [`ReadOutcome::skipped`].
pub fn read_csv<R: Read>(input: R, opts: &ReadOptions) -> Result<ReadOutcome> {
    let (mut rows, columns) = Rows::open(input, opts)?;
    let mut acc = Acc::default();
    let mut skipped = Vec::new();
    while let Some(item) = rows.next()? {
        let err = match item {
            RowItem::Bad(e) => e,
            RowItem::Row { line, row } => {
                let loc = format!("line {line}");
                match acc.add(*row, &loc) {
                    Ok(()) => continue,
                    Err(reason) => RowError::new(loc, reason),
                }
            }
        };
        if opts.skip_bad {
            skipped.push(err);
        } else {
            return Err(err.into());
        }
    }
    Ok(ReadOutcome {
        register: acc.finish(),
        skipped,
        columns,
    })
}

/// The first pass of a streamed CSV import: everything but the devices (organisations, sites,
/// zones, networks: few, merged across rows), with the rows to skip in the second pass.
#[derive(Debug, Clone, Default)]
pub struct CsvHead {
    /// The register without its devices, the rows skipped and the columns present.
    pub outcome: ReadOutcome,
    /// Lines skipped (with `skip_bad`): the second pass skips them too.
    pub skip_lines: HashSet<u64>,
    /// Device rows that will be read in the second pass.
    pub device_rows: u64,
}

/// Read a CSV register's organisations, sites, zones and networks, and check that no device is
/// defined twice, without holding its devices: memory grows with those entities and with one
/// 16-byte entry per device, not with the file. [`CsvDevices`] reads the devices after.
pub fn read_csv_head<R: Read>(input: R, opts: &ReadOptions) -> Result<CsvHead> {
    use std::hash::{Hash, Hasher};
    let (mut rows, columns) = Rows::open(input, opts)?;
    let mut acc = Acc::default();
    let mut head = CsvHead::default();
    // Device id (hashed: 64 bits, collisions negligible below billions of rows) → first line.
    let mut seen: std::collections::HashMap<u64, u64> = std::collections::HashMap::new();
    while let Some(item) = rows.next()? {
        let (line, err) = match item {
            RowItem::Bad(e) => (line_of(&e), e),
            RowItem::Row { line, mut row } => {
                let loc = format!("line {line}");
                let device = row.device.take();
                let key = device.as_ref().map(|d| {
                    let mut h = std::collections::hash_map::DefaultHasher::new();
                    d.id.hash(&mut h);
                    h.finish()
                });
                let dup = key.and_then(|k| seen.get(&k).copied());
                let res = match (dup, &device) {
                    (Some(at), Some(d)) => {
                        Err(format!("device `{}` is already defined (line {at})", d.id))
                    }
                    _ => acc.add(*row, &loc),
                };
                match res {
                    Ok(()) => {
                        if let Some(k) = key {
                            seen.insert(k, line);
                            head.device_rows += 1;
                        }
                        continue;
                    }
                    Err(reason) => (Some(line), RowError::new(loc, reason)),
                }
            }
        };
        if opts.skip_bad {
            if let Some(l) = line {
                head.skip_lines.insert(l);
            }
            head.outcome.skipped.push(err);
        } else {
            return Err(err.into());
        }
    }
    head.outcome.register = acc.finish();
    head.outcome.columns = columns;
    Ok(head)
}

/// The line number a row error names (`line N`).
fn line_of(e: &RowError) -> Option<u64> {
    e.location.strip_prefix("line ")?.parse().ok()
}

/// The second pass of a streamed CSV import: the devices, a chunk at a time, skipping the rows
/// the first pass ([`read_csv_head`]) skipped.
pub struct CsvDevices<R: Read> {
    rows: Rows<R>,
    skip: HashSet<u64>,
    chunk: usize,
}

impl<R: Read> CsvDevices<R> {
    /// Read the devices of the same file again, `chunk` at a time (at least 1).
    pub fn open(input: R, opts: &ReadOptions, head: &CsvHead, chunk: usize) -> Result<Self> {
        let (rows, _) = Rows::open(input, opts)?;
        Ok(CsvDevices {
            rows,
            skip: head.skip_lines.clone(),
            chunk: chunk.max(1),
        })
    }

    /// The next devices (up to the chunk size); `None` at the end of the file.
    pub fn next_chunk(&mut self) -> Result<Option<Vec<Device>>> {
        let mut out = Vec::new();
        while out.len() < self.chunk {
            match self.rows.next()? {
                None => break,
                // Reported by the first pass.
                Some(RowItem::Bad(_)) => {}
                Some(RowItem::Row { line, row }) => {
                    if self.skip.contains(&line) {
                        continue;
                    }
                    if let Some(d) = row.device {
                        out.push(d);
                    }
                }
            }
        }
        Ok((!out.is_empty()).then_some(out))
    }
}

fn parse_row(c: &[&str], opts: &ReadOptions) -> Result<RowP, String> {
    let ix = |n: &str| COLUMNS.iter().position(|x| x.0 == n).unwrap_or(0);
    let g = |n: &str| c[ix(n)];
    let mut row = RowP::default();

    let org_id = opt(g("organisation")).or_else(|| opts.default_org.clone());
    let site_id = opt(g("site")).or_else(|| opts.default_site.clone());

    if let Some(id) = opt(g("organisation")) {
        check_id("organisation", &id)?;
        row.org = Some(OrgP {
            id,
            name: opt(g("organisation_name")),
            parent: opt(g("organisation_parent")),
            kind: opt(g("organisation_kind")),
            country: opt(g("country")),
        });
    } else if [
        "organisation_name",
        "organisation_parent",
        "organisation_kind",
        "country",
    ]
    .iter()
    .any(|n| !g(n).trim().is_empty())
    {
        return Err("organisation details given without an `organisation` id".into());
    }

    let site_fields = [
        "site_name",
        "address",
        "secret_or_above",
        "dv_significant",
        "ministerial_use",
        "socpa_2005",
        "classification",
        "government_building",
        "site_tags",
    ];
    if let Some(id) = opt(g("site")) {
        check_id("site", &id)?;
        row.site = Some(SiteP {
            id,
            organisation: org_id.clone(),
            name: opt(g("site_name")),
            address: opt(g("address")),
            crit: [
                parse_bool("secret_or_above", g("secret_or_above"))?,
                parse_bool("dv_significant", g("dv_significant"))?,
                parse_bool("ministerial_use", g("ministerial_use"))?,
                parse_bool("socpa_2005", g("socpa_2005"))?,
            ],
            classification: opt(g("classification")),
            government_building: parse_bool("government_building", g("government_building"))?,
            tags: parse_list(g("site_tags")),
        });
    } else if site_fields.iter().any(|n| !g(n).trim().is_empty()) {
        return Err("site details given without a `site` id".into());
    }

    if let Some(id) = opt(g("zone")) {
        check_id("zone", &id)?;
        if site_id.is_none() {
            return Err(format!("zone `{id}` has no site"));
        }
        row.zone = Some(ZoneP {
            id,
            site: site_id.clone(),
            name: opt(g("zone_name")),
        });
    }
    if let Some(id) = opt(g("network")) {
        check_id("network", &id)?;
        if site_id.is_none() {
            return Err(format!("network `{id}` has no site"));
        }
        row.net = Some(NetP {
            id,
            site: site_id.clone(),
            name: opt(g("network_name")),
            cidrs: parse_list(g("network_cidrs")),
            core: parse_bool("network_core", g("network_core"))?,
            exposed: parse_bool("internet_exposed", g("internet_exposed"))?,
        });
    }

    let device_fields = [
        "brand",
        "maker",
        "model",
        "firmware",
        "class",
        "mac",
        "addresses",
        "status",
        "install_date",
        "scheduled_upgrade",
        "cost_device",
        "cost_labour",
        "confidence",
        "notes",
    ];
    if let Some(id) = opt(g("device")) {
        check_id("device", &id)?;
        let mac = match opt(g("mac")) {
            None => None,
            Some(m) => Some(
                normalise_mac(&m).ok_or_else(|| format!("`mac`: `{m}` is not a MAC address"))?,
            ),
        };
        let confidence = match g("confidence").trim() {
            "" => None,
            t => match t.parse::<f64>() {
                Ok(v) if (0.0..=1.0).contains(&v) => Some(v),
                _ => return Err(format!("`confidence`: `{t}` is not a number from 0 to 1")),
            },
        };
        row.device = Some(Device {
            id,
            site: site_id.clone().unwrap_or_default(),
            zone: opt(g("zone")),
            network: opt(g("network")),
            brand: opt(g("brand")),
            maker: opt(g("maker")).map(|m| m.to_ascii_lowercase()),
            model: opt(g("model")),
            firmware: opt(g("firmware")),
            class: parse_class(g("class")).map_err(|e| format!("`class`: {e}"))?,
            mac,
            addresses: parse_list(g("addresses")).unwrap_or_default(),
            status: g("status")
                .parse::<DeviceStatus>()
                .map_err(|e| format!("`status`: {e}"))?,
            install_date: parse_date("install_date", g("install_date"))?,
            scheduled_upgrade: parse_date("scheduled_upgrade", g("scheduled_upgrade"))?,
            cost_device: parse_money("cost_device", g("cost_device"))?,
            cost_labour: parse_money("cost_labour", g("cost_labour"))?,
            confidence,
            notes: opt(g("notes")),
        });
    } else if device_fields.iter().any(|n| !g(n).trim().is_empty()) {
        return Err("device details given without a `device` id".into());
    }
    Ok(row)
}

fn yn(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

fn num(v: Option<f64>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

/// Write a register as CSV with every column: one row per device, then rows for sites, zones,
/// networks and organisations that no device row mentions.
///
/// Written by the one CSV writer ([`camtrace_model::csv_out`]): a cell a spreadsheet would run as a
/// formula gets a leading `'`, which [`read_csv`] drops again, so the file imports back as it was.
pub fn write_csv<W: Write>(reg: &Register, mut out: W) -> Result<()> {
    out.write_all(camtrace_model::csv_out::record(COLUMNS.iter().map(|c| c.0)).as_bytes())?;
    let orgs: BTreeMap<&str, &Organisation> = reg
        .organisations
        .iter()
        .map(|o| (o.id.as_str(), o))
        .collect();
    let sites: BTreeMap<&str, &Site> = reg.sites.iter().map(|s| (s.id.as_str(), s)).collect();
    let zones: BTreeMap<&str, &Zone> = reg.zones.iter().map(|z| (z.id.as_str(), z)).collect();
    let nets: BTreeMap<&str, &NetworkSegment> =
        reg.networks.iter().map(|n| (n.id.as_str(), n)).collect();
    let row = |org: Option<&str>,
               site: Option<&str>,
               zone: Option<&str>,
               net: Option<&str>,
               dev: Option<&Device>|
     -> Vec<String> {
        let mut r = vec![String::new(); COLUMNS.len()];
        let mut set = |n: &str, v: String| {
            if let Some(i) = COLUMNS.iter().position(|c| c.0 == n) {
                r[i] = v;
            }
        };
        let org = org.or_else(|| {
            site.and_then(|s| sites.get(s))
                .map(|s| s.organisation.as_str())
        });
        if let Some(o) = org {
            set("organisation", o.to_string());
            if let Some(o) = orgs.get(o) {
                set("organisation_name", o.name.clone());
                set("organisation_parent", o.parent.clone().unwrap_or_default());
                set("organisation_kind", o.kind.clone().unwrap_or_default());
                set("country", o.country.clone().unwrap_or_default());
            }
        }
        if let Some(s) = site {
            set("site", s.to_string());
            if let Some(s) = sites.get(s) {
                set("site_name", s.name.clone());
                set("address", s.address.clone().unwrap_or_default());
                set("secret_or_above", yn(s.criteria.secret_or_above).into());
                set("dv_significant", yn(s.criteria.dv_significant).into());
                set("ministerial_use", yn(s.criteria.ministerial_use).into());
                set("socpa_2005", yn(s.criteria.socpa_2005).into());
                set(
                    "classification",
                    s.classification.clone().unwrap_or_default(),
                );
                set("government_building", yn(s.government_building).into());
                set("site_tags", s.tags.join(";"));
            }
        }
        if let Some(z) = zone {
            set("zone", z.to_string());
            if let Some(z) = zones.get(z) {
                set("zone_name", z.name.clone());
            }
        }
        if let Some(n) = net {
            set("network", n.to_string());
            if let Some(n) = nets.get(n) {
                set("network_name", n.name.clone());
                set("network_cidrs", n.cidrs.join(";"));
                set("network_core", yn(n.core).into());
                set("internet_exposed", yn(n.internet_exposed).into());
            }
        }
        if let Some(d) = dev {
            set("device", d.id.clone());
            set("brand", d.brand.clone().unwrap_or_default());
            set("maker", d.maker.clone().unwrap_or_default());
            set("model", d.model.clone().unwrap_or_default());
            set("firmware", d.firmware.clone().unwrap_or_default());
            set("class", d.class.as_str().into());
            set("mac", d.mac.clone().unwrap_or_default());
            set("addresses", d.addresses.join(";"));
            set("status", d.status.as_str().into());
            set(
                "install_date",
                d.install_date.map(|x| x.to_string()).unwrap_or_default(),
            );
            set(
                "scheduled_upgrade",
                d.scheduled_upgrade
                    .map(|x| x.to_string())
                    .unwrap_or_default(),
            );
            set("cost_device", num(d.cost_device));
            set("cost_labour", num(d.cost_labour));
            set("confidence", num(d.confidence));
            set("notes", d.notes.clone().unwrap_or_default());
        }
        r
    };

    let mut rows = Vec::new();
    for d in &reg.devices {
        rows.push(row(
            None,
            Some(d.site.as_str()),
            d.zone.as_deref(),
            d.network.as_deref(),
            Some(d),
        ));
    }
    // Zones, networks, sites and organisations on rows of their own (repeats merge).
    for z in &reg.zones {
        rows.push(row(
            None,
            Some(z.site.as_str()),
            Some(z.id.as_str()),
            None,
            None,
        ));
    }
    for n in &reg.networks {
        rows.push(row(
            None,
            Some(n.site.as_str()),
            None,
            Some(n.id.as_str()),
            None,
        ));
    }
    for s in &reg.sites {
        rows.push(row(None, Some(s.id.as_str()), None, None, None));
    }
    for o in &reg.organisations {
        rows.push(row(Some(o.id.as_str()), None, None, None, None));
    }
    for r in rows {
        out.write_all(camtrace_model::csv_out::record(&r).as_bytes())?;
    }
    out.flush()?;
    Ok(())
}

// ------------------------------------------------------------------ JSON

/// Read a JSON register: `{"organisations":[...],"sites":[...],"zones":[...],"networks":[...],
/// "devices":[...]}` (the `camtrace_model` shapes), or a bare array of devices. Each element is
/// checked on its own; errors name it (`devices[3]`).
pub fn read_json<R: Read>(input: R, opts: &ReadOptions) -> Result<ReadOutcome> {
    let mut text = String::new();
    input.take(MAX_REGISTER_BYTES).read_to_string(&mut text)?;
    let v: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| IngestError::Format(format!("not JSON: {e}")))?;
    let obj = match v {
        serde_json::Value::Array(a) => {
            let mut m = serde_json::Map::new();
            m.insert("devices".into(), serde_json::Value::Array(a));
            m
        }
        serde_json::Value::Object(m) => m,
        _ => return Err(IngestError::Format("expected an object or an array".into())),
    };
    for k in obj.keys() {
        if !["organisations", "sites", "zones", "networks", "devices"].contains(&k.as_str()) {
            return Err(IngestError::Format(format!(
                "unknown key `{k}` (expected organisations, sites, zones, networks, devices)"
            )));
        }
    }
    let mut reg = Register::default();
    let mut skipped = Vec::new();
    let mut handle = |loc: String, r: Result<(), String>| -> Result<()> {
        if let Err(reason) = r {
            let e = RowError::new(loc, reason);
            if opts.skip_bad {
                skipped.push(e);
            } else {
                return Err(e.into());
            }
        }
        Ok(())
    };
    let list = |k: &str| -> Vec<serde_json::Value> {
        obj.get(k)
            .and_then(|v| v.as_array())
            .cloned()
            .unwrap_or_default()
    };
    let mut seen: HashSet<(&'static str, String)> = HashSet::new();
    let mut dup = |kind: &'static str, id: &str| -> Result<(), String> {
        check_id(kind, id)?;
        if id.trim().is_empty() {
            return Err(format!("{kind} id is empty"));
        }
        if !seen.insert((kind, id.to_string())) {
            return Err(format!("{kind} `{id}` appears twice"));
        }
        Ok(())
    };
    for (i, v) in list("organisations").into_iter().enumerate() {
        let r = serde_json::from_value::<Organisation>(v)
            .map_err(|e| e.to_string())
            .and_then(|o| {
                dup("organisation", &o.id)?;
                reg.organisations.push(o);
                Ok(())
            });
        handle(format!("organisations[{i}]"), r)?;
    }
    for (i, v) in list("sites").into_iter().enumerate() {
        let r = serde_json::from_value::<Site>(v)
            .map_err(|e| e.to_string())
            .and_then(|mut s| {
                dup("site", &s.id)?;
                if s.organisation.is_empty() {
                    s.organisation = opts.default_org.clone().unwrap_or_default();
                }
                reg.sites.push(s);
                Ok(())
            });
        handle(format!("sites[{i}]"), r)?;
    }
    for (i, v) in list("zones").into_iter().enumerate() {
        let r = serde_json::from_value::<Zone>(v)
            .map_err(|e| e.to_string())
            .and_then(|z| {
                dup("zone", &z.id)?;
                reg.zones.push(z);
                Ok(())
            });
        handle(format!("zones[{i}]"), r)?;
    }
    for (i, v) in list("networks").into_iter().enumerate() {
        let r = serde_json::from_value::<NetworkSegment>(v)
            .map_err(|e| e.to_string())
            .and_then(|n| {
                dup("network", &n.id)?;
                reg.networks.push(n);
                Ok(())
            });
        handle(format!("networks[{i}]"), r)?;
    }
    for (i, mut v) in list("devices").into_iter().enumerate() {
        if let (Some(site), Some(o)) = (&opts.default_site, v.as_object_mut()) {
            o.entry("site").or_insert_with(|| site.clone().into());
        }
        let r = serde_json::from_value::<Device>(v)
            .map_err(|e| e.to_string())
            .and_then(|mut d| {
                dup("device", &d.id)?;
                if let Some(m) = &d.mac {
                    d.mac = Some(
                        normalise_mac(m)
                            .ok_or_else(|| format!("`mac`: `{m}` is not a MAC address"))?,
                    );
                }
                for (n, x) in [
                    ("cost_device", d.cost_device),
                    ("cost_labour", d.cost_labour),
                ] {
                    if x.is_some_and(|x| !x.is_finite() || x < 0.0) {
                        return Err(format!("`{n}` must be a non-negative number"));
                    }
                }
                if d.confidence.is_some_and(|c| !(0.0..=1.0).contains(&c)) {
                    return Err("`confidence` must be between 0 and 1".into());
                }
                reg.devices.push(d);
                Ok(())
            });
        handle(format!("devices[{i}]"), r)?;
    }
    Ok(ReadOutcome {
        register: reg,
        skipped,
        columns: COLUMNS.iter().map(|c| c.0.to_string()).collect(),
    })
}

pub fn write_json<W: Write>(reg: &Register, out: W) -> Result<()> {
    serde_json::to_writer_pretty(out, reg)
        .map_err(|e| IngestError::Format(format!("writing JSON: {e}")))
}

// ------------------------------------------------------------------ templates and merging

/// A CSV template: the header, a commented example row per case and the column documentation.
pub fn template_csv() -> String {
    let ex = example();
    let mut buf = Vec::new();
    // write_csv only fails on I/O errors, which a Vec never has.
    let _ = write_csv(&ex, &mut buf);
    let mut s = String::from_utf8_lossy(&buf).into_owned();
    s.push_str("\n# Columns (order is free; empty cells add nothing; a missing column keeps the stored value):\n");
    for (n, d) in COLUMNS {
        s.push_str(&format!("#   {n}: {d}\n"));
    }
    s
}

/// A JSON template with one of each entity.
pub fn template_json() -> String {
    serde_json::to_string_pretty(&example()).unwrap_or_default()
}

fn example() -> Register {
    Register {
        organisations: vec![Organisation {
            id: "example-dept".into(),
            name: "Example Department".into(),
            parent: None,
            kind: Some("central_government".into()),
            country: Some("GB".into()),
        }],
        sites: vec![Site {
            id: "hq".into(),
            organisation: "example-dept".into(),
            name: "Headquarters".into(),
            address: Some("1 Example Street, London".into()),
            criteria: SensitivityCriteria {
                ministerial_use: true,
                ..Default::default()
            },
            classification: Some("OFFICIAL".into()),
            government_building: true,
            tags: vec!["london".into()],
        }],
        zones: vec![Zone {
            id: "hq-lobby".into(),
            site: "hq".into(),
            name: "Lobby".into(),
        }],
        networks: vec![NetworkSegment {
            id: "hq-cctv".into(),
            site: "hq".into(),
            name: "CCTV VLAN".into(),
            cidrs: vec!["192.0.2.0/24".into()],
            core: true,
            internet_exposed: false,
        }],
        devices: vec![Device {
            id: "hq-cam-001".into(),
            site: "hq".into(),
            zone: Some("hq-lobby".into()),
            network: Some("hq-cctv".into()),
            brand: Some("Axis".into()),
            maker: None,
            model: Some("P3245-V".into()),
            firmware: Some("10.12.3".into()),
            class: DeviceClass::Camera,
            mac: Some("00:40:8c:00:00:01".into()),
            addresses: vec!["192.0.2.10".into()],
            status: DeviceStatus::Installed,
            install_date: NaiveDate::from_ymd_opt(2019, 3, 1),
            scheduled_upgrade: NaiveDate::from_ymd_opt(2027, 4, 1),
            cost_device: Some(450.0),
            cost_labour: Some(120.0),
            confidence: Some(1.0),
            notes: None,
        }],
    }
}

fn absent(columns: &HashSet<String>, n: &str) -> bool {
    !columns.contains(n)
}

/// Fields whose column the file did not have keep the stored value.
pub fn keep_absent_device(new: &mut Device, old: &Device, columns: &HashSet<String>) {
    macro_rules! keep {
        ($col:literal, $f:ident) => {
            if absent(columns, $col) {
                new.$f = old.$f.clone();
            }
        };
    }
    if new.site.is_empty() {
        new.site = old.site.clone();
    }
    keep!("zone", zone);
    keep!("network", network);
    keep!("brand", brand);
    keep!("maker", maker);
    keep!("model", model);
    keep!("firmware", firmware);
    keep!("class", class);
    keep!("mac", mac);
    keep!("addresses", addresses);
    keep!("status", status);
    keep!("install_date", install_date);
    keep!("scheduled_upgrade", scheduled_upgrade);
    keep!("cost_device", cost_device);
    keep!("cost_labour", cost_labour);
    keep!("confidence", confidence);
    keep!("notes", notes);
}

/// Fields whose column the file did not have keep the stored value (an organisation named only
/// by the `organisation` column of a site or device row keeps its name, parent, kind and
/// country).
pub fn keep_absent_organisation(
    new: &mut Organisation,
    old: &Organisation,
    columns: &HashSet<String>,
) {
    if absent(columns, "organisation_name") {
        new.name = old.name.clone();
    }
    if absent(columns, "organisation_parent") {
        new.parent = old.parent.clone();
    }
    if absent(columns, "organisation_kind") {
        new.kind = old.kind.clone();
    }
    if absent(columns, "country") {
        new.country = old.country.clone();
    }
}

/// Fields whose column the file did not have keep the stored value.
pub fn keep_absent_site(new: &mut Site, old: &Site, columns: &HashSet<String>) {
    if new.organisation.is_empty() {
        new.organisation = old.organisation.clone();
    }
    if absent(columns, "site_name") {
        new.name = old.name.clone();
    }
    if absent(columns, "address") {
        new.address = old.address.clone();
    }
    if absent(columns, "secret_or_above") {
        new.criteria.secret_or_above = old.criteria.secret_or_above;
    }
    if absent(columns, "dv_significant") {
        new.criteria.dv_significant = old.criteria.dv_significant;
    }
    if absent(columns, "ministerial_use") {
        new.criteria.ministerial_use = old.criteria.ministerial_use;
    }
    if absent(columns, "socpa_2005") {
        new.criteria.socpa_2005 = old.criteria.socpa_2005;
    }
    if absent(columns, "classification") {
        new.classification = old.classification.clone();
    }
    if absent(columns, "government_building") {
        new.government_building = old.government_building;
    }
    if absent(columns, "site_tags") {
        new.tags = old.tags.clone();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(s: &str) -> Result<ReadOutcome> {
        read_csv(s.as_bytes(), &ReadOptions::default())
    }

    #[test]
    fn reads_a_flat_register_across_rows() {
        let csv = "organisation,site,site_name,ministerial_use,zone,device,brand,mac,addresses,status,install_date,cost_device\n\
                   dept,hq,Head Office,yes,lobby,cam-1,Axis,00-40-8C-00-00-01,192.0.2.10;192.0.2.11,installed,2019-03-01,£1,200.50\n\
                   dept,hq,,,lobby,cam-2,LTS,,,removed,,\n";
        let err = read(csv).unwrap_err();
        // The unquoted thousands comma makes an extra field: the row is rejected with its line.
        assert!(err.to_string().contains("line 2"), "{err}");
        let csv = csv.replace("£1,200.50", "\"£1,200.50\"");
        let out = read(&csv).unwrap().register;
        assert_eq!(out.organisations.len(), 1);
        assert_eq!(out.sites.len(), 1);
        assert!(out.sites[0].criteria.ministerial_use);
        assert_eq!(out.sites[0].name, "Head Office");
        assert_eq!(out.zones.len(), 1);
        assert_eq!(out.devices.len(), 2);
        let d = &out.devices[0];
        assert_eq!(d.mac.as_deref(), Some("00:40:8c:00:00:01"));
        assert_eq!(d.addresses, vec!["192.0.2.10", "192.0.2.11"]);
        assert_eq!(d.cost_device, Some(1200.5));
        assert_eq!(out.devices[1].status, DeviceStatus::Removed);
    }

    #[test]
    fn encoders_are_read_written_and_read_back() {
        let csv = "site,device,brand,model,class\n\
                   hq,enc-1,Axis,Q7401,encoder\n\
                   hq,enc-2,Bosch,VIDEOJET decoder 3000,Video Server\n\
                   hq,cam-1,Axis,P3245-V,camera\n";
        let reg = read(csv).unwrap().register;
        let classes: Vec<DeviceClass> = reg.devices.iter().map(|d| d.class).collect();
        assert_eq!(
            classes,
            vec![
                DeviceClass::Encoder,
                DeviceClass::Encoder,
                DeviceClass::Camera
            ]
        );
        let mut out = Vec::new();
        write_csv(&reg, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains(",encoder"), "{text}");
        let again = read(&text).unwrap().register;
        assert_eq!(again.devices[1].class, DeviceClass::Encoder);
        let mut json = Vec::new();
        write_json(&reg, &mut json).unwrap();
        let json = String::from_utf8(json).unwrap();
        assert!(json.contains("\"class\": \"encoder\""), "{json}");
        let back = read_json(json.as_bytes(), &ReadOptions::default())
            .unwrap()
            .register;
        assert_eq!(back.devices[0].class, DeviceClass::Encoder);
        let e = read("site,device,class\nhq,x,video_decoder\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("encoder"), "the error lists the classes: {e}");
    }

    #[test]
    fn bad_rows_name_their_line_and_reason() {
        let csv = "site,device,mac,status\nhq,a,00:40:8c:00:00:01,installed\nhq,b,not-a-mac,installed\nhq,c,,gone\n";
        let e = read(csv).unwrap_err().to_string();
        assert!(e.contains("line 3") && e.contains("not a MAC"), "{e}");
        let out = read_csv(
            csv.as_bytes(),
            &ReadOptions {
                skip_bad: true,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(out.register.devices.len(), 1);
        assert_eq!(out.skipped.len(), 2);
        assert_eq!(out.skipped[0].location, "line 3");
        assert_eq!(out.skipped[1].location, "line 4");
        assert!(
            out.skipped[1].reason.contains("status"),
            "{:?}",
            out.skipped
        );
    }

    #[test]
    fn conflicting_rows_and_unknown_columns_are_refused() {
        let e = read("site,site_name\nhq,One\nhq,Two\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 3") && e.contains("line 2"), "{e}");
        let e = read("site,modle\nhq,x\n").unwrap_err().to_string();
        assert!(e.contains("unknown column `modle`"), "{e}");
        let e = read("site,device\nhq,a\nhq,a\n").unwrap_err().to_string();
        assert!(e.contains("already defined"), "{e}");
    }

    #[test]
    fn template_reads_back() {
        let t = template_csv();
        let body: String = t
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| format!("{l}\n"))
            .collect();
        let out = read(&body).unwrap().register.sorted();
        assert_eq!(out, example().sorted());
        let j = read_json(template_json().as_bytes(), &ReadOptions::default()).unwrap();
        assert_eq!(j.register, example());
    }

    #[test]
    fn json_errors_name_the_element() {
        let j = r#"{"devices":[{"id":"a","site":"hq"},{"id":"b","site":"hq","status":"gone"}]}"#;
        let e = read_json(j.as_bytes(), &ReadOptions::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("devices[1]"), "{e}");
        let e = read_json(br#"{"devcies":[]}"#.as_slice(), &ReadOptions::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("devcies"), "{e}");
    }

    #[test]
    fn register_without_organisation_columns_keeps_the_stored_organisation() {
        let out = read("organisation,site,device\ndept,hq,cam-1\n").unwrap();
        let mut new = out.register.organisations[0].clone();
        let old = Organisation {
            id: "dept".into(),
            name: "Department for Examples".into(),
            parent: Some("gov".into()),
            kind: Some("central_government".into()),
            country: Some("GB".into()),
        };
        keep_absent_organisation(&mut new, &old, &out.columns);
        assert_eq!(new, old);
        // A column that is there (even empty) is what the file says.
        let out = read("organisation,organisation_kind,site\ndept,,hq\n").unwrap();
        let mut new = out.register.organisations[0].clone();
        keep_absent_organisation(&mut new, &old, &out.columns);
        assert_eq!(new.kind, None);
        assert_eq!(new.country.as_deref(), Some("GB"));
    }

    #[test]
    fn absent_columns_keep_stored_values() {
        let out = read("device,status\ncam-1,removed\n").unwrap();
        let mut new = out.register.devices[0].clone();
        let old = example().devices[0].clone();
        keep_absent_device(&mut new, &old, &out.columns);
        assert_eq!(new.status, DeviceStatus::Removed);
        assert_eq!(new.brand, old.brand);
        assert_eq!(new.site, old.site);
    }
}
