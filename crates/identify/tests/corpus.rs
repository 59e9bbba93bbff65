//! The labelled corpus: every target of observations.sample.jsonl must match
//! observations.expected.jsonl (maker/brand keywords contained in the id or name, null =
//! unknown, device_class equal). 100% required.

use camtrace_identify::Engine;
use camtrace_kb::Kb;
use camtrace_model::Observation;
use std::path::PathBuf;

fn read(name: &str) -> Option<String> {
    let p = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data")).join(name);
    match std::fs::read_to_string(&p) {
        Ok(t) => Some(t),
        // Part of the repository (tests/data/README.md): missing is a broken checkout.
        Err(e) => panic!("{}: {e}", p.display()),
    }
}

fn contains(r: &Option<camtrace_model::NamedRef>, want: &serde_json::Value) -> bool {
    match (r, want.as_str()) {
        (None, None) => true,
        (Some(r), Some(w)) => {
            let w = w.to_lowercase();
            r.id.to_lowercase().contains(&w) || r.name.to_lowercase().contains(&w)
        }
        _ => false,
    }
}

#[test]
fn sample_matches_expected_exactly() {
    let (Some(sample), Some(expected)) = (
        read("observations.sample.jsonl"),
        read("observations.expected.jsonl"),
    ) else {
        return;
    };
    let kb = Kb::embedded().expect("embedded kb loads");
    let engine = Engine::new(&kb).unwrap();
    let obs: Vec<Observation> = sample
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| Observation::from_json_line(l).unwrap())
        .collect();
    let ids = engine.identify_all(obs);
    let mut failures = Vec::new();
    let mut n = 0;
    for line in expected.lines().filter(|l| !l.trim().is_empty()) {
        n += 1;
        let e: serde_json::Value = serde_json::from_str(line).unwrap();
        let t = e["target"].as_str().unwrap();
        let Some(id) = ids.iter().find(|i| i.target == t) else {
            failures.push(format!("{t}: no identification"));
            continue;
        };
        if !contains(&id.maker, &e["maker"]) {
            failures.push(format!(
                "{t}: maker {:?}, expected {}",
                id.maker, e["maker"]
            ));
        }
        if !contains(&id.brand, &e["brand"]) {
            failures.push(format!(
                "{t}: brand {:?}, expected {}",
                id.brand, e["brand"]
            ));
        }
        if id.device_class.as_str() != e["device_class"].as_str().unwrap() {
            failures.push(format!(
                "{t}: class {}, expected {}",
                id.device_class, e["device_class"]
            ));
        }
        // Every claim carries evidence with a source.
        if id.maker.is_some() {
            assert!(
                id.evidence
                    .iter()
                    .any(|e| e.proves.iter().any(|p| p == "maker")),
                "{t}"
            );
        }
        for ev in &id.evidence {
            assert!(
                !ev.source.is_empty(),
                "{t}: evidence without source: {ev:?}"
            );
        }
    }
    assert!(n >= 10, "expected file has {n} rows");
    assert!(
        failures.is_empty(),
        "{} of {n} wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn regexset_engine_agrees_with_naive_matching() {
    let Some(sample) = read("observations.sample.jsonl") else {
        return;
    };
    let kb = Kb::embedded().expect("embedded kb loads");
    let engine = Engine::new(&kb).unwrap();
    let mut extra: Vec<String> = sample
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect();
    extra.extend([
        r#"{"target":"x","kind":"rtsp","headers":{"Server":"Dahua Rtsp Server","WWW-Authenticate":"Basic realm=\"device\""}}"#.to_string(),
        r#"{"target":"x","kind":"http","headers":{"server":"AvigilonOnvifNvt/4.10.0.28","Set-Cookie":"_goaheadwebSessionId=1"},"body":"<title>NETSurveillance WEB</title>"}"#.to_string(),
        r#"{"target":"x","kind":"telnet","banner":"192.0.0.64 login:"}"#.to_string(),
        r#"{"target":"x","kind":"port","port":37777}"#.to_string(),
    ]);
    let mut total = 0;
    for l in &extra {
        let o = Observation::from_json_line(l).unwrap();
        let fast = engine.matches(&o.kind);
        let slow = engine.matches_naive(&o.kind);
        assert_eq!(fast, slow, "{l}");
        total += fast.len();
    }
    assert!(total >= 15, "only {total} matches");
}
