#!/usr/bin/env bash
# A 3-host Raft + ledger cluster, one instance per network namespace (profile `hosts:` with the
# same ports on every host), elects a leader and commits; cutting one namespace's link leaves
# it behind while the other two keep committing, and it catches up when the link returns.
#
#   netns_raft_test.sh NODUS_BINARY PLUGIN_DIR
#
# Topology: namespaces <id>-a, -b, -c at 10.231.0.1-3/24, each with a veth whose other end is
# enslaved to a bridge in namespace <id>-br. Everything is made here and removed on any exit.
set -euo pipefail

nodus=${1:?usage: netns_raft_test.sh NODUS_BINARY PLUGIN_DIR}
plugin_dir=${2:?usage: netns_raft_test.sh NODUS_BINARY PLUGIN_DIR}
id="nodus-mh-$$"
hosts=(a b c)
work=$(mktemp -d "${TMPDIR:-/tmp}/nodus-multihost.XXXXXX")
pids=()

fail() {
  echo "FAIL: $*" >&2
  [[ -n ${last_read:-} ]] && echo "last read: $last_read" >&2
  for h in "${hosts[@]}"; do
    [[ -f "$work/node-$h.log" ]] && { echo "--- node $h (last 30 lines)" >&2; tail -n 30 "$work/node-$h.log" >&2; }
  done
  exit 1
}

cleanup() {
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  for ns in "${hosts[@]/#/$id-}" "$id-br"; do ip netns del "$ns" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# A run killed outright (SIGKILL on a ctest timeout) cannot clean up: remove what such a run
# left behind, recognised by a test pid that no longer exists.
for ns in $(ip netns list 2>/dev/null | awk '/^nodus-mh-[0-9]+-/ {print $1}'); do
  owner=${ns#nodus-mh-}
  owner=${owner%%-*}
  kill -0 "$owner" 2>/dev/null && continue
  ip netns pids "$ns" 2>/dev/null | xargs -r kill -KILL 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
done

for plugin in libnodus_consensus_raft.so libnodus_app_ledger.so; do
  [[ -f "$plugin_dir/$plugin" ]] || fail "$plugin_dir/$plugin is not built"
done
[[ -x "$nodus" ]] || fail "$nodus is not executable"
command -v ip >/dev/null || fail "iproute2 ('ip') is missing: run scripts/setup.sh"

# ---- the network: a bridge namespace and one namespace per host -----------------------------
ip netns add "$id-br" || fail "cannot create network namespaces (this test needs root)"
ip -n "$id-br" link add br0 type bridge || fail "cannot create a bridge"
ip -n "$id-br" link set br0 up
n=0
for h in "${hosts[@]}"; do
  n=$((n + 1))
  ns="$id-$h"
  ip netns add "$ns" || fail "cannot create namespace $ns"
  ip link add "mh$$$h" type veth peer name "mhb$$$h" || fail "cannot create a veth pair"
  ip link set "mh$$$h" netns "$ns" name eth0
  ip link set "mhb$$$h" netns "$id-br"
  ip -n "$id-br" link set "mhb$$$h" master br0 up
  ip -n "$ns" addr add "10.231.0.$n/24" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$ns" link set lo up
done

# ---- the profile: same ports on every host ---------------------------------------------------
cat >"$work/profile.yaml" <<YAML
profile: multihost
instances: 3
ports: {base: 18180, stride: 10, offsets: {http: 0, grpc: 1, metrics: 2, peer: 3, health: 4}}
hosts:
  - {name: a, address: 10.231.0.1}
  - {name: b, address: 10.231.0.2}
  - {name: c, address: 10.231.0.3}
data_dir: $work/data
run_dir: $work/run
plugin_dirs: [$plugin_dir]
plugins:
  - name: io.nodus.consensus.raft
    config: {fsync: batch}
  - name: io.nodus.app.ledger
    config: {bind: 0.0.0.0}
YAML
"$nodus" config validate --profile "$work/profile.yaml" >/dev/null ||
  fail "the profile does not validate"

i=0
for h in "${hosts[@]}"; do
  ip netns exec "$id-$h" "$nodus" node --profile "$work/profile.yaml" --instance "$i" \
    >"$work/node-$h.log" 2>&1 &
  pids+=($!)
  i=$((i + 1))
done

# ---- helpers ---------------------------------------------------------------------------------
addr() { case $1 in a) echo 10.231.0.1 ;; b) echo 10.231.0.2 ;; c) echo 10.231.0.3 ;; esac; }
http() { # http HOST PATH [curl args...]: from inside HOST's namespace to its own ledger
  local h=$1 path=$2
  shift 2
  ip netns exec "$id-$h" curl -s --max-time 2 "$@" "http://$(addr "$h"):18180$path" || true
}
# The host that leads according to any of the given hosts, or "".
leader_among() {
  local h
  for h in "$@"; do
    local body
    body=$(http "$h" /v1/leader)
    if [[ $body == *'"known":true'* && $body == *'"self":true'* ]]; then
      echo "$h"
      return
    fi
  done
}
wait_leader() { # wait_leader HOSTS...
  local deadline=$((SECONDS + 20)) l
  while ((SECONDS < deadline)); do
    l=$(leader_among "$@")
    [[ -n $l ]] && { echo "$l"; return; }
    sleep 0.2
  done
}
seq_no=0
put() { # put KEY: commit a put of KEY through the leader among the remaining args
  local key=$1 b64 leader body
  shift
  b64=$(printf '%s' "$key" | base64)
  local deadline=$((SECONDS + 15))
  while ((SECONDS < deadline)); do
    leader=$(leader_among "$@")
    if [[ -n $leader ]]; then
      seq_no=$((seq_no + 1))
      body=$(http "$leader" /v1/tx -XPOST -d \
        "{\"client_id\":\"mh\",\"seq\":$seq_no,\"put\":{\"key\":\"$b64\",\"value\":\"$b64\"}}")
      [[ $body == *'"TX_OK"'* ]] && return 0
    fi
    sleep 0.2
  done
  return 1
}
last_read=""
has_key() { # has_key HOST KEY: HOST applied KEY (a local read)
  last_read=$(http "$1" "/v1/kv/$2")  # the key itself in the path; base64 only in JSON
  [[ $last_read == *'"found":true'* ]]
}
wait_key() { # wait_key HOST KEY SECONDS
  local deadline=$((SECONDS + $3))
  while ((SECONDS < deadline)); do
    has_key "$1" "$2" && return 0
    sleep 0.2
  done
  return 1
}

# ---- 1. elect and commit across the three hosts ----------------------------------------------
leader=$(wait_leader a b c)
[[ -n $leader ]] || fail "no leader within 20 s"
echo "leader: $leader"
for k in k01 k02 k03; do put "$k" a b c || fail "put $k did not commit"; done
for h in "${hosts[@]}"; do wait_key "$h" k03 10 || fail "host $h did not apply k03"; done

# ---- 2. cut host c's link: a and b keep committing, c does not see it ------------------------
ip -n "$id-br" link set "mhb$$c" down
leader=$(wait_leader a b)
[[ -n $leader ]] || fail "hosts a and b elected no leader after c was cut off"
for k in k04 k05 k06; do put "$k" a b || fail "put $k did not commit without host c"; done
for h in a b; do wait_key "$h" k06 10 || fail "host $h did not apply k06"; done
sleep 1
has_key c k04 && fail "host c applied k04 while it was cut off"

# ---- 3. restore the link: c catches up -------------------------------------------------------
ip -n "$id-br" link set "mhb$$c" up
wait_key c k06 20 || fail "host c did not catch up (k06) after its link returned"
put k07 a b c || fail "put k07 did not commit after the link returned"
for h in "${hosts[@]}"; do wait_key "$h" k07 10 || fail "host $h did not apply k07"; done
echo "PASS: 3 hosts elected $leader, committed, partitioned host c and caught it up"
