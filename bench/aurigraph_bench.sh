#!/usr/bin/env bash
# bench/aurigraph_bench.sh: the aurigraph profile's benchmarks in one run, side by side with a
# 3-member etcd 3.4 on the same machine (issue 7). Prints a markdown report, ready for
# BENCHMARKS.md, with the command that reproduces each figure.
#
#   bench/aurigraph_bench.sh [--quick] [--build-dir DIR] [--profile FILE] [--out FILE] [--no-etcd]
#                            [--keep]
#
# 1. nodus alone: committed tx/s and p50/p99 with 100-byte transactions (the encoded ledger
#    Transaction is 100 bytes, see bench/tx_load/README.md) at 1/16/64/256 clients, closed
#    loop; then p50/p99 at half of the best rate, open loop.
# 2. etcd (3 members, fsync on: its default) and nodus (`nodus up --profile`, 4 instances,
#    fsync batch) driven alternately by the same nodus-tx-load: 256-byte Put values, one Put
#    per request, at 1/16/64/256 clients; the ratio nodus/etcd per client count.
# 3. The leader is killed (kill -9) during a fixed-rate run with --verify: the longest window
#    without commits (per-millisecond commit timeline) and acknowledged-but-lost transactions.
# 4. VmRSS of each instance at rest and its maximum during the peak runs.
# The sections run in the order 2, 1, 3 (mildest load first; the kill last) and every nodus
# run starts only once all instances are ready with a leader; the report lists them 1 to 4.
# --keep leaves the temporary directory (logs, JSON reports, the kill timeline) in place.
#
# Environment: BUILD_DIR (default build/release, else build/dev), PEAK_BATCH [100],
# PEAK_INFLIGHT [2], KILL_RATE [5000 tx/s], KEY_SPACE [1000 keys per client in the peak runs],
# ETCD_PORT_BASE [22379]. Everything runs on
# loopback in a temporary directory that is removed on exit, with every process it started.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-}
profile="$root/configs/aurigraph.yaml"
quick=0
out=""
use_etcd=1
keep=0
while (($#)); do
  case "$1" in
    --quick) quick=1 ;;
    --build-dir) build=$2; shift ;;
    --profile) profile=$2; shift ;;
    --out) out=$2; shift ;;
    --no-etcd) use_etcd=0 ;;
    --keep) keep=1 ;;
    -h|--help) sed -n '2,27p' "$0"; exit 0 ;;
    *) echo "aurigraph_bench: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
if [[ -z "$build" ]]; then
  for d in build/release build/dev; do
    if [[ -x "$root/$d/bin/nodus-tx-load" && -x "$root/$d/bin/nodus" ]]; then build="$root/$d"; break; fi
  done
fi
nodus="$build/bin/nodus"
load="$build/bin/nodus-tx-load"
[[ -x "$nodus" && -x "$load" ]] || {
  echo "aurigraph_bench: no nodus and nodus-tx-load under '${build:-build/release}' (set BUILD_DIR or --build-dir)" >&2
  exit 2
}
grep -q "io.nodus.app.ledger" "$profile" || {
  echo "aurigraph_bench: $profile does not run io.nodus.app.ledger" >&2
  exit 2
}
if ((use_etcd)) && ! command -v etcd >/dev/null; then
  echo "aurigraph_bench: etcd not installed (scripts/setup.sh installs etcd-server); running without it" >&2
  use_etcd=0
fi

if ((quick)); then
  duration=2 warmup=0.5 clients_list=(1 16) kill_duration=5
else
  duration=10 warmup=2 clients_list=(1 16 64 256) kill_duration=12
fi
peak_batch=${PEAK_BATCH:-100}
peak_inflight=${PEAK_INFLIGHT:-2}
kill_rate=${KILL_RATE:-5000}
# Peak runs overwrite a bounded working set (keys per client), as a long-running ledger does;
# the etcd comparison and the leader-kill run (--verify) write a new key per transaction.
key_space=${KEY_SPACE:-1000}
etcd_base=${ETCD_PORT_BASE:-22379}

tmp=$(mktemp -d /tmp/aurigraph-bench.XXXXXX)
export NODUS_RUN_DIR="$tmp/run" NODUS_DATA_DIR="$tmp/data"
up_pid=""
sampler_pid=""
etcd_pids=()
instance_pids=()

# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
  set +e
  [[ -n "$sampler_pid" ]] && kill "$sampler_pid" 2>/dev/null && wait "$sampler_pid" 2>/dev/null
  if [[ -n "$up_pid" ]]; then
    # A restarted instance has a pid this script has not seen yet.
    mapfile -t -O "${#instance_pids[@]}" instance_pids < <(status_rows | awk '{print $2}')
    timeout 20 "$nodus" down >/dev/null 2>&1
    for _ in $(seq 100); do kill -0 "$up_pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$up_pid" 2>/dev/null
    wait "$up_pid" 2>/dev/null
  fi
  # Instances outlive a supervisor killed with -9; the ones this run saw go too.
  for p in "${instance_pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  for p in "${etcd_pids[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${etcd_pids[@]}"; do wait "$p" 2>/dev/null; done
  if ((keep)); then echo "aurigraph_bench: kept $tmp" >&2; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { echo "aurigraph_bench: $*" >&2; }

# JSON field of a nodus-tx-load report, by dotted path ("latency_ms.p99").
jget() {
  python3 -c 'import json,sys
v=json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."): v=v[k]
print(v)' "$1" "$2"
}

# "index pid state role grpc_port" per instance, from `nodus status -o json`.
status_rows() {
  "$nodus" status -o json 2>/dev/null | python3 -c 'import json,sys
text = sys.stdin.read()
if not text.strip():
    sys.exit(0)
def rows(v):
    if isinstance(v, dict):
        if "index" in v and "pid" in v:
            yield v
        else:
            for x in v.values(): yield from rows(x)
    elif isinstance(v, list):
        for x in v: yield from rows(x)
for r in rows(json.loads(text)):
    p = r.get("ports", {})
    print(r["index"], r.get("pid", 0), r.get("state", "-") or "-", r.get("role", "") or "-",
          p.get("grpc", 9004 + 10 * int(r["index"])))'
}

leader_pid() { status_rows | awk '$4 == "leader" && $3 == "ready" {print $2; exit}'; }

# Waits (up to 60 s) until every instance is ready and one is the leader; false otherwise.
wait_healthy() {
  local rows
  for _ in $(seq 600); do
    rows=$(status_rows || true)
    if [[ -n "$rows" ]] && ! echo "$rows" | awk '$3 != "ready" {bad = 1} END {exit !bad}' &&
      echo "$rows" | awk '$4 == "leader" {found = 1} END {exit !found}'; then
      return 0
    fi
    sleep 0.1
  done
  log "cluster not healthy after 60 s: $(echo "$rows" | tr '\n' ';')"
  return 1
}

rss_mb() { awk '/^VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$1/status" 2>/dev/null || echo "-"; }

# Prints the command (shell-quoted, with the binary's short name) and runs it.
run_load() {
  local json=$1
  shift
  log "$(cmd_of "$@")"
  if [[ "$1" != "--etcd" ]] && ! wait_healthy; then return 0; fi
  "$load" "$@" --no-progress --json "$json" 2>>"$tmp/load.log" >/dev/null || true
}
# The arguments never hold spaces or shell characters, so a plain join reads (and pastes) best.
cmd_of() { echo "nodus-tx-load $*"; }

# ---- etcd: 3 members on loopback, default durability (fsync on every commit) ----
etcd_targets=""
if ((use_etcd)); then
  cluster=""
  for i in 0 1 2; do cluster+="m$i=http://127.0.0.1:$((etcd_base + 10 * i + 1)),"; done
  for i in 0 1 2; do
    client=$((etcd_base + 10 * i))
    peer=$((etcd_base + 10 * i + 1))
    mkdir -p "$tmp/etcd"
    etcd --name "m$i" --data-dir "$tmp/etcd/m$i" \
      --listen-client-urls "http://127.0.0.1:$client" --advertise-client-urls "http://127.0.0.1:$client" \
      --listen-peer-urls "http://127.0.0.1:$peer" --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
      --initial-cluster "${cluster%,}" --initial-cluster-token nodus-bench --initial-cluster-state new \
      --logger zap --log-level error >"$tmp/etcd/m$i.log" 2>&1 &
    etcd_pids+=($!)
    etcd_targets+="127.0.0.1:$client,"
  done
  etcd_targets=${etcd_targets%,}
  for _ in $(seq 100); do
    ETCDCTL_API=3 etcdctl --endpoints "$etcd_targets" endpoint health >/dev/null 2>&1 && break
    sleep 0.2
  done
  ETCDCTL_API=3 etcdctl --endpoints "$etcd_targets" endpoint health >/dev/null 2>&1 || {
    log "etcd did not become healthy"; cat "$tmp"/etcd/*.log >&2; exit 1; }
  log "etcd 3-member cluster up: $etcd_targets"
fi

# ---- nodus: the aurigraph profile under its supervisor ----
"$nodus" up --profile "$profile" -q >"$tmp/up.log" 2>&1 &
up_pid=$!
instances=0
for _ in $(seq 300); do
  rows=$(status_rows || true)
  instances=$(echo "$rows" | awk 'NF {n++} END {print n + 0}')
  ready=$(echo "$rows" | awk '$3 == "ready" {n++} END {print n + 0}')
  if ((instances > 0 && ready == instances)) && [[ -n "$(leader_pid)" ]]; then break; fi
  kill -0 "$up_pid" 2>/dev/null || { log "nodus up exited"; cat "$tmp/up.log" >&2; exit 1; }
  sleep 0.1
done
[[ -n "$(leader_pid)" ]] || { log "no ready cluster with a leader"; tail -50 "$tmp/up.log" >&2; exit 1; }
rows=$(status_rows)
mapfile -t instance_pids < <(echo "$rows" | awk '{print $2}')
nodus_targets=$(echo "$rows" | awk '{printf "%s127.0.0.1:%s", (NR > 1 ? "," : ""), $5}')
log "nodus cluster up: $instances instances, grpc $nodus_targets"
declare -A rss_rest
sleep 1
while read -r index pid _; do rss_rest[$index]=$(rss_mb "$pid"); done <<<"$rows"

report="$tmp/report.md"
common=(--duration "$duration" --warmup "$warmup")
mode=$([[ $quick == 1 ]] && echo "quick (--quick: ${duration} s runs)" || echo "full (${duration} s runs after ${warmup} s warmup)")
{
  echo "## aurigraph benchmarks: $(date -u +%Y-%m-%d), $(nproc) cores, $mode"
  echo
  echo "Build: \`$build\`; profile \`${profile#"$root"/}\` ($instances instances); reproduce all with \`bench/aurigraph_bench.sh$([[ $quick == 1 ]] && echo " --quick")\`."
  echo "\`\$NODUS\` below is the cluster's grpc endpoints ($nodus_targets), \`\$ETCD\` etcd's client endpoints (${etcd_targets:-not run})."
  echo
} >"$report"
short() {
  local s="$1"
  s=${s//$nodus_targets/\$NODUS}
  [[ -n "$etcd_targets" ]] && s=${s//$etcd_targets/\$ETCD}
  echo "${s//$tmp\//}"
}

# ---- 2. etcd vs nodus, 256-byte values, one Put per request, alternating ----
{
  echo "### 2. nodus vs etcd 3.4 (3 members, fsync on), 256-byte values, one Put per request, closed loop"
  echo
  echo "| clients | etcd tx/s | etcd p50 / p99 ms | nodus tx/s | nodus p50 / p99 ms | nodus/etcd tx/s | commands |"
  echo "|---:|---:|---:|---:|---:|---:|---|"
} >>"$tmp/s2.md"
for c in "${clients_list[@]}"; do
  nargs=(--targets "$nodus_targets" --clients "$c" --value-bytes 256 --batch 1 "${common[@]}")
  eargs=(--etcd --targets "${etcd_targets:-none:1}" --clients "$c" --value-bytes 256 "${common[@]}")
  e_tps="-" e_lat="-" ratio="-"
  if ((use_etcd)); then
    run_load "$tmp/etcd-$c.json" "${eargs[@]}"
    if [[ -s "$tmp/etcd-$c.json" ]]; then
      e_tps=$(jget "$tmp/etcd-$c.json" throughput_tx_s | cut -d. -f1)
      e_lat="$(jget "$tmp/etcd-$c.json" latency_ms.p50) / $(jget "$tmp/etcd-$c.json" latency_ms.p99)"
    fi
  fi
  run_load "$tmp/cmp-$c.json" "${nargs[@]}"
  n_tps="-" n_lat="-"
  if [[ -s "$tmp/cmp-$c.json" ]]; then
    n_tps=$(jget "$tmp/cmp-$c.json" throughput_tx_s | cut -d. -f1)
    n_lat="$(jget "$tmp/cmp-$c.json" latency_ms.p50) / $(jget "$tmp/cmp-$c.json" latency_ms.p99)"
  fi
  if [[ "$e_tps" != "-" && "$n_tps" != "-" && "$e_tps" != "0" ]]; then
    ratio=$(python3 -c "print(f'{$n_tps / $e_tps:.2f}x')")
  fi
  cmds="\`$(short "$(cmd_of "${nargs[@]}")")\`"
  ((use_etcd)) && cmds+="<br>\`$(short "$(cmd_of "${eargs[@]}")")\`"
  echo "| $c | $e_tps | $e_lat | $n_tps | $n_lat | $ratio | $cmds |" >>"$tmp/s2.md"
done
echo >>"$tmp/s2.md"

# ---- 1. nodus alone, 100-byte transactions, peak (RSS sampled meanwhile) ----
rss_samples="$tmp/rss_samples"
# By instance index, with the pids of the moment: a restarted instance keeps its row.
(
  while true; do
    status_rows | while read -r index pid _; do
      echo "$index $(awk '/^VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null)"
    done
    sleep 0.25
  done
) >"$rss_samples" &
sampler_pid=$!
peak=0
peak_clients=1
{
  echo "### 1. Committed transactions per second, 100-byte transactions, fsync batch"
  echo
  echo "| clients | committed tx/s | p50 ms | p90 ms | p99 ms | p999 ms | errors | command |"
  echo "|---:|---:|---:|---:|---:|---:|---:|---|"
} >>"$tmp/s1.md"
for c in "${clients_list[@]}"; do
  args=(--targets "$nodus_targets" --clients "$c" --tx-bytes 100 --batch "$peak_batch" --inflight "$peak_inflight" --key-space "$key_space" "${common[@]}")
  run_load "$tmp/peak-$c.json" "${args[@]}"
  [[ -s "$tmp/peak-$c.json" ]] || { echo "| $c | failed | | | | | | \`$(short "$(cmd_of "${args[@]}")")\` |" >>"$tmp/s1.md"; continue; }
  tps=$(jget "$tmp/peak-$c.json" throughput_tx_s)
  echo "| $c | ${tps%.*} | $(jget "$tmp/peak-$c.json" latency_ms.p50) | $(jget "$tmp/peak-$c.json" latency_ms.p90) | $(jget "$tmp/peak-$c.json" latency_ms.p99) | $(jget "$tmp/peak-$c.json" latency_ms.p999) | $(jget "$tmp/peak-$c.json" errors) | \`$(short "$(cmd_of "${args[@]}")")\` |" >>"$tmp/s1.md"
  if python3 -c "import sys; sys.exit(0 if float('$tps') > float('$peak') else 1)"; then peak=$tps; peak_clients=$c; fi
done
kill "$sampler_pid" 2>/dev/null; wait "$sampler_pid" 2>/dev/null || true
sampler_pid=""

half=$(python3 -c "print(max(1, int(float('$peak') / 2)))")
args=(--targets "$nodus_targets" --clients "$peak_clients" --tx-bytes 100 --batch "$peak_batch" --rate "$half" --key-space "$key_space" "${common[@]}")
run_load "$tmp/half.json" "${args[@]}"
{
  echo
  if [[ -s "$tmp/half.json" ]]; then
    echo "At half of peak (open loop, $half tx/s, $peak_clients clients; latency from the intended send time): committed $(jget "$tmp/half.json" throughput_tx_s | cut -d. -f1) tx/s, p50 $(jget "$tmp/half.json" latency_ms.p50) ms, p99 **$(jget "$tmp/half.json" latency_ms.p99) ms**, p999 $(jget "$tmp/half.json" latency_ms.p999) ms: \`$(short "$(cmd_of "${args[@]}")")\`"
  else
    echo "At half of peak: the run failed: \`$(short "$(cmd_of "${args[@]}")")\`"
  fi
  echo
} >>"$tmp/s1.md"

# ---- 3. leader killed under load ----
kill_json="$tmp/kill.json"
args=(--targets "$nodus_targets" --clients 16 --tx-bytes 100 --batch 10 --rate "$kill_rate" --duration "$kill_duration" --warmup 0 --drain 15 --rpc-timeout-ms 1000 --verify --timeline "$tmp/kill-timeline.csv")
log "leader kill: $(cmd_of "${args[@]}")"
wait_healthy || true
"$load" "${args[@]}" --no-progress --json "$kill_json" 2>>"$tmp/load.log" >/dev/null &
load_pid=$!
sleep "$(python3 -c "print($kill_duration / 3)")"
victim=$(leader_pid)
victim_index=$(status_rows | awk -v p="$victim" '$2 == p {print $1}')
if [[ -n "$victim" ]]; then
  kill -9 "$victim"
  killed_ms=$(date +%s%3N)
  log "killed leader instance $victim_index (pid $victim)"
  new_leader_ms="-"
  for _ in $(seq 300); do
    l=$(leader_pid)
    if [[ -n "$l" && "$l" != "$victim" ]]; then new_leader_ms=$(($(date +%s%3N) - killed_ms)); break; fi
    sleep 0.05
  done
fi
wait "$load_pid" || true
{
  echo "### 3. Leader killed (kill -9) under load, fixed rate $kill_rate tx/s"
  echo
  if [[ -s "$kill_json" && -n "$victim" ]]; then
    echo "| longest window without commits | acknowledged lost | acknowledged and read back | new leader in \`nodus status\` after | errors | resent | command |"
    echo "|---:|---:|---:|---:|---:|---:|---|"
    echo "| **$(jget "$kill_json" max_commit_gap_ms) ms** | **$(jget "$kill_json" verify.lost)** | $(jget "$kill_json" verify.checked) | $new_leader_ms ms | $(jget "$kill_json" errors) | $(jget "$kill_json" retried) | \`$(short "$(cmd_of "${args[@]}")")\`, kill -9 of the leader at $(python3 -c "print(round($kill_duration / 3, 1))") s |"
  else
    echo "The run failed (no leader found or no report): see nodus-tx-load's log."
  fi
  echo
} >>"$tmp/s3.md"

# ---- 4. RSS ----
{
  echo "### 4. Resident memory per instance (VmRSS)"
  echo
  echo "| instance | at rest MB | at peak MB (max during section 1) |"
  echo "|---:|---:|---:|"
  for ((i = 0; i < instances; i++)); do
    peak_kb=$(awk -v i="$i" '$1 == i && $2 > m {m = $2} END {print m + 0}' "$rss_samples")
    echo "| $i | ${rss_rest[$i]:-"-"} | $(python3 -c "print(f'{$peak_kb / 1024:.1f}')") |"
  done
  echo
} >>"$tmp/s4.md"

cat "$tmp/s1.md" "$tmp/s2.md" "$tmp/s3.md" "$tmp/s4.md" >>"$report"
cat "$report"
[[ -n "$out" ]] && cp "$report" "$out" && log "report written to $out"
exit 0
