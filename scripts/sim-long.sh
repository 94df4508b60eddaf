#!/usr/bin/env bash
# Runs the simulation tests over many seeds (default 5000 per test), in shards on every core.
#   scripts/sim-long.sh [seeds] [build-dir]
# A failure prints "seed=N replay: NODUS_SIM_SEED=N <binary> --gtest_filter=<test>".
set -euo pipefail
seeds="${1:-5000}"
build="${2:-build/dev}"
cd "$(dirname "$0")/.."
shards="$(nproc)"
per=$(( (seeds + shards - 1) / shards ))
status=0
for bin in "$build"/bin/counter_sim_test "$build"/bin/gcounter_sim_test "$build"/bin/raft_sim_test; do
  [[ -x "$bin" ]] || { echo "missing $bin (build the tree first)"; exit 2; }
  # Raft's linearizability sweep runs at least 10,000 seeds in the long run.
  n="$seeds"; [[ "$(basename "$bin")" == raft_sim_test && "$n" -lt 10000 ]] && n=10000
  per=$(( (n + shards - 1) / shards ))
  pids=()
  for ((s = 0; s < shards; ++s)); do
    NODUS_SIM_SEEDS="$per" NODUS_SIM_SEED_BASE=$(( 1 + s * per )) \
      "$bin" --gtest_brief=1 > "/tmp/sim-long.$(basename "$bin").$s.log" 2>&1 &
    pids+=($!)
  done
  for i in "${!pids[@]}"; do
    if ! wait "${pids[$i]}"; then
      status=1
      grep -E "seed=|Failure|FAILED" "/tmp/sim-long.$(basename "$bin").$i.log" | head -20
    fi
  done
  echo "$(basename "$bin"): $seeds seeds per test, $([[ $status == 0 ]] && echo ok || echo FAILED)"
done
exit "$status"
