//! `camtrace identify` streams (issue 14): observations are folded into their target's
//! evidence as they are read, so the answer cannot depend on how a file interleaves targets, and
//! its CSV goes through the one CSV writer (issue 12). Data: `tests/data/observations.sample.jsonl`
//! (see `tests/data/README.md`).

use std::io::Write;
use std::process::{Command, Stdio};

fn sample() -> Vec<String> {
    let p = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/data/observations.sample.jsonl"
    );
    std::fs::read_to_string(p)
        .expect("sample")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect()
}

fn identify(lines: &[String], format: &str) -> (bool, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_camtrace"))
        .args([
            "identify",
            "--input",
            "-",
            "--format",
            format,
            "--as-of",
            "2026-12-01",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("camtrace");
    let mut stdin = child.stdin.take().expect("stdin");
    let text = lines.join("\n") + "\n";
    let writer = std::thread::spawn(move || stdin.write_all(text.as_bytes()));
    let out = child.wait_with_output().expect("output");
    writer.join().expect("writer").expect("write");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn by_target(json_lines: &str) -> std::collections::BTreeMap<String, serde_json::Value> {
    json_lines
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("JSON line");
            (v["target"].as_str().expect("target").to_string(), v)
        })
        .collect()
}

#[test]
fn identification_does_not_depend_on_how_targets_interleave() {
    let lines = sample();
    // The same observations in another order: odd lines first, then even ones reversed, so a
    // target's observations are split apart and interleaved with others'.
    let mut mixed: Vec<String> = lines.iter().step_by(2).cloned().collect();
    mixed.extend(lines.iter().skip(1).step_by(2).rev().cloned());
    assert_ne!(mixed, lines);
    let (ok, once, err) = identify(&lines, "json");
    assert!(ok, "{err}");
    let (ok, twice, err) = identify(&mixed, "json");
    assert!(ok, "{err}");
    let (a, b) = (by_target(&once), by_target(&twice));
    assert!(a.len() >= 8, "{once}");
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (t, v) in &a {
        for k in ["maker", "brand", "device_class", "model"] {
            assert_eq!(v[k], b[t][k], "{t} {k}");
        }
    }
    // First-seen order: the output follows the input's first sighting of each target.
    let order: Vec<String> = once
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["target"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let mut firsts: Vec<String> = Vec::new();
    for l in &lines {
        let t = serde_json::from_str::<serde_json::Value>(l).unwrap()["target"]
            .as_str()
            .unwrap()
            .to_string();
        if !firsts.contains(&t) {
            firsts.push(t);
        }
    }
    assert_eq!(order, firsts);
}

#[test]
fn a_bad_line_is_refused_with_its_number_and_csv_cells_are_neutralised() {
    let mut lines = sample();
    lines.insert(2, "{\"target\": ".into());
    let (ok, _, err) = identify(&lines, "json");
    assert!(!ok);
    assert!(err.contains("-:3"), "{err}");

    let formula = r#"{"target": "=HYPERLINK(\"http://127.0.0.1/\")", "kind": "http", "port": 80, "status": 200, "headers": {"Server": "App-webs/"}}"#;
    let (ok, csv, err) = identify(&[formula.to_string()], "csv");
    assert!(ok, "{err}");
    let row = csv.lines().nth(1).expect("a row");
    assert!(!row.starts_with("\"=") && !row.starts_with('='), "{row}");
    assert!(row.contains("HYPERLINK"), "{row}");
}
