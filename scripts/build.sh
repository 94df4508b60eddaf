#!/usr/bin/env bash
# Configures and builds one CMake preset (default: dev), or only the named targets of it.
# Uses ccache when present.
#   scripts/build.sh [preset [target...]]
set -euo pipefail
cd "$(dirname "$0")/.."
preset=${1:-dev}
shift || true
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake --preset "$preset" "${launcher[@]}" >/dev/null
targets=()
(($#)) && targets=(--target "$@")
cmake --build --preset "$preset" "${targets[@]}"
