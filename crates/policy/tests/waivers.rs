//! Waivers: waived findings stay listed; expired and revoked waivers leave the finding open with
//! a reason; adding waivers never adds or removes findings (property test). Also: evaluating
//! devices together gives the same findings as evaluating each alone (the cache is sound).

mod common;
use common::*;

use camtrace_model::{DeviceClass, DeviceStatus, SensitivityCriteria};
use camtrace_policy::{evaluate, EvalContext, FindingStatus, Step};
use proptest::prelude::*;

fn one_device() -> Vec<camtrace_policy::DeviceFacts> {
    let o = org("o1", "central_government", "GB");
    let s = site("s1", "o1", ministerial(), &[]);
    vec![facts(
        "cam-1",
        Some("hikvision"),
        None,
        1.0,
        DeviceStatus::Installed,
        &s,
        &o,
        None,
    )]
}

#[test]
fn waiver_in_force_marks_the_finding_waived_and_keeps_it() {
    let kb = kb();
    let set = policies();
    let ctx = EvalContext::new(&kb, set.defaults(), date("2025-01-10"));
    let devices = one_device();
    let plain = evaluate(&ctx, &devices, &[]);
    assert_eq!(plain.len(), 2, "{plain:#?}");
    let w = waiver(
        "w-1",
        "cam-1",
        "uk-2022-sensitive-sites/consider-removal",
        "2025-03-31",
    );
    let waived = evaluate(&ctx, &devices, &[w]);
    assert_eq!(waived.len(), plain.len());
    let f = waived
        .iter()
        .find(|f| &*f.rule_id == "consider-removal")
        .unwrap();
    assert_eq!(
        f.status,
        FindingStatus::Waived {
            waiver_id: "w-1".into(),
            expires: date("2025-03-31")
        }
    );
    assert!(f.reasons.of(Step::Waiver).any(|r| r
        .text
        .contains("waived by w-1 until 2025-03-31 (approved by j.smith")));
    // The other rule is untouched.
    let other = waived
        .iter()
        .find(|f| &*f.rule_id == "remove-by-2025-04")
        .unwrap();
    assert_eq!(other.status, FindingStatus::Open);
    // Waivers for another device or another rule do nothing.
    let stray = [
        waiver(
            "w-2",
            "cam-2",
            "uk-2022-sensitive-sites/consider-removal",
            "2030-01-01",
        ),
        waiver("w-3", "cam-1", "us-ndaa-889-b/cease-use", "2030-01-01"),
    ];
    assert_eq!(evaluate(&ctx, &devices, &stray), plain);
}

#[test]
fn waiver_expiry_boundary() {
    let kb = kb();
    let set = policies();
    let devices = one_device();
    let w = waiver(
        "w-1",
        "cam-1",
        "uk-2022-sensitive-sites/consider-removal",
        "2025-03-31",
    );
    let status_on = |d: &str| {
        let ctx = EvalContext::new(&kb, set.defaults(), date(d));
        evaluate(&ctx, &devices, std::slice::from_ref(&w))
            .into_iter()
            .find(|f| &*f.rule_id == "consider-removal")
            .unwrap()
    };
    assert!(matches!(
        status_on("2025-03-31").status,
        FindingStatus::Waived { .. }
    ));
    let after = status_on("2025-04-01");
    assert_eq!(after.status, FindingStatus::Open);
    assert!(after
        .reasons
        .of(Step::Waiver)
        .any(|r| r.text.contains("waiver w-1 expired on 2025-03-31")));
}

#[test]
fn revoked_waiver_leaves_the_finding_open_with_a_reason() {
    let kb = kb();
    let set = policies();
    let mut w = waiver(
        "w-1",
        "cam-1",
        "uk-2022-sensitive-sites/consider-removal",
        "2030-01-01",
    );
    w.revoked_at = Some("2025-01-02T10:00:00Z".into());
    w.revoked_by = Some("chief".into());
    let ctx = EvalContext::new(&kb, set.defaults(), date("2025-01-10"));
    let out = evaluate(&ctx, &one_device(), &[w]);
    let f = out
        .iter()
        .find(|f| &*f.rule_id == "consider-removal")
        .unwrap();
    assert_eq!(f.status, FindingStatus::Open);
    assert!(f
        .reasons
        .iter()
        .any(|r| r.text.contains("revoked at 2025-01-02T10:00:00Z by chief")));
}

#[test]
fn needs_inspection_can_be_waived_too() {
    let kb = kb();
    let set = policies();
    let o = org("o1", "central_government", "GB");
    let s = site("s1", "o1", ministerial(), &[]);
    let d = vec![facts(
        "x",
        None,
        None,
        0.0,
        DeviceStatus::Planned,
        &s,
        &o,
        None,
    )];
    let ctx = EvalContext::new(&kb, set.defaults(), date("2025-01-10"));
    let w = waiver(
        "w-9",
        "x",
        "uk-2022-sensitive-sites/needs-inspection",
        "2025-02-01",
    );
    let out = evaluate(&ctx, &d, &[w]);
    assert_eq!(out.len(), 1);
    assert!(matches!(out[0].status, FindingStatus::Waived { .. }));
}

const MAKERS: [Option<&str>; 7] = [
    None,
    Some("hikvision"),
    Some("dahua"),
    Some("axis"),
    Some("huawei"),
    Some("tp-link"),
    Some("ezviz"),
];
const ORGS: [(&str, &str); 5] = [
    ("central_government", "GB"),
    ("local_government", "GB"),
    ("federal_agency", "US"),
    ("contractor", "US"),
    ("defence", "AU"),
];
const STATUSES: [DeviceStatus; 4] = [
    DeviceStatus::Planned,
    DeviceStatus::Installed,
    DeviceStatus::Disconnected,
    DeviceStatus::Removed,
];

#[derive(Debug, Clone)]
struct Spec {
    maker: usize,
    org: usize,
    status: usize,
    criteria: u8,
    core: u8,
    conf: u8,
    class_unknown: bool,
    tag: bool,
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        0..7usize,
        0..5usize,
        0..4usize,
        0..16u8,
        0..3u8,
        0..10u8,
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(maker, org, status, criteria, core, conf, class_unknown, tag)| Spec {
                maker,
                org,
                status,
                criteria,
                core,
                conf,
                class_unknown,
                tag,
            },
        )
}

fn build(specs: &[Spec]) -> Vec<camtrace_policy::DeviceFacts> {
    specs
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let (kind, country) = ORGS[s.org];
            let o = org(&format!("o{}", s.org), kind, country);
            let crit = SensitivityCriteria {
                secret_or_above: s.criteria & 1 != 0,
                dv_significant: s.criteria & 2 != 0,
                ministerial_use: s.criteria & 4 != 0,
                socpa_2005: s.criteria & 8 != 0,
            };
            let tags: &[&str] = if s.tag { &["public-safety"] } else { &[] };
            let st = site(&format!("s{}", i % 3), &o.id, crit, tags);
            let n = match s.core {
                0 => None,
                1 => Some(net("n", false)),
                _ => Some(net("n", true)),
            };
            let mut f = facts(
                &format!("d{i}"),
                MAKERS[s.maker],
                None,
                f64::from(s.conf) / 10.0 + 0.05,
                STATUSES[s.status],
                &st,
                &o,
                n.as_ref(),
            );
            if s.class_unknown {
                f.device.class = DeviceClass::Unknown;
            }
            f
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn waivers_only_change_status(
        specs in proptest::collection::vec(spec(), 1..12),
        picks in proptest::collection::vec((0..40usize, 0..3u8), 0..10),
        as_of_days in 0..3000i64,
    ) {
        let kb = kb();
        let set = policies();
        let as_of = date("2019-01-01") + chrono::Duration::days(as_of_days);
        let all: Vec<&camtrace_policy::Regime> = set.regimes.iter().collect();
        let ctx = EvalContext::new(&kb, all, as_of);
        let devices = build(&specs);
        let plain = evaluate(&ctx, &devices, &[]);
        // Waivers on findings that exist (and some on ones that do not), in force or expired.
        let waivers: Vec<_> = picks.iter().enumerate().map(|(k, (i, kind))| {
            let (dev, rule) = match plain.get(*i) {
                Some(f) => (f.device_id.to_string(), f.rule_key()),
                None => (format!("d{i}"), "uk-2022-sensitive-sites/no-new-deployment".to_string()),
            };
            let expires = match kind { 0 => as_of, 1 => as_of - chrono::Duration::days(1), _ => as_of + chrono::Duration::days(30) };
            let mut w = waiver(&format!("w{k}"), &dev, &rule, "2020-01-01");
            w.expires_on = expires;
            w
        }).collect();
        let waived = evaluate(&ctx, &devices, &waivers);
        prop_assert_eq!(plain.len(), waived.len());
        for (a, b) in plain.iter().zip(&waived) {
            prop_assert_eq!((&a.device_id, &a.regime_id, &a.rule_id, a.severity, a.obligation, a.due),
                            (&b.device_id, &b.regime_id, &b.rule_id, b.severity, b.obligation, b.due));
            match (&a.status, &b.status) {
                (x, y) if x == y => {}
                (_, FindingStatus::Waived { .. }) => {}
                (x, y) => prop_assert!(false, "status changed from {:?} to {:?}", x, y),
            }
            // Reasons are only ever added (a waiver step), never removed.
            prop_assert!(b.reasons.len() >= a.reasons.len());
        }
    }

    #[test]
    fn cached_evaluation_equals_one_by_one(
        specs in proptest::collection::vec(spec(), 1..16),
        as_of_days in 0..3000i64,
    ) {
        let kb = kb();
        let set = policies();
        let as_of = date("2019-01-01") + chrono::Duration::days(as_of_days);
        let all: Vec<&camtrace_policy::Regime> = set.regimes.iter().collect();
        let ctx = EvalContext::new(&kb, all, as_of);
        let devices = build(&specs);
        let together = evaluate(&ctx, &devices, &[]);
        let alone: Vec<_> = devices.iter().flat_map(|d| evaluate(&ctx, std::slice::from_ref(d), &[])).collect();
        prop_assert_eq!(together, alone);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Devices sharing every fact but confidence and status (the cache keys collide often).
    #[test]
    fn cached_evaluation_equals_one_by_one_on_shared_keys(
        base in spec(),
        variants in proptest::collection::vec((0..10u8, 0..4usize, any::<bool>()), 2..16),
        as_of_days in 0..3000i64,
    ) {
        let kb = kb();
        let set = policies();
        let as_of = date("2019-01-01") + chrono::Duration::days(as_of_days);
        let all: Vec<&camtrace_policy::Regime> = set.regimes.iter().collect();
        let ctx = EvalContext::new(&kb, all, as_of);
        let specs: Vec<Spec> = variants
            .iter()
            .map(|(conf, status, unknown)| Spec { conf: *conf, status: *status, class_unknown: *unknown, ..base.clone() })
            .collect();
        let devices = build(&specs);
        let together = evaluate(&ctx, &devices, &[]);
        let alone: Vec<_> = devices.iter().flat_map(|d| evaluate(&ctx, std::slice::from_ref(d), &[])).collect();
        prop_assert_eq!(together, alone);
    }
}
