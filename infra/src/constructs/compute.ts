import {
  AutoscalingGroup,
  AutoscalingPolicy,
  DataAwsSsmParameter,
  LaunchTemplate,
  SsmParameter,
} from '../aws.js'
import { Construct } from '../cdktf.js'
import type { ComputeConfig } from '../config/types.js'
import { renderAppUserData, type AppRuntimeSettings } from './app-user-data.js'

/** Tag that Prometheus EC2 service discovery selects app instances by (infra/README.md). */
export const APP_ROLE_TAG = { key: 'sugang:role', value: 'app' } as const

export interface ComputeProps {
  readonly name: string
  readonly profile: string
  readonly region: string
  readonly config: ComputeConfig
  readonly subnetIds: string[]
  readonly securityGroupId: string
  readonly instanceProfileArn: string
  readonly targetGroupArn: string
  /** `app/<name>/<id>/targetgroup/<name>/<id>`, for the requests-per-target metric. */
  readonly requestCountResourceLabel: string
  /** Image reference without the tag, `<account>.dkr.ecr.<region>.amazonaws.com/<repository>`. */
  readonly imageRepository: string
  readonly logGroupName: string
  /** Addresses and secret ARNs, published to Parameter Store for the instances to read at boot. */
  readonly runtime: AppRuntimeSettings
}

/**
 * Parameter Store name of the digest the last successful deploy released: the pipeline reads it
 * before a deploy (the rollback target) and writes it after the smoke test passes.
 */
export function releasedImageParameterName(name: string): string {
  return `/${name}/app/released-image`
}

/** Amazon Linux 2023, resolved from AWS's public parameter at plan time. */
export function amazonLinuxParameter(architecture: 'x86_64' | 'arm64'): string {
  return `/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-${architecture}`
}

/** Launch template and autoscaling group of the service instances, rolled by instance refresh. */
export class Compute extends Construct {
  readonly launchTemplate: LaunchTemplate
  readonly autoscalingGroup: AutoscalingGroup
  readonly runtimeParameter: SsmParameter
  readonly releasedImageParameter: SsmParameter
  /** The first-boot script, as the instances receive it (before base64). */
  readonly userData: string

  constructor(scope: Construct, id: string, props: ComputeProps) {
    super(scope, id)
    const { name, config } = props
    // A digest names exactly the bytes that were scanned; a tag is only used before the pipeline
    // has released anything.
    const image = config.imageDigest
      ? `${props.imageRepository}@${config.imageDigest}`
      : `${props.imageRepository}:${config.imageTag}`
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
    })
    const ami = new DataAwsSsmParameter(this, 'ami', {
      name: amazonLinuxParameter(config.cpuArchitecture),
    })
    const instanceTags = {
      Name: `${name}-app`,
      [APP_ROLE_TAG.key]: APP_ROLE_TAG.value,
      'sugang:profile': props.profile,
    }

    this.launchTemplate = new LaunchTemplate(this, 'launch-template', {
      name: `${name}-app`,
      description: `sugang service, image ${config.imageDigest ?? `tag ${config.imageTag}`}`,
      imageId: ami.value,
      instanceType: config.instanceType,
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
      // Rendered from the profile alone, so a new image tag changes the template and rolls the group.
      userData: Buffer.from(this.userData).toString('base64'),
      tagSpecifications: [
        { resourceType: 'instance', tags: instanceTags },
        { resourceType: 'volume', tags: { Name: `${name}-app` } },
      ],
      // The deploy role may change only launch templates carrying its profile's tag (ci.ts).
      tags: { 'sugang:profile': props.profile },
    })

    this.autoscalingGroup = new AutoscalingGroup(this, 'asg', {
      name: `${name}-app`,
      vpcZoneIdentifier: props.subnetIds,
      minSize: config.minSize,
      maxSize: config.maxSize,
      desiredCapacity: config.desiredCapacity,
      launchTemplate: {
        id: this.launchTemplate.id,
        version: `${this.launchTemplate.latestVersion}`,
      },
      targetGroupArns: [props.targetGroupArn],
      // Replace instances the ALB finds unhealthy, not only those EC2 finds stopped.
      healthCheckType: 'ELB',
      healthCheckGracePeriod: 180,
      defaultInstanceWarmup: config.instanceWarmupSeconds,
      waitForCapacityTimeout: '15m',
      enabledMetrics: ['GroupDesiredCapacity', 'GroupInServiceInstances', 'GroupTotalInstances'],
      // A new launch template version (new image tag) rolls the group: new instances come up and
      // pass health checks before old ones go, so even a one-instance group keeps serving.
      instanceRefresh: {
        strategy: 'Rolling',
        preferences: {
          minHealthyPercentage: 100,
          maxHealthyPercentage: 200,
          instanceWarmup: String(config.instanceWarmupSeconds),
          autoRollback: true,
        },
      },
      tag: Object.entries(instanceTags).map(([key, value]) => ({
        key,
        value,
        propagateAtLaunch: true,
      })),
      // Scaling policies own the current size; a deploy must not reset it to the configured one.
      lifecycle: { ignoreChanges: ['desired_capacity'] },
    })

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
}
