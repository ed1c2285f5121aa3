// The stateful stacks: MySQL, Redis and the image registry.
import t from 'tap'
import { Testing } from '../src/cdktf.js'
import { profiles } from '../src/config/index.js'
import type { CacheConfig } from '../src/config/types.js'
import { Cache, memberSuffixes } from '../src/constructs/cache.js'
import { type Body, only, resourceList, resources, synthPlatform } from './helpers/synth.js'

const small = synthPlatform(profiles.small)
const ha = synthPlatform(profiles.ha)

const instances = (stack: typeof small.data) => resources(stack, 'aws_db_instance')
const primaryOf = (stack: typeof small.data) =>
  Object.values(instances(stack)).find((db) => !db.replicate_source_db)!
const replicasOf = (stack: typeof small.data) =>
  Object.values(instances(stack)).filter((db) => db.replicate_source_db)

t.test('the database is not publicly accessible', async (t) => {
  for (const { data } of [small, ha]) {
    const all = Object.values(instances(data))
    t.ok(all.length > 0)
    t.ok(all.every((db) => db.publicly_accessible === false))
    t.match(only(data, 'aws_db_subnet_group').subnet_ids, [/network_data-0/, /network_data-1/])
  }
})

t.test(
  'the database is encrypted, backed up for a week or more and protected from deletion',
  async (t) => {
    for (const { data } of [small, ha]) {
      const primary = primaryOf(data)
      t.equal(primary.storage_encrypted, true)
      t.ok(primary.backup_retention_period >= 7)
      t.equal(primary.deletion_protection, true)
      t.equal(primary.skip_final_snapshot, false)
      t.same(primary.lifecycle, { prevent_destroy: true })
    }
  },
)

const EPHEMERAL = (name: string) =>
  `ephemeral.aws_secretsmanager_random_password.${name}.random_password`

/** Every `${ephemeral.…}` use in a stack, as `<resource type>.<argument>`. */
function ephemeralUses(stack: typeof small.data): string[] {
  const uses: string[] = []
  for (const [type, bodies] of Object.entries(stack.tf.resource ?? {})) {
    for (const body of Object.values(bodies)) {
      for (const [key, value] of Object.entries(body)) {
        if (JSON.stringify(value).includes('ephemeral.')) uses.push(`${type}.${key}`)
      }
    }
  }
  return uses
}

t.test('the master password is ours, not RDS-managed, so ha can have a read replica', async (t) => {
  for (const [config, { data }] of [
    [profiles.small, small],
    [profiles.ha, ha],
  ] as const) {
    const primary = primaryOf(data)
    // RDS refuses read replicas of an instance with manage_master_user_password.
    t.notOk('manage_master_user_password' in primary)
    t.equal(primary.password_wo_version, config.database.passwordVersions.master)
    const master = resourceList(data, 'aws_secretsmanager_secret_version').find((v) =>
      /mysql_master_secret/.test(v.secret_id),
    )!
    t.match(master.secret_string_wo, /username = "sugang_admin"/)
    t.ok(master.secret_string_wo.includes(EPHEMERAL('mysql_master_password')), 'same password')
    t.equal(master.secret_string_wo_version, config.database.passwordVersions.master)
    t.ok(
      primary.depends_on.some((d: string) => /mysql_master_version/.test(d)),
      'the secret holds the password before RDS does',
    )
    // RDS takes the password the secret holds, read back after it is written, not this run's
    // draw: an apply that failed after writing the secret would otherwise leave the next run
    // giving RDS a new password the secret never held.
    t.equal(
      primary.password_wo,
      '${jsondecode(ephemeral.aws_secretsmanager_secret_version.mysql_master_password_stored.secret_string).password}',
    )
    t.notMatch(primary.password_wo, 'random_password', 'never the draw itself')
    const [secretId, versionId] = [
      Object.keys(resources(data, 'aws_secretsmanager_secret')).find((id) =>
        /mysql_master_secret/.test(id),
      ),
      Object.keys(resources(data, 'aws_secretsmanager_secret_version')).find((id) =>
        /mysql_master_version/.test(id),
      ),
    ]
    t.same(data.tf.ephemeral?.aws_secretsmanager_secret_version?.mysql_master_password_stored, {
      secret_id: `\${aws_secretsmanager_secret.${secretId}.id}`,
      depends_on: [`aws_secretsmanager_secret_version.${versionId}`],
    })
    for (const db of Object.values(instances(data))) {
      t.equal(db.iam_database_authentication_enabled, true)
    }
  }
})

t.test('generated passwords are ephemeral and reach only write-only arguments', async (t) => {
  for (const { data } of [small, ha]) {
    t.same(Object.keys(data.tf.ephemeral?.aws_secretsmanager_random_password ?? {}).sort(), [
      'grafana_admin',
      'mysql_app_password',
      'mysql_master_password',
      'mysql_notifier_password',
      'session_secret',
    ])
    const uses = ephemeralUses(data)
    t.ok(uses.length >= 5)
    // Terraform rejects an ephemeral value anywhere else; this keeps plain arguments (which
    // the state stores) from being fed a password by a later edit.
    t.same(
      uses.filter((u) => !u.endsWith('_wo')),
      [],
    )
    for (const version of resourceList(data, 'aws_secretsmanager_secret_version')) {
      // The Redis AUTH token alone is stored: ElastiCache takes no write-only token.
      if (!/redis_auth-token/.test(version.secret_id)) {
        t.notOk('secret_string' in version, `${version.secret_id} is write-only`)
      }
    }
    t.equal(data.tf.terraform!.required_version, '>= 1.11', 'write-only arguments need 1.11')
  }
})

t.test('the service and the e-mail sender each have a database user of their own', async (t) => {
  for (const { data, app, notify } of [small, ha]) {
    const secretOf = (user: string) =>
      resourceList(data, 'aws_secretsmanager_secret_version').find((v) =>
        v.secret_string_wo?.includes(`username = "${user}"`),
      )
    t.match(secretOf('sugang_app'), { secret_id: /mysql_app-user_secret/ })
    t.match(secretOf('sugang_notify'), { secret_id: /mysql_notifier-user_secret/ })
    // The master credentials are for `sugang database-users` alone: no runtime stack names them.
    for (const stack of [app, notify]) t.notMatch(stack.json, /mysql_master|master_user_secret/)
    t.match(app.json, /mysql_app-user_secret/)
    t.notMatch(app.json, /mysql_notifier-user_secret/)
    const lambda = only(notify, 'aws_lambda_function')
    t.match(lambda.environment.variables.DATABASE_SECRET_ARN, /mysql_notifier-user_secret/)
    t.notMatch(notify.json, /mysql_app-user_secret/)
  }
})

t.test(
  'SESSION_SECRET is write-only, in the data stack, where no deploy refreshes it',
  async (t) => {
    for (const { data, app } of [small, ha]) {
      const parameter = only(data, 'aws_ssm_parameter')
      t.match(parameter, {
        type: 'SecureString',
        name: /^\/sugang-(small|ha)\/secrets\/session-secret$/,
        value_wo: `\${${EPHEMERAL('session_secret')}}`,
        value_wo_version: 1,
      })
      t.notOk('value' in parameter)
      t.same(
        resourceList(app, 'aws_ssm_parameter').filter((p) => p.type === 'SecureString'),
        [],
      )
    }
  },
)

t.test('MySQL 8.4 with enhanced monitoring and error/slow-query logs in CloudWatch', async (t) => {
  for (const { data } of [small, ha]) {
    t.ok(
      Testing.toHaveResourceWithProperties(data.json, 'aws_db_instance', {
        engine: 'mysql',
        // 8.0 left RDS standard support on 2026-07-31: Extended Support is billed after.
        engine_version: '8.4',
        enabled_cloudwatch_logs_exports: ['error', 'slowquery'],
      }),
    )
    const primary = primaryOf(data)
    t.ok(primary.monitoring_interval > 0)
    t.match(primary.monitoring_role_arn, /aws_iam_role\.mysql_monitoring-role/)
    const groups = resourceList(data, 'aws_cloudwatch_log_group').map((g) => g.name)
    t.ok(groups.some((g) => g.endsWith('/error')) && groups.some((g) => g.endsWith('/slowquery')))
  }
})

t.test('the parameter group stores and talks utf8mb4, over TLS only', async (t) => {
  for (const { data } of [small, ha]) {
    const group = only(data, 'aws_db_parameter_group')
    t.equal(group.family, 'mysql8.4')
    t.same(group.lifecycle, { create_before_destroy: true })
    const value = (name: string) =>
      (group.parameter as Body[]).find((p) => p.name === name)?.value as string | undefined
    t.equal(value('character_set_server'), 'utf8mb4')
    t.equal(value('character_set_connection'), 'utf8mb4')
    t.match(value('collation_server'), /^utf8mb4_/)
    t.equal(value('slow_query_log'), '1')
    t.equal(value('require_secure_transport'), '1', 'MySQL refuses unencrypted connections')
    for (const db of Object.values(instances(data))) {
      t.equal(
        db.parameter_group_name,
        `\${aws_db_parameter_group.${Object.keys(resources(data, 'aws_db_parameter_group'))[0]}.name}`,
      )
    }
  }
})

t.test('small runs one single-AZ database; ha runs Multi-AZ with a read replica', async (t) => {
  t.equal(primaryOf(small.data).multi_az, false)
  t.same(replicasOf(small.data), [])
  t.equal(primaryOf(ha.data).multi_az, true)
  const replicas = replicasOf(ha.data)
  t.equal(replicas.length, 1)
  t.match(replicas[0]!.replicate_source_db, /aws_db_instance\.mysql_primary_.*\.identifier/)
  t.equal(replicas[0]!.publicly_accessible, false)
  t.ok('database_replica_endpoint' in ha.data.tf.output!)
  t.notOk('database_replica_endpoint' in small.data.tf.output!)
})

t.test(
  'MySQL accepts 3306 only from the service, the e-mail Lambda and the monitoring host',
  async (t) => {
    for (const { data } of [small, ha]) {
      const dbGroup = Object.entries(resources(data, 'aws_security_group')).find(([, g]) =>
        g.name.endsWith('-mysql'),
      )!
      const rules = resourceList(data, 'aws_vpc_security_group_ingress_rule').filter(
        (r) => r.security_group_id === `\${aws_security_group.${dbGroup[0]}.id}`,
      )
      t.equal(rules.length, 3)
      for (const rule of rules) {
        t.equal(rule.from_port, 3306)
        t.equal(rule.to_port, 3306)
        t.notOk(rule.cidr_ipv4)
      }
      t.match(
        rules.map((r) => r.referenced_security_group_id),
        [/network_app-sg/, /network_monitoring-sg/, /network_notify-sg/],
      )
      t.notOk(dbGroup[1].egress, 'no egress rules')
    }
  },
)

t.test(
  'Redis encrypts at rest and in transit and requires the AUTH token from Secrets Manager',
  async (t) => {
    for (const { data } of [small, ha]) {
      const redis = only(data, 'aws_elasticache_replication_group')
      t.equal(redis.at_rest_encryption_enabled, 'true')
      t.equal(redis.transit_encryption_enabled, true)
      t.match(
        redis.auth_token,
        /^\$\{aws_secretsmanager_secret_version\.redis_auth-token-version_.*\.secret_string\}$/,
      )
      t.ok(
        Testing.toHaveResourceWithProperties(data.json, 'aws_secretsmanager_secret_version', {
          lifecycle: { ignore_changes: ['secret_string'] },
        }),
      )
    }
  },
)

/** The parameters of the parameter group the replication group runs with, by name. */
function redisParameters(data: typeof small.data): Record<string, string> {
  const redis = only(data, 'aws_elasticache_replication_group')
  const [id, group] = Object.entries(resources(data, 'aws_elasticache_parameter_group'))[0]!
  if (redis.parameter_group_name !== `\${aws_elasticache_parameter_group.${id}.name}`) {
    throw new Error('the replication group does not run with the stack’s parameter group')
  }
  return Object.fromEntries((group.parameter as Body[]).map((p) => [p.name, p.value]))
}

t.test('Redis never evicts keys, so queued requests cannot silently vanish', async (t) => {
  for (const { data } of [small, ha]) {
    t.equal(resourceList(data, 'aws_elasticache_parameter_group').length, 1)
    t.equal(redisParameters(data)['maxmemory-policy'], 'noeviction')
  }
})

t.test('small runs one Redis node, with cluster mode disabled', async (t) => {
  const redis = only(small.data, 'aws_elasticache_replication_group')
  t.match(redis, {
    cluster_mode: 'disabled',
    num_cache_clusters: 1,
    automatic_failover_enabled: false,
    multi_az_enabled: false,
  })
  t.notOk('num_node_groups' in redis)
  t.notOk('replicas_per_node_group' in redis)
  t.same(redisParameters(small.data), { 'maxmemory-policy': 'noeviction' })
})

t.test(
  'ha runs Redis in cluster mode: three shards, each with a replica in another AZ and automatic failover',
  async (t) => {
    const redis = only(ha.data, 'aws_elasticache_replication_group')
    t.match(redis, {
      cluster_mode: 'enabled',
      num_node_groups: 3,
      replicas_per_node_group: 1,
      automatic_failover_enabled: true,
      multi_az_enabled: true,
      at_rest_encryption_enabled: 'true',
      transit_encryption_enabled: true,
      auth_token:
        /^\$\{aws_secretsmanager_secret_version\.redis_auth-token-version_.*\.secret_string\}$/,
    })
    t.notOk('num_cache_clusters' in redis, 'shards and replicas, not a node count')
    // Cluster mode needs a parameter group that enables it; not the default one, which evicts.
    t.same(redisParameters(ha.data), {
      'cluster-enabled': 'yes',
      'maxmemory-policy': 'noeviction',
    })
    t.equal(only(ha.data, 'aws_elasticache_parameter_group').family, 'redis7')
    t.match(redis.engine_version, /^7\./, 'the parameter group family matches the engine')
  },
)

t.test(
  'the service is pointed at the primary, or in cluster mode at the configuration endpoint',
  async (t) => {
    const endpoint = (data: typeof small.data) => {
      const id = Object.keys(resources(data, 'aws_elasticache_replication_group'))[0]
      return (attribute: string) => `\${aws_elasticache_replication_group.${id}.${attribute}}`
    }
    t.equal(
      small.data.tf.output!.redis_endpoint!.value,
      endpoint(small.data)('primary_endpoint_address'),
    )
    // With cluster mode, the primary endpoint is empty: the client finds the shards itself.
    t.equal(
      ha.data.tf.output!.redis_endpoint!.value,
      endpoint(ha.data)('configuration_endpoint_address'),
    )
  },
)

t.test('the members of a replication group are named as ElastiCache names them', async (t) => {
  t.same(memberSuffixes(profiles.small.cache.topology), ['-001'])
  t.same(memberSuffixes({ clusterMode: 'disabled', nodeCount: 2 }), ['-001', '-002'])
  t.same(memberSuffixes(profiles.ha.cache.topology), [
    '-0001-001',
    '-0001-002',
    '-0002-001',
    '-0002-002',
    '-0003-001',
    '-0003-002',
  ])
})

t.test('Redis accepts 6379 only from the service and the monitoring host', async (t) => {
  for (const { data } of [small, ha]) {
    const cacheGroup = Object.keys(resources(data, 'aws_security_group')).find((id) =>
      id.startsWith('redis_sg'),
    )
    const rules = resourceList(data, 'aws_vpc_security_group_ingress_rule').filter(
      (r) =>
        r.from_port === 6379 || r.security_group_id === `\${aws_security_group.${cacheGroup}.id}`,
    )
    t.equal(rules.length, 2)
    t.match(rules, [
      {
        security_group_id: `\${aws_security_group.${cacheGroup}.id}`,
        to_port: 6379,
        referenced_security_group_id: /network_app-sg/,
      },
      {
        security_group_id: `\${aws_security_group.${cacheGroup}.id}`,
        to_port: 6379,
        referenced_security_group_id: /network_monitoring-sg/,
      },
    ])
    for (const rule of rules) t.notOk(rule.cidr_ipv4)
  }
})

const cacheOf = (config: CacheConfig) => () =>
  Testing.synthScope((scope) => {
    new Cache(scope, 'cache', {
      name: 'sugang-test',
      config,
      vpcId: 'vpc-1',
      subnetIds: ['subnet-1'],
      allowedSources: [],
    })
  })

t.test('automatic failover without a replica is refused', async (t) => {
  t.throws(cacheOf({ ...profiles.small.cache, automaticFailover: true }), /at least two nodes/)
  const cluster = profiles.ha.cache
  t.throws(
    cacheOf({ ...cluster, topology: { clusterMode: 'enabled', shards: 3, replicasPerShard: 0 } }),
    /a replica in every shard/,
  )
})

t.test(
  'cluster mode without automatic failover, or beyond what ElastiCache takes, is refused',
  async (t) => {
    const cluster = profiles.ha.cache
    t.throws(
      cacheOf({ ...cluster, automaticFailover: false }),
      /cluster mode needs automatic failover/,
    )
    for (const [shards, replicasPerShard] of [
      [0, 1],
      [251, 1],
      [3, 6],
      [1.5, 1],
    ] as const) {
      t.throws(
        cacheOf({ ...cluster, topology: { clusterMode: 'enabled', shards, replicasPerShard } }),
        /ElastiCache takes/,
        `${shards} shards × ${replicasPerShard}`,
      )
    }
    t.doesNotThrow(cacheOf(cluster), 'the ha profile’s own')
  },
)

t.test('ECR repositories are private, immutable, scanned on push and KMS-encrypted', async (t) => {
  for (const { registry } of [small, ha]) {
    t.ok(
      Testing.toHaveResourceWithProperties(registry.json, 'aws_ecr_repository', {
        image_tag_mutability: 'IMMUTABLE',
        image_scanning_configuration: { scan_on_push: true },
        encryption_configuration: [{ encryption_type: 'KMS' }],
        force_delete: false,
        lifecycle: { prevent_destroy: true },
      }),
    )
    const policy = JSON.parse(only(registry, 'aws_ecr_lifecycle_policy').policy) as {
      rules: { selection: { tagStatus: string; countType: string } }[]
    }
    t.same(
      policy.rules.map((r) => r.selection.tagStatus),
      ['untagged', 'any'],
    )
  }
  t.equal(only(small.registry, 'aws_ecr_repository').name, 'sugang-small/service')
})

t.test('the stateful stacks publish the endpoints and URLs operators need', async (t) => {
  for (const { data, registry } of [small, ha]) {
    t.ok(data.tf.output!.database_endpoint)
    for (const user of ['master', 'app', 'notifier']) {
      t.match(data.tf.output![`database_${user}_secret_arn`], {
        value: /aws_secretsmanager_secret\./,
      })
    }
    t.ok(data.tf.output!.redis_endpoint)
    t.match(registry.tf.output!.ecr_service_url!.value, /repository_url/)
  }
})
