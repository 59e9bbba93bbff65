//! Explanations: everything the knowledge base says about one company or brand on a date, each
//! fact with its source, `as_of` date and the file and line it came from. Used by `camtrace kb show`
//! and by anything that must justify a verdict.

use crate::schema::*;
use crate::store::{normalise_name, Kb};
use crate::KbDate;
use chrono::NaiveDate;
use serde::Serialize;

/// One fact with its provenance.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fact {
    /// What the fact is about (`prc_nil`, `state_ownership`, `parent`, `country` ...).
    pub field: String,
    pub value: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub source: String,
    pub as_of: KbDate,
    /// `kb/<file>:<line>` of the entry holding the fact.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
}

/// A list membership seen from one company (its own, or a parent's).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ListStatus {
    pub list: String,
    pub list_name: String,
    pub authority: String,
    pub jurisdiction: String,
    /// The company that is on the list (the explained company or one of its parents).
    pub holder: String,
    /// `true` when the membership is a parent's, covering the company as a subsidiary.
    pub inherited: bool,
    pub added: KbDate,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub removed: Option<KbDate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The membership, or a parent link it passes through, is not confirmed by a source.
    pub unverified: bool,
    /// For a parent's membership: the list's own wording that covers subsidiaries or
    /// affiliates (a parent's membership on a list without such wording does not reach it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inherited_by: Option<String>,
    /// Active on the explanation date.
    pub active: bool,
    pub source: String,
    pub as_of: KbDate,
}

/// A period during which a company owns a brand, the same from either side (a company's
/// brands, a brand's owners).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ownership {
    pub brand: String,
    pub brand_name: String,
    pub company: String,
    pub company_name: String,
    pub relationship: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<KbDate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<KbDate>,
    pub confidence: Confidence,
    pub active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub source: String,
    pub as_of: KbDate,
}

/// An OEM link seen from either side.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OemRef {
    pub brand: String,
    pub maker: String,
    /// Model patterns; empty: brand-wide.
    pub models: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<KbDate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<KbDate>,
    pub confidence: Confidence,
    pub active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub source: String,
    pub as_of: KbDate,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
}

/// One link of the parent chain.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParentLink {
    pub id: String,
    pub short: String,
    pub country: String,
    pub prc_nil: Tristate,
}

/// The MAC address blocks registered to a company.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct OuiSummary {
    pub blocks: usize,
    pub prefixes: usize,
    pub ma_l: usize,
    pub ma_m: usize,
    pub ma_s: usize,
    /// Registered organisation names.
    pub assignees: Vec<String>,
    /// Some block says its prefixes alone do not make a device surveillance equipment.
    pub not_surveillance_alone: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// Everything the knowledge base says about one company on a date.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CompanyExplanation {
    pub id: String,
    pub name: String,
    pub short: String,
    pub aliases: Vec<String>,
    pub country: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hq: Option<String>,
    pub prc_nil: Tristate,
    pub prc_nil_reason: String,
    pub makes: Vec<String>,
    /// The date the explanation is for.
    pub date: KbDate,
    pub kb_version: String,
    /// `kb/<file>:<line>` of the company entry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// Facts with their sources (the entry's own source first).
    pub facts: Vec<Fact>,
    /// Parents, nearest first (the company itself not included).
    pub parent_chain: Vec<ParentLink>,
    pub subsidiaries: Vec<String>,
    /// Memberships active on `date` (own and inherited), verified ones first.
    pub lists_active: Vec<ListStatus>,
    /// Memberships not active on `date` (added later or removed before).
    pub lists_inactive: Vec<ListStatus>,
    /// Brands the company owns or owned.
    pub brands: Vec<Ownership>,
    /// Brands whose products (some or all) the company makes (OEM links where it is the maker).
    pub oem_brands: Vec<OemRef>,
    pub oui: OuiSummary,
}

/// Everything the knowledge base says about one brand on a date.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BrandExplanation {
    pub id: String,
    pub name: String,
    pub aliases: Vec<String>,
    pub date: KbDate,
    pub kb_version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub source: String,
    pub as_of: KbDate,
    /// All owner periods.
    pub owners: Vec<Ownership>,
    /// The owner on `date` (best confidence), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner_on_date: Option<String>,
    /// Who makes the brand's products (all OEM links, active or not).
    pub oem: Vec<OemRef>,
    /// The maker of `model` on `date` when one was asked for, else the brand-wide maker.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maker_on_date: Option<String>,
    /// The maker company's explanation (the OEM maker if any, else the owner), when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maker: Option<Box<CompanyExplanation>>,
}

/// What a free-text name resolves to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum Subject<'a> {
    Company(&'a str),
    Brand(&'a str),
}

fn oem_ref(kb: &Kb, i: usize, o: &OemLink, date: NaiveDate) -> OemRef {
    OemRef {
        brand: o.brand.clone(),
        maker: o.maker.clone(),
        models: o.models.clone(),
        from: o.from,
        to: o.to,
        confidence: o.confidence,
        active: o.active_on(date),
        note: o.note.clone(),
        source: o.source.clone(),
        as_of: o.as_of,
        location: kb.oem_locations.get(i).map(|l| l.to_string()),
    }
}

impl Kb {
    /// Resolve an id or a name to a company or a brand. Ids win over names; a name shared by a
    /// company and its own brand resolves to the company.
    pub fn resolve(&self, query: &str) -> Option<Subject<'_>> {
        let q = query.trim();
        if let Some(c) = self.company(q) {
            return Some(Subject::Company(&c.id));
        }
        if let Some(b) = self.brand(q) {
            return Some(Subject::Brand(&b.id));
        }
        if let Some(c) = self.company_by_name(q) {
            return Some(Subject::Company(&c.id));
        }
        self.brand_by_name(q).map(|b| Subject::Brand(&b.id))
    }

    /// Ids of companies and brands close to `query` (for "did you mean"), best first.
    pub fn suggest(&self, query: &str, max: usize) -> Vec<String> {
        let q = normalise_name(query);
        if q.is_empty() {
            return Vec::new();
        }
        let mut scored: Vec<(f64, String)> = Vec::new();
        let mut consider = |id: &str, names: Vec<&str>| {
            let best = names
                .iter()
                .map(|n| {
                    let n = normalise_name(n);
                    let sim = strsim::jaro_winkler(&q, &n);
                    if !n.is_empty() && (n.contains(&q) || q.contains(&n)) {
                        sim.max(0.9)
                    } else {
                        sim
                    }
                })
                .fold(0.0, f64::max);
            if best >= 0.75 && !scored.iter().any(|(_, x)| x == id) {
                scored.push((best, id.to_string()));
            }
        };
        for c in &self.companies {
            let mut names = vec![c.id.as_str(), c.short.as_str(), c.name.as_str()];
            names.extend(c.aliases.iter().map(String::as_str));
            consider(&c.id, names);
        }
        for b in &self.brands {
            let mut names = vec![b.id.as_str(), b.name.as_str()];
            names.extend(b.aliases.iter().map(String::as_str));
            consider(&b.id, names);
        }
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        scored.into_iter().take(max).map(|(_, id)| id).collect()
    }

    /// Everything known about company `id` on `date`, each fact with its source.
    pub fn explain_company(&self, id: &str, date: NaiveDate) -> Option<CompanyExplanation> {
        let c = self.company(id)?;
        let loc = self.location("company", &c.id).map(|l| l.to_string());
        let fact = |field: &str, value: String, note: Option<String>| Fact {
            field: field.into(),
            value,
            note,
            source: c.source.clone(),
            as_of: c.as_of,
            location: loc.clone(),
        };
        let mut facts = vec![
            fact("name", c.name.clone(), None),
            fact(
                "country",
                match &c.hq {
                    Some(hq) => format!("{} ({hq})", c.country),
                    None => c.country.clone(),
                },
                None,
            ),
            fact(
                "prc_nil",
                c.prc_nil.as_str().to_string(),
                Some(c.prc_nil_reason.clone()),
            ),
        ];
        if let Some(p) = &c.parent {
            facts.push(fact("parent", p.clone(), c.parent_note.clone()));
        } else if let Some(n) = &c.parent_note {
            facts.push(fact(
                "parent",
                "(not in the knowledge base)".into(),
                Some(n.clone()),
            ));
        }
        if let Some(so) = &c.state_ownership {
            facts.push(Fact {
                field: "state_ownership".into(),
                value: match so.share_pct {
                    Some(p) => format!("{p}% held by {}", so.holder),
                    None => format!("held by {}", so.holder),
                },
                note: so.note.clone(),
                source: so.source.clone(),
                as_of: so.as_of,
                location: loc.clone(),
            });
        }
        if !c.makes.is_empty() {
            facts.push(fact("makes", c.makes.join(", "), None));
        }
        if let Some(n) = &c.note {
            facts.push(fact("note", n.clone(), None));
        }
        for a in &c.also {
            facts.push(Fact {
                field: "also".into(),
                value: "further source".into(),
                note: None,
                source: a.clone(),
                as_of: c.as_of,
                location: loc.clone(),
            });
        }

        let chain = self.company_chain(&c.id);
        let parent_chain = chain
            .iter()
            .skip(1)
            .map(|p| ParentLink {
                id: p.id.clone(),
                short: p.short.clone(),
                country: p.country.clone(),
                prc_nil: p.prc_nil,
            })
            .collect();
        let mut lists_active = Vec::new();
        let mut lists_inactive = Vec::new();
        let mut links_verified = true;
        for (depth, holder) in chain.iter().enumerate() {
            for m in &holder.lists {
                let def = self.list(&m.list);
                // A parent's membership reaches the company only where the list's own wording
                // covers subsidiaries or affiliates.
                let inherited_by = def.and_then(|d| d.affiliates.as_ref());
                if depth > 0 && inherited_by.is_none() {
                    continue;
                }
                let st = ListStatus {
                    list: m.list.clone(),
                    list_name: def
                        .map(|d| d.name.clone())
                        .unwrap_or_else(|| m.list.clone()),
                    authority: def.map(|d| d.authority.clone()).unwrap_or_default(),
                    jurisdiction: def.map(|d| d.jurisdiction.clone()).unwrap_or_default(),
                    holder: holder.id.clone(),
                    inherited: holder.id != c.id,
                    added: m.added,
                    removed: m.removed,
                    scope: m.scope.clone(),
                    note: m.note.clone(),
                    unverified: m.unverified || !links_verified,
                    inherited_by: if depth > 0 {
                        inherited_by.map(|a| a.text.clone())
                    } else {
                        None
                    },
                    active: m.active_on(date),
                    source: m.source.clone(),
                    as_of: m.as_of,
                };
                if st.active {
                    lists_active.push(st);
                } else {
                    lists_inactive.push(st);
                }
            }
            if holder.unverified || holder.unverified_fields.iter().any(|f| f == "parent") {
                links_verified = false;
            }
        }
        lists_active.sort_by_key(|s| (s.unverified, s.inherited, s.added));
        lists_inactive.sort_by_key(|s| (s.inherited, s.added));

        let mut brands = Vec::new();
        for b in &self.brands {
            for o in b.owners.iter().filter(|o| o.company == c.id) {
                brands.push(ownership(self, b, o, date));
            }
        }
        let oem_brands = self
            .oem_links
            .iter()
            .enumerate()
            .filter(|(_, o)| o.maker == c.id)
            .map(|(i, o)| oem_ref(self, i, o, date))
            .collect();

        let mut oui = OuiSummary::default();
        for b in self.oui_blocks.iter().filter(|b| b.company == c.id) {
            oui.blocks += 1;
            oui.prefixes += b.prefixes.len();
            match b.registry.as_str() {
                "MA-L" => oui.ma_l += b.prefixes.len(),
                "MA-M" => oui.ma_m += b.prefixes.len(),
                _ => oui.ma_s += b.prefixes.len(),
            }
            if !oui.assignees.contains(&b.assignee) {
                oui.assignees.push(b.assignee.clone());
            }
            oui.not_surveillance_alone |= b.not_surveillance_alone;
            if oui.source.is_none() {
                oui.source = Some(format!("{} (as of {})", b.source, b.as_of));
            }
        }

        Some(CompanyExplanation {
            id: c.id.clone(),
            name: c.name.clone(),
            short: c.short.clone(),
            aliases: c.aliases.clone(),
            country: c.country.clone(),
            hq: c.hq.clone(),
            prc_nil: c.prc_nil,
            prc_nil_reason: c.prc_nil_reason.clone(),
            makes: c.makes.clone(),
            date: KbDate(date),
            kb_version: self.version.clone(),
            location: loc,
            facts,
            parent_chain,
            subsidiaries: self
                .subsidiaries(&c.id)
                .iter()
                .map(|s| s.id.clone())
                .collect(),
            lists_active,
            lists_inactive,
            brands,
            oem_brands,
            oui,
        })
    }

    /// Everything known about brand `id` on `date`: owners over time, OEM makers, and the
    /// explanation of the company that makes `model` (or the brand as a whole) on that date.
    pub fn explain_brand(
        &self,
        id: &str,
        model: Option<&str>,
        date: NaiveDate,
    ) -> Option<BrandExplanation> {
        let b = self.brand(id)?;
        let owners = b
            .owners
            .iter()
            .map(|o| ownership(self, b, o, date))
            .collect();
        let owner_on_date = self.brand_owner_on(&b.id, date).map(|o| o.company.clone());
        let oem: Vec<OemRef> = self
            .oem_links
            .iter()
            .enumerate()
            .filter(|(_, o)| o.brand == b.id)
            .map(|(i, o)| oem_ref(self, i, o, date))
            .collect();
        let oem_maker = self
            .oem_for(&b.id, model, date)
            .first()
            .map(|o| o.maker.clone());
        let maker_on_date = oem_maker.or_else(|| owner_on_date.clone());
        let maker = maker_on_date
            .as_deref()
            .and_then(|m| self.explain_company(m, date))
            .map(Box::new);
        Some(BrandExplanation {
            id: b.id.clone(),
            name: b.name.clone(),
            aliases: b.aliases.clone(),
            date: KbDate(date),
            kb_version: self.version.clone(),
            location: self.location("brand", &b.id).map(|l| l.to_string()),
            note: b.note.clone(),
            source: b.source.clone(),
            as_of: b.as_of,
            owners,
            owner_on_date,
            oem,
            maker_on_date,
            maker,
        })
    }
}

/// One owner period of a brand, as seen on `date`.
fn ownership(kb: &Kb, b: &Brand, o: &BrandOwner, date: NaiveDate) -> Ownership {
    Ownership {
        brand: b.id.clone(),
        brand_name: b.name.clone(),
        company: o.company.clone(),
        company_name: kb
            .company(&o.company)
            .map(|c| c.short.clone())
            .unwrap_or_else(|| o.company.clone()),
        relationship: o.relationship.clone(),
        from: o.from,
        to: o.to,
        confidence: o.confidence,
        active: o.active_on(date),
        note: o.note.clone(),
        source: o.source.clone(),
        as_of: o.as_of,
    }
}
