#!/usr/bin/env bash
# Start a real PostgreSQL (Debian's postgresql 15) for foresight's tests: a
# throwaway cluster in a folder of its own, on a free loopback port, run by a
# non-root user when called as root (PostgreSQL refuses to run as root).
#
# Usage: scripts/pg-up.sh               (idempotent: a running cluster is reused)
# Env:   FS_PG_DIR      the cluster's folder (default /tmp/foresight-pg-<uid>)
#        FS_PG_PORT     the first port tried (default 55432; the next free one is taken)
#        FS_PG_INSTALL=0 never call apt-get (fail if PostgreSQL is missing)
# Prints the server's URL, postgres://foresight@127.0.0.1:PORT, on stdout.
# The user `foresight` is a superuser, trusted on loopback (a test cluster:
# no password). fsync and synchronous_commit keep their defaults (on): the
# tests measure durable commits.
set -euo pipefail

dir=${FS_PG_DIR:-/tmp/foresight-pg-$(id -u)}
say() { printf '[pg-up] %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

find_bin() {
  local b=$1 d
  for d in /usr/lib/postgresql/*/bin /usr/local/bin /usr/bin; do
    [ -x "$d/$b" ] && { echo "$d/$b"; return 0; }
  done
  command -v "$b" 2>/dev/null
}

if [ -z "$(find_bin initdb)" ] || [ -z "$(find_bin pg_ctl)" ]; then
  [ "${FS_PG_INSTALL:-1}" = 1 ] || die "PostgreSQL is missing and FS_PG_INSTALL=0"
  [ "$(id -u)" = 0 ] || die "PostgreSQL is missing (install Debian's postgresql)"
  say "installing postgresql"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q --no-install-recommends postgresql >/dev/null 2>&1 || {
    apt-get update -q >/dev/null
    apt-get install -y -q --no-install-recommends postgresql >/dev/null
  }
fi
initdb=$(find_bin initdb)
pg_ctl=$(find_bin pg_ctl)
[ -n "$initdb" ] && [ -n "$pg_ctl" ] || die "initdb or pg_ctl not found"

# as root, PostgreSQL runs as the user `postgres` (or `nobody`)
as=()
if [ "$(id -u)" = 0 ]; then
  user=postgres
  id "$user" >/dev/null 2>&1 || user=nobody
  as=(runuser -u "$user" --)
fi

mkdir -p "$dir"
[ "$(id -u)" = 0 ] && chown "${user}" "$dir"
# one caller at a time (tests start it from several processes)
exec 8>"$dir.lock"
flock 8

if [ -s "$dir/port" ] && "${as[@]}" "$pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
  echo "postgres://foresight@127.0.0.1:$(<"$dir/port")"
  exit 0
fi

if [ ! -s "$dir/data/PG_VERSION" ]; then
  rm -rf "${dir:?}/data"
  say "initdb in $dir/data"
  "${as[@]}" "$initdb" -D "$dir/data" -U foresight --auth=trust -E UTF8 --locale=C >"$dir/initdb.log" 2>&1 ||
    { cat "$dir/initdb.log" >&2; die "initdb failed"; }
fi

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port=${FS_PG_PORT:-55432}
while ! port_free "$port"; do
  port=$((port + 1))
  [ "$port" -lt 65000 ] || die "no free port"
done

say "starting on 127.0.0.1:$port"
"${as[@]}" "$pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
  -o "-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories=$dir -c max_connections=200" start >/dev/null 8>&- ||
  { tail -n 20 "$dir/server.log" >&2; die "postgres did not start"; }
echo "$port" >"$dir/port"
echo "postgres://foresight@127.0.0.1:$port"
