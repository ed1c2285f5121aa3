#!/usr/bin/env bash
# Starts a local Redis Cluster on loopback: 3 primaries and 3 replicas (127.0.0.1:7001-7006), from
# the Debian redis-server binary, for the cluster tests and for trying REDIS_CLUSTER_NODES locally.
# Idempotent: a cluster that already answers "cluster_state:ok" is left alone; servers that are
# down are started again (a test that killed a primary leaves its replica promoted and the old
# primary rejoining as a replica).
#   SUGANG_REDIS_CLUSTER_DIR   where the nodes' files live (default: $TMPDIR/sugang-redis-cluster)
#   SUGANG_REDIS_CLUSTER_PORT  the first port (default 7001; the cluster uses six from there)
#   stop                       as the first argument, stops every node and forgets the cluster
set -euo pipefail

base=${SUGANG_REDIS_CLUSTER_DIR:-${TMPDIR:-/tmp}/sugang-redis-cluster}
first=${SUGANG_REDIS_CLUSTER_PORT:-7001}
ports=$(seq "$first" $((first + 5)))
answers() { redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null | grep -q PONG; }
state_ok() { redis-cli -h 127.0.0.1 -p "$1" cluster info 2>/dev/null | grep -q 'cluster_state:ok'; }

if [ "${1:-}" = stop ]; then
  for port in $ports; do redis-cli -h 127.0.0.1 -p "$port" shutdown nosave >/dev/null 2>&1 || true; done
  rm -rf "$base"
  exit 0
fi

start() {
  local port=$1 dir="$base/$1"
  answers "$port" && return 0
  mkdir -p "$dir"
  # No persistence: the queue's truth is MySQL, and a node restarted empty is one of the faults
  # the tests inject. A short node timeout makes a failover take a couple of seconds, not 15.
  redis-server --daemonize yes --bind 127.0.0.1 --port "$port" --dir "$dir" \
    --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 2000 \
    --cluster-require-full-coverage no \
    --save '' --appendonly no --logfile "$dir/redis.log" --pidfile "$dir/redis.pid"
  for _ in $(seq 1 50); do answers "$port" && return 0; sleep 0.1; done
  echo "redis-cluster-up: node $port did not start; see $dir/redis.log" >&2
  exit 1
}

for port in $ports; do start "$port"; done

if ! state_ok "$first"; then
  known=$(redis-cli -h 127.0.0.1 -p "$first" cluster info | sed -n 's/^cluster_known_nodes:\([0-9]*\).*/\1/p')
  if [ "${known:-1}" -le 1 ]; then
    nodes=$(for port in $ports; do printf '127.0.0.1:%s ' "$port"; done)
    # shellcheck disable=SC2086 # a list of addresses
    redis-cli --cluster create $nodes --cluster-replicas 1 --cluster-yes >"$base/create.log" 2>&1 || {
      cat "$base/create.log" >&2
      exit 1
    }
  fi
fi
for _ in $(seq 1 100); do
  ok=1
  for port in $ports; do state_ok "$port" || ok=0; done
  # Every primary has its replica (a failover test needs one to promote).
  replicas=$(redis-cli -h 127.0.0.1 -p "$first" cluster nodes 2>/dev/null | awk '$3 ~ /slave/ && $8 == "connected"' | wc -l)
  [ "$replicas" -ge 3 ] || ok=0
  [ "$ok" = 1 ] && break
  sleep 0.1
done
[ "$ok" = 1 ] || { echo "redis-cluster-up: the cluster did not reach state ok" >&2; exit 1; }
echo "redis cluster 127.0.0.1:$first-$((first + 5)) (3 primaries, 3 replicas)"
