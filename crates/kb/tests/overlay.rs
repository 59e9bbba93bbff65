//! Overlays: a directory replaces or extends embedded files, and its errors name file and line.

use camtrace_kb::{Kb, KbFiles, Tristate};
use std::path::PathBuf;

fn tempdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("camtrace-kb-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(d.join("companies")).unwrap();
    d
}

#[test]
fn overlay_replaces_a_file_and_adds_one() {
    let dir = tempdir("replace");
    // Replace the embedded western companies file with a copy that changes one value, and add a
    // new file.
    let embedded = KbFiles::embedded();
    let text = embedded
        .get("companies/western.toml")
        .unwrap()
        .text
        .replace("hq = \"Lund, Sweden\"", "hq = \"Lund (overlay)\"");
    std::fs::write(dir.join("companies/western.toml"), text).unwrap();
    std::fs::write(
        dir.join("companies/extra.toml"),
        r#"
[[company]]
id = "acme-cctv"
name = "Acme CCTV Ltd"
short = "Acme"
country = "GB"
prc_nil = "no"
prc_nil_reason = "UK company"
source = "local register"
as_of = 2026-11-01
"#,
    )
    .unwrap();
    let files = KbFiles::with_overlay(&dir).unwrap();
    let kb = Kb::load(&files).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        kb.company("axis").unwrap().hq.as_deref(),
        Some("Lund (overlay)")
    );
    assert_eq!(kb.company("acme-cctv").unwrap().prc_nil, Tristate::No);
    assert!(kb.version.ends_with("+local"));
    assert_eq!(kb.location("company", "acme-cctv").unwrap().line, 2);
    assert_eq!(kb.company("hikvision").unwrap().short, "Hikvision");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn broken_overlay_reports_file_and_line() {
    let dir = tempdir("broken");
    std::fs::write(
        dir.join("companies/bad.toml"),
        "[[company]]\nid = \"x\"\nname = \"X\"\nshort = \"X\"\ncountry = \"GB\"\nprc_nil = \"maybe\"\nprc_nil_reason = \"r\"\nsource = \"s\"\nas_of = 2026-01-01\n",
    )
    .unwrap();
    let files = KbFiles::with_overlay(&dir).unwrap();
    let err = Kb::load(&files).unwrap_err();
    let e = &err.0[0];
    assert!(e.file.ends_with("bad.toml"), "{err}");
    assert_eq!(e.line, 6, "{err}");
    assert!(err.to_string().contains("bad.toml:6"), "{err}");

    std::fs::write(dir.join("companies/bad.toml"), "[[company]\nid = ").unwrap();
    let err = Kb::load(&KbFiles::with_overlay(&dir).unwrap()).unwrap_err();
    assert!(
        err.0[0].line >= 1 && err.0[0].file.ends_with("bad.toml"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn overlay_with_unknown_reference_is_rejected() {
    let dir = tempdir("ref");
    std::fs::create_dir_all(dir.join("brands")).unwrap();
    std::fs::write(
        dir.join("brands/local.toml"),
        "\n[[oem]]\nbrand = \"axis\"\nmaker = \"nobody\"\nconfidence = \"weak\"\nsource = \"s\"\nas_of = 2026-01-01\n",
    )
    .unwrap();
    let err = Kb::load(&KbFiles::with_overlay(&dir).unwrap())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("local.toml:2") && err.contains("unknown company `nobody`"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
