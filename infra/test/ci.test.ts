// GitHub OIDC deploy role and remote state.
import t from 'tap'
import { Testing } from '../src/cdktf.js'
import { profiles, withImageDigest } from '../src/config/index.js'
import type { PlatformConfig } from '../src/config/types.js'
import { grantsOf } from './helpers/iam.js'
import { type Body, only, policyStatements, resourceList, synthPlatform } from './helpers/synth.js'

const small = synthPlatform(profiles.small)
const ha = synthPlatform(profiles.ha)

const deployRole = (stack: typeof small.ci) =>
  resourceList(stack, 'aws_iam_role').find((r) => r.name.endsWith('-github-deploy'))!
const deployPermissions = (stack: typeof small.ci) =>
  policyStatements(stack, only(stack, 'aws_iam_role_policy').policy)

t.test('the deploy role trusts only the production environment of this repository', async (t) => {
  for (const { ci } of [small, ha]) {
    const trust = policyStatements(ci, deployRole(ci).assume_role_policy)
    t.equal(trust.length, 1)
    const [statement] = trust as [Body]
    t.same(statement.actions, ['sts:AssumeRoleWithWebIdentity'])
    t.equal(statement.principals[0].type, 'Federated')
    t.match(statement.principals[0].identifiers[0], /aws_iam_openid_connect_provider/)
    t.same(statement.condition, [
      {
        test: 'StringEquals',
        variable: 'token.actions.githubusercontent.com:aud',
        values: ['sts.amazonaws.com'],
      },
      {
        test: 'StringEquals',
        variable: 'token.actions.githubusercontent.com:sub',
        values: ['repo:example-university/sugang:environment:production'],
      },
    ])
  }
})

t.test('the trusted repository and environment come from the profile', async (t) => {
  const other: PlatformConfig = {
    ...profiles.small,
    ci: { ...profiles.small.ci, githubOrg: 'another-org', githubRepo: 'fork', environment: 'prod' },
  }
  const { ci } = synthPlatform(other)
  const [statement] = policyStatements(ci, deployRole(ci).assume_role_policy) as [Body]
  t.same(statement.condition[1].values, ['repo:another-org/fork:environment:prod'])
})

t.test('the account gets the GitHub OIDC provider, or reuses an existing one', async (t) => {
  t.ok(
    Testing.toHaveResourceWithProperties(small.ci.json, 'aws_iam_openid_connect_provider', {
      url: 'https://token.actions.githubusercontent.com',
      client_id_list: ['sts.amazonaws.com'],
    }),
  )
  const existing = 'arn:aws:iam::111111111111:oidc-provider/token.actions.githubusercontent.com'
  const { ci } = synthPlatform({
    ...profiles.small,
    ci: { ...profiles.small.ci, existingOidcProviderArn: existing },
  })
  t.notOk(Testing.toHaveResource(ci.json, 'aws_iam_openid_connect_provider'))
  const [statement] = policyStatements(ci, deployRole(ci).assume_role_policy) as [Body]
  t.same(statement.principals[0].identifiers, [existing])
})

t.test('the deploy role cannot write anything with an unscoped resource', async (t) => {
  for (const { ci } of [small, ha]) {
    for (const statement of deployPermissions(ci)) {
      t.notOk(
        statement.actions.some((a: string) => a === '*' || a.endsWith(':*')),
        `${statement.sid} names actions`,
      )
      if (!statement.resources.includes('*')) continue
      const writes = (statement.actions as string[]).filter(
        (a) => !/^[a-z0-9-]+:(Describe|Get|List)/.test(a),
      )
      if (writes.length > 0) {
        t.ok(
          statement.condition?.length,
          `${statement.sid} limits ${writes.join(', ')} by condition`,
        )
      }
    }
  }
})

t.test('the deploy role cannot change IAM, the network or the data stores', async (t) => {
  for (const { ci } of [small, ha]) {
    const actions = deployPermissions(ci).flatMap((s) => s.actions as string[])
    const forbidden = actions.filter((a) =>
      /^(iam:(Create|Put|Attach|Update|Delete|Tag)|rds:|elasticache:|s3:(DeleteBucket|PutBucket)|ec2:(Authorize|Revoke|CreateSecurityGroup|DeleteVpc|CreateRoute))/.test(
        a,
      ),
    )
    t.same(forbidden, [])
    const passRole = deployPermissions(ci).find((s) => s.actions.includes('iam:PassRole'))!
    t.equal(passRole.resources.length, 1)
    t.match(passRole.resources[0], /:role\/sugang-(small|ha)-app-instance$/)
    t.same(
      passRole.condition,
      [{ test: 'StringEquals', variable: 'iam:PassedToService', values: ['ec2.amazonaws.com'] }],
      'passed to EC2 only, not to Lambda or anything else that would run as it',
    )
    for (const action of [
      'autoscaling:DeleteAutoScalingGroup',
      'autoscaling:DeleteWarmPool',
      'autoscaling:DeleteLifecycleHook',
      'autoscaling:DeletePolicy',
      'autoscaling:DetachLoadBalancerTargetGroups',
      'ec2:DeleteLaunchTemplate',
      'ec2:TerminateInstances',
      'elasticloadbalancing:DeleteTargetGroup',
      'elasticloadbalancing:DeleteLoadBalancer',
    ]) {
      t.same(grantsOf(deployPermissions(ci), action), [], `no ${action}`)
    }
  }
})

t.test('the deploy role may write only the app and notify stacks’ state and locks', async (t) => {
  const writes = deployPermissions(small.ci).filter((s) => s.actions.includes('s3:PutObject'))
  t.equal(writes.length, 1)
  const prefix = 'arn:aws:s3:::sugang-small-tfstate-111111111111/sugang/small'
  t.same(writes[0]!.resources, [
    `${prefix}/sugang-small-app.tfstate`,
    `${prefix}/sugang-small-app.tfstate.tflock`,
    `${prefix}/sugang-small-notify.tfstate`,
    `${prefix}/sugang-small-notify.tfstate.tflock`,
  ])
  t.same(writes[0]!.actions.sort(), ['s3:DeleteObject', 's3:PutObject'])
  t.same(
    grantsOf(deployPermissions(small.ci), 's3:PutObject', `${prefix}/sugang-small-data.tfstate`),
    [],
  )
  const list = grantsOf(deployPermissions(small.ci), 's3:ListBucket')
  t.equal(list.length, 1)
  t.same(list[0]!.resources, ['arn:aws:s3:::sugang-small-tfstate-111111111111'])
  t.same(list[0]!.condition, [
    { test: 'StringLike', variable: 's3:prefix', values: ['sugang/small/*'] },
  ])
})

t.test(
  'the launch template carries the tag the deploy role’s roll-out is conditioned on',
  async (t) => {
    for (const [platform, profile] of [
      [small, 'small'],
      [ha, 'ha'],
    ] as const) {
      const rollOut = grantsOf(deployPermissions(platform.ci), 'ec2:CreateLaunchTemplateVersion')
      t.equal(rollOut.length, 1)
      const [condition] = rollOut[0]!.condition as [Body]
      t.equal(condition.test, 'StringEquals')
      const key = /^aws:ResourceTag\/(.+)$/.exec(condition.variable)?.[1]
      t.ok(key, 'conditioned on a resource tag')
      const template = only(platform.app, 'aws_launch_template')
      t.same(condition.values, [profile])
      t.equal(template.tags?.[key!], profile, `the template is tagged ${key}=${profile}`)
    }
  },
)

t.test(
  'the deploy role may update only the e-mail Lambda, and only its code and configuration',
  async (t) => {
    for (const platform of [small, ha]) {
      const statements = deployPermissions(platform.ci)
      const fn = only(platform.notify, 'aws_lambda_function')
      const arn = `arn:aws:lambda:ap-northeast-2:${platform === small ? '111111111111' : '222222222222'}:function:${fn.function_name}`
      for (const action of [
        'lambda:GetFunction',
        'lambda:GetFunctionCodeSigningConfig',
        'lambda:GetFunctionConfiguration',
        'lambda:GetPolicy',
        'lambda:ListVersionsByFunction',
        'lambda:UpdateFunctionCode',
        'lambda:UpdateFunctionConfiguration',
      ]) {
        t.ok(grantsOf(statements, action, arn).length, `${action} on ${fn.function_name}`)
      }
      const lambdaGrants = statements.filter((s) =>
        (s.actions as string[]).some((a) => a.startsWith('lambda:')),
      )
      t.same(
        lambdaGrants.flatMap((s) => s.resources),
        [arn],
        'no other function',
      )
      const lambdaActions = lambdaGrants.flatMap((s) => s.actions as string[])
      t.same(
        lambdaActions.filter(
          (a) => !/^lambda:(Get|List|UpdateFunction(Code|Configuration)$)/.test(a),
        ),
        [],
        'no create, delete, invoke or permission change',
      )
      const rule = resourceList(platform.notify, 'aws_cloudwatch_event_rule')[0]!
      const putRule = grantsOf(statements, 'events:PutRule')
      t.equal(putRule.length, 1)
      t.match(putRule[0]!.resources, [new RegExp(`:rule/${rule.name}$`)])
    }
  },
)

t.test('the deploy role may record the released image and no other parameter', async (t) => {
  for (const [platform, account] of [
    [small, '111111111111'],
    [ha, '222222222222'],
  ] as const) {
    const statements = deployPermissions(platform.ci)
    const parameter = resourceList(platform.app, 'aws_ssm_parameter').find((p) =>
      p.name.endsWith('/released-image'),
    )!
    const arn = `arn:aws:ssm:ap-northeast-2:${account}:parameter${parameter.name}`
    t.ok(grantsOf(statements, 'ssm:GetParameter', arn).length, 'reads it')
    const writes = statements.filter((s) =>
      (s.actions as string[]).some((a) => /^ssm:(Put|Delete|Label|AddTags)/.test(a)),
    )
    t.same(
      writes.map((s) => [s.actions, s.resources]),
      [[['ssm:PutParameter'], [arn]]],
    )
  }
})

/**
 * What Terraform calls to refresh each resource and data source type of the stacks the pipeline
 * deploys (from the AWS provider's read functions). A new type in those stacks fails the test
 * below until its reads are listed here and granted to the deploy role.
 */
const REFRESH_READS: Record<string, string[]> = {
  aws_acm_certificate: ['acm:DescribeCertificate', 'acm:ListTagsForCertificate'],
  aws_acm_certificate_validation: ['acm:DescribeCertificate'],
  aws_autoscaling_group: ['autoscaling:DescribeAutoScalingGroups'],
  aws_autoscaling_policy: ['autoscaling:DescribePolicies'],
  aws_autoscaling_schedule: ['autoscaling:DescribeScheduledActions'],
  aws_cloudwatch_event_rule: ['events:DescribeRule', 'events:ListTagsForResource'],
  aws_cloudwatch_event_target: ['events:ListTargetsByRule'],
  aws_cloudwatch_log_group: ['logs:DescribeLogGroups', 'logs:ListTagsForResource'],
  aws_iam_instance_profile: ['iam:GetInstanceProfile'],
  aws_iam_role: ['iam:GetRole', 'iam:ListAttachedRolePolicies', 'iam:ListRolePolicies'],
  aws_iam_role_policy: ['iam:GetRolePolicy'],
  aws_iam_role_policy_attachment: ['iam:ListAttachedRolePolicies'],
  aws_instance: ['ec2:DescribeInstances', 'ec2:DescribeInstanceAttribute', 'ec2:DescribeVolumes'],
  aws_lambda_function: [
    'lambda:GetFunction',
    'lambda:GetFunctionCodeSigningConfig',
    'lambda:ListVersionsByFunction',
  ],
  aws_lambda_function_event_invoke_config: ['lambda:GetFunctionEventInvokeConfig'],
  aws_lambda_permission: ['lambda:GetPolicy'],
  aws_launch_template: ['ec2:DescribeLaunchTemplates', 'ec2:DescribeLaunchTemplateVersions'],
  aws_lb: ['elasticloadbalancing:DescribeLoadBalancers', 'elasticloadbalancing:DescribeTags'],
  aws_lb_listener: ['elasticloadbalancing:DescribeListeners'],
  aws_lb_target_group: ['elasticloadbalancing:DescribeTargetGroupAttributes'],
  aws_route53_record: ['route53:ListResourceRecordSets'],
  aws_s3_bucket: [
    's3:GetAccelerateConfiguration',
    's3:GetBucketAcl',
    's3:GetBucketCORS',
    's3:GetBucketLogging',
    's3:GetBucketObjectLockConfiguration',
    's3:GetBucketPolicy',
    's3:GetBucketRequestPayment',
    's3:GetBucketTagging',
    's3:GetBucketVersioning',
    's3:GetBucketWebsite',
    's3:GetEncryptionConfiguration',
    's3:GetLifecycleConfiguration',
    's3:GetReplicationConfiguration',
  ],
  aws_s3_bucket_lifecycle_configuration: ['s3:GetLifecycleConfiguration'],
  aws_s3_bucket_ownership_controls: ['s3:GetBucketOwnershipControls'],
  aws_s3_bucket_policy: ['s3:GetBucketPolicy'],
  aws_s3_bucket_public_access_block: ['s3:GetBucketPublicAccessBlock'],
  aws_s3_bucket_server_side_encryption_configuration: ['s3:GetEncryptionConfiguration'],
  aws_s3_bucket_versioning: ['s3:GetBucketVersioning'],
  aws_secretsmanager_secret: ['secretsmanager:DescribeSecret', 'secretsmanager:GetResourcePolicy'],
  aws_secretsmanager_secret_version: ['secretsmanager:GetSecretValue'],
  aws_sesv2_email_identity: ['ses:GetEmailIdentity'],
  aws_sqs_queue: ['sqs:GetQueueAttributes', 'sqs:ListQueueTags'],
  aws_ssm_parameter: ['ssm:GetParameter', 'ssm:DescribeParameters', 'ssm:ListTagsForResource'],
  aws_vpc_security_group_egress_rule: ['ec2:DescribeSecurityGroupRules'],
  aws_vpc_security_group_ingress_rule: ['ec2:DescribeSecurityGroupRules'],
  aws_wafv2_web_acl: ['wafv2:GetWebACL', 'wafv2:ListTagsForResource'],
  aws_wafv2_web_acl_association: ['wafv2:GetWebACLForResource'],
  aws_wafv2_web_acl_logging_configuration: ['wafv2:GetLoggingConfiguration'],
  // Data sources; remote state reads are the StateReadAll grant.
  'data.aws_secretsmanager_random_password': ['secretsmanager:GetRandomPassword'],
  'data.aws_ssm_parameter': ['ssm:GetParameter'],
  'data.aws_caller_identity': [],
  'data.aws_elb_service_account': [],
  'data.aws_iam_policy_document': [],
  'data.terraform_remote_state': [],
}

t.test('the deploy role can refresh everything in the stacks it deploys', async (t) => {
  for (const platform of [small, ha]) {
    const statements = deployPermissions(platform.ci)
    for (const stack of [platform.app, platform.notify]) {
      const types = [
        ...Object.keys(stack.tf.resource ?? {}),
        ...Object.keys(stack.tf.data ?? {}).map((type) => `data.${type}`),
      ]
      for (const type of types) {
        const reads = REFRESH_READS[type]
        t.ok(reads, `${type}: its refresh reads are listed`)
        for (const action of reads ?? []) {
          t.ok(grantsOf(statements, action).length, `${type}: ${action}`)
        }
      }
    }
    // The stacks it deploys hold no secret, so refreshing them reads none.
    t.same(resourceList(platform.app, 'aws_secretsmanager_secret'), [])
    t.same(resourceList(platform.notify, 'aws_secretsmanager_secret'), [])
    t.same(grantsOf(statements, 'secretsmanager:GetSecretValue'), [], 'no secret value is read')
  }
})

t.test('the deploy role may read scan findings and instance refreshes', async (t) => {
  const statements = deployPermissions(small.ci)
  const scan = grantsOf(statements, 'ecr:DescribeImageScanFindings')
  t.equal(scan.length, 1)
  t.match(scan[0]!.resources, [/terraform_remote_state\..*registry.*aws_ecr_repository/])
  t.ok(grantsOf(statements, 'autoscaling:DescribeInstanceRefreshes', '*').length)
  t.same(grantsOf(statements, 'ecr:DeleteRepository'), [])
  t.same(grantsOf(statements, 'ecr:BatchDeleteImage'), [])
})

t.test('the deploy role may push only to this profile’s repositories', async (t) => {
  const push = deployPermissions(small.ci).find((s) => s.sid === 'EcrPush')!
  t.ok(push.actions.includes('ecr:PutImage'))
  t.equal(push.resources.length, 1)
  t.match(push.resources[0], /terraform_remote_state\..*registry.*aws_ecr_repository/)
})

t.test(
  'every stack but the bootstrap keeps state in the bucket, encrypted and locked',
  async (t) => {
    for (const [platform, config] of [
      [small, profiles.small],
      [ha, profiles.ha],
    ] as const) {
      for (const [key, stack] of Object.entries(platform)) {
        const backend = stack.tf.terraform!.backend as Body
        if (key === 'state') {
          t.same(Object.keys(backend), ['local'], 'the bucket cannot hold its own first state')
          continue
        }
        t.same(backend.s3, {
          bucket: config.state.bucketName,
          key: `${config.state.keyPrefix}/${config.project}-${config.profile}-${key}.tfstate`,
          region: 'ap-northeast-2',
          encrypt: true,
          use_lockfile: true,
        })
      }
    }
  },
)

t.test('the state bucket is versioned, KMS-encrypted, private and survives destroy', async (t) => {
  const { state } = small
  t.match(only(state, 'aws_s3_bucket'), {
    bucket: profiles.small.state.bucketName,
    force_destroy: false,
    lifecycle: { prevent_destroy: true },
  })
  t.ok(
    Testing.toHaveResourceWithProperties(state.json, 'aws_s3_bucket_versioning', {
      versioning_configuration: { status: 'Enabled' },
    }),
  )
  t.ok(
    Testing.toHaveResourceWithProperties(
      state.json,
      'aws_s3_bucket_server_side_encryption_configuration',
      { rule: [{ apply_server_side_encryption_by_default: { sse_algorithm: 'aws:kms' } }] },
    ),
  )
  const policy = policyStatements(state, only(state, 'aws_s3_bucket_policy').policy)
  t.match(policy, [
    { effect: 'Deny', condition: [{ variable: 'aws:SecureTransport', values: ['false'] }] },
  ])
})

t.test('the deploy role ARN is an output', async (t) => {
  t.match(small.ci.tf.output!.deploy_role_arn!.value, /aws_iam_role\.github_deploy-role_.*\.arn/)
})

/**
 * What Terraform calls when a deploy changes a resource of this type (the AWS provider's update
 * functions), and the ARN of the resource it calls them on.
 */
const DEPLOY_WRITES: Record<
  string,
  { actions: string[]; arn: (body: Body, profile: 'small' | 'ha') => string }
> = {
  aws_launch_template: {
    // A new version, made the default; launching from it (the group validates the caller may)
    // passes the instance role and tags what it launches.
    actions: [
      'ec2:CreateLaunchTemplateVersion',
      'ec2:ModifyLaunchTemplate',
      'ec2:RunInstances',
      'ec2:CreateTags',
      'iam:PassRole',
    ],
    arn: (_, p) => `arn:aws:ec2:ap-northeast-2:${account[p]}:launch-template/lt-0123456789abcdef0`,
  },
  aws_autoscaling_group: {
    actions: ['autoscaling:UpdateAutoScalingGroup', 'autoscaling:StartInstanceRefresh'],
    arn: (body, p) =>
      `arn:aws:autoscaling:ap-northeast-2:${account[p]}:autoScalingGroup:0000:autoScalingGroupName/${body.name}`,
  },
  aws_autoscaling_schedule: {
    actions: ['autoscaling:PutScheduledUpdateGroupAction', 'autoscaling:DeleteScheduledAction'],
    arn: (_, p) =>
      `arn:aws:autoscaling:ap-northeast-2:${account[p]}:autoScalingGroup:0000:autoScalingGroupName/sugang-${p}-app`,
  },
  aws_lb: {
    // The capacity reservation, requested and released by the calendar (src/rush.ts).
    actions: ['elasticloadbalancing:ModifyCapacityReservation'],
    arn: (body, p) =>
      `arn:aws:elasticloadbalancing:ap-northeast-2:${account[p]}:loadbalancer/app/${body.name}/0123456789abcdef`,
  },
  aws_lambda_function: {
    actions: ['lambda:UpdateFunctionCode', 'lambda:UpdateFunctionConfiguration'],
    arn: (body, p) => `arn:aws:lambda:ap-northeast-2:${account[p]}:function:${body.function_name}`,
  },
  aws_cloudwatch_event_rule: {
    actions: ['events:PutRule'],
    arn: (body, p) => `arn:aws:events:ap-northeast-2:${account[p]}:rule/${body.name}`,
  },
}
const account = { small: '111111111111', ha: '222222222222' } as const

/** A resource body without the attributes Terraform is told to ignore changes to. */
function planned(body: Body | undefined): string {
  if (!body) return ''
  const ignored = new Set<string>(body.lifecycle?.ignore_changes ?? [])
  return JSON.stringify(Object.entries(body).filter(([key]) => !ignored.has(key)))
}

/** Resources a plan would change between two syntheses of a stack, with their new bodies. */
function changed(before: Body, after: Body): [string, Body][] {
  const out: [string, Body][] = []
  for (const [type, byId] of Object.entries((after.resource ?? {}) as Record<string, Body>)) {
    for (const [id, body] of Object.entries(byId as Record<string, Body>)) {
      const old = before.resource?.[type]?.[id]
      if (planned(old) !== planned(body)) out.push([type, body])
    }
  }
  for (const [type, byId] of Object.entries((before.resource ?? {}) as Record<string, Body>)) {
    for (const [id, body] of Object.entries(byId as Record<string, Body>)) {
      if (!after.resource?.[type]?.[id]) out.push([type, body])
    }
  }
  return out
}

t.test(
  'the deploy role may make every change a release makes to the app and notify stacks',
  async (t) => {
    const digest = (n: string) => `sha256:${n.repeat(64)}`
    for (const config of [profiles.small, profiles.ha]) {
      const profile = config.profile
      const release = (
        image: string,
        registration: PlatformConfig['registration'] = config.registration,
        scheduleAfter?: string,
      ) =>
        synthPlatform(
          withImageDigest(
            {
              ...config,
              registration,
              compute: { ...config.compute, rush: { ...config.compute.rush, scheduleAfter } },
            },
            image,
          ),
        )
      const before = release(digest('a'))
      // A new image, an opening added to the calendar and one passed since the last release,
      // which is inside an opening's hold: the scheduled minimum and the load balancer's
      // reservation change too.
      const after = release(
        digest('b'),
        {
          ...config.registration,
          opensAtByYear: { ...config.registration.opensAtByYear, 2: '2027-02-11T10:00:00+09:00' },
        },
        config.registration.opensAtByYear![4],
      )
      const statements = deployPermissions(after.ci)
      const changes = [
        ...changed(before.app.tf, after.app.tf),
        ...changed(before.notify.tf, after.notify.tf),
      ]
      // The group follows the template's latest_version, known only once the new version exists.
      if (changes.some(([type]) => type === 'aws_launch_template')) {
        const asg = only(after.app, 'aws_autoscaling_group')
        t.match(asg.launch_template.version, /aws_launch_template\..*latest_version/)
        changes.push(['aws_autoscaling_group', asg])
      }
      const types = [...new Set(changes.map(([type]) => type))].sort()
      t.same(
        types,
        [
          'aws_autoscaling_group',
          'aws_autoscaling_schedule',
          'aws_launch_template',
          ...(config.edge.capacityReservation ? ['aws_lb'] : []),
        ],
        `${profile}: what a release changes`,
      )
      for (const [type, body] of changes) {
        const writes = DEPLOY_WRITES[type]
        t.ok(writes, `${type}: its writes are listed`)
        for (const action of writes?.actions ?? []) {
          const resource =
            action === 'iam:PassRole'
              ? `arn:aws:iam::${account[profile]}:role/sugang-${profile}-app-instance`
              : writes!.arn(body, profile)
          const grants = grantsOf(statements, action, resource)
          t.ok(grants.length, `${profile} ${type}: ${action}`)
          // A grant conditioned on a resource tag works only if the resource carries that tag,
          // itself or through the provider's default tags.
          for (const grant of grants) {
            for (const condition of (grant.condition ?? []) as Body[]) {
              const key = /^aws:ResourceTag\/(.+)$/.exec(condition.variable)?.[1]
              if (!key) continue
              const tags = {
                ...(after.app.tf.provider!.aws![0]!.default_tags?.[0]?.tags ?? {}),
                ...(body.tags ?? {}),
              }
              t.ok(
                condition.values.includes(tags[key]),
                `${profile} ${type} carries ${key}=${condition.values.join('|')} for ${action}`,
              )
            }
          }
        }
      }
    }
  },
)
