#!/usr/bin/env bash
# Installs everything nodus needs to build, test and run on Debian 12. Idempotent: when every
# package is already installed it does nothing (no apt-get update, no network).
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake ninja-build ccache pkg-config git clang-format python3 curl
  # scripts/tidy.sh; the fuzz preset (clang with the libFuzzer and sanitizer runtimes)
  clang-tidy clang libclang-rt-dev
  # libraries (see ../shared/ENVIRONMENT.md for the CMake targets they provide)
  libboost-dev libboost-filesystem-dev libboost-program-options-dev
  libprotobuf-dev protobuf-compiler libgrpc++-dev protobuf-compiler-grpc
  prometheus-cpp-dev libzmq3-dev cppzmq-dev libyaml-cpp-dev libssl-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  # real peers and tools for integration tests: prometheus (with promtool) scrapes
  # tests/metrics; openssl makes the CA and certificates of the mTLS test; util-linux gives
  # unshare/nsenter for the PID 1 test
  prometheus openssl util-linux
  # supervisor tests: stress-ng loads both cores (a busy instance is not restarted), strace
  # records the supervisor's kill/wait4 calls (it never signals a reaped pid)
  stress-ng strace
  # containers/ checks: python3-yaml reads the compose file and rendered manifests
  python3-yaml
  # the replicated-write anchor of bench/aurigraph_bench.sh: a 3-member etcd on loopback
  etcd-server etcd-client
  # Hosts (profile `hosts:`): tests/multihost makes network namespaces, veth pairs and a bridge
  iproute2
  # HTTP server (nodus/services/http.h): bench/http_bench.sh drives it with wrk, side by side
  # with nginx returning a static file
  wrk nginx-light
)
# kubectl renders containers/k8s offline (`kubectl kustomize`). Debian 12 has no kubectl
# package; it comes from the Kubernetes (or Google Cloud SDK) apt repository, so it is
# installed only when a configured apt source offers it, and its test is skipped otherwise.
optional_packages=(kubectl)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
optional_missing=()
for p in "${optional_packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || optional_missing+=("$p")
done

if ((${#missing[@]} == 0 && ${#optional_missing[@]} == 0)); then
  echo "setup: all ${#packages[@]} packages present"
  exit 0
fi

sudo=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "setup: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# Optional packages are asked for only when an apt source offers them (after the update).
for p in "${optional_missing[@]}"; do
  if [[ -n "$(apt-cache policy "$p" 2>/dev/null | awk '/Candidate:/ && $2 != "(none)"')" ]]; then
    missing+=("$p")
  else
    echo "setup: $p is not offered by any apt source; the checks that need it are skipped"
  fi
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
echo "setup: done"
