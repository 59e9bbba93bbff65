//! Who made a device sold under a brand: the one rule every command and the server use to go
//! from a brand (and model) to a maker, at the device's own date.
//!
//! The rule, at one date:
//! - the candidates are the OEM links of the brand active on that date (those naming the model
//!   first, then brand-wide links) and the brand's owner on that date;
//! - who makes before who sells: an OEM link naming the model, then a brand-wide OEM link of at
//!   least medium confidence, then the brand's owner; a weak brand-wide link decides only when
//!   nothing else is known. Within a tier the most confident first. (This is the rule
//!   identification used; policy, procurement and reconcile each had their own before.)
//!
//! The date is the device's own ([`DateBasis`]): its install date, else the first time it was
//! seen, else the evaluation date (and the reason says so). Where periods that disagree could
//! apply (no device date, or a device date within [`NEAR_CHANGE_DAYS`] of a change of maker),
//! the answer is marked ambiguous and names every maker that could apply, never one silently.

use crate::schema::{Brand, Confidence};
use crate::store::Kb;
use chrono::NaiveDate;

/// A device date this close to a change of maker (a new owner, an OEM link starting or ending)
/// does not settle which side of the change the device is on: stock sells for months after a
/// sale.
pub const NEAR_CHANGE_DAYS: i64 = 90;

/// The date a device's facts are read at, and where it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateBasis {
    /// The register's install date.
    Installed(NaiveDate),
    /// The first time camtrace saw it (earliest observation).
    FirstSeen(NaiveDate),
    /// No date of the device's own: the evaluation date, which does not settle a maker that
    /// changed over time.
    Evaluation(NaiveDate),
    /// The date of a purchase (a quote line): the device does not exist yet, so the purchase
    /// date is its own date.
    Purchase(NaiveDate),
}

impl DateBasis {
    /// The first of: install date, first sighting, `evaluation`.
    pub fn of(
        installed: Option<NaiveDate>,
        first_seen: Option<NaiveDate>,
        evaluation: NaiveDate,
    ) -> Self {
        match (installed, first_seen) {
            (Some(d), _) => Self::Installed(d),
            (None, Some(d)) => Self::FirstSeen(d),
            (None, None) => Self::Evaluation(evaluation),
        }
    }

    pub fn date(self) -> NaiveDate {
        match self {
            Self::Installed(d) | Self::FirstSeen(d) | Self::Evaluation(d) | Self::Purchase(d) => d,
        }
    }

    /// In words, for reasons: "installed on 2020-06-01".
    pub fn describe(self) -> String {
        match self {
            Self::Installed(d) => format!("installed on {d}"),
            Self::FirstSeen(d) => format!("first seen on {d} (no install date)"),
            Self::Evaluation(d) => {
                format!("no install date or first sighting: read as of the evaluation date {d}")
            }
            Self::Purchase(d) => format!("bought on {d}"),
        }
    }

    /// Whether the date is the device's own (not the evaluation date standing in).
    pub fn is_own(self) -> bool {
        !matches!(self, Self::Evaluation(_))
    }

    /// Whether a change of maker near the date leaves it open. Not for a purchase: what is
    /// bought is judged by who the brand belongs to on the purchase date (the procurement gate
    /// still asks the supplier to confirm the manufacturer).
    fn near_change_matters(self) -> bool {
        !matches!(self, Self::Purchase(_))
    }
}

/// What a maker claim rests on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FactKind {
    /// An OEM link naming the model.
    OemModel,
    /// An OEM link for the whole brand.
    OemBrand,
    /// The brand's owner.
    Owner,
}

/// One fact naming a maker for a brand.
#[derive(Debug, Clone, PartialEq)]
pub struct MakerFact {
    /// Knowledge-base company id.
    pub company: String,
    pub kind: FactKind,
    pub confidence: Confidence,
    /// False when no public source confirms it (`unverified = true` in the knowledge base).
    pub verified: bool,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    /// The fact in a sentence, e.g. "brand Lorex (all models) is made by Dahua from 2018-06-01
    /// until 2022-11-24 (OEM link, strong confidence)".
    pub text: String,
    pub source: String,
    /// Where the fact is written: `kb/brands/oem.toml:116` (an OEM link) or the brand's entry
    /// (an owner period).
    pub location: String,
}

/// Who made a device of a brand, with the facts used.
#[derive(Debug, Clone, PartialEq)]
pub struct Attribution {
    /// Knowledge-base brand id.
    pub brand: String,
    pub basis: DateBasis,
    /// The maker on the basis date, and the fact it rests on (`None`: nothing known then).
    pub maker: Option<MakerFact>,
    /// Other candidates on that date naming another maker (weaker, or outranked), kept for the
    /// reasons.
    pub others: Vec<MakerFact>,
    /// Makers that could apply because the date does not settle it (no device date, or a date
    /// near a change): each with the fact naming it. Empty when the date settles the maker.
    pub could_be: Vec<MakerFact>,
}

impl Attribution {
    /// Periods that disagree could apply: someone must look (needs inspection).
    pub fn ambiguous(&self) -> bool {
        !self.could_be.is_empty()
    }

    /// The maker's company id, if one is named.
    pub fn maker_id(&self) -> Option<&str> {
        self.maker.as_ref().map(|m| m.company.as_str())
    }
}

fn period(from: Option<NaiveDate>, to: Option<NaiveDate>) -> String {
    match (from, to) {
        (Some(f), Some(t)) => format!(" from {f} until {t}"),
        (Some(f), None) => format!(" since {f}"),
        (None, Some(t)) => format!(" until {t}"),
        (None, None) => String::new(),
    }
}

impl Kb {
    fn company_short(&self, id: &str) -> String {
        self.company(id)
            .map(|c| c.short.clone())
            .unwrap_or_else(|| id.to_string())
    }

    /// Every candidate fact for `brand` (and `model`) on `date`, best first by the rule of this
    /// module.
    fn maker_candidates(&self, b: &Brand, model: Option<&str>, date: NaiveDate) -> Vec<MakerFact> {
        let mut out: Vec<MakerFact> = Vec::new();
        let brand_location = self
            .location("brand", &b.id)
            .map(|l| l.to_string())
            .unwrap_or_else(|| "kb/brands".into());
        for o in self.oem_for(&b.id, model, date) {
            let location = self
                .oem_links
                .iter()
                .position(|x| std::ptr::eq(x, o))
                .and_then(|i| self.oem_locations.get(i))
                .map(|l| l.to_string())
                .unwrap_or_else(|| "kb/brands".into());
            let specific = !o.models.is_empty();
            let (from, to) = (o.from.map(|d| d.0), o.to.map(|d| d.0));
            out.push(MakerFact {
                company: o.maker.clone(),
                kind: if specific {
                    FactKind::OemModel
                } else {
                    FactKind::OemBrand
                },
                confidence: o.confidence,
                verified: !o.unverified,
                from,
                to,
                text: format!(
                    "brand {} ({}) is made by {}{} (OEM link, {} confidence{})",
                    b.name,
                    if specific {
                        format!("models {}", o.models.join(", "))
                    } else {
                        "all models".into()
                    },
                    self.company_short(&o.maker),
                    period(from, to),
                    o.confidence.as_str(),
                    if o.unverified { ", unverified" } else { "" }
                ),
                source: o.source.clone(),
                location,
            });
        }
        for o in b.owners.iter().filter(|o| o.active_on(date)) {
            let (from, to) = (o.from.map(|d| d.0), o.to.map(|d| d.0));
            out.push(MakerFact {
                company: o.company.clone(),
                kind: FactKind::Owner,
                confidence: o.confidence,
                verified: !o.unverified,
                from,
                to,
                text: format!(
                    "brand {} belongs to {}{} ({}, {} confidence{})",
                    b.name,
                    self.company_short(&o.company),
                    period(from, to),
                    o.relationship.replace('_', " "),
                    o.confidence.as_str(),
                    if o.unverified { ", unverified" } else { "" }
                ),
                source: o.source.clone(),
                location: brand_location.clone(),
            });
        }
        // Who makes, before who sells: an OEM link naming the model, then a brand-wide OEM link
        // of at least medium confidence, then the owner; a weak brand-wide link decides nothing
        // while anything else is known. Within a tier, the most confident first.
        let tier = |f: &MakerFact| match f.kind {
            FactKind::OemModel => 0,
            FactKind::OemBrand if f.confidence >= Confidence::Medium => 1,
            FactKind::Owner => 2,
            FactKind::OemBrand => 3,
        };
        out.sort_by(|a, b| tier(a).cmp(&tier(b)).then(b.confidence.cmp(&a.confidence)));
        out
    }

    /// The dates where the maker of `brand` may change: starts and ends of its OEM links and
    /// owner periods.
    fn change_dates(&self, b: &Brand) -> Vec<NaiveDate> {
        let mut d: Vec<NaiveDate> = self
            .oem_links
            .iter()
            .filter(|o| o.brand == b.id)
            .flat_map(|o| [o.from, o.to])
            .chain(b.owners.iter().flat_map(|o| [o.from, o.to]))
            .flatten()
            .map(|x| x.0)
            .collect();
        d.sort();
        d.dedup();
        d
    }

    /// Who made a device sold as `brand` (id or name), `model` if known, at the device's own
    /// date. `None` when the brand is not in the knowledge base.
    pub fn attribute_brand(
        &self,
        brand: &str,
        model: Option<&str>,
        basis: DateBasis,
    ) -> Option<Attribution> {
        let b = self.brand(brand).or_else(|| self.brand_by_name(brand))?;
        let date = basis.date();
        let mut cands = self.maker_candidates(b, model, date);
        let maker = (!cands.is_empty()).then(|| cands.remove(0));
        let others: Vec<MakerFact> = cands
            .into_iter()
            .filter(|c| maker.as_ref().is_none_or(|m| m.company != c.company))
            .collect();
        // Dates whose maker could also apply: every period (no device date), or the other side
        // of a change near the device's date.
        let changes = self.change_dates(b);
        let probe: Vec<NaiveDate> = if !basis.near_change_matters() {
            Vec::new()
        } else if basis.is_own() {
            changes
                .iter()
                .filter(|c| (**c - date).num_days().abs() <= NEAR_CHANGE_DAYS)
                .flat_map(|c| [*c - chrono::Duration::days(1), *c])
                .collect()
        } else {
            // Before the first change, and at every change up to the evaluation date.
            changes
                .iter()
                .filter(|c| **c <= date)
                .flat_map(|c| [*c - chrono::Duration::days(1), *c])
                .collect()
        };
        let mut could_be: Vec<MakerFact> = Vec::new();
        for d in probe {
            if let Some(first) = self.maker_candidates(b, model, d).into_iter().next() {
                let differs = maker.as_ref().is_none_or(|m| m.company != first.company);
                if differs && !could_be.iter().any(|c| c.company == first.company) {
                    could_be.push(first);
                }
            }
        }
        if !could_be.is_empty() {
            if let Some(m) = &maker {
                could_be.insert(0, m.clone());
            }
        }
        Some(Attribution {
            brand: b.id.clone(),
            basis,
            maker,
            others,
            could_be,
        })
    }
}
