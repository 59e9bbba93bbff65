//! Engine behaviour on a small knowledge base built in the test: rebrands explained by OEM
//! links, conflicts, brand ownership by date, grouping.

use camtrace_identify::Engine;
use camtrace_kb::{Kb, KbFiles};
use camtrace_model::{observation::Headers, DeviceClass, Observation, ObservationKind};
use chrono::NaiveDate;

const COMPANIES: &str = r#"
[[company]]
id = "redco"
name = "Red Co."
short = "Redco"
country = "CN"
prc_nil = "yes"
prc_nil_reason = "test"
makes = ["camera", "recorder"]
source = "test"
as_of = 2026-01-01

[[company]]
id = "blueco"
name = "Blue Co."
short = "Blueco"
country = "SE"
prc_nil = "no"
prc_nil_reason = "test"
makes = ["camera"]
source = "test"
as_of = 2026-01-01

[[company]]
id = "relabel"
name = "Relabel Ltd"
short = "Relabel"
country = "GB"
prc_nil = "no"
prc_nil_reason = "test"
source = "test"
as_of = 2026-01-01
"#;

const BRANDS: &str = r#"
[[brand]]
id = "redco"
name = "Redco"
source = "test"
as_of = 2026-01-01
[[brand.owner]]
company = "redco"
relationship = "own"
confidence = "strong"
source = "test"
as_of = 2026-01-01

[[brand]]
id = "blueco"
name = "Blueco"
source = "test"
as_of = 2026-01-01
[[brand.owner]]
company = "blueco"
relationship = "own"
confidence = "strong"
source = "test"
as_of = 2026-01-01

[[brand]]
id = "relabel"
name = "Relabel"
source = "test"
as_of = 2026-01-01
[[brand.owner]]
company = "redco"
relationship = "subsidiary"
to = 2024-01-01
confidence = "strong"
source = "test"
as_of = 2026-01-01
[[brand.owner]]
company = "relabel"
relationship = "own"
from = 2024-01-01
confidence = "strong"
source = "test"
as_of = 2026-01-01

[[oem]]
brand = "relabel"
maker = "redco"
models = ["RL-*"]
confidence = "strong"
source = "test"
as_of = 2026-01-01
"#;

const OUI: &str = r#"
[[block]]
company = "blueco"
registry = "MA-L"
assignee = "Blue Co."
prefixes = ["AABBCC"]
source = "test"
as_of = 2026-01-01
"#;

const SIGS: &str = r#"
[[signature]]
id = "red-server"
kind = "http"
field = "header:server"
pattern = '^RedWebs/(?P<firmware>[0-9.]+)'
firmware_family = "redco"
strength = 0.9
source = "test"
as_of = 2026-01-01

[[signature]]
id = "red-recorder"
kind = "http"
field = "title"
pattern = '^RED NVR (?P<model>\S+)'
class = "recorder"
strength = 0.8
source = "test"
as_of = 2026-01-01
"#;

fn engine(date: (i32, u32, u32)) -> Engine {
    let mut f = KbFiles::default();
    f.insert("companies/t.toml", COMPANIES);
    f.insert("brands/t.toml", BRANDS);
    f.insert("oui/t.toml", OUI);
    f.insert("signatures/t.toml", SIGS);
    let kb = Kb::load(&f).unwrap_or_else(|e| panic!("{e}"));
    Engine::new(&kb)
        .unwrap()
        .with_date(NaiveDate::from_ymd_opt(date.0, date.1, date.2).unwrap())
}

fn http(t: &str, server: &str, title: Option<&str>) -> Observation {
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
            title: title.map(str::to_string),
            body: None,
            favicon_md5: None,
        },
    )
}

fn onvif_name(t: &str, name: &str, hw: &str) -> Observation {
    Observation::new(
        t,
        ObservationKind::OnvifProbeMatch {
            scopes: vec![
                format!("onvif://www.onvif.org/name/{name}"),
                format!("onvif://www.onvif.org/hardware/{hw}"),
            ],
            types: vec!["dn:NetworkVideoTransmitter".into()],
            xaddrs: vec![],
            endpoint: None,
        },
    )
}

#[test]
fn captures_model_firmware_and_class() {
    let e = engine((2026, 1, 1));
    let id = e.identify("x", &[http("x", "RedWebs/5.4.1", Some("RED NVR N-16"))]);
    assert_eq!(id.maker.as_ref().unwrap().id, "redco");
    assert_eq!(id.firmware.as_deref(), Some("5.4.1"));
    assert_eq!(id.model.as_deref(), Some("N-16"));
    assert_eq!(id.device_class, DeviceClass::Recorder);
    let ev = id
        .evidence
        .iter()
        .find(|e| e.signature == "red-server")
        .unwrap();
    assert!(
        ev.source.contains("signatures/t.toml:2; test"),
        "{}",
        ev.source
    );
    assert!(ev.detail.contains("Server: RedWebs/5.4.1"), "{}", ev.detail);
    assert!(id.confidence > 0.85 && id.confidence < 1.0);
}

#[test]
fn rebrand_explained_by_oem_link_is_evidence_not_conflict() {
    let e = engine((2026, 1, 1));
    let obs = [
        onvif_name("r", "Relabel", "RL-200"),
        http("r", "RedWebs/1.0", None),
    ];
    let id = e.identify("r", &obs);
    assert_eq!(id.brand.as_ref().unwrap().id, "relabel");
    assert_eq!(id.maker.as_ref().unwrap().id, "redco");
    assert!(id.conflicts.is_empty(), "{:?}", id.conflicts);
    assert!(
        id.evidence
            .iter()
            .any(|e| e.kind == "kb" && e.detail.contains("OEM link")),
        "{:#?}",
        id.evidence
    );
}

#[test]
fn brand_alone_resolves_owner_on_the_date() {
    // Before 2024 Relabel belonged to Redco; after, to Relabel itself. A model outside the
    // OEM pattern: the owner decides.
    let before = engine((2023, 6, 1)).identify("b", &[onvif_name("b", "Relabel", "X-1")]);
    assert_eq!(before.maker.as_ref().unwrap().id, "redco");
    let after = engine((2025, 6, 1)).identify("b", &[onvif_name("b", "Relabel", "X-1")]);
    assert_eq!(after.maker.as_ref().unwrap().id, "relabel");
    // With a model the OEM link covers, the link names the maker on any date.
    let oem = engine((2025, 6, 1)).identify("b", &[onvif_name("b", "Relabel", "RL-9")]);
    assert_eq!(oem.maker.as_ref().unwrap().id, "redco");
}

#[test]
fn mac_of_one_maker_and_firmware_of_another_is_a_conflict() {
    let e = engine((2026, 1, 1));
    let obs = [
        Observation::new(
            "c",
            ObservationKind::Mac {
                mac: "aa-bb-cc-01-02-03".into(),
            },
        ),
        http("c", "RedWebs/2.0", None),
    ];
    let id = e.identify("c", &obs);
    assert_eq!(id.maker.as_ref().unwrap().id, "redco");
    assert_eq!(id.mac.as_deref(), Some("aa:bb:cc:01:02:03"));
    assert_eq!(id.conflicts.len(), 1, "{:?}", id.conflicts);
    assert!(id.conflicts[0].contains("Blue Co."), "{}", id.conflicts[0]);
    assert!(id.evidence.iter().any(|e| e.kind == "conflict"));
    // A conflict lowers confidence compared with the firmware evidence alone.
    let alone = e.identify("c", &obs[1..]);
    assert!(id.confidence < alone.confidence);
}

#[test]
fn identify_all_groups_by_target_in_first_seen_order() {
    let e = engine((2026, 1, 1));
    let obs = vec![
        http("b", "RedWebs/1", None),
        http("a", "nothing", None),
        Observation::new(
            "b",
            ObservationKind::Mac {
                mac: "aabbcc000001".into(),
            },
        ),
    ];
    let ids = e.identify_all(obs);
    assert_eq!(
        ids.iter().map(|i| i.target.as_str()).collect::<Vec<_>>(),
        ["b", "a"]
    );
    assert!(ids[0].mac.is_some());
    assert!(ids[1].maker.is_none());
    assert_eq!(ids[1].device_class, DeviceClass::Unknown);
    assert_eq!(ids[1].confidence, 0.0);
}

#[test]
fn bad_pattern_is_refused_by_the_kb_with_file_and_line() {
    let mut f = KbFiles::default();
    f.insert("companies/t.toml", COMPANIES);
    f.insert("signatures/t.toml", SIGS.replace("^RedWebs/", "^RedWebs/("));
    let err = Kb::load(&f).unwrap_err().to_string();
    assert!(err.contains("signatures/t.toml:"), "{err}");
}

#[test]
fn engine_is_shareable_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Engine>();
    let e = std::sync::Arc::new(engine((2026, 1, 1)));
    let handles: Vec<_> = (0..2)
        .map(|i| {
            let e = e.clone();
            std::thread::spawn(move || e.identify("t", &[http("t", &format!("RedWebs/{i}"), None)]))
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap().maker.unwrap().id, "redco");
    }
}
