//! The CLI and the server are two front doors onto one application layer (`camtrace-estate`):
//! the same scope gives the same report. A register is imported with `camtrace import`, then
//! `camtrace report --org` and `GET /api/v1/reports/estate?organisation=…&format=json` (the
//! server in process, over the same database) must describe the same devices, findings,
//! verdicts, plan and evidence; only the moment of generation may differ.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;
use tower::ServiceExt;

fn tmpdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "camtrace-doors-{tag}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn camtrace(db: &str, args: &[&str]) -> std::process::Output {
    let o = Command::new(env!("CARGO_BIN_EXE_camtrace"))
        .arg("--db")
        .arg(db)
        .args(args)
        .env_remove("CAMTRACE_KB")
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "camtrace {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// The server over the database at `db`, in process, and a bearer token of a new user with
/// a central `role` (`scope`: read or write).
async fn server_on(
    db: &str,
    role: camtrace_server::auth::Role,
    scope: camtrace_server::auth::TokenScope,
) -> (camtrace_server::App, String) {
    let store = camtrace_store::open(db).await.unwrap();
    let app = camtrace_server::App::new(
        std::sync::Arc::from(store),
        &camtrace_kb::KbFiles::embedded(),
        camtrace_server::ServerConfig::default(),
    )
    .unwrap();
    let user = camtrace_server::auth::create_user(
        &*app.store,
        "tester",
        "tester-password-123",
        Some(role),
        camtrace_server::auth::PasswordCost::Low,
    )
    .await
    .unwrap();
    let (token, _) = camtrace_server::auth::create_token(
        &*app.store,
        &user.id,
        "test",
        scope,
        chrono::Duration::days(1),
    )
    .await
    .unwrap();
    (app, token)
}

/// What may differ between two renderings of the same report: when it was generated.
fn comparable(mut v: Value) -> Value {
    v["generated"] = Value::Null;
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_scope_gives_the_same_report_from_the_cli_and_the_server() {
    let dir = tmpdir("report");
    let db = dir.join("camtrace.db");
    let db = db.to_str().unwrap().to_string();
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../ingest/tests/fixtures");
    camtrace(
        &db,
        &[
            "import",
            fixtures.join("site-register.csv").to_str().unwrap(),
        ],
    );
    camtrace(
        &db,
        &[
            "import",
            fixtures.join("site-nmap.xml").to_str().unwrap(),
            "--site",
            "hq",
        ],
    );
    let out = dir.join("report");
    camtrace(
        &db,
        &[
            "report",
            "--org",
            "example-dept",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    let cli: Value =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    let cli = comparable(cli["report"].clone());

    let (app, token) = server_on(
        &db,
        camtrace_server::auth::Role::Viewer,
        camtrace_server::auth::TokenScope::Read,
    )
    .await;
    let resp = camtrace_server::router(app.clone())
        .oneshot(
            Request::get("/api/v1/reports/estate?organisation=example-dept&format=json")
                .header("authorization", format!("Bearer {token}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let status = resp.status();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let server = comparable(serde_json::from_slice(&body).unwrap());

    // The report is not trivially equal: it has devices, findings, a plan and evidence.
    assert!(cli["devices"].as_array().is_some_and(|d| d.len() >= 4));
    assert!(cli["findings"].as_array().is_some_and(|f| !f.is_empty()));
    assert!(cli["plan"].is_object());
    assert!(cli["evidence"].as_array().is_some_and(|e| !e.is_empty()));
    for key in cli.as_object().unwrap().keys() {
        assert_eq!(
            cli[key], server[key],
            "`{key}` differs between the CLI and the server"
        );
    }
    assert_eq!(cli, server);
    let _ = std::fs::remove_dir_all(&dir);
}

/// One waiver rule for both front doors: the same waiver is accepted or refused alike by
/// `camtrace waiver add` and by `POST /api/v1/waiver-requests`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_waiver_is_accepted_or_refused_alike_by_the_cli_and_the_server() {
    let dir = tmpdir("waiver");
    let db = dir.join("camtrace.db");
    let db = db.to_str().unwrap().to_string();
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../ingest/tests/fixtures");
    camtrace(
        &db,
        &[
            "import",
            fixtures.join("site-register.csv").to_str().unwrap(),
        ],
    );
    let (app, token) = server_on(
        &db,
        camtrace_server::auth::Role::Editor,
        camtrace_server::auth::TokenScope::Write,
    )
    .await;
    let today = chrono::Utc::now().date_naive();
    let day = |n: i64| (today + chrono::Duration::days(n)).to_string();
    let cases: Vec<(&str, &str, String, bool)> = vec![
        (
            "uk-2022-sensitive-sites/consider-removal",
            "budget",
            day(30),
            true,
        ),
        (
            "uk-2022-sensitive-sites/consider-removal",
            "budget",
            day(0),
            true,
        ),
        (
            "uk-2022-sensitive-sites/needs-inspection",
            "budget",
            day(30),
            true,
        ),
        (
            "uk-2022-sensitive-sites/consider-removal",
            "budget",
            day(-1),
            false,
        ),
        (
            "uk-2022-sensitive-sites/consider-removal",
            "budget",
            day(4 * 366),
            false,
        ),
        (
            "uk-2022-sensitive-sites/no-such-rule",
            "budget",
            day(30),
            false,
        ),
        ("no-such-regime/consider-removal", "budget", day(30), false),
        ("consider-removal", "budget", day(30), false),
        (
            "uk-2022-sensitive-sites/consider-removal",
            "   ",
            day(30),
            false,
        ),
    ];
    for (rule, reason, expires, want) in cases {
        let cli = Command::new(env!("CARGO_BIN_EXE_camtrace"))
            .args(["--db", &db, "waiver", "add", "--device", "cam-gate"])
            .args([
                "--rule",
                rule,
                "--reason",
                reason,
                "--approver",
                "A. Approver",
            ])
            .args(["--expires", &expires])
            .env_remove("CAMTRACE_KB")
            .output()
            .unwrap();
        let body = serde_json::json!({
            "device_id": "cam-gate", "rule_id": rule, "reason": reason, "expires_on": expires,
        });
        let resp = camtrace_server::router(app.clone())
            .oneshot(
                Request::post("/api/v1/waiver-requests")
                    .header("authorization", format!("Bearer {token}"))
                    .header("content-type", "application/json")
                    .body(Body::from(body.to_string()))
                    .unwrap(),
            )
            .await
            .unwrap();
        let server_ok = resp.status().is_success();
        let text = resp.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(
            cli.status.success(),
            want,
            "CLI on {rule} {reason:?} {expires}: {}",
            String::from_utf8_lossy(&cli.stderr)
        );
        assert_eq!(
            server_ok,
            want,
            "server on {rule} {reason:?} {expires}: {}",
            String::from_utf8_lossy(&text)
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
