#!/usr/bin/env bash
# Soak test of the aurigraph profile (not part of CI): a cluster under a steady verified load
# for a chosen time, with a fault every N seconds, then the verdict.
#
#   scripts/soak.sh [--duration S] [--every S] [--fault kill|stop|restart|mix]
#                   [--rate TX_PER_S] [--instances N] [--build DIR] [--keep]
#
# Faults hit the current leader (kill -9; SIGSTOP for 2 s then SIGCONT; `nodus restart`), or
# rotate through the three with `mix` (the default). nodus-tx-load runs open loop at --rate
# with --verify, so at the end every acknowledged transaction is read back from the cluster.
# Printed at the end, and as JSON in the work directory (soak.json):
#   acknowledged  transactions acknowledged during the run
#   lost          acknowledged but not found afterwards (must be 0; the script exits 3 if not)
#   rss_growth    per instance, resident memory at the end minus after the first minute
#   max_gap_ms    the longest time without any acknowledgement (from nodus-tx-load)
#   restarts      restarts the supervisor made, by instance
# Every acknowledged transaction stays in the state (--verify needs one key per transaction), so
# memory grows with duration * rate by design: the default rate keeps a 1-hour run at about
# 300 MB of state per instance.
set -euo pipefail
cd "$(dirname "$0")/.."

duration=600
every=30
fault=mix
rate=500
instances=4
build=build/release
keep=0
usage="usage: scripts/soak.sh [--duration S] [--every S] [--fault kill|stop|restart|mix] [--rate TX_PER_S] [--instances N] [--build DIR] [--keep]"
while (($#)); do
  case "$1" in
    --duration) duration=$2; shift 2 ;;
    --every) every=$2; shift 2 ;;
    --fault) fault=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    --instances) instances=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    *) echo "$usage" >&2; exit 2 ;;
  esac
done
case "$fault" in kill | stop | restart | mix) ;; *) echo "soak: --fault must be kill, stop, restart or mix, not '$fault'" >&2; exit 2 ;; esac
for n in "$duration" "$every" "$rate" "$instances"; do
  [[ "$n" =~ ^[0-9]+$ && "$n" -gt 0 ]] || { echo "soak: '$n' is not a positive whole number" >&2; exit 2; }
done

if [[ "$build" == build/release && ! -x build/release/bin/nodus-tx-load ]]; then
  scripts/setup.sh
  scripts/build.sh release
fi
nodus="$build/bin/nodus"
load_bin="$build/bin/nodus-tx-load"
for b in "$nodus" "$load_bin"; do
  [[ -x "$b" ]] || { echo "soak: $b is missing (build $build first)" >&2; exit 2; }
done

work=$(mktemp -d /tmp/nodus-soak.XXXXXX)
run_dir="$work/run"
up_log="$work/up.log"
# Free ports: the profile's defaults (9002-9080) may be in use by a cluster of the main job.
base=$(python3 -c '
import socket
for base in range(21000, 60000, 100):
    ok = True
    for p in range(base - 1, base + 100):
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", p))
        except OSError:
            ok = False
        finally:
            s.close()
        if not ok:
            break
    if ok:
        print(base)
        break
')
overrides=(--instances "$instances" --data-dir "$work/data" --run-dir "$run_dir"
  --set "ports.base=$base" --set "supervisor.metrics_port=$((base - 1))")
"$nodus" config validate configs/aurigraph.yaml "${overrides[@]}" >/dev/null

echo "soak: ${instances} instances, ${rate} tx/s verified, ${duration} s, fault '${fault}' every ${every} s; work dir $work"
"$nodus" up --profile configs/aurigraph.yaml "${overrides[@]}" >"$up_log" 2>&1 &
up=$!
load=""
cleanup() {
  trap - INT TERM EXIT
  [[ -n "$load" ]] && kill "$load" 2>/dev/null || true
  # A frozen instance would hold the stop up until its timeout.
  for pid in $(status_json | python3 -c 'import json,sys; print(" ".join(str(i.get("pid",0)) for i in json.load(sys.stdin)["instances"]))' 2>/dev/null); do
    kill -CONT "$pid" 2>/dev/null || true
  done
  kill -TERM "$up" 2>/dev/null || true
  wait "$up" 2>/dev/null || true
  ((keep)) || rm -rf "$work/data"
}
status_json() { "$nodus" status --run-dir "$run_dir" -o json 2>/dev/null; }
trap cleanup INT TERM EXIT

# field(EXPR): evaluates a Python expression over the status JSON `d`.
field() { status_json | python3 -c "import json,sys; d=json.load(sys.stdin); print($1)" 2>/dev/null || true; }
leader() { field 'next((i["index"] for i in d["instances"] if i.get("role")=="leader" and i.get("state")=="ready"), "")'; }
pid_of() { field "next((i.get('pid',0) for i in d['instances'] if i['index']==$1), 0)"; }
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

for _ in $(seq 1 300); do
  [[ -n "$(leader)" ]] && [[ "$(field 'sum(1 for i in d["instances"] if i.get("state")=="ready")')" == "$instances" ]] && break
  sleep 0.1
done
[[ -n "$(leader)" ]] || { echo "soak: no leader after 30 s; see $up_log" >&2; exit 1; }
targets=$(field '",".join("127.0.0.1:%d" % i["ports"]["grpc"] for i in d["instances"])')

"$load_bin" --targets "$targets" --clients 8 --batch 10 --rate "$rate" --warmup 0 \
  --duration "$duration" --drain 60 --rpc-timeout-ms 2000 --verify --no-progress \
  --json "$work/load.json" >"$work/load.log" 2>&1 &
load=$!

declare -A rss_first=()
start=$(date +%s)
next_fault=$((start + every))
n=0
kinds=(kill stop restart)
while kill -0 "$load" 2>/dev/null && (($(date +%s) - start < duration)); do
  now=$(date +%s)
  if ((now - start >= 60)) && ((${#rss_first[@]} == 0)); then
    for ((i = 0; i < instances; ++i)); do rss_first[$i]=$(rss_kb "$(pid_of "$i")"); done
  fi
  if ((now >= next_fault)); then
    kind=$fault
    [[ "$fault" == mix ]] && kind=${kinds[$((n % 3))]}
    l=$(leader)
    if [[ -n "$l" ]]; then
      pid=$(pid_of "$l")
      echo "soak: t=$((now - start))s fault $((n + 1)): $kind leader $l (pid $pid)"
      case "$kind" in
        kill) kill -KILL "$pid" 2>/dev/null || true ;;
        stop) kill -STOP "$pid" 2>/dev/null || true; sleep 2; kill -CONT "$pid" 2>/dev/null || true ;;
        restart) "$nodus" restart "$l" --run-dir "$run_dir" >/dev/null 2>&1 || echo "soak: nodus restart $l failed" ;;
      esac
      n=$((n + 1))
    else
      echo "soak: t=$((now - start))s no leader; fault skipped"
    fi
    next_fault=$((now + every))
  fi
  sleep 1
done

declare -A rss_last=()
for ((i = 0; i < instances; ++i)); do rss_last[$i]=$(rss_kb "$(pid_of "$i")"); done
restarts=$(field '",".join("%d:%d" % (i["index"], i.get("restarts",0)) for i in d["instances"])')
code=0
wait "$load" || code=$?
load=""

python3 - "$work" "$code" "$n" "$restarts" "$(for i in "${!rss_first[@]}"; do echo -n "$i:${rss_first[$i]}:${rss_last[$i]} "; done)" <<'EOF'
import json, sys
work, code, faults, restarts, rss = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
try:
    r = json.load(open(work + "/load.json"))
except (OSError, ValueError):
    print(f"soak: nodus-tx-load wrote no summary (exit {code}); see {work}/load.log")
    sys.exit(1)
growth = {}
for item in rss.split():
    i, first, last = item.split(":")
    growth[i] = (int(last) - int(first)) // 1024
v = r.get("verify", {})
out = {
    "acknowledged": r.get("committed_total"),
    "lost": v.get("lost"),
    "checked": v.get("checked"),
    "read_errors": v.get("read_errors"),
    "unresolved": r.get("unresolved"),
    "faults": faults,
    "restarts": restarts,
    "rss_growth_mb": growth,
    "max_gap_ms": r.get("max_commit_gap_ms"),
    "p99_ms": r.get("latency_ms", {}).get("p99"),
    "load_exit": code,
}
json.dump(out, open(work + "/soak.json", "w"), indent=1)
print("soak: acknowledged %s, lost %s (checked %s, read errors %s), faults %d, restarts %s" %
      (out["acknowledged"], out["lost"], out["checked"], out["read_errors"], faults, restarts))
print("soak: RSS growth after the first minute (MB): " +
      ", ".join(f"instance {k}: {v:+d}" for k, v in sorted(growth.items())))
print("soak: longest commit gap %s ms, p99 %s ms; summary in %s/soak.json" %
      (out["max_gap_ms"], out["p99_ms"], work))
EOF
# nodus-tx-load exits 3 when an acknowledged transaction is lost.
exit "$code"
