import { type Construct, TerraformOutput } from '../cdktf.js'
import type { PlatformConfig } from '../config/types.js'
import { Ci } from '../constructs/ci.js'
import { releasedImageParameterName } from '../constructs/compute.js'
import { PlatformStack, stackName } from './platform-stack.js'
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
      // Named as the notify and monitoring-host constructs name them; test/ci.test.ts holds the
      // names together.
      notifyFunctionName: `${this.prefix}-notify-email`,
      notifyScheduleName: `${this.prefix}-notify-email-schedule`,
      releasedImageParameterName: releasedImageParameterName(this.prefix),
    })
    new TerraformOutput(this, 'deploy_role_arn', { value: this.ci.deployRole.arn })
  }
}
