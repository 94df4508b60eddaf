#!/usr/bin/env bash
# Opt-in container lane (not part of scripts/test.sh): `nodus up` as PID 1 in a podman
# container. Goals: the supervisor brings its instances up inside the container; a process
# orphaned inside the container is reparented to PID 1 and reaped when it dies; SIGTERM to
# PID 1 (podman stop) stops everything within stop_timeout_ms, with exit code 0.
#   tests/container/pid1_podman.sh [BUILD_DIR]      (default build/release)
# Needs root, podman and runc (scripts/test-containers.sh installs them and runs this).
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build/release}
export CONTAINERS_CONF=$PWD/containers/podman/containers.conf
podman=(podman --runtime runc --cgroup-manager=cgroupfs)
work=$(mktemp -d /tmp/nodus-pid1.XXXXXX)
name=nodus-pid1-$$
image=localhost/nodus-pid1:test
cleanup() {
  "${podman[@]}" rm -f "$name" >/dev/null 2>&1 || true
  "${podman[@]}" rmi -f "$image" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; "${podman[@]}" logs "$name" 2>&1 | tail -30 >&2 || true; exit 1; }

base=$(python3 -c 'import socket
for b in range(23000, 60000, 101):
    ok = True
    for p in range(b, b + 20):
        s = socket.socket()
        try: s.bind(("127.0.0.1", p))
        except OSError: ok = False
        s.close()
    if ok: print(b); break')
cat > "$work/profile.yaml" <<YAML
profile: pid1
instances: 2
ports: {base: $base, stride: 10, offsets: {health: 0, peer: 1}}
data_dir: /var/lib/nodus
run_dir: /run/nodus
supervisor: {restart: on-failure, stop_timeout_ms: 5000, heartbeat_ms: 200}
plugins:
  - name: io.nodus.diag.peerping
    config: {interval_ms: 200}
YAML
containers/podman/stage-image.sh "$build" "$work/root" "$work/profile.yaml"
"${podman[@]}" build -q -t "$image" -f "$work/root/Containerfile" "$work/root" >/dev/null \
  || fail "podman build"
"${podman[@]}" run -d --name "$name" --network=host "$image" >/dev/null || fail "podman run"

status() { "${podman[@]}" exec "$name" /usr/bin/nodus status --run-dir /run/nodus 2>&1; }
for _ in $(seq 1 100); do
  [ "$(status | grep -c ' ready ')" = 2 ] && break
  sleep 0.2
done
[ "$(status | grep -c ' ready ')" = 2 ] || fail "instances not ready: $(status)"
init=$("${podman[@]}" inspect -f '{{.State.Pid}}' "$name")
[ "$(cat /proc/$init/comm)" = nodus ] || fail "PID 1 of the container is not nodus"

# Orphan a sleep inside the container: its shell exits at once, so PID 1 inherits it.
"${podman[@]}" exec "$name" /bin/sh -c '/bin/sleep 300 >/dev/null 2>&1 & exit 0'
orphan=""
for _ in $(seq 1 50); do
  for child in $(cat /proc/$init/task/$init/children); do
    [ "$(cat /proc/$child/comm 2>/dev/null)" = sleep ] && orphan=$child
  done
  [ -n "$orphan" ] && break
  sleep 0.1
done
[ -n "$orphan" ] || fail "the orphaned sleep was not reparented to PID 1"
kill -9 "$orphan"
for _ in $(seq 1 50); do [ -e "/proc/$orphan" ] || break; sleep 0.1; done
[ -e "/proc/$orphan" ] && fail "orphan $orphan was not reaped (state: $(awk '/State/ {print $2}' /proc/$orphan/status))"

# SIGTERM to PID 1; podman would SIGKILL after 20 s, the profile's stop bound is 5 s.
start=$(date +%s%N)
"${podman[@]}" stop -t 20 "$name" >/dev/null
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
code=$("${podman[@]}" inspect -f '{{.State.ExitCode}}' "$name")
[ "$code" = 0 ] || fail "PID 1 exited with $code"
[ "$elapsed_ms" -lt 20000 ] || fail "stop took ${elapsed_ms} ms: PID 1 was killed, not stopped"
echo "pid1 container test passed (orphan reaped; SIGTERM stop in ${elapsed_ms} ms, exit 0)"
