import {
  type DataAwsIamPolicyDocumentStatement,
  IamOpenidConnectProvider,
  IamRole,
  IamRolePolicy,
} from '../aws.js'
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
  /** Stacks whose state their plans read (their own and the ones they take outputs from). */
  readonly readStackNames: string[]
  /** The network stack, whose subnets and security groups the app instances launch into. */
  readonly networkStackName: string
  /** The app stack, whose instances' attributes a refresh reads. */
  readonly appStackName: string
  /** The tag every resource carries with the name of the stack that made it (default tags). */
  readonly stackTagKey: string
  /** Name prefixes of the app stack's buckets (`bucket_prefix`), refreshed by every plan. */
  readonly appBucketPrefixes: string[]
  /** Names (or patterns) of the log groups the app and notify stacks hold. */
  readonly logGroupNames: string[]
  /** Whether the profile reserves load balancer capacity ahead of openings (edge config). */
  readonly reservesLoadBalancerCapacity: boolean
  /** Route53 zones where the stacks it deploys keep records. */
  readonly hostedZoneIds: string[]
  /** The e-mail Lambda whose code the notify stack's deploy updates. */
  readonly notifyFunctionName: string
  /** Its schedule, enabled the first time a real bundle replaces the placeholder. */
  readonly notifyScheduleName: string
  /** Its dead-letter queue and its SES identity (refreshed with the notify stack). */
  readonly notifyQueueName: string
  readonly senderDomain: string
  /** Parameter Store name of the released image digest (compute.ts). */
  readonly releasedImageParameterName: string
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

    const arn = (service: string, resource: string) =>
      `arn:aws:${service}:${region}:${accountId}:${resource}`
    const stateBucket = `arn:aws:s3:::${props.stateBucketName}`
    const stateKey = (stack: string) => `${stateBucket}/${props.stateKeyPrefix}/${stack}.tfstate`
    const tagged = [
      { test: 'StringEquals', variable: 'aws:ResourceTag/sugang:profile', values: [props.profile] },
    ]
    const launchTemplates = arn('ec2', 'launch-template/*')
    const group = arn('autoscaling', `autoScalingGroup:*:autoScalingGroupName/${name}-app`)
    const notifyFunction = arn('lambda', `function:${props.notifyFunctionName}`)
    const notifySchedule = arn('events', `rule/${props.notifyScheduleName}`)
    const appParameters = arn('ssm', `parameter/${name}/app/*`)

    // Every action below is one a call of test/iam/calls.ts needs (Terraform's refresh and a
    // release's apply, read from the AWS provider; the workflow's own calls), on the ARNs those
    // calls touch; test/iam-by-arn.test.ts holds the two together. `*` only for actions AWS
    // cannot scope to a resource.
    const statements: DataAwsIamPolicyDocumentStatement[] = [
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
          'ecr:InitiateLayerUpload',
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
        // Under enhanced scanning ECR reads those findings from Amazon Inspector, with the
        // caller's permissions; neither action can be scoped to a resource.
        sid: 'EnhancedScanFindings',
        effect: 'Allow',
        actions: ['inspector2:ListCoverage', 'inspector2:ListFindings'],
        resources: ['*'],
      },
      {
        // The deployed stacks' state and the state of the stacks they read outputs from, and the
        // lock files (who holds a lock). No listing: Terraform ignores a refused listing of the
        // default workspace prefix.
        sid: 'StateRead',
        effect: 'Allow',
        actions: ['s3:GetObject'],
        resources: [
          ...props.readStackNames.map(stateKey),
          ...props.deployStackNames.map((stack) => `${stateKey(stack)}.tflock`),
        ],
      },
      {
        // Writes only the deployed stacks' state and lock files (S3-native locking).
        sid: 'StateWriteDeployedStacks',
        effect: 'Allow',
        actions: ['s3:PutObject', 's3:DeleteObject'],
        resources: props.deployStackNames.flatMap((stack) => [
          stateKey(stack),
          `${stateKey(stack)}.tflock`,
        ]),
      },
      {
        // Reads AWS authorizes only against `*`: the refresh of the groups, instances, launch
        // templates, rules, load balancers, log groups and parameters of the stacks it deploys,
        // and the roll-out's wait for the instance refresh.
        sid: 'RefreshUnscopable',
        effect: 'Allow',
        actions: [
          'autoscaling:DescribeAutoScalingGroups',
          'autoscaling:DescribeInstanceRefreshes',
          'autoscaling:DescribePolicies',
          'autoscaling:DescribeScheduledActions',
          'ec2:DescribeInstanceCreditSpecifications',
          'ec2:DescribeInstanceTypes',
          'ec2:DescribeInstances',
          'ec2:DescribeLaunchTemplateVersions',
          'ec2:DescribeLaunchTemplates',
          'ec2:DescribeSecurityGroupRules',
          'ec2:DescribeTags',
          'ec2:DescribeVolumes',
          'elasticloadbalancing:DescribeCapacityReservation',
          'elasticloadbalancing:DescribeListenerAttributes',
          'elasticloadbalancing:DescribeListeners',
          'elasticloadbalancing:DescribeLoadBalancerAttributes',
          'elasticloadbalancing:DescribeLoadBalancers',
          'elasticloadbalancing:DescribeTags',
          'elasticloadbalancing:DescribeTargetGroupAttributes',
          'elasticloadbalancing:DescribeTargetGroups',
          'logs:DescribeLogGroups',
          'ssm:DescribeParameters',
        ],
        resources: ['*'],
      },
      {
        // The monitoring host's attributes (user data among them): this profile's app stack's
        // instances only.
        sid: 'RefreshInstanceAttributes',
        effect: 'Allow',
        actions: ['ec2:DescribeInstanceAttribute'],
        resources: [arn('ec2', 'instance/*')],
        condition: [
          {
            test: 'StringEquals',
            variable: `aws:ResourceTag/${props.stackTagKey}`,
            values: [props.appStackName],
          },
        ],
      },
      {
        sid: 'RefreshRoles',
        effect: 'Allow',
        actions: [
          'iam:GetInstanceProfile',
          'iam:GetRole',
          'iam:GetRolePolicy',
          'iam:ListAttachedRolePolicies',
          'iam:ListRolePolicies',
        ],
        resources: [
          `arn:aws:iam::${accountId}:role/${name}-*`,
          `arn:aws:iam::${accountId}:instance-profile/${name}-*`,
        ],
      },
      {
        // HeadBucket, the first call of a bucket's refresh, is authorized as s3:ListBucket.
        sid: 'RefreshBuckets',
        effect: 'Allow',
        actions: [
          's3:GetAccelerateConfiguration',
          's3:GetBucketAcl',
          's3:GetBucketCORS',
          's3:GetBucketLogging',
          's3:GetBucketObjectLockConfiguration',
          's3:GetBucketOwnershipControls',
          's3:GetBucketPolicy',
          's3:GetBucketPublicAccessBlock',
          's3:GetBucketRequestPayment',
          's3:GetBucketTagging',
          's3:GetBucketVersioning',
          's3:GetBucketWebsite',
          's3:GetEncryptionConfiguration',
          's3:GetLifecycleConfiguration',
          's3:GetReplicationConfiguration',
          's3:ListBucket',
        ],
        resources: props.appBucketPrefixes.map((prefix) => `arn:aws:s3:::${prefix}*`),
      },
      {
        sid: 'RefreshLogGroups',
        effect: 'Allow',
        actions: ['logs:ListTagsForResource'],
        resources: props.logGroupNames.map((group) => arn('logs', `log-group:${group}`)),
      },
      {
        sid: 'RefreshEdge',
        effect: 'Allow',
        actions: [
          'acm:DescribeCertificate',
          'acm:ListTagsForCertificate',
          'wafv2:GetLoggingConfiguration',
          'wafv2:GetWebACL',
          'wafv2:GetWebACLForResource',
          'wafv2:ListTagsForResource',
        ],
        resources: [
          arn('acm', 'certificate/*'),
          arn('wafv2', `regional/webacl/${name}-*/*`),
          arn('elasticloadbalancing', `loadbalancer/app/${name}-*/*`),
        ],
      },
      ...(props.hostedZoneIds.length > 0
        ? [
            {
              sid: 'RefreshRecords',
              effect: 'Allow',
              actions: ['route53:GetHostedZone', 'route53:ListResourceRecordSets'],
              resources: props.hostedZoneIds.map((zone) => `arn:aws:route53:::hostedzone/${zone}`),
            },
          ]
        : []),
      {
        // The notify stack's schedule, queue and SES identity.
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
        resources: [
          notifySchedule,
          arn('ses', `identity/${props.senderDomain}`),
          arn('sqs', props.notifyQueueName),
        ],
      },
      {
        // What Terraform reads to refresh the e-mail Lambda and calls to ship a new bundle:
        // the code, then a wait for the update (GetFunctionConfiguration). Not its
        // configuration, concurrency or permissions.
        sid: 'UpdateNotifyFunction',
        effect: 'Allow',
        actions: [
          'lambda:GetFunction',
          'lambda:GetFunctionCodeSigningConfig',
          'lambda:GetFunctionConfiguration',
          'lambda:GetFunctionEventInvokeConfig',
          'lambda:GetPolicy',
          'lambda:ListVersionsByFunction',
          'lambda:UpdateFunctionCode',
        ],
        resources: [notifyFunction],
      },
      {
        // A notify stack first applied without the bundle has its schedule disabled; the first
        // deploy with the real bundle enables it.
        sid: 'EnableNotifySchedule',
        effect: 'Allow',
        actions: ['events:PutRule'],
        resources: [notifySchedule],
      },
      {
        // Read before a deploy (the rollback target), written after the smoke test passes.
        sid: 'RecordReleasedImage',
        effect: 'Allow',
        actions: ['ssm:PutParameter'],
        resources: [arn('ssm', `parameter${props.releasedImageParameterName}`)],
      },
      {
        // The app parameters, and the Amazon Linux AMI the monitoring host follows: a public
        // parameter, whose ARN has no account.
        sid: 'ReadParameters',
        effect: 'Allow',
        actions: ['ssm:GetParameter', 'ssm:ListTagsForResource'],
        resources: [
          appParameters,
          `arn:aws:ssm:${region}::parameter/aws/service/ami-amazon-linux-latest/*`,
        ],
      },
      {
        // The service's secrets live in the data stack, which this role never refreshes; no
        // grant above reaches them, and none may (a SecureString is decrypted on read).
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
        // A new version of the app's launch template, made the default.
        sid: 'RollOutLaunchTemplate',
        effect: 'Allow',
        actions: ['ec2:CreateLaunchTemplateVersion', 'ec2:ModifyLaunchTemplate'],
        resources: [launchTemplates],
        condition: tagged,
      },
      // A group takes a launch template version only from a caller that could launch from it
      // itself: RunInstances on the template and on everything a launch touches. Each statement
      // scopes one kind, so a launch is allowed only from this profile's tagged template, into
      // the network stack's subnets and security groups, from an Amazon image.
      {
        sid: 'LaunchFromProfileTemplate',
        effect: 'Allow',
        actions: ['ec2:RunInstances'],
        resources: [launchTemplates],
        condition: tagged,
      },
      {
        sid: 'LaunchOnlyFromTemplates',
        effect: 'Allow',
        actions: ['ec2:RunInstances'],
        resources: [
          arn('ec2', 'instance/*'),
          arn('ec2', 'volume/*'),
          arn('ec2', 'network-interface/*'),
        ],
        condition: [{ test: 'ArnLike', variable: 'ec2:LaunchTemplate', values: [launchTemplates] }],
      },
      {
        sid: 'LaunchIntoProfileNetwork',
        effect: 'Allow',
        actions: ['ec2:RunInstances'],
        resources: [arn('ec2', 'subnet/*'), arn('ec2', 'security-group/*')],
        condition: [
          {
            test: 'StringEquals',
            variable: `aws:ResourceTag/${props.stackTagKey}`,
            values: [props.networkStackName],
          },
        ],
      },
      {
        sid: 'LaunchAmazonImages',
        effect: 'Allow',
        actions: ['ec2:RunInstances'],
        resources: [`arn:aws:ec2:${region}::image/*`],
        condition: [{ test: 'StringEquals', variable: 'ec2:Owner', values: ['amazon'] }],
      },
      {
        // The tags a launch puts on its instance, volume and network interface; nothing else.
        sid: 'TagAtLaunch',
        effect: 'Allow',
        actions: ['ec2:CreateTags'],
        resources: [
          arn('ec2', 'instance/*'),
          arn('ec2', 'volume/*'),
          arn('ec2', 'network-interface/*'),
        ],
        condition: [
          { test: 'StringEquals', variable: 'ec2:CreateAction', values: ['RunInstances'] },
        ],
      },
      ...(props.reservesLoadBalancerCapacity
        ? [
            {
              // The load balancer's capacity reservation follows the registration calendar
              // (src/rush.ts): the first release inside its span requests it, the first one
              // after the last opening's hold releases it.
              sid: 'ReserveLoadBalancerCapacity',
              effect: 'Allow',
              actions: ['elasticloadbalancing:ModifyCapacityReservation'],
              resources: [arn('elasticloadbalancing', `loadbalancer/app/${name}-alb/*`)],
            },
          ]
        : []),
      {
        // A new launch template version and its instance refresh (cancelling one still
        // running); the scheduled actions of openings added to the calendar and of those past.
        sid: 'RollOutAutoscalingGroup',
        effect: 'Allow',
        actions: [
          'autoscaling:CancelInstanceRefresh',
          'autoscaling:DeleteScheduledAction',
          'autoscaling:PutScheduledUpdateGroupAction',
          'autoscaling:StartInstanceRefresh',
          'autoscaling:UpdateAutoScalingGroup',
        ],
        resources: [group],
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
    ]

    new IamRolePolicy(this, 'deploy-policy', {
      name: 'sugang-deploy',
      role: this.deployRole.id,
      policy: policyDocument(this, 'deploy-permissions', statements).json,
    })
  }
}
