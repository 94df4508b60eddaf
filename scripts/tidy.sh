#!/usr/bin/env bash
# Runs clang-tidy with the checks that .clang-tidy names over the dev build's compile
# database (build/dev/compile_commands.json); any finding fails.
#   scripts/tidy.sh --all              # every C++ source of the repository in the database
#   scripts/tidy.sh --changed BASE     # the sources the change touches since the merge base
#                                      # with BASE (committed and uncommitted); a changed header
#                                      # brings in the .cc beside it, whose check covers it
# Configures the dev preset and generates the protobuf code first (target nodus_generated),
# since sources include the generated headers. Runs two clang-tidy processes at a time.
set -euo pipefail
cd "$(dirname "$0")/.."
usage() { echo "usage: scripts/tidy.sh --all | --changed BASE" >&2; exit 2; }
mode=${1:-}
case "$mode" in
  --all) ;;
  --changed) base=${2:-}; [[ -n "$base" ]] || usage ;;
  *) usage ;;
esac
command -v clang-tidy >/dev/null || { echo "tidy: clang-tidy missing (scripts/setup.sh)" >&2; exit 1; }

scripts/build.sh dev nodus_generated >/dev/null
db=build/dev/compile_commands.json
[[ -f "$db" ]] || { echo "tidy: $db missing" >&2; exit 1; }

# Sources in the database that are ours (tracked, not generated), relative to the checkout.
mapfile -t in_db < <(python3 - "$db" "$PWD" <<'PY'
import json, os, sys
root = sys.argv[2]
for entry in json.load(open(sys.argv[1])):
    path = os.path.normpath(os.path.join(entry["directory"], entry["file"]))
    if path.startswith(root + "/") and "/build/" not in path[len(root):]:
        print(os.path.relpath(path, root))
PY
)
declare -A known=()
for f in "${in_db[@]}"; do known[$f]=1; done

files=()
if [[ "$mode" == "--all" ]]; then
  files=("${!known[@]}")
else
  merge_base=$(git merge-base "$base" HEAD)
  mapfile -t changed < <(git diff --name-only --diff-filter=d "$merge_base" -- '*.cc' '*.h')
  declare -A picked=()
  for f in "${changed[@]}"; do
    [[ "$f" == *.h ]] && f="${f%.h}.cc"
    [[ -n "${known[$f]:-}" ]] && picked[$f]=1
  done
  files=("${!picked[@]}")
fi
if ((${#files[@]} == 0)); then
  echo "tidy: no sources to check"
  exit 0
fi
mapfile -t files < <(printf '%s\n' "${files[@]}" | sort)
echo "tidy: checking ${#files[@]} sources"
# -Wno-unknown-warning-option: the database holds GCC's command lines.
if printf '%s\0' "${files[@]}" | xargs -0 -n 1 -P 2 clang-tidy -p build/dev --quiet \
    --warnings-as-errors='*' --extra-arg=-Wno-unknown-warning-option 2>/dev/null; then
  echo "tidy: ${#files[@]} sources clean"
else
  echo "tidy: findings above (checks: .clang-tidy)" >&2
  exit 1
fi
