// The exporters through which the monitoring host's Prometheus sees Redis and MySQL, and the
// target writer that tells Prometheus where they are. Prometheus reads the targets with file_sd
// (jobs `redis` and `mysql` of monitoring/prometheus/prometheus.yml).

import { REDIS_PORT } from './app-user-data.js'

/** Exporter ports on the monitoring host, bound to 127.0.0.1 like everything else there. */
export const EXPORTER_PORTS = { redis: 9121, mysqlPrimary: 9104, mysqlReplica: 9105 } as const

/**
 * The MySQL user of the mysqld exporters. It has no password: the host signs an IAM
 * authentication token for it (`rds-db:connect`), valid 15 minutes, every minute.
 */
export const MONITORING_DATABASE_USER = 'sugang_monitor'

/**
 * The clause that makes RDS check an IAM authentication token instead of a password. MariaDB,
 * which the tests run the statements against, has no such plugin: they swap this clause alone.
 */
export const IAM_AUTHENTICATION = "IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS'"

/**
 * What the exporters' user may do: PROCESS (InnoDB's information_schema tables, the process
 * list), REPLICATION CLIENT (the replica's status), SELECT on performance_schema, and nothing on
 * the sugang schema. TLS only, and a few connections at most (each exporter opens two per scrape).
 * Run once on the primary, as the master (infra/README.md); the replica gets the user by
 * replication. Idempotent.
 */
export function monitoringDatabaseUserSql(user: string = MONITORING_DATABASE_USER): string {
  if (!/^[a-z][a-z0-9_]{0,31}$/.test(user)) throw new Error(`"${user}" is not a MySQL user name`)
  const account = `'${user}'@'%'`
  return [
    `CREATE USER IF NOT EXISTS ${account} ${IAM_AUTHENTICATION} REQUIRE SSL WITH MAX_USER_CONNECTIONS 5;`,
    `GRANT PROCESS, REPLICATION CLIENT ON *.* TO ${account};`,
    `GRANT SELECT ON performance_schema.* TO ${account};`,
  ].join('\n')
}

/** Where the target writer reads and writes on the host; the tests point it elsewhere. */
export interface MonitoringTargetsPaths {
  /** Mounted into Prometheus at /etc/prometheus/targets: redis.json and mysql.json. */
  readonly targets: string
  /** The Redis AUTH token as Secrets Manager holds it, root only (sugang-monitoring-config). */
  readonly redisToken: string
  /** Mounted into the Redis exporter: passwords.json, its password file. */
  readonly redisExporter: string
  /** Mounted into the MySQL exporters: primary.cnf, replica.cnf and the RDS CA bundle. */
  readonly mysqldExporter: string
}

export const MONITORING_TARGETS_PATHS: MonitoringTargetsPaths = {
  targets: '/etc/sugang-monitoring/prometheus-targets',
  redisToken: '/etc/sugang-monitoring/redis/auth-token',
  redisExporter: '/etc/sugang-monitoring/redis-exporter',
  mysqldExporter: '/etc/sugang-monitoring/mysqld-exporter',
}

/** Users the exporter images run as; their credential files belong to these groups. */
export const EXPORTER_GROUPS = { redis: 59000, mysqld: 65534 } as const

/** Where the MySQL exporters see their directory (MonitoringTargetsPaths.mysqldExporter). */
export const MYSQLD_EXPORTER_MOUNT = '/etc/mysqld-exporter'
/** Where the Redis exporter sees its directory (MonitoringTargetsPaths.redisExporter). */
export const REDIS_EXPORTER_MOUNT = '/run/secrets/redis'

export interface MonitoringTargetsProps {
  readonly region: string
  readonly replicationGroupId: string
  readonly primaryHost: string
  /** Empty without a read replica: then neither its target nor its credentials are written. */
  readonly replicaHost: string
  readonly paths?: MonitoringTargetsPaths
  /** The groups owning the exporters' credential files (the tests use their own). */
  readonly groups?: { readonly redis: number; readonly mysqld: number }
}

/**
 * The target writer, run every minute by a systemd timer and at boot. It
 *
 * - lists every node of the replication group (`describe-replication-groups`; with cluster mode
 *   AWS reports neither a member's address nor its role there, so the address comes from
 *   `describe-cache-clusters` and the role from the node itself, through the exporter), and
 *   writes redis.json, one target per node, `rediss://<address>:6379` labelled `node` (cache
 *   cluster id), `shard` (node group id) and `role` (primary|replica; `unknown` until the node
 *   has answered once), and the Redis exporter's password file, keyed by the same addresses;
 * - signs an IAM authentication token for the primary and the replica, writes each exporter's
 *   my.cnf with it and has the exporter reload it; tokens live 15 minutes, so a few failed runs
 *   cost nothing;
 * - writes mysql.json: the primary's exporter labelled `instance: primary`, the replica's
 *   `instance: replica`.
 *
 * Every file is written beside its final name and moved over it, so Prometheus and the exporters
 * never read half a file; a part that fails leaves its files as they were and the run fails.
 * Terraform interpolates the user data this ends up in: no `$` or `%` before a brace below.
 */
export function monitoringTargetsScript(p: MonitoringTargetsProps): string {
  const paths = p.paths ?? MONITORING_TARGETS_PATHS
  const groups = p.groups ?? EXPORTER_GROUPS
  return `#!/bin/bash
set -uo pipefail
REGION='${p.region}'
REPLICATION_GROUP='${p.replicationGroupId}'
PRIMARY_HOST='${p.primaryHost}'
REPLICA_HOST='${p.replicaHost}'
TARGETS='${paths.targets}'
REDIS_TOKEN='${paths.redisToken}'
REDIS_EXPORTER='${paths.redisExporter}'
MYSQLD_EXPORTER='${paths.mysqldExporter}'
REDIS_GROUP=${groups.redis}
MYSQLD_GROUP=${groups.mysqld}

work=$(mktemp -d) || exit 1
trap 'rm -rf "$work"' EXIT

# A new file beside <file>, readable by <group> only when one is given: mktemp makes it 0600.
new_file() {
  local tmp
  tmp=$(mktemp "$(dirname "$1")/.$(basename "$1").XXXXXX") || return 1
  if [ -n "$2" ]; then
    chgrp "$2" "$tmp" && chmod 0640 "$tmp"
  else
    chmod 0644 "$tmp"
  fi || { rm -f "$tmp"; return 1; }
  echo "$tmp"
}

# Moves <new> over <file>; answers whether the content changed.
replace() {
  if cmp -s "$1" "$2"; then
    rm -f "$1"
    return 1
  fi
  mv "$1" "$2"
}

# Asks an exporter on this host to read its credentials again; it may not be running yet, and
# reads them when it starts.
reload() {
  curl -fsS --max-time 5 -X POST "http://127.0.0.1:$1/-/reload" >/dev/null ||
    echo "the exporter on :$1 did not reload" >&2
}

redis_targets() {
  local group id shard address role tmp
  group=$(aws elasticache describe-replication-groups --region "$REGION" \\
    --replication-group-id "$REPLICATION_GROUP" --output json) || return 1
  # Cluster id, shard, address, role; AWS leaves the last two out with cluster mode.
  jq -r '.ReplicationGroups[0].NodeGroups[] as $g | $g.NodeGroupMembers[]
    | [.CacheClusterId, $g.NodeGroupId, (.ReadEndpoint.Address // "-"), (.CurrentRole // "-")]
    | @tsv' <<<"$group" >"$work/members" || return 1
  if [ ! -s "$work/members" ]; then
    echo "replication group $REPLICATION_GROUP has no nodes" >&2
    return 1
  fi
  : >"$work/nodes"
  while IFS=$'\\t' read -r id shard address role; do
    if [ "$address" = - ]; then
      address=$(aws elasticache describe-cache-clusters --region "$REGION" --cache-cluster-id "$id" \\
        --show-cache-node-info --query 'CacheClusters[0].CacheNodes[0].Endpoint.Address' \\
        --output text) || return 1
    fi
    if [ -z "$address" ] || [ "$address" = None ]; then
      echo "no address for node $id" >&2
      return 1
    fi
    printf '%s\\t%s\\trediss://%s:${REDIS_PORT}\\t%s\\n' "$id" "$shard" "$address" "$role" >>"$work/nodes"
  done <"$work/members"

  # The exporter's password file: the AUTH token for every node it may be asked to scrape.
  tmp=$(new_file "$REDIS_EXPORTER/passwords.json" "$REDIS_GROUP") || return 1
  if ! cut -f3 "$work/nodes" | jq -R . | jq -s --rawfile token "$REDIS_TOKEN" \\
    'map({key: ., value: ($token | rtrimstr("\\n"))}) | from_entries' >"$tmp"; then
    rm -f "$tmp"
    return 1
  fi
  if replace "$tmp" "$REDIS_EXPORTER/passwords.json"; then reload ${EXPORTER_PORTS.redis}; fi

  # With cluster mode, each node says itself whether it is a primary (redis_instance_info).
  : >"$work/roles"
  while IFS=$'\\t' read -r id shard address role; do
    if [ "$role" = - ]; then
      role=$(curl -fsS --max-time 10 "http://127.0.0.1:${EXPORTER_PORTS.redis}/scrape?target=$address" |
        sed -n 's/^redis_instance_info{.*[{,]role="\\([a-z]*\\)".*/\\1/p' | head -n 1)
      case $role in
        master) role=primary ;;
        slave) role=replica ;;
        *) role=unknown ;;
      esac
    fi
    printf '%s\\t%s\\t%s\\t%s\\n' "$id" "$shard" "$address" "$role" >>"$work/roles"
  done <"$work/nodes"

  tmp=$(new_file "$TARGETS/redis.json" "") || return 1
  if ! jq -R 'split("\\t") | {targets: [.[2]], labels: {node: .[0], shard: .[1], role: .[3]}}' \\
    "$work/roles" | jq -s 'sort_by(.labels.node)' >"$tmp"; then
    rm -f "$tmp"
    return 1
  fi
  replace "$tmp" "$TARGETS/redis.json" || true
}

# <name> <host> <port>: a fresh token in the exporter's my.cnf, then a reload.
mysqld_credentials() {
  local token tmp
  token=$(aws rds generate-db-auth-token --region "$REGION" --hostname "$2" --port 3306 \\
    --username ${MONITORING_DATABASE_USER}) || return 1
  tmp=$(new_file "$MYSQLD_EXPORTER/$1.cnf" "$MYSQLD_GROUP") || return 1
  printf '[client]\\nuser = %s\\npassword = %s\\nhost = %s\\nport = 3306\\nenable-cleartext-plugin = true\\nssl-ca = %s\\n' \\
    ${MONITORING_DATABASE_USER} "$token" "$2" ${MYSQLD_EXPORTER_MOUNT}/rds-ca.pem >"$tmp"
  mv "$tmp" "$MYSQLD_EXPORTER/$1.cnf"
  reload "$3"
}

mysql_targets() {
  local status=0 tmp
  mysqld_credentials primary "$PRIMARY_HOST" ${EXPORTER_PORTS.mysqlPrimary} || status=1
  echo '{"targets": ["127.0.0.1:${EXPORTER_PORTS.mysqlPrimary}"], "labels": {"instance": "primary"}}' >"$work/mysql"
  if [ -n "$REPLICA_HOST" ]; then
    mysqld_credentials replica "$REPLICA_HOST" ${EXPORTER_PORTS.mysqlReplica} || status=1
    echo '{"targets": ["127.0.0.1:${EXPORTER_PORTS.mysqlReplica}"], "labels": {"instance": "replica"}}' >>"$work/mysql"
  fi
  tmp=$(new_file "$TARGETS/mysql.json" "") || return 1
  jq -s . "$work/mysql" >"$tmp" || { rm -f "$tmp"; return 1; }
  replace "$tmp" "$TARGETS/mysql.json" || true
  return $status
}

status=0
redis_targets || { echo 'Redis targets not written' >&2; status=1; }
mysql_targets || { echo 'MySQL targets or credentials not written' >&2; status=1; }
exit $status
`
}
