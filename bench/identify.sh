#!/bin/sh
# Identification throughput over observations replicated from a scan of a small loopback lab.
#   HOSTS=100000 bench/identify.sh
set -eu
cd "$(dirname "$0")/.."
cargo build --release -p camtrace
target/release/camtrace bench identify --hosts "${HOSTS:-100000}"
