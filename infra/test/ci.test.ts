// GitHub OIDC deploy role: whom it trusts; and remote state. What the role may do is decided
// call by call in iam-by-arn.test.ts.
import t from 'tap'
import { Testing } from '../src/cdktf.js'
import { profiles } from '../src/config/index.js'
import type { PlatformConfig } from '../src/config/types.js'
import { type Body, only, policyStatements, resourceList, synthPlatform } from './helpers/synth.js'

const small = synthPlatform(profiles.small)
const ha = synthPlatform(profiles.ha)

const deployRole = (stack: typeof small.ci) =>
  resourceList(stack, 'aws_iam_role').find((r) => r.name.endsWith('-github-deploy'))!

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
