//! Scan to register in one step (issue 16, point 5): `camtrace scan … --site S --save` stores the
//! evidence for a registered site; a missing site is refused before any traffic, with how to
//! create it; the same evidence imported with and without `--site` is counted once. Against a
//! lab on loopback only.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_camtrace"));
    c.env_remove("CAMTRACE_KB")
        .env_remove("CAMTRACE_DB")
        .env("CAMTRACE_LOG", "error");
    c
}

struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn run(db: &Path, args: &[&str]) -> (bool, String, String) {
    let o = bin().arg("--db").arg(db).args(args).output().unwrap();
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn ok_json(db: &Path, args: &[&str]) -> serde_json::Value {
    let mut a = args.to_vec();
    a.extend(["--format", "json"]);
    let (ok, out, err) = run(db, &a);
    assert!(ok, "camtrace {args:?}: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// (devices in the register, found and not in it) on `site`, by `sites`, `reconcile` and a
/// report: they must agree.
fn counts(db: &Path, dir: &Path, site: &str) -> (usize, usize) {
    let sites = ok_json(db, &["sites", "--site", site]);
    let s = &sites[0];
    let by_sites = (
        s["devices"].as_u64().unwrap() as usize,
        s["unregistered"].as_u64().unwrap() as usize,
    );
    let r = ok_json(db, &["reconcile", "--site", site]);
    let by_reconcile = (
        r["registered"].as_u64().unwrap() as usize,
        r["unregistered"].as_array().unwrap().len(),
    );
    assert_eq!(by_sites, by_reconcile, "sites and reconcile disagree");
    let out = dir.join("report");
    let (ok, _, err) = run(db, &["report", "--out", out.to_str().unwrap()]);
    assert!(ok, "{err}");
    let rep: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    let by_report = (
        rep["summary"]["devices"].as_u64().unwrap() as usize,
        rep["summary"]["unregistered"].as_u64().unwrap() as usize,
    );
    assert_eq!(
        by_sites, by_report,
        "the whole report counts more than the site"
    );
    by_sites
}

#[test]
fn scan_saves_to_a_registered_site_and_the_same_evidence_counts_once() {
    let pid = std::process::id();
    let dir: PathBuf = std::env::temp_dir().join(format!("camtrace-scan-save-{pid}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("camtrace.db");
    let range = format!("127.{}.{}.0/27", 100 + pid % 50, (pid / 50) % 250);

    let mut lab = bin()
        .args(["lab", "--devices", "12", "--seed", "5", "--range", &range])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = lab.stdout.take().unwrap();
    let _guard = Guard(lab);
    let mut lines = BufReader::new(stdout).lines();
    let t0 = Instant::now();
    loop {
        let line = lines.next().expect("lab output").unwrap();
        if line.contains("running") {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(60), "lab not ready");
    }
    // Keep the lab's stdout drained.
    std::thread::spawn(move || for _ in lines {});

    // No register yet: refused before scanning, nothing created.
    let scan = |db: &Path, extra: &[&str]| {
        let mut a = vec![
            "scan",
            range.as_str(),
            "--no-progress",
            "--save",
            "--format",
            "json",
        ];
        a.extend_from_slice(extra);
        run(db, &a)
    };
    let (ok, _, err) = scan(&db, &["--site", "lab"]);
    assert!(!ok && err.contains("no register database"), "{err}");
    assert!(!db.exists(), "a refused scan created a database");

    // A register without the site: the error says how to create it.
    let reg = dir.join("register.csv");
    std::fs::write(
        &reg,
        "organisation,organisation_name,site,site_name,ministerial_use\nlab-dept,Lab Department,lab,Lab,yes\n",
    )
    .unwrap();
    let (ok, _, err) = run(&db, &["import", reg.to_str().unwrap()]);
    assert!(ok, "{err}");
    let (ok, _, err) = scan(&db, &["--site", "hq"]);
    assert!(!ok, "scan for a missing site succeeded");
    assert!(
        err.contains("site `hq` is not in the register")
            && err.contains("import sites.csv")
            && err.contains("organisation,organisation_name,site,site_name"),
        "{err}"
    );
    let scans = ok_json(&db, &["history", "list"]);
    assert!(
        !scans.to_string().contains("\"scan\""),
        "nothing stored for the refused scan"
    );

    // Scan and save without a site, keeping the observations.
    let obs = dir.join("obs.jsonl");
    let (ok, _, err) = scan(&db, &["--save-observations", obs.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert!(err.contains("saved to"), "{err}");
    // The same file for the site: the stored scan moves to the site (not stored twice).
    let imp = ok_json(&db, &["import", obs.to_str().unwrap(), "--site", "lab"]);
    assert_eq!(imp[0]["outcome"], "assigned", "{imp}");
    let once = counts(&db, &dir, "lab");
    assert!(
        once.1 >= 5,
        "the lab's devices are found, not registered: {once:?}"
    );
    // Again with and without the site: unchanged.
    for extra in [&["--site", "lab"][..], &[][..]] {
        let mut a = vec!["import", obs.to_str().unwrap()];
        a.extend_from_slice(extra);
        let imp = ok_json(&db, &a);
        assert_eq!(imp[0]["outcome"], "unchanged", "{extra:?}: {imp}");
    }
    assert_eq!(counts(&db, &dir, "lab"), once);

    // A new scan saved straight to the site, then its observations imported without a site.
    let obs2 = dir.join("obs2.jsonl");
    let (ok, _, err) = scan(
        &db,
        &[
            "--site",
            "lab",
            "--save-observations",
            obs2.to_str().unwrap(),
        ],
    );
    assert!(ok, "{err}");
    assert!(err.contains("site lab"), "{err}");
    let imp = ok_json(&db, &["import", obs2.to_str().unwrap()]);
    assert_eq!(imp[0]["outcome"], "unchanged", "{imp}");
    assert_eq!(
        counts(&db, &dir, "lab"),
        once,
        "a second scan of the same devices"
    );

    // `check` judges the register, and says what it did not judge and how to adopt it.
    let (ok, _, err) = run(&db, &["check", "--format", "json"]);
    assert!(ok, "{err}");
    let note = format!(
        "{} device(s) found on the network are not in the register",
        once.1
    );
    assert!(err.contains(&note), "{err}");
    assert!(
        err.contains("camtrace reconcile --site lab --adopt"),
        "{err}"
    );
    let restricted: usize = err
        .split("were not judged (")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .expect("the restricted count");
    assert!(
        restricted >= 1 && restricted <= once.1,
        "Hikvision and Dahua devices on a ministerial site: {err}"
    );

    // Adopted, they move from "found" to the register, still counted once.
    let (ok, _, err) = run(&db, &["reconcile", "--site", "lab", "--adopt"]);
    assert!(ok, "{err}");
    assert_eq!(counts(&db, &dir, "lab"), (once.1, 0));
    let (ok, out, err) = run(&db, &["check", "--format", "json"]);
    assert!(ok, "{err}");
    assert!(!err.contains("not in the register"), "{err}");
    let findings: serde_json::Value = serde_json::from_str(&out).unwrap();
    let judged: std::collections::HashSet<&str> = findings
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["device"].as_str().or(f["device_id"].as_str()))
        .collect();
    assert_eq!(
        judged.len(),
        restricted,
        "the note foretold the adopted devices' verdicts"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
