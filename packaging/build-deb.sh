#!/bin/sh
# Build the Debian package of camtrace: the release binary, its manual pages and shell
# completions generated from the command-line definitions, the systemd unit and the
# configuration file. Needs cargo-deb (`cargo install cargo-deb`). Run from the repository root.
set -eu
cargo build --release -p camtrace
gen=target/packaging
rm -rf "$gen"
mkdir -p "$gen/man" "$gen/completions"
target/release/camtrace man --out "$gen/man"
gzip -9n "$gen"/man/*.1
target/release/camtrace completions bash > "$gen/completions/camtrace"
target/release/camtrace completions zsh > "$gen/completions/_camtrace"
target/release/camtrace completions fish > "$gen/completions/camtrace.fish"
cargo deb -p camtrace --no-build "$@"
