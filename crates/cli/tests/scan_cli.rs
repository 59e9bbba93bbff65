//! `camtrace scan` as a user runs it: flags, outputs, refusals. Loopback only.

use std::io::{Read, Write};
use std::process::Command;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_camtrace"));
    c.env_remove("CAMTRACE_KB").env("CAMTRACE_LOG", "error");
    c
}

/// A one-page web server on `addr` (thread per connection, Connection: close).
fn web_server(addr: &str) -> Option<u16> {
    let l = std::net::TcpListener::bind(addr).ok()?;
    let port = l.local_addr().ok()?.port();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf);
                let body = "<html><title>Scan CLI test</title></html>";
                let _ = write!(
                    s,
                    "HTTP/1.1 200 OK\r\nServer: test-httpd\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            });
        }
    });
    Some(port)
}

#[test]
fn scan_writes_observations_and_saves_them() {
    let host = format!("127.215.{}.9", std::process::id() % 200 + 20);
    let Some(port) = web_server(&format!("{host}:0")) else {
        eprintln!("SKIP: cannot bind {host}");
        return;
    };
    let save = std::env::temp_dir().join(format!("camtrace-scan-cli-{}.jsonl", std::process::id()));
    let out = bin()
        .args([
            "scan",
            &host,
            "-p",
            &port.to_string(),
            "--no-udp",
            "--format",
            "observations",
            "--json-progress",
        ])
        .arg("--save-observations")
        .arg(&save)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("\"title\":\"Scan CLI test\""), "{stdout}");
    assert!(stdout
        .lines()
        .all(|l| camtrace_model::Observation::from_json_line(l).is_ok()));
    let saved = std::fs::read_to_string(&save).unwrap();
    assert_eq!(saved, stdout, "saved observations equal the printed ones");
    std::fs::remove_file(&save).ok();
    let stderr = String::from_utf8(out.stderr).unwrap();
    let last = stderr
        .lines()
        .rfind(|l| l.starts_with('{'))
        .expect("json progress lines");
    let v: serde_json::Value = serde_json::from_str(last).unwrap();
    assert_eq!(v["phase"], "done");
    assert_eq!(v["hosts_done"], 1);
    assert_eq!(v["hosts_up"], 1);
    // host discovery on the added port, then the probes: at least two connects
    assert!(v["connects"].as_u64().unwrap() >= 2, "{v}");
    assert_eq!(v["rate_limit"], 100000.0, "the loopback default: {v}");
    assert!(v["rate"].as_f64().unwrap() >= 0.0, "{v}");
}

#[test]
fn refusals_are_clear() {
    let scope = std::env::temp_dir().join(format!("camtrace-scope-{}.txt", std::process::id()));
    std::fs::write(&scope, "# allowed\n127.216.0.0/16\n").unwrap();
    let out = bin()
        .args(["scan", "127.216.0.1", "127.217.0.0/24", "--scope"])
        .arg(&scope)
        .output()
        .unwrap();
    std::fs::remove_file(&scope).ok();
    assert_eq!(out.status.code(), Some(2));
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(e.contains("127.217.0.0/24") && e.contains("scope"), "{e}");

    let out = bin()
        .args(["scan", "127.0.0.0/8", "--format", "observations"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(e.contains("--max-hosts") && e.contains("--force"), "{e}");

    let out = bin().args(["scan"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no targets"));

    let out = bin()
        .args(["scan", "127.0.0.1", "-p", "99999"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("99999"));

    let out = bin().args(["scan", "--list-ports"]).output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("37777"));
}
