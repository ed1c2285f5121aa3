import { execFileSync, spawn } from 'node:child_process'
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { freePort } from '@sugang/testkit/ports'
import t from 'tap'
import { parse } from 'yaml'
import { profiles } from '../src/config/index.js'
import {
  CONFIRMATION_DELAY_SECONDS,
  CONFIRMATION_METRICS,
  mysqlMaxConnections,
  REDIS_REPLICATION_LAG_SECONDS,
  WAF_BLOCKED_SHARE_ALARM,
  WAF_MANAGED_BLOCKS_ALARM,
} from '../src/constructs/alarms.js'
import {
  monitoringBackupTag,
  WATCHDOG_HEARTBEAT,
  watchdogRelayScript,
} from '../src/constructs/monitoring-host.js'
import { configurationSetName } from '../src/constructs/ses-configuration.js'
import { SESSION_PREFERENCES_DOCUMENT } from '../src/constructs/session-logging.js'
import {
  type Body,
  only,
  policyStatements,
  resourceList,
  resources,
  type SynthesizedPlatform,
  type SynthesizedStack,
  synthPlatform,
} from './helpers/synth.js'

const small = synthPlatform(profiles.small)
const ha = synthPlatform(profiles.ha)

/** The members of ha's Redis as ElastiCache names them: three shards of a primary and a replica. */
const HA_REDIS_MEMBERS = ['0001-001', '0001-002', '0002-001', '0002-002', '0003-001', '0003-002']
const repoRoot = new URL('../../', import.meta.url)

/** The alarms of a stack by their name without the profile prefix (`alb-5xx-rate`). */
function alarms(stack: SynthesizedStack, prefix: string): Record<string, Body> {
  return Object.fromEntries(
    resourceList(stack, 'aws_cloudwatch_metric_alarm').map((a) => [
      (a.alarm_name as string).slice(prefix.length + 1),
      a,
    ]),
  )
}

/** The cross-stack output a `${data.terraform_remote_state...}` expression reads. */
function remoteOutput(expression: string, stack: string): string | undefined {
  const escaped = stack.replace(/[-]/g, '\\-')
  return new RegExp(
    `^\\$\\{data\\.terraform_remote_state\\.cross-stack-reference-input-${escaped}\\.outputs\\.([^}]+)\\}`,
  ).exec(expression)?.[1]
}

/** The expression a stack's output holds. */
function outputValue(stack: SynthesizedStack, name: string): string {
  return stack.tf.output?.[name]?.value as string
}

t.test('the alarm topic is KMS-encrypted with a rotating key CloudWatch may use', async (t) => {
  for (const platform of [small, ha]) {
    const topic = only(platform.ops, 'aws_sns_topic')
    const [keyId, key] = Object.entries(resources(platform.ops, 'aws_kms_key')).find(([id]) =>
      id.startsWith('alarms_key'),
    )!
    t.equal(topic.kms_master_key_id, `\${aws_kms_key.${keyId}.arn}`)
    t.equal(key.enable_key_rotation, true)
    const cloudwatch = policyStatements(platform.ops, key.policy).find((s) =>
      s.principals?.[0]?.identifiers?.includes('cloudwatch.amazonaws.com'),
    )
    t.same(cloudwatch?.actions, ['kms:Decrypt', 'kms:GenerateDataKey*'])
  }
})

t.test('the on-call addresses of the profile are subscribed by e-mail', async (t) => {
  const subscriptions = resourceList(small.ops, 'aws_sns_topic_subscription')
  t.same(
    subscriptions.map((s) => [s.protocol, s.endpoint]),
    profiles.small.ops.alarmEmails.map((e) => ['email', e]),
  )
})

t.test('every alarm pages the topic, and says when it is OK again', async (t) => {
  for (const platform of [small, ha]) {
    const topicId = Object.keys(resources(platform.ops, 'aws_sns_topic'))[0]
    const topic = `\${aws_sns_topic.${topicId}.arn}`
    const list = resourceList(platform.ops, 'aws_cloudwatch_metric_alarm')
    t.ok(list.length >= 20)
    for (const alarm of list) {
      t.ok(alarm.alarm_actions.includes(topic), `${alarm.alarm_name} pages`)
      t.same(alarm.ok_actions, [topic], `${alarm.alarm_name} resolves`)
    }
  }
})

t.test('the alarms cover what must page without the monitoring host', async (t) => {
  const common = [
    'alb-5xx-rate',
    'alb-no-healthy-hosts',
    'alb-unhealthy-hosts',
    'app-under-minimum',
    'confirmations-dead',
    'confirmations-delayed',
    'monitoring-instance-check',
    'monitoring-system-check',
    'monitoring-watchdog',
    'notify-dlq',
    'notify-errors',
    'notify-throttles',
    'rds-connections',
    'rds-cpu',
    'rds-free-storage',
    'ses-bounce-rate',
    'ses-complaint-rate',
    'waf-blocked-AWSManagedRulesAmazonIpReputationList',
    'waf-blocked-AWSManagedRulesCommonRuleSet',
    'waf-blocked-AWSManagedRulesKnownBadInputsRuleSet',
    'waf-blocked-AWSManagedRulesSQLiRuleSet',
    'waf-blocked-rate-limit-per-ip-backstop',
    'waf-blocked-rate-limit-per-session',
    'waf-web-acl-blocked-share',
  ]
  const redis = (member: string, lag: boolean) =>
    ['cpu', 'engine-cpu', 'evictions', 'memory', ...(lag ? ['replication-lag'] : [])].map(
      (metric) => `redis-${member}-${metric}`,
    )
  t.same(
    Object.keys(alarms(small.ops, 'sugang-small')).sort(),
    [...common, ...redis('001', false)].sort(),
    'small: its one Redis node, which has no replica to lag',
  )
  t.same(
    Object.keys(alarms(ha.ops, 'sugang-ha')).sort(),
    [
      ...common,
      'rds-replica-connections',
      'rds-replica-cpu',
      'rds-replica-free-storage',
      'rds-replica-lag',
      ...HA_REDIS_MEMBERS.flatMap((member) => redis(member, true)),
    ].sort(),
    'ha: every node of every shard',
  )
})

t.test(
  'every node of the cluster-mode Redis has its own alarms, paging as the others do',
  async (t) => {
    const a = alarms(ha.ops, 'sugang-ha')
    const topicId = Object.keys(resources(ha.ops, 'aws_sns_topic'))[0]
    const topic = `\${aws_sns_topic.${topicId}.arn}`
    const expected: Record<string, Body> = {
      'engine-cpu': {
        metric_name: 'EngineCPUUtilization',
        comparison_operator: 'GreaterThanThreshold',
        threshold: 80,
      },
      memory: {
        metric_name: 'DatabaseMemoryUsagePercentage',
        comparison_operator: 'GreaterThanThreshold',
        threshold: 80,
      },
      evictions: {
        metric_name: 'Evictions',
        statistic: 'Sum',
        comparison_operator: 'GreaterThanThreshold',
        threshold: 0,
      },
      'replication-lag': {
        metric_name: 'ReplicationLag',
        statistic: 'Maximum',
        comparison_operator: 'GreaterThanThreshold',
        threshold: REDIS_REPLICATION_LAG_SECONDS,
        // A primary reports no lag: its silence must not page.
        treat_missing_data: 'notBreaching',
      },
    }
    const members = new Set<string>()
    for (const member of HA_REDIS_MEMBERS) {
      for (const [metric, properties] of Object.entries(expected)) {
        const alarm = a[`redis-${member}-${metric}`]
        t.match(alarm, { namespace: 'AWS/ElastiCache', ...properties }, `${member} ${metric}`)
        t.same(Object.keys(alarm?.dimensions ?? {}), ['CacheClusterId'], 'one node each')
        members.add(alarm?.dimensions.CacheClusterId)
        t.same(alarm?.alarm_actions, [topic])
        t.same(alarm?.ok_actions, [topic])
      }
    }
    t.equal(members.size, 6, 'six nodes watched: three shards of a primary and a replica')
  },
)

t.test('the alarms watch the resources the other stacks create', async (t) => {
  const a = alarms(ha.ops, 'sugang-ha')
  const follow = (expression: string, stack: SynthesizedStack, name: string) =>
    outputValue(stack, remoteOutput(expression, name)!)
  // Load balancer and target group: their ARN suffixes, from the app stack.
  t.match(
    follow(a['alb-no-healthy-hosts']!.dimensions.LoadBalancer, ha.app, 'sugang-ha-app'),
    /^\$\{aws_lb\.edge_alb_[^.]+\.arn_suffix\}$/,
  )
  t.match(
    follow(a['alb-unhealthy-hosts']!.dimensions.TargetGroup, ha.app, 'sugang-ha-app'),
    /^\$\{aws_lb_target_group\.edge_app-tg_[^.]+\.arn_suffix\}$/,
  )
  for (const q of a['alb-5xx-rate']!.metric_query.filter((q: Body) => q.metric)) {
    t.match(
      follow(q.metric.dimensions.LoadBalancer, ha.app, 'sugang-ha-app'),
      /aws_lb\.edge_alb_.*arn_suffix/,
    )
  }
  // The monitoring host's instance.
  for (const key of ['monitoring-system-check', 'monitoring-instance-check']) {
    t.match(
      follow(a[key]!.dimensions.InstanceId, ha.app, 'sugang-ha-app'),
      /^\$\{aws_instance\.monitoring_instance_[^.]+\.id\}$/,
    )
  }
  // The primary and the replica, by identifier.
  const dbs = resources(ha.data, 'aws_db_instance')
  const identifierOf = (expression: string) => {
    const value = follow(expression, ha.data, 'sugang-ha-data')
    const id = /^\$\{aws_db_instance\.([^.]+)\.identifier\}$/.exec(value)?.[1]
    return dbs[id!]?.identifier
  }
  t.equal(identifierOf(a['rds-cpu']!.dimensions.DBInstanceIdentifier), 'sugang-ha-mysql')
  t.equal(
    identifierOf(a['rds-replica-lag']!.dimensions.DBInstanceIdentifier),
    'sugang-ha-mysql-replica',
  )
  t.ok(dbs[Object.keys(dbs).find((id) => dbs[id]!.identifier === 'sugang-ha-mysql-replica')!])
  // The members of the cluster-mode replication group: <id>-<shard>-<node>, as ElastiCache names
  // them; in small, whose group has cluster mode off, <id>-001.
  for (const [platform, { profile }, members] of [
    [ha, profiles.ha, HA_REDIS_MEMBERS],
    [small, profiles.small, ['001']],
  ] as const) {
    const group = only(platform.data, 'aws_elasticache_replication_group')
    const watched = alarms(platform.ops, `sugang-${profile}`)
    for (const member of members) {
      for (const metric of ['engine-cpu', 'memory', 'evictions']) {
        const [expression, suffix] = (
          watched[`redis-${member}-${metric}`]!.dimensions.CacheClusterId as string
        ).split(/(?<=\})/)
        t.match(
          follow(expression!, platform.data, `sugang-${profile}-data`),
          /^\$\{aws_elasticache_replication_group\.[^.]+\.replication_group_id\}$/,
        )
        t.equal(`${group.replication_group_id}${suffix}`, `sugang-${profile}-redis-${member}`)
      }
    }
  }
  // The e-mail Lambda and its queue, by the names the notify stack gives them.
  const fn = only(ha.notify, 'aws_lambda_function')
  const dlq = only(ha.notify, 'aws_sqs_queue')
  t.equal(a['notify-errors']!.dimensions.FunctionName, fn.function_name)
  t.equal(a['notify-throttles']!.dimensions.FunctionName, fn.function_name)
  t.equal(a['notify-dlq']!.dimensions.QueueName, dlq.name)
  t.equal(a['confirmations-dead']!.dimensions[CONFIRMATION_METRICS.dimension], fn.function_name)
})

t.test('an app group with fewer instances in service than its minimum pages', async (t) => {
  for (const [platform, config] of [
    [small, profiles.small],
    [ha, profiles.ha],
  ] as const) {
    const alarm = alarms(platform.ops, `sugang-${config.profile}`)['app-under-minimum']!
    const asg = only(platform.app, 'aws_autoscaling_group')
    const queries = alarm.metric_query as Body[]
    const metric = (name: string) => queries.find((q) => q.metric?.metric_name === name)
    for (const name of ['GroupMinSize', 'GroupInServiceInstances']) {
      const query = metric(name)!
      t.match(query.metric, { namespace: 'AWS/AutoScaling', period: 60 }, name)
      const group = query.metric.dimensions.AutoScalingGroupName as string
      t.match(
        outputValue(platform.app, remoteOutput(group, `sugang-${config.profile}-app`)!),
        /^\$\{aws_autoscaling_group\.compute_asg_[^.]+\.name\}$/,
        'the app stack’s group, through its state',
      )
      t.ok(asg.enabled_metrics.includes(name), `the group publishes ${name}`)
    }
    const [result] = queries.filter((q) => q.return_data)
    const ids = Object.fromEntries(queries.map((q) => [q.metric?.metric_name, q.id]))
    t.equal(
      result!.expression,
      `FILL(${ids.GroupMinSize}, 0) - FILL(${ids.GroupInServiceInstances}, 0)`,
      'instances missing under the minimum',
    )
    t.match(alarm, { comparison_operator: 'GreaterThanThreshold', threshold: 0 })
    t.equal(alarm.evaluation_periods, alarm.datapoints_to_alarm, 'every minute of the span')
    t.equal(alarm.evaluation_periods, 10, 'two cold boots of 300 s')
  }
})

t.test('every rule of the web ACL pages when it blocks, under the names WAF reports', async (t) => {
  for (const [platform, config] of [
    [small, profiles.small],
    [ha, profiles.ha],
  ] as const) {
    const all = alarms(platform.ops, `sugang-${config.profile}`)
    const acl = only(platform.app, 'aws_wafv2_web_acl')
    const rules = JSON.parse(acl.rule_json as string) as {
      Name: string
      Action?: Body
      VisibilityConfig: { MetricName: string; CloudWatchMetricsEnabled: boolean }
    }[]
    const waf = Object.keys(all).filter((key) => key.startsWith('waf-blocked-'))
    t.same(waf.sort(), rules.map((r) => `waf-blocked-${r.Name}`).sort(), 'one alarm per rule')
    for (const rule of rules) {
      const alarm = all[`waf-blocked-${rule.Name}`]!
      t.ok(rule.VisibilityConfig.CloudWatchMetricsEnabled, `${rule.Name} publishes metrics`)
      t.match(alarm, {
        namespace: 'AWS/WAFV2',
        metric_name: 'BlockedRequests',
        statistic: 'Sum',
        period: 300,
        comparison_operator: 'GreaterThanThreshold',
        treat_missing_data: 'notBreaching',
      })
      t.same(
        alarm.dimensions,
        {
          WebACL: acl.visibility_config.metric_name,
          Rule: rule.VisibilityConfig.MetricName,
          Region: config.region,
        },
        `${rule.Name}: the web ACL's and the rule's metric names`,
      )
      // A rate rule blocks no student: its first block pages. The managed groups stop scanners
      // every day: a burst pages.
      t.equal(alarm.threshold, rule.Action ? 0 : WAF_MANAGED_BLOCKS_ALARM, rule.Name)
    }
  }
})

t.test(
  'the web ACL pages when it blocks a large share of what it sees, from its own totals',
  async (t) => {
    for (const [platform, config] of [
      [small, profiles.small],
      [ha, profiles.ha],
    ] as const) {
      const alarm = alarms(platform.ops, `sugang-${config.profile}`)['waf-web-acl-blocked-share']!
      const acl = only(platform.app, 'aws_wafv2_web_acl')
      t.equal(acl.default_action.allow !== undefined, true, 'what no rule blocks is allowed')
      const queries = alarm.metric_query as Body[]
      const ids: Record<string, string> = {}
      for (const name of ['BlockedRequests', 'AllowedRequests']) {
        const query = queries.find((q) => q.metric?.metric_name === name)
        t.match(query?.metric, { namespace: 'AWS/WAFV2', stat: 'Sum', period: 300 }, name)
        // WAF reports a web ACL's totals under Rule "ALL", and the web ACL under the metric name
        // of its visibility config: the same dimensions as the rules' alarms, but for every rule.
        t.same(
          query?.metric.dimensions,
          { WebACL: acl.visibility_config.metric_name, Rule: 'ALL', Region: config.region },
          `${name}: the web ACL's totals`,
        )
        t.equal(query?.return_data, undefined, `${name} is not what the alarm compares`)
        ids[name] = query?.id as string
      }
      const byId = Object.fromEntries(queries.map((q) => [q.id, q]))
      const returned = queries.filter((q) => q.return_data)
      t.equal(returned.length, 1, 'one series is compared')
      const blocks = /^FILL\((\w+), 0\)$/.exec(byId.blocks?.expression ?? '')?.[1]
      t.equal(blocks, ids.BlockedRequests, 'a period without blocks counts as none')
      t.equal(
        returned[0]?.expression,
        `IF(blocks >= ${WAF_BLOCKED_SHARE_ALARM.atLeast}, ` +
          `100 * blocks / (blocks + FILL(${ids.AllowedRequests}, 0)), 0)`,
        'the blocked percentage of all requests, once the blocks reach the floor',
      )
      t.match(alarm, {
        comparison_operator: 'GreaterThanThreshold',
        threshold: WAF_BLOCKED_SHARE_ALARM.percent,
        evaluation_periods: 2,
        datapoints_to_alarm: 2,
        treat_missing_data: 'notBreaching',
      })
      t.ok(
        WAF_BLOCKED_SHARE_ALARM.atLeast > WAF_MANAGED_BLOCKS_ALARM,
        'the floor is above what one managed group blocks before its own alarm',
      )
      t.match(alarm.alarm_description, /runbook: "WAF blocks requests"/)
    }
    const runbook = readFileSync(new URL('monitoring/runbook.md', repoRoot), 'utf8')
    t.match(runbook, /^## WAF blocks requests$/m, 'the runbook section the alarm names')
  },
)

t.test('the confirmation alarms read the metrics the Lambda really logs', async (t) => {
  // The service's own function, run: the line CloudWatch turns into metrics.
  const line = execFileSync(
    process.execPath,
    [
      '--import',
      'tsx',
      '--input-type=module',
      '-e',
      `const { metricsLine } = await import('@sugang/service/notify-email')
       process.stdout.write(metricsLine('sugang-small-notify-email',
         { sent: 0, retried: 0, dead: 0 }, { pending: 0, sending: 0, dead: 2, oldestWaiting: null },
         new Date()))`,
    ],
    { cwd: new URL('service/', repoRoot).pathname, encoding: 'utf8' },
  )
  const emf = JSON.parse(line) as Body
  const [directive] = emf._aws.CloudWatchMetrics
  const a = alarms(small.ops, 'sugang-small')
  for (const key of ['confirmations-dead', 'confirmations-delayed']) {
    const alarm = a[key]!
    t.equal(alarm.namespace, directive.Namespace, `${key}: namespace`)
    t.same(Object.keys(alarm.dimensions), directive.Dimensions[0], `${key}: dimensions`)
    t.equal(alarm.dimensions.FunctionName, emf.FunctionName, `${key}: function name`)
    t.ok(
      directive.Metrics.some((m: Body) => m.Name === alarm.metric_name),
      `${key}: ${alarm.metric_name} is logged`,
    )
  }
  t.equal(emf.ConfirmationsDead, 2)
  t.equal(a['confirmations-dead']!.comparison_operator, 'GreaterThanThreshold')
  t.equal(a['confirmations-dead']!.threshold, 0)
  // Logged every run, 0 when nothing waits: silence is a sender that does not run.
  t.equal(emf.ConfirmationOldestWaitingSeconds, 0)
  t.equal(a['confirmations-delayed']!.treat_missing_data, 'breaching')
  t.equal(a['confirmations-delayed']!.threshold, CONFIRMATION_DELAY_SECONDS)
  const rules = readFileSync(new URL('monitoring/prometheus/rules/sugang.yml', repoRoot), 'utf8')
  t.match(
    rules,
    `sugang_confirmation_oldest_waiting_seconds{job="sugang"}) > ${CONFIRMATION_DELAY_SECONDS}`,
  )
})

t.test('thresholds follow the profile: connections, storage, replica lag', async (t) => {
  const a = alarms(ha.ops, 'sugang-ha')
  t.equal(mysqlMaxConnections('db.m6g.large'), 682)
  t.equal(a['rds-connections']!.threshold, Math.floor(682 * 0.8))
  t.equal(a['rds-free-storage']!.threshold, 5 * 2 ** 30, '5 % of 100 GiB')
  t.equal(alarms(small.ops, 'sugang-small')['rds-free-storage']!.threshold, 2 * 2 ** 30)
  t.equal(a['rds-replica-lag']!.metric_name, 'ReplicaLag')
  t.throws(() => mysqlMaxConnections('db.x9.huge'), /add it to RDS_CLASS_MEMORY_GIB/)
  t.throws(
    () =>
      synthPlatform({
        ...profiles.small,
        database: { ...profiles.small.database, instanceClass: 'db.x9.huge' },
      }),
    /db\.x9\.huge/,
  )
})

t.test('the 5xx alarm is a rate with a floor, not a count', async (t) => {
  const alarm = alarms(small.ops, 'sugang-small')['alb-5xx-rate']!
  const returned = alarm.metric_query.filter((q: Body) => q.return_data)
  t.equal(returned.length, 1)
  t.match(returned[0].expression, /IF\(errors >= 10, 100 \* errors \/ FILL\(requests, 1\), 0\)/)
  t.same(
    alarm.metric_query
      .filter((q: Body) => q.metric)
      .map((q: Body) => q.metric.metric_name)
      .sort(),
    ['HTTPCode_ELB_5XX_Count', 'HTTPCode_Target_5XX_Count', 'RequestCount'],
  )
  t.equal(alarm.threshold, 5)
})

t.test('the monitoring host recovers, reboots, and its silence pages', async (t) => {
  const a = alarms(small.ops, 'sugang-small')
  t.same(
    a['monitoring-system-check']!.alarm_actions[0],
    'arn:aws:automate:ap-northeast-2:ec2:recover',
  )
  t.equal(a['monitoring-system-check']!.metric_name, 'StatusCheckFailed_System')
  t.same(
    a['monitoring-instance-check']!.alarm_actions[0],
    'arn:aws:automate:ap-northeast-2:ec2:reboot',
  )
  t.equal(a['monitoring-instance-check']!.metric_name, 'StatusCheckFailed_Instance')
  const watchdog = a['monitoring-watchdog']!
  t.match(watchdog, {
    namespace: WATCHDOG_HEARTBEAT.namespace,
    metric_name: WATCHDOG_HEARTBEAT.metricName,
    comparison_operator: 'LessThanThreshold',
    threshold: 1,
    treat_missing_data: 'breaching',
  })
  // Recovery needs the per-minute status checks of detailed monitoring.
  t.equal(only(small.app, 'aws_instance').monitoring, true)
})

t.test('the host may write its heartbeat and no other metric', async (t) => {
  const role = resourceList(small.app, 'aws_iam_role_policy').find(
    (p) => p.name === 'sugang-monitoring',
  )!
  const put = policyStatements(small.app, role.policy).filter((s) =>
    s.actions.includes('cloudwatch:PutMetricData'),
  )
  t.equal(put.length, 1)
  t.same(put[0]!.condition, [
    {
      test: 'StringEquals',
      variable: 'cloudwatch:namespace',
      values: [WATCHDOG_HEARTBEAT.namespace],
    },
  ])
  t.not(WATCHDOG_HEARTBEAT.namespace, CONFIRMATION_METRICS.namespace)
})

t.test('Alertmanager sends the Watchdog every minute to the relay the host runs', async (t) => {
  const config = parse(
    readFileSync(new URL('monitoring/alertmanager/alertmanager.yml', repoRoot), 'utf8'),
  ) as Body
  const route = (config.route.routes as Body[]).find((r) =>
    (r.matchers as string[]).includes(`alertname="${WATCHDOG_HEARTBEAT.alertname}"`),
  )!
  t.ok(route, 'a route for the Watchdog')
  t.equal(config.route.routes.indexOf(route), 0, 'first, so that no other route takes it')
  t.equal(route.repeat_interval, '1m')
  t.equal(route.group_interval, '1m')
  const receiver = (config.receivers as Body[]).find((r) => r.name === route.receiver)!
  t.same(
    receiver.webhook_configs.map((w: Body) => w.url),
    [`http://127.0.0.1:${WATCHDOG_HEARTBEAT.port}/`],
  )
  const rule = readFileSync(new URL('monitoring/prometheus/rules/watchdog.yml', repoRoot), 'utf8')
  t.match(rule, `alert: ${WATCHDOG_HEARTBEAT.alertname}`)

  const userData = only(small.app, 'aws_instance').user_data as string
  t.ok(userData.includes(watchdogRelayScript()), 'the relay is installed')
  t.match(
    userData,
    `ExecStart=/usr/local/bin/sugang-watchdog-relay ap-northeast-2 ${WATCHDOG_HEARTBEAT.namespace} ${WATCHDOG_HEARTBEAT.metricName} ${WATCHDOG_HEARTBEAT.port}`,
  )
  t.match(userData, /systemctl enable --now .*sugang-watchdog-relay\.service/)
})

t.test(
  'the relay turns a firing Watchdog into one data point, and nothing else into any',
  async (t) => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sugang-relay-'))
    const calls = path.join(dir, 'calls')
    writeFileSync(calls, '')
    // A stand-in for the AWS CLI that records its arguments.
    writeFileSync(path.join(dir, 'aws'), `#!/bin/sh\necho "$*" >> '${calls}'\n`)
    chmodSync(path.join(dir, 'aws'), 0o755)
    writeFileSync(path.join(dir, 'relay'), watchdogRelayScript())
    const port = await freePort()
    // The interpreter itself: a version manager's python3 shim would put its own bin (and any
    // AWS CLI there) ahead of the stand-in on PATH.
    const python = execFileSync('python3', ['-c', 'import sys; print(sys.executable)'], {
      encoding: 'utf8',
    }).trim()
    const relay = spawn(
      python,
      [
        path.join(dir, 'relay'),
        'ap-northeast-2',
        'sugang/monitoring',
        'WatchdogHeartbeat',
        `${port}`,
      ],
      { env: { ...process.env, PATH: `${dir}:${process.env.PATH}` }, stdio: 'ignore' },
    )
    t.teardown(() => relay.kill())
    const post = async (body: unknown): Promise<number> => {
      for (let attempt = 0; ; attempt++) {
        try {
          const response = await fetch(`http://127.0.0.1:${port}/`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: typeof body === 'string' ? body : JSON.stringify(body),
          })
          return response.status
        } catch (err) {
          if (attempt > 50) throw err
          await new Promise((r) => setTimeout(r, 100))
        }
      }
    }
    const notification = (alertname: string, status: string) => ({
      version: '4',
      status,
      receiver: 'watchdog-heartbeat',
      alerts: [{ status, labels: { alertname, severity: 'none' }, annotations: {} }],
    })
    t.equal(await post(notification('Watchdog', 'firing')), 200)
    t.equal(await post(notification('Watchdog', 'resolved')), 400)
    t.equal(await post(notification('InstanceDown', 'firing')), 400)
    t.equal(await post('not json'), 400)
    t.same(readFileSync(calls, 'utf8').trim().split('\n'), [
      'cloudwatch put-metric-data --region ap-northeast-2 --namespace sugang/monitoring ' +
        '--metric-name WatchdogHeartbeat --value 1 --unit Count',
    ])
    // A failed put is a failed notification, for Alertmanager to retry and count.
    writeFileSync(path.join(dir, 'aws'), '#!/bin/sh\nexit 255\n')
    t.equal(await post(notification('Watchdog', 'firing')), 502)
  },
)

t.test('the monitoring volume is snapshotted daily, found by its tag', async (t) => {
  for (const [platform, config] of [
    [small, profiles.small],
    [ha, profiles.ha],
  ] as [SynthesizedPlatform, typeof profiles.small][]) {
    const prefix = `sugang-${config.profile}`
    const tag = monitoringBackupTag(prefix)
    t.equal(only(platform.app, 'aws_instance').volume_tags[tag.key], tag.value)
    const policy = only(platform.ops, 'aws_dlm_lifecycle_policy')
    t.equal(policy.state, 'ENABLED')
    t.same(policy.policy_details.resource_types, ['VOLUME'])
    t.same(policy.policy_details.target_tags, { [tag.key]: tag.value })
    const [schedule] = policy.policy_details.schedule
    t.match(schedule.create_rule, { interval: 24, interval_unit: 'HOURS' })
    t.equal(schedule.retain_rule.count, config.ops.monitoringSnapshotsRetained)
    // Nothing else carries the tag: the app instances' volumes are disposable.
    const template = only(platform.app, 'aws_launch_template')
    t.notMatch(JSON.stringify(template), tag.value)
  }
})

t.test(
  'Session Manager encrypts sessions and logs transcripts to an encrypted group',
  async (t) => {
    for (const platform of [small, ha]) {
      const document = only(platform.ops, 'aws_ssm_document')
      t.match(document, {
        name: SESSION_PREFERENCES_DOCUMENT,
        document_type: 'Session',
        document_format: 'JSON',
      })
      const content = JSON.parse(document.content) as Body
      const [keyId, key] = Object.entries(resources(platform.ops, 'aws_kms_key')).find(([id]) =>
        id.startsWith('sessions_key'),
      )!
      const [groupId, group] = Object.entries(
        resources(platform.ops, 'aws_cloudwatch_log_group'),
      )[0]!
      t.equal(content.sessionType, 'Standard_Stream')
      t.match(content.inputs, {
        kmsKeyId: `\${aws_kms_key.${keyId}.arn}`,
        cloudWatchLogGroupName: group.name,
        cloudWatchEncryptionEnabled: true,
        cloudWatchStreamingEnabled: true,
        runAsEnabled: false,
      })
      t.equal(group.kms_key_id, `\${aws_kms_key.${keyId}.arn}`)
      t.equal(key.enable_key_rotation, true)
      const logs = policyStatements(platform.ops, key.policy).find(
        (s) => s.principals?.[0]?.identifiers?.[0] === 'logs.ap-northeast-2.amazonaws.com',
      )!
      t.match(logs.condition[0].values[0], new RegExp(`:log-group:${group.name}$`))
      t.ok(groupId)
    }
  },
)

t.test(
  'Session Manager preferences that exist already are imported, not created again',
  async (t) => {
    // A new account has no preferences document: the stack creates it, and imports nothing.
    t.notOk(small.ops.tf.import, 'no import by default')
    const adopting = synthPlatform({
      ...profiles.small,
      ops: { ...profiles.small.ops, sessionPreferencesExist: true },
    }).ops
    const [id] = Object.keys(resources(adopting, 'aws_ssm_document'))
    t.same(adopting.tf.import, [{ id: SESSION_PREFERENCES_DOCUMENT, to: `aws_ssm_document.${id}` }])
    t.equal(only(adopting, 'aws_ssm_document').name, SESSION_PREFERENCES_DOCUMENT)
  },
)

t.test('both instance roles get what the SSM agent needs to log sessions', async (t) => {
  const policies = resourceList(small.ops, 'aws_iam_role_policy')
  const roles = policies.map((p) =>
    outputValue(small.app, remoteOutput(p.role, 'sugang-small-app')!),
  )
  t.same(
    roles.sort(),
    [
      expect('aws_iam_role', 'access_instance-role'),
      expect('aws_iam_role', 'monitoring_role'),
    ].sort(),
  )
  const appRoles = resources(small.app, 'aws_iam_role')
  for (const role of roles) {
    const id = /^\$\{aws_iam_role\.([^.]+)\.name\}$/.exec(role)?.[1]
    t.ok(appRoles[id!], `${role} is a role of the app stack`)
  }
  const [keyId] = Object.keys(resources(small.ops, 'aws_kms_key')).filter((id) =>
    id.startsWith('sessions_key'),
  )
  const [groupId] = Object.keys(resources(small.ops, 'aws_cloudwatch_log_group'))
  for (const policy of policies) {
    const statements = policyStatements(small.ops, policy.policy)
    const byAction = (action: string) => statements.find((s) => s.actions.includes(action))
    t.same(byAction('kms:Decrypt')!.resources, [`\${aws_kms_key.${keyId}.arn}`])
    t.same(byAction('logs:PutLogEvents')!.resources, [
      `\${aws_cloudwatch_log_group.${groupId}.arn}:*`,
    ])
  }

  function expect(type: string, id: string): string {
    const found = Object.keys(resources(small.app, type)).find((k) => k.startsWith(`${id}_`))
    return `\${${type}.${found}.name}`
  }
})

t.test('the e-mails go out through a configuration set that suppresses bounces', async (t) => {
  for (const [platform, config] of [
    [small, profiles.small],
    [ha, profiles.ha],
  ] as [SynthesizedPlatform, typeof profiles.small][]) {
    const name = configurationSetName(`sugang-${config.profile}`)
    const set = only(platform.ops, 'aws_sesv2_configuration_set')
    t.match(set, {
      configuration_set_name: name,
      reputation_options: { reputation_metrics_enabled: true },
      suppression_options: { suppressed_reasons: ['BOUNCE', 'COMPLAINT'] },
    })
    const destination = only(platform.ops, 'aws_sesv2_configuration_set_event_destination')
    t.equal(destination.event_destination.enabled, true)
    for (const event of ['BOUNCE', 'COMPLAINT', 'REJECT', 'DELIVERY_DELAY']) {
      t.ok(destination.event_destination.matching_event_types.includes(event), event)
    }
    t.ok(destination.event_destination.cloud_watch_destination)

    const fn = only(platform.notify, 'aws_lambda_function')
    t.equal(fn.environment.variables.SES_CONFIGURATION_SET, name)
    const send = policyStatements(
      platform.notify,
      only(platform.notify, 'aws_iam_role_policy').policy,
    ).find((s) => s.actions.includes('ses:SendEmail'))!
    t.ok(
      send.resources.includes(
        `arn:aws:ses:ap-northeast-2:${config.accountId}:configuration-set/${name}`,
      ),
      'SES v2 checks the configuration set too',
    )
  }
})

t.test('DKIM records are published where the sender domain has a hosted zone', async (t) => {
  t.same(resourceList(small.notify, 'aws_route53_record'), [], 'small: no zone, no records')
  const records = resourceList(ha.notify, 'aws_route53_record')
  t.equal(records.length, 3)
  const identity = Object.keys(resources(ha.notify, 'aws_sesv2_email_identity'))[0]
  records.forEach((record, i) => {
    const token = `\${element(aws_sesv2_email_identity.${identity}.dkim_signing_attributes[0].tokens, ${i})}`
    t.match(record, {
      zone_id: profiles.ha.notify.hostedZoneId,
      type: 'CNAME',
      name: `${token}._domainkey.${profiles.ha.notify.senderDomain}`,
      records: [`${token}.dkim.amazonses.com`],
    })
  })
})

t.test('the ops stack depends on app and data; notify does not depend on it', async (t) => {
  const remote = (stack: SynthesizedStack) =>
    Object.keys(stack.tf.data?.terraform_remote_state ?? {}).map((k) => k.replace(/^.*input-/, ''))
  t.same(remote(small.ops).sort(), ['sugang-small-app', 'sugang-small-data'])
  t.notOk(remote(small.notify).includes('sugang-small-ops'))
  t.notOk(remote(small.app).includes('sugang-small-ops'))
})
