//! `camtrace procure check`: exit status and output on the bundled sample quote.

use std::process::Command;

fn quote_path() -> String {
    concat!(env!("CARGO_MANIFEST_DIR"), "/../../demo/quote.csv").to_string()
}

#[test]
fn blocked_line_gives_non_zero_exit_and_json_names_the_oem_chain() {
    let o = Command::new(env!("CARGO_BIN_EXE_camtrace"))
        .args([
            "procure",
            "check",
            &quote_path(),
            "--no-db",
            "--format",
            "json",
            "--regime",
            "uk-2022-sensitive-sites",
        ])
        .env_remove("CAMTRACE_KB")
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["verdict"], "blocked");
    let lines = v["lines"].as_array().unwrap();
    let hilook = lines
        .iter()
        .find(|l| l["line"]["brand"] == "HiLook")
        .unwrap();
    assert_eq!(hilook["verdict"], "blocked");
    assert_eq!(hilook["maker"]["id"], "hikvision");
    assert!(hilook["chain"].to_string().contains("OEM link"));
    // LTS -> Hikvision is an unverified OEM link (kb/brands/oem.toml): an inquiry naming the
    // fact, never blocked (nor allowed) by it alone.
    let lts = lines.iter().find(|l| l["line"]["brand"] == "LTS").unwrap();
    assert_eq!(lts["verdict"], "inquiry");
    assert_eq!(lts["maker"]["id"], "hikvision");
    assert!(lts["chain"].to_string().contains("unverified fact alone"));
    let axis = lines.iter().find(|l| l["line"]["brand"] == "Axis").unwrap();
    assert_eq!(axis["verdict"], "allowed");
    let unknown = lines.iter().find(|l| l["maker"].is_null()).unwrap();
    assert_eq!(unknown["verdict"], "inquiry");
}

#[test]
fn clean_quote_exits_zero_and_strict_flags_inquiries() {
    let dir = std::env::temp_dir().join(format!("camtrace-procure-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let clean = dir.join("clean.csv");
    std::fs::write(
        &clean,
        "brand,model,quantity\nAxis,AXIS P3265-LVE,2\nHanwha Vision,XNV-8080R,1\n",
    )
    .unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_camtrace"))
            .args(args)
            .env_remove("CAMTRACE_KB")
            .output()
            .unwrap()
    };
    let o = run(&[
        "procure",
        "check",
        clean.to_str().unwrap(),
        "--no-db",
        "--format",
        "table",
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("ALLOWED"));
    let unknown = dir.join("unknown.csv");
    std::fs::write(&unknown, "brand,model,quantity\nNobody Optics,X1,1\n").unwrap();
    assert_eq!(
        run(&["procure", "check", unknown.to_str().unwrap(), "--no-db"])
            .status
            .code(),
        Some(0)
    );
    assert_eq!(
        run(&[
            "procure",
            "check",
            unknown.to_str().unwrap(),
            "--no-db",
            "--strict"
        ])
        .status
        .code(),
        Some(3)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue 16: an unbalanced quote swallowed the Hikvision line and the check passed (exit 0).
#[test]
fn malformed_quote_fails_closed_with_its_line_and_a_non_zero_exit() {
    let dir = std::env::temp_dir().join(format!("camtrace-procure-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_camtrace"))
            .args(args)
            .env_remove("CAMTRACE_KB")
            .output()
            .unwrap()
    };
    let bad = dir.join("bad.csv");
    std::fs::write(
        &bad,
        "supplier,brand,model,quantity,site\nAcme,\"Axis,P3265-LVE,6,dfe-hq\nAcme,Hikvision,DS-2CD2143G0-I,1,dfe-hq\n",
    )
    .unwrap();
    let o = run(&["procure", "check", bad.to_str().unwrap(), "--no-db"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_ne!(o.status.code(), Some(0), "{err}");
    assert!(err.contains("line 2"), "{err}");
    let count = dir.join("count.csv");
    std::fs::write(&count, "brand,model,count\nHikvision,DS-2CD2143G0-I,40\n").unwrap();
    let o = run(&["procure", "check", count.to_str().unwrap(), "--no-db"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_ne!(o.status.code(), Some(0), "{err}");
    assert!(err.contains("line 1") && err.contains("`count`"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
