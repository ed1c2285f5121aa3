import type { Construct } from '../cdktf.js'
import type { PlatformConfig } from '../config/types.js'
import { Network } from '../constructs/network.js'
import { PlatformStack } from './platform-stack.js'

export class NetworkStack extends PlatformStack {
  readonly network: Network

  constructor(scope: Construct, config: PlatformConfig) {
    super(scope, 'network', config)
    this.network = new Network(this, 'network', {
      name: this.prefix,
      region: config.region,
      config: config.network,
    })
  }
}
