//! recog's own `<example>`s as tests of the signature engine (the databases vendored under
//! `kb/recog/`, embedded from the repository).
//!
//! * every fingerprint camtrace compiles matches each of its examples, and captures the model
//!   and version recog's attributes expect;
//! * surveillance devices (IP camera, DVR, NVR, video encoder, web cam) whose recog vendor maps
//!   to a knowledge-base company or brand are named right (brand or maker);
//! * across all examples, no device is attributed to a restricted maker that recog names
//!   otherwise, and nothing recog labels printer, router, switch, NAS, phone or computer is
//!   classed camera or recorder;
//! * HiSilicon SDK tells give a component claim, never a maker.

use camtrace_identify::recog::{claims, RecogClaims};
use camtrace_identify::Engine;
use camtrace_kb::recog::{RecogDatabase, RecogFingerprint, RECOG_VENDOR_PARAMS};
use camtrace_kb::{Kb, Tristate};
use camtrace_model::{DeviceClass, Identification, Observation};
use std::sync::OnceLock;

fn kb() -> &'static Kb {
    static KB: OnceLock<Kb> = OnceLock::new();
    KB.get_or_init(|| Kb::embedded().expect("embedded kb loads"))
}

fn engine() -> &'static Engine {
    static E: OnceLock<Engine> = OnceLock::new();
    E.get_or_init(|| Engine::new(kb()).expect("engine builds"))
}

/// The observation a device would have given for one recog example.
fn observation(db: &RecogDatabase, text: &str) -> Observation {
    let t = serde_json::Value::String(text.to_string());
    let v = match (db.map.kind.as_str(), db.map.field.as_str()) {
        ("http", "header:server") => serde_json::json!({"kind":"http","headers":{"Server":t}}),
        ("http", "header:www-authenticate") => {
            serde_json::json!({"kind":"http","headers":{"WWW-Authenticate":t}})
        }
        ("http", "header:set-cookie") => {
            serde_json::json!({"kind":"http","headers":{"Set-Cookie":t}})
        }
        ("http", "title") => serde_json::json!({"kind":"http","title":t}),
        ("http", "favicon_md5") => serde_json::json!({"kind":"http","favicon_md5":t}),
        ("rtsp", "header:server") => serde_json::json!({"kind":"rtsp","headers":{"Server":t}}),
        ("tls", "subject") => serde_json::json!({"kind":"tls","subject":t,"issuer":""}),
        ("tls", "issuer") => serde_json::json!({"kind":"tls","subject":"","issuer":t}),
        ("dhcp", "vendor_class") => serde_json::json!({"kind":"dhcp","vendor_class":t}),
        ("mdns", "txt") => {
            serde_json::json!({"kind":"mdns","service":"_device-info._tcp.local","instance":"x","txt":[t]})
        }
        (k @ ("telnet" | "ftp" | "snmp_sysdescr"), "banner") => {
            serde_json::json!({"kind":k,"banner":t})
        }
        other => panic!("no observation for recog database field {other:?}"),
    };
    let mut v = v;
    v["target"] = serde_json::Value::String("10.0.0.1".into());
    serde_json::from_value(v).expect("observation")
}

/// Every (database, fingerprint, example text) of the vendored databases.
fn examples() -> impl Iterator<Item = (&'static RecogDatabase, &'static RecogFingerprint, usize)> {
    kb().recog.databases.iter().flat_map(|db| {
        db.fingerprints
            .iter()
            .flat_map(move |fp| (0..fp.examples.len()).map(move |i| (db, fp, i)))
    })
}

fn identify(db: &RecogDatabase, text: &str) -> Identification {
    engine().identify("10.0.0.1", &[observation(db, text)])
}

fn signature_index(db: &RecogDatabase, fp: &RecogFingerprint) -> Option<usize> {
    let id = format!("recog:{}:{}", db.file.trim_end_matches(".xml"), fp.line);
    engine().signatures().iter().position(|s| s.id == id)
}

fn root(id: &str) -> String {
    kb().company_chain(id)
        .last()
        .map(|c| c.id.clone())
        .unwrap_or_else(|| id.to_string())
}

fn restricted(id: &str) -> bool {
    kb().company_chain(id)
        .iter()
        .any(|c| c.prc_nil == Tristate::Yes)
}

const SURVEILLANCE: &[&str] = &[
    "IP Camera",
    "DVR",
    "NVR",
    "Video Encoder",
    "Web Cam",
    "Cloud Network Video Recorder",
];

const NOT_SURVEILLANCE: &[&str] = &[
    "Printer",
    "Multifunction Device",
    "Print Server",
    "Router",
    "Broadband Router",
    "ADSL Router",
    "Switch",
    "NAS",
    "Storage",
    "Mobile Phone",
    "Tablet",
    "Laptop",
    "Desktop",
    "Thin Client",
    "VoIP",
    "WAP",
    "Firewall",
];

#[test]
fn every_recog_pattern_is_compiled_or_listed() {
    let r = engine().recog_report();
    assert_eq!(r.commit, "14fa1a7211e7fb5707c7a1b421a07d6c2cf4eec5");
    assert!(r.fingerprints > 2500, "{r:?}");
    assert_eq!(
        r.used + r.no_claim + r.unsupported.len(),
        r.fingerprints,
        "every fingerprint is used, proves nothing to camtrace, or is listed as unsupported"
    );
    assert!(r.used > 800, "{r:?}");
    for u in &r.unsupported {
        assert!(u.location.starts_with("kb/recog/") && !u.reason.is_empty());
    }
    assert!(r.component_signatures > 0);
}

#[test]
fn recog_examples_match_their_fingerprints_and_capture_what_recog_expects() {
    let mut checked = 0;
    let mut failures = Vec::new();
    for (db, fp, i) in examples() {
        let Some(si) = signature_index(db, fp) else {
            continue;
        };
        let ex = &fp.examples[i];
        let obs = observation(db, &ex.text);
        let hits = engine().matches(&obs.kind);
        let Some(hit) = hits.iter().find(|h| h.signature == si) else {
            failures.push(format!(
                "{}:{} does not match {:?}",
                db.file, fp.line, ex.text
            ));
            continue;
        };
        let c: RecogClaims = claims(&kb().recog, fp);
        let expect = |name: &str| {
            ex.expect
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.trim().to_string())
        };
        if let Some(g) = c.model_group {
            let name = &fp.params.iter().find(|p| p.pos == g).unwrap().name;
            if let Some(want) = expect(name) {
                if hit.model.as_deref() != Some(want.as_str()) && !want.is_empty() {
                    failures.push(format!(
                        "{}:{} model {:?}, recog expects {want:?}",
                        db.file, fp.line, hit.model
                    ));
                }
            }
        }
        if let Some(g) = c.firmware_group {
            let name = &fp.params.iter().find(|p| p.pos == g).unwrap().name;
            if let Some(want) = expect(name) {
                if hit.firmware.as_deref() != Some(want.as_str()) && !want.is_empty() {
                    failures.push(format!(
                        "{}:{} firmware {:?}, recog expects {want:?}",
                        db.file, fp.line, hit.firmware
                    ));
                }
            }
        }
        checked += 1;
    }
    assert!(checked > 1000, "only {checked} examples checked");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn recog_surveillance_examples_with_a_known_vendor_are_named_right() {
    let mut named = 0;
    let mut failures = Vec::new();
    for (db, fp, i) in examples() {
        let c = claims(&kb().recog, fp);
        let Some(device) = c.device.as_deref() else {
            continue;
        };
        if !SURVEILLANCE.contains(&device) || (c.maker.is_none() && c.brand.is_none()) {
            continue;
        }
        let text = &fp.examples[i].text;
        let id = identify(db, text);
        let brand_ok = c.brand.is_some() && id.brand.as_ref().map(|b| &b.id) == c.brand.as_ref();
        let maker_ok = c.maker.is_some()
            && id.maker.as_ref().map(|m| root(&m.id)) == c.maker.as_deref().map(root);
        if brand_ok || maker_ok {
            named += 1;
        } else {
            failures.push(format!(
                "{}:{} {:?}: recog {:?} ({device}) -> brand {:?} maker {:?}",
                db.file,
                fp.line,
                text,
                c.vendor_name,
                id.brand.map(|b| b.id),
                id.maker.map(|m| m.id)
            ));
        }
        let class_ok = match device {
            "Video Encoder" => id.device_class == DeviceClass::Encoder,
            _ => matches!(id.device_class, DeviceClass::Camera | DeviceClass::Recorder),
        };
        if !class_ok {
            failures.push(format!(
                "{}:{} {:?}: recog says {device}, class {}",
                db.file, fp.line, text, id.device_class
            ));
        }
    }
    assert!(named >= 40, "only {named} surveillance examples named");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Companies a recog fingerprint names (through the mapping), with the makers their brands
/// resolve to in the knowledge base.
fn named_by_recog(fp: &RecogFingerprint) -> (bool, Vec<String>) {
    let recog = &kb().recog;
    let device = fp.device();
    let mut any = false;
    let mut roots = Vec::new();
    for p in RECOG_VENDOR_PARAMS {
        let Some(name) = fp.fixed(p) else { continue };
        any = true;
        let Some((_, v)) = recog.vendor(&name, device.as_deref()) else {
            continue;
        };
        if let Some(c) = &v.company {
            roots.push(root(c));
        }
        if let Some(b) = &v.brand {
            for l in kb().oem_for(b, None, chrono::Utc::now().date_naive()) {
                roots.push(root(&l.maker));
            }
            if let Some(o) = kb().brand_owner_on(b, chrono::Utc::now().date_naive()) {
                roots.push(root(&o.company));
            }
        }
    }
    (any, roots)
}

#[test]
fn no_recog_example_is_attributed_to_a_restricted_maker_recog_names_otherwise() {
    let mut failures = Vec::new();
    let mut seen = 0;
    for (db, fp, i) in examples() {
        let (names_vendor, roots) = named_by_recog(fp);
        if !names_vendor {
            continue;
        }
        let text = &fp.examples[i].text;
        let id = identify(db, text);
        seen += 1;
        let Some(m) = &id.maker else { continue };
        if restricted(&m.id) && !roots.contains(&root(&m.id)) {
            failures.push(format!(
                "{}:{} {:?}: recog names {:?}, camtrace says {} ({})",
                db.file,
                fp.line,
                text,
                RECOG_VENDOR_PARAMS
                    .iter()
                    .filter_map(|p| fp.fixed(p))
                    .collect::<Vec<_>>(),
                m.id,
                id.confidence
            ));
        }
    }
    assert!(seen > 2000, "only {seen} examples with a vendor");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn no_recog_printer_router_switch_nas_phone_or_computer_is_classed_camera_or_recorder() {
    let mut failures = Vec::new();
    let mut seen = 0;
    for (db, fp, i) in examples() {
        let Some(device) = fp.device() else { continue };
        if !NOT_SURVEILLANCE.contains(&device.as_str()) {
            continue;
        }
        seen += 1;
        let text = &fp.examples[i].text;
        let id = identify(db, text);
        if id.device_class.is_surveillance() {
            failures.push(format!(
                "{}:{} {:?}: recog says {device}, camtrace says {}",
                db.file, fp.line, text, id.device_class
            ));
        }
    }
    assert!(seen > 500, "only {seen} examples");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn one(json: &str) -> Identification {
    let o = Observation::from_json_line(json).unwrap();
    engine().identify("t", &[o])
}

#[test]
fn issue_14_western_examples_are_named() {
    for (json, maker) in [
        (
            r#"{"target":"t","kind":"ftp","banner":"AXIS P1346 Network Camera 5.50beta3 (2014) ready"}"#,
            "axis",
        ),
        (
            r#"{"target":"t","kind":"dhcp","vendor_class":"AXIS,Network Camera,P3343,5.20.3"}"#,
            "axis",
        ),
        (
            r#"{"target":"t","kind":"tls","subject":"CN=axis-accc8ea31abf,O=Axis Communications AB","issuer":""}"#,
            "axis",
        ),
        (r#"{"target":"t","kind":"http","title":"AXIS"}"#, "axis"),
        (
            r#"{"target":"t","kind":"http","headers":{"WWW-Authenticate":"Digest realm=\"Use 'live' as User Name\", nonce=\"1\""}}"#,
            "bosch",
        ),
        (
            r#"{"target":"t","kind":"telnet","banner":"Welcome to AutoDome 800 HD 1.2.3.4 from 5.6.7.8"}"#,
            "bosch",
        ),
    ] {
        let id = one(json);
        assert_eq!(
            id.maker.as_ref().map(|m| m.id.as_str()),
            Some(maker),
            "{json}: {id:#?}"
        );
        assert!(
            id.evidence.iter().any(|e| e.signature.starts_with("recog:")
                && e.source.contains("kb/recog/")
                && e.source.contains("rapid7/recog @14fa1a7211e7")),
            "evidence cites the recog fingerprint: {:#?}",
            id.evidence
        );
    }
    let id = one(
        r#"{"target":"t","kind":"ftp","banner":"AXIS P1346 Network Camera 5.50beta3 (2014) ready"}"#,
    );
    assert_eq!(id.model.as_deref(), Some("P1346"));
    assert_eq!(id.firmware.as_deref(), Some("5.50beta3"));
    assert_eq!(id.device_class, DeviceClass::Camera);
}

/// Video encoders (video servers) are their own class: recog's `Video Encoder` examples and
/// camtrace's own VAPIX product-type signature say `encoder`, with the maker.
#[test]
fn video_encoders_are_classed_encoder_with_their_maker() {
    for (json, maker, model) in [
        (
            r#"{"target":"t","kind":"dhcp","vendor_class":"AXIS,Network Video Encoder,M7011,5.90.1"}"#,
            Some("axis"),
            Some("M7011"),
        ),
        (
            r#"{"target":"t","kind":"ftp","banner":"AXIS Q7401 Video Encoder 5.01 (Aug 01 2008) ready."}"#,
            Some("axis"),
            Some("Q7401"),
        ),
        (
            r#"{"target":"t","kind":"ftp","banner":"AXIS 241Q Video Server 4.47.2 (Dec 11 2008) ready."}"#,
            Some("axis"),
            Some("241Q"),
        ),
        (
            r#"{"target":"t","kind":"http","port":80,"path":"/axis-cgi/basicdeviceinfo.cgi","status":200,"body":"{\"apiVersion\": \"1.3\", \"data\": {\"propertyList\": {\"Brand\": \"AXIS\", \"ProdNbr\": \"M7104\", \"ProdType\": \"Video Encoder\", \"ProdFullName\": \"AXIS M7104 Video Encoder\", \"Version\": \"5.51.7\"}}}"}"#,
            Some("axis"),
            None,
        ),
    ] {
        let id = one(json);
        assert_eq!(id.device_class, DeviceClass::Encoder, "{json}: {id:#?}");
        assert_eq!(id.maker.as_ref().map(|m| m.id.as_str()), maker, "{json}");
        if model.is_some() {
            assert_eq!(id.model.as_deref(), model, "{json}");
        }
        assert!(
            id.evidence
                .iter()
                .any(|e| e.proves.iter().any(|p| p == "class") && !e.source.is_empty()),
            "{json}: the class has sourced evidence: {:#?}",
            id.evidence
        );
    }
    // A camera's own product type is still a camera.
    let id =
        one(r#"{"target":"t","kind":"dhcp","vendor_class":"AXIS,Network Camera,P3343,5.20.3"}"#);
    assert_eq!(id.device_class, DeviceClass::Camera);
}

#[test]
fn hisilicon_sdk_tells_give_a_component_claim_not_a_maker() {
    for json in [
        r#"{"target":"t","kind":"rtsp","headers":{"Server":"HiIpcam/V100R003 VodServer/1.0.0"}}"#,
        r#"{"target":"t","kind":"http","headers":{"Server":"Cross Web Server"}}"#,
        r#"{"target":"t","kind":"telnet","banner":"(none) login: hi3518ev200 uclibc"}"#,
        r#"{"target":"t","kind":"onvif_device_info","manufacturer":"Acme","model":"IPC-1","firmware":"V5.00.R02.000529B9.10010.040600.0020000","hardware_id":"HI3516EV300"}"#,
    ] {
        let id = one(json);
        let c = id
            .components
            .iter()
            .find(|c| c.company.id == "hisilicon")
            .unwrap_or_else(|| panic!("{json}: no HiSilicon component: {id:#?}"));
        assert_eq!(c.role, "SoC");
        assert!(
            c.summary.contains("HiSilicon") && c.summary.contains("Huawei"),
            "{}",
            c.summary
        );
        assert_eq!(c.parents.first().map(|p| p.id.as_str()), Some("huawei"));
        assert!(
            !c.evidence.is_empty()
                && c.evidence
                    .iter()
                    .all(|e| e.proves.contains(&"component".to_string()))
        );
        assert!(
            id.maker.as_ref().is_none_or(|m| root(&m.id) != "huawei"),
            "{json}: a component is not the maker: {:?}",
            id.maker
        );
    }
    // Nothing HiSilicon in an Axis banner.
    let id = one(
        r#"{"target":"t","kind":"ftp","banner":"AXIS P1346 Network Camera 5.50beta3 (2014) ready"}"#,
    );
    assert!(id.components.is_empty());
    // Goke's pin-compatible parts are not HiSilicon.
    let id = one(r#"{"target":"t","kind":"telnet","banner":"gk7205v200 login:"}"#);
    assert!(id.components.is_empty());
}

#[test]
fn component_claims_round_trip_through_json() {
    let id = one(r#"{"target":"t","kind":"http","headers":{"Server":"Cross Web Server"}}"#);
    let j = serde_json::to_string(&id).unwrap();
    assert!(j.contains("\"components\""));
    let back: Identification = serde_json::from_str(&j).unwrap();
    assert_eq!(back, id);
}

/// Every recog example as a target of its own, and again with the MAC of a maker of another
/// family beside it (conflicts, rebrands, components): `Streaming::write_json_lines` writes
/// byte for byte what `serde_json` writes for each identification.
#[test]
fn json_lines_of_every_recog_example_are_byte_identical_to_serde_json() {
    let macs = [
        "44:19:b6:01:02:03",
        "ac:cc:8e:00:00:01",
        "e0:50:8b:11:22:33",
        "00:12:34:56:78:9a",
    ];
    let mut obs = Vec::new();
    for (n, (db, fp, i)) in examples().enumerate() {
        let mut o = observation(db, &fp.examples[i].text);
        o.target = format!("r{n}");
        obs.push(o.clone());
        o.target = format!("m{n}");
        obs.push(o);
        obs.push(
            Observation::from_json_line(&format!(
                r#"{{"target":"m{n}","kind":"mac","mac":"{}"}}"#,
                macs[n % macs.len()]
            ))
            .unwrap(),
        );
    }
    assert!(obs.len() > 1000);
    let mut s = engine().stream();
    obs.iter().for_each(|o| s.push(o));
    let mut expected = Vec::new();
    for i in s.finish() {
        serde_json::to_writer(&mut expected, &i).unwrap();
        expected.push(b'\n');
    }
    let mut s = engine().stream();
    obs.iter().for_each(|o| s.push(o));
    let mut got = Vec::new();
    s.write_json_lines(&mut got).unwrap();
    assert_eq!(
        String::from_utf8(got).unwrap(),
        String::from_utf8(expected).unwrap()
    );
}
