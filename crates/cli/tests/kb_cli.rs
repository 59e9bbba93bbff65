//! `camtrace kb` end to end: the built binary, its output and exit status.

use std::process::{Command, Output};

fn camtrace(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_camtrace"))
        .args(args)
        .env_remove("CAMTRACE_KB")
        .output()
        .expect("run camtrace")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn check_passes_with_counts() {
    let o = camtrace(&["kb", "check"]);
    let out = stdout(&o);
    assert!(
        o.status.success(),
        "{out}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.trim_end().ends_with("ok"), "{out}");
    for line in [
        "companies",
        "restricted makers (prc_nil yes)",
        "brands",
        "OEM links",
        "OUI prefixes",
        "lists",
        "signatures",
    ] {
        assert!(
            out.lines().any(|l| l.trim_start().starts_with(line)),
            "missing `{line}` in {out}"
        );
    }
    let json = camtrace(&["kb", "check", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let companies = v["counts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c[0] == "companies")
        .unwrap()[1]
        .as_u64()
        .unwrap();
    assert!(companies >= 45);
    assert!(v["errors"].as_array().unwrap().is_empty());
}

#[test]
fn check_reports_broken_overlay_with_file_and_line() {
    let dir = std::env::temp_dir().join(format!("camtrace-kbcli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("brands")).unwrap();
    std::fs::write(
        dir.join("brands/local.toml"),
        "# local additions\n[[brand]]\nid = \"acme\"\nname = \"Acme\"\nas_of = 2026-01-01\n",
    )
    .unwrap();
    let o = camtrace(&["--kb", dir.to_str().unwrap(), "kb", "check"]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("local.toml:2"), "{out}");
    assert!(out.contains("source"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn show_hikvision_cites_sources() {
    let o = camtrace(&["kb", "show", "hikvision", "--as-of", "2026-11-28"]);
    let out = stdout(&o);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        out.contains("Hangzhou Hikvision Digital Technology"),
        "{out}"
    );
    assert!(out.contains("prc_nil: yes"), "{out}");
    assert!(out.contains("40.46"), "{out}");
    assert!(
        out.contains("[fcc-covered]") && out.contains("added 2021-03-12"),
        "{out}"
    );
    assert!(out.contains("source: FCC Covered List"), "{out}");
    assert!(out.contains("kb/companies/prc.toml:"), "{out}");
    assert!(out.contains("[UNVERIFIED]"), "{out}");
    assert!(out.contains("85 MA-L"), "{out}");
    // Before the FCC listing the membership is shown as not in force.
    let early = stdout(&camtrace(&[
        "kb",
        "show",
        "hikvision",
        "--as-of",
        "2021-03-11",
    ]));
    let (active, inactive) = early.split_once("Lists not in force").unwrap();
    assert!(!active.contains("[fcc-covered]"), "{early}");
    assert!(inactive.contains("[fcc-covered]"), "{early}");
}

#[test]
fn show_brand_by_name_and_json() {
    let o = camtrace(&["kb", "show", "Wisenet", "--format", "json"]);
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["brand"]["id"], "hanwha-vision");
    let o = camtrace(&[
        "kb",
        "show",
        "lorex",
        "--as-of",
        "2022-11-23",
        "--format",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["company"]["id"], "lorex");
    assert_eq!(v["brand"]["owner_on_date"], "dahua");
    assert_eq!(v["brand"]["maker"]["prc_nil"], "yes");
    let o = camtrace(&[
        "kb",
        "show",
        "lorex",
        "--as-of",
        "2022-11-24",
        "--format",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["brand"]["owner_on_date"], "skywatch");
}

#[test]
fn show_unknown_lists_close_matches() {
    let o = camtrace(&["kb", "show", "hikvison"]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("hikvision") && err.contains("close matches"),
        "{err}"
    );
}

#[test]
fn list_and_mac() {
    let o = camtrace(&[
        "kb",
        "list",
        "companies",
        "--restricted",
        "--format",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let ids: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"hikvision") && ids.contains(&"dahua"));
    assert!(!ids.contains(&"axis"));
    let o = camtrace(&["kb", "mac", "E0:50:8B:11:22:33"]);
    assert!(stdout(&o).contains("company `dahua`"), "{}", stdout(&o));
    let o = camtrace(&["kb", "mac", "nonsense"]);
    assert!(!o.status.success());
}
