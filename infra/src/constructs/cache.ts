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
import type { CacheConfig } from '../config/types.js'
import { REDIS_PORT } from './app-user-data.js'
import { allowFrom, type AllowedSource } from './firewall.js'

export interface CacheProps {
  readonly name: string
  readonly config: CacheConfig
  readonly vpcId: string
  readonly subnetIds: string[]
  readonly allowedSources: readonly AllowedSource[]
}

/** Redis for the rush queue, decisions and sessions: encrypted, AUTH-protected, private. */
export class Cache extends Construct {
  readonly securityGroup: SecurityGroup
  readonly replicationGroup: ElasticacheReplicationGroup
  readonly authSecret: SecretsmanagerSecret

  constructor(scope: Construct, id: string, props: CacheProps) {
    super(scope, id)
    const { name, config } = props
    if (config.automaticFailover && config.nodeCount < 2) {
      throw new Error('cache: automatic failover needs at least two nodes')
    }

    this.securityGroup = new SecurityGroup(this, 'sg', {
      name: `${name}-redis`,
      description: 'Redis, reachable from the service tiers only',
      vpcId: props.vpcId,
      tags: { Name: `${name}-redis` },
    })
    allowFrom(this, this.securityGroup.id, REDIS_PORT, props.allowedSources)

    // Alphanumeric: AUTH tokens may not contain @, " or /, and REDIS_URL then needs no escaping.
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
    const parameters = new ElasticacheParameterGroup(this, 'parameters', {
      name: `${name}-redis7`,
      family: 'redis7',
      description: 'sugang: never evict',
      // Evicting a key could silently drop a queued enrollment request; fail writes loudly instead.
      parameter: [{ name: 'maxmemory-policy', value: 'noeviction' }],
    })

    this.replicationGroup = new ElasticacheReplicationGroup(this, 'redis', {
      replicationGroupId: `${name}-redis`,
      description: 'sugang rush queue and sessions',
      engine: 'redis',
      engineVersion: config.engineVersion,
      nodeType: config.nodeType,
      port: REDIS_PORT,
      numCacheClusters: config.nodeCount,
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
  }
}
