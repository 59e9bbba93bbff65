//! Who made a registered device, as the register says it: the register's maker, else the maker
//! its brand resolves to through the knowledge base on `date` (rebrands included). Reconcile and
//! the report read the register with this one function.

use camtrace_kb::Kb;
use camtrace_model::Device;
use chrono::NaiveDate;

/// The knowledge-base company id the register's maker or brand names: the declared maker, else
/// the brand's maker by the knowledge base's one rule ([`Kb::attribute_brand`]) at the device's
/// install date (else `date`).
pub fn register_maker(kb: &Kb, d: &Device, date: NaiveDate) -> Option<String> {
    if let Some(m) = &d.maker {
        return Some(
            kb.company_by_name(m)
                .map(|c| c.id.clone())
                .unwrap_or_else(|| m.to_ascii_lowercase()),
        );
    }
    let basis = camtrace_kb::DateBasis::of(d.install_date, None, date);
    kb.attribute_brand(d.brand.as_deref()?, d.model.as_deref(), basis)?
        .maker
        .map(|m| m.company)
}

/// Does a register device's maker match `want` (a knowledge-base company id or name, any
/// case)? Its declared maker, else the maker attributed from its brand ([`register_maker`] on
/// `date`): `camtrace devices --maker` and the dashboard's maker filter ask this.
pub fn maker_matches(kb: &Kb, d: &Device, date: NaiveDate, want: &str) -> bool {
    if d.maker
        .as_deref()
        .is_some_and(|m| m.eq_ignore_ascii_case(want))
    {
        return true;
    }
    let want_id = kb
        .company_by_name(want)
        .map(|c| c.id.clone())
        .unwrap_or_else(|| want.to_ascii_lowercase());
    register_maker(kb, d, date).is_some_and(|m| m.eq_ignore_ascii_case(&want_id))
}
