//! Plans over devices: actions, costs, reasons, budget.

use camtrace_kb::KbFiles;
use camtrace_model::*;
use camtrace_plan::*;
use chrono::NaiveDate;

fn day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 29).unwrap()
}

fn site(id: &str, sensitive: bool) -> Site {
    Site {
        id: id.into(),
        organisation: "org".into(),
        name: format!("Site {id}"),
        address: None,
        criteria: SensitivityCriteria {
            secret_or_above: sensitive,
            ..Default::default()
        },
        classification: None,
        government_building: true,
        tags: vec![],
    }
}

fn seg(id: &str, core: bool, internet: bool) -> NetworkSegment {
    NetworkSegment {
        id: id.into(),
        site: "x".into(),
        name: id.into(),
        cidrs: vec![],
        core,
        internet_exposed: internet,
    }
}

fn dev(id: &str, site: &str, class: DeviceClass) -> Device {
    Device {
        id: id.into(),
        site: site.into(),
        zone: None,
        network: None,
        brand: Some("hikvision".into()),
        maker: Some("hikvision".into()),
        model: Some("DS-2CD2143G0-I".into()),
        firmware: None,
        class,
        mac: None,
        addresses: vec![],
        status: DeviceStatus::Installed,
        install_date: None,
        scheduled_upgrade: Some(NaiveDate::from_ymd_opt(2029, 4, 1).unwrap()),
        cost_device: None,
        cost_labour: None,
        confidence: Some(0.95),
        notes: None,
    }
}

fn finding(obligation: &str) -> FindingRef {
    FindingRef {
        regime: "uk-2022-sensitive-sites".into(),
        rule: "remove-existing".into(),
        obligation: obligation.into(),
        reasons: vec![
            "maker Hikvision is subject to the PRC National Intelligence Law".into(),
            "site meets a sensitive-site criterion".into(),
        ],
        due: None,
    }
}

fn pd(d: Device, s: Site, net: Option<NetworkSegment>, call_home: bool) -> PlanDevice {
    PlanDevice {
        device: d,
        site: s,
        organisation: Some("Org".into()),
        network: net,
        call_home: if call_home {
            vec!["hik-connect".into()]
        } else {
            vec![]
        },
        capabilities: vec![],
        form: Some("dome".into()),
        environment: Some("outdoor".into()),
        findings: vec![finding("remove_now"), finding("disconnect_core")],
    }
}

fn estate() -> Vec<PlanDevice> {
    let mut v = Vec::new();
    for i in 0..6 {
        let s = if i < 3 {
            site("a", true)
        } else {
            site("b", false)
        };
        let net = match i % 3 {
            0 => Some(seg("core", true, false)),
            1 => Some(seg("inet", true, true)),
            _ => Some(seg("iso", false, false)),
        };
        let mut d = dev(
            &format!("d{i}"),
            &s.id.clone(),
            if i == 2 {
                DeviceClass::Recorder
            } else {
                DeviceClass::Camera
            },
        );
        if i == 4 {
            d.cost_device = Some(120.0);
            d.cost_labour = Some(30.0);
        }
        v.push(pd(d, s, net, i == 1));
    }
    // A low-confidence identification goes to review.
    let mut d = dev("low", "a", DeviceClass::Camera);
    d.confidence = Some(0.3);
    v.push(pd(d, site("a", true), None, false));
    v
}

fn load() -> (CostBook, Catalogue) {
    let f = KbFiles::embedded();
    (CostBook::load(&f).unwrap(), Catalogue::load(&f).unwrap())
}

fn opts(budget: Option<u64>) -> PlanOptions {
    let mut o = PlanOptions::new(day());
    o.budget = budget;
    o.period = Some("2026-Q4".into());
    o.active_regimes = vec!["uk-2022-sensitive-sites".into()];
    o
}

#[test]
fn no_budget_removes_everything_and_rows_carry_reasons() {
    let (c, cat) = load();
    let p = build_plan(&estate(), &c, &cat, &opts(None));
    assert_eq!(p.rows.len(), 7);
    for r in &p.rows {
        assert!(
            r.reasons
                .iter()
                .any(|x| x.contains("National Intelligence Law")),
            "{r:?}"
        );
        assert!(r
            .reasons
            .iter()
            .all(|x| x.starts_with("[uk-2022-sensitive-sites / ")));
    }
    let low = p.rows.iter().find(|r| r.device == "low").unwrap();
    assert_eq!(low.action, Action::Review);
    assert!(low
        .wait_reason
        .as_ref()
        .unwrap()
        .contains("confidence 0.30"));
    assert!(p
        .rows
        .iter()
        .filter(|r| r.device != "low")
        .all(|r| r.action == Action::RemoveNow && r.selected));
    // Register cost fields override the defaults.
    let d4 = p.rows.iter().find(|r| r.device == "d4").unwrap();
    assert_eq!((d4.cost.device, d4.cost.labour), (120, 30));
    assert!(d4.cost.basis.contains("register"));
    // Replacement proposals are like-for-like (outdoor dome cameras).
    let d0 = p.rows.iter().find(|r| r.device == "d0").unwrap();
    assert!(!d0.alternatives.is_empty());
    assert!(d0.alternatives.iter().all(|a| a.form == "dome"));
    // Total = action costs + one overhead per visited site (2 sites).
    let actions: u64 = p.selected().map(|r| r.cost.total).sum();
    assert_eq!(p.total_cost, actions + 2 * c.site_overhead);
}

#[test]
fn risk_orders_sensitive_exposed_call_home_first() {
    let (c, cat) = load();
    let p = build_plan(&estate(), &c, &cat, &opts(None));
    let r = |id: &str| p.rows.iter().find(|r| r.device == id).unwrap().risk.score;
    assert!(
        r("d1") > r("d0"),
        "internet-facing + call-home above core only"
    );
    assert!(r("d0") > r("d3"), "sensitive above non-sensitive");
    let d1 = p.rows.iter().find(|r| r.device == "d1").unwrap();
    let factors: Vec<&str> = d1.risk.parts.iter().map(|p| p.factor.as_str()).collect();
    for f in [
        "sensitive site",
        "core network",
        "internet-facing",
        "cloud call-home",
        "device class",
        "time to upgrade",
    ] {
        assert!(factors.contains(&f), "{factors:?}");
    }
}

#[test]
fn budget_is_respected_and_waiting_devices_say_why() {
    let (c, cat) = load();
    for budget in [0u64, 100, 500, 900, 1500, 2500, 4000, 100_000] {
        let p = build_plan(&estate(), &c, &cat, &opts(Some(budget)));
        assert!(
            p.total_cost <= budget,
            "budget {budget}: cost {}",
            p.total_cost
        );
        assert!(p.exact);
        for r in p.waiting() {
            let why = r.wait_reason.as_deref().unwrap_or("");
            assert!(!why.is_empty());
            if r.device != "low" {
                assert!(why.contains("budget") || why.contains("no action"), "{why}");
                assert_eq!(r.action, Action::ReplaceAtUpgrade);
            }
        }
        let g = {
            let mut o = opts(Some(budget));
            o.method = Method::Greedy;
            build_plan(&estate(), &c, &cat, &o)
        };
        assert!(g.total_cost <= budget);
        assert!(
            g.risk_removed <= p.risk_removed + 1e-9,
            "greedy beat exact at {budget}"
        );
    }
}

#[test]
fn a_passed_upgrade_date_is_reviewed_not_awaited() {
    let (c, cat) = load();
    let mut devices = estate();
    devices[5].device.scheduled_upgrade = Some(NaiveDate::from_ymd_opt(2025, 1, 1).unwrap());
    let p = build_plan(&devices, &c, &cat, &opts(Some(0)));
    let r = p.rows.iter().find(|r| r.device == "d5").unwrap();
    assert!(!r.selected);
    assert_eq!(r.action, Action::Review);
    assert!(r.wait_reason.as_deref().unwrap().contains("has passed"));
}

#[test]
fn small_budget_prefers_disconnecting_exposed_devices() {
    let (c, cat) = load();
    // Enough for one site visit and a few disconnections, not for a replacement.
    let p = build_plan(&estate(), &c, &cat, &opts(Some(c.site_overhead + 3 * 60)));
    let sel: Vec<&PlanRow> = p.selected().collect();
    assert!(!sel.is_empty());
    assert!(
        sel.iter().all(|r| r.action == Action::DisconnectNow),
        "{sel:?}"
    );
}
