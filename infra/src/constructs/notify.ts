import { existsSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  CloudwatchEventRule,
  CloudwatchEventTarget,
  CloudwatchLogGroup,
  IamRole,
  IamRolePolicy,
  IamRolePolicyAttachment,
  LambdaFunction,
  LambdaFunctionEventInvokeConfig,
  LambdaPermission,
  Route53Record,
  Sesv2EmailIdentity,
  SqsQueue,
} from '../aws.js'
import { Annotations, AssetType, Construct, Fn, TerraformAsset } from '../cdktf.js'
import type { NotifyConfig } from '../config/types.js'
import { policyDocument, serviceTrustPolicy } from './iam.js'

export interface NotifyProps {
  readonly name: string
  readonly region: string
  readonly accountId: string
  readonly config: NotifyConfig
  /** Absolute path of the built bundle directory (config.bundlePath resolved against infra/). */
  readonly bundlePath: string
  /** The service's public URL, linked from the e-mails. */
  readonly siteUrl: string
  readonly subnetIds: string[]
  readonly securityGroupId: string
  readonly databaseSecretArn: string
  readonly databaseHost: string
  readonly databaseName: string
  /** The SES configuration set every message is sent with (created by the ops stack). */
  readonly configurationSetName: string
  /** Route53 zone of the sender domain: its DKIM records are created there when set. */
  readonly hostedZoneId?: string
}

/** The file the bundle's handler lives in (`index.handler`). */
export const BUNDLE_ENTRY = 'index.mjs'

/**
 * Seconds between two scheduled runs, from a `rate(...)` expression. Only rates are accepted:
 * the function's timeout must stay below the period (see Notify), which a cron expression does
 * not state.
 */
export function schedulePeriodSeconds(expression: string): number {
  const match = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/.exec(expression)
  if (!match) {
    throw new Error(
      `notify.scheduleExpression must be rate(<n> minutes|hours|days), not "${expression}"`,
    )
  }
  const unit = { minute: 60, hour: 3600, day: 86_400 }[match[2]!.replace(/s$/, '') as 'minute']
  return Number(match[1]) * unit
}

/** Directory zipped in place of the real bundle when that has not been built yet. */
export const PLACEHOLDER_BUNDLE_DIR = fileURLToPath(
  new URL('../../assets/notify-placeholder/', import.meta.url),
)

/**
 * The confirmation e-mail Lambda: sends what the enrollment transactions wrote to the outbox
 * (service/src/lambda/notify-email.ts, bundled by `npm run bundle:notify -w service`) through
 * SES. Runs every minute inside the VPC.
 *
 * Synthesis must work on a machine that never built the bundle (CI, `cdktf diff`, the tests), so
 * the code is an archive of the bundle directory when it exists and of a placeholder directory
 * otherwise. With the placeholder the schedule is disabled and synthesis prints a warning, so a
 * deploy from such a machine can never send or skip e-mails by accident.
 *
 * No reserved concurrency: AWS keeps 10 of an account's concurrent executions unreserved, and a
 * new account's quota is 10, so any reservation is refused there. None is needed for correctness:
 * a run claims rows with `FOR UPDATE SKIP LOCKED` under a lease, so overlapping runs split the
 * outbox (service/test/notify/confirmations.test.ts runs four senders at once). What the old
 * reservation of 1 also did, keep the sender's MySQL connections to one run's worth
 * (`NOTIFY_CONCURRENCY` + 1), now follows from the schedule: one invocation per period, each run
 * over within `timeoutSeconds` (below the period, checked here), and no retry of a failed or late
 * invocation (the next scheduled run is the retry). Runs overlap only when Lambda starts one late.
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
    const period = schedulePeriodSeconds(config.scheduleExpression)
    if (config.timeoutSeconds >= period) {
      throw new Error(
        `notify.timeoutSeconds (${config.timeoutSeconds}) must be below the schedule's period ` +
          `(${period} s), or one run may still hold its connections when the next starts`,
      )
    }
    this.usesPlaceholder = !existsSync(path.join(props.bundlePath, BUNDLE_ENTRY))
    if (this.usesPlaceholder) {
      Annotations.of(this).addWarning(
        `notify: ${config.bundlePath} not found; deploying placeholder code with the schedule disabled`,
      )
    }
    const code = new TerraformAsset(this, 'code', {
      path: this.usesPlaceholder ? PLACEHOLDER_BUNDLE_DIR : props.bundlePath,
      type: AssetType.ARCHIVE,
    })

    const identity = new Sesv2EmailIdentity(this, 'sender', {
      emailIdentity: config.senderDomain,
    })
    // Easy DKIM: SES verifies the domain once these three CNAMEs resolve, and signs every message
    // with the domain's key, which makes DMARC pass on DKIM alignment alone.
    if (props.hostedZoneId) {
      for (let i = 0; i < 3; i++) {
        const token = Fn.element(identity.dkimSigningAttributes.tokens, i)
        new Route53Record(this, `dkim-${i}`, {
          zoneId: props.hostedZoneId,
          name: `${token}._domainkey.${config.senderDomain}`,
          type: 'CNAME',
          ttl: 1800,
          records: [`${token}.dkim.amazonses.com`],
        })
      }
    }
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
          // SES v2 authorizes a send against the identity and the configuration set both.
          resources: [
            `arn:aws:ses:${props.region}:${props.accountId}:identity/${config.senderDomain}`,
            `arn:aws:ses:${props.region}:${props.accountId}:configuration-set/${props.configurationSetName}`,
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
      // Supported by Lambda until 2027-04-30 and known to AWS provider 5.100, the release the
      // stacks are also validated with; the bundle targets it (esbuild --target=node22).
      runtime: 'nodejs22.x',
      handler: 'index.handler',
      architectures: ['arm64'],
      filename: code.path,
      sourceCodeHash: code.assetHash,
      timeout: config.timeoutSeconds,
      memorySize: config.memoryMiB,
      vpcConfig: { subnetIds: props.subnetIds, securityGroupIds: [props.securityGroupId] },
      deadLetterConfig: { targetArn: this.deadLetterQueue.arn },
      environment: {
        variables: {
          NODE_ENV: 'production',
          NODE_OPTIONS: '--enable-source-maps',
          DATABASE_HOST: props.databaseHost,
          DATABASE_NAME: props.databaseName,
          DATABASE_SECRET_ARN: props.databaseSecretArn,
          DATABASE_TLS: 'rds',
          MAIL_FROM: config.fromAddress,
          SES_CONFIGURATION_SET: props.configurationSetName,
          SITE_URL: props.siteUrl,
        },
      },
      loggingConfig: { logFormat: 'JSON', logGroup: logs.name },
      dependsOn: [logs],
    })

    // A failed run is not retried, and an invocation that could not start within a minute
    // (throttled: the account's concurrency is used up) is dropped: the next scheduled run sends
    // what they would have. Both land in the dead-letter queue, which pages (ops stack).
    new LambdaFunctionEventInvokeConfig(this, 'invoke-config', {
      functionName: this.function.functionName,
      maximumRetryAttempts: 0,
      maximumEventAgeInSeconds: 60,
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
