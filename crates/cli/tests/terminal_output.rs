//! What camtrace prints on a terminal: stored text cannot drive the terminal (issue 11 #11).

use std::path::PathBuf;
use std::process::Command;

fn tmpdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "camtrace-term-{tag}-{}-{}",
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
    Command::new(env!("CARGO_BIN_EXE_camtrace"))
        .args(args)
        .args(["--db", db])
        .output()
        .unwrap()
}

#[test]
fn history_list_escapes_control_characters_in_user_names() {
    let dir = tmpdir("actor");
    let db = format!("sqlite://{}", dir.join("t.db").display());
    let reg = dir.join("reg.csv");
    std::fs::write(&reg, "organisation,site,device\ndept,hq,cam-1\n").unwrap();
    let evil = "mallory\u{1b}[2J\u{1b}[H\r\nhistory intact: verified OK\u{7}\u{9b}31m\u{202e}";
    let o = camtrace(&db, &["import", reg.to_str().unwrap(), "--actor", evil]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = camtrace(&db, &["history", "list", "--format", "table"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8(o.stdout).unwrap();
    assert!(
        !out.chars()
            .any(|c| (c.is_control() && c != '\n') || c == '\u{202e}'),
        "{out:?}"
    );
    assert!(
        !out.lines().any(|l| l.starts_with("history intact")),
        "a forged line: {out}"
    );
    assert!(out.contains("mallory\\u{1b}[2J"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue 16 point 9: `camtrace devices --format json | head` ended with "Broken pipe".
#[test]
fn output_into_a_closed_pipe_ends_quietly() {
    use std::io::Read;
    let dir = tmpdir("pipe");
    let db = format!("sqlite://{}", dir.join("t.db").display());
    let reg = dir.join("reg.csv");
    let mut csv = String::from("organisation,site,device,brand,model,notes\n");
    for i in 0..3000 {
        csv.push_str(&format!(
            "dept,hq,cam-{i:05},Axis,P3245-V,a note long enough to fill the pipe quickly\n"
        ));
    }
    std::fs::write(&reg, csv).unwrap();
    let o = camtrace(&db, &["import", reg.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for args in [
        &["devices", "--format", "json"][..],
        &["devices", "--format", "csv"][..],
        &["devices", "--format", "table"][..],
        &["history", "list", "--format", "table", "--limit", "5000"][..],
    ] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_camtrace"))
            .args(args)
            .args(["--db", &db])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = [0u8; 64];
        child
            .stdout
            .as_mut()
            .unwrap()
            .read_exact(&mut first)
            .unwrap();
        drop(child.stdout.take()); // the reader (`head`) has seen enough
        let mut err = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        let status = child.wait().unwrap();
        assert!(
            !err.to_lowercase().contains("broken pipe") && !err.contains("panicked"),
            "{args:?}: {err}"
        );
        assert!(status.success(), "{args:?}: {status:?} {err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
