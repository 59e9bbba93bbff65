//! End to end through the binary: a register CSV, an nmap XML file and a capture of the same
//! site reconcile into one view with the differences listed, on SQLite and (when configured)
//! PostgreSQL; imports are idempotent; an import killed half-way leaves the database as it was.

use camtrace_store::{EstateFilter, HistoryFilter, ObservationFilter};
use serde_json::Value;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_camtrace")
}

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../ingest/tests/fixtures")
}

fn tmpdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "camtrace-e2e-{tag}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn camtrace(db: &str, args: &[&str]) -> Value {
    let out = Command::new(bin())
        .args(args)
        .args(["--format", "json"])
        .env("CAMTRACE_DB", db)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "camtrace {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "camtrace {args:?}: not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn scenario(db: &str) {
    let f = fixtures();
    let reg = f.join("site-register.csv");
    let nmap = f.join("site-nmap.xml");
    let pcap = f.join("site.pcap");
    let r = camtrace(db, &["import", path(&reg)]);
    assert_eq!(r[0]["register"]["devices"]["created"], 4);
    let r = camtrace(db, &["import", path(&nmap), "--site", "hq"]);
    assert_eq!(r[0]["outcome"], "imported");
    assert_eq!(r[0]["identifications"], 4);
    let r = camtrace(db, &["import", path(&pcap), "--site", "hq"]);
    assert_eq!(r[0]["outcome"], "imported");
    // Idempotent: the same three files again change nothing.
    let r = camtrace(
        db,
        &[
            "import",
            path(&reg),
            path(&nmap),
            path(&pcap),
            "--site",
            "hq",
        ],
    );
    for f in r.as_array().unwrap() {
        assert_eq!(f["outcome"], "unchanged", "{f}");
    }

    let rec = camtrace(db, &["reconcile", "--site", "hq", "--since", "2025-11-01"]);
    assert_eq!(rec["registered"], 4);
    assert_eq!(rec["matched"], 3);
    // Register says Axis; the wire says Hikvision.
    let mm = rec["mismatches"].as_array().unwrap();
    assert_eq!(mm.len(), 1, "{rec:#}");
    assert_eq!(mm[0]["device_id"], "cam-lobby");
    assert_eq!(mm[0]["field"], "maker");
    assert_eq!(mm[0]["observed"], "hikvision");
    assert!(mm[0]["register"].as_str().unwrap().contains("axis"));
    // One view: the nmap banner and the capture's DNS query back the same identification.
    let ev = mm[0]["evidence"].to_string();
    assert!(ev.contains("App-webs") && ev.contains("ezvizlife"), "{ev}");
    // Registered, never seen.
    let unseen: Vec<&str> = rec["unseen"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["device_id"].as_str().unwrap())
        .collect();
    assert_eq!(unseen, ["cam-gate"]);
    // Discovered, not registered: the Dahua device, at two addresses with one MAC.
    let unreg: Vec<&str> = rec["unregistered"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["target"].as_str().unwrap())
        .collect();
    assert_eq!(unreg, ["192.0.2.30", "192.0.2.31"]);
    assert!(rec["unregistered"][0]["maker"] == "dahua");
    let dup = &rec["duplicates"][0];
    assert_eq!(dup["mac"], "08:ed:ed:00:00:30");
    assert_eq!(dup["targets"].as_array().unwrap().len(), 2);

    // Queries.
    let d = camtrace(db, &["devices", "--site", "hq", "--class", "recorder"]);
    assert_eq!(d.as_array().unwrap().len(), 1);
    assert_eq!(d[0]["id"], "nvr-1");
    let d = camtrace(
        db,
        &[
            "devices",
            "--org",
            "example-dept",
            "--sensitive",
            "--brand",
            "axis",
        ],
    );
    assert_eq!(d.as_array().unwrap().len(), 2);
    let s = camtrace(db, &["sites", "--sensitive"]);
    assert_eq!(s[0]["id"], "hq");
    assert_eq!(s[0]["devices"], 4);

    // A bulk status update by CSV (only two columns): other fields are kept.
    let dir = tmpdir("status");
    let upd = dir.join("status.csv");
    std::fs::write(&upd, "device,status\ncam-gate,removed\n").unwrap();
    let r = camtrace(db, &["import", path(&upd)]);
    assert_eq!(r[0]["register"]["devices"]["updated"], 1);
    let d = camtrace(db, &["devices", "--status", "removed"]);
    assert_eq!(d[0]["id"], "cam-gate");
    assert_eq!(d[0]["model"], "CMIP3042");
    // A removed device is no longer expected on the wire.
    let rec = camtrace(db, &["reconcile", "--site", "hq", "--since", "2025-11-01"]);
    assert!(rec["unseen"].as_array().unwrap().is_empty());

    // A bad row rejects the whole file, naming the line; --skip-bad imports the rest.
    let bad = dir.join("bad.csv");
    std::fs::write(
        &bad,
        "site,device,brand,mac\nhq,cam-new-1,Axis,ac:cc:8e:00:00:40\nhq,cam-new-2,Axis,zz\n",
    )
    .unwrap();
    let out = Command::new(bin())
        .args(["import", path(&bad)])
        .env("CAMTRACE_DB", db)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 3") && err.contains("MAC"), "{err}");
    assert!(
        camtrace(db, &["devices", "--brand", "axis"])
            .as_array()
            .unwrap()
            .len()
            == 2
    );
    let r = camtrace(db, &["import", path(&bad), "--skip-bad"]);
    assert_eq!(r[0]["register"]["devices"]["created"], 1);
    assert_eq!(r[0]["skipped"][0]["location"], "line 3");

    // Export as CSV and import into an empty register: the same devices.
    let out = Command::new(bin())
        .args(["devices", "--format", "csv"])
        .env("CAMTRACE_DB", db)
        .output()
        .unwrap();
    assert!(out.status.success());
    let export = dir.join("export.csv");
    std::fs::write(&export, &out.stdout).unwrap();
    let db2 = dir.join("copy.db");
    camtrace(path(&db2), &["import", path(&export)]);
    let a = camtrace(db, &["devices"]);
    let b = camtrace(path(&db2), &["devices"]);
    assert_eq!(a, b, "export then import round-trips");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn one_site_reconciles_on_sqlite() {
    let dir = tmpdir("sqlite");
    let db = dir.join("register.db");
    scenario(path(&db));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
#[cfg_attr(
    not(camtrace_has_postgres),
    ignore = "needs PostgreSQL: export CAMTRACE_TEST_POSTGRES=$(scripts/start-postgres.sh)"
)]
fn one_site_reconciles_on_postgres() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let url = rt.block_on(camtrace_store::testing::fresh_postgres("e2e"));
    scenario(&url);
}

/// A scan file big enough that importing it takes a while.
fn big_scan(path: &Path, n: usize) {
    use std::io::Write;
    let mut w = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    for i in 0..n {
        writeln!(
            w,
            r#"{{"target":"192.0.2.{}","kind":"port","port":{},"protocol":"http","banner":"killed-import test banner {i}"}}"#,
            i % 250,
            1 + (i % 60000)
        )
        .unwrap();
    }
}

async fn state(db: &str) -> (Vec<camtrace_store::ScanRecord>, usize, Vec<String>, u64) {
    let s = camtrace_store::open(db).await.unwrap();
    let scans = s.list_scans(None).await.unwrap();
    let obs = s
        .observations(&ObservationFilter {
            limit: Some(10),
            ..Default::default()
        })
        .await
        .unwrap()
        .len();
    let hist = s
        .history(&HistoryFilter::default())
        .await
        .unwrap()
        .into_iter()
        .map(|h| h.hash)
        .collect();
    let n = s.verify_history().await.unwrap();
    let _ = s.load_estate(&EstateFilter::default()).await.unwrap();
    (scans, obs, hist, n)
}

fn killed_import(db: &str) {
    let dir = tmpdir("killed");
    let reg = fixtures().join("site-register.csv");
    camtrace(db, &["import", path(&reg)]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let before = rt.block_on(state(db));
    let big = dir.join("big.jsonl");
    big_scan(&big, 1_000_000);
    let mut child = Command::new(bin())
        .args(["-v", "import", path(&big), "--site", "hq", "--no-identify"])
        .env("CAMTRACE_DB", db)
        .env_remove("CAMTRACE_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until it has written (uncommitted) observations, then kill it hard.
    let start = Instant::now();
    let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut progress = false;
    for line in stderr.lines() {
        let line = line.unwrap();
        if line.contains("observations stored") {
            progress = true;
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no progress from the import"
        );
    }
    assert!(progress, "the import ended without reporting progress");
    assert!(
        child.try_wait().unwrap().is_none(),
        "the import finished in {:?}: make the file bigger",
        start.elapsed()
    );
    child.kill().unwrap();
    child.wait().unwrap();
    let after = rt.block_on(state(db));
    assert_eq!(
        after, before,
        "a killed import leaves the database as it was"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn killed_import_changes_nothing_on_sqlite() {
    let dir = tmpdir("killed-sqlite");
    let db = dir.join("register.db");
    killed_import(path(&db));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
#[cfg_attr(
    not(camtrace_has_postgres),
    ignore = "needs PostgreSQL: export CAMTRACE_TEST_POSTGRES=$(scripts/start-postgres.sh)"
)]
fn killed_import_changes_nothing_on_postgres() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let url = rt.block_on(camtrace_store::testing::fresh_postgres("killed"));
    drop(rt);
    killed_import(&url);
}

/// `camtrace history verify` prints the head; kept outside the database, it later catches the
/// newest entries being cut off, which leaves a shorter chain that still verifies on its own.
#[test]
fn history_anchor_catches_a_truncated_tail() {
    let dir = tmpdir("history");
    let db = dir.join("register.db");
    let db = path(&db);
    let f = fixtures();
    camtrace(db, &["import", path(&f.join("site-register.csv"))]);
    let verify = |anchor: Option<&str>| {
        let mut c = Command::new(bin());
        c.args(["history", "verify", "--json"])
            .env("CAMTRACE_DB", db);
        if let Some(a) = anchor {
            c.args(["--anchor", a]);
        }
        let out = c.output().unwrap();
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        (out.status.code(), v)
    };
    let (code, first) = verify(None);
    assert_eq!(code, Some(0), "{first}");
    let first_head = first["head"].as_str().unwrap().to_string();
    camtrace(
        db,
        &["import", path(&f.join("site-nmap.xml")), "--site", "hq"],
    );
    let (code, v) = verify(Some(&first_head));
    assert_eq!(
        code,
        Some(0),
        "an older anchor is still in a longer chain: {v}"
    );
    let head = v["head"].as_str().unwrap().to_string();
    assert_ne!(head, first_head);
    let entries = v["entries"].as_u64().unwrap();

    // cut the newest entry off, straight in the database
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = camtrace_store::open(db).await.unwrap();
        camtrace_store::testing::delete_history_entry(&*store, entries as i64)
            .await
            .unwrap();
    });
    let (code, v) = verify(None);
    assert_eq!(code, Some(0), "alone, the shorter chain verifies: {v}");
    let (code, v) = verify(Some(&head));
    assert_eq!(code, Some(1), "{v}");
    assert_eq!(v["ok"], false);
    assert!(
        v["reason"]
            .as_str()
            .unwrap()
            .contains("newest entries were removed"),
        "{v}"
    );
    // bad anchors are a clear usage error
    let out = Command::new(bin())
        .args(["history", "verify", "--anchor", "12"])
        .env("CAMTRACE_DB", db)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("SEQ:HASH"));
    let _ = std::fs::remove_dir_all(dir);
}
