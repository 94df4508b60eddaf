#!/usr/bin/env bash
# The main job: a local cluster of the default profile (configs/aurigraph.yaml) under the
# supervisor, `nodus up`, with every instance's output on this terminal prefixed by its name.
# Set-up and build included; Ctrl-C stops the cluster.
#   scripts/run.sh [--profile FILE] [--instances N] [--duration SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
profile=configs/aurigraph.yaml
instances=""
duration=0
while (($#)); do
  case "$1" in
    --profile) profile=$2; shift 2 ;;
    --instances) instances=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    *) echo "usage: scripts/run.sh [--profile FILE] [--instances N] [--duration SECONDS]" >&2; exit 2 ;;
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
while kill -0 "$up" 2>/dev/null; do
  echo "--- $(date -u +%H:%M:%S) cluster status"
  "$nodus" status --run-dir "$run_dir" || true
  if ((duration > 0 && $(date +%s) - start >= duration)); then break; fi
  sleep 5
done
