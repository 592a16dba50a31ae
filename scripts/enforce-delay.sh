#!/usr/bin/env bash
# Measures the time from a job's submission to foresight's enforced
# decision on it (its first action in the decision log) on the real
# single-host Slurm of scripts/slurm-up.sh: starts `foresight shadow --mode
# enforce` on the batch partition, submits N sleep jobs (seeded sizes and
# lengths, one every GAP seconds), waits for all, stops the controller and
# prints p50, p99 and max of (first action's log time - sbatch's return).
#
# Usage: scripts/enforce-delay.sh FORESIGHT_BIN [N] [GAP] [POLL_MS]   (as root)
set -euo pipefail
bin=${1:?the foresight binary}
n=${2:-60}
gap=${3:-0.3}
poll=${4:-200}
dir=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
FS_SLURM_INSTALL=0 "$(dirname "$0")/slurm-up.sh" >/dev/null
echo '{"predictor": "easy++", "version": "delay"}' > "$dir/model.json"
"$bin" shadow --slurm cmd --policy easy++ --mode enforce --poll-ms "$poll" --timer-s 1 \
  --lease-s 20 --control-partition batch --model "$dir/model.json" --log "$dir/decisions.log" \
  --deadline-ms 3000 --drift-threshold inf --log-level error &
pid=$!
sleep 2
RANDOM=17
for i in $(seq "$n"); do
  id=$(sbatch --parsable --chdir=/tmp --output=/dev/null --error=/dev/null --time=1 \
    --ntasks=$((1 + RANDOM % 6)) --wrap="sleep $((1 + RANDOM % 5))")
  printf '%s %s\n' "${id%%;*}" "$(date +%s.%N)" >> "$dir/submitted"
  sleep "$gap"
done
ids=$(cut -d' ' -f1 "$dir/submitted" | paste -sd,)
while [ -n "$(squeue -h -t PD,R,CG -o %i --jobs="$ids" 2>/dev/null)" ]; do sleep 0.5; done
kill -TERM "$pid"; wait "$pid" || true
"$bin" log "$dir/decisions.log" --kind action --json \
  | jq -r '. as $a | $a.job_ids[] | "\(.) \($a.ts_unix_s)"' | sort -k1,1 -k2,2n | awk '!seen[$1]++' > "$dir/first"
join <(sort "$dir/submitted") <(sort "$dir/first") | awk '{print $3 - $2}' | sort -n > "$dir/delays"
k=$(wc -l < "$dir/delays")
awk -v n="$n" -v k="$k" '{d[NR]=$1} END {
  p50=d[int((NR*0.5)+0.999)]; p99=d[int((NR*0.99)+0.999)];
  printf "jobs %d, with an action %d (the others Slurm started before a cycle saw them)\n", n, k;
  printf "submission to first action: p50 %.3f s, p99 %.3f s, max %.3f s\n", p50, p99, d[NR] }' "$dir/delays"
