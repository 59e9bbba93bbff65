//! `docs/getting-started.md` is run as written: every `$ ` line of its `console` blocks, in
//! order, in an empty directory, with the `camtrace` this build made first on the PATH. A line
//! ending in `&` runs in the background until the walk-through ends (the lab, the server); the
//! next line waits until it says it is ready. The page names only loopback addresses (checked
//! here); the test moves the lab to a range and the server to a port of its own, so that two
//! runs at once do not meet. Then the dashboard the last step starts must answer.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const DOC: &str = "docs/getting-started.md";

/// The `$ ` commands of the page's `console` blocks, in order.
fn commands(doc: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_console = false;
    for line in doc.lines() {
        let t = line.trim_start();
        if let Some(info) = t.strip_prefix("```") {
            in_console = !in_console && info.trim() == "console";
            continue;
        }
        if in_console {
            if let Some(c) = t.strip_prefix("$ ") {
                out.push(c.trim().to_string());
            }
        }
    }
    out
}

/// Every dotted-quad in the text.
fn ipv4s(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_digit() && (i == 0 || !(b[i - 1].is_ascii_digit() || b[i - 1] == b'.')) {
            let mut j = i;
            while j < b.len() && (b[j].is_ascii_digit() || b[j] == b'.') {
                j += 1;
            }
            let s = text[i..j].trim_end_matches('.');
            if s.split('.').count() == 4 && s.split('.').all(|p| p.parse::<u8>().is_ok()) {
                out.push(s.to_string());
            }
            i = j;
        } else {
            i += 1;
        }
    }
    out
}

struct Background(Vec<Child>);

impl Drop for Background {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_ready(log: &Path, cmd: &str) {
    let t0 = Instant::now();
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if text.contains("running; Ctrl-C to stop") || text.contains("listening on") {
            return;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "`{cmd}` did not get ready: {text}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn http_get(port: u16, path: &str) -> String {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

#[test]
fn the_getting_started_walk_through_runs_as_written() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let doc = std::fs::read_to_string(root.join(DOC)).unwrap();
    let cmds = commands(&doc);
    assert!(
        cmds.len() >= 10,
        "the walk-through lost its commands: {cmds:?}"
    );
    for want in [
        "camtrace lab",
        "camtrace import",
        "camtrace scan",
        "camtrace reconcile",
        "camtrace check",
        "camtrace plan",
        "camtrace report",
        "camtrace serve",
    ] {
        assert!(
            cmds.iter().any(|c| c.contains(want)),
            "no `{want}` step in {DOC}"
        );
    }
    // Loopback only, in the page and so in every command.
    for a in ipv4s(&doc) {
        assert!(
            a.starts_with("127."),
            "{DOC} names {a}, not a loopback address"
        );
    }

    // A range and a port of this run's own.
    let pid = std::process::id();
    let range = format!("127.{}.{}.", 160 + pid % 40, (pid / 40) % 250);
    let port = free_port();
    let dir = std::env::temp_dir().join(format!("camtrace-getting-started-{pid}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_camtrace")).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut bg = Background(Vec::new());
    for (i, cmd) in cmds.iter().enumerate() {
        let cmd = cmd
            .replace("127.20.0.", &range)
            .replace("127.0.0.1:8080", &format!("127.0.0.1:{port}"));
        let mut sh = Command::new("sh");
        sh.current_dir(&dir)
            .env("PATH", &path)
            .env_remove("CAMTRACE_KB")
            .env_remove("CAMTRACE_DB")
            .env_remove("CAMTRACE_CONFIG")
            .env_remove("CAMTRACE_BIND")
            .env("CAMTRACE_LOG", "error");
        if let Some(fg) = cmd.strip_suffix('&') {
            let log = dir.join(format!("background-{i}.log"));
            let f = std::fs::File::create(&log).unwrap();
            let child = sh
                .arg("-c")
                .arg(format!("exec env {}", fg.trim()))
                .stdin(Stdio::null())
                .stdout(f.try_clone().unwrap())
                .stderr(f)
                .spawn()
                .unwrap();
            bg.0.push(child);
            wait_ready(&log, &cmd);
        } else {
            let o = sh.arg("-c").arg(&cmd).output().unwrap();
            eprintln!(
                "$ {cmd}\n{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            );
            assert!(o.status.success(), "step {i} failed: `{cmd}`");
        }
    }

    // What the walk-through promised: a register with the devices found, a report, a dashboard.
    let devices = Command::new(env!("CARGO_BIN_EXE_camtrace"))
        .current_dir(&dir)
        .args(["devices", "--format", "json"])
        .env_remove("CAMTRACE_KB")
        .env_remove("CAMTRACE_DB")
        .output()
        .unwrap();
    let devices: serde_json::Value = serde_json::from_slice(&devices.stdout).unwrap();
    assert!(
        devices.as_array().is_some_and(|d| d.len() >= 20),
        "the devices found were adopted into the register: {devices}"
    );
    assert!(dir.join("report/index.html").is_file());
    let page = http_get(port, "/login");
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    drop(bg);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_parser_finds_console_commands_and_addresses() {
    let doc = "text\n```sh\nnot run\n```\n```console\n$ camtrace a 127.1.2.3/24\n$ b &\n```\n";
    assert_eq!(commands(doc), ["camtrace a 127.1.2.3/24", "b &"]);
    assert_eq!(
        ipv4s("x 127.20.0.0/24, v1.2, 127.0.0.1:8080 and 127.300.0.1."),
        ["127.20.0.0", "127.0.0.1"]
    );
}
