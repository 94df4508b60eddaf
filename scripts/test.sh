#!/usr/bin/env bash
# The test suite, as CI runs it: set-up, formatting check, clang-tidy on the change (see
# below), then build and test
#   - dev         the whole suite (Debug, -O1);
#   - asan-ubsan  the whole suite under AddressSanitizer + UndefinedBehaviorSanitizer;
#   - release     the simulation, Raft, ledger, storage, loader and supervisor suites on the
#                 optimised build that users run (NDEBUG is set there);
#   - tsan        the concurrency-heavy suites under ThreadSanitizer;
#   - fuzz        the libFuzzer targets (clang), each fuzzed for NODUS_FUZZ_RUN_SECONDS (10)
#                 from its committed corpus.
# clang-tidy over the whole tree takes far longer than the ~5 minutes CI can give it on two
# cores, so CI checks the sources changed since the merge base with main (NODUS_TIDY_BASE to
# choose another base; on main itself, the last commit); `scripts/tidy.sh --all` checks all.
# Findings are reported, not yet fatal: `scripts/tidy.sh --all` has not been shown clean on the
# whole tree (a run did not finish on this machine), and failing a change for findings it did
# not bring would teach people to ignore the step. NODUS_TIDY_STRICT=1 makes them fatal; that
# becomes the default once an `--all` run is clean.
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

tidy_base=${NODUS_TIDY_BASE:-}
if [[ -z "$tidy_base" ]]; then
  for ref in main origin/main; do
    git rev-parse -q --verify "$ref^{commit}" >/dev/null && { tidy_base=$ref; break; }
  done
fi
tidy_args=(--all)
if [[ -n "$tidy_base" ]]; then
  [[ "$(git merge-base "$tidy_base" HEAD)" == "$(git rev-parse HEAD)" ]] && tidy_base=HEAD~1
  tidy_args=(--changed "$tidy_base")
fi
echo "=== tidy: ${tidy_args[*]}"
if ! scripts/tidy.sh "${tidy_args[@]}"; then
  [[ "${NODUS_TIDY_STRICT:-0}" == 1 ]] && exit 1
  echo "=== tidy: the findings above are not fatal yet (NODUS_TIDY_STRICT=1 makes them so)"
fi

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

  # Only the fuzz targets: the rest of the tree is covered by the lanes above, and building it
  # all again with clang would double CI time.
  echo "=== build: fuzz (target nodus_fuzzers)"
  scripts/build.sh fuzz nodus_fuzzers
  echo "=== test: fuzz (each target for NODUS_FUZZ_RUN_SECONDS)"
  ctest --test-dir build/fuzz --output-on-failure --no-tests=error -L '^fuzz-run$'
fi
