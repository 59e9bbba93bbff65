//! Evaluation: regimes × devices at a date → findings.
//!
//! Predicates are evaluated once per distinct key (resolved maker, class, status, site facts,
//! org facts, network facts, confidence band), and the reason chains of a key are shared by
//! every device with that key.

use crate::finding::{DeviceHead, Finding, FindingStatus, Reason, Reasons, Step, INSPECTION_RULE};
use crate::regime::{Obligation, Regime, Rule};
use crate::vars::{BrandVars, DeviceVars, MakerVars, NetworkVars, OrgVars, Reads, SiteVars, Vars};
use camtrace_kb::Kb;
use camtrace_model::{
    Device, DeviceClass, DeviceStatus, Estate, Identification, NetworkSegment, Organisation, Site,
    Waiver,
};
use chrono::NaiveDate;
use rustc_hash::FxHashMap;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::OnceLock;

/// What the evaluation needs besides the devices.
pub struct EvalContext<'a> {
    pub kb: &'a Kb,
    pub regimes: Vec<&'a Regime>,
    /// The date the rules, list memberships and waivers are evaluated at.
    pub as_of: NaiveDate,
    /// Overrides every regime's `min_confidence` when set.
    pub min_confidence: Option<f64>,
}

impl<'a> EvalContext<'a> {
    pub fn new(kb: &'a Kb, regimes: Vec<&'a Regime>, as_of: NaiveDate) -> Self {
        EvalContext {
            kb,
            regimes,
            as_of,
            min_confidence: None,
        }
    }
}

/// What camtrace knows about who made a device.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IdentSummary {
    /// Knowledge-base company id of the maker, when identified.
    pub maker: Option<String>,
    /// Brand on the box (brand id or name), when known; used to resolve the maker when `maker`
    /// is empty (brand owner or OEM link on the date).
    pub brand: Option<String>,
    pub model: Option<String>,
    /// Confidence in the maker, 0..1.
    pub confidence: f64,
    /// The evidence, one short line each (`http: Server: App-webs/ [kb/signatures/x.toml:3]`).
    pub evidence: Vec<String>,
    /// The first time the device was seen (earliest observation), when known: the device's
    /// date when the register has no install date.
    pub first_seen: Option<NaiveDate>,
}

impl IdentSummary {
    /// From an identification (`camtrace identify` / `scan` output). Only a maker the device's
    /// own evidence settles is taken: one the identification read from the brand alone, or left
    /// open between candidates (`could_be`), is read again from the brand by the one attribution
    /// rule at the device's own date (install date, else first sighting), which keeps its
    /// unverified facts and its candidates visible to the rules.
    pub fn from_identification(id: &Identification) -> Self {
        IdentSummary {
            first_seen: id.first_seen,
            maker: id.settled_maker().map(|m| m.id.clone()),
            brand: id.brand.as_ref().map(|b| b.id.clone()),
            model: id.model.clone(),
            confidence: id.confidence,
            evidence: id
                .evidence
                .iter()
                .filter(|e| {
                    e.proves.is_empty() || e.proves.iter().any(|p| p == "maker" || p == "brand")
                })
                .take(6)
                .map(|e| {
                    let mut s = format!("{}: {}", e.kind, e.detail);
                    if !e.source.is_empty() {
                        s.push_str(&format!(" [{}]", e.source));
                    }
                    s
                })
                .collect(),
        }
    }

    /// From what the register declares about the device.
    pub fn declared(d: &Device) -> Self {
        let declared = d.maker.is_some() || d.brand.is_some();
        IdentSummary {
            maker: d.maker.clone(),
            brand: d.brand.clone(),
            model: d.model.clone(),
            confidence: d.confidence.unwrap_or(if declared { 1.0 } else { 0.0 }),
            evidence: if declared {
                vec!["declared in the asset register".to_string()]
            } else {
                Vec::new()
            },
            first_seen: None,
        }
    }
}

/// One device with everything the rules can read about it.
#[derive(Debug, Clone)]
pub struct DeviceFacts {
    pub device: Device,
    pub site: Arc<Site>,
    pub org: Option<Arc<Organisation>>,
    pub network: Option<Arc<NetworkSegment>>,
    pub ident: IdentSummary,
}

impl DeviceFacts {
    /// Join an estate into device facts. The maker comes from the device's latest
    /// identification when it names one, otherwise from the register. Devices whose site is not
    /// in the estate get a placeholder site with no facts (so they still need inspection where
    /// rules apply to every site).
    pub fn from_estate(estate: &Estate) -> Vec<DeviceFacts> {
        let orgs: HashMap<&str, Arc<Organisation>> = estate
            .organisations
            .iter()
            .map(|o| (o.id.as_str(), Arc::new(o.clone())))
            .collect();
        let sites: HashMap<&str, Arc<Site>> = estate
            .sites
            .iter()
            .map(|s| (s.id.as_str(), Arc::new(s.clone())))
            .collect();
        let nets: HashMap<&str, Arc<NetworkSegment>> = estate
            .networks
            .iter()
            .map(|n| (n.id.as_str(), Arc::new(n.clone())))
            .collect();
        let idents: HashMap<&str, &Identification> = estate
            .identifications
            .iter()
            .filter_map(|s| s.device_id.as_deref().map(|d| (d, &s.identification)))
            .collect();
        estate
            .devices
            .iter()
            .map(|d| {
                let site = sites.get(d.site.as_str()).cloned().unwrap_or_else(|| {
                    Arc::new(Site {
                        id: d.site.clone(),
                        organisation: String::new(),
                        name: d.site.clone(),
                        address: None,
                        criteria: Default::default(),
                        classification: None,
                        government_building: false,
                        tags: Vec::new(),
                    })
                });
                let org = orgs.get(site.organisation.as_str()).cloned();
                let network = d.network.as_deref().and_then(|n| nets.get(n).cloned());
                let declared = IdentSummary::declared(d);
                // A maker the identification does not settle from the device's own evidence
                // does not displace one the register declares.
                let ident = match idents.get(d.id.as_str()) {
                    Some(i) if i.settled_maker().is_some() || declared.maker.is_none() =>
                    {
                        let mut seen = IdentSummary::from_identification(i);
                        // The wire wins over the register; a disagreement is part of the evidence.
                        if let (Some(reg), Some(wire)) = (&declared.maker, &seen.maker) {
                            if reg != wire {
                                seen.evidence.push(format!(
                                    "conflict: the register declares maker `{reg}`, the device identified as `{wire}`"
                                ));
                            }
                        }
                        seen
                    }
                    _ => declared,
                };
                DeviceFacts {
                    device: d.clone(),
                    site,
                    org,
                    network,
                    ident,
                }
            })
            .collect()
    }
}

// ---------------------------------------------------------------------------------------------

/// A maker resolved from the identification on a date.
struct Resolved {
    maker_id: Option<String>,
    /// Display name of the maker (`Hikvision`), the id when not in the knowledge base.
    maker_name: String,
    brand: BrandVars,
    /// Reasons for the resolution when it went through a brand (owner or OEM link), and the
    /// weaker claims not relied on.
    via: Vec<Reason>,
    /// Cap on the confidence from the resolution (a weak OEM link).
    conf_cap: f64,
    /// The resolution rests on unverified facts only (an OEM link or owner period flagged
    /// `unverified`, with no verified fact naming the same maker): one reason per fact. A
    /// maker resolved this way is treated as uncertain: in-scope devices need inspection.
    unverified: Vec<Reason>,
}

/// The maker's facts at the evaluation date, with one reason per fact, and the unverified
/// memberships that would change a rule's answer if they held.
struct MakerFacts {
    vars: MakerVars,
    reasons: Vec<Reason>,
    /// Unverified facts about the maker that the rules do not rely on: list memberships
    /// reported without confirmation (list id, reason) and unconfirmed parent links (empty id).
    unverified_lists: Vec<(String, Reason)>,
    /// The maker's variables if every unverified list membership and parent link held; `None`
    /// when there is none. A rule whose answer differs under it needs inspection.
    hypothetical: Option<MakerVars>,
}

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    resolved: u32,
    class: DeviceClass,
    status: DeviceStatus,
    upgrade: bool,
    site: u32,
    org: u32,
    net: NetworkVars,
    /// How many of the (sorted) confidence thresholds the confidence is below.
    conf_band: u8,
}

/// A finding template shared by every device with the same key.
struct Hit {
    regime: usize,
    rule: Option<usize>,
    inspection: bool,
    tail: Arc<Vec<Reason>>,
}

struct Regimes<'a> {
    list: &'a [&'a Regime],
    /// Reads of each rule (scope ∪ when), per regime.
    reads: Vec<Vec<Reads>>,
    ids: Vec<Arc<str>>,
    rule_ids: Vec<Vec<Arc<str>>>,
    inspect_id: Arc<str>,
    thresholds: Vec<f64>,
    min_conf: Vec<f64>,
}

/// Apply the regimes to the devices at `ctx.as_of`. Pure: no I/O. Findings come in device
/// order, then regime order, then rule order. Waivers change the status of the findings they
/// cover; they never add or remove a finding.
pub fn evaluate(
    ctx: &EvalContext<'_>,
    devices: &[DeviceFacts],
    waivers: &[Waiver],
) -> Vec<Finding> {
    let regimes = prepare(ctx);
    let mut resolved: Vec<Resolved> = Vec::new();
    type ResolveKey<'d> = (
        Option<&'d str>,
        Option<&'d str>,
        Option<&'d str>,
        (NaiveDate, bool),
    );
    let mut resolve_cache: FxHashMap<ResolveKey<'_>, u32> = FxHashMap::default();
    let mut maker_vars: HashMap<Option<String>, Arc<MakerFacts>> = HashMap::new();
    // Per site pointer: index into `site_info` (facts index, site id, org id).
    let mut site_ptr: FxHashMap<*const Site, u32> = FxHashMap::default();
    let mut site_info: Vec<(u32, Arc<str>, Arc<str>)> = Vec::new();
    let mut site_intern: HashMap<SiteVars, u32> = HashMap::new();
    let mut site_vars: Vec<SiteVars> = Vec::new();
    let mut org_ptr: FxHashMap<*const Organisation, u32> = FxHashMap::default();
    let mut org_intern: HashMap<OrgVars, u32> = HashMap::new();
    let mut org_vars: Vec<OrgVars> = vec![OrgVars::default()];
    org_intern.insert(OrgVars::default(), 0);
    // Indexes into vectors: the loop below borrows instead of cloning reference counts.
    let mut cache: FxHashMap<Key, u32> = FxHashMap::default();
    let mut hit_sets: Vec<Vec<Hit>> = Vec::new();
    type IdentKey<'d> = (u32, u64, &'d [String], bool, (NaiveDate, &'static str));
    let mut ident_cache: FxHashMap<IdentKey<'_>, u32> = FxHashMap::default();
    let mut heads: Vec<Arc<Vec<Reason>>> = Vec::new();
    let mut net_ids: FxHashMap<*const NetworkSegment, Arc<str>> = FxHashMap::default();
    let mut models: FxHashMap<&str, Arc<str>> = FxHashMap::default();

    let mut waiver_index: FxHashMap<&str, Vec<&Waiver>> = FxHashMap::default();
    for w in waivers {
        waiver_index
            .entry(w.device_id.as_str())
            .or_default()
            .push(w);
    }

    let mut maker_arcs: Vec<Option<Arc<str>>> = Vec::new();
    // Untouched capacity costs address space only; it avoids copying a large result as it grows.
    let mut out = Vec::with_capacity(devices.len());
    for df in devices {
        let d = &df.device;
        if d.status == DeviceStatus::Removed && !regimes.any_rule_for(DeviceStatus::Removed) {
            continue;
        }
        // Site and org facts, interned by pointer then by content.
        let sp = Arc::as_ptr(&df.site);
        let site_slot = match site_ptr.get(&sp) {
            Some(&i) => i,
            None => {
                let sv = site_to_vars(&df.site);
                let n = site_intern.len() as u32;
                let idx = *site_intern.entry(sv.clone()).or_insert_with(|| {
                    site_vars.push(sv);
                    n
                });
                let org_id: Arc<str> = match &df.org {
                    Some(o) => Arc::from(o.id.as_str()),
                    None => Arc::from(df.site.organisation.as_str()),
                };
                site_info.push((idx, Arc::from(df.site.id.as_str()), org_id));
                let slot = (site_info.len() - 1) as u32;
                site_ptr.insert(sp, slot);
                slot
            }
        };
        let site_idx = site_info[site_slot as usize].0;
        let org_idx = match &df.org {
            None => 0,
            Some(o) => {
                let p = Arc::as_ptr(o);
                match org_ptr.get(&p) {
                    Some(&i) => i,
                    None => {
                        let ov = OrgVars {
                            known: true,
                            kind: o.kind.clone().unwrap_or_default(),
                            country: o.country.clone().unwrap_or_default(),
                        };
                        let n = org_vars.len() as u32;
                        let i = *org_intern.entry(ov.clone()).or_insert_with(|| {
                            org_vars.push(ov);
                            n
                        });
                        org_ptr.insert(p, i);
                        i
                    }
                }
            }
        };
        let net = match &df.network {
            Some(n) => NetworkVars {
                known: true,
                core: n.core,
                internet_exposed: n.internet_exposed,
            },
            None => NetworkVars::default(),
        };
        // Maker resolution on the device's date (install date, else its first sighting, else the
        // evaluation date, which leaves a maker that changed over time unsettled).
        // A planned device is a purchase: judged by who the brand belongs to on that date.
        let basis = if d.status == DeviceStatus::Planned && d.install_date.is_none() {
            camtrace_kb::DateBasis::Purchase(ctx.as_of)
        } else {
            camtrace_kb::DateBasis::of(d.install_date, df.ident.first_seen, ctx.as_of)
        };
        let date = basis.date();
        let ident = &df.ident;
        let rkey = (
            ident.maker.as_deref(),
            ident.brand.as_deref(),
            if ident.maker.is_none() {
                ident.model.as_deref()
            } else {
                None
            },
            if ident.maker.is_none() {
                (date, basis.is_own())
            } else {
                (NaiveDate::MIN, true)
            },
        );
        let ridx = match resolve_cache.get(&rkey) {
            Some(&i) => i,
            None => {
                let r = resolve(ctx.kb, ident, basis);
                maker_arcs.push(r.maker_id.as_deref().map(Arc::from));
                resolved.push(r);
                let i = (resolved.len() - 1) as u32;
                resolve_cache.insert(rkey, i);
                i
            }
        };
        let res = &resolved[ridx as usize];
        let confidence = if res.maker_id.is_some() {
            ident.confidence.min(res.conf_cap)
        } else {
            0.0
        };
        let conf_band = regimes
            .thresholds
            .iter()
            .filter(|&&t| confidence < t)
            .count() as u8;
        let key = Key {
            resolved: ridx,
            class: d.class,
            status: d.status,
            upgrade: d.scheduled_upgrade.is_some(),
            site: site_idx,
            org: org_idx,
            net,
            conf_band,
        };
        let hits_idx = match cache.get(&key) {
            Some(&h) => h,
            None => {
                let mv = maker_vars
                    .entry(res.maker_id.clone())
                    .or_insert_with(|| {
                        Arc::new(maker_facts(ctx.kb, res.maker_id.as_deref(), ctx.as_of))
                    })
                    .clone();
                let vars = Vars {
                    maker: mv.vars.clone(),
                    brand: res.brand.clone(),
                    device: DeviceVars {
                        class: d.class.as_str().to_string(),
                        status: d.status.as_str().to_string(),
                        surveillance: d.class.is_surveillance(),
                        has_scheduled_upgrade: d.scheduled_upgrade.is_some(),
                    },
                    site: site_vars[site_idx as usize].clone(),
                    org: org_vars[org_idx as usize].clone(),
                    network: net,
                };
                hit_sets.push(judge(ctx, &regimes, &vars, &mv, res, d, confidence));
                let h = (hit_sets.len() - 1) as u32;
                cache.insert(key, h);
                h
            }
        };
        let hits = &hit_sets[hits_idx as usize];
        if hits.is_empty() {
            continue;
        }
        // Identification reasons, shared by every device with the same identification.
        let ikey = (
            ridx,
            confidence.to_bits(),
            ident.evidence.as_slice(),
            ident.maker.is_some(),
            if ident.maker.is_none() {
                (date, basis_label(basis))
            } else {
                (NaiveDate::MIN, "")
            },
        );
        let head_idx = match ident_cache.get(&ikey) {
            Some(&h) => h,
            None => {
                heads.push(Arc::new(ident_reasons(
                    ident,
                    res,
                    confidence,
                    date,
                    basis_label(basis),
                )));
                let h = (heads.len() - 1) as u32;
                ident_cache.insert(ikey, h);
                h
            }
        };
        let head = &heads[head_idx as usize];
        let (_, site_id, org_id) = &site_info[site_slot as usize];
        let network_id = df.network.as_ref().map(|n| {
            net_ids
                .entry(Arc::as_ptr(n))
                .or_insert_with(|| Arc::from(n.id.as_str()))
                .clone()
        });
        let model = d
            .model
            .as_deref()
            .map(|m| models.entry(m).or_insert_with(|| Arc::from(m)).clone());
        let device_head = Arc::new(DeviceHead {
            device_id: Arc::from(d.id.as_str()),
            class: d.class,
            status: d.status,
            site_id: site_id.clone(),
            network_id,
            model,
            rendered: OnceLock::new(),
        });
        let maker = &maker_arcs[ridx as usize];
        let dw = waiver_index.get(d.id.as_str());
        for hit in hits.iter() {
            let regime = regimes.list[hit.regime];
            let (rule_id, obligation, severity, due, citation) = match hit.rule {
                Some(ri) => {
                    let rule = &regime.rules[ri];
                    let due = match rule.obligation {
                        Obligation::ReplaceAtScheduledUpgrade => d.scheduled_upgrade,
                        _ => rule.due,
                    };
                    (
                        regimes.rule_ids[hit.regime][ri].clone(),
                        rule.obligation,
                        rule.severity,
                        due,
                        rule.citation.clone(),
                    )
                }
                None => (
                    regimes.inspect_id.clone(),
                    Obligation::Review,
                    regime.inspection_severity,
                    None,
                    regime.citation.clone(),
                ),
            };
            let mut f = Finding {
                device_id: device_head.device_id.clone(),
                site_id: site_id.clone(),
                org_id: org_id.clone(),
                regime_id: regimes.ids[hit.regime].clone(),
                rule_id,
                obligation,
                severity,
                due,
                overdue: false,
                status: if hit.inspection {
                    FindingStatus::NeedsInspection
                } else {
                    FindingStatus::Open
                },
                maker: maker.clone(),
                reasons: Reasons {
                    device: Some(device_head.clone()),
                    head: head.clone(),
                    tail: hit.tail.clone(),
                    extra: None,
                },
                citation,
            };
            if let Some(ws) = dw {
                apply_waivers(&mut f, ws, ctx.as_of);
            }
            f.overdue = f.is_overdue(ctx.as_of);
            out.push(f);
        }
    }
    if out.len() < out.capacity() / 4 {
        out.shrink_to_fit();
    }
    out
}

impl Regimes<'_> {
    fn any_rule_for(&self, s: DeviceStatus) -> bool {
        self.list
            .iter()
            .any(|r| r.rules.iter().any(|x| x.statuses.contains(&s)))
    }
}

fn prepare<'a>(ctx: &'a EvalContext<'a>) -> Regimes<'a> {
    let min_conf: Vec<f64> = ctx
        .regimes
        .iter()
        .map(|r| ctx.min_confidence.unwrap_or(r.min_confidence))
        .collect();
    let mut thresholds = min_conf.clone();
    thresholds.sort_by(|a, b| a.total_cmp(b));
    thresholds.dedup();
    Regimes {
        list: &ctx.regimes,
        reads: ctx
            .regimes
            .iter()
            .map(|r| {
                r.rules
                    .iter()
                    .map(|x| match &x.scope {
                        Some(s) => s.reads.merge(&x.when.reads),
                        None => x.when.reads.clone(),
                    })
                    .collect()
            })
            .collect(),
        ids: ctx
            .regimes
            .iter()
            .map(|r| Arc::from(r.id.as_str()))
            .collect(),
        rule_ids: ctx
            .regimes
            .iter()
            .map(|r| r.rules.iter().map(|x| Arc::from(x.id.as_str())).collect())
            .collect(),
        inspect_id: Arc::from(INSPECTION_RULE),
        thresholds,
        min_conf,
    }
}

fn site_to_vars(s: &Site) -> SiteVars {
    let mut tags = s.tags.clone();
    tags.sort();
    SiteVars {
        sensitive: s.criteria.is_sensitive(),
        secret_or_above: s.criteria.secret_or_above,
        dv_significant: s.criteria.dv_significant,
        ministerial_use: s.criteria.ministerial_use,
        socpa_2005: s.criteria.socpa_2005,
        government_building: s.government_building,
        tags,
        classification: s.classification.clone().unwrap_or_default(),
    }
}

/// Resolve the maker: the identified maker, else the brand's maker at the device's own date
/// (`Kb::attribute_brand`, the one attribution rule).
fn resolve(kb: &Kb, ident: &IdentSummary, basis: camtrace_kb::DateBasis) -> Resolved {
    let brand = ident
        .brand
        .as_deref()
        .and_then(|b| kb.brand(b).or_else(|| kb.brand_by_name(b)));
    let brand_vars = match (brand, ident.brand.as_deref()) {
        (Some(b), _) => BrandVars {
            known: true,
            id: b.id.clone(),
            name: b.name.clone(),
        },
        (None, Some(raw)) => BrandVars {
            known: false,
            id: raw.to_string(),
            name: raw.to_string(),
        },
        (None, None) => BrandVars::default(),
    };
    if let Some(m) = ident.maker.as_deref() {
        let (id, name) = kb
            .company_by_name(m)
            .map(|c| (c.id.clone(), c.short.clone()))
            .unwrap_or_else(|| (m.to_string(), m.to_string()));
        return Resolved {
            maker_id: Some(id),
            maker_name: name,
            brand: brand_vars,
            via: Vec::new(),
            conf_cap: 1.0,
            unverified: Vec::new(),
        };
    }
    if let Some(b) = brand {
        // The one attribution rule of the knowledge base (camtrace_kb::attribution): the brand's
        // maker at the device's own date, and every maker that date does not rule out.
        let Some(att) = kb.attribute_brand(&b.id, ident.model.as_deref(), basis) else {
            return Resolved {
                maker_id: None,
                maker_name: String::new(),
                brand: brand_vars,
                via: Vec::new(),
                conf_cap: 0.0,
                unverified: Vec::new(),
            };
        };
        let name_of = |id: &str| {
            kb.company(id)
                .map(|c| c.short.clone())
                .unwrap_or_else(|| id.to_string())
        };
        if let Some(m) = &att.maker {
            let maker = m.company.clone();
            let reason = Reason::new(
                Step::Identification,
                format!("{} (the device's date: {})", m.text, basis.describe()),
                Some(m.source.clone()),
            );
            // An unverified fact never decides the maker alone: unless a verified fact names the
            // same maker, the resolution is marked uncertain (the device needs inspection).
            let mut uncertain = if m.verified
                || att.others.iter().any(|c| c.verified && c.company == maker)
            {
                Vec::new()
            } else {
                vec![Reason::new(
                    Step::Inspection,
                    format!(
                        "the maker {} rests on an unverified fact alone (no public source confirms it): {}",
                        name_of(&maker),
                        m.text
                    ),
                    Some(m.source.clone()),
                )]
            };
            // The device's date does not settle who made it: name every candidate.
            if att.ambiguous() {
                let list: Vec<String> = att
                    .could_be
                    .iter()
                    .map(|c| format!("{} ({})", name_of(&c.company), c.text))
                    .collect();
                uncertain.push(Reason::new(
                    Step::Inspection,
                    format!(
                        "the device's date does not settle who made it ({}): it could be {}; check its install date or label",
                        basis.describe(),
                        list.join(", or ")
                    ),
                    None,
                ));
            }
            let mut via = vec![reason];
            for c in &att.others {
                via.push(Reason::new(
                    Step::Identification,
                    format!(
                        "not relied on ({} confidence, weaker or less specific): {}",
                        c.confidence.as_str(),
                        c.text
                    ),
                    Some(c.source.clone()),
                ));
            }
            return Resolved {
                maker_name: name_of(&maker),
                maker_id: Some(maker),
                brand: brand_vars,
                via,
                conf_cap: m.confidence.weight(),
                unverified: uncertain,
            };
        }
    }
    Resolved {
        maker_id: None,
        maker_name: String::new(),
        brand: brand_vars,
        via: Vec::new(),
        conf_cap: 0.0,
        unverified: Vec::new(),
    }
}

/// The maker's facts at the evaluation date, and one reason per fact (NIL, each list). A NIL
/// answer that rests on an unverified entry is given to the rules as `"unknown"` (so it can
/// neither restrict nor clear a device alone), and the reason names the unverified entry.
fn maker_facts(kb: &Kb, maker: Option<&str>, as_of: NaiveDate) -> MakerFacts {
    let Some(id) = maker else {
        return MakerFacts {
            vars: MakerVars {
                prc_nil: "unknown".into(),
                ..Default::default()
            },
            reasons: Vec::new(),
            unverified_lists: Vec::new(),
            hypothetical: None,
        };
    };
    let Some(c) = kb.company(id) else {
        return MakerFacts {
            vars: MakerVars {
                known: true,
                id: id.to_string(),
                name: id.to_string(),
                prc_nil: "unknown".into(),
                ..Default::default()
            },
            reasons: vec![Reason::new(
                Step::Maker,
                format!("maker `{id}` is not in the knowledge base: its facts are unknown"),
                None,
            )],
            unverified_lists: Vec::new(),
            hypothetical: None,
        };
    };
    let nil_verified = kb.prc_nil_verified(&c.id);
    let nil_text = match c.prc_nil {
        camtrace_kb::Tristate::Yes => format!(
            "{} is subject to the PRC National Intelligence Law: {}",
            c.short, c.prc_nil_reason
        ),
        camtrace_kb::Tristate::No => format!(
            "{} is not subject to the PRC National Intelligence Law: {}",
            c.short, c.prc_nil_reason
        ),
        camtrace_kb::Tristate::Unknown => format!(
            "whether {} is subject to the PRC National Intelligence Law is unknown: {}",
            c.short, c.prc_nil_reason
        ),
    };
    let mut reasons = vec![Reason::new(
        Step::Maker,
        if nil_verified || c.prc_nil == camtrace_kb::Tristate::Unknown {
            nil_text
        } else {
            format!(
                "unverified fact, not relied on: the knowledge base says {nil_text} (entry company `{}` is marked unverified{}); the rules treat the answer as unknown",
                c.id,
                if c.unverified {
                    String::new()
                } else {
                    format!(" in {}", c.unverified_fields.join(", "))
                }
            )
        },
        Some(c.source.clone()),
    )];
    let mut lists = Vec::new();
    let mut scoped_lists = Vec::new();
    let mut unverified_lists = Vec::new();
    for m in kb.membership_details(id, as_of) {
        let (holder, ms) = (m.holder, m.membership);
        let list_name = kb
            .list(&ms.list)
            .map(|l| l.name.as_str())
            .unwrap_or(&ms.list);
        let (who, covers) = match m.inherited_by {
            None => (c.short.clone(), String::new()),
            Some(a) => (
                format!("{} (through its parent {})", c.short, holder.short),
                format!(
                    "; the list's own wording covers subsidiaries and affiliates: {}",
                    a.text
                ),
            ),
        };
        let scope = ms
            .scope
            .as_deref()
            .map(|s| format!("; listed scope: {s}"))
            .unwrap_or_default();
        let text = format!(
            "{who} is on the {list_name} [{}] since {}{scope}{covers}",
            ms.list, ms.added
        );
        if !m.verified {
            unverified_lists.push((
                ms.list.clone(),
                Reason::new(
                    Step::List,
                    format!("unverified fact, not relied on: {text}"),
                    Some(ms.source.clone()),
                ),
            ));
            continue;
        }
        if !lists.contains(&ms.list) {
            lists.push(ms.list.clone());
        }
        if ms.scope.is_some() && !scoped_lists.contains(&ms.list) {
            scoped_lists.push(ms.list.clone());
        }
        reasons.push(Reason::new(Step::List, text, Some(ms.source.clone())));
    }
    // The group: the maker and its parents, up to the first parent link no source confirms
    // (the rest of the chain is kept for the what-if below).
    let mut group = vec![c.id.clone()];
    let mut full_group = group.clone();
    let mut link_verified = true;
    let mut child = Some(c);
    while let Some(x) = child {
        let Some(p) = x.parent.as_deref() else { break };
        if full_group.len() > 8 || full_group.iter().any(|g| g == p) {
            break;
        }
        if x.unverified || x.unverified_fields.iter().any(|f| f == "parent") {
            if link_verified {
                unverified_lists.push((
                    String::new(),
                    Reason::new(
                        Step::Maker,
                        format!(
                            "unverified fact, not relied on: {} is owned by `{p}` (the parent link is marked unverified)",
                            x.short
                        ),
                        Some(x.source.clone()),
                    ),
                ));
            }
            link_verified = false;
        }
        full_group.push(p.to_string());
        if link_verified {
            group.push(p.to_string());
        }
        child = kb.company(p);
    }
    let hypothetical = (!unverified_lists.is_empty()).then(|| {
        let mut v = MakerVars {
            known: true,
            id: c.id.clone(),
            name: c.short.clone(),
            country: c.country.clone(),
            prc_nil: if nil_verified {
                c.prc_nil.as_str().to_string()
            } else {
                "unknown".to_string()
            },
            lists: lists.clone(),
            scoped_lists: scoped_lists.clone(),
            group: full_group.clone(),
        };
        for (l, _) in &unverified_lists {
            if !l.is_empty() && !v.lists.contains(l) {
                v.lists.push(l.clone());
            }
        }
        v
    });
    MakerFacts {
        hypothetical,
        vars: MakerVars {
            known: true,
            id: c.id.clone(),
            name: c.short.clone(),
            country: c.country.clone(),
            prc_nil: if nil_verified {
                c.prc_nil.as_str().to_string()
            } else {
                "unknown".to_string()
            },
            lists,
            scoped_lists,
            group,
        },
        reasons,
        unverified_lists,
    }
}

fn eval_bool(p: &crate::regime::Predicate, vars: &Vars, cel: &cel::Context<'_, '_>) -> bool {
    let _ = vars;
    matches!(p.program.execute(cel), Ok(cel::Value::Bool(true)))
}

/// Evaluate every rule of every regime for one key.
fn judge(
    ctx: &EvalContext<'_>,
    regimes: &Regimes<'_>,
    vars: &Vars,
    mf: &MakerFacts,
    res: &Resolved,
    d: &Device,
    confidence: f64,
) -> Vec<Hit> {
    let maker_reasons = mf.reasons.as_slice();
    let cel_ctx = vars.context();
    let mut what_if: Option<cel::Context<'static, 'static>> = None;
    // The context if every unverified membership and parent link of the maker held.
    let hypothetical = mf.hypothetical.as_ref().map(|m| {
        let mut v = vars.clone();
        v.maker = m.clone();
        v.context()
    });
    let mut hits = Vec::new();
    for (gi, regime) in regimes.list.iter().enumerate() {
        if ctx.as_of < regime.effective {
            continue;
        }
        // A maker resolved through unverified facts alone is as good as unknown for a verdict.
        let unverified_maker = res.maker_id.is_some() && !res.unverified.is_empty();
        let uncertain_maker =
            res.maker_id.is_none() || confidence < regimes.min_conf[gi] || unverified_maker;
        let unknown_class = d.class == DeviceClass::Unknown;
        let mut in_scope: Vec<usize> = Vec::new();
        let mut would_apply: Vec<usize> = Vec::new();
        let mut nil_unknown_apply: Vec<usize> = Vec::new();
        let mut unverified_apply: Vec<usize> = Vec::new();
        for (ri, rule) in regime.rules.iter().enumerate() {
            if ctx.as_of < rule.effective || !rule.statuses.contains(&d.status) {
                continue;
            }
            let class_ok = rule.classes.contains(&d.class);
            let maybe_surveillance =
                unknown_class && rule.classes.iter().any(|c| c.is_surveillance());
            if !(class_ok || maybe_surveillance) {
                continue;
            }
            if let Some(s) = &rule.scope {
                if !eval_bool(s, vars, &cel_ctx) {
                    continue;
                }
            }
            in_scope.push(ri);
            let applies = eval_bool(&rule.when, vars, &cel_ctx);
            if applies {
                if uncertain_maker || !class_ok {
                    would_apply.push(ri);
                } else {
                    hits.push(Hit {
                        regime: gi,
                        rule: Some(ri),
                        inspection: false,
                        tail: Arc::from(rule_tail(
                            regime,
                            rule,
                            &regimes.reads[gi][ri],
                            vars,
                            maker_reasons,
                        )),
                    });
                }
            } else if vars.maker.known && vars.maker.prc_nil == "unknown" && rule.when.reads.prc_nil
            {
                let wi = what_if.get_or_insert_with(|| {
                    let mut v = vars.clone();
                    v.maker.prc_nil = "yes".into();
                    v.context()
                });
                if eval_bool(&rule.when, vars, wi) {
                    nil_unknown_apply.push(ri);
                }
            }
            if !applies && !nil_unknown_apply.contains(&ri) {
                // The device is cleared by this rule only if no unverified fact would change that.
                if let Some(h) = &hypothetical {
                    if eval_bool(&rule.when, vars, h) {
                        unverified_apply.push(ri);
                    }
                }
            }
        }
        let needs = (uncertain_maker && !in_scope.is_empty())
            || (!uncertain_maker && !would_apply.is_empty())
            || !nil_unknown_apply.is_empty()
            || !unverified_apply.is_empty();
        if needs {
            let mut tail = Vec::new();
            let names = |v: &[usize]| {
                v.iter()
                    .map(|&i| regime.rules[i].id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            if res.maker_id.is_none() {
                tail.push(Reason::new(
                    Step::Inspection,
                    "the maker is unknown: the device cannot be cleared without inspection",
                    None,
                ));
            } else if unverified_maker {
                tail.extend(res.unverified.iter().cloned());
            } else if confidence < regimes.min_conf[gi] {
                tail.push(Reason::new(
                    Step::Inspection,
                    format!(
                        "the maker {} was identified with a confidence below the regime's threshold {:.2} (the identification step gives the device's confidence)",
                        vars.maker.name, regimes.min_conf[gi]
                    ),
                    None,
                ));
            }
            if unknown_class && !would_apply.is_empty() {
                tail.push(Reason::new(
                    Step::Inspection,
                    "the device class is unknown: if it is surveillance equipment the rules below apply",
                    None,
                ));
            }
            tail.extend(maker_reasons.iter().cloned());
            let all_reads = in_scope
                .iter()
                .map(|&i| &regimes.reads[gi][i])
                .fold(Reads::default(), |a, r| a.merge(r));
            tail.extend(site_reasons(&all_reads, vars));
            tail.push(Reason::new(
                Step::Inspection,
                format!("the device is in scope of rules: {}", names(&in_scope)),
                Some(regime.location.clone()),
            ));
            if !would_apply.is_empty() {
                tail.push(Reason::new(
                    Step::Inspection,
                    format!(
                        "if the identification is confirmed, these rules apply: {}",
                        names(&would_apply)
                    ),
                    None,
                ));
            }
            if !nil_unknown_apply.is_empty() {
                tail.push(Reason::new(
                    Step::Inspection,
                    format!(
                        "if {} is subject to the PRC National Intelligence Law, these rules apply: {}",
                        vars.maker.name,
                        names(&nil_unknown_apply)
                    ),
                    None,
                ));
            }
            if !unverified_apply.is_empty() {
                tail.extend(mf.unverified_lists.iter().map(|(_, r)| r.clone()));
                tail.push(Reason::new(
                    Step::Inspection,
                    format!(
                        "the device is cleared of these rules only while the unverified facts above are not relied on; if they hold, these rules apply: {}",
                        names(&unverified_apply)
                    ),
                    None,
                ));
            }
            tail.push(regime_reason(regime));
            hits.push(Hit {
                regime: gi,
                rule: None,
                inspection: true,
                tail: Arc::from(tail),
            });
        }
    }
    hits
}

fn regime_reason(regime: &Regime) -> Reason {
    Reason::new(
        Step::Rule,
        format!(
            "regime {} ({}) in force since {}: {}",
            regime.id,
            regime.title,
            regime.effective,
            regime.citation.wording()
        ),
        Some(regime.citation.locator()),
    )
}

fn site_reasons(reads: &Reads, vars: &Vars) -> Vec<Reason> {
    let mut out = Vec::new();
    let s = &vars.site;
    if reads.site {
        if s.sensitive {
            let mut c = Vec::new();
            if s.secret_or_above {
                c.push("routinely holds SECRET material or above");
            }
            if s.dv_significant {
                c.push("hosts a significant proportion of DV-cleared officials");
            }
            if s.ministerial_use {
                c.push("is routinely used by Ministers");
            }
            if s.socpa_2005 {
                c.push("is a government location covered by the Serious Organised Crime and Police Act 2005");
            }
            out.push(Reason::new(
                Step::Site,
                format!("the site is sensitive because it {}", c.join("; it ")),
                Some("site register (sensitivity criteria)".into()),
            ));
        } else {
            out.push(Reason::new(
                Step::Site,
                "the site meets none of the four sensitive-site criteria",
                Some("site register (sensitivity criteria)".into()),
            ));
        }
        if s.government_building {
            out.push(Reason::new(
                Step::Site,
                "the site is a government building",
                Some("site register".into()),
            ));
        }
        if reads.tags && !s.tags.is_empty() {
            out.push(Reason::new(
                Step::Site,
                format!("the site is tagged: {}", s.tags.join(", ")),
                Some("site register (tags)".into()),
            ));
        }
    }
    if reads.org && vars.org.known {
        out.push(Reason::new(
            Step::Org,
            format!(
                "the organisation is of kind `{}` in `{}`",
                if vars.org.kind.is_empty() {
                    "unknown"
                } else {
                    &vars.org.kind
                },
                if vars.org.country.is_empty() {
                    "unknown"
                } else {
                    &vars.org.country
                }
            ),
            Some("organisation register".into()),
        ));
    }
    if reads.core {
        out.push(Reason::new(
            Step::Network,
            if vars.network.core {
                "the device is on a core departmental network segment"
            } else if vars.network.known {
                "the device is on a segment that is not part of the core network"
            } else {
                "the device's network segment is not recorded"
            },
            Some("network register".into()),
        ));
    }
    if reads.internet && vars.network.internet_exposed {
        out.push(Reason::new(
            Step::Network,
            "the device is reachable from the internet",
            Some("network register".into()),
        ));
    }
    out
}

fn rule_tail(
    regime: &Regime,
    rule: &Rule,
    reads: &Reads,
    vars: &Vars,
    maker_reasons: &[Reason],
) -> Vec<Reason> {
    let mut tail = Vec::new();
    for r in maker_reasons {
        let keep = match r.step {
            Step::Maker => reads.prc_nil || reads.country,
            Step::List => r
                .text
                .split_once('[')
                .and_then(|(_, rest)| rest.split_once(']'))
                .is_some_and(|(id, _)| reads.names_list(id)),
            _ => true,
        };
        if keep {
            tail.push(r.clone());
        }
    }
    tail.extend(site_reasons(reads, vars));
    if let Some(n) = &rule.note {
        tail.push(Reason::new(
            Step::Scope,
            n.clone(),
            Some(rule.location.clone()),
        ));
    }
    let obligation = match (rule.obligation, rule.due) {
        (Obligation::RemoveBy, Some(d)) => format!("remove by {d}"),
        (o, _) => o.as_str().replace('_', " "),
    };
    tail.push(Reason::new(
        Step::Rule,
        format!(
            "rule {} of regime {} ({}) applies since {}: {} — {}",
            rule.id,
            regime.id,
            regime.title,
            rule.effective,
            obligation,
            rule.citation.wording()
        ),
        Some(format!("{} ({})", rule.citation.locator(), rule.location)),
    ));
    tail
}

/// Which of the device's dates a maker read from the brand was read at, for the reason.
fn basis_label(basis: camtrace_kb::DateBasis) -> &'static str {
    match basis {
        camtrace_kb::DateBasis::Installed(_) => " (install date)",
        camtrace_kb::DateBasis::FirstSeen(_) => " (first seen)",
        _ => "",
    }
}

fn ident_reasons(
    ident: &IdentSummary,
    res: &Resolved,
    confidence: f64,
    date: NaiveDate,
    date_label: &str,
) -> Vec<Reason> {
    let mut v = Vec::with_capacity(2);
    let evidence = if ident.evidence.is_empty() {
        "no evidence".to_string()
    } else {
        ident.evidence.join("; ")
    };
    let brand = if res.brand.name.is_empty() {
        String::new()
    } else {
        format!(", brand {}", res.brand.name)
    };
    let m = &res.maker_name;
    let text = match (&res.maker_id, &ident.maker) {
        (Some(id), Some(_)) => format!(
            "identified as made by {m} [{id}]{brand} (confidence {confidence:.2}) because of: {evidence}"
        ),
        (Some(id), None) => format!(
            "maker {m} [{id}] resolved from the brand{brand} on {date}{date_label} (confidence {confidence:.2}); brand evidence: {evidence}"
        ),
        (None, _) => format!("maker not identified{brand}; evidence: {evidence}"),
    };
    v.push(Reason::new(Step::Identification, text, None));
    v.extend(res.via.iter().cloned());
    v
}

fn apply_waivers(f: &mut Finding, ws: &[&Waiver], as_of: NaiveDate) {
    let key_matches = |w: &Waiver| {
        w.rule_id
            .split_once('/')
            .is_some_and(|(g, r)| *g == *f.regime_id && *r == *f.rule_id)
    };
    let mut best: Option<&Waiver> = None;
    for w in ws.iter().copied().filter(|w| key_matches(w)) {
        if w.active_on(as_of) {
            if best.is_none_or(|b| w.expires_on > b.expires_on) {
                best = Some(w);
            }
        } else if let Some(at) = &w.revoked_at {
            f.reasons.push(Reason::new(
                Step::Waiver,
                format!(
                    "waiver {} was revoked at {at}{}",
                    w.id,
                    w.revoked_by
                        .as_deref()
                        .map(|b| format!(" by {b}"))
                        .unwrap_or_default()
                ),
                Some(format!("waiver {}", w.id)),
            ));
        } else {
            f.reasons.push(Reason::new(
                Step::Waiver,
                format!(
                    "waiver {} expired on {} (approved by {}: {})",
                    w.id, w.expires_on, w.approver, w.reason
                ),
                Some(format!("waiver {}", w.id)),
            ));
        }
    }
    if let Some(w) = best {
        f.reasons.push(Reason::new(
            Step::Waiver,
            format!(
                "waived by {} until {} (approved by {}: {})",
                w.id, w.expires_on, w.approver, w.reason
            ),
            Some(format!("waiver {}", w.id)),
        ));
        f.status = FindingStatus::Waived {
            waiver_id: w.id.clone(),
            expires: w.expires_on,
        };
    }
}
