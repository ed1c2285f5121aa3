import {
  CloudwatchLogGroup,
  IamInstanceProfile,
  IamRole,
  IamRolePolicy,
  IamRolePolicyAttachment,
} from '../aws.js'
import { Construct } from '../cdktf.js'
import { policyDocument, serviceTrustPolicy } from './iam.js'

export interface AccessProps {
  readonly name: string
  readonly region: string
  readonly accountId: string
  /** ECR repositories the instances pull from. */
  readonly repositoryArns: string[]
  /**
   * Secrets Manager secrets the service reads at boot: its own database user's, never the
   * master's, and the Redis AUTH token.
   */
  readonly secretArns: string[]
  readonly logRetentionDays: number
}

export const SSM_MANAGED_INSTANCE_CORE = 'arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore'

/**
 * Where SESSION_SECRET lives (created by the data stack, value write-only): under `secrets/`, not
 * `app/`, so that no grant meant for the non-secret app parameters reaches it.
 */
export function sessionSecretParameterName(name: string): string {
  return `/${name}/secrets/session-secret`
}

/**
 * Where ADMIN_TOKENS lives: the operators' `name:sha256` entries for the service's admin listener
 * (`sugang admin token NAME` prints one), a SecureString beside SESSION_SECRET. Operators write it
 * themselves (infra/README.md, "Operator controls"); Terraform never holds it, so adding an
 * operator needs no apply and the value is in no state. Without it the admin listener stays off.
 */
export function adminTokensParameterName(name: string): string {
  return `/${name}/secrets/admin-tokens`
}

/**
 * Who the app instances are and what they may read. Operators reach them only through SSM Session
 * Manager: no key pair, no bastion, no port 22 (infra/README.md shows the commands).
 */
export class Access extends Construct {
  readonly role: IamRole
  readonly instanceProfile: IamInstanceProfile
  readonly logGroup: CloudwatchLogGroup
  /** The log group's name as a plain string, for the user data (which must hold no references). */
  readonly logGroupName: string
  /** SESSION_SECRET's SecureString, read at boot so it never appears in user data. */
  readonly sessionSecretParameterName: string
  /** ADMIN_TOKENS' SecureString, read at boot like SESSION_SECRET when it exists. */
  readonly adminTokensParameterName: string

  constructor(scope: Construct, id: string, props: AccessProps) {
    super(scope, id)
    const { name } = props

    this.logGroupName = `/${name}/app`
    this.logGroup = new CloudwatchLogGroup(this, 'app-logs', {
      name: this.logGroupName,
      retentionInDays: props.logRetentionDays,
    })

    this.sessionSecretParameterName = sessionSecretParameterName(name)
    this.adminTokensParameterName = adminTokensParameterName(name)

    const parameter = (path: string) =>
      `arn:aws:ssm:${props.region}:${props.accountId}:parameter${path}`
    const appParametersArn = parameter(`/${name}/app/*`)
    const sessionSecretArn = parameter(this.sessionSecretParameterName)
    const adminTokensArn = parameter(this.adminTokensParameterName)
    this.role = new IamRole(this, 'instance-role', {
      name: `${name}-app-instance`,
      description: 'sugang service instances: SSM, ECR pull, logs and the service secrets',
      assumeRolePolicy: serviceTrustPolicy(this, 'instance-trust', 'ec2.amazonaws.com'),
    })
    new IamRolePolicyAttachment(this, 'ssm-core', {
      role: this.role.name,
      policyArn: SSM_MANAGED_INSTANCE_CORE,
    })
    new IamRolePolicy(this, 'instance-policy', {
      name: 'sugang-app',
      role: this.role.id,
      policy: policyDocument(this, 'instance-permissions', [
        {
          sid: 'EcrLogin',
          effect: 'Allow',
          actions: ['ecr:GetAuthorizationToken'],
          resources: ['*'],
        },
        {
          sid: 'EcrPull',
          effect: 'Allow',
          actions: [
            'ecr:BatchCheckLayerAvailability',
            'ecr:BatchGetImage',
            'ecr:GetDownloadUrlForLayer',
          ],
          resources: props.repositoryArns,
        },
        {
          sid: 'ContainerLogs',
          effect: 'Allow',
          actions: ['logs:CreateLogStream', 'logs:PutLogEvents', 'logs:DescribeLogStreams'],
          resources: [`${this.logGroup.arn}:*`],
        },
        {
          sid: 'ServiceSecrets',
          effect: 'Allow',
          actions: ['secretsmanager:GetSecretValue'],
          resources: props.secretArns,
        },
        {
          // The runtime settings; by name, so the compute construct can add parameters without a
          // dependency cycle.
          sid: 'AppParameters',
          effect: 'Allow',
          actions: ['ssm:GetParameter'],
          resources: [appParametersArn],
        },
        {
          sid: 'SessionSecret',
          effect: 'Allow',
          actions: ['ssm:GetParameter'],
          resources: [sessionSecretArn],
        },
        {
          sid: 'AdminTokens',
          effect: 'Allow',
          actions: ['ssm:GetParameter'],
          resources: [adminTokensArn],
        },
        {
          // AmazonSSMManagedInstanceCore lets the SSM agent read every parameter of the account;
          // the instances read their own settings, SESSION_SECRET and ADMIN_TOKENS, nothing else
          // (not the monitoring host's webhooks, not another profile's parameters).
          sid: 'NoOtherParameters',
          effect: 'Deny',
          actions: ['ssm:GetParameter', 'ssm:GetParameters', 'ssm:GetParametersByPath'],
          notResources: [appParametersArn, sessionSecretArn, adminTokensArn],
        },
      ]).json,
    })
    this.instanceProfile = new IamInstanceProfile(this, 'instance-profile', {
      name: `${name}-app-instance`,
      role: this.role.name,
    })
  }
}
