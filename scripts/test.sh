#!/usr/bin/env bash
# The test suite, as CI runs it: set-up, formatting check, then build and test
#   - dev         the whole suite (Debug, -O1);
#   - asan-ubsan  the whole suite under AddressSanitizer + UndefinedBehaviorSanitizer;
#   - release     the whole suite on the optimised build that users run (NDEBUG: the
#                 invariants that must hold there are NODUS_CHECKs, not asserts);
#   - tsan        the concurrency-heavy suites under ThreadSanitizer (executor, event bus,
#                 storage and append log, transport, supervisor, Raft driver).
# Every test must run; none is skipped silently.
#   scripts/test.sh            # everything (what CI runs)
#   scripts/test.sh --quick    # dev preset only
set -euo pipefail
cd "$(dirname "$0")/.."
quick=0
[[ "${1:-}" == "--quick" ]] && quick=1

scripts/setup.sh
scripts/check-format.sh

presets=(dev)
((quick)) || presets+=(asan-ubsan release)
for preset in "${presets[@]}"; do
  echo "=== build: $preset"
  scripts/build.sh "$preset"
  echo "=== test: $preset"
  ctest --preset "$preset" --no-tests=error
done

if ((!quick)); then
  # ThreadSanitizer builds only the suites listed in cmake/NodusTesting.cmake (the whole tree
  # would double CI's time) and runs the cases labelled "tsan".
  echo "=== build: tsan (the suites of NODUS_TSAN_SUITES)"
  scripts/build.sh tsan tsan_suites
  echo "=== test: tsan"
  ctest --preset tsan --no-tests=error -L tsan
fi
