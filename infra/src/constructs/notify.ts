import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import {
  CloudwatchEventRule,
  CloudwatchEventTarget,
  CloudwatchLogGroup,
  IamRole,
  IamRolePolicy,
  IamRolePolicyAttachment,
  LambdaFunction,
  LambdaPermission,
  Sesv2EmailIdentity,
  SqsQueue,
} from '../aws.js'
import { Annotations, AssetType, Construct, TerraformAsset } from '../cdktf.js'
import type { NotifyConfig } from '../config/types.js'
import { policyDocument, serviceTrustPolicy } from './iam.js'

export interface NotifyProps {
  readonly name: string
  readonly region: string
  readonly accountId: string
  readonly config: NotifyConfig
  /** Absolute path of the built bundle (config.bundlePath resolved against the infra workspace). */
  readonly bundlePath: string
  readonly subnetIds: string[]
  readonly securityGroupId: string
  readonly databaseSecretArn: string
  readonly databaseHost: string
  readonly databaseName: string
}

/** Directory zipped in place of the real bundle when that has not been built yet. */
export const PLACEHOLDER_BUNDLE_DIR = fileURLToPath(
  new URL('../../assets/notify-placeholder/', import.meta.url),
)

/**
 * The confirmation e-mail Lambda: reads committed enrollments not yet notified, sends them through
 * SES and marks them (its code is delivered separately). Runs on a schedule inside the VPC.
 *
 * Synthesis must work on a machine that never built the bundle (CI, `cdktf diff`, the tests), so
 * the code is a TerraformAsset of the real zip when it exists and of a placeholder directory
 * otherwise. With the placeholder the schedule is disabled and synthesis prints a warning, so a
 * deploy from such a machine can never send or skip e-mails by accident.
 */
export class Notify extends Construct {
  readonly function: LambdaFunction
  readonly deadLetterQueue: SqsQueue
  readonly schedule: CloudwatchEventRule
  readonly usesPlaceholder: boolean

  constructor(scope: Construct, id: string, props: NotifyProps) {
    super(scope, id)
    const { name, config } = props
    const functionName = `${name}-notify-email`
    this.usesPlaceholder = !existsSync(props.bundlePath)
    if (this.usesPlaceholder) {
      Annotations.of(this).addWarning(
        `notify: ${config.bundlePath} not found; deploying placeholder code with the schedule disabled`,
      )
    }
    const code = new TerraformAsset(
      this,
      'code',
      this.usesPlaceholder
        ? { path: PLACEHOLDER_BUNDLE_DIR, type: AssetType.ARCHIVE }
        : { path: props.bundlePath, type: AssetType.FILE },
    )

    const identity = new Sesv2EmailIdentity(this, 'sender', { emailIdentity: config.senderDomain })
    this.deadLetterQueue = new SqsQueue(this, 'dlq', {
      name: `${functionName}-dlq`,
      messageRetentionSeconds: 14 * 24 * 3600,
      sqsManagedSseEnabled: true,
    })
    const logs = new CloudwatchLogGroup(this, 'logs', {
      name: `/aws/lambda/${functionName}`,
      retentionInDays: config.logRetentionDays,
    })

    const role = new IamRole(this, 'role', {
      name: functionName,
      assumeRolePolicy: serviceTrustPolicy(this, 'trust', 'lambda.amazonaws.com'),
    })
    // ENI management for the VPC attachment plus writing its own logs.
    new IamRolePolicyAttachment(this, 'vpc-access', {
      role: role.name,
      policyArn: 'arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole',
    })
    new IamRolePolicy(this, 'policy', {
      name: 'sugang-notify',
      role: role.id,
      policy: policyDocument(this, 'permissions', [
        {
          sid: 'SendConfirmations',
          effect: 'Allow',
          actions: ['ses:SendEmail', 'ses:SendRawEmail'],
          resources: [
            `arn:aws:ses:${props.region}:${props.accountId}:identity/${config.senderDomain}`,
          ],
        },
        {
          sid: 'DatabaseCredentials',
          effect: 'Allow',
          actions: ['secretsmanager:GetSecretValue'],
          resources: [props.databaseSecretArn],
        },
        {
          sid: 'DeadLetters',
          effect: 'Allow',
          actions: ['sqs:SendMessage'],
          resources: [this.deadLetterQueue.arn],
        },
      ]).json,
    })

    this.function = new LambdaFunction(this, 'function', {
      functionName,
      description: 'Sends enrollment confirmation e-mails through SES',
      role: role.arn,
      runtime: 'nodejs20.x',
      handler: 'index.handler',
      architectures: ['arm64'],
      filename: code.path,
      sourceCodeHash: code.assetHash,
      timeout: config.timeoutSeconds,
      memorySize: config.memoryMiB,
      // One run at a time: marking enrollments as notified is idempotent, but two overlapping runs
      // would race to send the same e-mail before either marks it.
      reservedConcurrentExecutions: 1,
      vpcConfig: { subnetIds: props.subnetIds, securityGroupIds: [props.securityGroupId] },
      deadLetterConfig: { targetArn: this.deadLetterQueue.arn },
      environment: {
        variables: {
          NODE_ENV: 'production',
          DATABASE_HOST: props.databaseHost,
          DATABASE_NAME: props.databaseName,
          DATABASE_SECRET_ARN: props.databaseSecretArn,
          MAIL_FROM: config.fromAddress,
          SES_IDENTITY: identity.emailIdentity,
        },
      },
      loggingConfig: { logFormat: 'JSON', logGroup: logs.name },
      dependsOn: [logs],
    })

    this.schedule = new CloudwatchEventRule(this, 'schedule', {
      name: `${functionName}-schedule`,
      description: 'Send pending enrollment confirmations',
      scheduleExpression: config.scheduleExpression,
      state: this.usesPlaceholder ? 'DISABLED' : 'ENABLED',
    })
    new CloudwatchEventTarget(this, 'schedule-target', {
      rule: this.schedule.name,
      arn: this.function.arn,
    })
    new LambdaPermission(this, 'allow-schedule', {
      statementId: 'AllowScheduleInvoke',
      action: 'lambda:InvokeFunction',
      functionName: this.function.functionName,
      principal: 'events.amazonaws.com',
      sourceArn: this.schedule.arn,
    })
  }
}
