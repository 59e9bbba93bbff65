//! Runs `camtrace demo` end to end (lab on 127.21.0.0/16, scan, register, check, plan, quote,
//! report) and checks its summary and outputs.

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

#[test]
fn demo_runs_end_to_end_and_reports_restricted_devices_and_a_blocked_quote() {
    let out: PathBuf =
        std::env::temp_dir().join(format!("camtrace-demo-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let start = Instant::now();
    let o = Command::new(env!("CARGO_BIN_EXE_camtrace"))
        .args(["demo", "--out"])
        .arg(&out)
        .env_remove("CAMTRACE_KB") // the built-in knowledge base only
        .output()
        .expect("run camtrace demo");
    let elapsed = start.elapsed();
    let stdout = String::from_utf8_lossy(&o.stdout);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "demo failed: {stdout}\n{stderr}");
    assert!(stdout.contains("report:"), "{stdout}");

    let s: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).expect("summary.json"))
            .unwrap();
    let n = |k: &str| {
        s[k].as_u64()
            .unwrap_or_else(|| panic!("{k} missing in {s}"))
    };
    assert_eq!(n("organisations"), 3);
    assert_eq!(n("sites"), 8);
    assert!(n("sensitive_sites") >= 2);
    assert!(n("lab_devices") >= 200, "a few hundred devices");
    assert!(n("devices_found") > 0, "the scan found nothing");
    assert!(n("devices_identified") > 0, "nothing identified");
    // The register's deliberate gaps are all found.
    assert!(
        n("found_not_registered") >= 1,
        "devices missing from the register not reported"
    );
    assert!(
        n("registered_not_found") >= 1,
        "the registered-but-gone device not reported"
    );
    assert!(
        n("mismatched") >= 1,
        "register says Axis, wire says Hikvision: not reported"
    );
    assert!(n("restricted_devices") > 0);
    assert!(n("restricted_on_sensitive_sites") > 0);
    assert!(n("plan_cost") <= n("plan_budget"), "plan over budget");
    assert!(n("plan_selected") > 0);
    assert_eq!(s["quote_verdict"], "blocked");
    // The history the demo wrote verifies, and its head is an anchor the CLI accepts.
    assert!(n("history_entries") > 0);
    let head = s["history_head"].as_str().expect("history head");
    let v = Command::new(env!("CARGO_BIN_EXE_camtrace"))
        .args(["history", "verify", "--anchor", head])
        .env("CAMTRACE_DB", s["database"].as_str().unwrap())
        .output()
        .unwrap();
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stdout));
    assert!(n("quote_blocked") >= 1);
    let blocked = s["quote_blocked_lines"].to_string();
    assert!(
        blocked.contains("LTS"),
        "the rebranded LTS camera must be blocked: {blocked}"
    );
    assert!(s["findings_by_obligation"]
        .as_object()
        .is_some_and(|m| !m.is_empty()));

    let report = out.join("report");
    for f in [
        "index.html",
        "findings.csv",
        "plan.csv",
        "devices.csv",
        "report.json",
        "report.xlsx",
    ] {
        let p = report.join(f);
        assert!(
            p.is_file() && std::fs::metadata(&p).unwrap().len() > 0,
            "{f} missing or empty"
        );
    }
    let html = std::fs::read_to_string(report.join("index.html")).unwrap();
    assert!(
        html.contains("<svg") && html.contains("findings-table") && html.contains("plan-table")
    );
    assert!(
        html.contains("register says Axis, wire says"),
        "mismatch missing from the report"
    );
    assert!(out.join("camtrace.db").is_file());
    eprintln!("demo took {elapsed:?} (debug build)");

    // The same database through the ordinary commands: a plan within a smaller budget, and the
    // report rebuilt from stored history as of today gives the demo's counts.
    let db = out.join("camtrace.db");
    let cmd = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_camtrace"))
            .arg("--db")
            .arg(&db)
            .args(args)
            .env_remove("CAMTRACE_KB")
            .output()
            .unwrap()
    };
    let o = cmd(&[
        "plan",
        "--budget",
        "3000",
        "--period",
        "Q1",
        "--regime",
        "uk-2022-sensitive-sites",
        "--format",
        "json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let plan: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(plan["total_cost"].as_u64().unwrap() <= 3000);
    assert_eq!(plan["exact"], true);
    let rows = plan["rows"].as_array().unwrap();
    assert!(rows.iter().any(|r| r["selected"] == false
        && r["wait_reason"]
            .as_str()
            .is_some_and(|w| w.contains("budget"))));
    assert!(rows
        .iter()
        .all(|r| !r["reasons"].as_array().unwrap().is_empty()));

    let today = chrono::Utc::now().date_naive().to_string();
    let rep = out.join("report-as-of");
    let o = cmd(&[
        "report",
        "--as-of",
        &today,
        "--regime",
        "uk-2022-sensitive-sites",
        "--out",
        rep.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r: serde_json::Value =
        serde_json::from_slice(&std::fs::read(rep.join("report.json")).unwrap()).unwrap();
    assert_eq!(r["summary"]["restricted_devices"], s["restricted_devices"]);
    assert_eq!(
        r["summary"]["restricted_on_sensitive_sites"],
        s["restricted_on_sensitive_sites"]
    );
    assert_eq!(r["report"]["as_of"], today);
    assert!(r["report"]["kb_version"]
        .as_str()
        .is_some_and(|v| !v.is_empty()));
    let o = cmd(&[
        "report",
        "--org",
        "northshire-cc",
        "--out",
        out.join("report-org").to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("report-org/report.json")).unwrap())
            .unwrap();
    assert!(r["report"]["sites"]
        .as_array()
        .unwrap()
        .iter()
        .all(|x| x["organisation"] == "northshire-cc"));
    let _ = std::fs::remove_dir_all(&out);
}
