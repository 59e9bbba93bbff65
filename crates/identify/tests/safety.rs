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
