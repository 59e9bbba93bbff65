//! Verification state in the data: every entry that says it is unverified carries the flag, the
//! loader refuses one that does not, and list memberships reach subsidiaries only where the
//! list's own wording covers them.

use camtrace_kb::{Kb, KbFiles};
use chrono::NaiveDate;

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn lists_of(kb: &Kb, company: &str, date: &str) -> Vec<String> {
    kb.lists_on(company, d(date))
        .into_iter()
        .map(|(_, m)| m.list.clone())
        .collect()
}

#[test]
fn embedded_base_counts_its_unverified_entries() {
    let kb = Kb::embedded().unwrap();
    let v = kb.verification_summary();
    assert!(v.entries > 300, "{}", v.entries);
    // The shipped base has entries no public source confirms; they are flagged, not hidden.
    assert!(v.unverified.len() >= 40, "{:?}", v.unverified);
    assert!(!v.partial.is_empty());
    assert!(v
        .unverified
        .iter()
        .any(|l| l == "signature dahua-onvif-manufacturer"));
    assert!(v
        .unverified
        .iter()
        .any(|l| l.starts_with("OEM link cp-plus -> dahua")));
    // Every entry whose source begins "unverified" carries the flag (the loader enforces it;
    // this checks the flag is what the summary counts).
    for c in &kb.companies {
        if c.source.to_lowercase().starts_with("unverified") {
            assert!(c.unverified, "{}", c.id);
        }
    }
    for s in &kb.signatures {
        if s.source.to_lowercase().starts_with("unverified") {
            assert!(s.unverified, "{}", s.id);
        }
    }
}

const ACME: &str = r#"
[[company]]
id = "acme"
name = "Acme Ltd"
short = "Acme"
country = "GB"
prc_nil = "no"
prc_nil_reason = "UK company"
source = "SRC"
as_of = 2026-01-01
"#;

#[test]
fn an_unverified_source_without_the_flag_is_refused_with_file_and_line() {
    let mut files = KbFiles::default();
    files.insert(
        "companies/x.toml",
        ACME.replace("SRC", "unverified: no public primary source located"),
    );
    let text = Kb::load(&files).unwrap_err().to_string();
    assert!(text.contains("companies/x.toml:2"), "{text}");
    assert!(text.contains("company `acme`"), "{text}");
    assert!(text.contains("lacks `unverified = true`"), "{text}");

    // With the flag it loads, and the entry counts as unverified.
    files.insert(
        "companies/x.toml",
        ACME.replace(
            "source = \"SRC\"",
            "unverified = true\nsource = \"unverified: no public primary source located\"",
        ),
    );
    let kb = Kb::load(&files).unwrap();
    assert_eq!(kb.verification_summary().unverified, vec!["company acme"]);
    assert!(!kb.prc_nil_verified("acme"));
}

#[test]
fn a_note_that_says_unverified_needs_a_flag_and_named_fields_must_exist() {
    let mut files = KbFiles::default();
    let text = ACME.replace(
        "source = \"SRC\"",
        "parent_note = \"Owned by a trust (unverified)\"\nsource = \"Companies House\"",
    );
    files.insert("companies/x.toml", text.clone());
    let err = Kb::load(&files).unwrap_err().to_string();
    assert!(
        err.contains("`parent_note` says something is unverified"),
        "{err}"
    );

    files.insert(
        "companies/x.toml",
        text.replace(
            "source = \"Companies House\"",
            "unverified_fields = [\"owner\"]\nsource = \"Companies House\"",
        ),
    );
    let err = Kb::load(&files).unwrap_err().to_string();
    assert!(
        err.contains("names `owner`, which the entry does not have"),
        "{err}"
    );

    files.insert(
        "companies/x.toml",
        text.replace(
            "source = \"Companies House\"",
            "unverified_fields = [\"parent_note\"]\nsource = \"Companies House\"",
        ),
    );
    let kb = Kb::load(&files).unwrap();
    // Only the ownership note is unconfirmed: the NIL answer still rests on sourced facts.
    assert!(kb.prc_nil_verified("acme"));
    assert_eq!(
        kb.verification_summary().partial,
        vec!["company acme (parent_note)"]
    );
}

#[test]
fn bis_entity_list_membership_is_not_passed_down_to_subsidiaries() {
    let kb = Kb::embedded().unwrap();
    // Hikvision is on the Entity List itself; EZVIZ, its subsidiary, is not named in an entry.
    assert!(lists_of(&kb, "hikvision", "2026-11-28").contains(&"bis-entity".to_string()));
    assert!(!lists_of(&kb, "ezviz", "2026-11-28").contains(&"bis-entity".to_string()));
    // NDAA 889 and the FCC Covered List cover "any subsidiary or affiliate": EZVIZ inherits them,
    // and the reason carries the list's wording.
    let details = kb.membership_details("ezviz", d("2026-11-28"));
    let ndaa = details
        .iter()
        .find(|m| m.membership.list == "ndaa-889")
        .expect("NDAA 889 reaches EZVIZ through Hikvision");
    assert_eq!(ndaa.holder.id, "hikvision");
    assert!(ndaa
        .inherited_by
        .unwrap()
        .text
        .contains("any subsidiary or affiliate of such entities"));
    assert!(details.iter().any(|m| m.membership.list == "fcc-covered"));
    // kb show says the same.
    let e = kb.explain_company("ezviz", d("2026-11-28")).unwrap();
    assert!(!e.lists_active.iter().any(|l| l.list == "bis-entity"));
    assert!(e
        .lists_active
        .iter()
        .any(|l| l.list == "ndaa-889" && l.inherited_by.is_some()));
}

#[test]
fn a_membership_through_an_unverified_parent_link_is_not_a_fact() {
    let mut files = KbFiles::default();
    files.insert(
        "companies/x.toml",
        format!(
            "{}{}",
            ACME.replace("SRC", "register")
                .replace("id = \"acme\"", "id = \"parentco\"")
                .replace("short = \"Acme\"", "short = \"ParentCo\"")
                .replace("as_of = 2026-01-01", "as_of = 2026-01-01\n\n[[company.list]]\nlist = \"l\"\nadded = 2020-01-01\nsource = \"register\"\nas_of = 2026-01-01"),
            ACME.replace(
                "source = \"SRC\"",
                "parent = \"parentco\"\nunverified_fields = [\"parent\"]\nsource = \"register\"",
            )
        ),
    );
    files.insert(
        "lists.toml",
        "[[list]]\nid = \"l\"\nname = \"L\"\nauthority = \"A\"\njurisdiction = \"US\"\nsource = \"s\"\nas_of = 2026-01-01\naffiliates = { text = \"and its subsidiaries\", source = \"s\", as_of = 2026-01-01 }\n",
    );
    let kb = Kb::load(&files).unwrap();
    assert_eq!(lists_of(&kb, "parentco", "2026-01-01"), vec!["l"]);
    // The parent link is unconfirmed: the membership is shown, flagged, never a fact.
    assert!(lists_of(&kb, "acme", "2026-01-01").is_empty());
    let m = kb.membership_details("acme", d("2026-01-01"));
    assert_eq!(m.len(), 1);
    assert!(!m[0].verified);
}
