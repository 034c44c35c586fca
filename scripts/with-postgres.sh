#!/usr/bin/env bash
# Run a command with a throw-away PostgreSQL cluster on a free local port, then stop and remove it.
# The cluster's URL is passed as CARTRIAL_TEST_POSTGRES_URL; the cluster lives in a temp folder.
set -euo pipefail
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$pg_bin" ]; then
  echo "PostgreSQL is not installed: run scripts/system-deps.sh as root" >&2
  exit 1
fi
dir=$(mktemp -d /tmp/cartrial-pg.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
run_as=()
if [ "$(id -u)" -eq 0 ]; then
  # PostgreSQL refuses to run as root: use the postgres system user (created by the Debian package).
  chown postgres "$dir"
  run_as=(runuser -u postgres --)
fi
"${run_as[@]}" "$pg_bin/initdb" -D "$dir/data" -U cartrial --auth=trust -E UTF8 >/dev/null
"${run_as[@]}" "$pg_bin/pg_ctl" -D "$dir/data" -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off" -l "$dir/log" -w start >/dev/null
cleanup() {
  "${run_as[@]}" "$pg_bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT
"${run_as[@]}" "$pg_bin/createdb" -h 127.0.0.1 -p "$port" -U cartrial cartrial_test
export CARTRIAL_TEST_POSTGRES_URL="postgresql+psycopg://cartrial@127.0.0.1:$port/cartrial_test"
"$@"
