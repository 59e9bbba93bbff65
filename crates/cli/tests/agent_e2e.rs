//! The site agent end to end, over loopback only: a real `camtrace serve` on 127.0.0.1 (an
//! ephemeral port), `camtrace agent enrol`, then a scan of a device on 127.0.0.1 while the
//! server is down: the batch waits in the outbox across the agent's restart, and is delivered
//! exactly once when the server is back. Runs on SQLite, and on PostgreSQL when
//! `CAMTRACE_TEST_POSTGRES` is set.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod fleet;

use fleet::*;

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
