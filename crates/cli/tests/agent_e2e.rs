//! The site agent end to end, over loopback only: a real `camtrace serve` on 127.0.0.1 (an
//! ephemeral port), `camtrace agent enrol`, then a scan of a device on 127.0.0.1 while the
//! server is down: the batch waits in the outbox across the agent's restart, and is delivered
//! exactly once when the server is back. Runs on SQLite, and on PostgreSQL when
//! `CAMTRACE_TEST_POSTGRES` is set.

use serde_json::Value;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A fresh directory under the system's temporary directory, removed on drop.
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!(
            "camtrace-agent-e2e-{tag}-{}-{}",
            std::process::id(),
            chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
        ));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_camtrace")
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `camtrace serve` over `db` on 127.0.0.1:`port`, once it listens.
fn serve(db: &str, port: u16, log: &Path) -> Server {
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
fn request(port: u16, method: &str, path: &str, headers: &str, body: &str) -> (u16, String, Value) {
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
fn http(port: u16, method: &str, path: &str, token: &str, body: &str) -> (u16, Value) {
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
fn prepare(port: u16) -> String {
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
fn device() -> u16 {
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

fn agent(args: &[&str]) -> (i32, String, String) {
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

fn scans_of_hq(port: u16, token: &str) -> Vec<Value> {
    let (status, v) = http(port, "GET", "/api/v1/scans?site=hq", token, "");
    assert_eq!(status, 200, "{v}");
    v["items"]
        .as_array()
        .cloned()
        .or_else(|| v.as_array().cloned())
        .unwrap_or_default()
}

fn outbox_batches(config: &Path) -> i64 {
    let (code, out, err) = agent(&["status", "--config", config.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    v["outbox"]["batches"].as_i64().unwrap()
}

/// A one-time enrolment token for an agent of site `hq`, made through the API with `token`.
fn enrolment_token(port: u16, token: &str) -> String {
    let (status, v) = http(
        port,
        "POST",
        "/api/v1/agents/enrolments",
        token,
        r#"{"site": "hq", "name": "hq-agent"}"#,
    );
    assert_eq!(status, 201, "{v}");
    v["token"].as_str().unwrap().to_string()
}

/// Write `dir/agent.toml`: an agent of site `hq` pushing to 127.0.0.1:`server_port` and scanning
/// the device on 127.0.0.1:`device_port`. Returns the file's path.
fn write_config(
    dir: &Path,
    server_port: u16,
    device_port: u16,
    timeout_secs: u64,
) -> std::path::PathBuf {
    let config = dir.join("agent.toml");
    std::fs::write(
        &config,
        format!(
            r#"servers = ["http://127.0.0.1:{server_port}"]
credential_file = "agent.credential"
site = "hq"
targets = ["127.0.0.1"]
scope = ["127.0.0.0/8"]
ports = "{device_port}"
no_udp = true
rate = 5000.0
schedule_secs = 60
outbox = "outbox.db"
request_timeout_secs = {timeout_secs}
"#
        ),
    )
    .unwrap();
    config
}

fn outbox_survives_an_outage_and_delivers_once(db: &str) {
    let dir = TempDir::new("run");
    let port = free_port();
    let log = dir.path().join("serve.log");
    let server = serve(db, port, &log);
    let token = prepare(port);
    let enrolment = enrolment_token(port, &token);
    let config = write_config(dir.path(), port, device(), 10);
    let cfg = config.to_str().unwrap();
    let (code, _, err) = agent(&["enrol", "--config", cfg, "--token", &enrolment]);
    assert_eq!(code, 0, "{err}");
    assert!(dir.path().join("agent.credential").is_file());
    // The token is spent: a second enrolment with it is refused.
    std::fs::rename(dir.path().join("agent.credential"), dir.path().join("kept")).unwrap();
    let (code, _, err) = agent(&["enrol", "--config", cfg, "--token", &enrolment]);
    assert_ne!(code, 0);
    assert!(err.contains("already used"), "{err}");
    std::fs::rename(dir.path().join("kept"), dir.path().join("agent.credential")).unwrap();

    // The server goes away; the agent scans: the batch waits in the outbox.
    drop(server);
    let (code, _, err) = agent(&["run", "--config", cfg, "--once"]);
    assert_eq!(code, 3, "undelivered batches: exit 3\n{err}");
    assert!(err.contains("1 left in the outbox"), "{err}");
    // The agent stopped and starts again (a crash or a reboot): the batch is still there.
    let (code, _, err) = agent(&["push", "--config", cfg]);
    assert_eq!(code, 3, "{err}");
    assert_eq!(outbox_batches(&config), 1);

    // The server is back: delivered once, then the outbox is empty.
    let server = serve(db, port, &log);
    assert!(scans_of_hq(port, &token).is_empty());
    let (code, _, err) = agent(&["push", "--config", cfg]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("delivered 1 batches"), "{err}");
    assert_eq!(outbox_batches(&config), 0);
    let (code, _, err) = agent(&["push", "--config", cfg]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("delivered 0 batches"), "{err}");
    let scans = scans_of_hq(port, &token);
    assert_eq!(scans.len(), 1, "{scans:?}");
    assert!(
        scans[0]["observation_count"].as_i64().unwrap() > 0,
        "{scans:?}"
    );

    // The fleet view shows the agent, its batch and its empty outbox.
    let (status, v) = http(port, "GET", "/api/v1/agents?site=hq", &token, "");
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["total"], 1, "{v}");
    let a = &v["items"][0];
    assert_eq!(a["name"], "hq-agent");
    assert_eq!(a["batches"], 1);
    assert_eq!(a["outbox_depth"], 0);
    assert_eq!(a["agent_version"], env!("CARGO_PKG_VERSION"));
    assert!(a["last_scan"].is_null(), "push reports no scan of its own");

    // The long-running agent: it scans at once, delivers, and reports its scan.
    let child = Command::new(bin())
        .args(["agent", "run", "--config", cfg])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let running = Server(child);
    let t0 = Instant::now();
    loop {
        let (_, v) = http(port, "GET", "/api/v1/agents?site=hq", &token, "");
        let a = &v["items"][0];
        if a["last_scan"].is_string() && a["outbox_depth"] == 0 {
            assert_eq!(a["silent"], false);
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "the running agent did not report a scan: {v}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    drop(running);
    assert_eq!(outbox_batches(&config), 0);
    drop(server);
}

#[test]
fn agent_outbox_survives_an_outage_on_sqlite() {
    let dir = TempDir::new("db");
    let db = dir.path().join("central.db");
    outbox_survives_an_outage_and_delivers_once(db.to_str().unwrap());
}

#[test]
#[cfg_attr(
    not(camtrace_has_postgres),
    ignore = "needs PostgreSQL: export CAMTRACE_TEST_POSTGRES=$(scripts/start-postgres.sh)"
)]
fn agent_outbox_survives_an_outage_on_postgres() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let url = rt.block_on(camtrace_store::testing::fresh_postgres("cli_agent"));
    drop(rt);
    outbox_survives_an_outage_and_delivers_once(&url);
}

/// A TCP relay on 127.0.0.1 to the server on `to`. While `drop_replies` is set it passes each
/// request on and swallows the server's reply (counting it in `replies`): the agent waits for a
/// receipt that the server has already sent.
struct Relay {
    port: u16,
    drop_replies: std::sync::Arc<std::sync::atomic::AtomicBool>,
    replies: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

fn relay(to: u16) -> Relay {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::Arc;
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let drop_replies = Arc::new(AtomicBool::new(false));
    let replies = Arc::new(AtomicUsize::new(0));
    let (d, n) = (drop_replies.clone(), replies.clone());
    std::thread::spawn(move || {
        for client in l.incoming().flatten() {
            let Ok(server) = std::net::TcpStream::connect(("127.0.0.1", to)) else {
                continue;
            };
            let (mut c_in, mut s_out) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut c_in, &mut s_out);
            });
            let (d, n) = (d.clone(), n.clone());
            let (mut s_in, mut c_out) = (server, client);
            std::thread::spawn(move || {
                let mut buf = [0u8; 8192];
                loop {
                    match s_in.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(k) => {
                            if d.load(Ordering::SeqCst) {
                                n.fetch_add(1, Ordering::SeqCst);
                            } else if c_out.write_all(&buf[..k]).is_err() {
                                break;
                            }
                        }
                    }
                }
            });
        }
    });
    Relay {
        port,
        drop_replies,
        replies,
    }
}

/// Issue 15: the agent is killed (SIGKILL) in the middle of a push, after the server stored the
/// batch and before the receipt reached it. Restarted, it sends the batch again: the server
/// answers `duplicate`, stores nothing twice, and the outbox empties.
fn killed_mid_push_delivers_once(db: &str) {
    use std::sync::atomic::Ordering;
    let dir = TempDir::new("kill");
    let port = free_port();
    let log = dir.path().join("serve.log");
    let _server = serve(db, port, &log);
    let token = prepare(port);
    let enrolment = enrolment_token(port, &token);
    let relay = relay(port);
    let config = write_config(dir.path(), relay.port, device(), 120);
    let cfg = config.to_str().unwrap();
    let (code, _, err) = agent(&["enrol", "--config", cfg, "--token", &enrolment]);
    assert_eq!(code, 0, "{err}");

    // Receipts are swallowed from now on; the agent scans and pushes.
    relay.drop_replies.store(true, Ordering::SeqCst);
    let mut child = Command::new(bin())
        .args(["agent", "run", "--config", cfg, "--once"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while relay.replies.load(Ordering::SeqCst) == 0 {
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "the agent never pushed"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the agent ended before its receipt"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // The server has answered (and stored the batch); the agent still waits: kill -9.
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(scans_of_hq(port, &token).len(), 1, "stored once");
    assert_eq!(
        outbox_batches(&config),
        1,
        "the batch is still in the outbox"
    );

    // Restarted, with receipts passing again: sent again, answered `duplicate`, stored once.
    relay.drop_replies.store(false, Ordering::SeqCst);
    let (code, _, err) = agent(&["push", "--config", cfg]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("(1 already stored)"), "{err}");
    assert_eq!(outbox_batches(&config), 0);
    let scans = scans_of_hq(port, &token);
    assert_eq!(scans.len(), 1, "{scans:?}");
    let (status, v) = http(port, "GET", "/api/v1/agents?site=hq", &token, "");
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["items"][0]["batches"], 1, "one batch counted: {v}");
}

#[test]
fn agent_killed_mid_push_delivers_once_on_sqlite() {
    let dir = TempDir::new("killdb");
    let db = dir.path().join("central.db");
    killed_mid_push_delivers_once(db.to_str().unwrap());
}

#[test]
#[cfg_attr(
    not(camtrace_has_postgres),
    ignore = "needs PostgreSQL: export CAMTRACE_TEST_POSTGRES=$(scripts/start-postgres.sh)"
)]
fn agent_killed_mid_push_delivers_once_on_postgres() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let url = rt.block_on(camtrace_store::testing::fresh_postgres("cli_agent_kill"));
    drop(rt);
    killed_mid_push_delivers_once(&url);
}
