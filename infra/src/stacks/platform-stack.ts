import { AwsProvider } from '../aws.js'
import { type Construct, LocalBackend, S3Backend, TerraformStack } from '../cdktf.js'
import type { PlatformConfig } from '../config/types.js'

export interface PlatformStackOptions {
  /**
   * Keep state on the deploying machine instead of the S3 bucket. Only the state stack does this:
   * it creates the bucket, so it cannot be stored in it first (infra/README.md, "Bootstrapping").
   */
  readonly localState?: boolean
}

/** The default tag every resource carries with the name of the stack that made it. */
export const STACK_TAG_KEY = 'sugang:stack'

/** `sugang-small-network` etc.: one Terraform state per stack, per profile. */
export function stackName(config: PlatformConfig, concern: string): string {
  return `${config.project}-${config.profile}-${concern}`
}

/**
 * A stack of one profile: the AWS provider pinned to the profile's account and region, default
 * tags, and remote state in the profile's bucket with S3-native locking.
 */
export class PlatformStack extends TerraformStack {
  readonly config: PlatformConfig
  /** Name prefix for the resources of this profile, e.g. `sugang-small`. */
  readonly prefix: string

  constructor(
    scope: Construct,
    concern: string,
    config: PlatformConfig,
    options: PlatformStackOptions = {},
  ) {
    const id = stackName(config, concern)
    super(scope, id)
    this.config = config
    this.prefix = `${config.project}-${config.profile}`

    new AwsProvider(this, 'aws', {
      region: config.region,
      // Refuse to plan against any other account: credentials for the wrong one fail early.
      allowedAccountIds: [config.accountId],
      defaultTags: [{ tags: { ...config.tags, [STACK_TAG_KEY]: id } }],
    })

    if (options.localState) {
      // Relative to the stack's working directory, cdktf.out/stacks/<id>: keeps it in infra/.
      new LocalBackend(this, { path: `../../../terraform.${id}.tfstate` })
    } else {
      const backend = new S3Backend(this, {
        bucket: config.state.bucketName,
        key: `${config.state.keyPrefix}/${id}.tfstate`,
        region: config.region,
        encrypt: true,
      })
      // Terraform ≥ 1.10 locks with a conditional write of `<key>.tflock`; cdktf's binding predates it.
      backend.addOverride('use_lockfile', true)
    }
  }
}
