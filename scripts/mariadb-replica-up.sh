#!/usr/bin/env bash
# Starts a MariaDB primary with binary logging (127.0.0.1:3307) and a replica of it
# (127.0.0.1:3308), each with its own datadir, for the read/write-split tests and for trying
# DATABASE_REPLICA_URL locally. Idempotent: servers already answering are left alone.
#   SUGANG_DB_DIR  where the datadirs live (default: $TMPDIR/sugang-mariadb)
#   stop           as the first argument, stops both servers
set -euo pipefail

base=${SUGANG_DB_DIR:-${TMPDIR:-/tmp}/sugang-mariadb}
primary_port=${SUGANG_PRIMARY_PORT:-3307}
replica_port=${SUGANG_REPLICA_PORT:-3308}
sql() { mariadb --protocol=tcp -h127.0.0.1 -P"$1" -uroot -N -e "$2"; }
answers() { sql "$1" 'SELECT 1' >/dev/null 2>&1; }

if [ "${1:-}" = stop ]; then
  for name in replica primary; do
    pid_file="$base/$name/mariadbd.pid"
    [ -f "$pid_file" ] && kill "$(cat "$pid_file")" 2>/dev/null || true
  done
  exit 0
fi

start() {
  local name=$1 port=$2 id=$3
  shift 3
  local dir="$base/$name"
  if answers "$port"; then return 0; fi
  mkdir -p "$dir"
  if [ ! -d "$dir/data/mysql" ]; then
    mariadb-install-db --no-defaults --user=root --datadir="$dir/data" \
      --auth-root-authentication-method=normal --skip-test-db >"$dir/install.log" 2>&1
  fi
  setsid mariadbd --no-defaults --user=root --datadir="$dir/data" --port="$port" \
    --bind-address=127.0.0.1 --socket="$dir/mariadbd.sock" --pid-file="$dir/mariadbd.pid" \
    --log-error="$dir/error.log" --server-id="$id" --innodb-buffer-pool-size=64M "$@" \
    </dev/null >/dev/null 2>&1 &
  for _ in $(seq 1 100); do
    answers "$port" && return 0
    sleep 0.2
  done
  echo "mariadb $name did not start on port $port; see $dir/error.log" >&2
  tail -20 "$dir/error.log" >&2 || true
  return 1
}

start primary "$primary_port" 1 --log-bin="$base/primary/binlog" --binlog-format=ROW
start replica "$replica_port" 2 --relay-log="$base/replica/relay" --read-only=1

running=$(sql "$replica_port" "SHOW SLAVE STATUS" | wc -l)
if [ "$running" = 0 ]; then
  sql "$replica_port" "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=$primary_port,
    MASTER_USER='root', MASTER_PASSWORD='', MASTER_USE_GTID=slave_pos; START SLAVE;"
else
  sql "$replica_port" "START SLAVE" >/dev/null 2>&1 || true
fi

for _ in $(seq 1 50); do
  state=$(mariadb --protocol=tcp -h127.0.0.1 -P"$replica_port" -uroot -e "SHOW SLAVE STATUS\G" | grep -E 'Slave_(IO|SQL)_Running:' | grep -c Yes || true)
  [ "$state" = 2 ] && { echo "mariadb primary 127.0.0.1:$primary_port, replica 127.0.0.1:$replica_port"; exit 0; }
  sleep 0.2
done
echo "replication did not start:" >&2
mariadb --protocol=tcp -h127.0.0.1 -P"$replica_port" -uroot -e "SHOW SLAVE STATUS\G" >&2
exit 1
