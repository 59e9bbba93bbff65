//! The shipped regimes over the shipped (embedded) knowledge base.

mod common;
use common::*;

use camtrace_kb::Kb;
use camtrace_model::DeviceStatus;
use camtrace_policy::{evaluate, EvalContext, FindingStatus, Step};

fn embedded() -> Kb {
    Kb::embedded().unwrap_or_else(|e| panic!("the embedded knowledge base must load: {e}"))
}

#[test]
fn lorex_before_and_after_the_sale_to_skywatch() {
    let kb = embedded();
    let set = policies();
    let fcc = set.get("us-fcc-covered-list").unwrap();
    let o = org("o", "local_government", "US");
    // The Covered List restricts purchases paid with an FCC-administered subsidy (47 U.S.C.
    // 1602), not a private buyer's own purchase: the site is tagged as subsidised.
    let s = site(
        "s",
        "o",
        Default::default(),
        &["public-safety", "fcc-subsidy"],
    );
    let d = facts(
        "lorex-1",
        None,
        Some("Lorex"),
        0.9,
        DeviceStatus::Planned,
        &s,
        &o,
        None,
    );
    let on = |day: &str| {
        evaluate(
            &EvalContext::new(&kb, vec![fcc], date(day)),
            std::slice::from_ref(&d),
            &[],
        )
    };

    let before = on("2022-11-23");
    assert_eq!(before.len(), 1, "{before:#?}");
    assert_eq!(before[0].maker.as_deref(), Some("dahua"));
    assert_eq!(before[0].status, FindingStatus::Open);
    assert!(before[0]
        .reasons
        .of(Step::List)
        .any(|r| r.text.contains("fcc-covered")));

    let after = on("2022-11-24");
    assert!(
        after.is_empty(),
        "after the sale Lorex belongs to Skywatch: {after:#?}"
    );

    // The install date decides for an installed device: one bought in Dahua's time stays Dahua's.
    let uk = set.get("uk-2022-sensitive-sites").unwrap();
    let gb = org("g", "central_government", "GB");
    let sens = site("m", "g", ministerial(), &[]);
    let mut old = facts(
        "lorex-2",
        None,
        Some("lorex"),
        0.9,
        DeviceStatus::Installed,
        &sens,
        &gb,
        None,
    );
    old.device.install_date = Some(date("2021-05-01"));
    let mut new = old.clone();
    new.device.id = "lorex-3".into();
    new.device.install_date = Some(date("2023-05-01"));
    let out = evaluate(
        &EvalContext::new(&kb, vec![uk], date("2024-01-01")),
        &[old, new],
        &[],
    );
    assert!(out.iter().all(|f| &*f.device_id == "lorex-2"), "{out:#?}");
    assert!(!out.is_empty());
    // Later Lorex devices: the weak post-sale OEM allegation is not relied on against the owner.
    let later = facts(
        "lorex-4",
        None,
        Some("lorex"),
        0.9,
        DeviceStatus::Planned,
        &s,
        &o,
        None,
    );
    let r = evaluate(
        &EvalContext::new(&kb, vec![fcc], date("2025-01-01")),
        &[later],
        &[],
    );
    assert!(r.is_empty(), "{r:#?}");
}

#[test]
fn axis_on_a_sensitive_core_site_has_no_finding_under_any_default_regime() {
    let kb = embedded();
    let set = policies();
    let o = org("g", "central_government", "GB");
    let s = site("m", "g", ministerial(), &[]);
    let n = net("core", true);
    let d = vec![
        facts(
            "axis-1",
            Some("axis"),
            Some("axis"),
            0.95,
            DeviceStatus::Installed,
            &s,
            &o,
            Some(&n),
        ),
        facts(
            "axis-2",
            Some("axis"),
            None,
            0.95,
            DeviceStatus::Planned,
            &s,
            &o,
            Some(&n),
        ),
    ];
    let out = evaluate(
        &EvalContext::new(&kb, set.defaults(), date("2026-11-28")),
        &d,
        &[],
    );
    assert!(out.is_empty(), "{out:#?}");
}

#[test]
fn rebrands_resolve_to_the_true_maker() {
    let kb = embedded();
    let set = policies();
    let uk = set.get("uk-2022-sensitive-sites").unwrap();
    let o = org("g", "central_government", "GB");
    let s = site("m", "g", ministerial(), &[]);
    let planned = |id: &str, brand: &str| {
        facts(
            id,
            None,
            Some(brand),
            0.9,
            DeviceStatus::Planned,
            &s,
            &o,
            None,
        )
    };
    // A HiLook camera (brand only): a Hikvision sub-brand (sourced), so no new deployment on a
    // sensitive site.
    let out = evaluate(
        &EvalContext::new(&kb, vec![uk], date("2026-11-28")),
        &[planned("hilook-1", "HiLook")],
        &[],
    );
    assert_eq!(out.len(), 1, "{out:#?}");
    assert_eq!(out[0].maker.as_deref(), Some("hikvision"));
    assert_eq!(&*out[0].rule_id, "no-new-deployment");
    let text: Vec<String> = out[0].reasons.iter().map(|r| r.to_string()).collect();
    let text = text.join("\n");
    assert!(
        text.contains("brand HiLook") && text.contains("made by Hikvision"),
        "{text}"
    );
    assert!(
        text.contains("subject to the PRC National Intelligence Law"),
        "{text}"
    );
    // An LTS camera (brand only): the LTS -> Hikvision OEM link is unverified (its citation
    // cannot be followed), so it points at Hikvision but cannot decide alone: needs inspection,
    // and the reason names the OEM link and says it is unverified.
    let out = evaluate(
        &EvalContext::new(&kb, vec![uk], date("2026-11-28")),
        &[planned("lts-1", "LTS")],
        &[],
    );
    assert_eq!(out.len(), 1, "{out:#?}");
    assert_eq!(out[0].maker.as_deref(), Some("hikvision"));
    assert_eq!(out[0].status, FindingStatus::NeedsInspection);
    let text: Vec<String> = out[0].reasons.iter().map(|r| r.to_string()).collect();
    let text = text.join("\n");
    assert!(
        text.contains("OEM link") && text.contains("unverified"),
        "{text}"
    );
}

#[test]
fn ezviz_is_covered_by_ndaa_889_through_its_parent() {
    let kb = embedded();
    let set = policies();
    let b = set.get("us-ndaa-889-b").unwrap();
    let o = org("c", "contractor", "US");
    let s = site("x", "c", Default::default(), &[]);
    let d = facts(
        "ez-1",
        Some("ezviz"),
        None,
        0.9,
        DeviceStatus::Installed,
        &s,
        &o,
        None,
    );
    let out = evaluate(
        &EvalContext::new(&kb, vec![b], date("2026-11-28")),
        &[d],
        &[],
    );
    assert_eq!(out.len(), 1, "{out:#?}");
    assert!(
        out[0]
            .reasons
            .of(Step::List)
            .any(|r| r.text.contains("through its parent")),
        "{:#?}",
        out[0].reasons.to_vec()
    );
}

#[test]
fn the_wire_wins_over_the_register_and_the_conflict_is_shown() {
    use camtrace_model::{Estate, Identification, NamedRef, SeenIdentification};
    let kb = embedded();
    let set = policies();
    let uk = set.get("uk-2022-sensitive-sites").unwrap();
    let o = org("g", "central_government", "GB");
    let s = site("m", "g", ministerial(), &[]);
    let mut d = device("cam-9", DeviceStatus::Planned);
    d.site = "m".into();
    d.maker = Some("axis".into());
    let mut ident = Identification::unknown("127.0.0.9");
    ident.maker = Some(NamedRef::new("hikvision", "Hikvision"));
    ident.confidence = 0.97;
    let estate = Estate {
        organisations: vec![(*o).clone()],
        sites: vec![(*s).clone()],
        devices: vec![d],
        identifications: vec![SeenIdentification {
            device_id: Some("cam-9".into()),
            site: Some("m".into()),
            scan_id: "scan-1".into(),
            seen_at: "2026-11-28T00:00:00Z".into(),
            identification: ident,
        }],
        ..Default::default()
    };
    let facts = camtrace_policy::DeviceFacts::from_estate(&estate);
    let out = evaluate(
        &EvalContext::new(&kb, vec![uk], date("2026-11-28")),
        &facts,
        &[],
    );
    assert_eq!(out.len(), 1, "{out:#?}");
    assert_eq!(out[0].maker.as_deref(), Some("hikvision"));
    assert!(out[0]
        .reasons
        .iter()
        .any(|r| r.text.contains("the register declares maker `axis`")));
}
