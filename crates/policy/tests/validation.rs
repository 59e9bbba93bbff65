//! Loading user regime files: every mistake is reported with its file and line.

use camtrace_kb::KbFiles;
use camtrace_policy::PolicySet;

const GOOD: &str = r#"
[regime]
id = "my-regime"
title = "Mine"
jurisdiction = "GB"
effective = 2024-01-01
source = "internal policy 7"
as_of = 2026-11-28
citation = { url = "https://intranet.example/policy-7", text = "no PRC-NIL cameras" }

[[rule]]
id = "no-nil"
title = "No PRC-NIL cameras anywhere"
when = 'maker.prc_nil == "yes"'
obligation = "remove_by"
due = 2026-12-31
severity = "low"
source = "internal policy 7"
as_of = 2026-11-28
citation = { url = "https://intranet.example/policy-7", text = "no PRC-NIL cameras" }
"#;

fn load_one(text: &str) -> Result<PolicySet, String> {
    let mut f = KbFiles::default();
    f.insert("policies/mine.toml", text);
    PolicySet::load(&f).map_err(|e| e.to_string())
}

#[test]
fn a_user_regime_loads() {
    let set = load_one(GOOD).unwrap();
    let r = set.get("my-regime").unwrap();
    assert_eq!(r.rules[0].location, "policies/mine.toml:11");
    assert!(!r.opt_in);
    assert_eq!(r.min_confidence, 0.5);
}

#[test]
fn user_regime_overlays_the_embedded_ones() {
    let mut f = KbFiles::embedded();
    f.insert("policies/mine.toml", GOOD);
    let set = PolicySet::load(&f).unwrap();
    assert!(set.get("my-regime").is_some());
    assert!(set.get("uk-2022-sensitive-sites").is_some());
}

fn expect_err(text: &str, want: &[&str]) {
    let e = load_one(text).unwrap_err();
    for w in want {
        assert!(e.contains(w), "error lacks `{w}`:\n{e}");
    }
}

#[test]
fn bad_cel_is_reported_with_file_and_line() {
    expect_err(
        &GOOD.replace(
            r#"when = 'maker.prc_nil == "yes"'"#,
            r#"when = 'maker.prc_nil == '"#,
        ),
        &["policies/mine.toml:14", "rule `no-nil`: when: bad CEL"],
    );
}

#[test]
fn unknown_variable_is_reported() {
    expect_err(
        &GOOD.replace(
            r#"when = 'maker.prc_nil == "yes"'"#,
            r#"when = 'vendor.prc_nil == "yes"'"#,
        ),
        &["policies/mine.toml:14", "unknown variable `vendor`"],
    );
}

#[test]
fn unknown_field_is_reported() {
    expect_err(
        &GOOD.replace(
            r#"when = 'maker.prc_nil == "yes"'"#,
            r#"when = 'maker.prc_nill == "yes"'"#,
        ),
        &["policies/mine.toml:14", "prc_nill"],
    );
}

#[test]
fn non_boolean_is_reported() {
    expect_err(
        &GOOD.replace(
            r#"when = 'maker.prc_nil == "yes"'"#,
            r#"when = 'maker.prc_nil'"#,
        ),
        &["must yield true or false"],
    );
}

#[test]
fn scope_cannot_read_the_maker() {
    expect_err(
        &GOOD.replace("[[rule]]\n", "[[rule]]\nscope = 'maker.known'\n"),
        &["scope: unknown variable `maker`"],
    );
}

#[test]
fn remove_by_needs_a_due_date() {
    expect_err(
        &GOOD.replace("due = 2026-12-31\n", ""),
        &["policies/mine.toml:11", "needs a `due` date"],
    );
}

#[test]
fn missing_source_and_unknown_fields_are_reported() {
    expect_err(&GOOD.replace("source = \"internal policy 7\"\nas_of = 2026-11-28\ncitation = { url = \"https://intranet.example/policy-7\", text = \"no PRC-NIL cameras\" }\n\n[[rule]]", "as_of = 2026-11-28\ncitation = { url = \"https://intranet.example/policy-7\", text = \"no PRC-NIL cameras\" }\n\n[[rule]]"), &["policies/mine.toml", "source"]);
    expect_err(
        &GOOD.replace(
            "severity = \"low\"",
            "severity = \"low\"\nseverity_hint = 1",
        ),
        &["policies/mine.toml:", "severity_hint"],
    );
    expect_err(
        &GOOD.replace("severity = \"low\"", "severity = \"dire\""),
        &["policies/mine.toml:", "dire"],
    );
    expect_err(
        &GOOD
            .replace("classification", "x")
            .replace("[[rule]]\n", "[[rule]]\nclasses = [\"toaster\"]\n"),
        &["unknown device class `toaster`"],
    );
}

#[test]
fn duplicate_ids_are_reported() {
    let mut f = KbFiles::default();
    f.insert("policies/a.toml", GOOD);
    f.insert("policies/b.toml", GOOD);
    let e = PolicySet::load(&f).unwrap_err().to_string();
    assert!(e.contains("regime id `my-regime` is defined twice"), "{e}");
}
