//! Safety rules: a Western maker never comes out as a restricted maker, and a restricted maker
//! is never asserted (confidence >= 0.5) from weak evidence alone.

use camtrace_identify::Engine;
use camtrace_kb::{Kb, Tristate};
use camtrace_model::{observation::Headers, DeviceClass, Observation, ObservationKind};

fn engine() -> Engine {
    let kb = Kb::embedded().expect("embedded kb loads");
    Engine::new(&kb)
        .unwrap()
        .with_date(chrono::NaiveDate::from_ymd_opt(2026, 11, 28).unwrap())
}

fn http_server(t: &str, server: &str) -> Observation {
    let mut h = Headers::new();
    h.insert("Server".into(), server.into());
    Observation::new(
        t,
        ObservationKind::Http {
            port: Some(80),
            tls: None,
            path: None,
            status: Some(200),
            headers: h,
            title: None,
            body: None,
            favicon_md5: None,
        },
    )
}

fn restricted(kb: &Kb, id: &str) -> bool {
    kb.company_chain(id)
        .iter()
        .any(|c| c.prc_nil == Tristate::Yes)
}

#[test]
fn webs_banner_alone_is_not_a_confident_hikvision() {
    let e = engine();
    let id = e.identify("t", &[http_server("t", "Webs")]);
    if let Some(m) = &id.maker {
        assert!(id.confidence < 0.5, "{m:?} at {}", id.confidence);
    }
    // Even repeated weak banners stay below 0.5.
    let id = e.identify("t", &[http_server("t", "Webs"), http_server("t", "Webs")]);
    assert!(id.confidence < 0.5, "{}", id.confidence);
}

#[test]
fn axis_device_with_a_generic_banner_stays_axis() {
    let e = engine();
    let obs = vec![
        Observation::new(
            "cam",
            ObservationKind::OnvifDeviceInfo {
                manufacturer: "AXIS".into(),
                model: "P3245-LVE".into(),
                firmware: "10.12.153".into(),
                serial: "ACCC8E000001".into(),
                hardware_id: "7E1".into(),
            },
        ),
        http_server("cam", "Webs"),
        Observation::new(
            "cam",
            ObservationKind::Port {
                port: 8000,
                protocol: None,
                banner: None,
            },
        ),
    ];
    let id = e.identify("cam", &obs);
    assert_eq!(id.maker.as_ref().unwrap().id, "axis", "{id:#?}");
    assert_eq!(id.brand.as_ref().unwrap().id, "axis");
    // The weak Hikvision hint is kept, visibly, as a conflict.
    assert!(id
        .evidence
        .iter()
        .any(|e| e.signature == "hikvision-http-server-webs-weak"));
    assert!(!id.conflicts.is_empty());
    // With only brand evidence for Axis (no MAC) and the weak banner, Axis still wins.
    let id = e.identify("cam", &obs[..2]);
    assert_eq!(id.maker.as_ref().unwrap().id, "axis");
}

#[test]
fn huawei_mac_alone_is_not_a_camera_nor_a_confident_maker() {
    let e = engine();
    let kb = e.kb();
    let block = kb
        .oui_blocks
        .iter()
        .find(|b| b.not_surveillance_alone && b.prefixes.iter().any(|p| p.len() == 6))
        .expect("a not_surveillance_alone block");
    let p = block.prefixes.iter().find(|p| p.len() == 6).unwrap();
    let mac = format!("{}:{}:{}:00:00:01", &p[0..2], &p[2..4], &p[4..6]);
    let id = e.identify("m", &[Observation::new("m", ObservationKind::Mac { mac })]);
    assert_ne!(id.device_class, DeviceClass::Camera);
    assert!(!id.device_class.is_surveillance(), "{id:#?}");
    assert!(id.confidence < 0.5, "{id:#?}");
}

#[test]
fn no_single_weak_observation_asserts_a_restricted_maker() {
    // Every signature below 0.5 strength, alone, must never give a restricted maker >= 0.5.
    let e = engine();
    let kb = e.kb().clone();
    for s in &kb.signatures {
        if s.strength >= 0.5 {
            continue;
        }
        // Build an observation whose field carries a value the pattern matches: use literal
        // patterns only (anchored literals), which is what weak banners are.
        let lit = s.pattern.trim_start_matches('^').trim_end_matches('$');
        if lit.chars().any(|c| "\\[](){}|*+?.".contains(c)) {
            continue;
        }
        let obs = match (s.kind.as_str(), s.field.as_str()) {
            ("http", "header:server") => http_server("w", lit),
            ("port", "port") => Observation::new(
                "w",
                ObservationKind::Port {
                    port: lit.parse().unwrap(),
                    protocol: None,
                    banner: None,
                },
            ),
            _ => continue,
        };
        let id = e.identify("w", &[obs]);
        if let Some(m) = &id.maker {
            if restricted(&kb, &m.id) {
                assert!(id.confidence < 0.5, "{}: {m:?} at {}", s.id, id.confidence);
            }
        }
    }
}

#[test]
fn western_maker_with_strong_evidence_is_never_relabelled() {
    // Axis MAC + mDNS + a restricted weak hint: maker must stay Axis.
    let e = engine();
    let axis_prefix = e
        .kb()
        .oui_blocks
        .iter()
        .find(|b| b.company == "axis")
        .and_then(|b| b.prefixes.iter().find(|p| p.len() == 6).cloned())
        .expect("an Axis OUI");
    let mac = format!(
        "{}:{}:{}:01:02:03",
        &axis_prefix[0..2],
        &axis_prefix[2..4],
        &axis_prefix[4..6]
    );
    let obs = vec![
        Observation::new("a", ObservationKind::Mac { mac }),
        Observation::new(
            "a",
            ObservationKind::Mdns {
                service: "_axis-video._tcp.local".into(),
                instance: "AXIS M5014 - ACCC8E3C0419".into(),
                txt: vec![],
            },
        ),
        http_server("a", "Webs"),
        Observation::new(
            "a",
            ObservationKind::Rtsp {
                port: Some(554),
                status: Some(401),
                headers: [(
                    "WWW-Authenticate".to_string(),
                    "Basic realm=\"device\"".to_string(),
                )]
                .into(),
            },
        ),
    ];
    let id = e.identify("a", &obs);
    assert_eq!(id.maker.as_ref().unwrap().id, "axis", "{id:#?}");
    assert_eq!(id.model.as_deref(), Some("M5014"));
    assert_eq!(id.device_class, DeviceClass::Camera);
    assert!(id.confidence >= 0.5);
}

#[test]
fn lorex_maker_follows_the_date_of_the_sale() {
    let kb = Kb::embedded().expect("embedded kb loads");
    let obs = [Observation::new(
        "l",
        ObservationKind::Http {
            port: Some(80),
            tls: None,
            path: None,
            status: Some(401),
            headers: [(
                "WWW-Authenticate".to_string(),
                "Digest realm=\"Login to ND0123\"".to_string(),
            )]
            .into(),
            title: None,
            body: None,
            favicon_md5: None,
        },
    )];
    let on = |y, m, d| {
        Engine::new(&kb)
            .unwrap()
            .with_date(chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap())
            .identify("l", &obs)
    };
    let before = on(2021, 6, 1);
    assert_eq!(before.brand.as_ref().unwrap().id, "lorex");
    assert_eq!(before.maker.as_ref().unwrap().id, "dahua", "{before:#?}");
    let after = on(2025, 6, 1);
    assert_eq!(after.brand.as_ref().unwrap().id, "lorex");
    let m = after.maker.as_ref().unwrap();
    assert!(!restricted(&kb, &m.id), "{m:?}");
}

/// The brand's maker is read at the device's own date: the first time it was seen (the
/// earliest observation `time`), not the evaluation date. Without a time of its own the
/// evaluation date does not settle a brand whose maker changed: the identification names every
/// candidate (`could_be`) instead of picking one silently.
#[test]
fn lorex_maker_is_read_at_the_first_sighting_and_left_open_without_one() {
    let kb = Kb::embedded().expect("embedded kb loads");
    let e = Engine::new(&kb)
        .unwrap()
        .with_date(chrono::NaiveDate::from_ymd_opt(2026, 11, 28).unwrap());
    let obs = |time: Option<&str>| {
        let mut o = Observation::new(
            "l",
            ObservationKind::Http {
                port: Some(80),
                tls: None,
                path: None,
                status: Some(401),
                headers: [(
                    "WWW-Authenticate".to_string(),
                    "Digest realm=\"Login to ND0123\"".to_string(),
                )]
                .into(),
                title: None,
                body: None,
                favicon_md5: None,
            },
        );
        o.time = time.map(str::to_string);
        o
    };
    // Seen in 2020 (Dahua owned Lorex 2018 – 24 Nov 2022), evaluated in 2026: Dahua, settled.
    let y2020 = e.identify(
        "l",
        &[
            obs(Some("2021-03-01T10:00:00Z")),
            obs(Some("2020-06-01T08:00:00+02:00")),
        ],
    );
    assert_eq!(y2020.maker.as_ref().unwrap().id, "dahua", "{y2020:#?}");
    assert!(y2020.could_be.is_empty(), "{:?}", y2020.could_be);
    let decided = y2020
        .evidence
        .iter()
        .find(|e| e.kind == "kb" && e.proves.iter().any(|p| p == "maker"))
        .expect("the deciding fact is evidence");
    assert!(
        decided.detail.contains("first seen on 2020-06-01"),
        "{}",
        decided.detail
    );
    assert!(
        decided.source.starts_with("kb/brands/") && decided.source.contains("Texas AG"),
        "{}",
        decided.source
    );
    // Seen in 2024: after the sale, not a restricted maker, settled.
    let y2024 = e.identify("l", &[obs(Some("2024-06-01"))]);
    let m = y2024.maker.as_ref().unwrap();
    assert!(!restricted(&kb, &m.id), "{m:?}");
    assert!(y2024.could_be.is_empty(), "{:?}", y2024.could_be);
    // Seen in 2017: before Dahua bought it.
    let y2017 = e.identify("l", &[obs(Some("2017-03-01T00:00:00Z"))]);
    assert_eq!(y2017.maker.as_ref().unwrap().id, "lorex", "{y2017:#?}");
    // Seen three weeks before the sale: both sides of the change could apply.
    let near = e.identify("l", &[obs(Some("2022-11-01T00:00:00Z"))]);
    let ids: Vec<&str> = near.could_be.iter().map(|c| c.id.as_str()).collect();
    assert!(ids.contains(&"dahua") && ids.len() >= 2, "{ids:?}");
    // No time of its own: open between every maker the periods name, and the reason says why.
    let undated = e.identify("l", &[obs(None)]);
    let ids: Vec<&str> = undated.could_be.iter().map(|c| c.id.as_str()).collect();
    assert!(
        ids.contains(&"dahua") && ids.contains(&"lorex") && ids.contains(&"skywatch"),
        "{ids:?}"
    );
    assert!(
        undated
            .evidence
            .iter()
            .any(|e| e.detail.contains("does not settle who made it")
                && e.detail.contains("evaluation date 2026-11-28")),
        "{:#?}",
        undated.evidence
    );
    // An unparseable time dates nothing (still evidence; no panic).
    let bad = e.identify("l", &[obs(Some("yesterday"))]);
    assert!(!bad.could_be.is_empty());
}
