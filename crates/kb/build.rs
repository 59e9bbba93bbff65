//! The knowledge base under `kb/` is embedded with `include_dir!`, which does not tell cargo
//! which files it read: without this, editing a TOML file would leave a stale embedded copy.

fn main() {
    println!("cargo:rerun-if-changed=../../kb");
    println!("cargo:rerun-if-changed=build.rs");
}
