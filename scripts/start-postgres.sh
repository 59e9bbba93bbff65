#!/usr/bin/env bash
# Start a throw-away PostgreSQL on 127.0.0.1 for the PostgreSQL half of the test suite, and print
# the URL to export as CAMTRACE_TEST_POSTGRES. Uses the Debian packages (postgresql); needs root
# or the postgres user. Idempotent: a running instance is reused.
set -euo pipefail
PORT=${CAMTRACE_PG_PORT:-55432}
DIR=${CAMTRACE_PG_DIR:-/tmp/camtrace-pg}
BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[[ -n $BIN ]] || { echo "PostgreSQL server binaries not found (apt-get install postgresql)" >&2; exit 1; }
run() { if [[ $(id -u) == 0 ]]; then su postgres -s /bin/bash -c "$*"; else bash -c "$*"; fi; }
mkdir -p "$DIR"
[[ $(id -u) == 0 ]] && chown postgres "$DIR"
if ! run "$BIN/pg_ctl -D $DIR/data status" >/dev/null 2>&1; then
  [[ -f $DIR/data/PG_VERSION ]] || run "$BIN/initdb -D $DIR/data -A trust -U postgres --no-sync" >/dev/null
  run "$BIN/pg_ctl -D $DIR/data -l $DIR/log -w -o \"-p $PORT -k $DIR -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200\" start" >/dev/null
fi
run "$BIN/psql -h 127.0.0.1 -p $PORT -U postgres -tAc \"SELECT 1 FROM pg_database WHERE datname='camtrace_test'\"" | grep -q 1 \
  || run "$BIN/createdb -h 127.0.0.1 -p $PORT -U postgres camtrace_test"
echo "postgres://postgres@127.0.0.1:$PORT/camtrace_test"
