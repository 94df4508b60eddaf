#!/usr/bin/env bash
# Makes docs/plugins.md from the descriptors of the built plugins, or checks that the committed
# page is what they describe. Run by the build (target plugin_catalog) and by CTest
# (plugin_catalog_current); the arguments come from plugins/CMakeLists.txt.
#
#   scripts/plugin-catalog.sh --write|--check NODUS_BINARY PAGE PLUGIN_DIR PLUGIN_FILE...
#
# PLUGIN_FILE... are the plugins the build put into PLUGIN_DIR. Each must load and appear on
# the page, and the page may list no file besides them (a stale .so left in the directory).
set -euo pipefail
mode=${1:-}
if [[ $# -lt 5 || ($mode != --write && $mode != --check) ]]; then
  echo "usage: $0 --write|--check NODUS_BINARY PAGE PLUGIN_DIR PLUGIN_FILE..." >&2
  exit 2
fi
nodus=$2 page=$3 plugin_dir=$4
shift 4
regenerate="cmake --build --preset dev --target plugin_catalog"

generated=$(mktemp)
trap 'rm -f "$generated"' EXIT
# Only the plugin directory of this build: no profile, no extra directories from the caller.
if ! env -u NODUS_PLUGIN_DIRS -u NODUS_PLUGIN_DIR -u NODUS_PROFILE \
  "$nodus" plugins list -o markdown --plugin-dir "$plugin_dir" >"$generated"; then
  echo "plugin-catalog: '$nodus plugins list -o markdown' failed: a plugin in $plugin_dir" \
    "does not load (see the warnings above)" >&2
  exit 1
fi

failed=0
expected=()
for file in "$@"; do
  name=$(basename "$file")
  expected+=("$name")
  if [[ ! -f $file ]]; then
    echo "plugin-catalog: $file is not built; build every plugin first" >&2
    failed=1
  elif ! grep -qxF -- "- file: \`$name\`" "$generated"; then
    echo "plugin-catalog: $name was built but is missing from the catalogue" >&2
    failed=1
  fi
done
while IFS= read -r listed; do
  if [[ ! " ${expected[*]} " == *" $listed "* ]]; then
    echo "plugin-catalog: $plugin_dir/$listed is not built by any plugin target (a stale" \
      "file?); remove it" >&2
    failed=1
  fi
done < <(sed -n 's/^- file: `\(.*\)`$/\1/p' "$generated")
((failed == 0)) || exit 1

if [[ $mode == --write ]]; then
  cat "$generated" >"$page"  # keeps the mode of an existing page (mktemp makes 0600)
  echo "plugin-catalog: wrote $page ($# plugins)"
  exit 0
fi
if ! diff -u --label "$page (committed)" --label "$page (from the built plugins)" \
  "$page" "$generated"; then
  echo "plugin-catalog: $page is out of date with the plugins' descriptors; regenerate it" \
    "with: $regenerate" >&2
  exit 1
fi
echo "plugin-catalog: $page lists all $# plugins as they describe themselves"
