//! Issue 11 #7 / issue 12: every `--format csv` output and every report CSV neutralises
//! spreadsheet formulas that came from the register (device ids, names, notes ...).

use std::path::{Path, PathBuf};
use std::process::Command;

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_camtrace")
}

fn tmpdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "camtrace-csvf-{tag}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn run(db: &str, args: &[&str]) -> String {
    let out = Command::new(bin())
        .args(args)
        .env("CAMTRACE_DB", db)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "camtrace {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Every cell of a CSV document (parsed as RFC 4180).
fn cells(text: &str) -> Vec<String> {
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    r.records()
        .map(|x| x.unwrap())
        .flat_map(|rec| rec.iter().map(str::to_string).collect::<Vec<_>>())
        .collect()
}

fn assert_neutral(what: &str, text: &str, expect_payload: bool) {
    let all = cells(text);
    let hostile: Vec<&String> = all
        .iter()
        .filter(|c| c.starts_with("=HYPERLINK(") || c.starts_with("@SUM("))
        .collect();
    assert!(hostile.is_empty(), "{what}: formula cells {hostile:?}");
    if expect_payload {
        // The values are still there, behind the one leading quote.
        assert!(
            all.iter()
                .any(|c| c.starts_with("'=HYPERLINK(") || c.starts_with("'@SUM(")),
            "{what}: the hostile values should appear neutralised:\n{text}"
        );
    }
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn csv_outputs_never_start_a_cell_with_a_formula() {
    let dir = tmpdir("all");
    let db = format!("sqlite://{}", path(&dir.join("t.db")));
    let reg = dir.join("reg.csv");
    std::fs::write(
        &reg,
        "organisation,organisation_name,site,site_name,ministerial_use,government_building,device,brand,model,class,addresses,status,cost_device,notes\n\
         dept,@SUM(1+1),=HYPERLINK(\"http://evil.example/\"),@SUM(A1:A9),yes,yes,=HYPERLINK(\"http://evil.example/x\"),Hikvision,@SUM(2+2),camera,192.0.2.10,installed,300,=HYPERLINK(\"http://evil.example/n\")\n\
         dept,,=HYPERLINK(\"http://evil.example/\"),,,,@SUM(9),Dahua,=HYPERLINK(\"m\"),camera,192.0.2.11,installed,200,\n",
    )
    .unwrap();
    run(&db, &["import", path(&reg)]);

    let check = run(&db, &["check", "--format", "csv"]);
    assert_neutral("check", &check, true);
    let devices = run(&db, &["devices", "--format", "csv"]);
    assert_neutral("devices", &devices, true);
    let sites = run(&db, &["sites", "--format", "csv"]);
    assert_neutral("sites", &sites, true);
    let plan = run(&db, &["plan", "--format", "csv"]);
    assert_neutral("plan", &plan, true);
    let out = dir.join("report");
    run(&db, &["report", "--out", path(&out)]);
    let mut seen = 0;
    for e in std::fs::read_dir(&out).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "csv") {
            assert_neutral(
                &p.display().to_string(),
                &std::fs::read_to_string(&p).unwrap(),
                false,
            );
            seen += 1;
        }
    }
    assert!(seen > 0, "the report wrote no CSV files");

    // The register export imports back to the same register: the leading quote is undone.
    let again = dir.join("again.csv");
    std::fs::write(&again, &devices).unwrap();
    let db2 = format!("sqlite://{}", path(&dir.join("t2.db")));
    run(&db2, &["import", path(&again)]);
    assert_eq!(run(&db2, &["devices", "--format", "csv"]), devices);
}
