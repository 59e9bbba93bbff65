//! Packaging for operators (issue 16, point 9): shell completions and manual pages are generated
//! from the clap definitions; the Debian metadata names files that exist; the systemd unit runs
//! `camtrace serve` with the documented configuration file, and the shipped configuration file
//! is one the server accepts.

use std::path::PathBuf;
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn camtrace(args: &[&str]) -> std::process::Output {
    let o = Command::new(env!("CARGO_BIN_EXE_camtrace"))
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

#[test]
fn completions_are_generated_for_every_shell() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = String::from_utf8(camtrace(&["completions", shell]).stdout).unwrap();
        assert!(out.len() > 1000, "{shell}: {out}");
        // (fish writes options as `-l budget`)
        for word in ["camtrace", "scan", "reconcile", "site", "budget", "save"] {
            assert!(out.contains(word), "{shell} completions lack {word}");
        }
    }
    let bad = Command::new(env!("CARGO_BIN_EXE_camtrace"))
        .args(["completions", "cmd.exe"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
}

#[test]
fn manual_pages_are_generated_per_command() {
    let dir = std::env::temp_dir().join(format!("camtrace-man-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    camtrace(&["man", "--out", dir.to_str().unwrap()]);
    let page = |name: &str| std::fs::read_to_string(dir.join(name)).ok();
    let main = page("camtrace.1").expect("camtrace.1");
    assert!(main.contains(".TH camtrace 1"), "{main}");
    for cmd in ["scan", "import", "serve", "report", "kb"] {
        assert!(main.contains(cmd), "camtrace(1) does not list {cmd}");
        let p = page(&format!("camtrace-{cmd}.1")).unwrap_or_else(|| panic!("camtrace-{cmd}.1"));
        assert!(
            p.contains(".SH OPTIONS") || p.contains(".SH SUBCOMMANDS"),
            "{p}"
        );
    }
    // Options are documented as in --help.
    let scan = page("camtrace-scan.1").unwrap();
    assert!(
        scan.contains("save") && scan.contains("register site"),
        "{scan}"
    );
    // Nested commands get their own page; the packagers' hidden commands do not.
    assert!(page("camtrace-kb-list.1").is_some());
    assert!(page("camtrace-man.1").is_none() && page("camtrace-completions.1").is_none());
    // Without --out, camtrace(1) goes to stdout.
    let out = String::from_utf8(camtrace(&["man"]).stdout).unwrap();
    assert!(
        out.starts_with(".ie") || out.contains(".TH camtrace 1"),
        "{out}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_package_installs_what_the_repository_holds() {
    let manifest = std::fs::read_to_string(root().join("crates/cli/Cargo.toml")).unwrap();
    assert!(manifest.contains("[package.metadata.deb]"));
    // Every source file the package takes from the repository exists (generated files under
    // target/ are made by packaging/build-deb.sh).
    let mut checked = 0;
    for part in manifest.split('"').filter(|p| p.starts_with("../../")) {
        let rel = part.trim_start_matches("../../");
        if rel.starts_with("target/") {
            continue;
        }
        assert!(
            root().join(rel).exists(),
            "{rel} named in the Debian metadata is missing"
        );
        checked += 1;
    }
    assert!(checked >= 5, "{checked}");
    let build = std::fs::read_to_string(root().join("packaging/build-deb.sh")).unwrap();
    for step in [
        "camtrace man --out",
        "camtrace completions bash",
        "cargo deb -p camtrace",
    ] {
        assert!(build.contains(step), "build-deb.sh lacks `{step}`");
    }

    // The unit runs the server with the configuration file the package installs.
    let unit =
        std::fs::read_to_string(root().join("packaging/systemd/camtrace-serve.service")).unwrap();
    assert!(
        unit.contains("\nExecStart=/usr/bin/camtrace serve\n"),
        "{unit}"
    );
    assert!(unit.contains("\nEnvironment=CAMTRACE_CONFIG=/etc/camtrace/camtrace.toml\n"));
    assert!(manifest.contains("\"etc/camtrace/camtrace.toml\""));
    assert!(manifest.contains("conf-files = [\"/etc/camtrace/camtrace.toml\""));
    let doc = std::fs::read_to_string(root().join("docs/packaging.md")).unwrap();
    assert!(doc.contains("/etc/camtrace/camtrace.toml") && doc.contains("CAMTRACE_CONFIG"));

    // Issue 15: the site agent has its unit too, run with the agent configuration the package
    // installs, and that template is one the agent accepts (scanning only loopback as shipped).
    let agent_unit =
        std::fs::read_to_string(root().join("packaging/systemd/camtrace-agent.service")).unwrap();
    assert!(
        agent_unit.contains(
            "\nExecStart=/usr/bin/camtrace agent run --config /etc/camtrace/agent.toml\n"
        ),
        "{agent_unit}"
    );
    assert!(agent_unit.contains("\nStateDirectory=camtrace\n"));
    assert!(manifest.contains("unit-name = \"camtrace-agent\""));
    assert!(manifest.contains("\"etc/camtrace/agent.toml\""));
    assert!(manifest.contains("\"/etc/camtrace/agent.toml\"]"));
    let agent_text = std::fs::read_to_string(root().join("packaging/agent.toml")).unwrap();
    let agent = camtrace_agent::config::AgentConfig::parse(&agent_text).unwrap();
    assert_eq!(
        agent.credential_file,
        std::path::Path::new("/var/lib/camtrace/agent.credential")
    );
    assert!(agent.outbox.starts_with("/var/lib/camtrace"));
    for t in agent.scope.iter().chain(&agent.targets) {
        assert!(
            t.starts_with("127."),
            "the template scans loopback only: {t}"
        );
    }
    assert!(
        doc.contains("camtrace-agent"),
        "docs/packaging.md names the agent unit"
    );

    // The shipped configuration file is one the server accepts.
    let cfg_path = root().join("packaging/camtrace.toml");
    let file = camtrace_server::config::FileConfig::load(&cfg_path).unwrap();
    assert_eq!(file.db.as_deref(), Some("/var/lib/camtrace/camtrace.db"));
    let mut cfg = camtrace_server::ServerConfig::default();
    cfg.apply_file(&file).unwrap();
    assert!(
        cfg.bind.ip().is_loopback(),
        "the template listens on loopback"
    );
}
