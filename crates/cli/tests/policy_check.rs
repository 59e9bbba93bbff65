//! `camtrace check` and `camtrace waiver` end to end, with a knowledge-base overlay of test
//! makers (ids that cannot collide with the built-in knowledge base).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const COMPANIES: &str = r#"
[[company]]
id = "zz-test-cn"
name = "ZZ Test CN Co."
short = "ZZTestCN"
country = "CN"
prc_nil = "yes"
prc_nil_reason = "test maker headquartered in the PRC"
source = "cli test"
as_of = 2026-11-28

[[company]]
id = "zz-test-se"
name = "ZZ Test SE AB"
short = "ZZTestSE"
country = "SE"
prc_nil = "no"
prc_nil_reason = "test maker headquartered in Sweden"
source = "cli test"
as_of = 2026-11-28
"#;

fn workdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("camtrace-policy-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(d.join("kb/companies")).unwrap();
    std::fs::write(d.join("kb/companies/zz-cli-test.toml"), COMPANIES).unwrap();
    d
}

fn camtrace(dir: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_camtrace"));
    c.arg("--kb")
        .arg(dir.join("kb"))
        .arg("--db")
        .arg(dir.join("register.db"))
        .args(args)
        .env_remove("CAMTRACE_KB")
        .env_remove("CAMTRACE_DB");
    match stdin {
        Some(text) => {
            use std::io::Write;
            c.stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped());
            let mut child = c.spawn().expect("run camtrace");
            child
                .stdin
                .take()
                .unwrap()
                .write_all(text.as_bytes())
                .unwrap();
            child.wait_with_output().unwrap()
        }
        None => c.output().expect("run camtrace"),
    }
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    })
}

const IDENTS: &str = r#"{"target":"127.0.0.11","brand":null,"maker":{"id":"zz-test-cn","name":"ZZ Test CN Co."},"model":"X1","firmware":null,"device_class":"camera","confidence":0.9,"evidence":[{"kind":"http","detail":"Server: zz-cn","signature":"zz","source":"kb/signatures/zz.toml:1"}]}
{"target":"127.0.0.12","brand":null,"maker":{"id":"zz-test-se","name":"ZZ Test SE AB"},"model":null,"firmware":null,"device_class":"camera","confidence":0.95,"evidence":[]}
{"target":"127.0.0.13","brand":null,"maker":null,"model":null,"firmware":null,"device_class":"unknown","confidence":0.0,"evidence":[]}
"#;

#[test]
fn piped_identifications_gate_a_planned_deployment() {
    let dir = workdir("input");
    let args = [
        "check",
        "--input",
        "-",
        "--planned",
        "--site-criteria",
        "ministerial,dv",
        "--regime",
        "uk-2022-sensitive-sites",
        "--as-of",
        "2024-01-01",
        "--format",
        "json",
        "--fail-on",
        "high",
    ];
    let o = camtrace(&dir, &args, Some(IDENTS));
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v = json(&o);
    let rows: Vec<(String, String, String)> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["device_id"].as_str().unwrap().to_string(),
                f["rule_id"].as_str().unwrap().to_string(),
                f["status"]["state"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            (
                "127.0.0.11".into(),
                "no-new-deployment".into(),
                "open".into()
            ),
            (
                "127.0.0.13".into(),
                "needs-inspection".into(),
                "needs_inspection".into()
            ),
        ]
    );
    let reasons = v[0]["reasons"].to_string();
    assert!(
        reasons.contains("ZZTestCN is subject to the PRC National Intelligence Law"),
        "{reasons}"
    );
    assert!(reasons.contains("Server: zz-cn"), "{reasons}");
    assert!(reasons.contains("routinely used by Ministers"), "{reasons}");
    // The rule cites the written answer restating the WMS (HL9193), not an NPSA page (issue 13).
    assert!(reasons.contains("eldaddp.azurewebsites.net"), "{reasons}");

    // The day before the WMS: nothing, exit 0.
    let mut before = args.to_vec();
    before[9] = "2022-11-23";
    let o = camtrace(&dir, &before, Some(IDENTS));
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(json(&o), serde_json::json!([]));

    // Not a sensitive site: nothing.
    let o = camtrace(
        &dir,
        &[
            "check",
            "--input",
            "-",
            "--planned",
            "--as-of",
            "2024-01-01",
            "--format",
            "csv",
            "--fail-on",
            "info",
        ],
        Some(IDENTS),
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(text.lines().count(), 1, "only the CSV header: {text}");

    // Bad input is a clear error (exit 2).
    let o = camtrace(
        &dir,
        &["check", "--input", "-", "--site-criteria", "topsecret"],
        Some(IDENTS),
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown site criterion `topsecret`"));
    let _ = std::fs::remove_dir_all(&dir);
}

const REGISTER: &str =
    "organisation,organisation_kind,country,site,ministerial_use,device,maker,class,status
dept-a,central_government,GB,hq,yes,cam-1,zz-test-cn,camera,installed
dept-a,central_government,GB,hq,yes,cam-2,zz-test-se,camera,installed
dept-a,central_government,GB,hq,yes,cam-3,zz-test-cn,camera,planned
";

fn states(v: &serde_json::Value) -> Vec<(String, String, String)> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["device_id"].as_str().unwrap().to_string(),
                f["rule_id"].as_str().unwrap().to_string(),
                f["status"]["state"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn waivers_show_as_waived_and_revocation_reopens() {
    // A waiver lasts at most three years from today.
    let exp = (chrono::Utc::now().date_naive() + chrono::Duration::days(365)).to_string();
    let exp = exp.as_str();
    let dir = workdir("waiver");
    let reg = dir.join("devices.csv");
    std::fs::write(&reg, REGISTER).unwrap();
    let reg_s = reg.to_str().unwrap();
    let check = [
        "check",
        "--devices",
        reg_s,
        "--as-of",
        "2024-01-01",
        "--format",
        "json",
    ];

    // Deployment gate over a device list: only the planned device.
    let o = camtrace(
        &dir,
        &[
            "check",
            "--devices",
            reg_s,
            "--planned",
            "--as-of",
            "2024-01-01",
            "--format",
            "json",
        ],
        None,
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        states(&json(&o)),
        vec![("cam-3".into(), "no-new-deployment".into(), "open".into())]
    );

    // Waivers need the device in the register.
    let o = camtrace(
        &dir,
        &["import", reg_s, "--actor", "tester", "--format", "json"],
        None,
    );
    assert!(
        o.status.success(),
        "import: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = camtrace(
        &dir,
        &[
            "waiver",
            "add",
            "--device",
            "cam-404",
            "--rule",
            "uk-2022-sensitive-sites/consider-removal",
            "--reason",
            "r",
            "--approver",
            "a",
            "--expires",
            exp,
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not in the register"));

    // Unknown rule is refused.
    let o = camtrace(
        &dir,
        &[
            "waiver",
            "add",
            "--device",
            "cam-1",
            "--rule",
            "uk-2022-sensitive-sites/nope",
            "--reason",
            "r",
            "--approver",
            "a",
            "--expires",
            exp,
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("has no rule `nope`"));

    let o = camtrace(
        &dir,
        &[
            "waiver",
            "add",
            "--id",
            "w-test-1",
            "--device",
            "cam-1",
            "--rule",
            "uk-2022-sensitive-sites/consider-removal",
            "--reason",
            "kept until the replacement is fitted",
            "--approver",
            "security-adviser",
            "--expires",
            exp,
            "--actor",
            "tester",
        ],
        None,
    );
    if !o.status.success() {
        let err = String::from_utf8_lossy(&o.stderr);
        panic!("waiver add failed: {err}");
    }

    let o = camtrace(&dir, &check, None);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v = json(&o);
    assert_eq!(
        states(&v),
        vec![
            ("cam-1".into(), "consider-removal".into(), "waived".into()),
            ("cam-3".into(), "no-new-deployment".into(), "open".into()),
        ]
    );
    assert_eq!(v[0]["status"]["waiver_id"], "w-test-1");
    assert!(v[0]["reasons"]
        .to_string()
        .contains("approved by security-adviser"));

    let o = camtrace(&dir, &["waiver", "list", "--format", "json"], None);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let l = json(&o);
    assert_eq!(l[0]["id"], "w-test-1");
    assert_eq!(l[0]["state"], "in_force");

    // --fail-on counts open and needs-inspection findings only, not waived ones.
    let o = camtrace(
        &dir,
        &[
            "check",
            "--devices",
            reg_s,
            "--as-of",
            "2024-01-01",
            "--format",
            "json",
            "--fail-on",
            "critical",
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(1));

    let o = camtrace(
        &dir,
        &[
            "waiver",
            "revoke",
            "w-test-1",
            "--by",
            "chief",
            "--reason",
            "replacement delayed too long",
        ],
        None,
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = camtrace(&dir, &check, None);
    let v = json(&o);
    assert_eq!(
        states(&v)[0],
        ("cam-1".into(), "consider-removal".into(), "open".into())
    );
    assert!(
        v[0]["reasons"].to_string().contains("revoked"),
        "{}",
        v[0]["reasons"]
    );
    let o = camtrace(&dir, &["waiver", "list", "--all", "--format", "json"], None);
    assert_eq!(json(&o)[0]["state"], "revoked");
    // Both changes are in the audit history, with who made them.
    let o = camtrace(
        &dir,
        &["waiver", "history", "w-test-1", "--format", "json"],
        None,
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let h = json(&o);
    let h = h.as_array().unwrap();
    assert_eq!(h.len(), 2, "{h:?}");
    assert_eq!(h[0]["actor"], "tester");
    assert_eq!(h[1]["actor"], "chief");

    // The same judgement straight from the register database.
    let o = camtrace(
        &dir,
        &[
            "check",
            "--format",
            "json",
            "--regime",
            "uk-2022-sensitive-sites",
        ],
        None,
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v = json(&o);
    let got = states(&v);
    assert!(
        got.contains(&("cam-1".into(), "remove-by-2025-04".into(), "open".into())),
        "{got:?}"
    );
    assert!(
        got.contains(&("cam-3".into(), "no-new-deployment".into(), "open".into())),
        "{got:?}"
    );
    assert!(!got.iter().any(|(d, _, _)| d == "cam-2"), "{got:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
