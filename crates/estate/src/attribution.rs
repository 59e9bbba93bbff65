//! Who made a registered device, as the register says it: the register's maker, else the maker
//! its brand resolves to through the knowledge base on `date` (rebrands included). Reconcile and
//! the report read the register with this one function.

use camtrace_kb::Kb;
use camtrace_model::Device;
use chrono::NaiveDate;

/// The knowledge-base company id the register's maker or brand names, on `date`.
pub fn register_maker(kb: &Kb, d: &Device, date: NaiveDate) -> Option<String> {
    if let Some(m) = &d.maker {
        return Some(
            kb.company_by_name(m)
                .map(|c| c.id.clone())
                .unwrap_or_else(|| m.to_ascii_lowercase()),
        );
    }
    let brand = kb.brand_by_name(d.brand.as_deref()?)?;
    if let Some(o) = kb.oem_for(&brand.id, d.model.as_deref(), date).first() {
        return Some(o.maker.clone());
    }
    kb.brand_owner_on(&brand.id, date)
        .map(|o| o.company.clone())
}
