import { readFileSync } from 'node:fs'
import { loadConfig } from '@sugang/service/config'
import { CLOSE_GRACE_MS } from '@sugang/service/server'
import t from 'tap'
import { Testing } from '../src/cdktf.js'
import { profiles, withImageDigest, withImageTag } from '../src/config/index.js'
import {
  CONTAINER_STOP_SECONDS,
  LAUNCH_HOOK_NAME,
  LIVENESS_PATH,
  READINESS_PATH,
} from '../src/constructs/app-user-data.js'
import {
  APP_ROLE_TAG,
  SERVICE_PROCESSES_PER_INSTANCE,
  campusEnvironment,
  validateInstanceTypes,
} from '../src/constructs/compute.js'
import { registrationOpenings } from '../src/registration.js'
import { ALERTMANAGER_SECRET_FILES } from '../src/constructs/monitoring-host.js'
import {
  type Body,
  dataSources,
  only,
  policyStatements,
  resourceList,
  resources,
  synthPlatform,
  type SynthesizedStack,
  userData,
} from './helpers/synth.js'

const smallPlatform = synthPlatform(profiles.small)
const haPlatform = synthPlatform(profiles.ha)
const small = smallPlatform.app
const ha = haPlatform.app
const both = [small, ha]

const RELEASED_IMAGE_REFERENCE =
  /\$\{data\.aws_ssm_parameter\.compute_released-image-value_[^.]+\.insecure_value\}/g

t.test('the launch template requires IMDSv2, encrypts EBS and names no key pair', async (t) => {
  for (const stack of both) {
    t.ok(
      Testing.toHaveResourceWithProperties(stack.json, 'aws_launch_template', {
        metadata_options: { http_tokens: 'required', http_put_response_hop_limit: 1 },
        block_device_mappings: [{ ebs: { encrypted: 'true', volume_type: 'gp3' } }],
        network_interfaces: [{ associate_public_ip_address: 'false' }],
      }),
    )
    t.notOk('key_name' in only(stack, 'aws_launch_template'))
  }
})

t.test(
  'user data logs in to ECR, pulls the configured image and runs it under systemd',
  async (t) => {
    const script = userData(small)
    const image = '111111111111.dkr.ecr.ap-northeast-2.amazonaws.com/sugang-small/service@${data.'
    t.match(script, `IMAGE='${image}`)
    t.match(script, 'aws ecr get-login-password --region "$REGION" | docker login')
    t.match(script, 'docker pull "$IMAGE"')
    t.match(script, /ExecStart=\/usr\/bin\/docker run .* -p 3000:3000 -p 9464:9464 .* 111111111111/)
    t.match(script, 'systemctl enable node-exporter.service sugang-launch.service')
    t.match(script, '--log-driver awslogs')
  },
)

t.test('the container gets the environment the service configuration defines', async (t) => {
  const script = userData(small)
  for (const line of [
    "echo 'NODE_ENV=production'",
    "echo 'HOST=0.0.0.0'",
    "echo 'METRICS_HOST=0.0.0.0'",
    "echo 'PORT=3000'",
    "echo 'METRICS_PORT=9464'",
    'echo "DATABASE_URL=mysql://',
    'echo "DATABASE_REPLICA_URL=mysql://',
    'echo "REDIS_URL=rediss://:',
    'echo "SESSION_SECRET=',
  ]) {
    t.match(script, line)
  }
})

/** The lines of the env file the container reads (between `{` and `} >/run/sugang/app.env.new`). */
function envFileLines(stack: SynthesizedStack): string[] {
  const block = /\n\{\n([\s\S]*?)\n\} >\/run\/sugang\/app\.env\.new/.exec(userData(stack))?.[1]
  if (!block) throw new Error('no env file block in the user data')
  return block.split('\n').map((line) => line.trim())
}

/** The data stack's expression behind a runtime setting of the app stack (through remote state). */
function runtimeSource(platform: typeof smallPlatform, setting: string): string {
  const runtime = resourceList(platform.app, 'aws_ssm_parameter').find((p) =>
    String(p.name).endsWith('/app/runtime'),
  )!
  const value = (JSON.parse(runtime.value) as Record<string, string>)[setting]!
  const output = /^\$\{data\.terraform_remote_state\.[^.]+\.outputs\.([^}]+)\}$/.exec(value)?.[1]
  if (!output) throw new Error(`${setting} is not read from another stack: ${value}`)
  return platform.data.tf.output?.[output]?.value as string
}

t.test(
  'Redis: small sets REDIS_URL from the primary endpoint; ha, in cluster mode, REDIS_CLUSTER_NODES from the configuration endpoint',
  async (t) => {
    const redisLines = (stack: SynthesizedStack) =>
      envFileLines(stack).filter((line) => /REDIS/.test(line))
    const url = 'rediss://:$redis_token@$redis_host:6379"'
    t.same(redisLines(small), [`echo "REDIS_URL=${url}`])
    t.same(redisLines(ha), [`echo "REDIS_CLUSTER_NODES=${url}`], 'one seed, and never REDIS_URL')
    for (const stack of both) t.match(userData(stack), 'redis_host=$(setting redisHost)')
    t.match(
      runtimeSource(smallPlatform, 'redisHost'),
      /^\$\{aws_elasticache_replication_group\.[^.]+\.primary_endpoint_address\}$/,
    )
    t.match(
      runtimeSource(haPlatform, 'redisHost'),
      /^\$\{aws_elasticache_replication_group\.[^.]+\.configuration_endpoint_address\}$/,
    )
    // The AUTH token is read at every start, from the secret, in either mode.
    for (const platform of [smallPlatform, haPlatform]) {
      t.match(
        runtimeSource(platform, 'redisAuthSecretArn'),
        /^\$\{aws_secretsmanager_secret\.redis_auth-token_[^.]+\.arn\}$/,
      )
      t.match(userData(platform.app), 'redis_token=$(secret "$(setting redisAuthSecretArn)")')
    }
  },
)

t.test("the profile's campus networks become the service's LOGIN_CAMPUS_NETWORKS", async (t) => {
  const campusLine = (stack: SynthesizedStack) =>
    envFileLines(stack).filter((line) => line.includes('LOGIN_CAMPUS_NETWORKS'))
  for (const stack of both) t.same(campusLine(stack), [], 'none listed, none set')

  const networks = ['203.0.113.0/24', '198.51.100.7', '2001:db8:cafe::/48']
  const listed = synthPlatform({
    ...profiles.small,
    edge: { ...profiles.small.edge, campusNetworks: networks },
  }).app
  const line = campusLine(listed)
  t.same(line, [`echo 'LOGIN_CAMPUS_NETWORKS=${networks.join(',')}'`], 'written as listed')
  // What is written is what the service accepts, and means what the profile lists.
  const value = /=(.*)'$/.exec(line[0] ?? '')?.[1] ?? ''
  const config = loadConfig({
    DATABASE_URL: 'mysql://u@h:3306/db',
    REDIS_URL: 'redis://h:6379',
    LOGIN_CAMPUS_NETWORKS: value,
  })
  t.same(config.login.campusNetworks, ['203.0.113.0/24', '198.51.100.7/32', '2001:db8:cafe::/48'])
})

t.test('a campus network the service would refuse fails synthesis, not the boot', async (t) => {
  for (const bad of ['203.0.113.0/33', 'campus', '10.0.0.0/8/1', '2001:db8::/129', '']) {
    t.throws(() => campusEnvironment([bad]), /edge\.campusNetworks: ".*" is not a network/, bad)
    t.throws(
      () =>
        loadConfig({
          DATABASE_URL: 'mysql://u@h:3306/db',
          REDIS_URL: 'redis://h:6379',
          LOGIN_CAMPUS_NETWORKS: `${bad},10.0.0.0/8`,
        }),
      /LOGIN_CAMPUS_NETWORKS must be/,
      `the service refuses ${bad} too`,
    )
  }
  t.same(campusEnvironment(['10.0.0.0/8', '::1']), { LOGIN_CAMPUS_NETWORKS: '10.0.0.0/8,::1' })
})

t.test('the env file binds the metrics listener explicitly, not to loopback', async (t) => {
  for (const stack of both) {
    const script = userData(stack)
    const lines = envFileLines(stack)
    // The service defaults METRICS_HOST to 127.0.0.1, which the published port cannot reach in
    // the container's network namespace: the env file must set it, to all interfaces.
    t.same(
      lines.filter((line) => line.includes('METRICS_HOST=')),
      ["echo 'METRICS_HOST=0.0.0.0'"],
    )
    t.ok(lines.includes("echo 'METRICS_PORT=9464'"))
    t.match(script, /-p 9464:9464/, 'the metrics port is published')
  }
})

t.test('user data carries no secrets and no Terraform references', async (t) => {
  for (const stack of both) {
    const script = userData(stack)
    t.notOk(
      script.replace(RELEASED_IMAGE_REFERENCE, '').includes('${'),
      'nothing for Terraform to fill in but the released digest, so no secret value can leak in',
    )
    t.notOk(script.includes('%{'), 'no template directive either')
    for (const secretish of ['secret_string', 'random_password', 'auth_token', 'BEGIN ']) {
      t.notOk(script.includes(secretish), secretish)
    }
    // Secrets are fetched at every start from the stores, by name.
    t.match(script, 'aws secretsmanager get-secret-value')
    t.match(script, '--with-decryption')
  }
})

t.test('the runtime settings hold addresses and secret ARNs, never secret values', async (t) => {
  for (const stack of both) {
    const runtime = resourceList(stack, 'aws_ssm_parameter').find((p) =>
      String(p.name).endsWith('/app/runtime'),
    )!
    t.equal(runtime.type, 'String')
    const settings = JSON.parse(runtime.value) as Record<string, string>
    // Read from the data stack's outputs through remote state, like every cross-stack value.
    t.match(settings.databaseSecretArn, /terraform_remote_state\..*mysql_app-user_secret.*arn\}$/)
    t.match(
      settings.redisAuthSecretArn,
      /terraform_remote_state\..*aws_secretsmanager_secret.*arn\}$/,
    )
    t.match(settings.databaseHost, /terraform_remote_state\..*mysql_primary.*address\}$/)
    for (const secretish of ['secret_string', 'random_password', 'auth_token']) {
      t.notOk(String(runtime.value).includes(secretish), secretish)
    }
  }
})

t.test(
  'ha gives the service the read replica; small leaves DATABASE_REPLICA_URL unset',
  async (t) => {
    const replicaOf = (stack: SynthesizedStack) =>
      JSON.parse(
        resourceList(stack, 'aws_ssm_parameter').find((p) =>
          String(p.name).endsWith('/app/runtime'),
        )!.value,
      ).databaseReplicaHost as string
    t.match(replicaOf(ha), /terraform_remote_state\..*mysql_replica.*address\}$/)
    t.equal(replicaOf(small), '')
    t.match(userData(small), 'if [ -n "$db_replica_host" ]')
  },
)

t.test('a new image tag changes the launch template, which rolls the group', async (t) => {
  const tagged = synthPlatform(withImageTag(profiles.small, 'a1b2c3d')).app
  t.match(userData(tagged), 'sugang-small/service:a1b2c3d')
  t.not(only(tagged, 'aws_launch_template').user_data, only(small, 'aws_launch_template').user_data)
  t.throws(
    () => withImageTag(profiles.small, 'bad tag; rm -rf /'),
    /not a valid container image tag/,
  )
})

const DIGEST = `sha256:${'ab12'.repeat(16)}`

t.test('an image digest is what instances pull and run, whatever the tag', async (t) => {
  const pinned = synthPlatform(withImageDigest(withImageTag(profiles.small, 'a1b2c3d'), DIGEST)).app
  const script = userData(pinned)
  const image = `111111111111.dkr.ecr.ap-northeast-2.amazonaws.com/sugang-small/service@${DIGEST}`
  t.match(script, `IMAGE='${image}'`)
  t.match(script, new RegExp(`ExecStart=/usr/bin/docker run .* ${image.replace(/[.]/g, '\\.')}\n`))
  t.notMatch(script, 'service:a1b2c3d', 'the tag is not pulled')
  t.equal(only(pinned, 'aws_launch_template').description, `sugang service, image ${DIGEST}`)
  t.not(only(pinned, 'aws_launch_template').user_data, only(small, 'aws_launch_template').user_data)
})

t.test('only a sha256 digest of 64 hex digits is accepted', async (t) => {
  for (const bad of [
    'sha256:abc',
    `sha512:${'0'.repeat(64)}`,
    `sha256:${'A'.repeat(64)}`,
    `sha256:${'0'.repeat(64)}; rm -rf /`,
  ]) {
    t.throws(() => withImageDigest(profiles.small, bad), /is not an image digest/, bad)
  }
})

t.test('the released-image parameter is seeded once and then left to the pipeline', async (t) => {
  for (const [stack, config] of [
    [small, profiles.small],
    [ha, profiles.ha],
  ] as const) {
    const parameter = resourceList(stack, 'aws_ssm_parameter').find((p) =>
      p.name.endsWith('/app/released-image'),
    )
    t.match(parameter, {
      name: `/sugang-${config.profile}/app/released-image`,
      type: 'String',
      value: 'none',
      lifecycle: { ignore_changes: ['value'] },
    })
  }
  const pinned = synthPlatform(withImageDigest(profiles.small, DIGEST)).app
  const seeded = resourceList(pinned, 'aws_ssm_parameter').find((p) =>
    p.name.endsWith('/app/released-image'),
  )
  t.equal(seeded?.value, DIGEST, 'a stack created by digest records that digest')
})

t.test('the launch template carries its profile tag', async (t) => {
  t.same(only(small, 'aws_launch_template').tags, { 'sugang:profile': 'small' })
  t.same(only(ha, 'aws_launch_template').tags, { 'sugang:profile': 'ha' })
})

t.test(
  'the autoscaling group spreads over the app subnets and trusts ELB health checks',
  async (t) => {
    for (const [stack, config] of [
      [small, profiles.small],
      [ha, profiles.ha],
    ] as const) {
      const asg = only(stack, 'aws_autoscaling_group')
      t.equal(asg.health_check_type, 'ELB')
      const group = only(stack, 'aws_lb_target_group')
      t.equal(group.health_check.path, LIVENESS_PATH, 'whose health is liveness alone')
      t.equal(asg.target_group_arns.length, 1)
      t.equal(asg.min_size, config.compute.minSize)
      t.equal(asg.max_size, config.compute.maxSize)
      t.equal(asg.vpc_zone_identifier.length, config.network.appAvailabilityZoneCount)
      t.ok(
        asg.vpc_zone_identifier.every((s: string) => /network_app-\d/.test(s)),
        'app subnets only',
      )
      t.notOk(asg.launch_template, 'the template is named in the mixed instances policy')
      t.match(asg.mixed_instances_policy.launch_template.launch_template_specification, {
        launch_template_id: /aws_launch_template\..*\.id/,
        version: /latest_version/,
      })
    }
    t.equal(only(ha, 'aws_autoscaling_group').min_size, 2, 'ha survives losing an instance')
  },
)

t.test('deploys roll the group with instance refresh, keeping full capacity', async (t) => {
  for (const stack of both) {
    t.ok(
      Testing.toHaveResourceWithProperties(stack.json, 'aws_autoscaling_group', {
        instance_refresh: {
          strategy: 'Rolling',
          preferences: { min_healthy_percentage: 100, max_healthy_percentage: 200 },
        },
        lifecycle: { ignore_changes: ['desired_capacity'] },
      }),
    )
  }
})

t.test(
  'the refresh claims no rollback of its own: the group already holds the new version',
  async (t) => {
    for (const stack of both) {
      const { preferences } = only(stack, 'aws_autoscaling_group').instance_refresh
      // AWS would roll back to the configuration the group had when the refresh started, which
      // Terraform has already set to the new launch template version. The pipeline rolls back
      // (roll-out.test.ts, the deploy job's steps).
      t.notOk(preferences.auto_rollback, 'no auto_rollback')
    }
  },
)

t.test('the group scales on requests per target and on CPU', async (t) => {
  for (const stack of both) {
    const policies = resourceList(stack, 'aws_autoscaling_policy')
    const metrics = policies.map(
      (p) => p.target_tracking_configuration.predefined_metric_specification.predefined_metric_type,
    )
    t.same(metrics.sort(), ['ALBRequestCountPerTarget', 'ASGAverageCPUUtilization'])
    const requests = policies.find(
      (p) =>
        p.target_tracking_configuration.predefined_metric_specification.predefined_metric_type ===
        'ALBRequestCountPerTarget',
    )!
    t.match(
      requests.target_tracking_configuration.predefined_metric_specification.resource_label,
      /aws_lb\..*arn_suffix\}\/\$\{aws_lb_target_group\..*arn_suffix/,
    )
  }
})

t.test(
  'the group launches interchangeable types, the first preferred, all on demand',
  async (t) => {
    for (const [stack, config] of [
      [small, profiles.small],
      [ha, profiles.ha],
    ] as const) {
      const policy = only(stack, 'aws_autoscaling_group').mixed_instances_policy
      t.ok(config.compute.instanceTypes.length >= 2, `${config.profile}: more than one type`)
      t.same(
        policy.launch_template.override,
        config.compute.instanceTypes.map((instance_type) => ({ instance_type })),
        'in the profile’s order',
      )
      t.same(policy.instances_distribution, {
        on_demand_allocation_strategy: 'prioritized',
        on_demand_base_capacity: 0,
        on_demand_percentage_above_base_capacity: 100,
      })
      t.equal(
        only(stack, 'aws_launch_template').instance_type,
        config.compute.instanceTypes[0],
        'the template names the preferred one',
      )
    }
  },
)

t.test('the CPU target is one a saturated service process can reach', async (t) => {
  t.equal(SERVICE_PROCESSES_PER_INSTANCE, 1)
  t.match(
    readFileSync(new URL('../src/constructs/app-user-data.ts', import.meta.url), 'utf8').match(
      /docker run --rm --name sugang /g,
    ),
    [/./],
    'one service container per instance',
  )
  for (const stack of both) {
    const cpu = resourceList(stack, 'aws_autoscaling_policy').find(
      (p) =>
        p.target_tracking_configuration.predefined_metric_specification.predefined_metric_type ===
        'ASGAverageCPUUtilization',
    )!
    // Every type has 2 vCPUs: one process saturated reads 50 %.
    t.ok(cpu.target_tracking_configuration.target_value < 50, 'below one core of two')
  }
})

t.test(
  'synthesis refuses types that are not interchangeable, and an unreachable CPU target',
  async (t) => {
    const compute = profiles.ha.compute
    const check = (change: Partial<typeof compute>) => () =>
      validateInstanceTypes({ ...compute, ...change })
    t.doesNotThrow(check({}))
    t.throws(check({ instanceTypes: ['c6i.large', 'c6i.xlarge'] }), /not interchangeable/)
    t.throws(check({ instanceTypes: ['t3.small', 't3.medium'] }), /not interchangeable/)
    t.throws(check({ instanceTypes: ['c6i.large', 'c6g.large'] }), /c6g\.large is arm64/)
    t.throws(check({ instanceTypes: ['c6i.large', 'm9z.large'] }), /m9z\.large is not known/)
    t.throws(check({ instanceTypes: ['c6i.large', 'c6i.large'] }), /each type once/)
    t.throws(check({ targetCpuPercent: 50 }), /must lie below 50/)
    t.throws(check({ targetCpuPercent: 60 }), /must lie below 50/)
    t.throws(
      () =>
        synthPlatform({
          ...profiles.small,
          compute: { ...profiles.small.compute, targetCpuPercent: 60 },
        }),
      /compute\.targetCpuPercent \(60\)/,
      'and synthesis with it',
    )
  },
)

t.test('app instances carry the tag Prometheus discovers them by', async (t) => {
  t.same(APP_ROLE_TAG, { key: 'sugang:role', value: 'app' })
  for (const stack of both) {
    const asg = only(stack, 'aws_autoscaling_group')
    t.ok(
      (asg.tag as Body[]).some(
        (tag) => tag.key === 'sugang:role' && tag.value === 'app' && tag.propagate_at_launch,
      ),
    )
  }
})

t.test(
  'SESSION_SECRET comes from the data stack, where the deploy never refreshes it',
  async (t) => {
    for (const stack of both) {
      t.same(
        resourceList(stack, 'aws_ssm_parameter').filter((p) => p.type === 'SecureString'),
        [],
      )
      const runtime = resourceList(stack, 'aws_ssm_parameter').find((p) =>
        String(p.name).endsWith('/app/runtime'),
      )!
      t.match(JSON.parse(runtime.value).sessionSecretParameterName, /^\/sugang-\w+\/secrets\//)
    }
  },
)

t.test('node exporter and service metrics are open only to the monitoring host', async (t) => {
  for (const stack of both) {
    const metricsRules = resourceList(stack, 'aws_vpc_security_group_ingress_rule').filter(
      (r) => r.from_port === 9100 || r.from_port === 9464,
    )
    t.equal(metricsRules.length, 2)
    for (const rule of metricsRules) {
      t.equal(rule.to_port, rule.from_port)
      t.match(rule.security_group_id, /app-sg/)
      t.match(rule.referenced_security_group_id, /monitoring-sg/)
      t.notOk(rule.cidr_ipv4)
    }
  }
})

t.test('the service port is open only to the load balancer', async (t) => {
  for (const stack of both) {
    const rules = resourceList(stack, 'aws_vpc_security_group_ingress_rule').filter(
      (r) => r.from_port === 3000,
    )
    t.equal(rules.length, 1)
    t.match(rules[0], { security_group_id: /app-sg/, referenced_security_group_id: /alb-sg/ })
  }
})

t.test(
  'the monitoring host is private, reachable via SSM, and can discover instances',
  async (t) => {
    for (const stack of both) {
      const host = only(stack, 'aws_instance')
      t.match(host.subnet_id, /network_app-0/)
      t.equal(host.associate_public_ip_address, false)
      t.match(host.iam_instance_profile, /monitoring_profile/)
      t.match(host.user_data, '--web.listen-address=127.0.0.1:9090')
      t.match(host.user_data, 'GF_SERVER_HTTP_ADDR=127.0.0.1')
      const monitoringSg = Object.keys(
        resources(stack, 'aws_vpc_security_group_ingress_rule'),
      ).filter((id) =>
        /monitoring-sg/.test(
          resources(stack, 'aws_vpc_security_group_ingress_rule')[id]!.security_group_id,
        ),
      )
      t.same(monitoringSg, [], 'nothing may connect to the monitoring host')
    }
  },
)

t.test('the monitoring host user data interpolates nothing but its own references', async (t) => {
  for (const stack of both) {
    const script = only(stack, 'aws_instance').user_data as string
    const references = script.match(/[$%]\{[^}]*\}/g) ?? []
    t.ok(references.length > 0)
    for (const reference of references) {
      // Its own bucket and, from the data stack, the Grafana and Redis secrets' ARNs, the Redis
      // replication group and the MySQL addresses.
      t.match(
        reference,
        /^\$\{(aws_s3_bucket\.monitoring_[^.]+\.bucket|data\.terraform_remote_state\.[^.]+-data\.outputs\.cross-stack-output-(aws_secretsmanager_secretgrafana-adminarn|aws_secretsmanager_secretredis_auth-token_[^.]+arn|aws_elasticache_replication_groupredis_[^.]+replication_group_id|aws_db_instancemysql_(primary|replica)_[^.]+address))\}$/,
      )
    }
  }
})

t.test(
  'the monitoring host serves the monitoring workspace files where they expect to be',
  async (t) => {
    const monitoringDir = new URL('../../monitoring/', import.meta.url)
    const alertmanager = readFileSync(
      new URL('alertmanager/alertmanager.yml', monitoringDir),
      'utf8',
    )
    const wanted = [
      ...alertmanager.matchAll(/api_url_file:\s*\/etc\/alertmanager\/secrets\/(\S+)/g),
    ]
    t.ok(wanted.length > 0, 'alertmanager.yml reads webhooks from files')
    t.same(wanted.map((m) => m[1]).sort(), [...ALERTMANAGER_SECRET_FILES].sort())
    const dashboards = readFileSync(
      new URL('grafana/provisioning/dashboards/sugang.yml', monitoringDir),
      'utf8',
    )
    const dashboardPath = /path:\s*(\S+)/.exec(dashboards)?.[1]
    const script = only(small, 'aws_instance').user_data as string
    t.match(script, `/opt/sugang-monitoring/grafana/dashboards:${dashboardPath}:ro`)
    t.match(script, '/etc/sugang-monitoring/alertmanager:/etc/alertmanager/secrets:ro')
    t.match(script, '--config.file=/etc/prometheus/prometheus.yml')
  },
)

t.test(
  'without a named image the app runs the released one, and refuses to plan while none is',
  async (t) => {
    for (const [stack, config] of [
      [small, profiles.small],
      [ha, profiles.ha],
    ] as const) {
      t.equal(config.compute.imageTag, undefined, 'the profile names no default tag')
      t.notMatch(userData(stack), /\/service:/, 'no image by tag, bootstrap or other')
      const read = Object.values(dataSources(stack, 'aws_ssm_parameter')).find((d) =>
        String(d.name).endsWith('/app/released-image'),
      )
      t.equal(read?.name, `/sugang-${config.profile}/app/released-image`)
      const script = userData(stack)
      t.equal(script.match(RELEASED_IMAGE_REFERENCE)?.length, 2, 'pulled and run by that digest')
      t.match(script, /service@\$\{data\.aws_ssm_parameter\.[^}]+\}'\n/)
      const [precondition] = only(stack, 'aws_launch_template').lifecycle.precondition as Body[]
      t.match(
        precondition!.condition,
        /^\$\{can\(regex\("\^sha256:\[0-9a-f\]\{64\}\$", data\.aws_ssm_parameter\.compute_released-image-value_[^.]+\.insecure_value\)\)\}$/,
      )
      t.match(precondition!.error_message, 'SUGANG_IMAGE_DIGEST')
    }
    const pinned = synthPlatform(withImageDigest(profiles.small, DIGEST)).app
    t.same(
      Object.keys(dataSources(pinned, 'aws_ssm_parameter')).filter((id) => /released/.test(id)),
      [],
      'a named digest reads nothing',
    )
    t.notOk(only(pinned, 'aws_launch_template').lifecycle, 'and needs no precondition')
  },
)

t.test('instances boot the AMI recorded in the profile, never a plan-time lookup', async (t) => {
  for (const [stack, config] of [
    [small, profiles.small],
    [ha, profiles.ha],
  ] as const) {
    t.equal(only(stack, 'aws_launch_template').image_id, config.compute.amiId)
    t.match(config.compute.amiId, /^ami-[0-9a-f]{8,17}$/)
  }
  t.throws(
    () =>
      synthPlatform({ ...profiles.small, compute: { ...profiles.small.compute, amiId: 'latest' } }),
    /is not an AMI id/,
  )
})

t.test('an instance enters service only once ready, and is replaced only when dead', async (t) => {
  for (const [stack, config] of [
    [small, profiles.small],
    [ha, profiles.ha],
  ] as const) {
    const asg = only(stack, 'aws_autoscaling_group')
    t.ok(asg.health_check_grace_period > 0, 'a grace period')
    t.ok(
      asg.health_check_grace_period >= config.compute.instanceBootSeconds,
      'as long as a cold boot',
    )
    t.same(asg.initial_lifecycle_hook, [
      {
        name: LAUNCH_HOOK_NAME,
        lifecycle_transition: 'autoscaling:EC2_INSTANCE_LAUNCHING',
        heartbeat_timeout: 2 * config.compute.instanceBootSeconds,
        default_result: 'ABANDON',
      },
    ])
    const script = userData(stack)
    t.match(script, `HOOK='${LAUNCH_HOOK_NAME}'`)
    t.match(script, `GROUP='${asg.name}'`)
    t.match(script, `http://127.0.0.1:3000${READINESS_PATH}; then\n        finish CONTINUE`)
    t.match(script, 'finish ABANDON')
    t.match(script, /Warmed:\*\)\n\s+\/usr\/local\/bin\/sugang-prepare\n\s+finish CONTINUE/)
    t.match(script, 'systemctl enable node-exporter.service sugang-launch.service')
    t.notMatch(script, /enable[^\n]*sugang\.service/, 'the service itself is started by the hook')
    const complete = resourceList(stack, 'aws_iam_role_policy').find(
      (p) => p.name === 'sugang-app-launch',
    )!
    t.match(complete.role, /aws_iam_role\.access_instance-role/)
    t.same(
      policyStatements(stack, complete.policy).map((s) => [s.actions, s.resources]),
      [
        [
          ['autoscaling:CompleteLifecycleAction'],
          [
            `arn:aws:autoscaling:ap-northeast-2:${config.accountId}:autoScalingGroup:*:autoScalingGroupName/${asg.name}`,
          ],
        ],
      ],
    )
  }
})

t.test('the container is stopped gracefully, with more time than the service drains', async (t) => {
  const delayMs = CLOSE_GRACE_MS
  t.ok(delayMs > 0, 'the service closes with grace')
  for (const stack of both) {
    const script = userData(stack)
    const stop = /^ExecStop=\/usr\/bin\/docker stop --time (\d+) sugang$/m.exec(script)
    t.ok(stop, 'docker stop, with a timeout')
    const seconds = Number(stop?.[1])
    t.equal(seconds, CONTAINER_STOP_SECONDS)
    t.ok(seconds * 1000 > delayMs, `${seconds} s outlasts the service's ${delayMs} ms`)
    t.notMatch(script, /^ExecStop=.*(kill|rm -f)|^KillSignal=SIGKILL/m, 'never killed outright')
    const timeout = Number(/^TimeoutStopSec=(\d+)$/m.exec(script)?.[1])
    t.ok(timeout > seconds, 'systemd waits for docker stop')
  }
})

t.test('a warm pool of stopped, pre-initialized instances covers the rush', async (t) => {
  for (const [stack, config] of [
    [small, profiles.small],
    [ha, profiles.ha],
  ] as const) {
    const pool = only(stack, 'aws_autoscaling_group').warm_pool
    t.equal(pool.pool_state, 'Stopped')
    t.ok(
      pool.max_group_prepared_capacity >= config.compute.rush.instances,
      'prepared up to the rush capacity',
    )
    t.same(pool.instance_reuse_policy, { reuse_on_scale_in: true })
  }
})

t.test('the group scales out ahead of each opening and back after it', async (t) => {
  for (const [stack, config] of [
    [small, profiles.small],
    [ha, profiles.ha],
  ] as const) {
    const { rush } = config.compute
    const openings = registrationOpenings(config.registration)
    const actions = resourceList(stack, 'aws_autoscaling_schedule')
    t.equal(actions.length, 2 * openings.length)
    t.equal(openings.length, 3, 'one per distinct opening of the calendar')
    for (const opening of openings) {
      const at = opening.getTime()
      const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z')
      const out = actions.find((a) => a.start_time === iso(at - rush.leadMinutes * 60_000))
      const back = actions.find((a) => a.start_time === iso(at + rush.holdMinutes * 60_000))
      t.match(out, {
        min_size: rush.instances,
        desired_capacity: rush.instances,
        max_size: config.compute.maxSize,
        autoscaling_group_name: /aws_autoscaling_group\./,
      })
      t.match(back, {
        min_size: config.compute.minSize,
        desired_capacity: config.compute.desiredCapacity,
      })
    }
    t.ok(rush.instances > config.compute.minSize, 'more than the floor')
    t.ok(rush.leadMinutes * 60 >= config.compute.instanceBootSeconds + 120, 'early enough')
  }
  // Actions already past are left out: AWS refuses them, and has run them.
  const opening = registrationOpenings(profiles.small.registration)[0]!.toISOString()
  const rush = { ...profiles.small.compute.rush, scheduleAfter: opening }
  const later = synthPlatform({ ...profiles.small, compute: { ...profiles.small.compute, rush } })
  const left = resourceList(later.app, 'aws_autoscaling_schedule')
  t.equal(left.length, 2 * 3 - 1, 'only the first scale-out is gone')
  t.throws(
    () =>
      synthPlatform({
        ...profiles.small,
        registration: { ...profiles.small.registration, opensAt: '2027-02-08 10:00' },
      }),
    /ISO 8601 with an offset/,
  )
  t.throws(
    () =>
      synthPlatform({
        ...profiles.small,
        compute: { ...profiles.small.compute, rush: { ...rush, leadMinutes: 2 } },
      }),
    /boot and warm-up/,
  )
})

t.test(
  'an apply during an opening keeps the scheduled minimum instead of resetting it',
  async (t) => {
    const config = profiles.ha
    const at = (instant: string) => {
      const rush = { ...config.compute.rush, scheduleAfter: new Date(instant).toISOString() }
      const app = synthPlatform({ ...config, compute: { ...config.compute, rush } }).app
      return only(app, 'aws_autoscaling_group')
    }
    const during = at('2027-02-08T10:30:00+09:00')
    t.equal(during.min_size, config.compute.rush.instances, 'the rush minimum, as scheduled')
    t.ok(during.desired_capacity >= during.min_size, 'a desired capacity AWS accepts')
    t.same(
      during.lifecycle,
      { ignore_changes: ['desired_capacity'] },
      'the size stays the schedule’s',
    )
    t.equal(at('2027-02-07T10:30:00+09:00').min_size, config.compute.minSize, 'off-peak otherwise')
    t.throws(
      () => synthPlatform({ ...config, compute: { ...config.compute, minSize: 0 } }),
      /compute\.minSize \(0\) must be at least 1/,
    )
  },
)

t.test('everything the group launches carries the profile’s tags', async (t) => {
  for (const [stack, config] of [
    [small, profiles.small],
    [ha, profiles.ha],
  ] as const) {
    const wanted = {
      ...config.tags,
      'sugang:profile': config.profile,
      'sugang:role': 'app',
      'sugang:stack': `sugang-${config.profile}-app`,
    }
    const specs = only(stack, 'aws_launch_template').tag_specifications as Body[]
    t.same(specs.map((s) => s.resource_type).sort(), ['instance', 'network-interface', 'volume'])
    for (const spec of specs) t.match(spec.tags, wanted, spec.resource_type)
    const asgTags = only(stack, 'aws_autoscaling_group').tag as Body[]
    for (const [key, value] of Object.entries(wanted)) {
      t.ok(
        asgTags.some((tag) => tag.key === key && tag.value === value && tag.propagate_at_launch),
        `the group propagates ${key}`,
      )
    }
  }
})
