#!/bin/sh
# Entry point of the aurigraph image: maps the Aurigraph design's AURIGRAPH_* variables onto
# nodus's own settings, then replaces itself with the supervisor (exec), so that `nodus up`
# is PID 1 and receives the runtime's SIGTERM directly.
#
#   AURIGRAPH_NODE_COUNT       -> NODUS_INSTANCES (the profile is sized for 4..8)
#   AURIGRAPH_BASE_HTTP_PORT   -> NODUS_PORTS_BASE (instance i serves HTTP on base + 10*i)
#   AURIGRAPH_BASE_GRPC_PORT   must be AURIGRAPH_BASE_HTTP_PORT + 1 (the profile's layout)
#   AURIGRAPH_CPU_PER_NODE     -> isolation plugin cpus_per_instance
#   AURIGRAPH_MEMORY_PER_NODE  -> isolation plugin memory_max and memory_high (1024M, 1G, 1GiB)
#
#   AURIGRAPH_LOG_DIR          where <run dir>/logs points (default /var/log/nodus): the
#                              supervisor writes its and the instances' logs there
#
# A NODUS_* variable that is already set wins over its AURIGRAPH_* counterpart. Arguments
# given to the container are passed on to `nodus up`.
set -eu

die() {
  echo "aurigraph-entrypoint: $*" >&2
  exit 2
}

is_uint() {
  case "$1" in '' | *[!0-9]*) return 1 ;; *) return 0 ;; esac
}

if [ -n "${AURIGRAPH_NODE_COUNT:-}" ] && [ -z "${NODUS_INSTANCES:-}" ]; then
  is_uint "$AURIGRAPH_NODE_COUNT" ||
    die "AURIGRAPH_NODE_COUNT must be a number, got '$AURIGRAPH_NODE_COUNT'"
  export NODUS_INSTANCES="$AURIGRAPH_NODE_COUNT"
fi

if [ -n "${AURIGRAPH_BASE_HTTP_PORT:-}" ] && [ -z "${NODUS_PORTS_BASE:-}" ]; then
  is_uint "$AURIGRAPH_BASE_HTTP_PORT" || die "AURIGRAPH_BASE_HTTP_PORT must be a number"
  export NODUS_PORTS_BASE="$AURIGRAPH_BASE_HTTP_PORT"
fi

# gRPC sits at a fixed offset from HTTP in the profile; a different value cannot be honoured,
# so it is refused rather than silently ignored.
if [ -n "${AURIGRAPH_BASE_GRPC_PORT:-}" ]; then
  is_uint "$AURIGRAPH_BASE_GRPC_PORT" || die "AURIGRAPH_BASE_GRPC_PORT must be a number"
  http="${NODUS_PORTS_BASE:-9003}"
  [ "$AURIGRAPH_BASE_GRPC_PORT" -eq $((http + 1)) ] ||
    die "AURIGRAPH_BASE_GRPC_PORT must be the HTTP base + 1 ($((http + 1))," \
      "got $AURIGRAPH_BASE_GRPC_PORT)"
fi

# The supervisor writes logs to <run dir>/logs. The run directory may be a fresh tmpfs or
# emptyDir (a read-only root file system), so the link to the log volume is made here.
run_dir="${NODUS_RUN_DIR:-/run/nodus}"
log_dir="${AURIGRAPH_LOG_DIR:-/var/log/nodus}"
mkdir -p "$run_dir" "$log_dir" || die "cannot create $run_dir and $log_dir"
[ -e "$run_dir/logs" ] || [ -L "$run_dir/logs" ] || ln -s "$log_dir" "$run_dir/logs" ||
  die "cannot link $run_dir/logs to $log_dir"

# The --set flags go before the container's own arguments, which therefore win.
isolation=io.nodus.isolation.linux
if [ -n "${AURIGRAPH_CPU_PER_NODE:-}" ]; then
  is_uint "$AURIGRAPH_CPU_PER_NODE" || die "AURIGRAPH_CPU_PER_NODE must be a number"
  set -- --set "plugins.$isolation.config.cpus_per_instance=$AURIGRAPH_CPU_PER_NODE" "$@"
fi
if [ -n "${AURIGRAPH_MEMORY_PER_NODE:-}" ]; then
  # Docker-style sizes (1024M, 1G) are binary units; nodus spells them MiB and GiB.
  case "$AURIGRAPH_MEMORY_PER_NODE" in
    *[0-9]K | *[0-9]k) memory="${AURIGRAPH_MEMORY_PER_NODE%?}KiB" ;;
    *[0-9]M | *[0-9]m) memory="${AURIGRAPH_MEMORY_PER_NODE%?}MiB" ;;
    *[0-9]G | *[0-9]g) memory="${AURIGRAPH_MEMORY_PER_NODE%?}GiB" ;;
    *) memory="$AURIGRAPH_MEMORY_PER_NODE" ;;
  esac
  set -- --set "plugins.$isolation.config.memory_max=$memory" \
    --set "plugins.$isolation.config.memory_high=$memory" "$@"
fi

# The Prometheus plugin (bind_address) and the ledger's HTTP and gRPC servers (bind) listen on
# their own address, 127.0.0.1 by default, not on the profile's bind; in a container they must
# follow NODUS_BIND to be reachable from outside. A --set for a plugin that the profile does
# not list is an error, so each is given only when the profile lists the plugin.
profile="${NODUS_PROFILE:-/etc/nodus/aurigraph.yaml}"
lists() {
  grep -Eq "^[[:space:]]*-[[:space:]]*name:[[:space:]]*$1[[:space:]]*(#.*)?\$" "$profile" 2>/dev/null
}
if [ -n "${NODUS_BIND:-}" ]; then
  if lists 'io\.nodus\.metrics\.prometheus'; then
    set -- --set "plugins.io.nodus.metrics.prometheus.config.bind_address=$NODUS_BIND" "$@"
  fi
  if lists 'io\.nodus\.app\.ledger'; then
    set -- --set "plugins.io.nodus.app.ledger.config.bind=$NODUS_BIND" "$@"
  fi
fi

exec /usr/bin/nodus up --profile "$profile" "$@"
