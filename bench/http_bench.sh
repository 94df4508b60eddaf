#!/usr/bin/env bash
# Plugin HTTP server benchmark (nodus/services/http.h), side by side with nginx in one run.
#   bench/http_bench.sh [BUILD_DIR] [SECONDS] [ROUNDS]
# A node serves a trivial JSON route of a plugin (tests/plugins/http_test_plugin.cc, GET /hello
# on its "api" port; the handler runs on the instance's executor); nginx (one worker) serves a
# static file of the same size. Both servers are pinned to CPU 0 (the node's server thread
# and executor share it, so both figures are per core), wrk (-t1 -c32, keep-alive) to CPU 1.
# Rounds alternate A B A B; the medians and their ratio are printed. Needs wrk and nginx-light
# (scripts/setup.sh installs them).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/release}
secs=${2:-5}
rounds=${3:-3}
for tool in wrk nginx taskset python3; do
  command -v "$tool" >/dev/null || { echo "http_bench: $tool is missing (scripts/setup.sh)" >&2; exit 2; }
done
plugin_dir="$build/test-plugins/http"
[[ -f "$plugin_dir/libnodus_test_http_a.so" ]] ||
  cmake --build "$build" -j2 --target nodus nodus_test_http_a

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_ports() {  # N consecutive free TCP ports on 127.0.0.1; prints the first
  python3 - "$1" <<'PY'
import socket, sys
n = int(sys.argv[1])
for base in range(20000, 60000, 17):
    socks = []
    try:
        for p in range(base, base + n):
            s = socket.socket(); s.bind(("127.0.0.1", p)); socks.append(s)
        print(base); break
    except OSError:
        pass
    finally:
        for s in socks: s.close()
PY
}

base=$(free_ports 3)
node_port=$((base + 1))
nginx_port=$((base + 2))

cat >"$work/profile.yaml" <<YAML
profile: httpbench
instances: 1
bind: 127.0.0.1
ports: {base: $base, stride: 10, offsets: {health: 0, api: 1}}
data_dir: $work/data
plugin_dirs: [$(realpath "$plugin_dir")]
log: {level: warn}
plugins:
  - name: io.nodus.test.http-a
    config: {port: api, path: /hello}
YAML
taskset -c 0 "$build/bin/nodus" node --profile "$work/profile.yaml" --instance 0 \
  >"$work/node.log" 2>&1 &
pids+=($!)

# The same bytes as the node's answer, so both send equal bodies.
for _ in $(seq 100); do
  curl -s "http://127.0.0.1:$node_port/hello" -o "$work/hello.json" && break
  sleep 0.1
done
[[ -s "$work/hello.json" ]] || { echo "http_bench: node did not answer" >&2; cat "$work/node.log" >&2; exit 1; }
mkdir -p "$work/www"
cp "$work/hello.json" "$work/www/hello"
cat >"$work/nginx.conf" <<NGINX
daemon off;
master_process off;
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx.err warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $work/tmp; proxy_temp_path $work/tmp; fastcgi_temp_path $work/tmp;
  uwsgi_temp_path $work/tmp; scgi_temp_path $work/tmp;
  server {
    listen 127.0.0.1:$nginx_port;
    location = /hello { root $work/www; default_type application/json; }
  }
}
NGINX
mkdir -p "$work/tmp"
taskset -c 0 nginx -c "$work/nginx.conf" -p "$work" &
pids+=($!)
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$nginx_port/hello" -o /dev/null && break; sleep 0.1; done
cmp -s <(curl -s "http://127.0.0.1:$nginx_port/hello") "$work/hello.json" ||
  { echo "http_bench: nginx does not serve the node's answer" >&2; exit 1; }

run_wrk() {  # URL -> "requests_per_s p99_ms"
  taskset -c 1 wrk -t1 -c32 -d"${secs}s" --latency "$1" | awk '
    /Requests\/sec:/ { rps = $2 }
    / 99%/ { v = $2; if (v ~ /us$/) { sub(/us$/, "", v); v /= 1000 } else if (v ~ /ms$/) { sub(/ms$/, "", v) } else if (v ~ /s$/) { sub(/s$/, "", v); v *= 1000 } p99 = v }
    END { printf "%d %.3f\n", rps, p99 }'
}

declare -a node_rps node_p99 nginx_rps nginx_p99
echo "round  nodus_rps  nodus_p99_ms  nginx_rps  nginx_p99_ms"
for r in $(seq "$rounds"); do
  read -r a ap < <(run_wrk "http://127.0.0.1:$node_port/hello")
  read -r b bp < <(run_wrk "http://127.0.0.1:$nginx_port/hello")
  node_rps+=("$a"); node_p99+=("$ap"); nginx_rps+=("$b"); nginx_p99+=("$bp")
  printf "%5d  %9d  %12s  %9d  %12s\n" "$r" "$a" "$ap" "$b" "$bp"
done
median() { printf "%s\n" "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
mn=$(median "${node_rps[@]}"); mx=$(median "${nginx_rps[@]}")
echo "median: nodus $mn req/s (p99 $(median "${node_p99[@]}") ms), nginx $mx req/s" \
  "(p99 $(median "${nginx_p99[@]}") ms), ratio $(awk -v a="$mn" -v b="$mx" 'BEGIN { printf "%.2f", a / b }')"
