//! Embeds every `migrations/<backend>/NNNN_name.sql` file: adding a numbered file is all it
//! takes to add a migration (for both backends, add one file to each directory).
use std::fmt::Write as _;
use std::path::Path;

include!("../../scripts/test-services.rs");

fn main() {
    // Tests needing PostgreSQL are ignored without one (see scripts/test-services.rs).
    watch_test_env();
    test_service("camtrace_has_postgres", has_postgres());
    // Read at run time: the build script binary may be shared between checkouts.
    let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let root = Path::new(&manifest).join("migrations");
    println!("cargo:rerun-if-changed={}", root.display());
    let mut out = String::new();
    for backend in ["sqlite", "postgres"] {
        let dir = root.join(backend);
        println!("cargo:rerun-if-changed={}", dir.display());
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "sql"))
            .collect();
        files.sort();
        writeln!(
            out,
            "pub const {}: &[Migration] = &[",
            backend.to_uppercase()
        )
        .unwrap();
        for f in files {
            println!("cargo:rerun-if-changed={}", f.display());
            let stem = f.file_stem().unwrap().to_string_lossy().to_string();
            let (num, name) = stem
                .split_once('_')
                .unwrap_or_else(|| panic!("{}: name must be NNNN_name.sql", f.display()));
            let version: i64 = num
                .parse()
                .unwrap_or_else(|_| panic!("{}: name must start with a number", f.display()));
            // The SQL text itself goes into the generated file (no path to resolve later).
            let sql =
                std::fs::read_to_string(&f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            writeln!(
                out,
                "    Migration {{ version: {version}, name: {name:?}, sql: {sql:?} }},"
            )
            .unwrap();
        }
        writeln!(out, "];").unwrap();
    }
    let dest = Path::new(&std::env::var("OUT_DIR").unwrap()).join("migrations.rs");
    std::fs::write(dest, out).unwrap();
}
