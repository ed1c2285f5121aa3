import { type Construct, TerraformOutput } from '../cdktf.js'
import type { PlatformConfig } from '../config/types.js'
import { Registry } from '../constructs/registry.js'
import { PlatformStack } from './platform-stack.js'

/** Stateful: the images. Deleting a repository would delete every image a rollback needs. */
export class RegistryStack extends PlatformStack {
  readonly registry: Registry

  constructor(scope: Construct, config: PlatformConfig) {
    super(scope, 'registry', config)
    this.registry = new Registry(this, 'ecr', {
      name: this.prefix,
      config: config.registry,
      scanFilter: `${config.project}-*`,
    })
    for (const [short, repository] of Object.entries(this.registry.repositories)) {
      repository.addOverride('lifecycle.prevent_destroy', true)
      new TerraformOutput(this, `ecr_${short.replace(/-/g, '_')}_url`, {
        value: repository.repositoryUrl,
      })
    }
  }
}
