#!/usr/bin/env bash
# The main job: a local cluster of the default profile (configs/aurigraph.yaml) under the
# supervisor, `nodus up`, with every instance's output on this terminal prefixed by its name;
# once a leader is elected, the load generator (nodus-tx-load) sends transactions to the
# ledger for --load seconds with a live progress line and a latency summary, then the status
# table repeats every 5 s. Set-up and build included; Ctrl-C stops the cluster.
#   scripts/run.sh [--profile FILE] [--instances N] [--duration SECONDS] [--load SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
profile=configs/aurigraph.yaml
instances=""
duration=0
load=10
while (($#)); do
  case "$1" in
    --profile) profile=$2; shift 2 ;;
    --instances) instances=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --load) load=$2; shift 2 ;;
    *) echo "usage: scripts/run.sh [--profile FILE] [--instances N] [--duration SECONDS] [--load SECONDS]" >&2; exit 2 ;;
  esac
done

scripts/setup.sh
scripts/build.sh release
nodus=build/release/bin/nodus

overrides=()
[[ -n "$instances" ]] && overrides+=(--instances "$instances")
"$nodus" config validate "$profile" "${overrides[@]}"
run_dir=$("$nodus" config render "$profile" "${overrides[@]}" | awk '/^run_dir:/ {print $2}')
[[ -n "$run_dir" ]] || run_dir=".nodus/$("$nodus" config render "$profile" | awk '/^profile:/ {print $2}')/run"

echo "--- nodus up --profile $profile ${overrides[*]} (run directory $run_dir)"
"$nodus" up --profile "$profile" "${overrides[@]}" &
up=$!
stop_all() {
  trap - INT TERM EXIT
  if kill -0 "$up" 2>/dev/null; then
    echo "--- stopping the cluster"
    kill -TERM "$up" 2>/dev/null || true
  fi
  wait "$up" 2>/dev/null || true
  echo "--- stopped"
}
trap stop_all INT TERM EXIT

start=$(date +%s)
sleep 2
# The ledger's gRPC endpoints, from the running cluster (empty when the profile has none).
targets=$("$nodus" status --run-dir "$run_dir" -o json 2>/dev/null | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(",".join("127.0.0.1:%d" % i["ports"]["grpc"] for i in d["instances"] if "grpc" in i.get("ports", {})))
' 2>/dev/null || true)
if [[ -n "$targets" && "$load" != 0 ]]; then
  for _ in $(seq 1 100); do
    "$nodus" status --run-dir "$run_dir" 2>/dev/null | grep -qw leader && break
    sleep 0.1
  done
  "$nodus" status --run-dir "$run_dir" || true
  echo "--- nodus-tx-load: 16 clients, 100-byte transactions, ${load} s (bench/tx_load/README.md)"
  build/release/bin/nodus-tx-load --targets "$targets" --clients 16 --batch 100 --inflight 2 \
    --key-space 1000 --duration "$load" --warmup 1 || true
fi
while kill -0 "$up" 2>/dev/null; do
  echo "--- $(date -u +%H:%M:%S) cluster status"
  "$nodus" status --run-dir "$run_dir" || true
  if ((duration > 0 && $(date +%s) - start >= duration)); then break; fi
  sleep 5
done
