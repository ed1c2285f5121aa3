import { type Construct, TerraformOutput } from '../cdktf.js'
import type { PlatformConfig } from '../config/types.js'
import { Cache } from '../constructs/cache.js'
import { Data } from '../constructs/data.js'
import type { Network } from '../constructs/network.js'
import { PlatformStack } from './platform-stack.js'

/**
 * Stateful: MySQL and Redis. Kept apart from the stateless stacks so that a routine deploy never
 * plans against them, and their state file is only written when data services really change.
 */
export class DataStack extends PlatformStack {
  readonly data: Data
  readonly cache: Cache

  constructor(scope: Construct, config: PlatformConfig, network: Network) {
    super(scope, 'data', config)
    const { app, notify } = network.securityGroups
    const allowedSources = [
      { name: 'app', securityGroupId: app.id },
      { name: 'notify', securityGroupId: notify.id },
    ]
    const subnetIds = network.dataSubnets.map((s) => s.id)

    this.data = new Data(this, 'mysql', {
      name: this.prefix,
      config: config.database,
      vpcId: network.vpc.id,
      subnetIds,
      allowedSources,
    })
    this.data.primary.addOverride('lifecycle.prevent_destroy', true)

    this.cache = new Cache(this, 'redis', {
      name: this.prefix,
      config: config.cache,
      vpcId: network.vpc.id,
      subnetIds,
      // The Lambda reads MySQL only; Redis is the service's alone.
      allowedSources: allowedSources.filter((s) => s.name === 'app'),
    })

    new TerraformOutput(this, 'database_endpoint', { value: this.data.primary.endpoint })
    if (this.data.replica) {
      new TerraformOutput(this, 'database_replica_endpoint', { value: this.data.replica.endpoint })
    }
    new TerraformOutput(this, 'database_secret_arn', { value: this.data.masterSecretArn })
    new TerraformOutput(this, 'redis_endpoint', {
      value: this.cache.replicationGroup.primaryEndpointAddress,
    })
  }
}
