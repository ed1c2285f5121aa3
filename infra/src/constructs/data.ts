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
import { GeneratedSecret } from './generated-secret.js'
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

/**
 * The MySQL users besides the master: the service (DML, and the DDL of `sugang migrate`) and the
 * e-mail sender (reads and marks the outbox). `sugang database-users` creates them from their
 * secrets; docs/decisions/0004-database-users.md says why and how they rotate.
 */
export const DATABASE_USERS = { app: 'sugang_app', notifier: 'sugang_notify' } as const

/**
 * MySQL 8.4 on RDS: the source of truth for enrollments (ARCHITECTURE.md). 8.4 is the LTS
 * release; 8.0 left RDS standard support on 2026-07-31 and is billed Extended Support after.
 */
export class Data extends Construct {
  readonly securityGroup: SecurityGroup
  readonly primary: DbInstance
  readonly replica?: DbInstance
  /** `{"username", "password"}` of the master user: for `sugang database-users` only. */
  readonly masterSecret: GeneratedSecret
  /** The service's own user (DATABASE_USERS.app). */
  readonly appSecret: GeneratedSecret
  /** The e-mail sender's own user (DATABASE_USERS.notifier). */
  readonly notifierSecret: GeneratedSecret

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
      name: `${name}-mysql84`,
      family: 'mysql8.4',
      description: 'sugang: utf8mb4 throughout, slow query log, TLS only',
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
        // Credentials and student data never cross the VPC in clear text: the service and the
        // e-mail sender verify the server against the RDS CA bundle (DATABASE_TLS=rds).
        { name: 'require_secure_transport', value: '1' },
      ],
      // A new family means a new group: create it before RDS lets go of the old one.
      lifecycle: { createBeforeDestroy: true },
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

    // Self-managed, not `manage_master_user_password`: RDS refuses read replicas of instances whose
    // password it manages. The password is drawn per run and passed only as write-only arguments,
    // so it is in neither the plan nor the state; raising `passwordVersions.master` rotates it.
    // RDS takes it from the secret, read back after the secret is written, never from the draw:
    // an apply that fails between the two leaves them agreeing (generated-secret.ts).
    this.masterSecret = new GeneratedSecret(this, 'master', {
      secretName: `${name}/mysql/master`,
      description: 'MySQL master user of sugang: for creating the other users only',
      username: config.masterUsername,
      version: config.passwordVersions.master,
      passwordName: 'mysql_master_password',
    })
    this.appSecret = new GeneratedSecret(this, 'app-user', {
      secretName: `${name}/mysql/app`,
      description: 'MySQL user of the sugang service',
      username: DATABASE_USERS.app,
      version: config.passwordVersions.app,
      passwordName: 'mysql_app_password',
    })
    this.notifierSecret = new GeneratedSecret(this, 'notifier-user', {
      secretName: `${name}/mysql/notifier`,
      description: 'MySQL user of the sugang confirmation e-mail sender',
      username: DATABASE_USERS.notifier,
      version: config.passwordVersions.notifier,
      passwordName: 'mysql_notifier_password',
    })

    this.primary = new DbInstance(this, 'primary', {
      ...common,
      identifier,
      engine: 'mysql',
      engineVersion: config.engineVersion,
      dbName: config.databaseName,
      username: config.masterUsername,
      passwordWo: `\${${this.masterSecret.storedPassword()}}`,
      passwordWoVersion: config.passwordVersions.master,
      allocatedStorage: config.allocatedStorageGiB,
      maxAllocatedStorage: config.maxAllocatedStorageGiB,
      storageType: 'gp3',
      storageEncrypted: true,
      multiAz: config.multiAz,
      dbSubnetGroupName: subnetGroup.name,
      backupRetentionPeriod: config.backupRetentionDays,
      // From the profile, checked against the registration calendar (src/maintenance.ts).
      backupWindow: config.backupWindow,
      maintenanceWindow: config.maintenanceWindow,
      skipFinalSnapshot: false,
      finalSnapshotIdentifier: `${identifier}-final`,
      tags: { Name: identifier },
      // The secret holds the password before RDS does: a failed apply never leaves a master
      // password that nobody can read.
      dependsOn: [...logGroups, this.masterSecret.secretVersion],
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
}
