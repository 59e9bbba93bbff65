//! Reports: write, then read back CSV, XLSX and JSON and compare with the input; render the
//! HTML in headless Chromium.

use calamine::{open_workbook, Reader, Xlsx};
use camtrace_model::*;
use camtrace_plan::{build_plan, Catalogue, CostBook, FindingRef, PlanDevice, PlanOptions};
use camtrace_report::*;
use chrono::NaiveDate;

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

fn site(id: &str, org: &str, sensitive: bool) -> Site {
    Site {
        id: id.into(),
        organisation: org.into(),
        name: format!("Site <{id}>"),
        address: None,
        criteria: SensitivityCriteria {
            dv_significant: sensitive,
            ..Default::default()
        },
        classification: None,
        government_building: true,
        tags: vec![],
    }
}

fn device(id: &str, site: &str) -> Device {
    Device {
        id: id.into(),
        site: site.into(),
        zone: None,
        network: None,
        brand: Some("hikvision".into()),
        maker: Some("hikvision".into()),
        model: Some("DS-2CD2143G0-I".into()),
        firmware: None,
        class: DeviceClass::Camera,
        mac: None,
        addresses: vec!["127.21.1.10".into()],
        status: DeviceStatus::Installed,
        install_date: None,
        scheduled_upgrade: Some(d(2028, 1, 1)),
        cost_device: None,
        cost_labour: None,
        confidence: Some(0.9),
        notes: None,
    }
}

fn input() -> ReportInput {
    let orgs = vec![
        Organisation {
            id: "o1".into(),
            name: "Dept One".into(),
            parent: None,
            kind: None,
            country: Some("GB".into()),
        },
        Organisation {
            id: "o2".into(),
            name: "Dept Two".into(),
            parent: None,
            kind: None,
            country: Some("GB".into()),
        },
    ];
    let sites = vec![
        site("s1", "o1", true),
        site("s2", "o1", false),
        site("s3", "o2", true),
    ];
    let mut devices = Vec::new();
    let mut findings = Vec::new();
    let mut pds = Vec::new();
    for (i, s) in ["s1", "s1", "s2", "s3"].iter().enumerate() {
        let dev = device(&format!("dev-{i}"), s);
        let reasons = vec![
            "maker Hikvision: subject to the PRC National Intelligence Law".to_string(),
            format!("=cmd|' /C calc'!A0 injected text from device {i}"),
        ];
        findings.push(ReportFinding {
            device: dev.id.clone(),
            site: s.to_string(),
            regime: "uk-2022-sensitive-sites".into(),
            rule: "remove".into(),
            obligation: "replace_at_upgrade".into(),
            status: if i == 3 {
                "waived".into()
            } else {
                "open".into()
            },
            reasons: reasons.clone(),
            due: Some(d(2027, 4, 1)),
            citation: Some("WMS 24 Nov 2022".into()),
        });
        pds.push(PlanDevice {
            device: dev.clone(),
            site: sites.iter().find(|x| x.id == *s).unwrap().clone(),
            organisation: Some("Dept".into()),
            network: None,
            call_home: vec![],
            capabilities: vec![],
            form: None,
            environment: None,
            findings: vec![FindingRef {
                regime: "uk-2022-sensitive-sites".into(),
                rule: "remove".into(),
                obligation: "replace_at_upgrade".into(),
                reasons,
                due: None,
            }],
        });
        devices.push(ReportDevice {
            id: dev.id.clone(),
            site: s.to_string(),
            brand: dev.brand.clone(),
            maker: dev.maker.clone(),
            maker_basis: dev.maker.as_ref().map(|_| "register".into()),
            model: dev.model.clone(),
            class: "camera".into(),
            status: "installed".into(),
            addresses: dev.addresses.clone(),
            network: None,
            confidence: Some(0.9),
            registered: i != 1,
            discovered: true,
        });
    }
    let files = camtrace_kb::KbFiles::embedded();
    let mut o = PlanOptions::new(d(2026, 11, 29));
    o.budget = Some(1500);
    o.period = Some("FY2026".into());
    let plan = build_plan(
        &pds,
        &CostBook::load(&files).unwrap(),
        &Catalogue::load(&files).unwrap(),
        &o,
    );
    ReportInput {
        title: "Surveillance equipment report".into(),
        as_of: d(2026, 11, 29),
        generated: "2026-11-29T06:00:00Z".into(),
        kb_version: files.version(),
        organisations: orgs,
        sites,
        devices,
        findings,
        plan: Some(plan),
        waivers: vec![ReportWaiver {
            id: "w1".into(),
            subject: "dev-3".into(),
            site: "s3".into(),
            regime: "uk-2022-sensitive-sites".into(),
            approver: "J. Smith, SSO".into(),
            reason: "fire safety until replacement".into(),
            expires: d(2027, 1, 1),
            expired: false,
        }],
        evidence: vec![EvidenceItem {
            device: "dev-0".into(),
            site: "s1".into(),
            kind: "http".into(),
            detail: "Server: App-webs/".into(),
            signature: "hikvision-http-server".into(),
            source: "kb/signatures/http.toml:12".into(),
        }],
        history: vec![
            HistoryPoint {
                date: d(2026, 9, 1),
                sensitive: 5,
                other: 2,
            },
            HistoryPoint {
                date: d(2026, 11, 29),
                sensitive: 2,
                other: 1,
            },
        ],
        reconciliation: Some(Reconciliation {
            unregistered: vec!["dev-1".into()],
            missing: vec![],
            mismatched: vec![("dev-0".into(), "Axis".into(), "Hikvision".into())],
        }),
        regimes: vec!["uk-2022-sensitive-sites".into()],
        history_head: Some(format!("42:{}", "ab".repeat(32))),
    }
}

#[test]
fn summary_counts() {
    let s = input().summary();
    // dev-1 was found on the network and is not in the register: counted apart.
    assert_eq!(s.devices, 3);
    assert_eq!(s.unregistered, 1);
    assert_eq!(s.restricted_devices, 3, "waived finding does not count");
    assert_eq!(s.restricted_on_sensitive_sites, 2);
    assert_eq!(s.findings_by_obligation.get("replace_at_upgrade"), Some(&3));
    assert_eq!(s.sensitive_sites, 2);
}

#[test]
fn scoping_by_organisation_and_site() {
    let r = input();
    let o1 = r.scoped(Some("o1"), None);
    assert_eq!(o1.sites.len(), 2);
    assert_eq!(o1.devices.len(), 3);
    assert!(o1.title.contains("Dept One"));
    assert!(o1
        .plan
        .as_ref()
        .unwrap()
        .rows
        .iter()
        .all(|x| x.site != "s3"));
    let s3 = r.scoped(None, Some("s3"));
    assert_eq!(s3.devices.len(), 1);
    assert_eq!(s3.organisations.len(), 1);
    assert_eq!(s3.waivers.len(), 1);
}

#[test]
fn exports_read_back_equal_to_the_input() {
    let r = input();
    let dir = tempfile::tempdir().unwrap();
    let w = write_report(&r, dir.path()).unwrap();
    assert!(w.index.ends_with("index.html"));
    for f in [
        "findings.csv",
        "plan.csv",
        "devices.csv",
        "report.json",
        "report.xlsx",
        "site-s1.html",
    ] {
        assert!(dir.path().join(f).is_file(), "{f} missing");
    }

    // CSV: findings.
    let mut rdr = csv::Reader::from_path(dir.path().join("findings.csv")).unwrap();
    let rows: Vec<csv::StringRecord> = rdr.records().map(|x| x.unwrap()).collect();
    assert_eq!(rows.len(), r.findings.len());
    for (row, f) in rows.iter().zip(&r.findings) {
        assert_eq!(&row[0], f.device);
        assert_eq!(&row[5], f.status);
        assert!(row[8].starts_with(&f.reasons[0]));
    }
    // CSV: plan rows match the plan.
    let plan = r.plan.as_ref().unwrap();
    let mut rdr = csv::Reader::from_path(dir.path().join("plan.csv")).unwrap();
    let rows: Vec<csv::StringRecord> = rdr.records().map(|x| x.unwrap()).collect();
    assert_eq!(rows.len(), plan.rows.len());
    for (row, p) in rows.iter().zip(&plan.rows) {
        assert_eq!(&row[0], p.device);
        assert_eq!(&row[6], p.action.id());
        assert_eq!(row[12].parse::<u64>().unwrap(), p.cost.total);
    }

    // JSON round-trips to the same input.
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("report.json")).unwrap()).unwrap();
    let back: ReportInput = serde_json::from_value(v["report"].clone()).unwrap();
    assert_eq!(back, r);
    assert_eq!(v["summary"]["restricted_devices"], 3);

    // XLSX: every sheet, header and cell.
    let mut wb: Xlsx<_> = open_workbook(dir.path().join("report.xlsx")).unwrap();
    let names = wb.sheet_names().to_vec();
    assert_eq!(
        names,
        vec!["Summary", "Findings", "Plan", "Devices", "Waivers", "Evidence"]
    );
    for t in export::tables(&r) {
        let range = wb.worksheet_range(t.name).unwrap();
        let cells: Vec<Vec<String>> = range
            .rows()
            .map(|row| row.iter().map(|c| c.to_string()).collect())
            .collect();
        assert_eq!(
            cells[0],
            t.header.iter().map(|s| s.to_string()).collect::<Vec<_>>()
        );
        assert_eq!(cells.len() - 1, t.rows.len(), "sheet {}", t.name);
        for (got, want) in cells[1..].iter().zip(&t.rows) {
            let want: Vec<String> = want.clone();
            let got: Vec<String> = got.iter().take(want.len()).cloned().collect();
            assert_eq!(&got, &want, "sheet {}", t.name);
        }
    }
}

#[test]
fn csv_neutralises_formulas() {
    let r = input();
    let f = export::tables(&r)
        .into_iter()
        .find(|t| t.name == "Findings")
        .unwrap();
    // A cell that starts with '=' gets a leading quote in CSV.
    let mut f2 = f;
    f2.rows[0][8] = "=1+2".into();
    let text = String::from_utf8(export::csv_bytes(&f2).unwrap()).unwrap();
    assert!(text.contains("'=1+2"), "{text}");
}

#[test]
fn html_is_dated_states_kb_version_and_escapes() {
    let r = input();
    let html = html::render(&r, true).unwrap();
    assert!(html.contains("2026-11-29"));
    assert!(html.contains(&r.kb_version));
    assert!(
        html.contains(r.history_head.as_deref().unwrap()),
        "the report carries the history head as an anchor"
    );
    let mut no_head = input();
    no_head.history_head = None;
    assert!(!html::render(&no_head, true)
        .unwrap()
        .contains("history-head"));
    assert!(
        html.contains("Site &lt;s1&gt;") || html.contains("Site &#60;s1&#62;"),
        "site names are escaped"
    );
    assert!(!html.contains("Site <s1>"));
    assert!(html.contains("<svg"));
    assert!(html.contains("register says Axis, wire says Hikvision"));
}

#[test]
fn reconciliation_rows_say_what_the_device_is() {
    let html = html::render(&input(), true).unwrap();
    let row = html
        .split("found, not in register")
        .nth(1)
        .expect("an unregistered row");
    let row = &row[..row.find("</tr>").expect("end of row")];
    assert!(row.contains("dev-1"), "{row}");
    assert!(
        row.contains("camera hikvision DS-2CD2143G0-I at 127.21.1.10"),
        "the detail names class, brand, model and address: {row}"
    );
}

fn chromium() -> Option<String> {
    for c in ["chromium", "chromium-browser", "google-chrome"] {
        if std::process::Command::new(c)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
        {
            return Some(c.to_string());
        }
    }
    None
}

#[test]
#[cfg_attr(
    not(camtrace_has_chromium),
    ignore = "needs chromium (or chromium-browser, google-chrome) on PATH: apt-get install chromium"
)]
fn html_renders_in_headless_chromium_with_chart_and_tables() {
    let chrome = chromium().expect(
        "chromium (or chromium-browser, google-chrome) does not run: apt-get install chromium",
    );
    let r = input();
    let dir = tempfile::tempdir().unwrap();
    let w = write_report(&r, dir.path()).unwrap();
    let profile = dir.path().join("chrome-profile");
    let out = std::process::Command::new(&chrome)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-dev-shm-usage",
            &format!("--user-data-dir={}", profile.display()),
            "--dump-dom",
            &format!("file://{}", w.index.display()),
        ])
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && !dom.is_empty(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dom.contains("<svg"), "no chart in the rendered DOM");
    assert_eq!(dom.matches("<polyline").count(), 2);
    for id in [
        "summary-table",
        "findings-table",
        "plan-table",
        "waiting-table",
        "waivers-table",
        "evidence-table",
        "sites-table",
    ] {
        assert!(
            dom.contains(&format!("id=\"{id}\"")),
            "{id} missing from rendered DOM"
        );
    }
    assert!(dom.contains(&r.kb_version));
}
