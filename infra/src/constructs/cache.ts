import {
  DataAwsSecretsmanagerRandomPassword,
  ElasticacheParameterGroup,
  ElasticacheReplicationGroup,
  ElasticacheSubnetGroup,
  SecretsmanagerSecret,
  SecretsmanagerSecretVersion,
  SecurityGroup,
} from '../aws.js'
import { Construct } from '../cdktf.js'
import type { CacheConfig, CacheTopology } from '../config/types.js'
import { REDIS_PORT } from './app-user-data.js'
import { allowFrom, type AllowedSource } from './firewall.js'

export interface CacheProps {
  readonly name: string
  readonly config: CacheConfig
  readonly vpcId: string
  readonly subnetIds: string[]
  readonly allowedSources: readonly AllowedSource[]
}

/**
 * How ElastiCache names the members (cache clusters, one node each) of a replication group, after
 * `<replication group id>`: `-001`, `-002`, ... with cluster mode disabled; `-<shard>-<node>`
 * (`-0001-001`, `-0001-002`, `-0002-001`, ...) with it enabled. Node 001 of each is created as
 * the primary; after a failover another node is.
 */
export function memberSuffixes(topology: CacheTopology): string[] {
  const pad = (n: number, width: number) => String(n).padStart(width, '0')
  if (topology.clusterMode === 'disabled') {
    return Array.from({ length: topology.nodeCount }, (_, i) => `-${pad(i + 1, 3)}`)
  }
  return Array.from({ length: topology.shards }, (_, shard) =>
    Array.from(
      { length: topology.replicasPerShard + 1 },
      (_, node) => `-${pad(shard + 1, 4)}-${pad(node + 1, 3)}`,
    ),
  ).flat()
}

/** What ElastiCache accepts (shards and replicas) and what failover needs, or why not. */
function checkTopology(config: CacheConfig): void {
  const { topology } = config
  if (topology.clusterMode === 'disabled') {
    if (config.automaticFailover && topology.nodeCount < 2) {
      throw new Error('cache: automatic failover needs at least two nodes')
    }
    return
  }
  const { shards, replicasPerShard } = topology
  if (!Number.isInteger(shards) || shards < 1) {
    throw new Error(`cache: ${shards} shards; ElastiCache takes a whole number from 1`)
  }
  if (!Number.isInteger(replicasPerShard) || replicasPerShard < 0 || replicasPerShard > 5) {
    throw new Error(`cache: ${replicasPerShard} replicas per shard; ElastiCache takes 0 to 5`)
  }
  // 90 nodes unless the account's quota was raised; never more than 500.
  if (shards * (replicasPerShard + 1) > 500) {
    throw new Error(
      `cache: ${shards} shards of ${replicasPerShard + 1} nodes; ElastiCache takes 500 nodes at most`,
    )
  }
  // ElastiCache requires automatic failover in cluster mode, and failover needs a replica.
  if (!config.automaticFailover) {
    throw new Error('cache: cluster mode needs automatic failover')
  }
  if (replicasPerShard < 1) {
    throw new Error('cache: automatic failover needs a replica in every shard')
  }
}

/** Redis for the rush queue, decisions and sessions: encrypted, AUTH-protected, private. */
export class Cache extends Construct {
  readonly securityGroup: SecurityGroup
  readonly replicationGroup: ElasticacheReplicationGroup
  readonly authSecret: SecretsmanagerSecret
  /** Cluster mode enabled: the service gets REDIS_CLUSTER_NODES, not REDIS_URL. */
  readonly clusterMode: boolean
  /**
   * Where the service connects: the primary endpoint, or with cluster mode the configuration
   * endpoint, from which the client learns every shard's nodes.
   */
  readonly endpointAddress: string

  constructor(scope: Construct, id: string, props: CacheProps) {
    super(scope, id)
    const { name, config } = props
    const { topology } = config
    checkTopology(config)
    this.clusterMode = topology.clusterMode === 'enabled'

    this.securityGroup = new SecurityGroup(this, 'sg', {
      name: `${name}-redis`,
      description: 'Redis, reachable from the service tiers only',
      vpcId: props.vpcId,
      tags: { Name: `${name}-redis` },
    })
    allowFrom(this, this.securityGroup.id, REDIS_PORT, props.allowedSources)

    // Alphanumeric: AUTH tokens may not contain @, " or /, and REDIS_URL or REDIS_CLUSTER_NODES
    // (comma-separated) then needs no escaping.
    const token = new DataAwsSecretsmanagerRandomPassword(this, 'auth-token-value', {
      passwordLength: 64,
      excludePunctuation: true,
    })
    this.authSecret = new SecretsmanagerSecret(this, 'auth-token', {
      name: `${name}/redis/auth-token`,
      description: 'AUTH token of the sugang Redis replication group',
      recoveryWindowInDays: 7,
    })
    // Generated once: later plans draw a new random value, which ignore_changes discards.
    const tokenVersion = new SecretsmanagerSecretVersion(this, 'auth-token-version', {
      secretId: this.authSecret.id,
      secretString: token.randomPassword,
      lifecycle: { ignoreChanges: ['secret_string'] },
    })

    const subnetGroup = new ElasticacheSubnetGroup(this, 'subnets', {
      name: `${name}-redis`,
      subnetIds: props.subnetIds,
    })
    // Not default.redis7.cluster.on: its maxmemory-policy evicts.
    const parameters = new ElasticacheParameterGroup(this, 'parameters', {
      name: this.clusterMode ? `${name}-redis7-cluster` : `${name}-redis7`,
      family: 'redis7',
      description: this.clusterMode ? 'sugang: cluster mode, never evict' : 'sugang: never evict',
      parameter: [
        ...(this.clusterMode ? [{ name: 'cluster-enabled', value: 'yes' }] : []),
        // Evicting a key could silently drop a queued enrollment request; fail writes loudly instead.
        { name: 'maxmemory-policy', value: 'noeviction' },
      ],
    })

    this.replicationGroup = new ElasticacheReplicationGroup(this, 'redis', {
      replicationGroupId: `${name}-redis`,
      description: 'sugang rush queue and sessions',
      engine: 'redis',
      engineVersion: config.engineVersion,
      nodeType: config.nodeType,
      port: REDIS_PORT,
      clusterMode: topology.clusterMode,
      ...(topology.clusterMode === 'enabled'
        ? { numNodeGroups: topology.shards, replicasPerNodeGroup: topology.replicasPerShard }
        : { numCacheClusters: topology.nodeCount }),
      automaticFailoverEnabled: config.automaticFailover,
      multiAzEnabled: config.multiAz,
      subnetGroupName: subnetGroup.name,
      securityGroupIds: [this.securityGroup.id],
      parameterGroupName: parameters.name,
      atRestEncryptionEnabled: 'true',
      transitEncryptionEnabled: true,
      authToken: tokenVersion.secretString,
      snapshotRetentionLimit: config.snapshotRetentionDays,
      // From the profile, checked against the registration calendar (src/maintenance.ts).
      snapshotWindow: config.snapshotWindow,
      maintenanceWindow: config.maintenanceWindow,
      autoMinorVersionUpgrade: 'true',
      tags: { Name: `${name}-redis` },
    })
    this.endpointAddress = this.clusterMode
      ? this.replicationGroup.configurationEndpointAddress
      : this.replicationGroup.primaryEndpointAddress
  }
}
