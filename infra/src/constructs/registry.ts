import { EcrLifecyclePolicy, EcrRepository } from '../aws.js'
import { Construct } from '../cdktf.js'
import type { RegistryConfig } from '../config/types.js'

export interface RegistryProps {
  readonly name: string
  readonly config: RegistryConfig
}

/** `sugang-small/service`: repositories are named per profile so both can share an account. */
export function repositoryName(name: string, short: string): string {
  return `${name}/${short}`
}

/** Host part of every image reference in this account and region. */
export function registryHost(accountId: string, region: string): string {
  return `${accountId}.dkr.ecr.${region}.amazonaws.com`
}

/** Private ECR repositories for the images the platform runs. */
export class Registry extends Construct {
  readonly repositories: Readonly<Record<string, EcrRepository>>

  constructor(scope: Construct, id: string, props: RegistryProps) {
    super(scope, id)
    const { name, config } = props
    const repositories: Record<string, EcrRepository> = {}
    for (const short of config.repositories) {
      const repository = new EcrRepository(this, `repository-${short}`, {
        name: repositoryName(name, short),
        // A tag (the commit SHA) always means the same image, so a deploy or rollback is exact.
        imageTagMutability: 'IMMUTABLE',
        imageScanningConfiguration: { scanOnPush: true },
        encryptionConfiguration: [{ encryptionType: 'KMS' }],
        // Deleting a repository with images must be a deliberate, manual act.
        forceDelete: false,
      })
      new EcrLifecyclePolicy(this, `repository-${short}-lifecycle`, {
        repository: repository.name,
        policy: JSON.stringify({
          rules: [
            {
              rulePriority: 1,
              description: 'Expire untagged layers left by interrupted pushes',
              selection: {
                tagStatus: 'untagged',
                countType: 'sinceImagePushed',
                countUnit: 'days',
                countNumber: config.untaggedImageExpiryDays,
              },
              action: { type: 'expire' },
            },
            {
              rulePriority: 2,
              description: `Keep the ${config.keepTaggedImages} most recent images for rollbacks`,
              selection: {
                tagStatus: 'any',
                countType: 'imageCountMoreThan',
                countNumber: config.keepTaggedImages,
              },
              action: { type: 'expire' },
            },
          ],
        }),
      })
      repositories[short] = repository
    }
    this.repositories = repositories
  }
}
