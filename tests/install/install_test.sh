#!/usr/bin/env bash
# Goal: `cmake --install` produces a usable SDK: find_package(nodus) of the sdk component looks
# for nothing but what its headers need, the out-of-tree example plugins build against the
# installed package (in the install's build type and in another), their unit tests pass, and
# the installed `nodus` loads and runs them: hello in one node, beacon in a 2-instance cluster
# whose instances hear each other's datagrams, serve them over HTTP, and answer an operator
# command from the installed CLI.
# Usage: install_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build_dir=$1
source_dir=$2
work=$(mktemp -d /tmp/nodus-install-test.XXXXXX)
node_pid=""
up_pid=""
cleanup() {
  [ -n "$node_pid" ] && kill -9 "$node_pid" 2>/dev/null || true
  if [ -n "$up_pid" ]; then
    # The supervisor stops its instances on SIGTERM; SIGKILL if it does not exit in 10 s.
    kill -TERM "$up_pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$up_pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$up_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  for log in "$work/node.log" "$work/up.log"; do [ -f "$log" ] && cat "$log" >&2; done
  exit 1
}
# Prints the first base port B such that B .. B+count-1 are free for TCP and UDP on loopback.
free_ports() {
  python3 - "$1" <<'PY'
import socket, sys
count = int(sys.argv[1])
def free(port):
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        s = socket.socket(socket.AF_INET, kind)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        finally:
            s.close()
    return True
for base in range(21000, 60000, 97):
    if all(free(p) for p in range(base, base + count)):
        print(base)
        break
PY
}

prefix=$work/prefix
cmake --install "$build_dir" --prefix "$prefix" >"$work/install.log" || fail "cmake --install"
[ -x "$prefix/bin/nodus" ] || fail "no installed nodus"
[ -f "$prefix/include/nodus/plugin.h" ] || fail "no installed SDK headers"
[ -f "$prefix/lib/cmake/nodus/nodusConfig.cmake" ] || fail "no CMake package"
ls "$prefix"/lib/nodus/plugins/libnodus_*.so >/dev/null || fail "no installed plugins"

# The "sdk" component alone is an SDK without kernel code: nodus::sdk and nodus::testing, and
# none of the kernel libraries that nodus::harness is built on.
sdk_prefix=$work/sdk-prefix
cmake --install "$build_dir" --prefix "$sdk_prefix" --component sdk >"$work/install-sdk.log" \
  || fail "cmake --install --component sdk"
[ -f "$sdk_prefix/include/nodus/testing/manual_executor.h" ] || fail "sdk component: no fakes"
[ -f "$sdk_prefix/lib/nodus/static/libnodus_testing.a" ] || fail "sdk component: no nodus::testing"
[ ! -e "$sdk_prefix/include/nodus/harness" ] || fail "sdk component ships the harness headers"
[ ! -e "$sdk_prefix/lib/cmake/nodus/nodusHarnessTargets.cmake" ] || fail "sdk component exports the harness"
for lib in harness host loader config runtime; do
  [ ! -e "$sdk_prefix/lib/nodus/static/libnodus_$lib.a" ] || fail "sdk component ships libnodus_$lib.a"
done
# ... and the full install has the harness component beside it.
[ -f "$prefix/include/nodus/harness/test_node.h" ] || fail "no installed harness headers"
[ -f "$prefix/lib/cmake/nodus/nodusHarnessTargets.cmake" ] || fail "harness component not exported"

# An SDK-only prefix answers find_package(nodus), refuses the harness component, and builds a
# plugin (the beacon example's source) and a program on nodus::testing. It must do so without
# looking for any package the SDK's headers do not need: those are disabled here, so the
# configure fails if nodusConfig.cmake asks for one, and no warning (gRPC's about c-ares) may
# appear. The probe's build type differs from the install's, and its
# CMAKE_MAP_IMPORTED_CONFIG_RELWITHDEBINFO names only its own, so it links only through the
# mapping nodusConfig.cmake adds.
mkdir -p "$work/probe"
cp "$source_dir/examples/beacon-plugin/beacon.cc" "$work/probe/"
cat >"$work/probe/probe.cc" <<'PROBE'
#include <nodus/nodus.h>
#include <nodus/testing/manual_executor.h>
int main() {
  nodus::testing::ManualExecutor exec;
  bool ran = false;
  exec.post([&ran] { ran = true; });
  exec.run_until_idle();
  return ran && nodus::json_quote("a\"b") == "\"a\\\"b\"" ? 0 : 1;
}
PROBE
cat >"$work/probe/CMakeLists.txt" <<'PROBE'
cmake_minimum_required(VERSION 3.25)
project(nodus_probe LANGUAGES CXX)
set(CMAKE_CXX_STANDARD 20)
find_package(nodus 0.1 REQUIRED)
if(NOT TARGET nodus::sdk OR NOT TARGET nodus::testing OR TARGET nodus::harness)
  message(FATAL_ERROR "find_package(nodus): expected nodus::sdk and nodus::testing only")
endif()
find_package(nodus 0.1 QUIET COMPONENTS harness)
if(nodus_FOUND)
  message(FATAL_ERROR "find_package(nodus COMPONENTS harness) found a harness that is not installed")
endif()
nodus_add_plugin(probe_plugin SOURCES beacon.cc)
add_executable(probe probe.cc)
target_link_libraries(probe PRIVATE nodus::testing)
PROBE
probe_disabled=()
for pkg in gRPC Protobuf c-ares yaml-cpp OpenSSL absl ZLIB GTest; do
  probe_disabled+=("-DCMAKE_DISABLE_FIND_PACKAGE_$pkg=ON")
done
# (--no-warn-unused-cli: the disabled packages are unused when nothing looks for them.)
cmake -S "$work/probe" -B "$work/probe-build" -G Ninja --no-warn-unused-cli \
  -DCMAKE_PREFIX_PATH="$sdk_prefix" "${probe_disabled[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_MAP_IMPORTED_CONFIG_RELWITHDEBINFO=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS="${NODUS_EXAMPLE_CXX_FLAGS:-}" \
  -DCMAKE_EXE_LINKER_FLAGS="${NODUS_EXAMPLE_LINKER_FLAGS:-}" \
  -DCMAKE_MODULE_LINKER_FLAGS="${NODUS_EXAMPLE_LINKER_FLAGS:-}" >"$work/probe.log" 2>&1 \
  || { cat "$work/probe.log"; fail "find_package against the sdk component"; }
if grep -qiE "c-ares|CMake Warning" "$work/probe.log"; then
  cat "$work/probe.log"
  fail "find_package(nodus) of the sdk component printed a warning"
fi
cmake --build "$work/probe-build" >"$work/probe-build.log" 2>&1 \
  || { cat "$work/probe-build.log"; fail "build a plugin and a program against the sdk component"; }
"$work/probe-build/probe" || fail "a program on the sdk component's nodus::testing"
[ -f "$work/probe-build/plugins/libprobe_plugin.so" ] || fail "nodus_add_plugin made no libprobe_plugin.so"

# Build the example with nothing from the source tree but its own folder. It links
# nodus::harness by its exported name, so it fails to configure without that component.
cp -r "$source_dir/examples/hello-plugin" "$work/hello-src"
cmake -S "$work/hello-src" -B "$work/hello" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS="${NODUS_EXAMPLE_CXX_FLAGS:-}" \
  -DCMAKE_EXE_LINKER_FLAGS="${NODUS_EXAMPLE_LINKER_FLAGS:-}" \
  -DCMAKE_MODULE_LINKER_FLAGS="${NODUS_EXAMPLE_LINKER_FLAGS:-}" >"$work/configure.log" 2>&1 \
  || { cat "$work/configure.log"; fail "configure example"; }
cmake --build "$work/hello" -j2 >"$work/build.log" 2>&1 || { cat "$work/build.log"; fail "build example"; }
ctest --test-dir "$work/hello" --output-on-failure || fail "example unit tests"

plugin=$work/hello/plugins/libnodus_example_hello.so
"$prefix/bin/nodus" plugins inspect "$plugin" | grep -q "name:         io.example.hello" \
  || fail "installed nodus cannot inspect the example plugin"

# Run it: a one-instance cluster of the example profile, on free ports.
base=$(free_ports 2)
"$prefix/bin/nodus" node --profile "$work/hello-src/hello.yaml" --instance 0 --instances 1 \
  --ports-base "$base" --data-dir "$work/data" --plugin-dir "$work/hello/plugins" \
  >"$work/node.log" 2>&1 &
node_pid=$!
for _ in $(seq 1 200); do
  curl -fsS "http://127.0.0.1:$base/readyz" >/dev/null 2>&1 && break
  sleep 0.05
done
curl -fsS "http://127.0.0.1:$base/status" | grep -q '"name":"io.example.hello"' \
  || fail "installed nodus did not load the example plugin"
grep -q "hello plugin started greeting=hej" "$work/node.log" || fail "plugin did not start"
kill -TERM "$node_pid"
wait "$node_pid" || fail "node did not exit cleanly"
node_pid=""

# The beacon example (datagrams, an HTTP route, an operator command), built in another build
# type than the install's (Release against the dev preset's Debug), which its unit tests link
# through the configuration mapping of nodusConfig.cmake.
cp -r "$source_dir/examples/beacon-plugin" "$work/beacon-src"
cmake -S "$work/beacon-src" -B "$work/beacon" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS="${NODUS_EXAMPLE_CXX_FLAGS:-}" \
  -DCMAKE_EXE_LINKER_FLAGS="${NODUS_EXAMPLE_LINKER_FLAGS:-}" \
  -DCMAKE_MODULE_LINKER_FLAGS="${NODUS_EXAMPLE_LINKER_FLAGS:-}" >"$work/beacon-configure.log" 2>&1 \
  || { cat "$work/beacon-configure.log"; fail "configure the beacon example"; }
# The harness component does not need gRPC either, so gRPC's c-ares warning cannot appear.
if grep -qi "c-ares" "$work/beacon-configure.log"; then
  cat "$work/beacon-configure.log"
  fail "find_package(nodus COMPONENTS harness) looked for gRPC"
fi
cmake --build "$work/beacon" -j2 >"$work/beacon-build.log" 2>&1 \
  || { cat "$work/beacon-build.log"; fail "build the beacon example"; }
ctest --test-dir "$work/beacon" --output-on-failure || fail "beacon example unit tests"

# Run it for real: the installed `nodus up` supervises two instances of its profile. Instance i
# has health, peer, beacon (UDP) and api at base + 10i + 0, 1, 2, 3.
bbase=$(free_ports 14)
run_dir=$work/beacon-run
"$prefix/bin/nodus" up --profile "$work/beacon-src/beacon.yaml" --ports-base "$bbase" \
  --data-dir "$work/beacon-data" --run-dir "$run_dir" --plugin-dir "$work/beacon/plugins" \
  >"$work/up.log" 2>&1 &
up_pid=$!
# True once instance $1's GET /v1/beacons says it heard at least two beacons of the other.
heard_other() {
  curl -fsS "http://127.0.0.1:$((bbase + 10 * $1 + 3))/v1/beacons" 2>/dev/null | python3 -c '
import json, sys
me = int(sys.argv[1])
doc = json.load(sys.stdin)
heard = doc["heard"].get(str(1 - me), {}).get("beacons", 0)
sys.exit(0 if doc["instance"] == me and heard >= 2 else 1)' "$1"
}
for i in 0 1; do
  for _ in $(seq 1 300); do heard_other "$i" && break; sleep 0.1; done
  heard_other "$i" || fail "beacon instance $i did not report the other's datagrams over HTTP"
done

# The plugin's command, from the installed CLI through the supervisor: its help, a reset on
# every instance (each forgets the two or more beacons it heard from its one peer), and a
# typed argument that the kernel refuses before the plugin sees it.
usage=$("$prefix/bin/nodus" beacon-reset --help --run-dir "$run_dir") \
  || fail "nodus beacon-reset --help"
grep -qF "usage: nodus beacon-reset [--peer int]" <<<"$usage" \
  && grep -qF "Forget the beacons heard so far" <<<"$usage" \
  || fail "nodus beacon-reset --help printed: $usage"
reset=$("$prefix/bin/nodus" beacon-reset --run-dir "$run_dir") || fail "nodus beacon-reset: $reset"
for i in 0 1; do
  grep -qE "^instance $i: forgot ([2-9]|[1-9][0-9]+) beacons from 1 peer$" <<<"$reset" \
    || fail "nodus beacon-reset printed: $reset"
done
if bad=$("$prefix/bin/nodus" beacon-reset --peer one --instance 0 --run-dir "$run_dir" 2>&1); then
  fail "nodus beacon-reset accepted --peer one: $bad"
fi
grep -qF "argument --peer 'one' is not a decimal integer" <<<"$bad" \
  || fail "nodus beacon-reset --peer one printed: $bad"

"$prefix/bin/nodus" down --run-dir "$run_dir" >/dev/null || fail "nodus down"
wait "$up_pid" || fail "nodus up did not exit cleanly"
up_pid=""
echo "install test passed"
