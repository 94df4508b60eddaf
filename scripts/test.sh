#!/usr/bin/env bash
# The test suite, as CI runs it: set-up, formatting check, then build and test the dev preset
# and the asan-ubsan preset. Every test must run; none is skipped silently.
#   scripts/test.sh            # everything (what CI runs)
#   scripts/test.sh --quick    # dev preset only
set -euo pipefail
cd "$(dirname "$0")/.."
quick=0
[[ "${1:-}" == "--quick" ]] && quick=1

scripts/setup.sh
scripts/check-format.sh

presets=(dev)
((quick)) || presets+=(asan-ubsan)
for preset in "${presets[@]}"; do
  echo "=== build: $preset"
  scripts/build.sh "$preset"
  echo "=== test: $preset"
  ctest --preset "$preset" --no-tests=error
done
