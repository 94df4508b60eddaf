#!/usr/bin/env bash
# Goal: `cmake --install` produces a usable SDK: the out-of-tree example plugin builds against
# the installed package, its unit tests pass, and the installed `nodus` loads and runs it.
# Usage: install_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build_dir=$1
source_dir=$2
work=$(mktemp -d /tmp/nodus-install-test.XXXXXX)
node_pid=""
cleanup() {
  [ -n "$node_pid" ] && kill -9 "$node_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; [ -f "$work/node.log" ] && cat "$work/node.log" >&2; exit 1; }

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

# An SDK-only prefix answers find_package(nodus) and refuses the harness component.
mkdir -p "$work/probe"
cat >"$work/probe/CMakeLists.txt" <<'PROBE'
cmake_minimum_required(VERSION 3.25)
project(nodus_probe LANGUAGES CXX)
find_package(nodus 0.1 REQUIRED)
if(NOT TARGET nodus::sdk OR NOT TARGET nodus::testing OR TARGET nodus::harness)
  message(FATAL_ERROR "find_package(nodus): expected nodus::sdk and nodus::testing only")
endif()
find_package(nodus 0.1 QUIET COMPONENTS harness)
if(nodus_FOUND)
  message(FATAL_ERROR "find_package(nodus COMPONENTS harness) found a harness that is not installed")
endif()
PROBE
cmake -S "$work/probe" -B "$work/probe-build" -G Ninja -DCMAKE_PREFIX_PATH="$sdk_prefix" \
  >"$work/probe.log" 2>&1 || { cat "$work/probe.log"; fail "find_package against the sdk component"; }

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
base=$(python3 -c 'import socket
for b in range(21000, 60000, 97):
    ok = True
    for p in (b, b + 1):
        s = socket.socket()
        try: s.bind(("127.0.0.1", p))
        except OSError: ok = False
        s.close()
    if ok: print(b); break')
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
echo "install test passed"
