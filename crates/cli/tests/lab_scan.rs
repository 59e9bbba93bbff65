//! Issue 3's "done when", as a user runs it: `camtrace lab --devices 200 --manifest m.json &`,
//! then `camtrace scan` over the lab's whole /16 (the command the lab prints), then SIGTERM to the
//! lab. Every device in the manifest must be found with its maker and evidence, and nothing else.
//! Loopback only.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_camtrace"));
    c.env_remove("CAMTRACE_KB").env("CAMTRACE_LOG", "error");
    c
}

/// Kills the lab if the test fails half-way.
struct Guard(Option<Child>);

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(c) = &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn tmpdir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("camtrace-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Regression test for the open gap on issue 3: a sweep of a whole sparse /16 used to dial every
/// curated port on every address (about 1.1 million connections, a minute in release), so the
/// scan of a lab's range did not finish "in seconds". Host discovery now costs at most the ping
/// ports per empty address.
#[test]
fn lab_then_scan_of_its_whole_range_finds_every_device() {
    let dir = tmpdir("lab-scan");
    let manifest_path = dir.join("m.json");
    let range = format!("127.{}.0.0/16", 230 + std::process::id() % 20);
    let mut lab = bin()
        .args(["lab", "--devices", "200", "--seed", "11", "--range", &range])
        .arg("--manifest")
        .arg(&manifest_path)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("lab starts");
    let stdout = lab.stdout.take().unwrap();
    let mut guard = Guard(Some(lab));
    let (tx, rx) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut hint = None;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let line = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("the lab reports that it is running");
        if let Some(h) = line.strip_prefix("scan it: ") {
            hint = Some(h.to_string());
        }
        if line.starts_with("running") {
            break;
        }
    }
    let hint = hint.expect("the lab prints the scan command");
    // the command the lab printed, as a user would paste it
    let args: Vec<&str> = hint.split_whitespace().collect();
    assert_eq!(&args[..3], ["camtrace", "scan", range.as_str()], "{hint}");

    let out = bin()
        .args(&args[1..])
        .args(["--format", "json", "--no-progress"])
        .output()
        .expect("scan runs");
    assert!(
        out.status.success(),
        "scan failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let manifest: camtrace_lab::Manifest =
        serde_json::from_slice(&std::fs::read(&manifest_path).unwrap()).unwrap();
    assert_eq!(manifest.devices.len(), 200);
    let ids: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON Lines"))
        .collect();
    let by: HashMap<&str, &serde_json::Value> = ids
        .iter()
        .map(|i| (i["target"].as_str().unwrap(), i))
        .collect();
    assert_eq!(by.len(), ids.len(), "one object per device");
    let mut wrong = Vec::new();
    for d in &manifest.devices {
        let Some(id) = by.get(d.target.as_str()) else {
            wrong.push(format!("{} ({}) not found", d.target, d.personality));
            continue;
        };
        assert!(
            !id["evidence"].as_array().unwrap().is_empty(),
            "{} has no evidence",
            d.target
        );
        if let Some(m) = &d.maker {
            if id["maker"]["id"].as_str() != Some(m.as_str()) {
                wrong.push(format!(
                    "{} ({}): maker {}, expected {m}",
                    d.target, d.personality, id["maker"]
                ));
            }
        }
        if !d.device_class.is_surveillance() {
            let class = id["device_class"].as_str().unwrap_or("");
            assert!(
                class != "camera" && class != "recorder",
                "{} ({}) is not a camera but was called {class}",
                d.target,
                d.personality
            );
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert_eq!(ids.len(), 200, "only the lab's devices answer in {range}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("65536 hosts, 200 up"), "summary: {err}");

    // SIGTERM: a clean exit
    let mut lab = guard.0.take().unwrap();
    let pid = lab.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = lab.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "the lab did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "lab exit status {status}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue 16 (polish): a second `camtrace lab` on a range where a lab already answers started
/// silently on moved ports, so scans of the range saw both. It now warns, with privileged ports
/// or high ones, and a lab on a free range does not.
#[test]
fn a_lab_on_a_range_another_lab_answers_on_warns() {
    for high in [false, true] {
        let range = if high {
            "127.34.1.0/24"
        } else {
            "127.34.0.0/24"
        };
        let mut args = vec!["lab", "--devices", "4", "--range", range];
        if high {
            args.push("--high-ports");
        }
        let mut first = bin()
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = first.stdout.take().unwrap();
        let guard = Guard(Some(first));
        let mut lines = BufReader::new(stdout).lines();
        let t0 = Instant::now();
        loop {
            let line = lines.next().expect("lab output").unwrap();
            if line.starts_with("running") {
                break;
            }
            assert!(t0.elapsed() < Duration::from_secs(60));
        }
        let second = bin()
            .args(&args)
            .arg("--exit-after-start")
            .output()
            .unwrap();
        assert!(second.status.success());
        let err = String::from_utf8_lossy(&second.stderr);
        assert!(
            err.contains("warning: on 4 of 4 devices a port was already taken")
                && err.contains(range),
            "high ports {high}: {err}"
        );
        drop(guard);
        let alone = bin()
            .args(&args)
            .arg("--exit-after-start")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&alone.stderr);
        assert!(!err.contains("already taken"), "high ports {high}: {err}");
    }
}
