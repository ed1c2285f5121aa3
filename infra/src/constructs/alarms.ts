import {
  CloudwatchMetricAlarm,
  DataAwsIamPolicyDocument,
  KmsAlias,
  KmsKey,
  SnsTopic,
  SnsTopicSubscription,
} from '../aws.js'
import { Construct } from '../cdktf.js'
import type { CacheConfig, DatabaseConfig } from '../config/types.js'
import { memberSuffixes } from './cache.js'
import { MANAGED_RULE_GROUPS, RATE_RULES, type WebAclMetricNames } from './edge.js'
import { WATCHDOG_HEARTBEAT } from './monitoring-host.js'

/** Namespace and dimension the e-mail Lambda logs its metrics under (embedded metric format). */
export const CONFIRMATION_METRICS = { namespace: 'sugang', dimension: 'FunctionName' } as const

/** Seconds the oldest owed confirmation may wait; the same as SugangConfirmationEmailsDelayed. */
export const CONFIRMATION_DELAY_SECONDS = 1200

// Nominal memory (GiB) of the RDS classes the profiles use. MySQL's default max_connections is
// {DBInstanceClassMemory/12582880}; the alarm needs that number, and a class missing here fails
// synthesis instead of alarming at a made-up threshold.
const RDS_CLASS_MEMORY_GIB: Readonly<Record<string, number>> = {
  'db.t4g.micro': 1,
  'db.t4g.small': 2,
  'db.t4g.medium': 4,
  'db.t4g.large': 8,
  'db.m6g.large': 8,
  'db.m6g.xlarge': 16,
  'db.m7g.large': 8,
  'db.m7g.xlarge': 16,
  'db.r6g.large': 16,
  'db.r7g.large': 16,
}

/** MySQL's default max_connections on an RDS class (an upper bound: RDS reserves some memory). */
export function mysqlMaxConnections(instanceClass: string): number {
  const gib = RDS_CLASS_MEMORY_GIB[instanceClass]
  if (gib === undefined) {
    throw new Error(
      `alarms: no memory size for ${instanceClass}; add it to RDS_CLASS_MEMORY_GIB in alarms.ts`,
    )
  }
  return Math.floor((gib * 2 ** 30) / 12_582_880)
}

/**
 * Minutes the app group may have fewer instances in service than its minimum before the alarm
 * pages: two cold boots, so that a launch that fails once and is replaced does not page, and a
 * scale-out that keeps failing pages before the opening it was scheduled for (its lead is longer).
 */
export function capacityAlarmMinutes(instanceBootSeconds: number): number {
  return 2 * Math.ceil(instanceBootSeconds / 60)
}

export interface AlarmsProps {
  readonly name: string
  readonly region: string
  readonly accountId: string
  readonly emails: readonly string[]
  readonly loadBalancerArnSuffix: string
  readonly targetGroupArnSuffix: string
  readonly database: DatabaseConfig
  readonly databaseIdentifier: string
  /** Set when the profile has a read replica. */
  readonly replicaIdentifier?: string
  readonly cache: CacheConfig
  readonly cacheReplicationGroupId: string
  readonly notifyFunctionName: string
  readonly notifyDeadLetterQueueName: string
  readonly monitoringInstanceId: string
  /** The app instances' group, and how long one of its instances takes to boot. */
  readonly autoscalingGroupName: string
  readonly instanceBootSeconds: number
  /** The CloudWatch names of the web ACL in front of the load balancer and of its rules. */
  readonly webAcl: WebAclMetricNames
}

/**
 * Seconds a Redis replica may stay behind its primary (in each of 5 minutes) before it pages.
 * Replication is asynchronous: a replica promoted while this far behind loses up to that many
 * seconds of acknowledged writes (enqueued requests among them).
 */
export const REDIS_REPLICATION_LAG_SECONDS = 5

/**
 * Blocks by one managed rule group within 5 minutes that page: above the scanners and bad bots
 * the groups stop all day, a burst that is students (a false positive) or an attack worth a look.
 */
export const WAF_MANAGED_BLOCKS_ALARM = 100

/**
 * The web ACL as a whole pages when it blocks more than `percent` of the requests it sees (and at
 * least `atLeast` in 5 minutes), in two 5-minute periods running. The rules' own alarms say which
 * rule blocks; this says how much of the traffic is turned away, whichever rules share it: an
 * attack held at the edge, or students shut out by a rule. The floor keeps the scanners of a quiet
 * night, a large share of very little, from paging.
 */
export const WAF_BLOCKED_SHARE_ALARM = { percent: 5, atLeast: 1000 } as const

/** The `Rule` dimension under which WAF reports a web ACL's totals over all of its rules. */
export const WEB_ACL_TOTALS_RULE = 'ALL'

interface MetricAlarm {
  readonly description: string
  readonly namespace: string
  readonly metricName: string
  readonly dimensions: Record<string, string>
  readonly statistic: 'Average' | 'Maximum' | 'Minimum' | 'Sum' | 'SampleCount'
  readonly periodSeconds: number
  readonly evaluationPeriods: number
  readonly datapointsToAlarm?: number
  readonly comparison:
    | 'GreaterThanThreshold'
    | 'GreaterThanOrEqualToThreshold'
    | 'LessThanThreshold'
    | 'LessThanOrEqualToThreshold'
  readonly threshold: number
  /** Missing data is fine (`notBreaching`) unless silence itself is the fault (`breaching`). */
  readonly missing: 'breaching' | 'notBreaching'
  /** EC2 automate actions taken besides paging (recover, reboot). */
  readonly extraActions?: string[]
}

/**
 * CloudWatch alarms for what must page even when the monitoring host is down, all to one
 * KMS-encrypted SNS topic: the load balancer, MySQL, Redis, the e-mail Lambda and its queue, the
 * confirmations it reports, SES reputation, and the monitoring host itself (status checks, with
 * automatic recovery, and the Watchdog heartbeat its Alertmanager sends through CloudWatch).
 * Every alarm also tells the topic when it is OK again.
 */
export class Alarms extends Construct {
  readonly key: KmsKey
  readonly topic: SnsTopic
  readonly alarms: Record<string, CloudwatchMetricAlarm> = {}

  constructor(scope: Construct, id: string, props: AlarmsProps) {
    super(scope, id)
    const { name, region, accountId } = props

    this.key = new KmsKey(this, 'key', {
      description: `${name} alarm topic`,
      enableKeyRotation: true,
      deletionWindowInDays: 30,
      policy: new DataAwsIamPolicyDocument(this, 'key-policy', {
        statement: [
          {
            sid: 'AccountAdministers',
            effect: 'Allow',
            actions: ['kms:*'],
            resources: ['*'],
            principals: [{ type: 'AWS', identifiers: [`arn:aws:iam::${accountId}:root`] }],
          },
          {
            // CloudWatch publishes alarm state changes to the encrypted topic.
            sid: 'CloudWatchPublishes',
            effect: 'Allow',
            actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
            resources: ['*'],
            principals: [{ type: 'Service', identifiers: ['cloudwatch.amazonaws.com'] }],
          },
        ],
      }).json,
    })
    new KmsAlias(this, 'key-alias', { name: `alias/${name}-alarms`, targetKeyId: this.key.keyId })

    this.topic = new SnsTopic(this, 'topic', {
      name: `${name}-alarms`,
      displayName: `${name} alarms`,
      kmsMasterKeyId: this.key.arn,
    })
    props.emails.forEach((email, i) => {
      new SnsTopicSubscription(this, `email-${i}`, {
        topicArn: this.topic.arn,
        protocol: 'email',
        endpoint: email,
      })
    })

    const alarm = (key: string, a: MetricAlarm): CloudwatchMetricAlarm => {
      const resource = new CloudwatchMetricAlarm(this, key, {
        alarmName: `${name}-${key}`,
        alarmDescription: a.description,
        namespace: a.namespace,
        metricName: a.metricName,
        dimensions: a.dimensions,
        statistic: a.statistic,
        period: a.periodSeconds,
        evaluationPeriods: a.evaluationPeriods,
        datapointsToAlarm: a.datapointsToAlarm ?? a.evaluationPeriods,
        comparisonOperator: a.comparison,
        threshold: a.threshold,
        treatMissingData: a.missing,
        alarmActions: [...(a.extraActions ?? []), this.topic.arn],
        okActions: [this.topic.arn],
      })
      this.alarms[key] = resource
      return resource
    }

    // --- load balancer ---------------------------------------------------------------------------
    const lb = { LoadBalancer: props.loadBalancerArnSuffix }
    const tg = { ...lb, TargetGroup: props.targetGroupArnSuffix }
    const albMetric = (id: string, metricName: string) => ({
      id,
      metric: {
        namespace: 'AWS/ApplicationELB',
        metricName,
        dimensions: lb,
        stat: 'Sum',
        period: 60,
      },
    })
    // A ratio, so that the rush's volume does not page by itself; at least 10 errors a minute, so
    // that 1 failure in 3 requests at night does not either. ELB 5xx (no healthy target, timeouts)
    // count too: RequestCount leaves out requests no target was chosen for, hence FILL(.., 1).
    this.alarms['alb-5xx-rate'] = new CloudwatchMetricAlarm(this, 'alb-5xx-rate', {
      alarmName: `${name}-alb-5xx-rate`,
      alarmDescription:
        'More than 5 % of requests (and at least 10 a minute) answered with a 5xx for 3 minutes',
      evaluationPeriods: 3,
      datapointsToAlarm: 3,
      comparisonOperator: 'GreaterThanThreshold',
      threshold: 5,
      treatMissingData: 'notBreaching',
      metricQuery: [
        albMetric('elb5xx', 'HTTPCode_ELB_5XX_Count'),
        albMetric('target5xx', 'HTTPCode_Target_5XX_Count'),
        albMetric('requests', 'RequestCount'),
        { id: 'errors', expression: 'FILL(elb5xx, 0) + FILL(target5xx, 0)' },
        {
          id: 'rate',
          expression: 'IF(errors >= 10, 100 * errors / FILL(requests, 1), 0)',
          label: '5xx % of requests',
          returnData: true,
        },
      ],
      alarmActions: [this.topic.arn],
      okActions: [this.topic.arn],
    })
    alarm('alb-no-healthy-hosts', {
      description: 'No app instance passes the target group health check: the service is down',
      namespace: 'AWS/ApplicationELB',
      metricName: 'HealthyHostCount',
      dimensions: tg,
      statistic: 'Minimum',
      periodSeconds: 60,
      evaluationPeriods: 2,
      comparison: 'LessThanThreshold',
      threshold: 1,
      missing: 'breaching',
    })
    // Instances that fail the check for 5 minutes, longer than an instance refresh keeps a new
    // one out of service.
    alarm('alb-unhealthy-hosts', {
      description: 'An app instance has failed the target group health check for 5 minutes',
      namespace: 'AWS/ApplicationELB',
      metricName: 'UnHealthyHostCount',
      dimensions: tg,
      statistic: 'Maximum',
      periodSeconds: 60,
      evaluationPeriods: 5,
      comparison: 'GreaterThanOrEqualToThreshold',
      threshold: 1,
      missing: 'notBreaching',
    })

    // --- WAF -------------------------------------------------------------------------------------
    // WAF reports a rule's BlockedRequests only when it blocks. The rate rules are sized so that
    // no student's browser and no shared address of students reaches them: any block is a client
    // far out of line, or a limit too low for a campus, and the WAF log names the address. The
    // managed groups block scanners every day, so those page on a burst.
    const wafRules = [
      ...RATE_RULES.map((rule) => [rule, 0] as const),
      ...MANAGED_RULE_GROUPS.map((rule) => [rule, WAF_MANAGED_BLOCKS_ALARM] as const),
    ]
    for (const [rule, threshold] of wafRules) {
      alarm(`waf-blocked-${rule}`, {
        description:
          threshold === 0
            ? `WAF's ${rule} blocked requests: a client far above any student's rate, or a shared address above the limit (the WAF log names it)`
            : `WAF's ${rule} blocked more than ${threshold} requests in 5 minutes: students hit by a false positive, or an attack`,
        namespace: 'AWS/WAFV2',
        metricName: 'BlockedRequests',
        dimensions: { WebACL: props.webAcl.webAcl, Rule: props.webAcl.rules[rule], Region: region },
        statistic: 'Sum',
        periodSeconds: 300,
        evaluationPeriods: 1,
        comparison: 'GreaterThanThreshold',
        threshold,
        missing: 'notBreaching',
      })
    }

    // The web ACL's totals (Rule ALL): the share of what it saw that it blocked. A request is
    // blocked by one rule at most, so the blocks of all rules add up to it.
    const aclTotals = { WebACL: props.webAcl.webAcl, Rule: WEB_ACL_TOTALS_RULE, Region: region }
    const wafMetric = (id: string, metricName: string) => ({
      id,
      metric: {
        namespace: 'AWS/WAFV2',
        metricName,
        dimensions: aclTotals,
        stat: 'Sum',
        period: 300,
      },
    })
    const share = WAF_BLOCKED_SHARE_ALARM
    this.alarms['waf-web-acl-blocked-share'] = new CloudwatchMetricAlarm(
      this,
      'waf-web-acl-blocked-share',
      {
        alarmName: `${name}-waf-web-acl-blocked-share`,
        alarmDescription:
          `The web ACL blocked more than ${share.percent} % of the requests it saw (and at least ` +
          `${share.atLeast} in 5 minutes) for 10 minutes: an attack held at the edge, or students ` +
          'shut out by a rule (runbook: "WAF blocks requests")',
        evaluationPeriods: 2,
        datapointsToAlarm: 2,
        comparisonOperator: 'GreaterThanThreshold',
        threshold: share.percent,
        treatMissingData: 'notBreaching',
        metricQuery: [
          wafMetric('blocked', 'BlockedRequests'),
          wafMetric('allowed', 'AllowedRequests'),
          // WAF reports each metric only when it is not zero.
          { id: 'blocks', expression: 'FILL(blocked, 0)' },
          {
            id: 'share',
            expression: `IF(blocks >= ${share.atLeast}, 100 * blocks / (blocks + FILL(allowed, 0)), 0)`,
            label: 'blocked % of requests',
            returnData: true,
          },
        ],
        alarmActions: [this.topic.arn],
        okActions: [this.topic.arn],
      },
    )

    // --- app instances ---------------------------------------------------------------------------
    // Against the group's own minimum, which the rush schedule raises before each opening: a
    // scale-out that does not happen (no capacity, a broken image, a quota) pages before the rush.
    const asgMetric = (id: string, metricName: string, stat: string) => ({
      id,
      metric: {
        namespace: 'AWS/AutoScaling',
        metricName,
        dimensions: { AutoScalingGroupName: props.autoscalingGroupName },
        stat,
        period: 60,
      },
    })
    const minutes = capacityAlarmMinutes(props.instanceBootSeconds)
    this.alarms['app-under-minimum'] = new CloudwatchMetricAlarm(this, 'app-under-minimum', {
      alarmName: `${name}-app-under-minimum`,
      alarmDescription: `Fewer app instances in service than the group's minimum (the scheduled rush capacity during an opening) for ${minutes} minutes`,
      evaluationPeriods: minutes,
      datapointsToAlarm: minutes,
      comparisonOperator: 'GreaterThanThreshold',
      threshold: 0,
      treatMissingData: 'notBreaching',
      metricQuery: [
        asgMetric('minimum', 'GroupMinSize', 'Maximum'),
        asgMetric('inservice', 'GroupInServiceInstances', 'Minimum'),
        {
          id: 'missing',
          // The group reports 0 in service as 0; a gap in one series alone counts as none.
          expression: 'FILL(minimum, 0) - FILL(inservice, 0)',
          label: 'instances missing under the minimum',
          returnData: true,
        },
      ],
      alarmActions: [this.topic.arn],
      okActions: [this.topic.arn],
    })

    // --- MySQL -----------------------------------------------------------------------------------
    const databases: [string, string, string | undefined][] = [
      ['rds', props.databaseIdentifier, props.database.instanceClass],
    ]
    if (props.replicaIdentifier) {
      databases.push(['rds-replica', props.replicaIdentifier, props.database.replicaInstanceClass])
    }
    // Storage autoscaling grows the volume once less than 10 % is free; the alarm is for when it
    // cannot (at maxAllocatedStorage, or within its 6-hour cooldown).
    const freeStorageGiB = Math.max(2, props.database.allocatedStorageGiB * 0.05)
    for (const [key, identifier, instanceClass] of databases) {
      const dimensions = { DBInstanceIdentifier: identifier }
      alarm(`${key}-cpu`, {
        description: `${identifier}: CPU above 80 % for 10 minutes`,
        namespace: 'AWS/RDS',
        metricName: 'CPUUtilization',
        dimensions,
        statistic: 'Average',
        periodSeconds: 300,
        evaluationPeriods: 2,
        comparison: 'GreaterThanThreshold',
        threshold: 80,
        missing: 'notBreaching',
      })
      alarm(`${key}-free-storage`, {
        description: `${identifier}: less than ${freeStorageGiB} GiB of storage free`,
        namespace: 'AWS/RDS',
        metricName: 'FreeStorageSpace',
        dimensions,
        statistic: 'Minimum',
        periodSeconds: 300,
        evaluationPeriods: 1,
        comparison: 'LessThanThreshold',
        threshold: freeStorageGiB * 2 ** 30,
        missing: 'notBreaching',
      })
      const max = mysqlMaxConnections(instanceClass ?? props.database.instanceClass)
      alarm(`${key}-connections`, {
        description: `${identifier}: more than 80 % of max_connections (~${max}) in use for 10 minutes`,
        namespace: 'AWS/RDS',
        metricName: 'DatabaseConnections',
        dimensions,
        statistic: 'Maximum',
        periodSeconds: 300,
        evaluationPeriods: 2,
        comparison: 'GreaterThanThreshold',
        threshold: Math.floor(max * 0.8),
        missing: 'notBreaching',
      })
    }
    if (props.replicaIdentifier) {
      alarm('rds-replica-lag', {
        description: `${props.replicaIdentifier}: more than 60 s behind the primary for 5 minutes`,
        namespace: 'AWS/RDS',
        metricName: 'ReplicaLag',
        dimensions: { DBInstanceIdentifier: props.replicaIdentifier },
        statistic: 'Maximum',
        periodSeconds: 60,
        evaluationPeriods: 5,
        comparison: 'GreaterThanThreshold',
        threshold: 60,
        missing: 'breaching',
      })
    }

    // --- Redis -----------------------------------------------------------------------------------
    // Per member of the replication group (one node each): <id>-001, <id>-002, ... with cluster
    // mode off; <id>-0001-001, <id>-0001-002, <id>-0002-001, ... (shard, node) with it on. Every
    // shard is a primary of its own, so each node is watched, not an average over the group.
    const { topology } = props.cache
    const replicated =
      topology.clusterMode === 'enabled' ? topology.replicasPerShard > 0 : topology.nodeCount > 1
    for (const suffix of memberSuffixes(topology)) {
      const cluster = `${props.cacheReplicationGroupId}${suffix}`
      const key = `redis${suffix}`
      const dimensions = { CacheClusterId: cluster }
      // Redis runs commands on one thread: EngineCPUUtilization is that thread, the one to watch.
      alarm(`${key}-engine-cpu`, {
        description: `${cluster}: Redis's engine thread above 80 % for 5 minutes`,
        namespace: 'AWS/ElastiCache',
        metricName: 'EngineCPUUtilization',
        dimensions,
        statistic: 'Average',
        periodSeconds: 60,
        evaluationPeriods: 5,
        comparison: 'GreaterThanThreshold',
        threshold: 80,
        missing: 'notBreaching',
      })
      alarm(`${key}-cpu`, {
        description: `${cluster}: host CPU above 90 % for 5 minutes`,
        namespace: 'AWS/ElastiCache',
        metricName: 'CPUUtilization',
        dimensions,
        statistic: 'Average',
        periodSeconds: 60,
        evaluationPeriods: 5,
        comparison: 'GreaterThanThreshold',
        threshold: 90,
        missing: 'notBreaching',
      })
      // maxmemory-policy is noeviction: a full Redis refuses writes (enqueues fail) instead of
      // dropping queue entries, so memory is the alarm that matters.
      alarm(`${key}-memory`, {
        description: `${cluster}: more than 80 % of maxmemory used; at 100 % writes are refused`,
        namespace: 'AWS/ElastiCache',
        metricName: 'DatabaseMemoryUsagePercentage',
        dimensions,
        statistic: 'Maximum',
        periodSeconds: 60,
        evaluationPeriods: 3,
        comparison: 'GreaterThanThreshold',
        threshold: 80,
        missing: 'notBreaching',
      })
      // Never expected under noeviction; one means the parameter group no longer says so.
      alarm(`${key}-evictions`, {
        description: `${cluster}: keys evicted, though the cache must be noeviction`,
        namespace: 'AWS/ElastiCache',
        metricName: 'Evictions',
        dimensions,
        statistic: 'Sum',
        periodSeconds: 300,
        evaluationPeriods: 1,
        comparison: 'GreaterThanThreshold',
        threshold: 0,
        missing: 'notBreaching',
      })
      // Only a replica reports ReplicationLag, and which node is the replica changes with every
      // failover, so every node has the alarm; a primary's silence is not a fault. A replica far
      // behind loses, when promoted, the queue entries it has not received.
      if (replicated) {
        alarm(`${key}-replication-lag`, {
          description: `${cluster}: more than ${REDIS_REPLICATION_LAG_SECONDS} s behind its primary for 5 minutes`,
          namespace: 'AWS/ElastiCache',
          metricName: 'ReplicationLag',
          dimensions,
          statistic: 'Maximum',
          periodSeconds: 60,
          evaluationPeriods: 5,
          comparison: 'GreaterThanThreshold',
          threshold: REDIS_REPLICATION_LAG_SECONDS,
          missing: 'notBreaching',
        })
      }
    }

    // --- e-mail Lambda and confirmations ---------------------------------------------------------
    const fn = { FunctionName: props.notifyFunctionName }
    alarm('notify-errors', {
      description: `${props.notifyFunctionName} failed in 2 of the last 3 five-minute periods`,
      namespace: 'AWS/Lambda',
      metricName: 'Errors',
      dimensions: fn,
      statistic: 'Sum',
      periodSeconds: 300,
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
      comparison: 'GreaterThanThreshold',
      threshold: 0,
      missing: 'notBreaching',
    })
    alarm('notify-throttles', {
      description: `${props.notifyFunctionName} throttled for 15 minutes: the account's Lambda concurrency is used up`,
      namespace: 'AWS/Lambda',
      metricName: 'Throttles',
      dimensions: fn,
      statistic: 'Sum',
      periodSeconds: 300,
      evaluationPeriods: 3,
      comparison: 'GreaterThanThreshold',
      threshold: 0,
      missing: 'notBreaching',
    })
    alarm('notify-dlq', {
      description: `${props.notifyDeadLetterQueueName}: a run that failed, or could not start within a minute`,
      namespace: 'AWS/SQS',
      metricName: 'ApproximateNumberOfMessagesVisible',
      dimensions: { QueueName: props.notifyDeadLetterQueueName },
      statistic: 'Maximum',
      periodSeconds: 300,
      evaluationPeriods: 1,
      comparison: 'GreaterThanThreshold',
      threshold: 0,
      missing: 'notBreaching',
    })
    const emf = { [CONFIRMATION_METRICS.dimension]: props.notifyFunctionName }
    alarm('confirmations-dead', {
      description:
        'Confirmation e-mails were given up on (runbook: SugangConfirmationEmailsFailed)',
      namespace: CONFIRMATION_METRICS.namespace,
      metricName: 'ConfirmationsDead',
      dimensions: emf,
      statistic: 'Maximum',
      periodSeconds: 300,
      evaluationPeriods: 1,
      comparison: 'GreaterThanThreshold',
      threshold: 0,
      missing: 'notBreaching',
    })
    // The sender reports this every run, 0 when nothing waits: silence means it does not run.
    alarm('confirmations-delayed', {
      description:
        'The oldest owed confirmation e-mail has waited 20 minutes, or the sender stopped reporting ' +
        '(runbook: SugangConfirmationEmailsDelayed)',
      namespace: CONFIRMATION_METRICS.namespace,
      metricName: 'ConfirmationOldestWaitingSeconds',
      dimensions: emf,
      statistic: 'Maximum',
      periodSeconds: 300,
      evaluationPeriods: 2,
      comparison: 'GreaterThanThreshold',
      threshold: CONFIRMATION_DELAY_SECONDS,
      missing: 'breaching',
    })
    // SES reviews an account at a 5 % bounce or 0.1 % complaint rate and may pause it at 10 % /
    // 0.5 %. Published once the configuration set's reputation metrics have mail to count.
    alarm('ses-bounce-rate', {
      description: 'SES bounce rate above 5 %: SES reviews the account and may pause sending',
      namespace: 'AWS/SES',
      metricName: 'Reputation.BounceRate',
      dimensions: {},
      statistic: 'Maximum',
      periodSeconds: 900,
      evaluationPeriods: 1,
      comparison: 'GreaterThanThreshold',
      threshold: 0.05,
      missing: 'notBreaching',
    })
    alarm('ses-complaint-rate', {
      description: 'SES complaint rate above 0.1 %: SES reviews the account and may pause sending',
      namespace: 'AWS/SES',
      metricName: 'Reputation.ComplaintRate',
      dimensions: {},
      statistic: 'Maximum',
      periodSeconds: 900,
      evaluationPeriods: 1,
      comparison: 'GreaterThanThreshold',
      threshold: 0.001,
      missing: 'notBreaching',
    })

    // --- the monitoring host, and the Prometheus → Alertmanager path -----------------------------
    const host = { InstanceId: props.monitoringInstanceId }
    alarm('monitoring-system-check', {
      description:
        'The monitoring host failed its system status check: EC2 recovers it onto new hardware',
      namespace: 'AWS/EC2',
      metricName: 'StatusCheckFailed_System',
      dimensions: host,
      statistic: 'Maximum',
      periodSeconds: 60,
      evaluationPeriods: 2,
      comparison: 'GreaterThanOrEqualToThreshold',
      threshold: 1,
      missing: 'notBreaching',
      extraActions: [`arn:aws:automate:${region}:ec2:recover`],
    })
    alarm('monitoring-instance-check', {
      description: 'The monitoring host failed its instance status check: EC2 reboots it',
      namespace: 'AWS/EC2',
      metricName: 'StatusCheckFailed_Instance',
      dimensions: host,
      statistic: 'Maximum',
      periodSeconds: 60,
      evaluationPeriods: 3,
      comparison: 'GreaterThanOrEqualToThreshold',
      threshold: 1,
      missing: 'notBreaching',
      extraActions: [`arn:aws:automate:${region}:ec2:reboot`],
    })
    // Alertmanager sends the always-firing Watchdog alert every minute to a relay on the host that
    // turns it into this metric. Ten silent minutes mean Prometheus, Alertmanager, the relay or
    // the host is gone, and with them every alert in monitoring/: page through CloudWatch.
    alarm('monitoring-watchdog', {
      description:
        'No Watchdog heartbeat from the monitoring host for 10 minutes: Prometheus alerts are not ' +
        'being delivered (runbook: Watchdog)',
      namespace: WATCHDOG_HEARTBEAT.namespace,
      metricName: WATCHDOG_HEARTBEAT.metricName,
      dimensions: {},
      statistic: 'Sum',
      periodSeconds: 300,
      evaluationPeriods: 2,
      comparison: 'LessThanThreshold',
      threshold: 1,
      missing: 'breaching',
    })
  }
}
