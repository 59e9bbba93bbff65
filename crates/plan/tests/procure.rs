//! Procurement gate: rebrands, sub-brands, unknown makers, site scoping, quote parsing.

use camtrace_kb::{Kb, KbFiles};
use camtrace_model::{SensitivityCriteria, Site};
use camtrace_plan::*;
use chrono::NaiveDate;

const COMPANIES: &str = r#"
[[company]]
id = "hikvision"
name = "Hangzhou Hikvision Digital Technology Co., Ltd."
short = "Hikvision"
country = "CN"
prc_nil = "yes"
prc_nil_reason = "PRC company; CETC is the actual controller"
source = "test fixture"
as_of = 2026-01-01
[[company.list]]
list = "fcc-covered"
added = 2021-03-12
source = "FCC Covered List"
as_of = 2026-01-01

[[company]]
id = "ezviz"
name = "Hangzhou EZVIZ Network Co., Ltd."
short = "EZVIZ"
country = "CN"
parent = "hikvision"
prc_nil = "yes"
prc_nil_reason = "PRC subsidiary of Hikvision"
source = "test fixture"
as_of = 2026-01-01

[[company]]
id = "lts"
name = "LT Security Inc."
short = "LTS"
country = "US"
prc_nil = "no"
prc_nil_reason = "US reseller"
source = "test fixture"
as_of = 2026-01-01

[[company]]
id = "axis"
name = "Axis AB"
short = "Axis"
country = "SE"
prc_nil = "no"
prc_nil_reason = "Swedish company owned by Canon"
source = "test fixture"
as_of = 2026-01-01

[[company]]
id = "mystery"
name = "Mystery Co"
short = "Mystery"
country = "XX"
prc_nil = "unknown"
prc_nil_reason = "ownership not known"
source = "test fixture"
as_of = 2026-01-01
"#;

const LISTS: &str = r#"
[[list]]
id = "fcc-covered"
name = "FCC Covered List"
authority = "FCC"
jurisdiction = "US"
source = "https://www.fcc.gov/supplychain/coveredlist"
as_of = 2026-01-01
affiliates = { text = "the named companies and their subsidiaries and affiliates", source = "t", as_of = 2026-01-01 }
"#;

const BRANDS: &str = r#"
[[brand]]
id = "hikvision"
name = "Hikvision"
source = "t"
as_of = 2026-01-01
[[brand.owner]]
company = "hikvision"
relationship = "own"
confidence = "strong"
source = "t"
as_of = 2026-01-01

[[brand]]
id = "hilook"
name = "HiLook"
source = "t"
as_of = 2026-01-01
[[brand.owner]]
company = "hikvision"
relationship = "sub_brand"
confidence = "strong"
source = "hikvision.com HiLook"
as_of = 2026-01-01

[[brand]]
id = "ezviz"
name = "EZVIZ"
source = "t"
as_of = 2026-01-01
[[brand.owner]]
company = "ezviz"
relationship = "own"
confidence = "strong"
source = "t"
as_of = 2026-01-01

[[brand]]
id = "lts"
name = "LTS"
source = "t"
as_of = 2026-01-01
[[brand.owner]]
company = "lts"
relationship = "own"
confidence = "strong"
source = "t"
as_of = 2026-01-01

[[brand]]
id = "axis"
name = "Axis"
aliases = ["Axis Communications"]
source = "t"
as_of = 2026-01-01
[[brand.owner]]
company = "axis"
relationship = "own"
confidence = "strong"
source = "t"
as_of = 2026-01-01

[[brand]]
id = "mystery"
name = "Mystery"
source = "t"
as_of = 2026-01-01
[[brand.owner]]
company = "mystery"
relationship = "own"
confidence = "weak"
source = "t"
as_of = 2026-01-01

[[oem]]
brand = "lts"
maker = "hikvision"
models = ["CMIP*"]
confidence = "medium"
source = "IPVM Hikvision OEM directory"
as_of = 2026-01-01
"#;

fn kb() -> Kb {
    let mut f = KbFiles::default();
    f.insert("companies/c.toml", COMPANIES);
    f.insert("lists.toml", LISTS);
    f.insert("brands/b.toml", BRANDS);
    Kb::load(&f).unwrap()
}

fn uk() -> FactRule {
    FactRule {
        regime: "uk-2022-sensitive-sites".into(),
        title: "UK WMS 24 Nov 2022".into(),
        prc_nil: true,
        lists: vec![],
        sensitive_sites_only: true,
        citation: "no deployment onto sensitive sites".into(),
    }
}

fn us() -> FactRule {
    FactRule {
        regime: "us-fcc-covered".into(),
        title: "FCC Covered List".into(),
        prc_nil: false,
        lists: vec!["fcc-covered".into()],
        sensitive_sites_only: false,
        citation: String::new(),
    }
}

fn sites() -> Vec<Site> {
    vec![
        Site {
            id: "hq".into(),
            organisation: "o".into(),
            name: "Head Office".into(),
            address: None,
            criteria: SensitivityCriteria {
                ministerial_use: true,
                ..Default::default()
            },
            classification: None,
            government_building: true,
            tags: vec![],
        },
        Site {
            id: "depot".into(),
            organisation: "o".into(),
            name: "Depot".into(),
            address: None,
            criteria: SensitivityCriteria::default(),
            classification: None,
            government_building: false,
            tags: vec![],
        },
    ]
}

fn day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 29).unwrap()
}

fn check(csv: &str, rules: &[&dyn MakerRule]) -> QuoteCheck {
    let lines = parse_quote(csv.as_bytes()).unwrap();
    let cat = Catalogue::load(&KbFiles::embedded()).unwrap();
    check_quote(&kb(), rules, Some(&cat), &sites(), &lines, day())
}

const QUOTE: &str = "supplier,brand,model,sku,quantity,site
Acme Security,LTS,CMIP3042,,4,hq
Acme Security,HiLook,IPC-B120H,,2,hq
Acme Security,EZVIZ,C6N,,1,hq
Acme Security,Axis,P3265-LVE,,10,hq
Acme Security,Nonesuch,X1,,1,hq
Acme Security,LTS,LTN8704,,1,hq
Acme Security,Mystery,M1,,1,hq
";

#[test]
fn rebrands_sub_brands_and_unknowns_on_a_sensitive_site() {
    let uk = uk();
    let q = check(QUOTE, &[&uk]);
    let v: Vec<Verdict> = q.lines.iter().map(|l| l.verdict).collect();
    assert_eq!(
        v,
        vec![
            Verdict::Blocked, // LTS CMIP* -> Hikvision via OEM link
            Verdict::Blocked, // HiLook -> Hikvision sub-brand
            Verdict::Blocked, // EZVIZ -> subsidiary, PRC NIL
            Verdict::Allowed, // Axis
            Verdict::Inquiry, // unknown brand
            Verdict::Allowed, // LTS model not covered by the OEM link: LTS itself
            Verdict::Inquiry, // maker with unknown NIL status
        ]
    );
    assert_eq!(q.verdict, Verdict::Blocked);
    assert_eq!((q.blocked, q.inquiry, q.allowed), (3, 2, 2));
    // Lines are named by their file line (the header is line 1).
    assert_eq!(
        q.lines.iter().map(|l| l.line.line).collect::<Vec<_>>(),
        (2..=8).collect::<Vec<_>>()
    );
    let lts = &q.lines[0];
    assert_eq!(lts.maker.as_ref().unwrap().id, "hikvision");
    assert!(
        lts.chain
            .iter()
            .any(|c| c.contains("OEM link") && c.contains("CMIP*") && c.contains("Hikvision")),
        "{:?}",
        lts.chain
    );
    assert!(lts.reason_text().contains("National Intelligence Law"));
    assert!(
        q.lines[1]
            .chain
            .iter()
            .any(|c| c.contains("HiLook belongs to Hikvision (sub brand")),
        "{:?}",
        q.lines[1].chain
    );
    assert!(q.lines[4]
        .reason_text()
        .contains("not in the knowledge base"));
    assert_eq!(q.lines[3].approved.as_deref(), Some("axis-p3265-lve"));
}

#[test]
fn sensitive_only_regime_does_not_apply_to_an_ordinary_site_but_list_regime_does() {
    let csv = "brand,model,quantity,destination\nHiLook,IPC-B120H,2,Depot\n";
    let uk = uk();
    let q = check(csv, &[&uk]);
    assert_eq!(q.lines[0].verdict, Verdict::Allowed);
    assert!(q.lines[0].reason_text().contains("not applicable"));
    let us = us();
    let q = check(csv, &[&uk, &us]);
    assert_eq!(q.lines[0].verdict, Verdict::Blocked);
    assert!(q.lines[0]
        .reason_text()
        .contains("FCC Covered List since 2021-03-12"));
}

#[test]
fn subsidiary_is_caught_through_its_parent_on_a_list() {
    let us = us();
    let q = check("brand,model,qty,site\nEZVIZ,C6N,1,depot\n", &[&us]);
    assert_eq!(q.lines[0].verdict, Verdict::Blocked);
    assert!(
        q.lines[0].reason_text().contains("via parent Hikvision"),
        "{}",
        q.lines[0].reason_text()
    );
}

#[test]
fn list_membership_respects_the_date() {
    let us = us();
    let lines = parse_quote(b"brand,model\nHikvision,DS-2CD2143G0-I\n").unwrap();
    let before = check_quote(
        &kb(),
        &[&us],
        None,
        &[],
        &lines,
        NaiveDate::from_ymd_opt(2020, 1, 1).unwrap(),
    );
    assert_eq!(before.lines[0].verdict, Verdict::Allowed);
    let after = check_quote(&kb(), &[&us], None, &[], &lines, day());
    assert_eq!(after.lines[0].verdict, Verdict::Blocked);
}

#[test]
fn json_quotes_parse_like_csv() {
    let json = r#"{"lines": [{"supplier": "Acme", "brand": "LTS", "model": "CMIP3042", "quantity": 4, "site": "hq"},
                             {"brand": "Axis", "sku": "P3265-LVE", "quantity": "2"}]}"#;
    let lines = parse_quote(json.as_bytes()).unwrap();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0].quantity, 4);
    assert_eq!(lines[1].quantity, 2);
    assert_eq!(lines[1].sku, "P3265-LVE");
    let uk = uk();
    let q = check_quote(&kb(), &[&uk], None, &sites(), &lines, day());
    assert_eq!(q.lines[0].verdict, Verdict::Blocked);
    // Unknown destination: treated as sensitive (conservative).
    assert_eq!(q.lines[1].verdict, Verdict::Allowed);
}

#[test]
fn bad_quotes_are_clear_errors() {
    assert!(parse_quote(b"foo,bar\n1,2\n")
        .unwrap_err()
        .to_string()
        .contains("brand"));
    assert!(parse_quote(b"brand,quantity\nAxis,many\n")
        .unwrap_err()
        .to_string()
        .contains("quantity `many`"));
    assert!(parse_quote(b"[1,2]")
        .unwrap_err()
        .to_string()
        .contains("not an object"));
    let big = vec![b' '; MAX + 1];
    assert!(parse_quote(&big).is_err());
}

const MAX: usize = camtrace_plan::procure::MAX_QUOTE_BYTES;

#[test]
fn policy_regimes_drive_the_gate() {
    let policies = match camtrace_policy::PolicySet::load(&KbFiles::embedded()) {
        Ok(p) => p,
        Err(e) => panic!("embedded policies do not load: {e}"),
    };
    let Some(regime) = policies.get("uk-2022-sensitive-sites") else {
        panic!("uk-2022-sensitive-sites regime missing");
    };
    let orgs = vec![camtrace_model::Organisation {
        id: "o".into(),
        name: "Dept".into(),
        parent: None,
        kind: Some("central_government".into()),
        country: Some("GB".into()),
    }];
    let rule = RegimeRule::new(regime, &orgs);
    let lines = parse_quote(
        b"brand,model,qty,site\nLTS,CMIP3042,2,hq\nLTS,CMIP3042,2,depot\nAxis,P3265-LVE,1,hq\n",
    )
    .unwrap();
    let q = check_quote(&kb(), &[&rule], None, &sites(), &lines, day());
    assert_eq!(q.lines[0].verdict, Verdict::Blocked, "{:?}", q.lines[0]);
    assert!(
        q.lines[0].reason_text().contains("no-new-deployment"),
        "{}",
        q.lines[0].reason_text()
    );
    assert_eq!(
        q.lines[1].verdict,
        Verdict::Allowed,
        "depot is not sensitive"
    );
    assert_eq!(q.lines[2].verdict, Verdict::Allowed);
}

/// Issue 16: the quote from the first-hour review. The unbalanced quote swallowed the Hikvision
/// line, which was never checked, and the file passed.
#[test]
fn unbalanced_quote_rejects_the_quote_with_its_line() {
    let q = "supplier,brand,model,quantity,site\nAcme,\"Axis,P3265-LVE,6,dfe-hq\nAcme,Hikvision,DS-2CD2143G0-I,1,dfe-hq\n";
    let e = parse_quote(q.as_bytes()).unwrap_err().to_string();
    assert!(e.contains("line 2") && e.contains("never closed"), "{e}");
    // A quote closed on a later line is no better: the field would span lines.
    let q = "brand,model,quantity,site\n\"Axis,P3265-LVE\nHikvision\",DS-2CD2143G0-I,1,hq\n";
    let e = parse_quote(q.as_bytes()).unwrap_err().to_string();
    assert!(e.contains("line 2") && e.contains("spans lines"), "{e}");
}

#[test]
fn unknown_column_rejects_the_quote_instead_of_defaulting() {
    let e = parse_quote(b"brand,model,count,site\nHikvision,DS-2CD2143G0-I,40,hq\n")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("line 1") && e.contains("unknown column `count`"),
        "{e}"
    );
    let e = parse_quote(br#"[{"brand":"Hikvision","count":40}]"#)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("line 1") && e.contains("unknown field `count`"),
        "{e}"
    );
    let e = parse_quote(b"brand,qty,quantity\nAxis,1,2\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("repeats"), "{e}");
}

#[test]
fn row_with_more_fields_than_the_header_is_rejected_with_its_line() {
    let e = parse_quote(b"brand,model,quantity\nAxis,P1,1\nLTS,CMIP3042,1,200\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("line 3") && e.contains("4 fields"), "{e}");
}

#[test]
fn line_without_destination_is_judged_as_if_for_a_sensitive_site_and_says_so() {
    let policies = camtrace_policy::PolicySet::load(&KbFiles::embedded()).unwrap();
    let regime = policies.get("uk-2022-sensitive-sites").unwrap();
    let orgs = vec![camtrace_model::Organisation {
        id: "o".into(),
        name: "Dept".into(),
        parent: None,
        kind: Some("central_government".into()),
        country: Some("GB".into()),
    }];
    let mut rule = RegimeRule::new(regime, &orgs);
    rule.default_org = orgs.first();
    let lines = parse_quote(b"brand,model,site\nLTS,CMIP3042,\nLTS,CMIP3042,nowhere\n").unwrap();
    let q = check_quote(&kb(), &[&rule], None, &sites(), &lines, day());
    for l in &q.lines {
        let text = l.reason_text();
        assert_eq!(l.verdict, Verdict::Blocked, "{text}");
        assert!(text.contains("as if for a sensitive site"), "{text}");
        assert!(
            !text.contains("SECRET") && !text.contains("source: site register"),
            "criteria no register gave: {text}"
        );
    }
    assert!(q.lines[0].reason_text().contains("no destination given"));
    assert!(q.lines[1]
        .reason_text()
        .contains("`nowhere` is not a registered site"));
}
