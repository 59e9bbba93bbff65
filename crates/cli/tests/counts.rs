//! One count everywhere (issue 16, point 4): over the demo estate, the demo's summary,
//! `camtrace devices`, `camtrace sites`, `camtrace reconcile`, the report and the dashboard give
//! the same device numbers for the same scope. Before, the demo said 272, `devices` 264 and the
//! report 273, and the report listed devices adopted from discovery as "found, not in register"
//! while `reconcile` said 0. Also (point 5): registered devices with a blank maker show the
//! maker their brand resolves to, and `--maker hikvision` finds them. Loopback only (the demo's
//! lab).

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use tower::ServiceExt;

fn camtrace(db: &Path, args: &[&str]) -> std::process::Output {
    let o = Command::new(env!("CARGO_BIN_EXE_camtrace"))
        .arg("--db")
        .arg(db)
        .args(args)
        .env_remove("CAMTRACE_KB")
        .env("CAMTRACE_LOG", "error")
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "camtrace {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

fn json(db: &Path, args: &[&str]) -> Value {
    let mut a = args.to_vec();
    a.extend(["--format", "json"]);
    serde_json::from_slice(&camtrace(db, &a).stdout).unwrap()
}

fn demo() -> PathBuf {
    let out = std::env::temp_dir().join(format!("camtrace-counts-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let o = Command::new(env!("CARGO_BIN_EXE_camtrace"))
        .args(["demo", "--out"])
        .arg(&out)
        .env_remove("CAMTRACE_KB")
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "demo: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    out
}

async fn send(app: &camtrace_server::App, req: Request<Body>) -> (StatusCode, String, String) {
    let r = camtrace_server::router(app.clone())
        .oneshot(req)
        .await
        .unwrap();
    let status = r.status();
    let cookie = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("camtrace_session="))
        .map(|v| v.split(';').next().unwrap_or("").to_string())
        .unwrap_or_default();
    let body = r.into_body().collect().await.unwrap().to_bytes();
    (status, cookie, String::from_utf8_lossy(&body).into_owned())
}

/// The number inside `<span id="ID">N</span>` of a page.
fn span_number(html: &str, id: &str) -> Option<usize> {
    let start = html.find(&format!("id=\"{id}\">"))? + id.len() + 6;
    html[start..].split('<').next()?.trim().parse().ok()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_demo_estate_is_counted_alike_by_every_front_door() {
    let out = demo();
    let db = out.join("camtrace.db");
    let summary: Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    let counts = &summary["counts"];
    let n = |v: &Value| v.as_u64().unwrap() as usize;
    let registered = n(&counts["registered"]);
    let unregistered = n(&counts["unregistered"]);
    assert!(registered > 200, "{counts}");
    assert!(n(&counts["adopted"]) >= 1, "the demo adopts what it found");
    assert_eq!(
        n(&counts["adopted"]),
        n(&summary["found_not_registered"]),
        "adopted = found but not in the register file"
    );
    // Every lab device that answered is counted once: in the register (seen), found and not
    // registered, or an unidentified host.
    assert_eq!(
        n(&counts["matched"]) + unregistered + n(&counts["unidentified_hosts"]),
        n(&summary["devices_found"]),
        "{summary}"
    );

    // `devices` lists the register.
    let devices = json(&db, &["devices"]);
    assert_eq!(devices.as_array().unwrap().len(), registered);

    // `sites` per site, and in total.
    let sites = json(&db, &["sites"]);
    let mut by_site: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for s in sites.as_array().unwrap() {
        by_site.insert(
            s["id"].as_str().unwrap().to_string(),
            (n(&s["devices"]), n(&s["unregistered"])),
        );
    }
    assert_eq!(by_site.values().map(|c| c.0).sum::<usize>(), registered);
    assert_eq!(by_site.values().map(|c| c.1).sum::<usize>(), unregistered);
    for (site, c) in &summary["counts_by_site"].as_object().unwrap().clone() {
        assert_eq!(
            by_site.get(site).copied(),
            Some((n(&c["registered"]), n(&c["unregistered"]))),
            "site {site}"
        );
    }

    // `reconcile` site by site: the same register and "found, not in register" numbers.
    for (site, (reg, unreg)) in &by_site {
        let r = json(&db, &["reconcile", "--site", site]);
        assert_eq!(n(&r["registered"]), *reg, "reconcile {site}");
        assert_eq!(
            r["unregistered"].as_array().unwrap().len(),
            *unreg,
            "reconcile {site}"
        );
    }

    // The demo's report, and one made now by `camtrace report`, whole and for one site.
    let check_report = |path: &Path, reg: usize, unreg: usize| {
        let r: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        assert_eq!(n(&r["summary"]["devices"]), reg, "{}", path.display());
        assert_eq!(
            n(&r["summary"]["unregistered"]),
            unreg,
            "{}",
            path.display()
        );
        let rec = &r["report"]["reconciliation"];
        assert_eq!(
            rec["unregistered"].as_array().unwrap().len(),
            unreg,
            "adopted devices are in the register, not \"found, not in register\""
        );
    };
    check_report(&out.join("report/report.json"), registered, unregistered);
    let (site, (reg, unreg)) = by_site
        .iter()
        .find(|(_, c)| c.1 > 0)
        .map(|(s, c)| (s.clone(), *c))
        .expect("a site with devices found and not registered");
    let rep = out.join("site-report");
    camtrace(
        &db,
        &["report", "--site", &site, "--out", rep.to_str().unwrap()],
    );
    check_report(&rep.join("report.json"), reg, unreg);
    let html = std::fs::read_to_string(rep.join("index.html")).unwrap();
    assert!(
        html.contains(&format!("{reg} devices in the register")),
        "the report's headline counts the register"
    );

    // The dashboard's overview.
    let store = camtrace_store::open(db.to_str().unwrap()).await.unwrap();
    let app = camtrace_server::App::new(
        std::sync::Arc::from(store),
        &camtrace_kb::KbFiles::embedded(),
        camtrace_server::ServerConfig::default(),
    )
    .unwrap();
    camtrace_server::bootstrap_admin(&app, Some("counts-test-password-1".into()))
        .await
        .unwrap();
    let (status, cookie, body) = send(
        &app,
        Request::post("/api/v1/auth/login")
            .header("content-type", "application/json")
            .body(Body::from(
                r#"{"username":"admin","password":"counts-test-password-1"}"#,
            ))
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let page = |path: &str| {
        Request::get(path)
            .header("cookie", cookie.clone())
            .body(Body::empty())
            .unwrap()
    };
    let (status, _, home) = send(&app, page("/")).await;
    assert_eq!(status, StatusCode::OK, "{home}");
    assert_eq!(
        span_number(&home, "device-count"),
        Some(registered),
        "{home}"
    );
    assert_eq!(span_number(&home, "unregistered-count"), Some(unregistered));

    // The maker column: registered devices with a blank maker show their attributed maker, and
    // the maker filter finds them, in the CLI and on the dashboard.
    let blank_hik: Vec<&Value> = devices
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["maker"].is_null() && d["attributed_maker"] == "hikvision")
        .collect();
    assert!(
        !blank_hik.is_empty(),
        "the demo register has devices sold under a Hikvision brand with no maker written"
    );
    let hik = json(&db, &["devices", "--maker", "hikvision"]);
    let ids: Vec<&str> = hik
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    for d in &blank_hik {
        assert!(ids.contains(&d["id"].as_str().unwrap()), "{}", d["id"]);
    }
    let table = String::from_utf8(camtrace(&db, &["devices", "--format", "table"]).stdout).unwrap();
    let first = blank_hik[0]["id"].as_str().unwrap();
    let line = table
        .lines()
        .find(|l| l.starts_with(&format!("{first} ")))
        .unwrap();
    assert!(line.contains("hikvision*"), "{line}");
    let (status, _, list) = send(&app, page("/devices?maker=hikvision")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        list.contains("hikvision*"),
        "the dashboard shows the attributed maker"
    );
    let on_page = list.matches("<tr><th scope=\"row\">").count();
    assert_eq!(on_page, ids.len().min(100), "the dashboard's maker filter");

    let _ = std::fs::remove_dir_all(&out);
}
