import {
  CloudwatchLogGroup,
  DbInstance,
  DbParameterGroup,
  DbSubnetGroup,
  IamRole,
  IamRolePolicyAttachment,
  SecurityGroup,
} from '../aws.js'
import { Construct } from '../cdktf.js'
import type { DatabaseConfig } from '../config/types.js'
import { MYSQL_PORT } from './app-user-data.js'
import { allowFrom, type AllowedSource } from './firewall.js'
import { serviceTrustPolicy } from './iam.js'

export interface DataProps {
  readonly name: string
  readonly config: DatabaseConfig
  readonly vpcId: string
  readonly subnetIds: string[]
  /** The only security groups that may open a MySQL connection. */
  readonly allowedSources: readonly AllowedSource[]
}

/** Logs MySQL ships to CloudWatch; their groups are created here to own the retention. */
export const EXPORTED_LOGS = ['error', 'slowquery'] as const

/** MySQL 8.0 on RDS: the source of truth for enrollments (ARCHITECTURE.md). */
export class Data extends Construct {
  readonly securityGroup: SecurityGroup
  readonly primary: DbInstance
  readonly replica?: DbInstance

  constructor(scope: Construct, id: string, props: DataProps) {
    super(scope, id)
    const { name, config } = props
    const identifier = `${name}-mysql`

    // No egress rules: Terraform removes AWS's default allow-all, and MySQL starts no connections.
    this.securityGroup = new SecurityGroup(this, 'sg', {
      name: `${name}-mysql`,
      description: 'MySQL, reachable from the service tiers only',
      vpcId: props.vpcId,
      tags: { Name: `${name}-mysql` },
    })
    allowFrom(this, this.securityGroup.id, MYSQL_PORT, props.allowedSources)

    const subnetGroup = new DbSubnetGroup(this, 'subnets', {
      name: `${name}-mysql`,
      subnetIds: props.subnetIds,
    })
    const parameters = new DbParameterGroup(this, 'parameters', {
      name: `${name}-mysql80`,
      family: 'mysql8.0',
      description: 'sugang: utf8mb4 throughout, slow query log',
      parameter: [
        // Student names are Korean; utf8mb4 is the only MySQL charset that holds all of Unicode.
        { name: 'character_set_server', value: 'utf8mb4' },
        { name: 'character_set_client', value: 'utf8mb4' },
        { name: 'character_set_connection', value: 'utf8mb4' },
        { name: 'character_set_database', value: 'utf8mb4' },
        { name: 'character_set_results', value: 'utf8mb4' },
        { name: 'collation_server', value: 'utf8mb4_0900_ai_ci' },
        { name: 'collation_connection', value: 'utf8mb4_0900_ai_ci' },
        { name: 'slow_query_log', value: '1' },
        { name: 'long_query_time', value: '0.5' },
        // CloudWatch export reads the log files.
        { name: 'log_output', value: 'FILE' },
        { name: 'require_secure_transport', value: config.requireSecureTransport ? '1' : '0' },
      ],
    })
    const logGroups = EXPORTED_LOGS.map(
      (log) =>
        new CloudwatchLogGroup(this, `log-${log}`, {
          name: `/aws/rds/instance/${identifier}/${log}`,
          retentionInDays: config.logRetentionDays,
        }),
    )
    const monitoringRole = new IamRole(this, 'monitoring-role', {
      name: `${name}-rds-monitoring`,
      assumeRolePolicy: serviceTrustPolicy(
        this,
        'monitoring-trust',
        'monitoring.rds.amazonaws.com',
      ),
    })
    new IamRolePolicyAttachment(this, 'monitoring-policy', {
      role: monitoringRole.name,
      policyArn: 'arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole',
    })

    const common = {
      instanceClass: config.instanceClass,
      publiclyAccessible: false,
      vpcSecurityGroupIds: [this.securityGroup.id],
      parameterGroupName: parameters.name,
      iamDatabaseAuthenticationEnabled: true,
      monitoringInterval: config.monitoringIntervalSeconds,
      monitoringRoleArn: monitoringRole.arn,
      enabledCloudwatchLogsExports: [...EXPORTED_LOGS],
      performanceInsightsEnabled: config.performanceInsights,
      performanceInsightsRetentionPeriod: config.performanceInsights ? 7 : undefined,
      autoMinorVersionUpgrade: true,
      deletionProtection: true,
      copyTagsToSnapshot: true,
      caCertIdentifier: 'rds-ca-rsa2048-g1',
    }

    this.primary = new DbInstance(this, 'primary', {
      ...common,
      identifier,
      engine: 'mysql',
      engineVersion: config.engineVersion,
      dbName: config.databaseName,
      username: config.masterUsername,
      // RDS generates and rotates the password in Secrets Manager; it is never in Terraform state.
      manageMasterUserPassword: true,
      allocatedStorage: config.allocatedStorageGiB,
      maxAllocatedStorage: config.maxAllocatedStorageGiB,
      storageType: 'gp3',
      storageEncrypted: true,
      multiAz: config.multiAz,
      dbSubnetGroupName: subnetGroup.name,
      backupRetentionPeriod: config.backupRetentionDays,
      backupWindow: '17:00-18:00',
      maintenanceWindow: 'sun:18:00-sun:19:00',
      skipFinalSnapshot: false,
      finalSnapshotIdentifier: `${identifier}-final`,
      tags: { Name: identifier },
      dependsOn: logGroups,
    })

    if (config.replicaInstanceClass) {
      const replicaId = `${identifier}-replica`
      this.replica = new DbInstance(this, 'replica', {
        ...common,
        identifier: replicaId,
        instanceClass: config.replicaInstanceClass,
        replicateSourceDb: this.primary.identifier,
        // Encryption, engine and credentials come from the source.
        storageEncrypted: true,
        multiAz: false,
        backupRetentionPeriod: 0,
        skipFinalSnapshot: true,
        tags: { Name: replicaId },
      })
    }
  }

  /** ARN of the Secrets Manager secret RDS keeps the master credentials in. */
  get masterSecretArn(): string {
    return this.primary.masterUserSecret.get(0).secretArn
  }
}
