//! `POST /api/v1/import?format=...`: files in every format `camtrace import` reads, through the
//! same importer (`camtrace_ingest::import`), checked against the caller's roles, idempotent and
//! all or nothing. Runs on SQLite, and on PostgreSQL when `CAMTRACE_TEST_POSTGRES` is set.

mod common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use camtrace_ingest::import::{scan_id, Input};
use camtrace_ingest::FileKind;
use camtrace_server::auth::{self, PasswordCost, Role, TokenScope};
use camtrace_server::App;
use camtrace_store::{DeviceFilter, HistoryFilter, ObservationFilter, SiteFilter};
use common::*;
use serde_json::Value;

fn fixture_file(name: &str) -> Vec<u8> {
    let p = concat!(env!("CARGO_MANIFEST_DIR"), "/../ingest/tests/fixtures/");
    std::fs::read(format!("{p}{name}")).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// POST a raw body to `/api/v1/import?{query}` with a bearer token.
async fn upload(app: &App, token: &str, query: &str, body: &[u8]) -> Resp {
    let req = Request::builder()
        .method(Method::POST)
        .uri(format!("/api/v1/import?{query}"))
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/octet-stream")
        .body(Body::from(body.to_vec()))
        .expect("request");
    send(app, req).await
}

async fn upload_ok(app: &App, token: &str, query: &str, body: &[u8]) -> Value {
    let r = upload(app, token, query, body).await;
    assert_eq!(r.status, StatusCode::OK, "import ?{query}: {}", r.text());
    r.json()
}

/// Everything an import can write, to compare before and after.
#[derive(Debug, PartialEq)]
struct State {
    organisations: Vec<camtrace_model::Organisation>,
    sites: Vec<camtrace_model::Site>,
    devices: Vec<camtrace_model::Device>,
    scans: Vec<camtrace_store::ScanRecord>,
    observations: usize,
    identifications: usize,
    history: usize,
}

async fn state(app: &App) -> State {
    let s = &app.store;
    let scans = s.list_scans(None).await.unwrap();
    let mut identifications = 0;
    for sc in &scans {
        identifications += sc.identification_count as usize;
    }
    State {
        organisations: s.list_organisations().await.unwrap(),
        sites: s.list_sites(&SiteFilter::default()).await.unwrap(),
        devices: s.list_devices(&DeviceFilter::default()).await.unwrap(),
        observations: s
            .observations(&ObservationFilter::default())
            .await
            .unwrap()
            .len(),
        identifications,
        scans,
        history: s.history(&HistoryFilter::default()).await.unwrap().len(),
    }
}

/// The audit entries of imports of one kind (`register` or `evidence`).
async fn import_audit(app: &App, kind: &str) -> Vec<camtrace_store::HistoryEntry> {
    app.store
        .history(&HistoryFilter {
            action: Some("import".into()),
            entity_kind: Some(kind.into()),
            ..Default::default()
        })
        .await
        .unwrap()
}

fn sha(data: &[u8]) -> String {
    Input::Bytes { name: "x", data }.sha256().unwrap()
}

/// A user with the given grants and a write token.
async fn user_with(app: &App, name: &str, grants: &[(&str, Role)]) -> String {
    let u = auth::create_user(&*app.store, name, &password(name), None, PasswordCost::Low)
        .await
        .unwrap();
    for (org, role) in grants {
        auth::set_grant(&*app.store, &u.id, org, Some(*role), "test")
            .await
            .unwrap();
    }
    new_token(
        app,
        &u.id,
        "test",
        TokenScope::Write,
        chrono::Duration::days(1),
    )
    .await
}

const SCAN_JSONL: &str = r#"{"target":"127.0.1.20","kind":"mac","mac":"44:19:b6:00:00:20"}
{"target":"127.0.1.20","kind":"port","port":80,"protocol":"http","banner":"Server: DNVRS-Webs"}
{"target":"127.0.1.21","kind":"port","port":554,"protocol":"rtsp","banner":"RTSP/1.0 200 OK"}
"#;

async fn formats_import_once(app: App) {
    let f = fixture(app).await;
    let root = f.token("root");
    let app = &f.app;

    // Register CSV (a new root organisation: central admin).
    let csv = fixture_file("site-register.csv");
    let before = state(app).await;
    let r = upload_ok(
        app,
        root,
        "format=register-csv&name=site-register.csv",
        &csv,
    )
    .await;
    assert_eq!(r["format"], "register-csv");
    assert_eq!(r["outcome"], "imported");
    assert_eq!(r["register"]["organisations"]["created"], 1);
    assert_eq!(r["register"]["sites"]["created"], 1);
    let devices = r["register"]["devices"]["created"].as_u64().unwrap();
    assert!(devices >= 4, "{r}");
    let after = state(app).await;
    assert_eq!(after.devices.len(), before.devices.len() + devices as usize);
    assert!(app.store.get_device("cam-gate").await.unwrap().is_some());
    // The maker names of the file are normalised to knowledge-base ids, as the CLI does.
    let nvr = app.store.get_device("nvr-1").await.unwrap().unwrap();
    assert_eq!(nvr.site, "hq");
    // The same file again: nothing changes, not even the history.
    let r = upload_ok(app, root, "format=register-csv", &csv).await;
    assert_eq!(r["outcome"], "unchanged", "{r}");
    assert_eq!(r["register"]["devices"]["created"], 0);
    assert_eq!(r["register"]["devices"]["updated"], 0);
    assert_eq!(r["register"]["devices"]["unchanged"], devices);
    assert_eq!(
        state(app).await,
        after,
        "a repeated register import is a no-op"
    );
    // Audited: who, what format, what it did.
    let audit = import_audit(app, "register").await;
    assert_eq!(
        audit.len(),
        1,
        "one audit entry for the one import that changed something"
    );
    assert_eq!(audit[0].actor, "root");
    let a = audit[0].after.as_ref().unwrap();
    assert_eq!(a["format"], "register-csv");
    assert_eq!(a["summary"]["devices"]["created"], devices);

    // nmap XML of site hq.
    let xml = fixture_file("site-nmap.xml");
    let r = upload_ok(
        app,
        root,
        "format=nmap-xml&site=hq&name=site-nmap.xml",
        &xml,
    )
    .await;
    assert_eq!(r["outcome"], "imported", "{r}");
    assert!(r["observations"].as_i64().unwrap() > 0);
    assert!(r["identifications"].as_i64().unwrap() > 0);
    // The scan id the CLI would give the same file: one scan whoever imports it.
    let nmap_id = scan_id(FileKind::Nmap, &sha(&xml), Some("hq"));
    assert_eq!(r["scan_id"], nmap_id.as_str());
    let scans = app.store.list_scans(Some("hq")).await.unwrap();
    assert_eq!(scans.len(), 1);
    assert_eq!(scans[0].source, "nmap:site-nmap.xml");
    assert_eq!(
        scans[0].observation_count,
        r["observations"].as_i64().unwrap()
    );
    let after = state(app).await;
    let r2 = upload_ok(app, root, "format=nmap-xml&site=hq", &xml).await;
    assert_eq!(r2["outcome"], "unchanged");
    assert_eq!(r2["scan_id"], nmap_id.as_str());
    assert_eq!(state(app).await, after, "a repeated nmap import is a no-op");
    let audit = import_audit(app, "evidence").await;
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].actor, "root");
    assert_eq!(audit[0].entity_id, nmap_id);
    let a = audit[0].after.as_ref().unwrap();
    assert_eq!(a["format"], "nmap-xml");
    assert_eq!(a["observations"], r["observations"]);

    // pcap of site hq, sniffed (`auto`) from its magic number.
    let pcap = fixture_file("site.pcap");
    let r = upload_ok(app, root, "format=auto&site=hq", &pcap).await;
    assert_eq!(r["format"], "pcap");
    assert_eq!(r["outcome"], "imported", "{r}");
    assert!(r["observations"].as_i64().unwrap() > 0);
    let after = state(app).await;
    let r = upload_ok(app, root, "format=pcap&site=hq", &pcap).await;
    assert_eq!(r["outcome"], "unchanged");
    assert_eq!(state(app).await, after, "a repeated pcap import is a no-op");

    // Scan JSON Lines, by an editor of the site's organisation.
    let alice = f.token("alice");
    let r = upload_ok(
        app,
        alice,
        "format=scan-jsonl&site=site-secret-a",
        SCAN_JSONL.as_bytes(),
    )
    .await;
    assert_eq!(r["outcome"], "imported", "{r}");
    assert_eq!(r["observations"], 3);
    assert_eq!(r["identifications"], 2);
    let obs = app
        .store
        .observations(&ObservationFilter {
            scan_id: r["scan_id"].as_str().map(Into::into),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(obs.len(), 3);
    let after = state(app).await;
    let r = upload_ok(
        app,
        alice,
        "format=scan-jsonl&site=site-secret-a",
        SCAN_JSONL.as_bytes(),
    )
    .await;
    assert_eq!(r["outcome"], "unchanged");
    assert_eq!(state(app).await, after, "a repeated scan import is a no-op");

    // Register JSON by the admin of organisation B, for B.
    let bob = f.token("bob");
    let json = serde_json::json!({
        "sites": [{"id": "site-b-json", "organisation": "orgb", "name": "B json"}],
        "devices": [{"id": "dev-b-json", "site": "site-b-json", "brand": "Hikvision", "class": "camera"}]
    })
    .to_string();
    let r = upload_ok(app, bob, "format=register-json", json.as_bytes()).await;
    assert_eq!(r["outcome"], "imported", "{r}");
    assert_eq!(r["register"]["devices"]["created"], 1);
    let after = state(app).await;
    let r = upload_ok(app, bob, "format=register-json", json.as_bytes()).await;
    assert_eq!(r["outcome"], "unchanged");
    assert_eq!(state(app).await, after);

    // `auto` with a CSV needs the name's extension, as the CLI needs the file's.
    let small = b"site,device,brand,class\nsite-b,dev-b-auto,Axis,camera\n";
    let r = upload_ok(app, bob, "format=auto&name=b.csv", small).await;
    assert_eq!(r["format"], "register-csv");
    assert_eq!(r["register"]["devices"]["created"], 1);
    let r = upload(app, bob, "format=auto", small).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.json()["error"]
        .as_str()
        .unwrap()
        .contains("cannot tell the format"));

    // Without `format`, the endpoint still takes a register batch as JSON.
    let r = post_ok(
        app,
        "/api/v1/import",
        bob,
        serde_json::json!({"devices": [{"id": "dev-b-legacy", "site": "site-b"}]}),
    )
    .await;
    assert_eq!(r.json()["summary"]["devices"]["created"], 1);
}

async fn rights_are_checked_before_anything_is_written(app: App) {
    let f = fixture(app).await;
    let app = &f.app;
    let xml = fixture_file("site-nmap.xml");
    // carol edits A and only reads B.
    let carol = user_with(
        app,
        "carol",
        &[("orga-secret-a", Role::Editor), ("orgb", Role::Viewer)],
    )
    .await;
    let before = state(app).await;

    // Evidence: a viewer of the site's organisation may not import (403) ...
    let r = upload(
        app,
        f.token("victor"),
        "format=nmap-xml&site=site-secret-a",
        &xml,
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
    let r = upload(app, &carol, "format=nmap-xml&site=site-b", &xml).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
    // ... a stranger does not even see it (404) ...
    let r = upload(
        app,
        f.token("bob"),
        "format=nmap-xml&site=site-secret-a",
        &xml,
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text());
    // ... and evidence tied to no site is for central roles only.
    let r = upload(app, f.token("alice"), "format=nmap-xml", &xml).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    assert!(r.text().contains("site"));
    // A read-only token cannot import at all.
    let ro = new_token(
        app,
        &f.user_ids["root"],
        "ro",
        TokenScope::Read,
        chrono::Duration::days(1),
    )
    .await;
    let r = upload(app, &ro, "format=nmap-xml&site=site-b", &xml).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // Registers: a CSV naming a site of another organisation is refused as a whole, although
    // its first row is the caller's to write.
    let mixed = b"site,device,brand,class,addresses\n\
site-secret-a,dev-carol-a,Axis,camera,127.0.0.40\n\
site-b,dev-carol-b,Axis,camera,127.0.1.40\n";
    let r = upload(app, &carol, "format=register-csv", mixed).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
    assert!(r.text().contains("orgb"), "{}", r.text());
    // For alice, who cannot see B, the other site does not exist: the answer is the one a
    // site nobody has would get (issue 11, finding 3).
    let r = upload(app, f.token("alice"), "format=register-csv", mixed).await;
    let nowhere = String::from_utf8_lossy(mixed).replace("site-b,", "site-nowhere,");
    let n = upload(
        app,
        f.token("alice"),
        "format=register-csv",
        nowhere.as_bytes(),
    )
    .await;
    assert!(r.status.is_client_error(), "{}", r.text());
    assert_eq!(r.status, n.status);
    assert_eq!(
        r.text().replace("site-b", "X"),
        n.text().replace("site-nowhere", "X")
    );
    // A viewer may not write the register of its own organisation.
    let own = b"site,device,brand,class\nsite-secret-a,dev-victor,Axis,camera\n";
    let r = upload(app, f.token("victor"), "format=register-csv", own).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
    // A new root organisation needs the central admin role.
    let csv = fixture_file("site-register.csv");
    let r = upload(app, &carol, "format=register-csv", &csv).await;
    assert!(
        matches!(r.status, StatusCode::FORBIDDEN | StatusCode::NOT_FOUND),
        "{}: {}",
        r.status,
        r.text()
    );
    assert_eq!(state(app).await, before, "refused imports write nothing");

    // The same rows, the caller's own only: accepted.
    let r = upload_ok(
        app,
        &carol,
        "format=register-csv",
        b"site,device,brand,class\nsite-secret-a,dev-carol-a,Axis,camera\n",
    )
    .await;
    assert_eq!(r["register"]["devices"]["created"], 1);
}

async fn malformed_files_are_refused_whole(app: App) {
    let f = fixture(app).await;
    let root = f.token("root");
    let app = &f.app;
    let before = state(app).await;
    let bad = |r: &Resp, needle: &str| {
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
        let e = r.json()["error"].as_str().unwrap_or("").to_string();
        assert!(e.contains(needle), "`{e}` should name `{needle}`");
    };

    // A bad row rejects the whole register, naming its line.
    let csv = b"site,device,brand,class,status\n\
site-b,dev-ok-1,Axis,camera,installed\n\
site-b,dev-bad,Axis,camera,exploded\n";
    let r = upload(app, root, "format=register-csv", csv).await;
    bad(&r, "line 3");
    assert!(app.store.get_device("dev-ok-1").await.unwrap().is_none());
    // An unknown column.
    let r = upload(
        app,
        root,
        "format=register-csv",
        b"site,colour\nsite-b,red\n",
    )
    .await;
    bad(&r, "unknown column `colour`");
    // Register JSON that is not JSON.
    let r = upload(app, root, "format=register-json", b"{\"devices\": [").await;
    bad(&r, "not a valid register-json file");

    // nmap XML cut off half-way through: no scan at all, not half of one.
    let xml = fixture_file("site-nmap.xml");
    let cut = &xml[..xml.len() * 2 / 3];
    let r = upload(app, root, "format=nmap-xml&site=site-b", cut).await;
    bad(&r, "not a valid nmap-xml file");
    // A capture that is not one.
    let r = upload(
        app,
        root,
        "format=pcap&site=site-b",
        b"this is not a capture",
    )
    .await;
    bad(&r, "not a pcap");
    // Scan JSON Lines with a broken second line, after a good first one.
    let jsonl = format!("{}\nnot json\n", SCAN_JSONL.lines().next().unwrap());
    let r = upload(app, root, "format=scan-jsonl&site=site-b", jsonl.as_bytes()).await;
    bad(&r, "line 2");
    // An unknown format.
    let r = upload(app, root, "format=excel", b"x").await;
    bad(&r, "register-csv");
    assert_eq!(state(app).await, before, "malformed files write nothing");

    // With skip_bad the good rows are imported and the bad one reported.
    let r = upload_ok(app, root, "format=register-csv&skip_bad=true", csv).await;
    assert_eq!(r["register"]["devices"]["created"], 1);
    assert_eq!(r["skipped"][0]["location"], "line 3");
}

async fn body_limit_applies(url: &str) {
    let config = camtrace_server::ServerConfig {
        max_body_bytes: 1024,
        ..test_config()
    };
    let f = fixture(app_with(url, config).await).await;
    let before = state(&f.app).await;
    let pcap = fixture_file("site.pcap");
    assert!(pcap.len() > 1024);
    let r = upload(&f.app, f.token("root"), "format=pcap&site=site-b", &pcap).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.text());
    assert!(r.text().contains("max_body_mib"), "{}", r.text());
    assert_eq!(state(&f.app).await, before);
}

#[tokio::test]
async fn every_format_imports_once_on_sqlite() {
    formats_import_once(sqlite_app().await).await;
}

#[tokio::test]
async fn rights_are_checked_on_sqlite() {
    rights_are_checked_before_anything_is_written(sqlite_app().await).await;
}

#[tokio::test]
async fn malformed_files_are_refused_on_sqlite() {
    malformed_files_are_refused_whole(sqlite_app().await).await;
}

#[tokio::test]
async fn body_limit_applies_on_sqlite() {
    body_limit_applies("sqlite::memory:").await;
}

#[tokio::test]
#[cfg_attr(
    not(camtrace_has_postgres),
    ignore = "needs PostgreSQL: export CAMTRACE_TEST_POSTGRES=$(scripts/start-postgres.sh)"
)]
async fn file_imports_on_postgres() {
    let url = fresh_postgres("import1").await;
    formats_import_once(app_on(&url).await).await;
    let url = fresh_postgres("import2").await;
    rights_are_checked_before_anything_is_written(app_on(&url).await).await;
    let url = fresh_postgres("import3").await;
    malformed_files_are_refused_whole(app_on(&url).await).await;
    let url = fresh_postgres("import4").await;
    body_limit_applies(&url).await;
}
