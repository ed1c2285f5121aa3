// Every AWS call the platform's principals make, with the ARN each is authorized against and the
// context keys its policies look at. test/iam-by-arn.test.ts evaluates each with an IAM policy
// simulator against the synthesized policies of both profiles (infra/README.md, "IAM, call by
// call").
//
// Terraform's calls were read from the AWS provider the stacks are planned with, hashicorp/aws
// 5.100.0 (PROVIDER below): for each resource type, the Read function (what every plan's refresh
// calls) and, for the types a release changes, the Update, Create or Delete function, each
// followed into the finders and waiters it calls. The functions read are named per type. Calls
// made only on paths these stacks never take (spot instances, passwords of Windows instances, a
// role deleted behind Terraform's back) are left out. An API operation is authorized as the IAM
// action the Service Authorization Reference gives for it, which is not always its name
// (HeadBucket is s3:ListBucket).
import { memberSuffixes } from '../../src/constructs/cache.js'
import { MONITORING_DATABASE_USER } from '../../src/constructs/monitoring-exporters.js'
import type { Body } from '../helpers/synth.js'
import type { PolicyDocument, Resolver, ResourceRef } from './resolve.js'
import { parameterArn } from './resolve.js'

export const PROVIDER = {
  source: 'hashicorp/terraform-provider-aws',
  version: '5.100.0',
  /** The release's commit (its build information records it). */
  commit: 'f7a3b98da589ab1d52756b0dcee0dbf2de83d635',
} as const

export type Context = Readonly<Record<string, string | string[]>>

/** One authorization: an action on a resource, with the request's context keys. */
export interface Call {
  /** Who makes it and why, for the failure message. */
  readonly by: string
  readonly action: string
  readonly resource: string
  readonly context?: Context
  /** The resource's own policy, where AWS requires it to agree (a KMS key's key policy). */
  readonly resourcePolicy?: PolicyDocument
  /**
   * An AWS-owned public resource (an AWS public parameter): its ARN has no account, so the
   * caller's own policies alone decide.
   */
  readonly public?: true
}

/** A resource of a synthesized stack, as the table's entries see it. */
export interface Target {
  readonly ref: ResourceRef
  readonly r: Resolver
  /** The resource's ARN. */
  readonly arn: string
}

/** A resource a call is authorized against, with the context keys of that authorization. */
export interface Authorization {
  readonly resource: string
  readonly context?: Context
  readonly public?: true
}

export interface CallSpec {
  /** The API operation the provider calls. */
  readonly api: string
  /** The IAM action AWS authorizes it as. */
  readonly action: string
  /** What it is authorized against: one ARN, several, or several each with its own context. */
  readonly on: (t: Target) => string | string[] | Authorization[]
  readonly context?: (t: Target) => Context
}

export interface TypeCalls {
  /** The provider functions these calls were read from (package.function). */
  readonly read: readonly string[]
  /** Every plan: Terraform refreshes the resource. */
  readonly refresh: readonly CallSpec[]
  /** A release changes the resource in place (the deploy role's apply). */
  readonly update?: readonly CallSpec[]
  /** A release adds one (a registration opening added to the calendar). */
  readonly create?: readonly CallSpec[]
  /** A release removes one (an opening that has passed). */
  readonly destroy?: readonly CallSpec[]
  /** Authorizations AWS makes of the caller beyond the calls themselves, on update. */
  readonly checks?: (t: Target) => CallSpec[]
  /** Creating, changing or deleting one otherwise: engineers' own credentials, never the deploy role. */
  readonly engineers?: readonly CallSpec[]
}

const self = (t: Target) => t.arn
const call = (api: string, action: string, on: CallSpec['on'] = self): CallSpec => ({
  api,
  action,
  on,
})
/** API operations authorized under their own name, on the resource itself. */
const same = (service: string, ...apis: string[]): CallSpec[] =>
  apis.map((api) => call(api, `${service}:${api}`))

/** The resource an argument of the target refers to (`${aws_x.y.attr}`), with its ARN. */
function via(t: Target, field: string): Target {
  const ref = t.r.referenced(t.ref, field)
  return { ref, r: t.r, arn: t.r.resourceArn(ref) }
}

const roleArn = (t: Target, name: string) => `arn:aws:iam::${t.r.config.accountId}:role/${name}`
const roleOf = (field: string) => (t: Target) => roleArn(t, t.r.attribute(t.ref, field))
const bucketOf = (t: Target) => via(t, 'bucket').arn
const hostedZone = (t: Target) => `arn:aws:route53:::hostedzone/${t.r.attribute(t.ref, 'zone_id')}`

/** Tags as the condition keys a request carries for them (`aws:ResourceTag/<key>` etc.). */
export function tagKeys(kind: 'ResourceTag' | 'RequestTag', tags: Record<string, string>): Context {
  return Object.fromEntries(Object.entries(tags).map(([k, v]) => [`aws:${kind}/${k}`, v]))
}

/**
 * What Auto Scaling checks before it takes a launch template version on a group: that the caller
 * could launch from it (RunInstances on the template and on every resource a launch touches), tag
 * what it launches, and pass the instance profile's role to EC2.
 */
function launchChecks(t: Target): CallSpec[] {
  const { r } = t
  // The group names its template in its mixed instances policy (compute.ts).
  const spec = t.ref.body.mixed_instances_policy.launch_template.launch_template_specification
  const template = r.refOf(t.ref.stack, spec.launch_template_id as string)
  const templateArn = r.resourceArn(template)
  const fromTemplate = { 'ec2:LaunchTemplate': templateArn }
  const body = template.body
  const launched = (type: string): Authorization => {
    const spec = (body.tag_specifications as Body[]).find((s) => s.resource_type === type)
    const tags = r.value(template.stack, spec?.tags ?? {}) as Record<string, string>
    const kind = {
      instance: 'instance/i',
      volume: 'volume/vol',
      'network-interface': 'network-interface/eni',
    }[type]
    return {
      resource: r.arn('ec2', `${kind}-0123456789abcdef0`),
      context: {
        ...fromTemplate,
        ...tagKeys('RequestTag', tags),
        'aws:TagKeys': Object.keys(tags),
      },
    }
  }
  const existing = (ref: ResourceRef): Authorization => ({
    resource: r.resourceArn(ref),
    context: { ...fromTemplate, ...tagKeys('ResourceTag', r.tags(ref)) },
  })
  const subnets = (t.ref.body.vpc_zone_identifier as string[]).map((s) => r.refOf(t.ref.stack, s))
  const groups = (body.network_interfaces as Body[]).flatMap((n) =>
    (n.security_groups as string[]).map((g) => r.refOf(template.stack, g)),
  )
  const profile = r.refOf(template.stack, body.iam_instance_profile.arn as string)
  const launchedTypes = ['instance', 'volume', 'network-interface']
  return [
    {
      api: 'RunInstances',
      action: 'ec2:RunInstances',
      on: () => [
        existing(template),
        ...launchedTypes.map(launched),
        ...subnets.map(existing),
        ...groups.map(existing),
        {
          // A public Amazon Linux image (compute.amiId): owned by Amazon, in no account.
          resource: `arn:aws:ec2:${r.config.region}::image/${r.attribute(template, 'image_id')}`,
          context: { ...fromTemplate, 'ec2:Owner': 'amazon' },
        },
      ],
    },
    {
      api: 'CreateTags',
      action: 'ec2:CreateTags',
      on: () =>
        launchedTypes.map(launched).map((a) => ({
          resource: a.resource,
          context: {
            'ec2:CreateAction': 'RunInstances',
            ...Object.fromEntries(
              Object.entries(a.context ?? {}).filter(([k]) => k.startsWith('aws:RequestTag/')),
            ),
          },
        })),
    },
    {
      api: 'PassRole',
      action: 'iam:PassRole',
      on: () => roleArn(t, r.attribute(profile, 'role')),
      context: () => ({ 'iam:PassedToService': 'ec2.amazonaws.com' }),
    },
  ]
}

export const TERRAFORM_CALLS: Readonly<Record<string, TypeCalls>> = {
  aws_acm_certificate: {
    read: ['acm.resourceCertificateRead', 'acm.findCertificateByARN', 'acm.listTags'],
    refresh: [...same('acm', 'DescribeCertificate'), ...same('acm', 'ListTagsForCertificate')],
    engineers: same('acm', 'DeleteCertificate'),
  },
  aws_acm_certificate_validation: {
    read: ['acm.resourceCertificateValidationRead', 'acm.findCertificateByARN'],
    refresh: [
      call('DescribeCertificate', 'acm:DescribeCertificate', (t) =>
        t.r.attribute(t.ref, 'certificate_arn'),
      ),
    ],
  },
  aws_autoscaling_group: {
    read: [
      'autoscaling.resourceGroupRead',
      'autoscaling.findGroup',
      'autoscaling.resourceGroupUpdate',
      'autoscaling.startInstanceRefresh',
      'autoscaling.cancelInstanceRefresh',
    ],
    refresh: same('autoscaling', 'DescribeAutoScalingGroups'),
    update: [
      ...same('autoscaling', 'UpdateAutoScalingGroup', 'StartInstanceRefresh'),
      // A refresh still running (the one a rollback follows) is cancelled first, and waited for.
      ...same('autoscaling', 'CancelInstanceRefresh', 'DescribeInstanceRefreshes'),
    ],
    checks: launchChecks,
    engineers: same(
      'autoscaling',
      'CreateAutoScalingGroup',
      'DeleteAutoScalingGroup',
      'PutWarmPool',
    ),
  },
  aws_autoscaling_policy: {
    read: ['autoscaling.resourcePolicyRead', 'autoscaling.findScalingPolicy'],
    refresh: same('autoscaling', 'DescribePolicies'),
    engineers: [
      call('PutScalingPolicy', 'autoscaling:PutScalingPolicy', (t) => asgOf(t)),
      call('DeletePolicy', 'autoscaling:DeletePolicy', (t) => asgOf(t)),
    ],
  },
  aws_autoscaling_schedule: {
    read: [
      'autoscaling.resourceScheduleRead',
      'autoscaling.findSchedule',
      'autoscaling.resourceSchedulePut',
      'autoscaling.resourceScheduleDelete',
    ],
    refresh: same('autoscaling', 'DescribeScheduledActions'),
    create: [
      call('PutScheduledUpdateGroupAction', 'autoscaling:PutScheduledUpdateGroupAction', (t) =>
        asgOf(t),
      ),
      ...same('autoscaling', 'DescribeScheduledActions'),
    ],
    destroy: [call('DeleteScheduledAction', 'autoscaling:DeleteScheduledAction', (t) => asgOf(t))],
  },
  aws_cloudwatch_event_rule: {
    read: [
      'events.resourceRuleRead',
      'events.findRuleByTwoPartKey',
      'events.listTags',
      'events.resourceRuleUpdate',
    ],
    refresh: same('events', 'DescribeRule', 'ListTagsForResource'),
    // The schedule is enabled by the first release with the real bundle.
    update: same('events', 'PutRule', 'DescribeRule'),
    engineers: same('events', 'DeleteRule'),
  },
  aws_cloudwatch_event_target: {
    read: ['events.resourceTargetRead', 'events.findTargets'],
    refresh: [call('ListTargetsByRule', 'events:ListTargetsByRule', (t) => via(t, 'rule').arn)],
    engineers: [
      call('PutTargets', 'events:PutTargets', (t) => via(t, 'rule').arn),
      call('RemoveTargets', 'events:RemoveTargets', (t) => via(t, 'rule').arn),
    ],
  },
  aws_cloudwatch_log_group: {
    read: ['logs.resourceGroupRead', 'logs.findLogGroup', 'logs.listTags'],
    refresh: same('logs', 'DescribeLogGroups', 'ListTagsForResource'),
    engineers: same('logs', 'CreateLogGroup', 'DeleteLogGroup', 'PutRetentionPolicy'),
  },
  aws_iam_instance_profile: {
    read: [
      'iam.resourceInstanceProfileRead',
      'iam.findInstanceProfileByName',
      'iam.findRoleByName',
    ],
    refresh: [...same('iam', 'GetInstanceProfile'), call('GetRole', 'iam:GetRole', roleOf('role'))],
    engineers: same(
      'iam',
      'CreateInstanceProfile',
      'DeleteInstanceProfile',
      'AddRoleToInstanceProfile',
    ),
  },
  aws_iam_role: {
    read: [
      'iam.resourceRoleRead',
      'iam.findRoleByName',
      'iam.readRoleInlinePolicies',
      'iam.findRoleAttachedPolicies',
    ],
    refresh: same(
      'iam',
      'GetRole',
      'ListRolePolicies',
      'GetRolePolicy',
      'ListAttachedRolePolicies',
    ),
    engineers: same('iam', 'CreateRole', 'DeleteRole', 'UpdateAssumeRolePolicy', 'TagRole'),
  },
  aws_iam_role_policy: {
    read: ['iam.resourceRolePolicyRead', 'iam.FindRolePolicyByTwoPartKey'],
    refresh: [call('GetRolePolicy', 'iam:GetRolePolicy', roleOf('role'))],
    engineers: [
      call('PutRolePolicy', 'iam:PutRolePolicy', roleOf('role')),
      call('DeleteRolePolicy', 'iam:DeleteRolePolicy', roleOf('role')),
    ],
  },
  aws_iam_role_policy_attachment: {
    read: ['iam.resourceRolePolicyAttachmentRead', 'iam.findAttachedRolePolicy'],
    refresh: [call('ListAttachedRolePolicies', 'iam:ListAttachedRolePolicies', roleOf('role'))],
    engineers: [
      call('AttachRolePolicy', 'iam:AttachRolePolicy', roleOf('role')),
      call('DetachRolePolicy', 'iam:DetachRolePolicy', roleOf('role')),
    ],
  },
  aws_instance: {
    read: [
      'ec2.resourceInstanceRead',
      'ec2.findInstance',
      'ec2.findInstanceType',
      'ec2.flattenInstanceLaunchTemplate',
      'ec2.readBlockDevices',
      'ec2.findInstanceCreditSpecification',
    ],
    refresh: [
      ...same(
        'ec2',
        'DescribeInstances',
        'DescribeInstanceTypes',
        'DescribeTags',
        'DescribeVolumes',
      ),
      // disableApiStop, disableApiTermination, instanceInitiatedShutdownBehavior, userData.
      { ...call('DescribeInstanceAttribute', 'ec2:DescribeInstanceAttribute'), context: ownTags },
      // Burstable instance types (the t3 host) only.
      ...same('ec2', 'DescribeInstanceCreditSpecifications'),
    ],
    engineers: same('ec2', 'TerminateInstances', 'StopInstances', 'ModifyInstanceAttribute'),
  },
  aws_lambda_function: {
    read: [
      'lambda.resourceFunctionRead',
      'lambda.findFunction',
      'lambda.findLatestFunctionVersionByName',
      'lambda.resourceFunctionUpdate',
    ],
    refresh: same(
      'lambda',
      'GetFunction',
      'ListVersionsByFunction',
      // Zip functions in the commercial partition where AWS Signer is offered.
      'GetFunctionCodeSigningConfig',
    ),
    // A new bundle: the code, then the FunctionUpdated waiter (GetFunctionConfiguration).
    update: same('lambda', 'UpdateFunctionCode', 'GetFunctionConfiguration'),
    engineers: same(
      'lambda',
      'CreateFunction',
      'DeleteFunction',
      'UpdateFunctionConfiguration',
      'PutFunctionConcurrency',
      'InvokeFunction',
    ),
  },
  aws_lambda_function_event_invoke_config: {
    read: [
      'lambda.resourceFunctionEventInvokeConfigRead',
      'lambda.findFunctionEventInvokeConfigByTwoPartKey',
    ],
    refresh: [
      call('GetFunctionEventInvokeConfig', 'lambda:GetFunctionEventInvokeConfig', (t) =>
        functionOf(t),
      ),
    ],
    engineers: [
      call('PutFunctionEventInvokeConfig', 'lambda:PutFunctionEventInvokeConfig', (t) =>
        functionOf(t),
      ),
      call('DeleteFunctionEventInvokeConfig', 'lambda:DeleteFunctionEventInvokeConfig', (t) =>
        functionOf(t),
      ),
    ],
  },
  aws_lambda_permission: {
    read: ['lambda.resourcePermissionRead', 'lambda.findPolicyStatementByTwoPartKey'],
    refresh: [call('GetPolicy', 'lambda:GetPolicy', (t) => functionOf(t))],
    engineers: [
      call('AddPermission', 'lambda:AddPermission', (t) => functionOf(t)),
      call('RemovePermission', 'lambda:RemovePermission', (t) => functionOf(t)),
    ],
  },
  aws_launch_template: {
    read: [
      'ec2.resourceLaunchTemplateRead',
      'ec2.findLaunchTemplate',
      'ec2.findLaunchTemplateVersion',
      'ec2.resourceLaunchTemplateUpdate',
    ],
    refresh: same('ec2', 'DescribeLaunchTemplates', 'DescribeLaunchTemplateVersions'),
    // A new version, made the default (update_default_version).
    update: [
      {
        ...call('CreateLaunchTemplateVersion', 'ec2:CreateLaunchTemplateVersion'),
        context: ownTags,
      },
      { ...call('ModifyLaunchTemplate', 'ec2:ModifyLaunchTemplate'), context: ownTags },
    ],
    engineers: [
      { ...call('DeleteLaunchTemplate', 'ec2:DeleteLaunchTemplate'), context: ownTags },
      {
        ...call('DeleteLaunchTemplateVersions', 'ec2:DeleteLaunchTemplateVersions'),
        context: ownTags,
      },
    ],
  },
  aws_lb: {
    read: [
      'elbv2.resourceLoadBalancerRead',
      'elbv2.findLoadBalancer',
      'elbv2.findLoadBalancerAttributesByARN',
      'elbv2.findCapacityReservationByARN',
      'elbv2.listTags',
      'elbv2.resourceLoadBalancerUpdate',
      'elbv2.modifyCapacityReservation',
    ],
    refresh: same(
      'elasticloadbalancing',
      'DescribeLoadBalancers',
      'DescribeLoadBalancerAttributes',
      'DescribeCapacityReservation',
      'DescribeTags',
    ),
    // The capacity reservation follows the registration calendar (src/rush.ts): a release inside
    // an opening's span requests it, the first one after the last hold releases it.
    update: same(
      'elasticloadbalancing',
      'ModifyCapacityReservation',
      'DescribeCapacityReservation',
    ),
    engineers: same('elasticloadbalancing', 'DeleteLoadBalancer', 'ModifyLoadBalancerAttributes'),
  },
  aws_lb_listener: {
    read: [
      'elbv2.resourceListenerRead',
      'elbv2.findListener',
      'elbv2.findListenerAttributesByARN',
      'elbv2.listTags',
    ],
    refresh: same(
      'elasticloadbalancing',
      'DescribeListeners',
      'DescribeListenerAttributes',
      'DescribeTags',
    ),
    engineers: same('elasticloadbalancing', 'DeleteListener', 'ModifyListener'),
  },
  aws_lb_target_group: {
    read: [
      'elbv2.resourceTargetGroupRead',
      'elbv2.findTargetGroup',
      'elbv2.findTargetGroupAttributesByARN',
      'elbv2.listTags',
    ],
    refresh: same(
      'elasticloadbalancing',
      'DescribeTargetGroups',
      'DescribeTargetGroupAttributes',
      'DescribeTags',
    ),
    engineers: same('elasticloadbalancing', 'DeleteTargetGroup', 'ModifyTargetGroupAttributes'),
  },
  aws_route53_record: {
    read: ['route53.resourceRecordRead', 'route53.findResourceRecordSetByFourPartKey'],
    refresh: [
      call('GetHostedZone', 'route53:GetHostedZone', hostedZone),
      call('ListResourceRecordSets', 'route53:ListResourceRecordSets', hostedZone),
    ],
    engineers: [call('ChangeResourceRecordSets', 'route53:ChangeResourceRecordSets', hostedZone)],
  },
  aws_s3_bucket: {
    read: [
      's3.resourceBucketRead',
      's3.findBucket',
      's3.findBucketPolicy',
      's3.findBucketACL',
      's3.findCORSRules',
      's3.findBucketWebsite',
      's3.findBucketVersioning',
      's3.findBucketAccelerateConfiguration',
      's3.findBucketRequestPayment',
      's3.findLoggingEnabled',
      's3.findBucketLifecycleConfiguration',
      's3.findReplicationConfiguration',
      's3.findServerSideEncryptionConfiguration',
      's3.findObjectLockConfiguration',
      's3.bucketListTags',
    ],
    refresh: [
      // The first call of every refresh: a bucket the caller may not list is "not found".
      call('HeadBucket', 's3:ListBucket'),
      call('GetBucketPolicy', 's3:GetBucketPolicy'),
      call('GetBucketAcl', 's3:GetBucketAcl'),
      call('GetBucketCors', 's3:GetBucketCORS'),
      call('GetBucketWebsite', 's3:GetBucketWebsite'),
      call('GetBucketVersioning', 's3:GetBucketVersioning'),
      call('GetBucketAccelerateConfiguration', 's3:GetAccelerateConfiguration'),
      call('GetBucketRequestPayment', 's3:GetBucketRequestPayment'),
      call('GetBucketLogging', 's3:GetBucketLogging'),
      call('GetBucketLifecycleConfiguration', 's3:GetLifecycleConfiguration'),
      call('GetBucketReplication', 's3:GetReplicationConfiguration'),
      call('GetBucketEncryption', 's3:GetEncryptionConfiguration'),
      call('GetObjectLockConfiguration', 's3:GetBucketObjectLockConfiguration'),
      call('GetBucketTagging', 's3:GetBucketTagging'),
    ],
    engineers: [call('CreateBucket', 's3:CreateBucket'), call('DeleteBucket', 's3:DeleteBucket')],
  },
  aws_s3_bucket_lifecycle_configuration: {
    read: [
      's3.(*resourceBucketLifecycleConfiguration).Read',
      's3.findBucketLifecycleConfiguration',
    ],
    refresh: [call('GetBucketLifecycleConfiguration', 's3:GetLifecycleConfiguration', bucketOf)],
    engineers: [call('PutBucketLifecycleConfiguration', 's3:PutLifecycleConfiguration', bucketOf)],
  },
  aws_s3_bucket_ownership_controls: {
    read: ['s3.resourceBucketOwnershipControlsRead', 's3.findOwnershipControls'],
    refresh: [call('GetBucketOwnershipControls', 's3:GetBucketOwnershipControls', bucketOf)],
    engineers: [call('PutBucketOwnershipControls', 's3:PutBucketOwnershipControls', bucketOf)],
  },
  aws_s3_bucket_policy: {
    read: ['s3.resourceBucketPolicyRead', 's3.findBucketPolicy'],
    refresh: [call('GetBucketPolicy', 's3:GetBucketPolicy', bucketOf)],
    engineers: [
      call('PutBucketPolicy', 's3:PutBucketPolicy', bucketOf),
      call('DeleteBucketPolicy', 's3:DeleteBucketPolicy', bucketOf),
    ],
  },
  aws_s3_bucket_public_access_block: {
    read: ['s3.resourceBucketPublicAccessBlockRead', 's3.findPublicAccessBlockConfiguration'],
    refresh: [call('GetPublicAccessBlock', 's3:GetBucketPublicAccessBlock', bucketOf)],
    engineers: [call('PutPublicAccessBlock', 's3:PutBucketPublicAccessBlock', bucketOf)],
  },
  aws_s3_bucket_server_side_encryption_configuration: {
    read: [
      's3.resourceBucketServerSideEncryptionConfigurationRead',
      's3.findServerSideEncryptionConfiguration',
    ],
    refresh: [call('GetBucketEncryption', 's3:GetEncryptionConfiguration', bucketOf)],
    engineers: [call('PutBucketEncryption', 's3:PutEncryptionConfiguration', bucketOf)],
  },
  aws_s3_bucket_versioning: {
    read: ['s3.resourceBucketVersioningRead', 's3.findBucketVersioning'],
    refresh: [call('GetBucketVersioning', 's3:GetBucketVersioning', bucketOf)],
    engineers: [call('PutBucketVersioning', 's3:PutBucketVersioning', bucketOf)],
  },
  aws_sesv2_email_identity: {
    read: ['sesv2.resourceEmailIdentityRead', 'sesv2.findEmailIdentityByID', 'sesv2.listTags'],
    refresh: same('ses', 'GetEmailIdentity', 'ListTagsForResource'),
    engineers: same('ses', 'CreateEmailIdentity', 'DeleteEmailIdentity'),
  },
  aws_sqs_queue: {
    read: ['sqs.resourceQueueRead', 'sqs.findQueueAttributesByURL', 'sqs.listTags'],
    refresh: same('sqs', 'GetQueueAttributes', 'ListQueueTags'),
    engineers: same('sqs', 'CreateQueue', 'DeleteQueue', 'SetQueueAttributes'),
  },
  aws_ssm_parameter: {
    read: [
      'ssm.resourceParameterRead',
      'ssm.findParameterByName',
      'ssm.findParameterMetadataByName',
      'ssm.listTags',
    ],
    refresh: same('ssm', 'GetParameter', 'DescribeParameters', 'ListTagsForResource'),
    engineers: same('ssm', 'DeleteParameter', 'AddTagsToResource'),
  },
  aws_vpc_security_group_egress_rule: {
    read: ['ec2.(*securityGroupEgressRuleResource).findByID', 'ec2.findSecurityGroupRule'],
    refresh: same('ec2', 'DescribeSecurityGroupRules'),
    engineers: [
      call('AuthorizeSecurityGroupEgress', 'ec2:AuthorizeSecurityGroupEgress', (t) => groupOf(t)),
      call('RevokeSecurityGroupEgress', 'ec2:RevokeSecurityGroupEgress', (t) => groupOf(t)),
    ],
  },
  aws_vpc_security_group_ingress_rule: {
    read: ['ec2.(*securityGroupIngressRuleResource).findByID', 'ec2.findSecurityGroupRule'],
    refresh: same('ec2', 'DescribeSecurityGroupRules'),
    engineers: [
      call('AuthorizeSecurityGroupIngress', 'ec2:AuthorizeSecurityGroupIngress', (t) => groupOf(t)),
      call('RevokeSecurityGroupIngress', 'ec2:RevokeSecurityGroupIngress', (t) => groupOf(t)),
    ],
  },
  aws_wafv2_web_acl: {
    read: ['wafv2.resourceWebACLRead', 'wafv2.findWebACLByThreePartKey', 'wafv2.listTags'],
    refresh: same('wafv2', 'GetWebACL', 'ListTagsForResource'),
    engineers: same('wafv2', 'UpdateWebACL', 'DeleteWebACL'),
  },
  aws_wafv2_web_acl_association: {
    read: ['wafv2.resourceWebACLAssociationRead', 'wafv2.findWebACLByResourceARN'],
    refresh: [
      call('GetWebACLForResource', 'wafv2:GetWebACLForResource', (t) => via(t, 'resource_arn').arn),
    ],
    engineers: [
      call('DisassociateWebACL', 'wafv2:DisassociateWebACL', (t) => via(t, 'resource_arn').arn),
    ],
  },
  aws_wafv2_web_acl_logging_configuration: {
    read: ['wafv2.resourceWebACLLoggingConfigurationRead', 'wafv2.findLoggingConfigurationByARN'],
    refresh: [
      call(
        'GetLoggingConfiguration',
        'wafv2:GetLoggingConfiguration',
        (t) => via(t, 'resource_arn').arn,
      ),
    ],
    engineers: [
      call(
        'DeleteLoggingConfiguration',
        'wafv2:DeleteLoggingConfiguration',
        (t) => via(t, 'resource_arn').arn,
      ),
    ],
  },
  // Data sources: read by every plan.
  'data.aws_caller_identity': {
    // sts:GetCallerIdentity needs no permission: every principal may ask who it is.
    read: ['sts.(*callerIdentityDataSource).Read'],
    refresh: [],
  },
  'data.aws_elb_service_account': {
    // A table of ELB's accounts per region, compiled into the provider: no call.
    read: ['elb.dataSourceServiceAccountRead'],
    refresh: [],
  },
  'data.aws_iam_policy_document': { read: [], refresh: [] },
  'data.aws_ssm_parameter': {
    read: ['ssm.dataParameterRead', 'ssm.findParameterByName'],
    refresh: [
      call('GetParameter', 'ssm:GetParameter', (t) => {
        const name = t.r.attribute(t.ref, 'name')
        const resource = parameterArn(t.r.config, name)
        return [name.startsWith('/aws/service/') ? { resource, public: true } : { resource }]
      }),
    ],
  },
  'data.terraform_remote_state': {
    // Terraform's own S3 backend, not the provider: the other stack's state object.
    read: ['terraform 1.11 internal/backend/remote-state/s3: (*RemoteClient).Get'],
    refresh: [
      call('GetObject', 's3:GetObject', (t) => {
        const config = t.ref.body.config as { bucket: string; key: string }
        return `arn:aws:s3:::${config.bucket}/${config.key}`
      }),
    ],
  },
}

function asgOf(t: Target): string {
  return via(t, 'autoscaling_group_name').arn
}
function functionOf(t: Target): string {
  return via(t, 'function_name').arn
}
function groupOf(t: Target): string {
  const id = t.r.attribute(t.ref, 'security_group_id')
  return t.r.arn('ec2', `security-group/${id}`)
}
/** The resource's tags (its own and the provider's default tags), as a request sees them. */
function ownTags(t: Target): Context {
  return tagKeys('ResourceTag', t.r.tags(t.ref))
}

/** The principals whose calls the table lists, by the name of their role. */
export function roles(r: Resolver) {
  return {
    deploy: `${r.prefix}-github-deploy`,
    app: `${r.prefix}-app-instance`,
    monitoring: `${r.prefix}-monitoring`,
    notify: `${r.prefix}-notify-email`,
  } as const
}

export type PrincipalKey = keyof ReturnType<typeof roles>

const STACKS_DEPLOYED = ['app', 'notify'] as const

/** The ECR repository the pipeline pushes to and the instances pull from. */
function serviceRepository(r: Resolver): string {
  const name = `${r.prefix}/${r.config.compute.repository}`
  return r.resourceArn(r.find('registry', 'aws_ecr_repository', (b) => b.name === name, name))
}

function stateObject(r: Resolver, stack: (typeof STACKS_DEPLOYED)[number], suffix = ''): string {
  const backend = r.platform[stack].tf.terraform!.backend!.s3 as { bucket: string; key: string }
  return `arn:aws:s3:::${backend.bucket}/${backend.key}${suffix}`
}

function parameter(r: Resolver, name: string): string {
  return parameterArn(r.config, name)
}

function secret(r: Resolver, name: string): string {
  return r.resourceArn(r.find('data', 'aws_secretsmanager_secret', (b) => b.name === name, name))
}

/**
 * The deploy workflow's own calls (.github/workflows/deploy.yml, infra/scripts/roll-out.sh) and
 * Terraform's S3 backend for the stacks it applies (Terraform 1.11, `use_lockfile`).
 */
export function pipelineCalls(r: Resolver): Call[] {
  const repository = serviceRepository(r)
  const released = parameter(r, `/${r.prefix}/app/released-image`)
  const asg = r.resourceArn(r.find('app', 'aws_autoscaling_group', () => true, 'the app group'))
  const by = (what: string) => `deploy.yml: ${what}`
  return [
    { by: by('amazon-ecr-login'), action: 'ecr:GetAuthorizationToken', resource: '*' },
    { by: by('aws ecr describe-images'), action: 'ecr:DescribeImages', resource: repository },
    ...[
      'ecr:BatchCheckLayerAvailability',
      'ecr:InitiateLayerUpload',
      'ecr:UploadLayerPart',
      'ecr:CompleteLayerUpload',
      'ecr:BatchGetImage',
      'ecr:PutImage',
    ].map((action) => ({ by: by('docker push'), action, resource: repository })),
    {
      by: 'scan-gate.sh: aws ecr describe-image-scan-findings',
      action: 'ecr:DescribeImageScanFindings',
      resource: repository,
    },
    // Under enhanced scanning (the registry stack's), ECR answers from Amazon Inspector, with the
    // caller's permissions.
    ...['inspector2:ListFindings', 'inspector2:ListCoverage'].map((action) => ({
      by: 'scan-gate.sh: the findings of an enhanced scan',
      action,
      resource: '*',
    })),
    {
      by: by('aws ssm get-parameter (the rollback target)'),
      action: 'ssm:GetParameter',
      resource: released,
    },
    { by: by('aws ssm put-parameter (released)'), action: 'ssm:PutParameter', resource: released },
    {
      by: 'roll-out.sh: aws autoscaling describe-instance-refreshes',
      action: 'autoscaling:DescribeInstanceRefreshes',
      resource: asg,
    },
    ...STACKS_DEPLOYED.flatMap((stack): Call[] => [
      {
        by: `S3 backend: read ${stack} state`,
        action: 's3:GetObject',
        resource: stateObject(r, stack),
      },
      {
        by: `S3 backend: lock ${stack}`,
        action: 's3:PutObject',
        resource: stateObject(r, stack, '.tflock'),
      },
      {
        by: `S3 backend: who holds the ${stack} lock`,
        action: 's3:GetObject',
        resource: stateObject(r, stack, '.tflock'),
      },
      {
        by: `S3 backend: write ${stack} state`,
        action: 's3:PutObject',
        resource: stateObject(r, stack),
      },
      {
        by: `S3 backend: unlock ${stack}`,
        action: 's3:DeleteObject',
        resource: stateObject(r, stack, '.tflock'),
      },
    ]),
  ]
}

/** What the SSM agent calls on every instance (AmazonSSMManagedInstanceCore) and for sessions. */
function agentCalls(r: Resolver, instance: string): Call[] {
  const sessionsKey = r.find(
    'ops',
    'aws_kms_key',
    (b) => /Session Manager/.test(b.description),
    'the sessions key',
  )
  const key = r.resourceArn(sessionsKey)
  const keyPolicy = r.resourcePolicy(sessionsKey)
  const transcripts = r.resourceArn(
    r.find(
      'ops',
      'aws_cloudwatch_log_group',
      (b) => b.name === `/${r.prefix}/ssm-sessions`,
      'transcripts',
    ),
  )
  const by = (what: string) => `SSM agent: ${what}`
  return [
    { by: by('registration'), action: 'ssm:UpdateInstanceInformation', resource: instance },
    { by: by('session channel'), action: 'ssmmessages:CreateControlChannel', resource: '*' },
    { by: by('session channel'), action: 'ssmmessages:OpenDataChannel', resource: '*' },
    { by: by('commands'), action: 'ec2messages:GetMessages', resource: '*' },
    {
      by: by('session encryption'),
      action: 'kms:GenerateDataKey',
      resource: key,
      resourcePolicy: keyPolicy,
    },
    {
      by: by('session encryption'),
      action: 'kms:Decrypt',
      resource: key,
      resourcePolicy: keyPolicy,
    },
    { by: by('transcript group'), action: 'logs:DescribeLogGroups', resource: '*' },
    {
      by: by('transcript'),
      action: 'logs:CreateLogStream',
      resource: `${transcripts}:log-stream:session-1`,
    },
    {
      by: by('transcript'),
      action: 'logs:PutLogEvents',
      resource: `${transcripts}:log-stream:session-1`,
    },
  ]
}

const INSTANCE = 'i-0123456789abcdef0'

/** The app instances: app-user-data.ts (sugang-prepare, sugang-launch) and the awslogs driver. */
export function appInstanceCalls(r: Resolver): Call[] {
  const logs = r.resourceArn(
    r.find('app', 'aws_cloudwatch_log_group', (b) => b.name === `/${r.prefix}/app`, 'app logs'),
  )
  const asg = r.resourceArn(r.find('app', 'aws_autoscaling_group', () => true, 'the app group'))
  const repository = serviceRepository(r)
  return [
    {
      by: 'sugang-prepare: the runtime settings',
      action: 'ssm:GetParameter',
      resource: parameter(r, `/${r.prefix}/app/runtime`),
    },
    {
      by: 'sugang-prepare: the database user',
      action: 'secretsmanager:GetSecretValue',
      resource: secret(r, `${r.prefix}/mysql/app`),
    },
    {
      by: 'sugang-prepare: the Redis AUTH token',
      action: 'secretsmanager:GetSecretValue',
      resource: secret(r, `${r.prefix}/redis/auth-token`),
    },
    // A SecureString under the account's aws/ssm key, whose key policy admits the account's
    // principals through SSM: no KMS grant.
    {
      by: 'sugang-prepare: SESSION_SECRET',
      action: 'ssm:GetParameter',
      resource: parameter(r, `/${r.prefix}/secrets/session-secret`),
    },
    {
      by: 'sugang-prepare: ADMIN_TOKENS',
      action: 'ssm:GetParameter',
      resource: parameter(r, `/${r.prefix}/secrets/admin-tokens`),
    },
    { by: 'sugang-prepare: ECR login', action: 'ecr:GetAuthorizationToken', resource: '*' },
    { by: 'docker pull', action: 'ecr:BatchGetImage', resource: repository },
    { by: 'docker pull', action: 'ecr:GetDownloadUrlForLayer', resource: repository },
    { by: 'awslogs driver', action: 'logs:CreateLogStream', resource: `${logs}:log-stream:sugang` },
    { by: 'awslogs driver', action: 'logs:PutLogEvents', resource: `${logs}:log-stream:sugang` },
    { by: 'sugang-launch: ready', action: 'autoscaling:CompleteLifecycleAction', resource: asg },
    ...agentCalls(r, r.arn('ec2', `instance/${INSTANCE}`)),
  ]
}

/** The Redis replication group and the MySQL instances, as the data stack creates them. */
function dataTier(r: Resolver) {
  const redis = r.find('data', 'aws_elasticache_replication_group', () => true, 'Redis')
  const groupId = r.attribute(redis, 'replication_group_id')
  const databases = r.resources('data').filter((ref) => ref.type === 'aws_db_instance')
  if (databases.length === 0) throw new Error('no MySQL instance in the data stack')
  /** The IAM authentication ARN of a MySQL user on one instance (its DbiResourceId). */
  const dbUser = (db: ResourceRef, user: string) =>
    r.arn('rds-db', `dbuser:${r.resourceAttribute(db, 'resource_id')}/${user}`)
  return { groupId, databases, dbUser }
}

/**
 * The monitoring host: its user data, Prometheus's EC2 discovery, the Watchdog relay, and the
 * target writer (monitoring-exporters.ts).
 */
export function monitoringCalls(r: Resolver): Call[] {
  const bucket = r.resourceArn(
    r.find(
      'app',
      'aws_s3_bucket',
      (b) => b.bucket_prefix === `${r.prefix}-monitoring-`,
      'config bucket',
    ),
  )
  const secrets = r.config.monitoring.alertmanagerSecretsPath
  const tier = dataTier(r)
  return [
    {
      by: 'aws s3 sync of the config',
      action: 's3:ListBucket',
      resource: bucket,
      context: { 's3:prefix': 'monitoring/' },
    },
    {
      by: 'aws s3 sync of the config',
      action: 's3:GetObject',
      resource: `${bucket}/monitoring/prometheus/prometheus.yml`,
    },
    {
      by: "Grafana's admin password",
      action: 'secretsmanager:GetSecretValue',
      resource: secret(r, `${r.prefix}/grafana/admin-password`),
    },
    {
      by: "the Redis exporter's AUTH token",
      action: 'secretsmanager:GetSecretValue',
      resource: secret(r, `${r.prefix}/redis/auth-token`),
    },
    {
      by: 'target writer: the nodes of the replication group',
      action: 'elasticache:DescribeReplicationGroups',
      resource: r.arn('elasticache', `replicationgroup:${tier.groupId}`),
    },
    // With cluster mode, each member's address comes from its own cache cluster.
    ...(r.config.cache.topology.clusterMode === 'enabled'
      ? memberSuffixes(r.config.cache.topology).map((suffix) => ({
          by: `target writer: the address of ${tier.groupId}${suffix}`,
          action: 'elasticache:DescribeCacheClusters',
          resource: r.arn('elasticache', `cluster:${tier.groupId}${suffix}`),
        }))
      : []),
    ...tier.databases.map((db) => ({
      by: `target writer: an IAM token for the MySQL exporter of ${db.body.identifier}`,
      action: 'rds-db:connect',
      resource: tier.dbUser(db, MONITORING_DATABASE_USER),
    })),
    ...['slack-critical-webhook-url', 'slack-warnings-webhook-url'].map((file) => ({
      by: 'Alertmanager webhooks',
      action: 'ssm:GetParameter',
      resource: parameter(r, `${secrets}/${file}`),
    })),
    { by: 'Prometheus EC2 discovery', action: 'ec2:DescribeInstances', resource: '*' },
    { by: 'Prometheus EC2 discovery', action: 'ec2:DescribeAvailabilityZones', resource: '*' },
    {
      by: 'Watchdog relay',
      action: 'cloudwatch:PutMetricData',
      resource: '*',
      context: { 'cloudwatch:namespace': 'sugang/monitoring' },
    },
    ...agentCalls(r, r.arn('ec2', `instance/${INSTANCE}`)),
  ]
}

/** The e-mail Lambda: service/src/lambda/notify-email.ts, and Lambda on its behalf. */
export function notifyCalls(r: Resolver): Call[] {
  const fn = r.find('notify', 'aws_lambda_function', () => true, 'the e-mail function')
  const variables = fn.body.environment.variables as Record<string, string>
  const identity = r.resourceArn(r.find('notify', 'aws_sesv2_email_identity', () => true, 'sender'))
  const logs = r.arn(
    'logs',
    `log-group:/aws/lambda/${fn.body.function_name}:log-stream:2026/01/01/[$LATEST]0123`,
  )
  const dlq = r.resourceArn(r.find('notify', 'aws_sqs_queue', () => true, 'dead letters'))
  return [
    {
      by: 'the sender: database credentials',
      action: 'secretsmanager:GetSecretValue',
      resource: r.string('notify', variables.DATABASE_SECRET_ARN!),
    },
    // SES v2 authorizes SendEmail against the sending identity and the configuration set.
    { by: 'the sender: SendEmail', action: 'ses:SendEmail', resource: identity },
    {
      by: 'the sender: SendEmail',
      action: 'ses:SendEmail',
      resource: r.arn('ses', `configuration-set/${variables.SES_CONFIGURATION_SET}`),
    },
    {
      by: 'Lambda: a failed run to the dead-letter queue',
      action: 'sqs:SendMessage',
      resource: dlq,
    },
    { by: 'Lambda: logs', action: 'logs:CreateLogStream', resource: logs },
    { by: 'Lambda: logs', action: 'logs:PutLogEvents', resource: logs },
    {
      by: 'Lambda: VPC network interfaces',
      action: 'ec2:CreateNetworkInterface',
      resource: r.arn('ec2', 'network-interface/eni-0123456789abcdef0'),
    },
    {
      by: 'Lambda: VPC network interfaces',
      action: 'ec2:DescribeNetworkInterfaces',
      resource: '*',
    },
    {
      by: 'Lambda: VPC network interfaces',
      action: 'ec2:DeleteNetworkInterface',
      resource: r.arn('ec2', 'network-interface/eni-0123456789abcdef0'),
    },
  ]
}

/** Calls each principal must be refused: what least privilege means here, checked. */
export function refusedCalls(r: Resolver): Record<PrincipalKey, Call[]> {
  const other = r.config.profile === 'small' ? 'ha' : 'small'
  const otherPrefix = `${r.config.project}-${other}`
  const template = r.find('app', 'aws_launch_template', () => true, 'the app template')
  const templateArn = r.resourceArn(template)
  const foreignTemplate = r.arn('ec2', 'launch-template/lt-0fedcba9876543210')
  const stateBucket = `arn:aws:s3:::${r.config.state.bucketName}`
  const unrelated = 'arn:aws:s3:::someone-elses-bucket'
  const asgName = `${r.prefix}-app`
  const otherAsg = r.arn(
    'autoscaling',
    `autoScalingGroup:0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d:autoScalingGroupName/${otherPrefix}-app`,
  )
  const sessionSecret = parameter(r, `/${r.prefix}/secrets/session-secret`)
  const adminTokens = parameter(r, `/${r.prefix}/secrets/admin-tokens`)
  const master = secret(r, `${r.prefix}/mysql/master`)
  const self = `arn:aws:iam::${r.config.accountId}:role/${roles(r).deploy}`
  const database = r.find('data', 'aws_db_instance', (b) => !b.replicate_source_db, 'the primary')
  const redis = r.find('data', 'aws_elasticache_replication_group', () => true, 'Redis')
  return {
    deploy: [
      {
        by: 'RunInstances from a launch template of another project',
        action: 'ec2:RunInstances',
        resource: foreignTemplate,
        context: { 'ec2:LaunchTemplate': foreignTemplate, 'aws:ResourceTag/sugang:profile': other },
      },
      {
        by: 'RunInstances from an untagged launch template',
        action: 'ec2:RunInstances',
        resource: foreignTemplate,
        context: { 'ec2:LaunchTemplate': foreignTemplate },
      },
      {
        by: 'RunInstances without a launch template',
        action: 'ec2:RunInstances',
        resource: r.arn('ec2', 'instance/i-0123456789abcdef0'),
      },
      {
        by: "RunInstances from the profile's template into another stack's subnet",
        action: 'ec2:RunInstances',
        resource: r.arn('ec2', 'subnet/subnet-0123456789abcdef0'),
        context: {
          'ec2:LaunchTemplate': templateArn,
          'aws:ResourceTag/sugang:stack': `${otherPrefix}-network`,
        },
      },
      {
        by: "RunInstances from the profile's template with another account's image",
        action: 'ec2:RunInstances',
        resource: `arn:aws:ec2:${r.config.region}::image/ami-0123456789abcdef0`,
        context: { 'ec2:LaunchTemplate': templateArn, 'ec2:Owner': '999999999999' },
      },
      {
        by: 'CreateTags on an instance outside a launch',
        action: 'ec2:CreateTags',
        resource: r.arn('ec2', 'instance/i-0123456789abcdef0'),
        context: { 'ec2:CreateAction': 'CreateTags' },
      },
      {
        by: 'a new version of another project’s launch template',
        action: 'ec2:CreateLaunchTemplateVersion',
        resource: foreignTemplate,
        context: { 'aws:ResourceTag/sugang:profile': other },
      },
      { by: 'listing an unrelated bucket', action: 's3:ListBucket', resource: unrelated },
      {
        by: "reading an unrelated bucket's policy",
        action: 's3:GetBucketPolicy',
        resource: unrelated,
      },
      {
        by: 'writing the data stack’s state',
        action: 's3:PutObject',
        resource: `${stateBucket}/${r.config.state.keyPrefix}/${r.prefix}-data.tfstate`,
      },
      { by: 'reading SESSION_SECRET', action: 'ssm:GetParameter', resource: sessionSecret },
      { by: 'reading ADMIN_TOKENS', action: 'ssm:GetParameter', resource: adminTokens },
      {
        by: 'reading the database master',
        action: 'secretsmanager:GetSecretValue',
        resource: master,
      },
      {
        by: 'writing the runtime settings',
        action: 'ssm:PutParameter',
        resource: parameter(r, `/${r.prefix}/app/runtime`),
      },
      {
        by: 'passing the monitoring role',
        action: 'iam:PassRole',
        resource: `arn:aws:iam::${r.config.accountId}:role/${r.prefix}-monitoring`,
        context: { 'iam:PassedToService': 'ec2.amazonaws.com' },
      },
      {
        by: 'passing the app role to Lambda',
        action: 'iam:PassRole',
        resource: `arn:aws:iam::${r.config.accountId}:role/${r.prefix}-app-instance`,
        context: { 'iam:PassedToService': 'lambda.amazonaws.com' },
      },
      {
        by: 'updating another function',
        action: 'lambda:UpdateFunctionCode',
        resource: r.arn('lambda', `function:${otherPrefix}-notify-email`),
      },
      {
        by: 'pushing to another repository',
        action: 'ecr:PutImage',
        resource: r.arn('ecr', 'repository/someone-else/service'),
      },
      {
        by: 'changing another group',
        action: 'autoscaling:UpdateAutoScalingGroup',
        resource: otherAsg,
      },
      {
        by: 'deleting the group',
        action: 'autoscaling:DeleteAutoScalingGroup',
        resource: r.arn(
          'autoscaling',
          `autoScalingGroup:0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d:autoScalingGroupName/${asgName}`,
        ),
      },
      // Widening its own permissions.
      { by: 'adding a policy to itself', action: 'iam:PutRolePolicy', resource: self },
      { by: 'attaching a policy to itself', action: 'iam:AttachRolePolicy', resource: self },
      { by: 'trusting someone else', action: 'iam:UpdateAssumeRolePolicy', resource: self },
      {
        by: 'creating a role',
        action: 'iam:CreateRole',
        resource: `arn:aws:iam::${r.config.accountId}:role/${r.prefix}-anything`,
      },
      // The stateful stacks and the state itself.
      {
        by: 'deleting the database',
        action: 'rds:DeleteDBInstance',
        resource: r.arn('rds', `db:${r.attribute(database, 'identifier')}`),
      },
      {
        by: 'changing the database',
        action: 'rds:ModifyDBInstance',
        resource: r.arn('rds', `db:${r.attribute(database, 'identifier')}`),
      },
      {
        by: 'deleting Redis',
        action: 'elasticache:DeleteReplicationGroup',
        resource: r.arn(
          'elasticache',
          `replicationgroup:${r.attribute(redis, 'replication_group_id')}`,
        ),
      },
      {
        by: 'deleting the image repository',
        action: 'ecr:DeleteRepository',
        resource: serviceRepository(r),
      },
      { by: 'deleting images', action: 'ecr:BatchDeleteImage', resource: serviceRepository(r) },
      { by: 'deleting the state bucket', action: 's3:DeleteBucket', resource: stateBucket },
      {
        by: "changing the state bucket's policy",
        action: 's3:PutBucketPolicy',
        resource: stateBucket,
      },
      {
        by: 'reading the ci stack’s state',
        action: 's3:GetObject',
        resource: `${stateBucket}/${r.config.state.keyPrefix}/${r.prefix}-ci.tfstate`,
      },
      {
        by: 'opening the network',
        action: 'ec2:AuthorizeSecurityGroupIngress',
        resource: r.arn('ec2', 'security-group/sg-0123456789abcdef0'),
      },
    ],
    app: [
      {
        by: "reading another profile's settings",
        action: 'ssm:GetParameter',
        resource: parameter(r, `/${otherPrefix}/app/runtime`),
      },
      {
        by: "reading another profile's ADMIN_TOKENS",
        action: 'ssm:GetParameter',
        resource: parameter(r, `/${otherPrefix}/secrets/admin-tokens`),
      },
      {
        by: "reading the monitoring host's webhooks",
        action: 'ssm:GetParameter',
        resource: parameter(
          r,
          `${r.config.monitoring.alertmanagerSecretsPath}/slack-critical-webhook-url`,
        ),
      },
      {
        by: 'reading the database master',
        action: 'secretsmanager:GetSecretValue',
        resource: master,
      },
      {
        by: "reading Grafana's password",
        action: 'secretsmanager:GetSecretValue',
        resource: secret(r, `${r.prefix}/grafana/admin-password`),
      },
      { by: 'pushing an image', action: 'ecr:PutImage', resource: serviceRepository(r) },
      { by: 'reading an unrelated bucket', action: 's3:GetObject', resource: `${unrelated}/x` },
    ],
    monitoring: [
      ...monitoringRefusals(r, otherPrefix, master),
      { by: 'reading SESSION_SECRET', action: 'ssm:GetParameter', resource: sessionSecret },
      { by: 'reading ADMIN_TOKENS', action: 'ssm:GetParameter', resource: adminTokens },
      {
        by: "reading another profile's settings",
        action: 'ssm:GetParameter',
        resource: parameter(r, `/${otherPrefix}/app/runtime`),
      },
      {
        by: "reading the service's database user",
        action: 'secretsmanager:GetSecretValue',
        resource: secret(r, `${r.prefix}/mysql/app`),
      },
      {
        by: "writing another namespace's metrics",
        action: 'cloudwatch:PutMetricData',
        resource: '*',
        context: { 'cloudwatch:namespace': 'sugang/notify' },
      },
      {
        by: 'writing its config bucket',
        action: 's3:PutObject',
        resource: `${r.resourceArn(r.find('app', 'aws_s3_bucket', (b) => b.bucket_prefix === `${r.prefix}-monitoring-`, 'config bucket'))}/monitoring/x`,
      },
    ],
    notify: [
      {
        by: 'sending as another identity',
        action: 'ses:SendEmail',
        resource: r.arn('ses', 'identity/example.com'),
      },
      {
        by: 'reading the database master',
        action: 'secretsmanager:GetSecretValue',
        resource: master,
      },
      { by: 'reading SESSION_SECRET', action: 'ssm:GetParameter', resource: sessionSecret },
      { by: 'reading ADMIN_TOKENS', action: 'ssm:GetParameter', resource: adminTokens },
    ],
  }
}

/** What the monitoring host's Redis and MySQL grants must not reach. */
function monitoringRefusals(r: Resolver, otherPrefix: string, master: string): Call[] {
  const { groupId, databases, dbUser } = dataTier(r)
  const primary = databases.find((db) => !db.body.replicate_source_db)!
  return [
    {
      by: 'MySQL as the service',
      action: 'rds-db:connect',
      resource: dbUser(primary, 'sugang_app'),
    },
    {
      by: 'MySQL as the master',
      action: 'rds-db:connect',
      resource: dbUser(primary, r.config.database.masterUsername),
    },
    {
      by: 'MySQL on another instance',
      action: 'rds-db:connect',
      resource: r.arn('rds-db', `dbuser:db-ABCDEFGHIJKLMNOPQRSTUVWXYZ/${MONITORING_DATABASE_USER}`),
    },
    {
      by: "listing another profile's Redis",
      action: 'elasticache:DescribeReplicationGroups',
      resource: r.arn('elasticache', `replicationgroup:${otherPrefix}-redis`),
    },
    {
      by: "describing a cache cluster outside the group's members",
      action: 'elasticache:DescribeCacheClusters',
      resource: r.arn('elasticache', `cluster:${groupId}-9999-001`),
    },
    {
      by: 'changing the replication group',
      action: 'elasticache:ModifyReplicationGroup',
      resource: r.arn('elasticache', `replicationgroup:${groupId}`),
    },
    {
      by: 'reading the database master',
      action: 'secretsmanager:GetSecretValue',
      resource: master,
    },
    {
      by: "reading the e-mail sender's database user",
      action: 'secretsmanager:GetSecretValue',
      resource: secret(r, `${r.prefix}/mysql/notifier`),
    },
    {
      by: "reading another profile's Redis AUTH token",
      action: 'secretsmanager:GetSecretValue',
      resource: r.arn('secretsmanager', `secret:${otherPrefix}/redis/auth-token-AbCdEf`),
    },
  ]
}

/**
 * Calls that are refused and must be, because the caller copes: Terraform ≥ 1.7 ignores an
 * AccessDenied when its S3 backend lists workspaces under the default prefix `env:/` (every init
 * and every remote state read does), so the deploy role needs no listing of the state bucket.
 */
export function toleratedRefusals(r: Resolver): Call[] {
  return [
    {
      by: 'S3 backend: workspaces under env:/',
      action: 's3:ListBucket',
      resource: `arn:aws:s3:::${r.config.state.bucketName}`,
      context: { 's3:prefix': 'env:/' },
    },
  ]
}
