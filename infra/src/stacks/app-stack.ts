import { type Construct, TerraformOutput } from '../cdktf.js'
import type { PlatformConfig } from '../config/types.js'
import { plannedAt, reservedCapacityAt } from '../rush.js'
import { Access } from '../constructs/access.js'
import { APP_PORT } from '../constructs/app-user-data.js'
import { APP_ROLE_TAG, Compute } from '../constructs/compute.js'
import { Edge } from '../constructs/edge.js'
import { registryHost, repositoryName } from '../constructs/registry.js'
import { MonitoringHost } from '../constructs/monitoring-host.js'
import type { Network } from '../constructs/network.js'
import type { DataStack } from './data-stack.js'
import { PlatformStack, STACK_TAG_KEY } from './platform-stack.js'
import type { RegistryStack } from './registry-stack.js'

export interface AppStackDependencies {
  readonly network: Network
  readonly data: DataStack
  readonly registry: RegistryStack
}

/**
 * Stateless: everything that serves traffic or watches it. Safe to replace wholesale; this is the
 * only stack the deploy pipeline applies (a new image tag is a new launch template version).
 */
export class AppStack extends PlatformStack {
  readonly access: Access
  readonly edge: Edge
  readonly compute: Compute
  readonly monitoring: MonitoringHost

  constructor(scope: Construct, config: PlatformConfig, deps: AppStackDependencies) {
    super(scope, 'app', config)
    const { network } = deps
    const groups = network.securityGroups
    const repository = deps.registry.registry.repositories[config.compute.repository]
    if (!repository) {
      throw new Error(
        `compute.repository "${config.compute.repository}" is not in registry.repositories`,
      )
    }
    const { data, cache } = deps.data

    this.access = new Access(this, 'access', {
      name: this.prefix,
      region: config.region,
      accountId: config.accountId,
      repositoryArns: [repository.arn],
      secretArns: [data.appSecret.secret.arn, cache.authSecret.arn],
      logRetentionDays: config.compute.logRetentionDays,
    })

    this.edge = new Edge(this, 'edge', {
      name: this.prefix,
      config: config.edge,
      vpcId: network.vpc.id,
      publicSubnetIds: network.publicSubnets.map((s) => s.id),
      albSecurityGroupId: groups.alb.id,
      appSecurityGroupId: groups.app.id,
      appPort: APP_PORT,
      reservedCapacityUnits: reservedCapacityAt(
        config.registration,
        config.compute.rush,
        config.edge.capacityReservation,
        plannedAt(config.compute.rush),
      ),
    })

    this.compute = new Compute(this, 'compute', {
      name: this.prefix,
      profile: config.profile,
      region: config.region,
      accountId: config.accountId,
      config: config.compute,
      registration: config.registration,
      campusNetworks: config.edge.campusNetworks,
      subnetIds: network.appSubnets.map((s) => s.id),
      securityGroupId: groups.app.id,
      instanceProfileArn: this.access.instanceProfile.arn,
      instanceRoleName: this.access.role.name,
      targetGroupArn: this.edge.targetGroup.arn,
      requestCountResourceLabel: `${this.edge.loadBalancer.arnSuffix}/${this.edge.targetGroup.arnSuffix}`,
      imageRepository: `${registryHost(config.accountId, config.region)}/${repositoryName(this.prefix, config.compute.repository)}`,
      logGroupName: this.access.logGroupName,
      runtime: {
        databaseSecretArn: data.appSecret.secret.arn,
        databaseHost: data.primary.address,
        databaseReplicaHost: data.replica?.address ?? '',
        databaseName: config.database.databaseName,
        redisAuthSecretArn: cache.authSecret.arn,
        redisHost: cache.endpointAddress,
        sessionSecretParameterName: this.access.sessionSecretParameterName,
        adminTokensParameterName: this.access.adminTokensParameterName,
      },
      redisClusterMode: cache.clusterMode,
      tags: { ...config.tags, [STACK_TAG_KEY]: this.node.id },
    })

    this.monitoring = new MonitoringHost(this, 'monitoring', {
      name: this.prefix,
      profile: config.profile,
      region: config.region,
      accountId: config.accountId,
      config: config.monitoring,
      subnetId: network.appSubnets[0]!.id,
      securityGroupId: groups.monitoring.id,
      appSecurityGroupId: groups.app.id,
      grafanaAdminSecretArn: deps.data.grafanaAdminSecret.arn,
      cache: {
        replicationGroupId: cache.replicationGroup.replicationGroupId,
        topology: config.cache.topology,
        authSecretArn: cache.authSecret.arn,
      },
      database: {
        primary: { address: data.primary.address, resourceId: data.primary.resourceId },
        ...(data.replica
          ? { replica: { address: data.replica.address, resourceId: data.replica.resourceId } }
          : {}),
      },
    })

    new TerraformOutput(this, 'alb_dns_name', { value: this.edge.loadBalancer.dnsName })
    new TerraformOutput(this, 'app_url', { value: `https://${config.edge.domainName}` })
    new TerraformOutput(this, 'autoscaling_group_name', {
      value: this.compute.autoscalingGroup.name,
    })
    new TerraformOutput(this, 'app_instance_tag', {
      value: `${APP_ROLE_TAG.key}=${APP_ROLE_TAG.value}`,
    })
    new TerraformOutput(this, 'monitoring_instance_id', { value: this.monitoring.instance.id })
    new TerraformOutput(this, 'monitoring_config_bucket', {
      value: this.monitoring.configBucket.bucket,
    })
  }
}
