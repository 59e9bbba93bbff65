//! Helpers of the site-agent end-to-end tests: a real `camtrace serve` and real agents, on
//! 127.0.0.1 only.
#![allow(dead_code)]

use serde_json::Value;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A fresh directory under the system's temporary directory, removed on drop.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!(
            "camtrace-agent-e2e-{tag}-{}-{}",
            std::process::id(),
            chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
        ));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_camtrace")
}

pub struct Server(pub Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `camtrace serve` over `db` on 127.0.0.1:`port`, once it listens.
pub fn serve(db: &str, port: u16, log: &Path) -> Server {
    let out = std::fs::File::create(log).unwrap();
    let child = Command::new(bin())
        .args(["--db", db, "serve", "--bind", &format!("127.0.0.1:{port}")])
        .env("CAMTRACE_ADMIN_PASSWORD", "admin-password-123")
        .stdout(Stdio::null())
        .stderr(out)
        .spawn()
        .unwrap();
    let s = Server(child);
    let t0 = Instant::now();
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if text.contains("listening on") {
            return s;
        }
        assert!(t0.elapsed() < Duration::from_secs(60), "serve: {text}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// One HTTP/1.1 request to 127.0.0.1:`port` with extra header lines; (status, head, JSON body).
pub fn request(
    port: u16,
    method: &str,
    path: &str,
    headers: &str,
    body: &str,
) -> (u16, String, Value) {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    let status: u16 = out
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let (head, rest) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
    let json = serde_json::from_str(rest).unwrap_or(Value::Null);
    (status, head.to_string(), json)
}

/// A request with a bearer token; (status, JSON body).
pub fn http(port: u16, method: &str, path: &str, token: &str, body: &str) -> (u16, Value) {
    let (status, _, v) = request(
        port,
        method,
        path,
        &format!("Authorization: Bearer {token}\r\n"),
        body,
    );
    (status, v)
}

/// Through the API, as an operator would: sign in as the first admin (created by `serve` from
/// CAMTRACE_ADMIN_PASSWORD), make an API token, and register organisation `dept` with site
/// `hq`. Returns the token.
pub fn prepare(port: u16) -> String {
    let (status, head, v) = request(
        port,
        "POST",
        "/api/v1/auth/login",
        "",
        r#"{"username": "admin", "password": "admin-password-123"}"#,
    );
    assert_eq!(status, 200, "{head} {v}");
    let cookie = head
        .lines()
        .filter(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
        .find_map(|l| {
            let start = l.find("camtrace_session=")?;
            Some(l[start..].split(';').next()?.to_string())
        })
        .expect("a session cookie");
    let csrf = v["csrf_token"].as_str().unwrap();
    let (status, _, v) = request(
        port,
        "POST",
        "/api/v1/tokens",
        &format!("Cookie: {cookie}\r\nX-CSRF-Token: {csrf}\r\n"),
        r#"{"name": "fleet", "scope": "write"}"#,
    );
    assert_eq!(status, 200, "{v}");
    let token = v["token"].as_str().unwrap().to_string();
    let (status, v) = http(
        port,
        "POST",
        "/api/v1/organisations",
        &token,
        r#"{"id": "dept", "name": "Department"}"#,
    );
    assert_eq!(status, 200, "{v}");
    let (status, v) = http(
        port,
        "POST",
        "/api/v1/sites",
        &token,
        r#"{"id": "hq", "organisation": "dept", "name": "Headquarters"}"#,
    );
    assert_eq!(status, 200, "{v}");
    token
}

/// A device on 127.0.0.1: answers every connection with an HTTP reply naming its server.
pub fn device() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for c in l.incoming().flatten() {
            let mut c = c;
            let _ = c.set_read_timeout(Some(Duration::from_millis(300)));
            let mut buf = [0u8; 1024];
            let _ = c.read(&mut buf);
            let _ = c.write_all(
                b"HTTP/1.1 200 OK\r\nServer: DNVRS-Webs\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
        }
    });
    port
}

pub fn agent(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(bin())
        .arg("agent")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

pub fn scans_of_hq(port: u16, token: &str) -> Vec<Value> {
    let (status, v) = http(port, "GET", "/api/v1/scans?site=hq", token, "");
    assert_eq!(status, 200, "{v}");
    v["items"]
        .as_array()
        .cloned()
        .or_else(|| v.as_array().cloned())
        .unwrap_or_default()
}

pub fn outbox_batches(config: &Path) -> i64 {
    let (code, out, err) = agent(&["status", "--config", config.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    v["outbox"]["batches"].as_i64().unwrap()
}

/// A one-time enrolment token for an agent of site `hq`, made through the API with `token`.
pub fn enrolment_token(port: u16, token: &str) -> String {
    enrolment_token_for(port, token, "hq", "hq-agent")
}

/// A one-time enrolment token for an agent `name` of `site`.
pub fn enrolment_token_for(port: u16, token: &str, site: &str, name: &str) -> String {
    let (status, v) = http(
        port,
        "POST",
        "/api/v1/agents/enrolments",
        token,
        &serde_json::json!({"site": site, "name": name}).to_string(),
    );
    assert_eq!(status, 201, "{v}");
    v["token"].as_str().unwrap().to_string()
}

/// Register site `id` of organisation `dept` (made by [`prepare`]).
pub fn add_site(port: u16, token: &str, id: &str) {
    let (status, v) = http(
        port,
        "POST",
        "/api/v1/sites",
        token,
        &serde_json::json!({"id": id, "organisation": "dept", "name": id}).to_string(),
    );
    assert_eq!(status, 200, "{v}");
}

/// Write `dir/agent.toml`: an agent of site `hq` pushing to 127.0.0.1:`server_port` and scanning
/// the device on 127.0.0.1:`device_port`. Returns the file's path.
pub fn write_config(
    dir: &Path,
    server_port: u16,
    device_port: u16,
    timeout_secs: u64,
) -> std::path::PathBuf {
    write_config_for(dir, &[server_port], "hq", device_port, timeout_secs)
}

/// Write `dir/agent.toml`: an agent of `site` pushing to the servers on 127.0.0.1:`servers`
/// (tried in this order) and scanning the device on 127.0.0.1:`device_port`.
pub fn write_config_for(
    dir: &Path,
    servers: &[u16],
    site: &str,
    device_port: u16,
    timeout_secs: u64,
) -> std::path::PathBuf {
    let config = dir.join("agent.toml");
    let servers: Vec<String> = servers
        .iter()
        .map(|p| format!("\"http://127.0.0.1:{p}\""))
        .collect();
    std::fs::write(
        &config,
        format!(
            r#"servers = [{}]
credential_file = "agent.credential"
site = "{site}"
targets = ["127.0.0.1"]
scope = ["127.0.0.0/8"]
ports = "{device_port}"
no_udp = true
rate = 5000.0
schedule_secs = 60
outbox = "outbox.db"
request_timeout_secs = {timeout_secs}
"#,
            servers.join(", ")
        ),
    )
    .unwrap();
    config
}
