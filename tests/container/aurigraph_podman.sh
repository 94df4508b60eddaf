#!/usr/bin/env bash
# Opt-in container lane (not part of scripts/test.sh): the aurigraph image end to end. Goals:
# the image built from containers/aurigraph/Containerfile's layout (FROM scratch with the
# host's libraries, as no registry is reachable) starts its instances as an unprivileged user
# under `nodus up` as PID 1; the HEALTHCHECK passes; the published ports answer (instance
# /readyz, an instance's /metrics, the supervisor's aggregate /metrics on 9002); with the
# ledger plugin in the image, transactions sent with curl commit; AURIGRAPH_NODE_COUNT picks
# the instance count and a bad AURIGRAPH_* value is refused; `podman stop` exits 0.
#   tests/container/aurigraph_podman.sh [BUILD_DIR [PROFILE]]
# (defaults: build/release, configs/aurigraph.yaml).
# Needs root, podman and runc (scripts/test-containers.sh installs them and runs this).
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build/release}
profile=${2:-configs/aurigraph.yaml}
export CONTAINERS_CONF=$PWD/containers/podman/containers.conf
podman=(podman --runtime runc --cgroup-manager=cgroupfs)
work=$(mktemp -d /tmp/nodus-aurigraph.XXXXXX)
name=nodus-aurigraph-$$
small=nodus-aurigraph-small-$$
image=localhost/nodus-aurigraph:test
cleanup() {
  "${podman[@]}" rm -f -v -t 0 "$name" "$small" >/dev/null 2>&1 || true
  "${podman[@]}" rmi -f "$image" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
current=$name # the container whose log a failure shows
fail() {
  echo "FAIL: $*" >&2
  "${podman[@]}" logs "$current" 2>&1 | grep -v 'level=error' | tail -40 >&2 || true
  exit 1
}
running() { [ "$("${podman[@]}" inspect -f '{{.State.Running}}' "$1" 2>/dev/null)" = true ]; }
step() { echo "--- $*"; }

instances=4
span=$((instances * 10 + 10)) # container ports 9002 .. 9002+span-1
# A free block of loopback ports for the published range (host port = container port + shift).
host_base=$(python3 -c "import socket
for b in range(24000, 60000, 97):
    ok = True
    for p in range(b, b + $span):
        s = socket.socket()
        try: s.bind(('127.0.0.1', p))
        except OSError: ok = False
        s.close()
    if ok: print(b); break")
shift_by=$((host_base - 9002))
host_port() { echo $(($1 + shift_by)); }

step "stage and build the image from $build"
containers/aurigraph/stage.sh --scratch --profile "$profile" "$build" "$work/context" ||
  fail "stage.sh"
"${podman[@]}" build --format docker -q -t "$image" -f "$work/context/Containerfile.scratch" \
  "$work/context" >/dev/null || fail "podman build"
has_ledger=0
if [ -e "$work/context/rootfs/usr/lib/nodus/plugins/libnodus_app_ledger.so" ] &&
  grep -q 'io.nodus.app.ledger' "$profile"; then
  has_ledger=1
fi

step "run: AURIGRAPH_NODE_COUNT=$instances, 9002-$((9002 + span - 1)) on 127.0.0.1:$host_base.."
"${podman[@]}" run -d --name "$name" -e AURIGRAPH_NODE_COUNT=$instances \
  -p "127.0.0.1:$host_base-$((host_base + span - 1)):9002-$((9002 + span - 1))" \
  "$image" >/dev/null || fail "podman run"

status() { "${podman[@]}" exec "$name" /usr/bin/nodus status 2>&1; }
ready_count() { status | grep -c ' ready ' || true; }
for _ in $(seq 1 150); do
  running "$name" || fail "the container exited"
  [ "$(ready_count)" = $instances ] && break
  sleep 0.2
done
[ "$(ready_count)" = $instances ] || fail "instances not ready: $(status)"
status

init=$("${podman[@]}" inspect -f '{{.State.Pid}}' "$name")
[ "$(cat /proc/"$init"/comm)" = nodus ] || fail "PID 1 of the container is not nodus"
uid=$(awk '/^Uid:/ {print $2}' /proc/"$init"/status)
[ "$uid" = 10001 ] || fail "the supervisor runs as uid $uid, not the image's user 10001"

step "HEALTHCHECK (nodus health)"
"${podman[@]}" healthcheck run "$name" 2>/dev/null || fail "the image's HEALTHCHECK failed"

step "published ports"
for i in $(seq 0 $((instances - 1))); do
  code=$(curl -s -o /dev/null -w '%{http_code}' "127.0.0.1:$(host_port $((9007 + 10 * i)))/readyz")
  [ "$code" = 200 ] || fail "instance $i /readyz on 9007+10*$i answered $code"
done
metrics=$(curl -sf "127.0.0.1:$(host_port 9015)/metrics") || fail "instance 1 /metrics (9015)"
grep -q 'instance="1"' <<<"$metrics" || fail "instance 1 /metrics lacks instance=\"1\""
aggregate=$(curl -sf "127.0.0.1:$(host_port 9002)/metrics") || fail "supervisor /metrics (9002)"
for i in $(seq 0 $((instances - 1))); do
  grep -q "^nodus_supervisor_instance_ready{instance=\"$i\"} 1" <<<"$aggregate" ||
    fail "aggregate /metrics: instance $i not ready"
done
echo "instance /readyz x$instances, instance /metrics and aggregate /metrics answer"

if ((has_ledger)); then
  step "transactions over HTTP"
  tx_count=20
  amount=100
  for seq in $(seq 1 $tx_count); do
    mint="{\"account\":\"alice\",\"amount\":$amount}"
    body="{\"client_id\":\"lane-$$\",\"seq\":$seq,\"mint\":$mint}"
    result=""
    # Spread over the instances (followers forward to the leader). While a leader is being
    # elected the answer is 503 TX_RETRY or TX_UNKNOWN: resend as is; a resend of a
    # transaction that did commit is TX_DUPLICATE, which also means committed.
    for attempt in $(seq 1 100); do
      i=$(((seq + attempt) % instances))
      curl -s -o "$work/tx.out" -XPOST "127.0.0.1:$(host_port $((9003 + 10 * i)))/v1/tx" \
        -d "$body" || true
      result=$(grep -o '"code":"[A-Z_]*"' "$work/tx.out" 2>/dev/null || true)
      case "$result" in *TX_OK* | *TX_DUPLICATE*) break ;; esac
      sleep 0.1
    done
    case "$result" in *TX_OK* | *TX_DUPLICATE*) ;;
      *) fail "transaction $seq did not commit: $(cat "$work/tx.out" 2>/dev/null)" ;; esac
  done
  echo "$tx_count transactions answered TX_OK; last: $(cat "$work/tx.out")"
  want=$((tx_count * amount))
  account=$(curl -s "127.0.0.1:$(host_port 9023)/v1/accounts/alice?linearizable=true")
  grep -q "\"balance\":\"$want\"" <<<"$account" ||
    fail "alice should hold $want after $tx_count mints of $amount, instance 2 says: $account"
  echo "instance 2 (linearizable read): $account"
  committed=0
  for _ in $(seq 1 50); do
    committed=$(curl -sf "127.0.0.1:$(host_port 9002)/metrics" |
      awk '/^nodus_ledger_tx_committed_total/ {if ($NF + 0 > m) m = $NF + 0} END {print m + 0}')
    [ "${committed%.*}" -ge $tx_count ] && break
    sleep 0.2
  done
  [ "${committed%.*}" -ge $tx_count ] ||
    fail "nodus_ledger_tx_committed_total is $committed after $tx_count committed transactions"
  echo "aggregate /metrics: nodus_ledger_tx_committed_total = $committed"

  step "the profile's alerts and dashboard name only exported metrics"
  exported=$(curl -sf "127.0.0.1:$(host_port 9002)/metrics" | grep -v '^#' |
    sed -E 's/[{ ].*//; s/_(bucket|sum|count)$//' | sort -u)
  for file in containers/prometheus/aurigraph-alerts.yml \
    containers/grafana/aurigraph-dashboard.json; do
    used=$(grep -oE '\bnodus_[a-z0-9_]+' "$file" | sed -E 's/_(bucket|sum|count)$//' | sort -u)
    while read -r metric; do
      grep -qx "$metric" <<<"$exported" ||
        fail "$file uses $metric, which the container does not export"
    done <<<"$used"
  done
  echo "every nodus_* metric of aurigraph-alerts.yml and aurigraph-dashboard.json is exported"
else
  echo "--- (io.nodus.app.ledger not in $build or not in $profile: transactions skipped)"
fi

step "logs under /var/log/nodus"
logs=$("${podman[@]}" exec "$name" /bin/ls /var/log/nodus)
grep -q '^supervisor.log$' <<<"$logs" || fail "no supervisor.log in /var/log/nodus: $logs"
grep -q '^aurigraph-0.log$' <<<"$logs" || fail "no aurigraph-0.log in /var/log/nodus: $logs"

step "podman stop"
start=$(date +%s%N)
"${podman[@]}" stop -t 30 "$name" >/dev/null 2>&1
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
code=$("${podman[@]}" inspect -f '{{.State.ExitCode}}' "$name")
[ "$code" = 0 ] || fail "PID 1 exited with $code"
[ "$elapsed_ms" -lt 30000 ] || fail "stop took ${elapsed_ms} ms: PID 1 was killed, not stopped"
echo "stopped in ${elapsed_ms} ms, exit 0"

step "AURIGRAPH_* mapping, read-only root file system (as in containers/k8s)"
# The run directory is a fresh volume here, as the emptyDir in containers/k8s is.
current=$small
"${podman[@]}" run -d --name "$small" --network=none --read-only -v /run/nodus \
  -e AURIGRAPH_NODE_COUNT=2 \
  -e AURIGRAPH_MEMORY_PER_NODE=1024M -e AURIGRAPH_CPU_PER_NODE=1 "$image" >/dev/null ||
  fail "podman run (2 instances)"
small_ready() {
  "${podman[@]}" exec "$small" /usr/bin/nodus status 2>&1 | grep -c ' ready ' || true
}
for _ in $(seq 1 150); do
  running "$small" || fail "the container exited"
  [ "$(small_ready)" = 2 ] && break
  sleep 0.2
done
[ "$(small_ready)" = 2 ] || fail "AURIGRAPH_NODE_COUNT=2 did not give 2 ready instances"
small_logs=$("${podman[@]}" exec "$small" /bin/ls /var/log/nodus)
grep -q '^aurigraph-1.log$' <<<"$small_logs" || fail "read-only root: no logs in /var/log/nodus"
"${podman[@]}" stop -t 30 "$small" >/dev/null 2>&1
set +e
current=$name
refusal=$("${podman[@]}" run --rm --network=none -e AURIGRAPH_BASE_GRPC_PORT=9999 "$image" 2>&1)
refused=$?
set -e
if [ "$refused" != 2 ] || ! grep -q 'AURIGRAPH_BASE_GRPC_PORT must be' <<<"$refusal"; then
  fail "a bad AURIGRAPH_BASE_GRPC_PORT was not refused (exit $refused: $refusal)"
fi
echo "AURIGRAPH_NODE_COUNT=2: 2 ready instances on a read-only root;" \
  "a bad gRPC base is refused (exit 2)"

echo "aurigraph container test passed (ledger transactions: $([ $has_ledger = 1 ] && echo checked ||
  echo skipped))"
