#!/bin/sh
# Reproduce docs/bench/scan.md: camtrace scan vs nmap -sV on an in-process loopback lab.
#   DEVICES=1000 NMAP_SAMPLE=30 PROFILE=release bench/scan.sh
# Sends traffic only to 127.60.0.0/16 (the lab's loopback range).
set -eu
cd "$(dirname "$0")/.."
PROFILE="${PROFILE:-release}"
if [ "$PROFILE" = release ]; then
    cargo build --release -p camtrace
    BIN=target/release/camtrace
else
    cargo build -p camtrace
    BIN=target/debug/camtrace
fi
mkdir -p bench/results
"$BIN" bench scan --devices "${DEVICES:-1000}" --nmap-sample "${NMAP_SAMPLE:-30}" \
    --json bench/results/scan.json | tee bench/results/scan.txt
