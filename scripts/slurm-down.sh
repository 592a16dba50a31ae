#!/usr/bin/env bash
# Stop the Slurm started by scripts/slurm-up.sh. Idempotent; as root.
# Env: FS_SLURM_KEEP_MUNGE=1 leave munged running
#      FS_SLURM_PURGE=1      also delete job state, spool and logs
#      FS_SLURM_INSTANCE=NAME stop that instance of slurm-up.sh instead of the
#                            default one (munged, shared, is left running)
set -uo pipefail
instance=${FS_SLURM_INSTANCE:-}
sfx=${instance:+-$instance}
run=/run/slurm$sfx
export SLURM_CONF=/etc/slurm$sfx/slurm.conf
say() { printf '[slurm-down] %s\n' "$*" >&2; }

alive() { [ -d "/proc/$1" ] && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }

# stop_by_pidfile FILE NAME: TERM, wait up to 10 s, then KILL
stop_by_pidfile() {
  local pid
  [ -s "$1" ] || { rm -f "$1"; return 0; }
  pid=$(<"$1")
  if alive "$pid"; then
    say "stopping $2 (pid $pid)"
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 200); do alive "$pid" || break; sleep 0.05; done
    if alive "$pid"; then say "killing $2"; kill -KILL "$pid" 2>/dev/null; fi
  fi
  rm -f "$1"
}

if command -v scontrol >/dev/null && scontrol ping 2>/dev/null | grep -q 'is UP'; then
  scancel --full --state=RUNNING 2>/dev/null || true
  scancel --state=PENDING 2>/dev/null || true
fi
stop_by_pidfile "$run/slurmrestd.pid" slurmrestd
rm -f "$run/slurmrestd.sock"
for f in "$run"/slurmd-*.pid; do
  [ -e "$f" ] && stop_by_pidfile "$f" "$(basename "$f" .pid)"
done
stop_by_pidfile "$run/slurmctld.pid" slurmctld
if [ -z "$instance" ]; then
  # step daemons of cancelled jobs on this host
  for pid in $(pgrep -x slurmstepd 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
  [ "${FS_SLURM_KEEP_MUNGE:-0}" = 1 ] || stop_by_pidfile /run/munge/munged.pid munged
fi
if [ "${FS_SLURM_PURGE:-0}" = 1 ]; then
  say "purging state"
  rm -rf /var/spool/slurmctld"$sfx"/* /var/spool/slurmd"$sfx"/* /var/log/slurm"$sfx"/*
fi
say "down"
