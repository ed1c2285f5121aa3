import { type Construct, TerraformOutput } from '../cdktf.js'
import type { PlatformConfig } from '../config/types.js'
import { StateBucket } from '../constructs/state.js'
import { PlatformStack } from './platform-stack.js'

/** Bootstrap: the bucket that holds every other stack's state. Its own state stays local. */
export class StateStack extends PlatformStack {
  readonly stateBucket: StateBucket

  constructor(scope: Construct, config: PlatformConfig) {
    super(scope, 'state', config, { localState: true })
    this.stateBucket = new StateBucket(this, 'state', { config: config.state })
    new TerraformOutput(this, 'state_bucket', { value: this.stateBucket.bucket.bucket })
  }
}
