//! Headless Chromium through chromedriver (W3C WebDriver protocol, spoken with reqwest): log in,
//! open the dashboard, approve a waiver, download a report. Screenshots go to
//! `target/test-artifacts/`. Reported as ignored, saying which is missing, when the build found
//! no chromium or no chromedriver (`build.rs`). Everything runs on 127.0.0.1.

mod common;

use common::*;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

fn find_program(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    for dir in std::env::split_paths(&path) {
        for n in names {
            let p = dir.join(n);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

struct Driver {
    child: Child,
    base: String,
    session: String,
    http: reqwest::Client,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    async fn start(driver: &PathBuf, downloads: &std::path::Path) -> Driver {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        while http.get(format!("{base}/status")).send().await.is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let mut d = Driver {
            child,
            base,
            session: String::new(),
            http,
        };
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1000", "--no-proxy-server"],
                "prefs": {"download.default_directory": downloads.display().to_string(), "download.prompt_for_download": false}
            }
        }}});
        let r = d.cmd(reqwest::Method::POST, "", Some(caps)).await;
        d.session = r["sessionId"].as_str().expect("session id").to_string();
        d
    }

    async fn cmd(&self, m: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = if self.session.is_empty() {
            format!("{}/session{path}", self.base)
        } else {
            format!("{}/session/{}{path}", self.base, self.session)
        };
        let mut req = self.http.request(m, url);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let v: Value = req
            .send()
            .await
            .expect("webdriver")
            .json()
            .await
            .expect("webdriver json");
        if v["value"].get("error").is_some() {
            panic!("webdriver {path}: {}", v["value"]);
        }
        v["value"].clone()
    }

    async fn goto(&self, url: &str) {
        self.cmd(reqwest::Method::POST, "/url", Some(json!({"url": url})))
            .await;
    }

    async fn find(&self, css: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let r = self
                .http
                .post(format!("{}/session/{}/element", self.base, self.session))
                .json(&json!({"using": "css selector", "value": css}))
                .send()
                .await
                .expect("webdriver");
            let v: Value = r.json().await.expect("json");
            if let Some(id) = v["value"][ELEMENT].as_str() {
                return id.to_string();
            }
            assert!(
                Instant::now() < deadline,
                "element `{css}` not found: {}",
                v["value"]
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn type_into(&self, css: &str, text: &str) {
        let e = self.find(css).await;
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{e}/value"),
            Some(json!({"text": text})),
        )
        .await;
    }

    async fn click(&self, css: &str) {
        let e = self.find(css).await;
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{e}/click"),
            Some(json!({})),
        )
        .await;
    }

    async fn source(&self) -> String {
        self.cmd(reqwest::Method::GET, "/source", None)
            .await
            .as_str()
            .unwrap_or("")
            .to_string()
    }

    async fn screenshot(&self, dir: &std::path::Path, name: &str) {
        use base64::Engine as _;
        let v = self.cmd(reqwest::Method::GET, "/screenshot", None).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap())
            .unwrap();
        assert!(png.starts_with(b"\x89PNG"));
        std::fs::write(dir.join(name), png).unwrap();
    }

    async fn wait_for(&self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let s = self.source().await;
            if s.contains(text) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "page never showed `{text}`:\n{s}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn login(&self, base: &str, user: &str) {
        self.goto(&format!("{base}/login")).await;
        self.type_into("#username", user).await;
        self.type_into("#password", &format!("{user}-password-123"))
            .await;
        self.click("form.card button[type=submit]").await;
        self.wait_for("Estate overview").await;
    }

    async fn logout(&self) {
        self.click("header form button").await;
        self.wait_for("Sign in").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    all(not(camtrace_has_chromium), not(camtrace_has_chromedriver)),
    ignore = "needs chromium and chromedriver on PATH: apt-get install chromium chromium-driver"
)]
#[cfg_attr(
    all(not(camtrace_has_chromium), camtrace_has_chromedriver),
    ignore = "needs chromium (or chromium-browser, google-chrome) on PATH: apt-get install chromium"
)]
#[cfg_attr(
    all(camtrace_has_chromium, not(camtrace_has_chromedriver)),
    ignore = "needs chromedriver on PATH: apt-get install chromium-driver"
)]
async fn log_in_approve_a_waiver_and_download_a_report_in_chromium() {
    assert!(
        find_program(&["chromium", "chromium-browser", "google-chrome"]).is_some(),
        "chromium (or chromium-browser, google-chrome) is not on PATH: apt-get install chromium"
    );
    let driver = find_program(&["chromedriver"])
        .expect("chromedriver is not on PATH: apt-get install chromium-driver");
    let artifacts = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../target/test-artifacts/browser"
    ));
    let downloads = artifacts.join("downloads");
    let _ = std::fs::remove_dir_all(&downloads);
    std::fs::create_dir_all(&downloads).unwrap();

    let f = fixture(sqlite_app().await).await;
    camtrace_server::alerts::check_once(&f.app).await.unwrap();
    // A pending waiver request from Alice, for Anne to approve in the browser.
    let exp = (chrono::Utc::now().date_naive() + chrono::Duration::days(60)).to_string();
    let rule = get(
        &f.app,
        "/api/v1/findings?device=dev-secret-a&status=open",
        f.token("root"),
    )
    .await
    .json()["items"][0]
        .clone();
    let rule = format!(
        "{}/{}",
        rule["regime_id"].as_str().unwrap(),
        rule["rule_id"].as_str().unwrap()
    );
    let req = post(&f.app, "/api/v1/waiver-requests", f.token("alice"), json!({"device_id": "dev-secret-a", "rule_id": rule, "reason": "replacement on order", "expires_on": exp})).await;
    let req_id = req.json()["id"].as_str().unwrap().to_string();

    let addr = serve_on_loopback(camtrace_server::router(f.app.clone())).await;
    let base = format!("http://{addr}");

    let d = Driver::start(&driver, &downloads).await;
    d.goto(&format!("{base}/")).await;
    d.wait_for("Sign in").await;
    d.screenshot(&artifacts, "01-login.png").await;
    d.login(&base, "anne").await;
    d.screenshot(&artifacts, "02-overview.png").await;
    d.goto(&format!("{base}/devices/dev-secret-a")).await;
    d.wait_for("Findings").await;
    d.screenshot(&artifacts, "03-device.png").await;
    d.goto(&format!("{base}/waivers")).await;
    d.wait_for("replacement on order").await;
    d.screenshot(&artifacts, "04-waiver-request.png").await;
    d.click(&format!("#approve-{req_id}")).await;
    let page = d.wait_for("Waiver approved").await;
    assert!(page.contains("in force"));
    d.screenshot(&artifacts, "05-waiver-approved.png").await;
    let approved = get(
        &f.app,
        "/api/v1/waiver-requests?status=approved",
        f.token("root"),
    )
    .await
    .json();
    assert_eq!(approved["items"][0]["decided_by"], "anne");

    // Download the findings report the overview links to, with the browser's session cookie.
    d.goto(&format!("{base}/")).await;
    d.wait_for("Download the findings report").await;
    let href = {
        let e = d.find("a[download]").await;
        d.cmd(
            reqwest::Method::GET,
            &format!("/element/{e}/attribute/href"),
            None,
        )
        .await
    };
    let href = href.as_str().unwrap().to_string();
    assert!(href.contains("/api/v1/reports/findings"), "{href}");
    let csv = d
        .cmd(
            reqwest::Method::POST,
            "/execute/async",
            Some(json!({"script": "const done = arguments[arguments.length - 1]; fetch(arguments[0], {credentials: 'same-origin'}).then(r => r.text()).then(done, e => done('ERROR ' + e));", "args": [href]})),
        )
        .await;
    let csv = csv.as_str().unwrap_or("").to_string();
    assert!(csv.starts_with("organisation,site,device"), "{csv}");
    assert!(
        csv.contains("dev-secret-a") && csv.contains("waived"),
        "{csv}"
    );
    std::fs::write(artifacts.join("findings.csv"), &csv).unwrap();
    d.logout().await;
    d.screenshot(&artifacts, "06-signed-out.png").await;
    let _ = d.cmd(reqwest::Method::DELETE, "", None).await;
}
