#!/usr/bin/env bash
# Supervisor benchmark, side by side with supervisord in one run (see BENCHMARKS.md).
#   bench/supervisor_bench.sh [BUILD_DIR] [extra supervisor_benchmark flags]
# Installs the anchor (Debian package `supervisor`) when it is missing; tests never do this.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/release}
shift || true
if ! command -v supervisord >/dev/null; then
  sudo=""
  [[ $(id -u) -ne 0 ]] && sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends supervisor
fi
cmake --build "$build" -j2 --target nodus supervisor_benchmark nodus_bench_p0
exec "$build/bin/supervisor_benchmark" --nodus "$build/bin/nodus" \
  --plugin-dir "$build/bench-plugins" --supervisord "$(command -v supervisord)" "$@"
