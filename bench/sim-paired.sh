#!/usr/bin/env bash
# Simulator CPU before/after a change, in alternating runs so that the machine's drift hits both
# alike (bench/README.md, issue 12 session 9): user+sys seconds of 200 seeds, one job, per run.
#   bash bench/sim-paired.sh BEFORE_CHECKOUT AFTER_CHECKOUT [ROUNDS]
# Uses bash's built-in `time` (nothing to install). Each checkout needs its node_modules.
set -euo pipefail
before=$1 after=$2 rounds=${3:-4}
TIMEFORMAT='%U %S'
for ((i = 1; i <= rounds; i++)); do
  for mode in async sync; do
    flag=(); [[ $mode == sync ]] && flag=(--sync)
    for repo in "$before" "$after"; do
      t=$( { time (cd "$repo" && node bin/pgwarden.js sim --seeds 200 --jobs 1 "${flag[@]}" > /dev/null); } 2>&1 | tail -1 )
      echo "$i $mode $repo $t"
    done
  done
done
