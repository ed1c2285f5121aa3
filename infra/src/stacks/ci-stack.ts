import { type Construct, TerraformOutput } from '../cdktf.js'
import type { PlatformConfig } from '../config/types.js'
import { Ci } from '../constructs/ci.js'
import { releasedImageParameterName } from '../constructs/compute.js'
import { PlatformStack, STACK_TAG_KEY, stackName } from './platform-stack.js'
import type { RegistryStack } from './registry-stack.js'

export class CiStack extends PlatformStack {
  readonly ci: Ci

  constructor(scope: Construct, config: PlatformConfig, registry: RegistryStack) {
    super(scope, 'ci', config)
    this.ci = new Ci(this, 'github', {
      name: this.prefix,
      profile: config.profile,
      region: config.region,
      accountId: config.accountId,
      config: config.ci,
      repositoryArns: Object.values(registry.registry.repositories).map((r) => r.arn),
      stateBucketName: config.state.bucketName,
      stateKeyPrefix: config.state.keyPrefix,
      deployStackNames: [stackName(config, 'app'), stackName(config, 'notify')],
      readStackNames: ['network', 'registry', 'data', 'app', 'notify'].map((concern) =>
        stackName(config, concern),
      ),
      networkStackName: stackName(config, 'network'),
      appStackName: stackName(config, 'app'),
      stackTagKey: STACK_TAG_KEY,
      // Named as the edge, monitoring-host, access and notify constructs name them;
      // test/iam-by-arn.test.ts fails when a name here and a synthesized one part.
      appBucketPrefixes: [`${this.prefix}-alb-logs-`, `${this.prefix}-monitoring-`],
      logGroupNames: [
        `/${this.prefix}/app`,
        `aws-waf-logs-${this.prefix}`,
        `/aws/lambda/${this.prefix}-notify-email`,
      ],
      reservesLoadBalancerCapacity: config.edge.capacityReservation !== undefined,
      hostedZoneIds: [
        ...new Set(
          [config.edge.hostedZoneId, config.notify.hostedZoneId].filter((z) => z !== undefined),
        ),
      ],
      notifyFunctionName: `${this.prefix}-notify-email`,
      notifyScheduleName: `${this.prefix}-notify-email-schedule`,
      notifyQueueName: `${this.prefix}-notify-email-dlq`,
      senderDomain: config.notify.senderDomain,
      releasedImageParameterName: releasedImageParameterName(this.prefix),
    })
    new TerraformOutput(this, 'deploy_role_arn', { value: this.ci.deployRole.arn })
  }
}
