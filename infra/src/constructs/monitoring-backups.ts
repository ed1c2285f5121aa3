import { DlmLifecyclePolicy, IamRole, IamRolePolicyAttachment } from '../aws.js'
import { Construct } from '../cdktf.js'
import { serviceTrustPolicy } from './iam.js'
import { monitoringBackupTag } from './monitoring-host.js'

export interface MonitoringBackupsProps {
  readonly name: string
  /** Daily snapshots kept. */
  readonly retain: number
}

/**
 * Daily EBS snapshots of the monitoring host's volume (Prometheus's TSDB, Alertmanager's
 * silences, Grafana's database), by Data Lifecycle Manager, found by the volume's tag. A lost host
 * comes back from the newest snapshot (infra/README.md, "Monitoring host and the monitoring
 * workspace").
 */
export class MonitoringBackups extends Construct {
  readonly policy: DlmLifecyclePolicy

  constructor(scope: Construct, id: string, props: MonitoringBackupsProps) {
    super(scope, id)
    const { name } = props
    const role = new IamRole(this, 'role', {
      name: `${name}-dlm`,
      description: 'Data Lifecycle Manager: snapshots of the sugang monitoring volume',
      assumeRolePolicy: serviceTrustPolicy(this, 'trust', 'dlm.amazonaws.com'),
    })
    new IamRolePolicyAttachment(this, 'service-role', {
      role: role.name,
      policyArn: 'arn:aws:iam::aws:policy/service-role/AWSDataLifecycleManagerServiceRole',
    })
    const tag = monitoringBackupTag(name)
    this.policy = new DlmLifecyclePolicy(this, 'policy', {
      description: `${name} monitoring volume daily snapshots`,
      executionRoleArn: role.arn,
      state: 'ENABLED',
      policyDetails: {
        resourceTypes: ['VOLUME'],
        targetTags: { [tag.key]: tag.value },
        schedule: [
          {
            name: 'daily',
            // 03:00 in Seoul, outside any registration window.
            createRule: { interval: 24, intervalUnit: 'HOURS', times: ['18:00'] },
            retainRule: { count: props.retain },
            copyTags: true,
            tagsToAdd: { 'sugang:snapshot': 'monitoring' },
          },
        ],
      },
    })
  }
}
