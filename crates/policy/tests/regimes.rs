//! Table-driven tests per shipped regime: which findings, which status, which reasons, and the
//! day before / the day of each effective date.

mod common;
use common::*;

use camtrace_model::{DeviceStatus, SensitivityCriteria};
use camtrace_policy::{evaluate, EvalContext, Finding, FindingStatus, Obligation, Step};

struct Case {
    name: &'static str,
    regime: &'static str,
    maker: Option<&'static str>,
    brand: Option<&'static str>,
    confidence: f64,
    status: DeviceStatus,
    criteria: SensitivityCriteria,
    tags: &'static [&'static str],
    org_kind: &'static str,
    country: &'static str,
    core: Option<bool>,
    as_of: &'static str,
    /// Expected (rule id, status) in order.
    expect: &'static [(&'static str, &'static str)],
    /// Texts that must appear in the reasons of the first finding.
    reasons: &'static [&'static str],
}

const NONE: SensitivityCriteria = SensitivityCriteria {
    secret_or_above: false,
    dv_significant: false,
    ministerial_use: false,
    socpa_2005: false,
};
const MIN: SensitivityCriteria = SensitivityCriteria {
    secret_or_above: false,
    dv_significant: false,
    ministerial_use: true,
    socpa_2005: false,
};
const SECRET: SensitivityCriteria = SensitivityCriteria {
    secret_or_above: true,
    dv_significant: false,
    ministerial_use: false,
    socpa_2005: false,
};

fn base() -> Case {
    Case {
        name: "",
        regime: "uk-2022-sensitive-sites",
        maker: Some("hikvision"),
        brand: None,
        confidence: 0.95,
        status: DeviceStatus::Planned,
        criteria: MIN,
        tags: &[],
        org_kind: "central_government",
        country: "GB",
        core: None,
        as_of: "2023-06-01",
        expect: &[],
        reasons: &[],
    }
}

fn run(c: &Case) -> Vec<Finding> {
    let kb = kb();
    let set = policies();
    let regime = set
        .get(c.regime)
        .unwrap_or_else(|| panic!("{}: no regime {}", c.name, c.regime));
    let o = org("o1", c.org_kind, c.country);
    let s = site("s1", "o1", c.criteria, c.tags);
    let n = c.core.map(|core| net("n1", core));
    let f = facts(
        "d1",
        c.maker,
        c.brand,
        c.confidence,
        c.status,
        &s,
        &o,
        n.as_ref(),
    );
    let ctx = EvalContext::new(&kb, vec![regime], date(c.as_of));
    evaluate(&ctx, &[f], &[])
}

fn check(c: Case) {
    let got = run(&c);
    let summary: Vec<(String, String)> = got
        .iter()
        .map(|f| (f.rule_id.to_string(), f.status.as_str().to_string()))
        .collect();
    let want: Vec<(String, String)> = c
        .expect
        .iter()
        .map(|(r, s)| (r.to_string(), s.to_string()))
        .collect();
    assert_eq!(summary, want, "case `{}`", c.name);
    if let Some(f) = got.first() {
        let all: Vec<String> = f.reasons.iter().map(|r| r.to_string()).collect();
        let joined = all.join("\n");
        for want in c.reasons {
            assert!(
                joined.contains(want),
                "case `{}`: reasons lack `{want}`:\n{joined}",
                c.name
            );
        }
        // The chain always starts with the device and its identification and ends with a rule.
        assert_eq!(
            f.reasons.iter().next().unwrap().step,
            Step::Device,
            "{}",
            c.name
        );
        assert!(
            f.reasons.of(Step::Identification).count() >= 1,
            "{}",
            c.name
        );
        assert!(f.reasons.of(Step::Rule).count() >= 1, "{}", c.name);
    }
}

#[test]
fn uk_2022_sensitive_sites() {
    let cases = vec![
        Case {
            name: "planned Hikvision on a ministerial site: no new deployment",
            expect: &[("no-new-deployment", "open")],
            reasons: &[
                "identified as made by Hikvision [hikvision]",
                "test-d1",
                "Hikvision is subject to the PRC National Intelligence Law: PRC company controlled by CETC",
                "hikvision-source",
                "the site is sensitive because it is routinely used by Ministers",
                "rule no-new-deployment of regime uk-2022-sensitive-sites",
                "produced by companies subject to the National Intelligence Law",
                // The written answer restating the WMS (HL9193), not an NPSA page.
                "eldaddp.azurewebsites.net",
            ],
            ..base()
        },
        Case {
            name: "day before the WMS: nothing",
            as_of: "2022-11-23",
            expect: &[],
            ..base()
        },
        Case {
            name: "day of the WMS",
            as_of: "2022-11-24",
            expect: &[("no-new-deployment", "open")],
            ..base()
        },
        Case {
            name: "non-sensitive site, not on a core network: nothing",
            criteria: NONE,
            expect: &[],
            ..base()
        },
        Case {
            name: "installed on a sensitive site and on the core network, before the timeline",
            status: DeviceStatus::Installed,
            criteria: SECRET,
            core: Some(true),
            as_of: "2024-04-28",
            expect: &[("disconnect-core-network", "open"), ("consider-removal", "open")],
            reasons: &[
                "the device is on a core departmental network segment",
                "disconnect such surveillance equipment from core Departmental networks",
                // Will Quince's written answer of 26 Jul 2023 ("Smart Devices: China").
                "parallelparliament.co.uk/writtenanswers",
            ],
            ..base()
        },
        Case {
            name: "installed, day the removal timeline was published: remove by April 2025",
            status: DeviceStatus::Installed,
            criteria: SECRET,
            core: Some(false),
            as_of: "2024-04-29",
            expect: &[("consider-removal", "open"), ("remove-by-2025-04", "open")],
            reasons: &["rather than awaiting any scheduled upgrades", "SECRET material"],
            ..base()
        },
        Case {
            name: "installed on a core network of a non-sensitive site: disconnect only",
            status: DeviceStatus::Installed,
            criteria: NONE,
            core: Some(true),
            expect: &[("disconnect-core-network", "open")],
            ..base()
        },
        Case {
            name: "Axis on a sensitive site: no finding",
            maker: Some("axis"),
            status: DeviceStatus::Installed,
            core: Some(true),
            expect: &[],
            ..base()
        },
        Case {
            name: "unknown maker on a sensitive site: needs inspection",
            maker: None,
            confidence: 0.0,
            expect: &[("needs-inspection", "needs_inspection")],
            reasons: &["the maker is unknown", "in scope of rules: no-new-deployment"],
            ..base()
        },
        Case {
            name: "low-confidence Hikvision on a sensitive site: needs inspection, names the rule",
            confidence: 0.3,
            expect: &[("needs-inspection", "needs_inspection")],
            reasons: &[
                "(confidence 0.30)",
                "below the regime's threshold 0.50",
                "if the identification is confirmed, these rules apply: no-new-deployment",
            ],
            ..base()
        },
        Case {
            name: "unknown maker on a non-sensitive site off the core network: nothing to inspect",
            maker: None,
            confidence: 0.0,
            criteria: NONE,
            expect: &[],
            ..base()
        },
        Case {
            name: "maker whose NIL status is unknown: needs inspection",
            maker: Some("tp-link"),
            expect: &[("needs-inspection", "needs_inspection")],
            reasons: &["if TP-Link is subject to the PRC National Intelligence Law, these rules apply: no-new-deployment"],
            ..base()
        },
        Case {
            name: "US organisation: UK regime does not apply",
            country: "US",
            expect: &[],
            ..base()
        },
        // Written answer, 9 Apr 2024: local authorities are under no obligation to follow; the
        // statement instructed departments (issue 13: the rules said "any UK organisation").
        Case {
            name: "local authority, sensitive site and core network: no obligation",
            org_kind: "local_government",
            status: DeviceStatus::Installed,
            core: Some(true),
            expect: &[],
            ..base()
        },
        Case {
            name: "local authority planning a Hikvision camera: no obligation",
            org_kind: "local_government",
            expect: &[],
            ..base()
        },
    ];
    for c in cases {
        check(c);
    }
}

#[test]
fn uk_remove_by_has_due_date_and_scheduled_upgrade_regime_uses_device_date() {
    let c = Case {
        name: "due",
        status: DeviceStatus::Installed,
        as_of: "2025-01-01",
        ..base()
    };
    let got = run(&c);
    let r = got
        .iter()
        .find(|f| &*f.rule_id == "remove-by-2025-04")
        .unwrap();
    assert_eq!(r.obligation, Obligation::RemoveBy);
    assert_eq!(r.due, Some(date("2025-04-30")));
    assert!(r.reasons.iter().any(|x| x.text.contains("by April 2025")));

    // Opt-in stricter regime: replace at the device's scheduled upgrade.
    let kb = kb();
    let set = policies();
    let g = set.get("uk-all-government-buildings").unwrap();
    let o = org("o1", "local_government", "GB");
    let s = site("s1", "o1", NONE, &[]);
    let mut f = facts(
        "d1",
        Some("dahua"),
        None,
        1.0,
        DeviceStatus::Installed,
        &s,
        &o,
        None,
    );
    f.device.scheduled_upgrade = Some(date("2027-03-31"));
    let out = evaluate(
        &EvalContext::new(&kb, vec![g], date("2026-01-01")),
        &[f],
        &[],
    );
    assert_eq!(out.len(), 1, "{out:#?}");
    assert_eq!(out[0].obligation, Obligation::ReplaceAtScheduledUpgrade);
    assert_eq!(out[0].due, Some(date("2027-03-31")));
}

#[test]
fn us_ndaa_889_a() {
    let us = |as_of, expect, maker| Case {
        name: "889a",
        regime: "us-ndaa-889-a",
        maker,
        org_kind: "federal_agency",
        country: "US",
        criteria: NONE,
        as_of,
        expect,
        reasons: &[
            "on the NDAA FY2019 section 889 covered entities [ndaa-889] since 2018-08-13",
            "ndaa-source",
        ],
        ..base()
    };
    check(us("2019-08-12", &[], Some("hikvision")));
    check(us(
        "2019-08-13",
        &[("no-procurement", "open")],
        Some("hikvision"),
    ));
    check(us("2019-08-13", &[], Some("axis")));
    check(Case {
        org_kind: "contractor",
        ..us("2021-01-01", &[], Some("hikvision"))
    });
}

#[test]
fn us_ndaa_889_b_covers_use_and_subsidiaries() {
    let c = |as_of, expect, maker| Case {
        name: "889b",
        regime: "us-ndaa-889-b",
        maker,
        status: DeviceStatus::Installed,
        org_kind: "contractor",
        country: "US",
        criteria: NONE,
        as_of,
        expect,
        ..base()
    };
    check(c("2020-08-12", &[], Some("hikvision")));
    check(c("2020-08-13", &[("cease-use", "open")], Some("hikvision")));
    check(Case {
        reasons: &[
            "EZVIZ (through its parent Hikvision) is on the NDAA",
            "whether or not the use relates to a federal contract",
        ],
        ..c("2020-08-13", &[("cease-use", "open")], Some("ezviz"))
    });
}

#[test]
fn us_fcc_covered_list_scope_by_purpose() {
    let c = |as_of, expect, maker, tags| Case {
        name: "fcc",
        regime: "us-fcc-covered-list",
        maker,
        tags,
        org_kind: "local_government",
        country: "US",
        criteria: NONE,
        as_of,
        expect,
        ..base()
    };
    // The Covered List restricts what an FCC-administered subsidy pays for (47 U.S.C. 1602),
    // not a private buyer's own purchase or use of authorised equipment.
    const SUB: &[&str] = &["fcc-subsidy"];
    const SUB_PS: &[&str] = &["fcc-subsidy", "public-safety"];
    // Scoped maker: only for a listed purpose.
    check(c("2023-01-01", &[], Some("hikvision"), SUB));
    check(c("2021-05-10", &[], Some("hikvision"), SUB_PS));
    check(Case {
        reasons: &[
            "the site is tagged: fcc-subsidy, public-safety",
            "Scoped makers (Hytera, Hikvision, Dahua) are covered only where the site is tagged",
            "listed scope: to the extent",
            "may not be used to",
        ],
        ..c(
            "2021-05-11",
            &[("no-subsidised-purchase", "open")],
            Some("hikvision"),
            SUB_PS,
        )
    });
    // Unscoped maker: wherever the subsidy pays.
    check(c(
        "2021-05-11",
        &[("no-subsidised-purchase", "open")],
        Some("huawei"),
        SUB,
    ));
    // No subsidy: before the authorisation ban nothing; after it, a low review for a planned
    // device (check its authorisation), never a ban on the buyer.
    check(c("2022-01-01", &[], Some("huawei"), &[]));
    check(Case {
        reasons: &["binds manufacturers and sellers, not the use of equipment already authorised"],
        ..c(
            "2023-02-06",
            &[("check-authorisation", "open")],
            Some("huawei"),
            &[],
        )
    });
    // Installed, no subsidy: the list does not forbid private use of authorised equipment.
    check(Case {
        status: DeviceStatus::Installed,
        ..c("2024-01-01", &[], Some("huawei"), &["public-safety"])
    });
    // Installed, subsidised: the subsidy may not pay to maintain it.
    check(Case {
        status: DeviceStatus::Installed,
        ..c(
            "2024-01-01",
            &[("no-subsidised-maintenance", "open")],
            Some("huawei"),
            SUB,
        )
    });
}

#[test]
fn au_defence_2023() {
    let c = |as_of, status, expect, maker| Case {
        name: "au",
        regime: "au-defence-2023",
        maker,
        status,
        org_kind: "defence",
        country: "AU",
        criteria: NONE,
        as_of,
        expect,
        ..base()
    };
    check(c("2023-02-08", DeviceStatus::Installed, &[], Some("dahua")));
    check(c(
        "2023-02-09",
        DeviceStatus::Installed,
        &[("remove-by-2023-06", "open")],
        Some("dahua"),
    ));
    check(c(
        "2023-02-09",
        DeviceStatus::Planned,
        &[("no-new-deployment", "open")],
        Some("ezviz"),
    ));
    check(c(
        "2023-02-09",
        DeviceStatus::Installed,
        &[],
        Some("huawei"),
    ));
    let got = run(&c(
        "2023-03-01",
        DeviceStatus::Installed,
        &[],
        Some("hikvision"),
    ));
    assert_eq!(got[0].due, Some(date("2023-06-30")));
    // The order and its completion target were Defence's: other Australian government bodies
    // are out of this regime's scope (issue 13: it was applied to every central body).
    for kind in ["central_government", "federal_agency"] {
        check(Case {
            org_kind: kind,
            ..c(
                "2023-03-01",
                DeviceStatus::Installed,
                &[],
                Some("hikvision"),
            )
        });
    }
}

#[test]
fn ca_ica_2025() {
    let c = |as_of, status, expect, maker| Case {
        name: "ca",
        regime: "ca-ica-2025",
        maker,
        status,
        org_kind: "crown_corporation",
        country: "CA",
        criteria: NONE,
        as_of,
        expect,
        ..base()
    };
    check(c(
        "2025-06-26",
        DeviceStatus::Installed,
        &[],
        Some("hikvision"),
    ));
    check(c(
        "2025-06-27",
        DeviceStatus::Installed,
        &[("cease-use", "open")],
        Some("hikvision"),
    ));
    check(c(
        "2025-06-27",
        DeviceStatus::Planned,
        &[("no-purchase", "open")],
        Some("hikvision"),
    ));
    check(c("2025-06-27", DeviceStatus::Installed, &[], Some("dahua")));
}

#[test]
fn lorex_maker_follows_the_brand_owner_on_the_date() {
    // Evaluation date decides when there is no install date (FCC regime, in force since 2021).
    let c = |as_of, expect| Case {
        name: "lorex",
        regime: "us-fcc-covered-list",
        maker: None,
        brand: Some("lorex"),
        confidence: 0.9,
        org_kind: "local_government",
        country: "US",
        tags: &["public-safety", "fcc-subsidy"],
        criteria: NONE,
        as_of,
        expect,
        reasons: &["brand Lorex belongs to Dahua", "lorex-dahua-source"],
        ..base()
    };
    check(c("2022-11-23", &[("no-subsidised-purchase", "open")]));
    check(c("2022-11-24", &[]));

    // The install date decides when known (a Lorex bought from Dahua stays a Dahua device).
    let kb = kb();
    let set = policies();
    let uk = set.get("uk-2022-sensitive-sites").unwrap();
    let o = org("o1", "central_government", "GB");
    let s = site("s1", "o1", MIN, &[]);
    let mk = |install: &str| {
        let mut f = facts(
            "d1",
            None,
            Some("Lorex"),
            0.9,
            DeviceStatus::Installed,
            &s,
            &o,
            None,
        );
        f.device.install_date = Some(date(install));
        f
    };
    let ctx = EvalContext::new(&kb, vec![uk], date("2023-06-01"));
    let before = evaluate(&ctx, &[mk("2020-06-01")], &[]);
    assert_eq!(before.len(), 1, "{before:#?}");
    assert_eq!(before[0].maker.as_deref(), Some("dahua"));
    assert!(before[0]
        .reasons
        .iter()
        .any(|r| r.text.contains("installed on 2020-06-01")));
    let after = evaluate(&ctx, &[mk("2023-04-01")], &[]);
    assert!(after.is_empty(), "{after:#?}");
    // Installed the day of the sale: which side of it the unit is on is not settled by the
    // date, so it needs inspection and the reason names both makers (issue 13).
    let near = evaluate(&ctx, &[mk("2022-11-24")], &[]);
    assert_eq!(near.len(), 1, "{near:#?}");
    assert_eq!(near[0].status, FindingStatus::NeedsInspection, "{near:#?}");
    let text: Vec<String> = near[0].reasons.iter().map(|r| r.to_string()).collect();
    let text = text.join("\n");
    assert!(text.contains("does not settle who made it"), "{text}");
}

#[test]
fn unknown_class_with_restricted_maker_needs_inspection() {
    let kb = kb();
    let set = policies();
    let uk = set.get("uk-2022-sensitive-sites").unwrap();
    let o = org("o1", "central_government", "GB");
    let s = site("s1", "o1", MIN, &[]);
    let mut f = facts(
        "d1",
        Some("hikvision"),
        None,
        0.9,
        DeviceStatus::Planned,
        &s,
        &o,
        None,
    );
    f.device.class = camtrace_model::DeviceClass::Unknown;
    let out = evaluate(
        &EvalContext::new(&kb, vec![uk], date("2023-01-01")),
        &[f],
        &[],
    );
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].status, FindingStatus::NeedsInspection);
    assert!(out[0]
        .reasons
        .iter()
        .any(|r| r.text.contains("device class is unknown")));
}

#[test]
fn removed_devices_have_no_findings() {
    let c = Case {
        name: "removed",
        status: DeviceStatus::Removed,
        expect: &[],
        ..base()
    };
    check(c);
}

/// Every shipped rule about visual surveillance equipment (cameras and recorders) covers video
/// encoders too: an encoder carries the cameras' video. No rule names its classes today, so all
/// take the default (every surveillance class); a rule that narrowed its classes to its citation
/// would show here.
#[test]
fn shipped_rules_that_cover_cameras_and_recorders_cover_encoders() {
    use camtrace_model::DeviceClass;
    let set = policies();
    let mut rules = 0;
    assert!(set.regimes.len() >= 7);
    for regime in &set.regimes {
        let id = &regime.id;
        for r in &regime.rules {
            if r.classes.contains(&DeviceClass::Camera)
                && r.classes.contains(&DeviceClass::Recorder)
            {
                assert!(
                    r.classes.contains(&DeviceClass::Encoder),
                    "{id}/{}: cameras and recorders but not encoders",
                    r.id
                );
                rules += 1;
            }
            assert!(!r.classes.contains(&DeviceClass::Other), "{id}/{}", r.id);
        }
    }
    assert!(rules >= 14, "only {rules} rules checked");
}

/// A Hikvision video encoder on a sensitive site is found exactly as a Hikvision camera is; the
/// same maker's non-surveillance device (class `other`) is not.
#[test]
fn an_encoder_gets_the_camera_findings_and_other_equipment_none() {
    use camtrace_model::DeviceClass;
    let kb = kb();
    let set = policies();
    let regime = set.get("uk-2022-sensitive-sites").unwrap();
    let o = org("o1", "central_government", "GB");
    let s = site("s1", "o1", MIN, &[]);
    let run = |class: DeviceClass| {
        let mut f = facts(
            "d1",
            Some("hikvision"),
            None,
            0.95,
            DeviceStatus::Installed,
            &s,
            &o,
            None,
        );
        f.device.class = class;
        let ctx = EvalContext::new(&kb, vec![regime], date("2025-06-01"));
        evaluate(&ctx, &[f], &[])
            .iter()
            .map(|f| (f.rule_id.to_string(), f.status.as_str().to_string()))
            .collect::<Vec<_>>()
    };
    let camera = run(DeviceClass::Camera);
    assert!(!camera.is_empty());
    assert_eq!(run(DeviceClass::Encoder), camera);
    assert!(
        run(DeviceClass::Other).is_empty(),
        "{:?}",
        run(DeviceClass::Other)
    );
}
