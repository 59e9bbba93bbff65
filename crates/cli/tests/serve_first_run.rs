//! Issue 16 (set-up told straight): on first start `camtrace serve` creates `admin` with a
//! generated password, shown on stdout (not buried among the log lines on stderr) and kept in a
//! file beside the register that only its owner can read. Loopback only.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn the_first_password_goes_to_stdout_and_a_private_file() {
    let dir = std::env::temp_dir().join(format!("camtrace-first-run-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("register.db");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_camtrace"))
        .args(["--db", db.to_str().unwrap(), "serve", "--bind"])
        .arg(format!("127.0.0.1:{port}"))
        .env_remove("CAMTRACE_ADMIN_PASSWORD")
        .env_remove("CAMTRACE_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let t0 = Instant::now();
    let mut password = None;
    let mut said_file = false;
    while password.is_none() || !said_file {
        assert!(t0.elapsed() < Duration::from_secs(60));
        let Some(Ok(line)) = lines.next() else { break };
        if let Some(pw) = line.split("with password: ").nth(1) {
            password = Some(pw.trim().to_string());
        }
        said_file |= line.contains("camtrace-admin-password");
    }
    let _ = child.kill();
    let _ = child.wait();
    let password = password.expect("the password on stdout");
    assert!(password.len() >= 20, "{password}");
    assert!(said_file, "stdout names the file");
    let file = dir.join("camtrace-admin-password");
    assert_eq!(std::fs::read_to_string(&file).unwrap().trim(), password);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "readable by its owner only");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
