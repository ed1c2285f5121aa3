import {
  CloudwatchLogGroup,
  DataAwsIamPolicyDocument,
  IamRolePolicy,
  KmsAlias,
  KmsKey,
  SsmDocument,
} from '../aws.js'
import { Construct } from '../cdktf.js'
import { policyDocument } from './iam.js'

/**
 * The document that holds an account's Session Manager preferences in a region; the console's
 * "Preferences" page edits the same document.
 */
export const SESSION_PREFERENCES_DOCUMENT = 'SSM-SessionManagerRunShell'

export interface SessionLoggingProps {
  readonly name: string
  readonly region: string
  readonly accountId: string
  readonly retentionDays: number
  /** Roles of the instances operators open sessions on (names). */
  readonly instanceRoleNames: Readonly<Record<string, string>>
  /** The preferences document exists already: import it instead of creating it. */
  readonly importExisting?: boolean
}

/**
 * Session Manager preferences for the account and region: every shell session is encrypted with a
 * KMS key of this profile and its transcript streamed to a KMS-encrypted log group. The instances'
 * roles get what the SSM agent needs for that, as policies of their own, so the constructs that
 * own the roles stay unchanged.
 *
 * Who started which session (and port-forwarding sessions, which have no transcript) is in
 * CloudTrail: `StartSession` is a management event, in the event history for 90 days without a
 * trail (infra/README.md, "Reaching instances with SSM").
 */
export class SessionLogging extends Construct {
  readonly key: KmsKey
  readonly logGroup: CloudwatchLogGroup
  readonly preferences: SsmDocument

  constructor(scope: Construct, id: string, props: SessionLoggingProps) {
    super(scope, id)
    const { name, region, accountId } = props
    const logGroupName = `/${name}/ssm-sessions`

    this.key = new KmsKey(this, 'key', {
      description: `${name} Session Manager sessions and transcripts`,
      enableKeyRotation: true,
      deletionWindowInDays: 30,
      policy: new DataAwsIamPolicyDocument(this, 'key-policy', {
        statement: [
          {
            // IAM policies decide who else may use the key: the instance roles (below) and the
            // operators starting sessions (kms:GenerateDataKey).
            sid: 'AccountAdministers',
            effect: 'Allow',
            actions: ['kms:*'],
            resources: ['*'],
            principals: [{ type: 'AWS', identifiers: [`arn:aws:iam::${accountId}:root`] }],
          },
          {
            sid: 'CloudWatchLogsEncryptsTranscripts',
            effect: 'Allow',
            actions: [
              'kms:Encrypt*',
              'kms:Decrypt*',
              'kms:ReEncrypt*',
              'kms:GenerateDataKey*',
              'kms:Describe*',
            ],
            resources: ['*'],
            principals: [{ type: 'Service', identifiers: [`logs.${region}.amazonaws.com`] }],
            condition: [
              {
                test: 'ArnEquals',
                variable: 'kms:EncryptionContext:aws:logs:arn',
                values: [`arn:aws:logs:${region}:${accountId}:log-group:${logGroupName}`],
              },
            ],
          },
        ],
      }).json,
    })
    new KmsAlias(this, 'key-alias', {
      name: `alias/${name}-ssm-sessions`,
      targetKeyId: this.key.keyId,
    })

    this.logGroup = new CloudwatchLogGroup(this, 'logs', {
      name: logGroupName,
      retentionInDays: props.retentionDays,
      kmsKeyId: this.key.arn,
    })

    this.preferences = new SsmDocument(this, 'preferences', {
      name: SESSION_PREFERENCES_DOCUMENT,
      documentType: 'Session',
      documentFormat: 'JSON',
      content: JSON.stringify({
        schemaVersion: '1.0',
        description: `Session Manager preferences (${name}): encrypted sessions, logged transcripts`,
        sessionType: 'Standard_Stream',
        inputs: {
          kmsKeyId: this.key.arn,
          cloudWatchLogGroupName: logGroupName,
          // Session Manager refuses to start a session when the group is not encrypted.
          cloudWatchEncryptionEnabled: true,
          cloudWatchStreamingEnabled: true,
          // CloudWatch Logs is enough for the retention the profile asks for; no bucket to run.
          s3BucketName: '',
          s3KeyPrefix: '',
          s3EncryptionEnabled: true,
          runAsEnabled: false,
          runAsDefaultUser: '',
          idleSessionTimeout: '20',
          maxSessionDuration: '',
          shellProfile: { linux: '', windows: '' },
        },
      }),
      dependsOn: [this.logGroup],
    })
    // There is one such document per account and region, under this fixed name (Session Manager
    // reads no other by default), so an existing one cannot be side-stepped by another name: it
    // is adopted (a Terraform import block, a no-op once it is in the state) and rewritten.
    if (props.importExisting) this.preferences.importFrom(SESSION_PREFERENCES_DOCUMENT)

    const permissions = policyDocument(this, 'agent-permissions', [
      {
        sid: 'SessionEncryption',
        effect: 'Allow',
        actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
        resources: [this.key.arn],
      },
      {
        sid: 'SessionTranscripts',
        effect: 'Allow',
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents', 'logs:DescribeLogStreams'],
        resources: [`${this.logGroup.arn}:*`],
      },
      {
        // The agent checks the group before streaming; DescribeLogGroups has no resource scope.
        sid: 'FindTranscriptGroup',
        effect: 'Allow',
        actions: ['logs:DescribeLogGroups'],
        resources: ['*'],
      },
    ])
    for (const [key, role] of Object.entries(props.instanceRoleNames)) {
      new IamRolePolicy(this, `${key}-agent`, {
        name: 'sugang-session-logging',
        role,
        policy: permissions.json,
      })
    }
  }
}
