import type { Construct } from '../cdktf.js'
import type { PlatformConfig } from '../config/types.js'
import type { Network } from '../constructs/network.js'
import { Notify } from '../constructs/notify.js'
import { configurationSetName } from '../constructs/ses-configuration.js'
import type { DataStack } from './data-stack.js'
import { PlatformStack } from './platform-stack.js'

export class NotifyStack extends PlatformStack {
  readonly notify: Notify

  constructor(
    scope: Construct,
    config: PlatformConfig,
    deps: { readonly network: Network; readonly data: DataStack; readonly bundlePath: string },
  ) {
    super(scope, 'notify', config)
    const { network, data } = deps
    this.notify = new Notify(this, 'notify', {
      name: this.prefix,
      region: config.region,
      accountId: config.accountId,
      config: config.notify,
      bundlePath: deps.bundlePath,
      siteUrl: `https://${config.edge.domainName}/`,
      subnetIds: network.appSubnets.map((s) => s.id),
      securityGroupId: network.securityGroups.notify.id,
      databaseSecretArn: data.data.notifierSecret.secret.arn,
      databaseHost: data.data.primary.address,
      databaseName: config.database.databaseName,
      // By name: the ops stack creates it and is applied first (infra/README.md).
      configurationSetName: configurationSetName(this.prefix),
      hostedZoneId: config.notify.hostedZoneId,
    })
  }
}
