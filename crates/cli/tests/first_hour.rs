//! Issue 16, a new user's first hour: read commands never create a database (with no register
//! they say where they looked and what to do, and exit non-zero); `kb list regimes` lists the
//! ids `--regime` takes.

use std::path::PathBuf;
use std::process::Command;

fn tmpdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "camtrace-noreg-{tag}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

const READS: &[&[&str]] = &[
    &["check"],
    &["devices"],
    &["sites"],
    &["reconcile", "--site", "hq"],
    &["plan"],
    &["report", "--out", "out"],
    &["history", "list"],
    &["history", "verify"],
    &["waiver", "list"],
];

#[test]
fn no_database_is_created_by_a_read_command() {
    let dir = tmpdir("default");
    for args in READS {
        let o = Command::new(env!("CARGO_BIN_EXE_camtrace"))
            .args(*args)
            .current_dir(&dir)
            .env_remove("CAMTRACE_DB")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{args:?} succeeded: {err}");
        assert!(
            err.contains("no register database at")
                && err.contains(&dir.join("camtrace.db").display().to_string())
                && err.contains("camtrace demo")
                && err.contains("camtrace import")
                && err.contains("--db"),
            "{args:?}: {err}"
        );
        assert!(
            !dir.join("camtrace.db").exists(),
            "{args:?} created camtrace.db"
        );
        assert!(o.stdout.is_empty(), "{args:?} printed {:?}", o.stdout);
    }
    // The same with --db naming a file that is not there, and through CAMTRACE_DB.
    let db = dir.join("sub/elsewhere.db");
    for args in READS {
        let o = Command::new(env!("CARGO_BIN_EXE_camtrace"))
            .args(*args)
            .args(["--db", db.to_str().unwrap()])
            .current_dir(&dir)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{args:?}: {err}");
        assert!(err.contains(db.to_str().unwrap()), "{args:?}: {err}");
        assert!(
            !db.exists() && !dir.join("sub").exists(),
            "{args:?} created it"
        );
    }
    let o = Command::new(env!("CARGO_BIN_EXE_camtrace"))
        .args(["devices"])
        .env("CAMTRACE_DB", format!("sqlite://{}", db.display()))
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(!db.exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn kb_list_regimes_names_every_regime_and_its_default() {
    let o = Command::new(env!("CARGO_BIN_EXE_camtrace"))
        .args(["kb", "list", "regimes", "--format", "json"])
        .env_remove("CAMTRACE_KB")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let rows = v.as_array().unwrap();
    let uk = rows
        .iter()
        .find(|r| r["id"] == "uk-2022-sensitive-sites")
        .expect("the UK regime is listed");
    assert_eq!(uk["default"], "yes");
    assert!(!uk["source"].as_str().unwrap().is_empty());
    // A misspelt regime points at the list.
    let o = Command::new(env!("CARGO_BIN_EXE_camtrace"))
        .args(["procure", "check", "-", "--no-db", "--regime", "uk-2022"])
        .env_remove("CAMTRACE_KB")
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("camtrace kb list regimes"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn import_of_a_missing_file_says_so_once_and_creates_nothing() {
    let dir = tmpdir("nope");
    let o = Command::new(env!("CARGO_BIN_EXE_camtrace"))
        .args(["import", "nope.csv"])
        .current_dir(&dir)
        .env_remove("CAMTRACE_DB")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert_eq!(err.matches("nope.csv").count(), 1, "{err}");
    assert_eq!(
        err.to_lowercase().matches("no such file").count(),
        1,
        "{err}"
    );
    assert!(!dir.join("camtrace.db").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue 16 point 9: `plan` showed its least useful reason (the device line) first and hid the
/// rule behind "(+12 more reasons)".
#[test]
fn plan_table_shows_the_rule_first() {
    let dir = tmpdir("plan");
    let db = format!("sqlite://{}", dir.join("t.db").display());
    let reg = dir.join("reg.csv");
    std::fs::write(
        &reg,
        "organisation,organisation_kind,country,site,ministerial_use,government_building,device,brand,model,class\n\
         dept,central_government,GB,hq,yes,yes,cam-1,Hikvision,DS-2CD2143G0-I,camera\n",
    )
    .unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_camtrace"))
            .args(args)
            .args(["--db", &db])
            .env_remove("CAMTRACE_KB")
            .output()
            .unwrap()
    };
    let o = run(&["import", reg.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = run(&["plan", "--format", "table"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8(o.stdout).unwrap();
    let first = out
        .lines()
        .find(|l| l.trim_start().starts_with("because"))
        .unwrap_or_else(|| panic!("no reasons: {out}"));
    assert!(first.contains("[rule]"), "{out}");
    assert!(!out.contains("more reasons)"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}
