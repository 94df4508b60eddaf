#!/usr/bin/env bash
# The main job: a local cluster of the default profile (configs/aurigraph.yaml), with its
# output on this terminal. Set-up and build included; Ctrl-C stops the cluster.
#   scripts/run.sh [--profile FILE] [--instances N] [--duration SECONDS]
#
# Until the supervisor (`nodus up`) lands, this script plays its part in the simplest way:
# it starts one `nodus node` process per instance, prefixes their logs, and prints a status
# table from each instance's /status and /metrics endpoints.
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
# The effective instance count and ports come from the profile itself.
rendered=$("$nodus" config render "$profile" "${overrides[@]}")
count=$(awk '/^instances:/ {print $2}' <<<"$rendered")
name=$(awk '/^profile:/ {print $2}' <<<"$rendered")
health_ports=()
for ((i = 0; i < count; i++)); do
  health_ports+=("$(python3 - "$i" <<PY
import sys, re
text = '''$rendered'''
base = int(re.search(r'^  base: (\d+)', text, re.M).group(1))
stride = int(re.search(r'^  stride: (\d+)', text, re.M).group(1))
health = int(re.search(r'^    health: (\d+)', text, re.M).group(1))
print(base + int(sys.argv[1]) * stride + health)
PY
)")
done

pids=()
stop_all() {
  trap - INT TERM EXIT
  echo "--- stopping ${#pids[@]} instances"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  echo "--- stopped"
}
trap stop_all INT TERM EXIT

echo "--- starting $count instances of profile $name"
for ((i = 0; i < count; i++)); do
  "$nodus" node --profile "$profile" --instance "$i" "${overrides[@]}" 2>&1 |
    sed -u "s/^/[$name-$i] /" &
  pids+=($!)
done

print_status() {
  printf '%-14s %-7s %-9s %-6s %-10s %s\n' INSTANCE PID READY ROLE PEERS-UP HEALTH
  for ((i = 0; i < count; i++)); do
    port=${health_ports[$i]}
    status=$(curl -fsS "http://127.0.0.1:$port/status" 2>/dev/null || echo '{}')
    peers=$(curl -fsS "http://127.0.0.1:$port/metrics" 2>/dev/null |
      awk '/^nodus_peerping_peers_reachable/ {print $2}')
    python3 - "$status" "$i" "$port" "${peers:--}" "$name" <<'PY'
import json, sys
s = json.loads(sys.argv[1] or "{}")
print(f"{sys.argv[5] + '-' + sys.argv[2]:<14} {s.get('pid', '-'):<7} {str(s.get('ready', False)).lower():<9} "
      f"{s.get('role', '-') or '-':<6} {sys.argv[4]:<10} http://127.0.0.1:{sys.argv[3]}/status")
PY
  done
}

start=$(date +%s)
sleep 2
while true; do
  echo "--- $(date -u +%H:%M:%S) cluster status"
  print_status
  if ((duration > 0 && $(date +%s) - start >= duration)); then break; fi
  sleep 5
done
