//! An unverified fact never decides a verdict alone: neither a "restricted" finding (open) nor a
//! clearance (no finding) rests on it. Where it would decide, the device needs inspection and
//! the reasons name the unverified fact. Each case has a control with the fact verified.

mod common;
use common::*;

use camtrace_kb::{Kb, KbFiles};
use camtrace_model::DeviceStatus;
use camtrace_policy::{evaluate, EvalContext, Finding, FindingStatus, PolicySet};

const COMPANIES: &str = r#"
[[company]]
id = "redco"
name = "Red Co"
short = "RedCo"
country = "CN"
prc_nil = "yes"
prc_nil_reason = "PRC-headquartered"
source = "register"
as_of = 2026-01-01

[[company]]
id = "blueco"
name = "Blue Co"
short = "BlueCo"
country = "GB"
prc_nil = "no"
prc_nil_reason = "UK company"
source = "register"
as_of = 2026-01-01

[[company]]
id = "listedco"
name = "Listed Co"
short = "ListedCo"
country = "GB"
prc_nil = "no"
prc_nil_reason = "UK company"
source = "register"
as_of = 2026-01-01

[[company.list]]
list = "ndaa-889"
added = 2019-01-01
source = "register"
as_of = 2026-01-01

[[company]]
id = "childco"
name = "Child Co"
short = "ChildCo"
country = "GB"
parent = "listedco"
prc_nil = "no"
prc_nil_reason = "UK company"
source = "register"
as_of = 2026-01-01
"#;

const BRANDS: &str = r#"
[[brand]]
id = "boxbrand"
name = "BoxBrand"
source = "register"
as_of = 2026-01-01

[[oem]]
brand = "boxbrand"
maker = "redco"
confidence = "strong"
source = "register"
as_of = 2026-01-01
"#;

/// The test base with `edit` applied to the (companies, brands) texts.
fn kb_with(edit: impl Fn(&str, &str) -> (String, String)) -> Kb {
    let (c, b) = edit(COMPANIES, BRANDS);
    let mut f = KbFiles::default();
    f.insert("lists.toml", LISTS);
    f.insert("companies/t.toml", c);
    f.insert("brands/t.toml", b);
    Kb::load(&f).unwrap_or_else(|e| panic!("{e}"))
}

fn unflag(c: &str, b: &str) -> (String, String) {
    (c.to_string(), b.to_string())
}

/// Mark the entry that starts with `marker` (an `id = ...` or `brand = ...` line) unverified.
fn flag(text: &str, marker: &str, flag_line: &str) -> String {
    let i = text.find(marker).unwrap_or_else(|| panic!("{marker}"));
    let j = i + text[i..].find("source = ").unwrap();
    format!("{}{flag_line}\n{}", &text[..j], &text[j..])
}

fn run(
    kb: &Kb,
    regime: &str,
    maker: Option<&str>,
    brand: Option<&str>,
    kind: &str,
    country: &str,
    status: DeviceStatus,
) -> Vec<Finding> {
    let set: PolicySet = policies();
    let r = set.get(regime).unwrap();
    let o = org("o", kind, country);
    let s = site("s", "o", ministerial(), &[]);
    let f = facts("d1", maker, brand, 0.95, status, &s, &o, None);
    let ctx = EvalContext::new(kb, vec![r], date("2026-12-01"));
    evaluate(&ctx, &[f], &[])
}

fn statuses(fs: &[Finding]) -> Vec<FindingStatus> {
    fs.iter().map(|f| f.status.clone()).collect()
}

fn reasons(fs: &[Finding]) -> String {
    fs.iter()
        .flat_map(|f| f.reasons.iter().map(|r| r.to_string()))
        .collect::<Vec<_>>()
        .join("\n")
}

fn uk(kb: &Kb, maker: Option<&str>, brand: Option<&str>) -> Vec<Finding> {
    run(
        kb,
        "uk-2022-sensitive-sites",
        maker,
        brand,
        "central_government",
        "GB",
        DeviceStatus::Planned,
    )
}

#[test]
fn unverified_oem_link_alone_does_not_restrict() {
    // Control: a verified OEM link to a PRC maker restricts.
    let fs = uk(&kb_with(unflag), None, Some("boxbrand"));
    assert!(statuses(&fs).contains(&FindingStatus::Open), "{fs:?}");

    let kb = kb_with(|c, b| {
        (
            c.to_string(),
            flag(b, "brand = \"boxbrand\"", "unverified = true"),
        )
    });
    let fs = uk(&kb, None, Some("boxbrand"));
    assert!(!fs.is_empty());
    assert!(
        fs.iter()
            .all(|f| f.status == FindingStatus::NeedsInspection),
        "{fs:?}"
    );
    let text = reasons(&fs);
    assert!(text.contains("rests on an unverified fact alone"), "{text}");
    assert!(
        text.contains("brand BoxBrand (all models) is made by RedCo"),
        "{text}"
    );
}

#[test]
fn unverified_nil_yes_alone_does_not_restrict() {
    let kb = kb_with(|c, b| {
        (
            flag(c, "id = \"redco\"", "unverified = true"),
            b.to_string(),
        )
    });
    let fs = uk(&kb, Some("redco"), None);
    assert!(!fs.is_empty());
    assert!(
        fs.iter()
            .all(|f| f.status == FindingStatus::NeedsInspection),
        "{fs:?}"
    );
    assert!(reasons(&fs).contains("entry company `redco` is marked unverified"));
}

#[test]
fn unverified_nil_no_alone_does_not_clear() {
    // Control: a verified "not subject to the NIL" clears the device (no finding).
    assert!(uk(&kb_with(unflag), Some("blueco"), None).is_empty());

    for flag_line in [
        "unverified = true",
        "unverified_fields = [\"prc_nil_reason\"]",
    ] {
        let kb = kb_with(|c, b| (flag(c, "id = \"blueco\"", flag_line), b.to_string()));
        let fs = uk(&kb, Some("blueco"), None);
        assert!(!fs.is_empty(), "{flag_line}: cleared on an unverified fact");
        assert!(
            fs.iter()
                .all(|f| f.status == FindingStatus::NeedsInspection),
            "{fs:?}"
        );
        let text = reasons(&fs);
        assert!(
            text.contains("entry company `blueco` is marked unverified"),
            "{text}"
        );
    }
    // An unconfirmed note beside sourced NIL facts does not hold the verdict up.
    let kb = kb_with(|c, b| {
        (
            flag(
                c,
                "id = \"blueco\"",
                "note = \"x\"\nunverified_fields = [\"note\"]",
            ),
            b.to_string(),
        )
    });
    assert!(uk(&kb, Some("blueco"), None).is_empty());
}

fn contractor(kb: &Kb, maker: &str) -> Vec<Finding> {
    run(
        kb,
        "us-ndaa-889-b",
        Some(maker),
        None,
        "contractor",
        "US",
        DeviceStatus::Installed,
    )
}

#[test]
fn unverified_list_membership_neither_restricts_nor_clears() {
    // Control: a verified membership restricts.
    let fs = contractor(&kb_with(unflag), "listedco");
    assert_eq!(statuses(&fs), vec![FindingStatus::Open]);

    let kb = kb_with(|c, b| {
        (
            flag(c, "list = \"ndaa-889\"", "unverified = true"),
            b.to_string(),
        )
    });
    let fs = contractor(&kb, "listedco");
    assert_eq!(
        statuses(&fs),
        vec![FindingStatus::NeedsInspection],
        "{fs:?}"
    );
    let text = reasons(&fs);
    assert!(
        text.contains("unverified fact, not relied on: ListedCo is on the NDAA"),
        "{text}"
    );
    assert!(
        text.contains("if they hold, these rules apply: cease-use"),
        "{text}"
    );
}

#[test]
fn membership_through_an_unverified_parent_link_neither_restricts_nor_clears() {
    // Control: NDAA 889 covers subsidiaries; a confirmed parent link restricts the child.
    let fs = contractor(&kb_with(unflag), "childco");
    assert_eq!(statuses(&fs), vec![FindingStatus::Open]);
    assert!(reasons(&fs).contains("the list's own wording covers subsidiaries and affiliates"));

    let kb = kb_with(|c, b| {
        (
            flag(c, "id = \"childco\"", "unverified_fields = [\"parent\"]"),
            b.to_string(),
        )
    });
    let fs = contractor(&kb, "childco");
    assert_eq!(
        statuses(&fs),
        vec![FindingStatus::NeedsInspection],
        "{fs:?}"
    );
    assert!(reasons(&fs)
        .contains("ChildCo is owned by `listedco` (the parent link is marked unverified)"));
}

/// Over the shipped knowledge base: no open finding and no clearance of a brand-only device
/// rests on an unverified OEM link or owner period alone, and no maker whose NIL answer is
/// unverified is restricted or cleared by the UK rules on it.
#[test]
fn shipped_base_no_verdict_rests_on_an_unverified_fact_alone() {
    let kb = Kb::embedded().unwrap();
    let on = date("2026-12-01");
    let mut checked = 0;
    for b in &kb.brands {
        let oem = kb.oem_for(&b.id, None, on);
        let owner = kb.brand_owner_on(&b.id, on);
        let any_verified =
            oem.iter().any(|o| !o.unverified) || owner.is_some_and(|o| !o.unverified);
        if any_verified || (oem.is_empty() && owner.is_none()) {
            continue;
        }
        checked += 1;
        let fs = uk(&kb, None, Some(&b.id));
        assert!(!fs.is_empty(), "brand {} cleared on unverified facts", b.id);
        assert!(
            fs.iter()
                .all(|f| f.status == FindingStatus::NeedsInspection),
            "brand {}: {fs:?}",
            b.id
        );
    }
    for c in &kb.companies {
        if kb.prc_nil_verified(&c.id) || c.prc_nil == camtrace_kb::Tristate::Unknown {
            continue;
        }
        checked += 1;
        let fs = uk(&kb, Some(&c.id), None);
        assert!(
            !fs.is_empty(),
            "company {} cleared on an unverified entry",
            c.id
        );
        assert!(
            fs.iter()
                .all(|f| f.status == FindingStatus::NeedsInspection),
            "company {}: {fs:?}",
            c.id
        );
    }
    assert!(checked >= 3, "{checked}");
}
