import path from 'node:path'
import type { Construct } from './cdktf.js'
import type { PlatformConfig } from './config/types.js'
import { maintenanceConflicts } from './maintenance.js'
import { checkCalendar } from './registration.js'
import { AppStack } from './stacks/app-stack.js'
import { CiStack } from './stacks/ci-stack.js'
import { DataStack } from './stacks/data-stack.js'
import { NetworkStack } from './stacks/network-stack.js'
import { NotifyStack } from './stacks/notify-stack.js'
import { OpsStack } from './stacks/ops-stack.js'
import { RegistryStack } from './stacks/registry-stack.js'
import { StateStack } from './stacks/state-stack.js'

export interface Platform {
  readonly state: StateStack
  readonly network: NetworkStack
  readonly data: DataStack
  readonly registry: RegistryStack
  readonly app: AppStack
  readonly notify: NotifyStack
  readonly ops: OpsStack
  readonly ci: CiStack
}

export interface PlatformOptions {
  /** Directory that relative paths in the config (the e-mail bundle) are resolved against. */
  readonly baseDir: string
}

/** Every stack of one profile, wired together; cross-stack references become remote state reads. */
export function buildPlatform(
  scope: Construct,
  config: PlatformConfig,
  options: PlatformOptions,
): Platform {
  checkCalendar(config.registration)
  const conflicts = maintenanceConflicts(config)
  if (conflicts.length > 0) {
    throw new Error(
      `${config.profile}: maintenance windows clash:\n  - ${conflicts.join('\n  - ')}`,
    )
  }
  const state = new StateStack(scope, config)
  const network = new NetworkStack(scope, config)
  const registry = new RegistryStack(scope, config)
  const data = new DataStack(scope, config, network.network)
  const app = new AppStack(scope, config, { network: network.network, data, registry })
  const notify = new NotifyStack(scope, config, {
    network: network.network,
    data,
    bundlePath: path.resolve(options.baseDir, config.notify.bundlePath),
  })
  const ops = new OpsStack(scope, config, { data, app })
  const ci = new CiStack(scope, config, registry)
  return { state, network, data, registry, app, notify, ops, ci }
}
