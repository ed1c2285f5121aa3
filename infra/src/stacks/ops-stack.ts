import { type Construct, TerraformOutput } from '../cdktf.js'
import type { PlatformConfig } from '../config/types.js'
import { Alarms } from '../constructs/alarms.js'
import { webAclMetricNames } from '../constructs/edge.js'
import { MonitoringBackups } from '../constructs/monitoring-backups.js'
import { SesConfiguration } from '../constructs/ses-configuration.js'
import { SessionLogging } from '../constructs/session-logging.js'
import type { AppStack } from './app-stack.js'
import type { DataStack } from './data-stack.js'
import { PlatformStack } from './platform-stack.js'

export interface OpsStackDependencies {
  readonly data: DataStack
  readonly app: AppStack
}

/**
 * Operations: the alarms that page when the monitoring host cannot (and when it is the one that
 * is down), Session Manager logging, the monitoring volume's snapshots, and how SES sends. Applied
 * by engineers, never by the deploy pipeline: the deploy role neither reads nor changes it.
 */
export class OpsStack extends PlatformStack {
  readonly alarms: Alarms
  readonly sessionLogging: SessionLogging
  readonly backups: MonitoringBackups
  readonly ses: SesConfiguration

  constructor(scope: Construct, config: PlatformConfig, deps: OpsStackDependencies) {
    super(scope, 'ops', config)
    const { data, app } = deps

    this.ses = new SesConfiguration(this, 'ses', { name: this.prefix })

    this.alarms = new Alarms(this, 'alarms', {
      name: this.prefix,
      region: config.region,
      accountId: config.accountId,
      emails: config.ops.alarmEmails,
      loadBalancerArnSuffix: app.edge.loadBalancer.arnSuffix,
      targetGroupArnSuffix: app.edge.targetGroup.arnSuffix,
      database: config.database,
      databaseIdentifier: data.data.primary.identifier,
      replicaIdentifier: data.data.replica?.identifier,
      cache: config.cache,
      cacheReplicationGroupId: data.cache.replicationGroup.replicationGroupId,
      // By name, as the notify construct names them: this stack is applied before notify.
      notifyFunctionName: `${this.prefix}-notify-email`,
      notifyDeadLetterQueueName: `${this.prefix}-notify-email-dlq`,
      monitoringInstanceId: app.monitoring.instance.id,
      autoscalingGroupName: app.compute.autoscalingGroup.name,
      webAcl: webAclMetricNames(this.prefix),
      instanceBootSeconds: config.compute.instanceBootSeconds,
    })

    this.sessionLogging = new SessionLogging(this, 'sessions', {
      name: this.prefix,
      region: config.region,
      accountId: config.accountId,
      retentionDays: config.ops.sessionLogRetentionDays,
      importExisting: config.ops.sessionPreferencesExist,
      instanceRoleNames: { app: app.access.role.name, monitoring: app.monitoring.role.name },
    })

    this.backups = new MonitoringBackups(this, 'backups', {
      name: this.prefix,
      retain: config.ops.monitoringSnapshotsRetained,
    })

    new TerraformOutput(this, 'alarm_topic_arn', { value: this.alarms.topic.arn })
    new TerraformOutput(this, 'session_log_group', { value: this.sessionLogging.logGroup.name })
    new TerraformOutput(this, 'session_kms_key_arn', { value: this.sessionLogging.key.arn })
  }
}
