#!/usr/bin/env bash
# Configures and builds one CMake preset (default: dev), or only the named targets of it.
# Uses ccache when present.
#   scripts/build.sh [preset [target...]]
set -euo pipefail
cd "$(dirname "$0")/.."
preset=${1:-dev}
shift || true
launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  # Paths inside the checkout are hashed relative to it, so a second clone or worktree (CI
  # clones afresh) reuses what another one compiled.
  export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$PWD}" CCACHE_NOHASHDIR="${CCACHE_NOHASHDIR:-1}"
fi
cmake --preset "$preset" "${launcher[@]}" >/dev/null
targets=()
(($#)) && targets=(--target "$@")
cmake --build --preset "$preset" "${targets[@]}"
