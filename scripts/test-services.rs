// Included (`include!`) by the build scripts of the crates whose tests need an outside service.
// At build time it finds which services this machine has and sets one `camtrace_has_*` cfg per
// service; tests needing a missing one are marked `#[cfg_attr(not(camtrace_has_x), ignore = "…")]`,
// so `cargo test` reports them as ignored, with the reason, instead of as passed.
// With CAMTRACE_TEST_REQUIRE_ALL=1 every cfg is set: nothing is ignored, and a missing service
// fails its tests.

/// Rebuild when a variable the answers depend on changes (installing a program without
/// changing PATH needs `cargo clean -p <crate>` or a touch of the crate's build.rs).
#[allow(dead_code)]
fn watch_test_env() {
    for var in ["CAMTRACE_TEST_POSTGRES", "CAMTRACE_TEST_REQUIRE_ALL", "PATH"] {
        println!("cargo::rerun-if-env-changed={var}");
    }
}

/// Declare `cfg` and set it when the service is `present` or every service is required.
#[allow(dead_code)]
fn test_service(cfg: &str, present: bool) {
    println!("cargo::rustc-check-cfg=cfg({cfg})");
    let require_all = std::env::var("CAMTRACE_TEST_REQUIRE_ALL").is_ok_and(|v| v == "1");
    if present || require_all {
        println!("cargo::rustc-cfg={cfg}");
    }
}

/// A PostgreSQL server is named (`CAMTRACE_TEST_POSTGRES`, printed by scripts/start-postgres.sh).
#[allow(dead_code)]
fn has_postgres() -> bool {
    std::env::var("CAMTRACE_TEST_POSTGRES").is_ok_and(|v| !v.is_empty())
}

/// One of `names` is a file in a directory of PATH.
#[allow(dead_code)]
fn on_path(names: &[&str]) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).any(|dir| names.iter().any(|n| dir.join(n).is_file()))
}

/// The build runs as root (effective uid 0 in /proc/self/status), as network namespaces need.
#[allow(dead_code)]
fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find(|l| l.starts_with("Uid:"))
            .and_then(|l| l.split_whitespace().nth(2))
            == Some("0")
    })
}

/// `python3 -c "import <modules>"` succeeds.
#[allow(dead_code)]
fn python_imports(modules: &str) -> bool {
    std::process::Command::new("python3")
        .args(["-c", &format!("import {modules}")])
        .output()
        .is_ok_and(|o| o.status.success())
}
