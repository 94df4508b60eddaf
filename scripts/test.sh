#!/usr/bin/env bash
# The test suite, as CI runs it: set-up, formatting check, then build and test
#   - dev         the whole suite (Debug, -O1);
#   - asan-ubsan  the whole suite under AddressSanitizer + UndefinedBehaviorSanitizer;
#   - release     the simulation, Raft, ledger, storage, loader and supervisor suites on the
#                 optimised build that users run (NDEBUG is set there);
#   - tsan        the concurrency-heavy suites under ThreadSanitizer.
# The suites of the last two lanes are listed in cmake/NodusTesting.cmake. Every test must run;
# none is skipped silently.
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

if ((!quick)); then
  for lane in release tsan; do
    echo "=== build: $lane (the suites of NODUS_${lane^^}_SUITES)"
    scripts/build.sh "$lane" "${lane}_suites"
    echo "=== test: $lane"
    ctest --preset "$lane" --no-tests=error -L "(^|-)${lane}(-|\$)"
  done
fi
