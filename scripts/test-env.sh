#!/usr/bin/env bash
# What the full test suite needs besides Node, named before any test runs:
#   scripts/test-env.sh check   one line per missing need, with the command that provides it
#   scripts/test-env.sh up      as root on Debian: installs what is missing (apt-get), starts what
#                               is installed but down (MariaDB, Redis, the replica pair, the
#                               Redis Cluster), then checks
# Exit 0 when everything is there, 1 otherwise. `npm test` runs `up` first; `npm run test:fast`
# needs none of this.
#   TEST_MYSQL_URL  the shared MariaDB (default mysql://root@127.0.0.1:3306)
#   TEST_REDIS_URL  the shared Redis (default redis://127.0.0.1:6379)
#   CHROMIUM_PATH   the browser for the page test (default /usr/bin/chromium)
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-check}
case "$mode" in
  check | up) ;;
  *)
    echo "usage: scripts/test-env.sh [check|up]" >&2
    exit 2
    ;;
esac

mysql_url=${TEST_MYSQL_URL:-mysql://root@127.0.0.1:3306}
redis_url=${TEST_REDIS_URL:-redis://127.0.0.1:6379}
# mysql://user[:password]@host[:port]: enough of a URL parser for a test server on loopback.
mysql_rest=${mysql_url#mysql://}
mysql_userinfo=${mysql_rest%%@*}
mysql_hostport=${mysql_rest#*@}
mysql_hostport=${mysql_hostport%%/*}
mysql_user=${mysql_userinfo%%:*}
mysql_password=''
[ "$mysql_userinfo" != "$mysql_user" ] && mysql_password=${mysql_userinfo#*:}
mysql_host=${mysql_hostport%%:*}
mysql_port=3306
[ "$mysql_hostport" != "$mysql_host" ] && mysql_port=${mysql_hostport#*:}
redis_hostport=${redis_url#redis://}
redis_hostport=${redis_hostport%%/*}
redis_host=${redis_hostport%%:*}
redis_port=6379
[ "$redis_hostport" != "$redis_host" ] && redis_port=${redis_hostport#*:}
chromium=${CHROMIUM_PATH:-/usr/bin/chromium}
is_default_mysql=$([ "$mysql_host:$mysql_port" = 127.0.0.1:3306 ] && echo 1 || echo 0)
is_default_redis=$([ "$redis_host:$redis_port" = 127.0.0.1:6379 ] && echo 1 || echo 0)

has() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }
mysql_answers() {
  MYSQL_PWD=$mysql_password mariadb --protocol=tcp -h"$mysql_host" -P"$mysql_port" \
    -u"$mysql_user" -e 'SELECT 1' >/dev/null 2>&1
}
redis_answers() { redis-cli -h "$redis_host" -p "$redis_port" ping 2>/dev/null | grep -q PONG; }
cluster_answers() { redis-cli -p 7001 cluster info 2>/dev/null | grep -q 'cluster_state:ok'; }
replica_answers() {
  mariadb --protocol=tcp -h127.0.0.1 -P"${SUGANG_REPLICA_PORT:-3308}" -uroot -e 'SELECT 1' \
    >/dev/null 2>&1
}
terraform_ok() {
  has terraform || return 1
  local version
  version=$(terraform version 2>/dev/null) || return 1
  version=${version%%$'\n'*}
  version=${version#Terraform v}
  printf '%s\n1.11.0\n' "$version" | sort -V -C -r
}

# Each need: a name, the test that says it is there, the Debian packages that provide it (empty
# when none do), and what to do when no package does or it is installed but not running.
needs=(
  "mariadb|has mariadbd && has mariadb-install-db && has mariadb|mariadb-server mariadb-client|"
  "redis|has redis-server && has redis-cli|redis-server|"
  "chromium|[ -x '$chromium' ]|chromium|"
  "haproxy|has haproxy|haproxy|"
  "openssl|has openssl|openssl|"
  "promtool|has promtool && has prometheus|prometheus|"
  "amtool|has amtool && has prometheus-alertmanager|prometheus-alertmanager|"
  "node_exporter|has prometheus-node-exporter|prometheus-node-exporter|"
  "redis_exporter|has prometheus-redis-exporter|prometheus-redis-exporter|"
  "mysqld_exporter|has prometheus-mysqld-exporter|prometheus-mysqld-exporter|"
  "terraform|terraform_ok|| install Terraform >= 1.11 from HashiCorp (its apt repository or release zip)"
)
servers=(
  "MariaDB on $mysql_host:$mysql_port|mysql_answers|start it: start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd (or: service mariadb start)"
  "Redis on $redis_host:$redis_port|redis_answers|start it: redis-server --daemonize yes --bind 127.0.0.1 --port $redis_port --save '' --appendonly no"
  "MariaDB replica pair on 127.0.0.1:3307/3308|replica_answers|start it: bash scripts/mariadb-replica-up.sh"
  "Redis Cluster on 127.0.0.1:7001-7006|cluster_answers|start it: bash scripts/redis-cluster-up.sh"
)

missing_packages() {
  local entry name test packages
  for entry in "${needs[@]}"; do
    IFS='|' read -r name test packages _ <<<"$entry"
    if [ -n "$packages" ] && ! eval "$test"; then printf '%s ' $packages; fi
  done
}

start_servers() {
  if [ "$is_default_mysql" = 1 ] && has mariadbd && ! mysql_answers; then
    echo "test-env: starting MariaDB"
    mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld 2>/dev/null || true
    start-stop-daemon --start --oknodo --background --exec "$(command -v mariadbd || echo /usr/sbin/mariadbd)"
    for _ in $(seq 1 150); do mysql_answers && break; sleep 0.2; done
  fi
  if [ "$is_default_redis" = 1 ] && has redis-server && ! redis_answers; then
    echo "test-env: starting Redis"
    mkdir -p /var/lib/redis /var/log/redis
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/ci.log
    for _ in $(seq 1 50); do redis_answers && break; sleep 0.2; done
  fi
  if has mariadbd && ! replica_answers; then
    echo "test-env: starting the MariaDB replica pair"
    bash scripts/mariadb-replica-up.sh
  fi
  if has redis-server && ! cluster_answers; then
    echo "test-env: starting the Redis Cluster"
    bash scripts/redis-cluster-up.sh
  fi
}

if [ "$mode" = up ]; then
  packages=$(missing_packages)
  if [ -n "$packages" ] && [ "$(id -u)" = 0 ] && has apt-get; then
    echo "test-env: installing $packages"
    apt-get update -qq
    # shellcheck disable=SC2086 # a list of package names
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $packages >/dev/null
  fi
  if [ "$(id -u)" = 0 ]; then start_servers; fi
fi

# The check: one line per missing need, each with the command that provides it.
problems=0
sudo_prefix=$([ "$(id -u)" = 0 ] && echo '' || echo 'sudo ')
for entry in "${needs[@]}"; do
  IFS='|' read -r name test packages hint <<<"$entry"
  if ! eval "$test"; then
    problems=$((problems + 1))
    if [ -n "$packages" ]; then
      echo "missing: $name; install it: ${sudo_prefix}apt-get install -y $packages" >&2
    else
      echo "missing: $name;$hint" >&2
    fi
  fi
done
for entry in "${servers[@]}"; do
  IFS='|' read -r name test hint <<<"$entry"
  if ! eval "$test"; then
    problems=$((problems + 1))
    echo "not answering: $name; ${sudo_prefix:+as root, }$hint" >&2
  fi
done
if [ "$problems" -gt 0 ]; then
  echo "test-env: $problems missing; as root on Debian, 'bash scripts/test-env.sh up' installs and starts them all" >&2
  exit 1
fi
echo "test-env: MariaDB, Redis, the replica pair, the Redis Cluster, Chromium, HAProxy, Prometheus tools and Terraform are ready"
