#!/usr/bin/env bash
# Stop the PostgreSQL that scripts/pg-up.sh started and delete its cluster.
# Env: FS_PG_DIR (as pg-up.sh), FS_PG_KEEP=1 keeps the folder.
set -uo pipefail
dir=${FS_PG_DIR:-/tmp/foresight-pg-$(id -u)}
[ -d "$dir" ] || exit 0
pg_ctl=
for d in /usr/lib/postgresql/*/bin /usr/local/bin /usr/bin; do
  [ -x "$d/pg_ctl" ] && { pg_ctl=$d/pg_ctl; break; }
done
as=()
if [ "$(id -u)" = 0 ]; then
  user=postgres
  id "$user" >/dev/null 2>&1 || user=nobody
  as=(runuser -u "$user" --)
fi
if [ -n "$pg_ctl" ] && [ -d "$dir/data" ]; then
  "${as[@]}" "$pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
fi
[ "${FS_PG_KEEP:-0}" = 1 ] || rm -rf "${dir:?}" "$dir.lock"
