//! The one attribution rule (`Kb::attribute_brand`) on the built-in knowledge base: a brand's
//! maker at the device's own date, and "could be either" where the date does not settle it.

use camtrace_kb::{DateBasis, Kb, KbFiles};
use chrono::NaiveDate;

fn kb() -> Kb {
    Kb::load(&KbFiles::embedded()).expect("embedded knowledge base")
}

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

#[test]
fn lorex_is_read_at_the_install_date() {
    let kb = kb();
    let a = kb
        .attribute_brand(
            "Lorex",
            Some("LNB8005"),
            DateBasis::Installed(d("2020-06-01")),
        )
        .unwrap();
    assert_eq!(a.maker_id(), Some("dahua"), "{a:#?}");
    assert!(!a.ambiguous(), "{a:#?}");
    let a = kb
        .attribute_brand(
            "Lorex",
            Some("LNB8005"),
            DateBasis::Installed(d("2016-03-01")),
        )
        .unwrap();
    assert_ne!(
        a.maker_id(),
        Some("dahua"),
        "pre-2018 Lorex is not Dahua's: {a:#?}"
    );
    assert!(!a.ambiguous(), "{a:#?}");
}

#[test]
fn no_device_date_never_clears_silently() {
    let kb = kb();
    let a = kb
        .attribute_brand("lorex", None, DateBasis::Evaluation(d("2026-12-02")))
        .unwrap();
    assert!(a.ambiguous(), "{a:#?}");
    let makers: Vec<&str> = a.could_be.iter().map(|m| m.company.as_str()).collect();
    assert!(makers.contains(&"dahua"), "{makers:?}");
    assert_eq!(a.could_be[0].company, a.maker_id().unwrap());
}

#[test]
fn a_date_near_a_change_of_owner_is_ambiguous() {
    let kb = kb();
    let a = kb
        .attribute_brand("Lorex", None, DateBasis::Installed(d("2022-10-15")))
        .unwrap();
    assert_eq!(a.maker_id(), Some("dahua"));
    assert!(a.ambiguous(), "{a:#?}");
    let far = kb
        .attribute_brand("Lorex", None, DateBasis::Installed(d("2024-06-01")))
        .unwrap();
    assert!(!far.ambiguous(), "{far:#?}");
}

#[test]
fn a_brand_whose_maker_never_changed_is_settled_without_a_date() {
    let kb = kb();
    let a = kb
        .attribute_brand(
            "Hikvision",
            Some("DS-2CD2143G0-I"),
            DateBasis::Evaluation(d("2026-12-02")),
        )
        .unwrap();
    assert_eq!(a.maker_id(), Some("hikvision"));
    assert!(!a.ambiguous(), "{a:#?}");
    assert!(kb
        .attribute_brand(
            "No Such Brand",
            None,
            DateBasis::Evaluation(d("2026-12-02"))
        )
        .is_none());
}
