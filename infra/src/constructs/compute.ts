import { isIP } from 'node:net'
import {
  AutoscalingGroup,
  AutoscalingPolicy,
  AutoscalingSchedule,
  DataAwsSsmParameter,
  IamRolePolicy,
  LaunchTemplate,
  SsmParameter,
} from '../aws.js'
import { Construct, Fn, TerraformLocal } from '../cdktf.js'
import type { ComputeConfig, RegistrationCalendar } from '../config/types.js'
import { registrationEnvironment } from '../registration.js'
import { plannedAt, rushWindows, scheduledMinimum, utcSeconds } from '../rush.js'
import { LAUNCH_HOOK_NAME, renderAppUserData, type AppRuntimeSettings } from './app-user-data.js'
import { policyDocument } from './iam.js'

/**
 * LOGIN_CAMPUS_NETWORKS for the profile's campus networks, none when it lists none. Each entry
 * is checked at synthesis, as the service would at start-up: a typo must fail the plan, not
 * every instance's boot.
 */
export function campusEnvironment(networks: readonly string[]): Record<string, string> {
  if (networks.length === 0) return {}
  for (const network of networks) {
    const [address = '', prefix, extra] = network.split('/')
    const family = isIP(address)
    const bits = family === 6 ? 128 : 32
    const length = prefix === undefined ? bits : /^\d{1,3}$/.test(prefix) ? Number(prefix) : NaN
    if (!family || extra !== undefined || !(length <= bits)) {
      throw new Error(
        `edge.campusNetworks: "${network}" is not a network like 192.0.2.0/24 or 2001:db8::/32`,
      )
    }
  }
  return { LOGIN_CAMPUS_NETWORKS: networks.join(',') }
}

/** Tag that Prometheus EC2 service discovery selects app instances by (infra/README.md). */
export const APP_ROLE_TAG = { key: 'sugang:role', value: 'app' } as const

export interface ComputeProps {
  readonly name: string
  readonly profile: string
  readonly region: string
  readonly accountId: string
  readonly config: ComputeConfig
  /** The registration calendar: the service's window, and the schedule around its openings. */
  readonly registration: RegistrationCalendar
  /** edge.campusNetworks: the service's LOGIN_CAMPUS_NETWORKS. */
  readonly campusNetworks: readonly string[]
  readonly subnetIds: string[]
  readonly securityGroupId: string
  readonly instanceProfileArn: string
  /** The instance role, allowed here to complete its own group's launch lifecycle hook. */
  readonly instanceRoleName: string
  readonly targetGroupArn: string
  /** `app/<name>/<id>/targetgroup/<name>/<id>`, for the requests-per-target metric. */
  readonly requestCountResourceLabel: string
  /** Image reference without the tag, `<account>.dkr.ecr.<region>.amazonaws.com/<repository>`. */
  readonly imageRepository: string
  readonly logGroupName: string
  /** Addresses and secret ARNs, published to Parameter Store for the instances to read at boot. */
  readonly runtime: AppRuntimeSettings
  /** Redis runs in cluster mode (`runtime.redisHost` is its configuration endpoint). */
  readonly redisClusterMode: boolean
  /**
   * The profile's tags (the provider's default tags). Default tags do not reach what an
   * autoscaling group launches, so the launch template and the group's tags repeat them.
   */
  readonly tags: Readonly<Record<string, string>>
}

const AMI_ID = /^ami-[0-9a-f]{8,17}$/

/**
 * vCPUs, memory and architecture of the instance types a profile may list (EC2's published
 * figures). A type missing here fails synthesis instead of joining the group unchecked.
 */
const INSTANCE_TYPES: Readonly<
  Record<string, { vcpus: number; memoryGiB: number; architecture: 'x86_64' | 'arm64' }>
> = {
  't3.small': { vcpus: 2, memoryGiB: 2, architecture: 'x86_64' },
  't3a.small': { vcpus: 2, memoryGiB: 2, architecture: 'x86_64' },
  't3.medium': { vcpus: 2, memoryGiB: 4, architecture: 'x86_64' },
  't3a.medium': { vcpus: 2, memoryGiB: 4, architecture: 'x86_64' },
  'c5.large': { vcpus: 2, memoryGiB: 4, architecture: 'x86_64' },
  'c6a.large': { vcpus: 2, memoryGiB: 4, architecture: 'x86_64' },
  'c6i.large': { vcpus: 2, memoryGiB: 4, architecture: 'x86_64' },
  'c7i.large': { vcpus: 2, memoryGiB: 4, architecture: 'x86_64' },
  'c6i.xlarge': { vcpus: 4, memoryGiB: 8, architecture: 'x86_64' },
  'c6g.large': { vcpus: 2, memoryGiB: 4, architecture: 'arm64' },
  'c7g.large': { vcpus: 2, memoryGiB: 4, architecture: 'arm64' },
}

/** Service processes per instance: app-user-data.ts runs one container of the service. */
export const SERVICE_PROCESSES_PER_INSTANCE = 1

/**
 * Refuses instance types that are not interchangeable (vCPUs, memory, the image's architecture)
 * and a CPU target one instance's service processes cannot reach: each runs its JavaScript on
 * one core, so `n` processes on `v` vCPUs top out near 100·n/v % of the instance.
 */
export function validateInstanceTypes(config: ComputeConfig): void {
  const [first, ...others] = config.instanceTypes
  const facts = (type: string) => {
    const known = INSTANCE_TYPES[type]
    if (!known) {
      throw new Error(
        `compute.instanceTypes: ${type} is not known; add it to INSTANCE_TYPES in compute.ts`,
      )
    }
    return known
  }
  const preferred = facts(first)
  for (const type of [first, ...others]) {
    const f = facts(type)
    if (f.architecture !== config.cpuArchitecture) {
      throw new Error(
        `compute.instanceTypes: ${type} is ${f.architecture}, the image is built for ${config.cpuArchitecture}`,
      )
    }
    if (f.vcpus !== preferred.vcpus || f.memoryGiB !== preferred.memoryGiB) {
      throw new Error(
        `compute.instanceTypes: ${type} (${f.vcpus} vCPUs, ${f.memoryGiB} GiB) is not interchangeable with ${first} (${preferred.vcpus} vCPUs, ${preferred.memoryGiB} GiB)`,
      )
    }
  }
  if (new Set(config.instanceTypes).size !== config.instanceTypes.length) {
    throw new Error('compute.instanceTypes: each type once')
  }
  const ceiling =
    (100 * Math.min(SERVICE_PROCESSES_PER_INSTANCE, preferred.vcpus)) / preferred.vcpus
  if (!(config.targetCpuPercent > 0 && config.targetCpuPercent < ceiling)) {
    throw new Error(
      `compute.targetCpuPercent (${config.targetCpuPercent}) must lie below ${ceiling}: ${SERVICE_PROCESSES_PER_INSTANCE} service process on ${preferred.vcpus} vCPUs never drives the average higher`,
    )
  }
}
const IMAGE_DIGEST_PATTERN = '^sha256:[0-9a-f]{64}$'

/**
 * Parameter Store name of the digest the last successful deploy released: the pipeline reads it
 * before a deploy (the rollback target) and writes it after the smoke test passes.
 */
export function releasedImageParameterName(name: string): string {
  return `/${name}/app/released-image`
}

/**
 * Amazon Linux 2023's latest AMI id, published by AWS: where a new `compute.amiId` comes from
 * (infra/README.md, "Changing the AMI"). The monitoring host still follows it at plan time.
 */
export function amazonLinuxParameter(architecture: 'x86_64' | 'arm64'): string {
  return `/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-${architecture}`
}

/** Launch template and autoscaling group of the service instances, rolled by instance refresh. */
export class Compute extends Construct {
  readonly launchTemplate: LaunchTemplate
  readonly autoscalingGroup: AutoscalingGroup
  readonly runtimeParameter: SsmParameter
  readonly releasedImageParameter: SsmParameter
  /** The scheduled scale-outs and scale-ins around registration openings, in time order. */
  readonly rushSchedule: AutoscalingSchedule[]
  /**
   * The first-boot script, as the instances receive it (before base64). Without a named image it
   * holds one Terraform reference: the released digest.
   */
  readonly userData: string

  constructor(scope: Construct, id: string, props: ComputeProps) {
    super(scope, id)
    const { name, config } = props
    if (!AMI_ID.test(config.amiId)) {
      throw new Error(`compute.amiId "${config.amiId}" is not an AMI id`)
    }
    validateInstanceTypes(config)
    // Outside an opening the group holds minSize instances: with none, nobody can log in.
    if (!(config.minSize >= 1)) {
      throw new Error(`compute.minSize (${config.minSize}) must be at least 1`)
    }
    const groupName = `${name}-app`
    // A digest names exactly the bytes that were scanned; an explicit tag is for a first test.
    // Named neither: the image the pipeline last released, never whatever a default would say,
    // so an apply for a config change does not roll production back.
    const released =
      (config.imageDigest ?? config.imageTag)
        ? undefined
        : new DataAwsSsmParameter(this, 'released-image-value', {
            name: releasedImageParameterName(name),
          })
    const image = config.imageDigest
      ? `${props.imageRepository}@${config.imageDigest}`
      : config.imageTag
        ? `${props.imageRepository}:${config.imageTag}`
        : `${props.imageRepository}@${released!.insecureValue}`
    this.runtimeParameter = new SsmParameter(this, 'runtime', {
      name: `/${name}/app/runtime`,
      description:
        'Where the sugang service finds its database, cache and secrets (no secret values)',
      type: 'String',
      value: JSON.stringify(props.runtime),
    })
    this.releasedImageParameter = new SsmParameter(this, 'released-image', {
      name: releasedImageParameterName(name),
      description:
        'Digest of the image the last successful deploy released (written by the deploy pipeline)',
      type: 'String',
      // Seeded with the image this stack is created with; from then on the pipeline owns the value.
      value: config.imageDigest ?? 'none',
      lifecycle: { ignoreChanges: ['value'] },
    })
    this.userData = renderAppUserData({
      region: props.region,
      image,
      logGroupName: props.logGroupName,
      runtimeParameterName: `/${name}/app/runtime`,
      nodeExporterImage: config.nodeExporterImage,
      autoscalingGroupName: groupName,
      readyTimeoutSeconds: config.instanceBootSeconds,
      serviceEnvironment: {
        ...registrationEnvironment(props.registration),
        ...campusEnvironment(props.campusNetworks),
      },
      redisClusterMode: props.redisClusterMode,
    })
    // What the instances, their volumes and network interfaces carry: the profile's tags (cost
    // allocation, the deploy role's conditions), the role Prometheus discovers them by, a name.
    const instanceTags: Record<string, string> = {
      ...props.tags,
      Name: groupName,
      [APP_ROLE_TAG.key]: APP_ROLE_TAG.value,
      'sugang:profile': props.profile,
    }

    this.launchTemplate = new LaunchTemplate(this, 'launch-template', {
      name: groupName,
      description: `sugang service, image ${config.imageDigest ?? (config.imageTag ? `tag ${config.imageTag}` : 'released')}`,
      // Recorded in the profile: a new AMI is a reviewed commit, never a side effect of a plan.
      imageId: config.amiId,
      // The group's list overrides it; the preferred type, for a launch from the template alone.
      instanceType: config.instanceTypes[0],
      updateDefaultVersion: true,
      iamInstanceProfile: { arn: props.instanceProfileArn },
      // No key pair: shell access is through SSM Session Manager only.
      metadataOptions: {
        httpEndpoint: 'enabled',
        httpTokens: 'required',
        // One hop: processes on the host reach IMDS, containers behind Docker's bridge do not, so
        // the service container cannot borrow the instance role.
        httpPutResponseHopLimit: 1,
        instanceMetadataTags: 'disabled',
      },
      networkInterfaces: [
        {
          deviceIndex: 0,
          associatePublicIpAddress: 'false',
          deleteOnTermination: 'true',
          securityGroups: [props.securityGroupId],
        },
      ],
      blockDeviceMappings: [
        {
          deviceName: '/dev/xvda',
          ebs: {
            volumeSize: config.rootVolumeGiB,
            volumeType: 'gp3',
            encrypted: 'true',
            deleteOnTermination: 'true',
          },
        },
      ],
      monitoring: { enabled: true },
      // Rendered from the profile alone, so a new image changes the template and rolls the group.
      // With the released digest in it, Terraform encodes the script; a local keeps the script a
      // plain JSON string (a function argument would need every quote escaped).
      userData: released
        ? Fn.base64encode(new TerraformLocal(this, 'user-data', this.userData).asString)
        : Buffer.from(this.userData).toString('base64'),
      tagSpecifications: ['instance', 'volume', 'network-interface'].map((resourceType) => ({
        resourceType,
        tags: instanceTags,
      })),
      // The deploy role may change only launch templates carrying its profile's tag (ci.ts).
      tags: { 'sugang:profile': props.profile },
      lifecycle: released
        ? {
            precondition: [
              {
                condition: Fn.can(Fn.regex(IMAGE_DIGEST_PATTERN, released.insecureValue)),
                errorMessage: `No image is released yet (${releasedImageParameterName(name)} holds no digest): name one with SUGANG_IMAGE_DIGEST.`,
              },
            ],
          }
        : undefined,
    })

    // The schedule owns the minimum: an apply writes the one it means now (rush.ts), never the
    // off-peak value in the middle of an opening.
    const minSize = scheduledMinimum(props.registration, config, plannedAt(config.rush))
    this.autoscalingGroup = new AutoscalingGroup(this, 'asg', {
      name: groupName,
      vpcZoneIdentifier: props.subnetIds,
      minSize,
      maxSize: config.maxSize,
      // Read at creation only (ignored below); AWS refuses a desired capacity under the minimum.
      desiredCapacity: Math.max(config.desiredCapacity, minSize),
      // One launch template, several interchangeable types in order of preference, all on
      // demand: a zone short of the first type gets the next instead of no instance.
      mixedInstancesPolicy: {
        launchTemplate: {
          launchTemplateSpecification: {
            launchTemplateId: this.launchTemplate.id,
            version: `${this.launchTemplate.latestVersion}`,
          },
          override: config.instanceTypes.map((instanceType) => ({ instanceType })),
        },
        instancesDistribution: {
          onDemandAllocationStrategy: 'prioritized',
          onDemandBaseCapacity: 0,
          onDemandPercentageAboveBaseCapacity: 100,
        },
      },
      targetGroupArns: [props.targetGroupArn],
      // Replace instances the ALB finds dead, not only those EC2 finds stopped. The target group
      // checks liveness only (edge.ts), so a MySQL or Redis failover replaces nothing.
      healthCheckType: 'ELB',
      // Starts when the launch hook lets the instance in; sized for a whole cold boot all the
      // same, so an instance admitted by hand or by a timeout is never killed while starting.
      healthCheckGracePeriod: config.instanceBootSeconds,
      defaultInstanceWarmup: config.instanceWarmupSeconds,
      // An instance enters service (and the target group) only once sugang-launch saw
      // /health/ready answer; one that never does is abandoned and replaced.
      initialLifecycleHook: [
        {
          name: LAUNCH_HOOK_NAME,
          lifecycleTransition: 'autoscaling:EC2_INSTANCE_LAUNCHING',
          heartbeatTimeout: 2 * config.instanceBootSeconds,
          defaultResult: 'ABANDON',
        },
      ],
      // Stopped instances that booted once: docker installed, both images pulled. Starting one
      // skips the slow part of a launch; they cost their volumes only. Prepared up to the
      // group's maximum, so the rush scale-out comes from the pool.
      warmPool: {
        poolState: 'Stopped',
        minSize: 0,
        maxGroupPreparedCapacity: config.maxSize,
        instanceReusePolicy: { reuseOnScaleIn: true },
      },
      waitForCapacityTimeout: '15m',
      // GroupMinSize against GroupInServiceInstances: the alarm on capacity under the schedule.
      enabledMetrics: [
        'GroupDesiredCapacity',
        'GroupInServiceInstances',
        'GroupMinSize',
        'GroupTotalInstances',
      ],
      // A new launch template version (new image tag) rolls the group: new instances come up and
      // pass health checks before old ones go, so even a one-instance group keeps serving.
      // No auto_rollback: Terraform writes the new version to the group before it starts the
      // refresh, so the "previous configuration" AWS would roll back to is the new one. A refresh
      // that fails leaves the old instances serving (100 % stay healthy); the deploy pipeline sees
      // it fail and deploys the released image again (deploy.yml, scripts/roll-out.sh), and the
      // provider cancels a refresh still running before it starts that one.
      instanceRefresh: {
        strategy: 'Rolling',
        preferences: {
          minHealthyPercentage: 100,
          maxHealthyPercentage: 200,
          instanceWarmup: String(config.instanceWarmupSeconds),
        },
      },
      // The group's own tags, propagated to every instance it launches (the launch template tags
      // volumes and network interfaces too).
      tag: Object.entries(instanceTags).map(([key, value]) => ({
        key,
        value,
        propagateAtLaunch: true,
      })),
      // Scaling policies and the rush schedule own the current size; a deploy must not reset it
      // to the configured one. The minimum is written as scheduled (above).
      lifecycle: { ignoreChanges: ['desired_capacity'] },
    })

    new IamRolePolicy(this, 'complete-launch', {
      name: 'sugang-app-launch',
      role: props.instanceRoleName,
      policy: policyDocument(this, 'complete-launch-document', [
        {
          sid: 'CompleteOwnLaunch',
          effect: 'Allow',
          actions: ['autoscaling:CompleteLifecycleAction'],
          resources: [
            `arn:aws:autoscaling:${props.region}:${props.accountId}:autoScalingGroup:*:autoScalingGroupName/${groupName}`,
          ],
        },
      ]).json,
    })

    this.rushSchedule = this.scheduleRush(groupName, config, props.registration)

    new AutoscalingPolicy(this, 'scale-on-requests', {
      name: `${name}-requests-per-target`,
      autoscalingGroupName: this.autoscalingGroup.name,
      policyType: 'TargetTrackingScaling',
      targetTrackingConfiguration: {
        targetValue: config.targetRequestsPerInstance,
        predefinedMetricSpecification: {
          predefinedMetricType: 'ALBRequestCountPerTarget',
          resourceLabel: props.requestCountResourceLabel,
        },
      },
    })
    // Targets from docs/benchmarks.md (the profile's comments show the arithmetic).
    new AutoscalingPolicy(this, 'scale-on-cpu', {
      name: `${name}-cpu`,
      autoscalingGroupName: this.autoscalingGroup.name,
      policyType: 'TargetTrackingScaling',
      targetTrackingConfiguration: {
        targetValue: config.targetCpuPercent,
        predefinedMetricSpecification: { predefinedMetricType: 'ASGAverageCPUUtilization' },
      },
    })
  }

  /**
   * Two one-time actions per opening (per window, when openings are close enough to share one):
   * out to `rush.instances` `leadMinutes` before, back to the profile's minimum and desired
   * capacity `holdMinutes` after. Target tracking keeps acting in between, above that floor.
   */
  private scheduleRush(
    groupName: string,
    config: ComputeConfig,
    registration: RegistrationCalendar,
  ): AutoscalingSchedule[] {
    const { rush } = config
    if (rush.instances < config.minSize || rush.instances > config.maxSize) {
      throw new Error(
        `compute.rush.instances (${rush.instances}) must lie within minSize..maxSize (${config.minSize}..${config.maxSize})`,
      )
    }
    if (rush.leadMinutes * 60 < config.instanceBootSeconds + config.instanceWarmupSeconds) {
      throw new Error(
        "compute.rush.leadMinutes must cover an instance's boot and warm-up (instanceBootSeconds + instanceWarmupSeconds)",
      )
    }
    if (rush.freezeBeforeMinutes < rush.leadMinutes) {
      throw new Error('compute.rush.freezeBeforeMinutes must be at least leadMinutes')
    }
    const after = plannedAt(rush)
    const actions: AutoscalingSchedule[] = []
    for (const window of rushWindows(registration, rush)) {
      const opening = utcSeconds(window.opensAt).replace(/[-:]/g, '').replace(/Z$/, '')
      const planned = [
        { step: 'out', at: window.scaleOutAt, min: rush.instances, desired: rush.instances },
        { step: 'in', at: window.scaleInAt, min: config.minSize, desired: config.desiredCapacity },
      ]
      for (const { step, at, min, desired } of planned) {
        if (after !== undefined && at <= after) continue
        actions.push(
          new AutoscalingSchedule(this, `rush-${opening}-${step}`, {
            autoscalingGroupName: this.autoscalingGroup.name,
            scheduledActionName: `${groupName}-opening-${opening}-${step}`,
            startTime: utcSeconds(at),
            minSize: min,
            maxSize: config.maxSize,
            desiredCapacity: desired,
          }),
        )
      }
    }
    return actions
  }
}
