#!/usr/bin/env bash
# Start a throw-away PostgreSQL on 127.0.0.1 for the PostgreSQL half of the test suite, and print
# the URL to export as CAMTRACE_TEST_POSTGRES. Uses the Debian packages (postgresql); needs root
# or the postgres user. Idempotent: a running instance is reused.
#
#   scripts/start-postgres.sh            start (or reuse) and print the URL
#   scripts/start-postgres.sh restart    restart the instance (fast shutdown), print the URL
#   scripts/start-postgres.sh stop       stop it
#
# CAMTRACE_PG_PORT and CAMTRACE_PG_DIR choose another instance (tests that restart PostgreSQL
# start their own this way, so the shared one is never disturbed).
set -euo pipefail
ACTION=${1:-start}
PORT=${CAMTRACE_PG_PORT:-55432}
DIR=${CAMTRACE_PG_DIR:-/tmp/camtrace-pg}
BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[[ -n $BIN ]] || { echo "PostgreSQL server binaries not found (apt-get install postgresql)" >&2; exit 1; }
run() { if [[ $(id -u) == 0 ]]; then su postgres -s /bin/bash -c "$*"; else bash -c "$*"; fi; }
case $ACTION in
  start) ;;
  stop) run "$BIN/pg_ctl -D $DIR/data -m fast -w stop" >/dev/null; exit 0 ;;
  restart) run "$BIN/pg_ctl -D $DIR/data -l $DIR/log -m fast -w restart" >/dev/null ;;
  *) echo "usage: $0 [start|restart|stop]" >&2; exit 2 ;;
esac
mkdir -p "$DIR"
[[ $(id -u) == 0 ]] && chown postgres "$DIR"
if ! run "$BIN/pg_ctl -D $DIR/data status" >/dev/null 2>&1; then
  [[ -f $DIR/data/PG_VERSION ]] || run "$BIN/initdb -D $DIR/data -A trust -U postgres --no-sync" >/dev/null
  run "$BIN/pg_ctl -D $DIR/data -l $DIR/log -w -o \"-p $PORT -k $DIR -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200\" start" >/dev/null
fi
run "$BIN/psql -h 127.0.0.1 -p $PORT -U postgres -tAc \"SELECT 1 FROM pg_database WHERE datname='camtrace_test'\"" | grep -q 1 \
  || run "$BIN/createdb -h 127.0.0.1 -p $PORT -U postgres camtrace_test"
echo "postgres://postgres@127.0.0.1:$PORT/camtrace_test"
