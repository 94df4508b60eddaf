#!/usr/bin/env bash
# Opt-in container lane: installs podman, runc and busybox (Debian packages), builds the
# release preset and runs the container tests in tests/container/ (PID 1, then the aurigraph
# image end to end). Not part of scripts/test.sh: it needs root and a host where podman can
# run (see docs/containers.md).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
missing=()
for p in podman runc uidmap busybox-static; do
  [[ $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null) == "install ok installed" ]] || missing+=("$p")
done
if ((${#missing[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
scripts/build.sh release
tests/container/pid1_podman.sh build/release
tests/container/aurigraph_podman.sh build/release
