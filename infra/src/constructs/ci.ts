import { IamOpenidConnectProvider, IamRole, IamRolePolicy } from '../aws.js'
import { Construct } from '../cdktf.js'
import type { CiConfig } from '../config/types.js'
import { policyDocument } from './iam.js'

export interface CiProps {
  readonly name: string
  readonly profile: string
  readonly region: string
  readonly accountId: string
  readonly config: CiConfig
  /** Repositories the pipeline pushes images to. */
  readonly repositoryArns: string[]
  readonly stateBucketName: string
  readonly stateKeyPrefix: string
  /** Stacks whose state the pipeline writes: the app stack (image) and the notify stack (bundle). */
  readonly deployStackNames: string[]
  /** The e-mail Lambda whose code and configuration the notify stack's deploy updates. */
  readonly notifyFunctionName: string
  /** Its schedule, enabled the first time a real bundle replaces the placeholder. */
  readonly notifyScheduleName: string
  /** Parameter Store name of the released image digest (compute.ts). */
  readonly releasedImageParameterName: string
  /** The app stack's one Terraform-managed secret version (monitoring-host.ts). */
}

export const GITHUB_OIDC_HOST = 'token.actions.githubusercontent.com'

/**
 * GitHub Actions deploys with short-lived credentials from OIDC; no access key exists anywhere.
 *
 * The deploy role can push and scan-check images, roll out a new image (the app stack's launch
 * template and autoscaling group), update the e-mail Lambda's code and record the released image,
 * and nothing more. Network, data, registry and CI stacks, and any new resource of the app and
 * notify stacks, are applied by an infra engineer with their own credentials, so a compromised
 * workflow cannot delete the database or widen its own permissions.
 */
export class Ci extends Construct {
  readonly deployRole: IamRole
  readonly oidcProviderArn: string

  constructor(scope: Construct, id: string, props: CiProps) {
    super(scope, id)
    const { name, config, accountId, region } = props

    this.oidcProviderArn =
      config.existingOidcProviderArn ??
      new IamOpenidConnectProvider(this, 'github-oidc', {
        url: `https://${GITHUB_OIDC_HOST}`,
        clientIdList: ['sts.amazonaws.com'],
      }).arn

    // A job that names an environment presents `environment:<name>` as its subject instead of the
    // branch. The deploy job runs in the protected environment, whose deployment-branch rule admits
    // only main and whose reviewers approve each run; trusting that subject (and not
    // `ref:refs/heads/main`) keeps every other workflow on main, CI included, from deploying.
    const subject = `repo:${config.githubOrg}/${config.githubRepo}:environment:${config.environment}`
    this.deployRole = new IamRole(this, 'deploy-role', {
      name: `${name}-github-deploy`,
      description: `Assumed by the ${config.environment} environment of ${config.githubOrg}/${config.githubRepo} (deploys ${config.branch})`,
      maxSessionDuration: 3600,
      assumeRolePolicy: policyDocument(this, 'deploy-trust', [
        {
          effect: 'Allow',
          actions: ['sts:AssumeRoleWithWebIdentity'],
          principals: [{ type: 'Federated', identifiers: [this.oidcProviderArn] }],
          // StringEquals, not StringLike: one repository, one environment; pull requests, forks
          // and jobs outside the environment present other subjects and are refused.
          condition: [
            {
              test: 'StringEquals',
              variable: `${GITHUB_OIDC_HOST}:aud`,
              values: ['sts.amazonaws.com'],
            },
            { test: 'StringEquals', variable: `${GITHUB_OIDC_HOST}:sub`, values: [subject] },
          ],
        },
      ]).json,
    })

    const arn = (service: string, resource: string, scopedRegion = region) =>
      `arn:aws:${service}:${scopedRegion}:${accountId}:${resource}`
    const stateBucket = `arn:aws:s3:::${props.stateBucketName}`
    const tagged = [
      { test: 'StringEquals', variable: 'aws:ResourceTag/sugang:profile', values: [props.profile] },
    ]

    new IamRolePolicy(this, 'deploy-policy', {
      name: 'sugang-deploy',
      role: this.deployRole.id,
      policy: policyDocument(this, 'deploy-permissions', [
        {
          sid: 'EcrLogin',
          effect: 'Allow',
          actions: ['ecr:GetAuthorizationToken'],
          resources: ['*'],
        },
        {
          sid: 'EcrPush',
          effect: 'Allow',
          actions: [
            'ecr:BatchCheckLayerAvailability',
            'ecr:BatchGetImage',
            'ecr:CompleteLayerUpload',
            'ecr:DescribeImages',
            'ecr:DescribeRepositories',
            'ecr:InitiateLayerUpload',
            'ecr:ListTagsForResource',
            'ecr:PutImage',
            'ecr:UploadLayerPart',
          ],
          resources: props.repositoryArns,
        },
        {
          // The scan-on-push result the pipeline gates on before deploying an image.
          sid: 'EcrScanFindings',
          effect: 'Allow',
          actions: ['ecr:DescribeImageScanFindings'],
          resources: props.repositoryArns,
        },
        {
          sid: 'StateList',
          effect: 'Allow',
          actions: ['s3:ListBucket'],
          resources: [stateBucket],
          condition: [
            { test: 'StringLike', variable: 's3:prefix', values: [`${props.stateKeyPrefix}/*`] },
          ],
        },
        {
          sid: 'StateReadAll',
          effect: 'Allow',
          actions: ['s3:GetObject'],
          resources: [`${stateBucket}/${props.stateKeyPrefix}/*`],
        },
        {
          // Writes only the deployed stacks' state and lock files (S3-native locking).
          sid: 'StateWriteDeployedStacks',
          effect: 'Allow',
          actions: ['s3:PutObject', 's3:DeleteObject'],
          resources: props.deployStackNames.flatMap((stack) => [
            `${stateBucket}/${props.stateKeyPrefix}/${stack}.tfstate`,
            `${stateBucket}/${props.stateKeyPrefix}/${stack}.tfstate.tflock`,
          ]),
        },
        {
          // Terraform refreshes every resource of the app stack before planning.
          sid: 'RefreshAppStack',
          effect: 'Allow',
          actions: [
            'acm:DescribeCertificate',
            'acm:ListTagsForCertificate',
            'autoscaling:Describe*',
            'ec2:Describe*',
            'ec2:GetLaunchTemplateData',
            'elasticloadbalancing:Describe*',
            'iam:GetInstanceProfile',
            'iam:GetRole',
            'iam:GetRolePolicy',
            'iam:ListAttachedRolePolicies',
            'iam:ListInstanceProfilesForRole',
            'iam:ListRolePolicies',
            'logs:DescribeLogGroups',
            'logs:ListTagsForResource',
            'route53:GetChange',
            'route53:GetHostedZone',
            'route53:ListResourceRecordSets',
            's3:GetAccelerateConfiguration',
            's3:GetBucket*',
            's3:GetEncryptionConfiguration',
            's3:GetLifecycleConfiguration',
            's3:GetReplicationConfiguration',
            'secretsmanager:DescribeSecret',
            // The random-password data sources are read again by every plan.
            'secretsmanager:GetRandomPassword',
            'secretsmanager:GetResourcePolicy',
            'ssm:DescribeParameters',
            'ssm:ListTagsForResource',
            'wafv2:GetLoggingConfiguration',
            'wafv2:GetWebACL',
            'wafv2:GetWebACLForResource',
            'wafv2:ListTagsForResource',
          ],
          resources: ['*'],
        },
        {
          // The same for the notify stack's queue, schedule and SES identity (the function's
          // reads are scoped below; logs and IAM reads are above).
          sid: 'RefreshNotifyStack',
          effect: 'Allow',
          actions: [
            'events:DescribeRule',
            'events:ListTagsForResource',
            'events:ListTargetsByRule',
            'ses:GetEmailIdentity',
            'ses:ListTagsForResource',
            'sqs:GetQueueAttributes',
            'sqs:ListQueueTags',
          ],
          resources: ['*'],
        },
        {
          // What Terraform reads and calls to refresh and update the e-mail Lambda: its code and
          // configuration, its versions, its invoke permission, its code-signing setting, its
          // retry settings.
          sid: 'UpdateNotifyFunction',
          effect: 'Allow',
          actions: [
            'lambda:GetFunction',
            'lambda:GetFunctionCodeSigningConfig',
            'lambda:GetFunctionConfiguration',
            'lambda:GetFunctionEventInvokeConfig',
            'lambda:GetPolicy',
            'lambda:ListTags',
            'lambda:ListVersionsByFunction',
            'lambda:UpdateFunctionCode',
            'lambda:UpdateFunctionConfiguration',
          ],
          resources: [arn('lambda', `function:${props.notifyFunctionName}`)],
        },
        {
          // A notify stack first applied without the bundle has its schedule disabled; the first
          // deploy with the real bundle enables it.
          sid: 'EnableNotifySchedule',
          effect: 'Allow',
          actions: ['events:PutRule'],
          resources: [arn('events', `rule/${props.notifyScheduleName}`)],
        },
        {
          // Read before a deploy (the rollback target), written after the smoke test passes.
          sid: 'RecordReleasedImage',
          effect: 'Allow',
          actions: ['ssm:PutParameter'],
          resources: [arn('ssm', `parameter${props.releasedImageParameterName}`)],
        },
        {
          // The AMI id and the app parameters, never their decrypted values.
          sid: 'ReadParameters',
          effect: 'Allow',
          actions: ['ssm:GetParameter', 'ssm:GetParameters'],
          resources: [
            arn('ssm', 'parameter/aws/service/ami-amazon-linux-latest/*'),
            arn('ssm', `parameter/${name}/*`),
          ],
        },
        {
          // The service's secrets live in the data stack, which this role never refreshes; the
          // parameter read above must not reach them (a SecureString is decrypted on read).
          sid: 'NoServiceSecrets',
          effect: 'Deny',
          actions: ['ssm:GetParameter', 'ssm:GetParameters', 'secretsmanager:GetSecretValue'],
          resources: [
            arn('ssm', `parameter/${name}/secrets/*`),
            arn('secretsmanager', `secret:${name}/mysql/*`),
            arn('secretsmanager', `secret:${name}/redis/*`),
          ],
        },
        {
          sid: 'RollOutLaunchTemplate',
          effect: 'Allow',
          actions: [
            'ec2:CreateLaunchTemplateVersion',
            'ec2:DeleteLaunchTemplateVersions',
            'ec2:ModifyLaunchTemplate',
          ],
          resources: [arn('ec2', 'launch-template/*')],
          condition: tagged,
        },
        {
          // Using a launch template in an ASG requires the caller to be allowed to launch it.
          sid: 'LaunchFromTemplate',
          effect: 'Allow',
          actions: ['ec2:RunInstances', 'ec2:CreateTags'],
          resources: ['*'],
          condition: [
            {
              test: 'ArnLike',
              variable: 'ec2:LaunchTemplate',
              values: [arn('ec2', 'launch-template/*')],
            },
          ],
        },
        {
          // The load balancer's capacity reservation follows the registration calendar
          // (src/rush.ts): the first release inside its span requests it, the first one after
          // the last opening's hold releases it.
          sid: 'ReserveLoadBalancerCapacity',
          effect: 'Allow',
          actions: ['elasticloadbalancing:ModifyCapacityReservation'],
          resources: [arn('elasticloadbalancing', `loadbalancer/app/${name}-alb/*`)],
        },
        {
          // A new launch template version and its instance refresh; the scale-outs scheduled
          // for registration openings added to the profile (none of it deletes the group).
          sid: 'RollOutAutoscalingGroup',
          effect: 'Allow',
          actions: [
            'autoscaling:CancelInstanceRefresh',
            'autoscaling:DeleteScheduledAction',
            'autoscaling:PutScheduledUpdateGroupAction',
            'autoscaling:StartInstanceRefresh',
            'autoscaling:UpdateAutoScalingGroup',
          ],
          resources: [arn('autoscaling', `autoScalingGroup:*:autoScalingGroupName/${name}-app`)],
        },
        {
          sid: 'PassInstanceRole',
          effect: 'Allow',
          actions: ['iam:PassRole'],
          resources: [`arn:aws:iam::${accountId}:role/${name}-app-instance`],
          condition: [
            {
              test: 'StringEquals',
              variable: 'iam:PassedToService',
              values: ['ec2.amazonaws.com'],
            },
          ],
        },
      ]).json,
    })
  }
}
