#!/usr/bin/env bash
# Start a real Slurm (slurm-wlm 22.05 on Debian 12) on this one host, with
# several emulated nodes, for foresight's controller tests.
#
# Usage: scripts/slurm-up.sh            (as root; idempotent)
# Env:   FS_SLURM_NODES   emulated nodes            (default 4)
#        FS_SLURM_CPUS    CPUs per node             (default 4)
#        FS_SLURM_MEM_MB  memory per node, MiB      (default 2000)
#        FS_SLURM_FRESH=1 forget earlier jobs (job ids restart at 1)
#        FS_SLURM_REST=1  also serve slurmrestd on unix:/run/slurm/slurmrestd.sock
#        FS_SLURM_WAIT    seconds to wait for idle nodes (default 60)
#        FS_SLURM_INSTALL=0 never call apt-get (fail if packages are missing)
#        FS_SLURM_INSTANCE=NAME  a further instance beside the default one
#                         (lower-case letters and digits): its own conf dir
#                         /etc/slurm-NAME, ClusterName NAME, /run/slurm-NAME,
#                         /var/log/slurm-NAME (JobCompLoc there),
#                         /var/spool/slurmctld-NAME and slurmd-NAME; clients
#                         reach it with SLURM_CONF=/etc/slurm-NAME/slurm.conf
#        FS_SLURM_CTLD_PORT  SlurmctldPort (default 6817; SlurmdPort is +1)
#        FS_SLURM_NODE_PORT  the first node's port (default 17001)
#        FS_SLURM_NODE_PREFIX node names (default n: n1, n2, ...)
#        FS_SLURM_BF_RESOLUTION  the backfill's time resolution, seconds
#                         (default 1; Slurm's own default is 60, which on
#                         the tests' compressed time rounds every
#                         reservation by hours of trace: docs/enforce.md)
# Prints the slurm.conf path on stdout when the nodes are idle.
set -euo pipefail

nodes=${FS_SLURM_NODES:-4}
cpus=${FS_SLURM_CPUS:-4}
mem=${FS_SLURM_MEM_MB:-2000}
wait_s=${FS_SLURM_WAIT:-60}
instance=${FS_SLURM_INSTANCE:-}
ctld_port=${FS_SLURM_CTLD_PORT:-6817}
node_port=${FS_SLURM_NODE_PORT:-17001}
prefix=${FS_SLURM_NODE_PREFIX:-n}
bf_resolution=${FS_SLURM_BF_RESOLUTION:-1}
[[ "$bf_resolution" =~ ^[1-9][0-9]*$ ]] || { echo "[slurm-up] FS_SLURM_BF_RESOLUTION must be a positive whole number of seconds" >&2; exit 1; }
cluster=foresight
sfx=
if [ -n "$instance" ]; then
  [[ "$instance" =~ ^[a-z][a-z0-9]*$ ]] || { echo "[slurm-up] FS_SLURM_INSTANCE must be lower-case letters and digits" >&2; exit 1; }
  sfx=-$instance
  cluster=$instance
fi
conf_dir=/etc/slurm$sfx
conf=$conf_dir/slurm.conf
run=/run/slurm$sfx
logs=/var/log/slurm$sfx
ctld_state=/var/spool/slurmctld$sfx
d_spool=/var/spool/slurmd$sfx
# every client and daemon below reads this instance's configuration
export SLURM_CONF=$conf
rest_sock=$run/slurmrestd.sock
say() { printf '[slurm-up] %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root"

# A pid file names a live process (not a zombie awaiting its reaper).
running() {
  local pid
  [ -s "$1" ] || return 1
  pid=$(<"$1")
  [ -d "/proc/$pid" ] && ! grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null
}

install_packages() {
  local pkgs="slurmctld slurmd slurm-client munge slurmrestd" missing=0 b
  for b in slurmctld slurmd sbatch squeue munged slurmrestd; do
    command -v "$b" >/dev/null || missing=1
  done
  [ $missing = 1 ] || return 0
  [ "${FS_SLURM_INSTALL:-1}" = 1 ] || die "slurm packages missing and FS_SLURM_INSTALL=0"
  say "installing $pkgs"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q --no-install-recommends $pkgs >/dev/null 2>&1 || {
    apt-get update -q >/dev/null
    apt-get install -y -q --no-install-recommends $pkgs >/dev/null
  }
}

write_config() {
  local host last
  host=$(hostname -s)
  last=$((node_port + nodes - 1))
  cat <<CONF
# written by foresight scripts/slurm-up.sh; do not edit by hand
ClusterName=$cluster
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
MailProg=/bin/true
SlurmctldPort=$ctld_port
SlurmdPort=$((ctld_port + 1))
StateSaveLocation=$ctld_state
SlurmdSpoolDir=$d_spool/%n
SlurmctldPidFile=$run/slurmctld.pid
SlurmdPidFile=$run/slurmd-%n.pid
SlurmctldLogFile=$logs/slurmctld.log
SlurmdLogFile=$logs/slurmd-%n.log
SlurmctldDebug=info
SlurmdDebug=info
# no cgroups in a container: track processes by pid, no task binding
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
# schedule at once: the tests compress time. bf_resolution is the grain of
# the backfill's plan: Slurm rounds a reservation's start down and a
# backfilled job's end up to it, so at its default (60 s) a one-minute job
# cannot start within a minute or two of a reservation
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0,bf_interval=1,bf_resolution=$bf_resolution
PriorityType=priority/multifactor
PriorityWeightJobSize=1000
PriorityWeightAge=100
# no database: finished jobs go to a jobcomp text file that sacct -c reads
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$logs/jobcomp.txt
SlurmdParameters=config_overrides
ReturnToService=2
MinJobAge=300
InactiveLimit=0
KillWait=2
Waittime=0
NodeName=$prefix[1-$nodes] NodeHostname=$host NodeAddr=127.0.0.1 Port=[$node_port-$last] CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=batch Nodes=ALL Default=YES MaxTime=INFINITE State=UP
# foresight's job_submit.lua (slurm/job_submit.lua) marks and gates the
# jobs of this partition only; the batch partition's jobs are left alone
PartitionName=foresight Nodes=ALL Default=NO MaxTime=INFINITE State=UP
JobSubmitPlugins=lua
CONF
}

start_munge() {
  if [ ! -s /etc/munge/munge.key ]; then
    say "creating a munge key"
    install -d -o munge -g munge -m 0700 /etc/munge
    head -c 1024 /dev/urandom > /etc/munge/munge.key
  fi
  chown munge:munge /etc/munge/munge.key
  chmod 0400 /etc/munge/munge.key
  install -d -o munge -g munge -m 0755 /run/munge
  install -d -o munge -g munge -m 0700 /var/log/munge /var/lib/munge
  munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && return 0
  say "starting munged"
  rm -f /run/munge/munged.pid /run/munge/munge.socket.2*
  runuser -u munge -- /usr/sbin/munged
  for _ in $(seq 100); do
    munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  die "munged does not answer"
}

install_packages
mkdir -p "$conf_dir" "$run" "$logs" "$ctld_state" "$d_spool"
# the repository's job_submit.lua (slurmctld reads it again when it changes)
lua_src="$(dirname "$0")/../slurm/job_submit.lua"
if ! cmp -s "$lua_src" "$conf_dir/job_submit.lua"; then
  install -m 0644 "$lua_src" "$conf_dir/job_submit.lua"
fi
fresh=${FS_SLURM_FRESH:-0}
wanted=$(write_config)
if [ "$(cat "$conf" 2>/dev/null)" != "$wanted" ]; then
  if running "$run/slurmctld.pid" || compgen -G "$run/slurmd-*.pid" >/dev/null; then
    say "configuration changed: restarting"
    FS_SLURM_KEEP_MUNGE=1 "$(dirname "$0")/slurm-down.sh"
  fi
  printf '%s\n' "$wanted" > "$conf"
  fresh=1 # a different node set makes the saved state useless
fi
start_munge

deadline=$((SECONDS + wait_s))
if ! running "$run/slurmctld.pid"; then
  if [ "$fresh" = 1 ]; then
    say "forgetting earlier jobs"
    rm -rf "${ctld_state:?}"/* "${d_spool:?}"/* "$logs/jobcomp.txt"
  fi
  say "starting slurmctld"
  slurmctld -i
fi
until scontrol ping 2>/dev/null | grep -q 'is UP'; do
  [ $SECONDS -lt $deadline ] || { tail -n 20 "$logs/slurmctld.log" >&2; die "slurmctld does not answer"; }
  sleep 0.1
done

for i in $(seq "$nodes"); do
  if ! running "$run/slurmd-$prefix$i.pid"; then
    mkdir -p "$d_spool/$prefix$i"
    slurmd -N "$prefix$i"
  fi
done

if [ "${FS_SLURM_REST:-0}" = 1 ] && ! running "$run/slurmrestd.pid"; then
  say "starting slurmrestd on unix:$rest_sock"
  rm -f "$rest_sock"
  SLURMRESTD_SECURITY=disable_user_check setsid slurmrestd -s openapi/v0.0.38 \
    -a rest_auth/local "unix:$rest_sock" >"$logs/slurmrestd.log" 2>&1 </dev/null &
  echo $! > "$run/slurmrestd.pid"
  for _ in $(seq 100); do [ -S "$rest_sock" ] && break; sleep 0.05; done
fi

while [ $SECONDS -lt $deadline ]; do
  states=$(sinfo -h -N -o '%N %t' 2>/dev/null | sort -u)
  idle=$(grep -c ' idle$' <<<"$states" || true)
  if [ "$idle" -ge "$nodes" ]; then
    say "ready: $nodes nodes idle"
    echo "$conf"
    exit 0
  fi
  # nodes left down or drained by an earlier run come back into service
  awk '$2 ~ /down|drain|fail/ {print $1}' <<<"$states" | while read -r n; do
    scontrol update NodeName="$n" State=RESUME 2>/dev/null || true
  done
  sleep 0.2
done
sinfo -N >&2
die "nodes not idle after ${wait_s}s"
