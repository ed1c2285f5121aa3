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
  /** Stack whose state the pipeline writes (the app stack: launch template and ASG). */
  readonly deployStackName: string
}

export const GITHUB_OIDC_HOST = 'token.actions.githubusercontent.com'

/**
 * GitHub Actions deploys with short-lived credentials from OIDC; no access key exists anywhere.
 *
 * The deploy role can push images and roll out a new image tag (the app stack's launch template
 * and autoscaling group) and nothing more. Network, data, registry and CI stacks change rarely and
 * are applied by an infra engineer with their own credentials, so a compromised workflow cannot
 * delete the database or widen its own permissions.
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

    const subject = `repo:${config.githubOrg}/${config.githubRepo}:ref:refs/heads/${config.branch}`
    this.deployRole = new IamRole(this, 'deploy-role', {
      name: `${name}-github-deploy`,
      description: `Assumed by GitHub Actions on ${config.branch} of ${config.githubOrg}/${config.githubRepo}`,
      maxSessionDuration: 3600,
      assumeRolePolicy: policyDocument(this, 'deploy-trust', [
        {
          effect: 'Allow',
          actions: ['sts:AssumeRoleWithWebIdentity'],
          principals: [{ type: 'Federated', identifiers: [this.oidcProviderArn] }],
          // StringEquals, not StringLike: one repository, one branch; pull requests and forks
          // present other subjects and are refused.
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
          // Writes only the app stack's state and its lock file.
          sid: 'StateWriteApp',
          effect: 'Allow',
          actions: ['s3:PutObject', 's3:DeleteObject'],
          resources: [
            `${stateBucket}/${props.stateKeyPrefix}/${props.deployStackName}.tfstate`,
            `${stateBucket}/${props.stateKeyPrefix}/${props.deployStackName}.tfstate.tflock`,
          ],
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
            's3:GetBucket*',
            's3:GetEncryptionConfiguration',
            's3:GetLifecycleConfiguration',
            'secretsmanager:DescribeSecret',
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
          sid: 'RollOutAutoscalingGroup',
          effect: 'Allow',
          actions: [
            'autoscaling:CancelInstanceRefresh',
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
