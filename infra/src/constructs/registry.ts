import { EcrLifecyclePolicy, EcrRegistryScanningConfiguration, EcrRepository } from '../aws.js'
import { Construct } from '../cdktf.js'
import type { RegistryConfig } from '../config/types.js'

export interface RegistryProps {
  readonly name: string
  readonly config: RegistryConfig
  /**
   * Repositories enhanced scanning covers, a wildcard filter such as `sugang-*`: every profile of
   * the project, so that two profiles sharing an account write the same account-wide setting.
   */
  readonly scanFilter: string
}

/** `sugang-small/service`: repositories are named per profile so both can share an account. */
export function repositoryName(name: string, short: string): string {
  return `${name}/${short}`
}

/** Host part of every image reference in this account and region. */
export function registryHost(accountId: string, region: string): string {
  return `${accountId}.dkr.ecr.${region}.amazonaws.com`
}

/**
 * Private ECR repositories for the images the platform runs, scanned on push by Amazon Inspector
 * (enhanced scanning). Basic scanning reports a finding's severity only; Inspector also says
 * whether a newer package fixes it, which is what the deploy pipeline's gate blocks on
 * (infra/scripts/scan-gate.sh), and it scans the application's npm packages as well as the
 * operating system's. The scanning setting is one per account and region.
 */
export class Registry extends Construct {
  readonly repositories: Readonly<Record<string, EcrRepository>>
  readonly scanning: EcrRegistryScanningConfiguration

  constructor(scope: Construct, id: string, props: RegistryProps) {
    super(scope, id)
    const { name, config } = props
    this.scanning = new EcrRegistryScanningConfiguration(this, 'scanning', {
      scanType: 'ENHANCED',
      rule: [
        {
          // On push only: the gate needs each new image's findings once; continuous rescans of
          // every kept image would be billed without anyone reading them.
          scanFrequency: 'SCAN_ON_PUSH',
          repositoryFilter: [{ filter: props.scanFilter, filterType: 'WILDCARD' }],
        },
      ],
    })
    const repositories: Record<string, EcrRepository> = {}
    for (const short of config.repositories) {
      const repository = new EcrRepository(this, `repository-${short}`, {
        name: repositoryName(name, short),
        // A tag (the commit SHA) always means the same image, so a deploy or rollback is exact.
        imageTagMutability: 'IMMUTABLE',
        // Overridden by the registry's enhanced scanning; kept for an account that turns it off.
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
