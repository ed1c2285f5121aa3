// Properties that must hold in every stack of both profiles, whatever a construct does.
import t from 'tap'
import { profiles } from '../src/config/index.js'
import {
  type Body,
  everywhere,
  only,
  resourceList,
  resources,
  synthPlatform,
  type SynthesizedPlatform,
  userData,
} from './helpers/synth.js'

/**
 * Secret versions whose value Terraform still stores, each for a reason infra/README.md
 * ("Secrets") gives: ElastiCache has no write-only AUTH token argument, so the token must be a
 * plain value.
 */
const STORED_SECRET_VERSIONS = [/redis_auth-token/]

const platforms: [string, SynthesizedPlatform][] = [
  ['small', synthPlatform(profiles.small)],
  ['ha', synthPlatform(profiles.ha)],
]

const opensPort = (rule: Body, port: number) =>
  rule.ip_protocol === '-1' ||
  rule.protocol === '-1' ||
  (Number(rule.from_port) <= port && port <= Number(rule.to_port))

/** Ingress rules in every form Terraform accepts them: separate rules and inline blocks. */
function ingressRules(platform: SynthesizedPlatform): Body[] {
  return [
    ...everywhere(platform, 'aws_vpc_security_group_ingress_rule'),
    ...everywhere(platform, 'aws_security_group_rule').filter((r) => r.type === 'ingress'),
    ...everywhere(platform, 'aws_security_group').flatMap((g) => (g.ingress as Body[]) ?? []),
  ]
}

for (const [profile, platform] of platforms) {
  t.test(`${profile}: no security group opens port 22`, async (t) => {
    const rules = ingressRules(platform)
    t.ok(rules.length > 5, 'there are ingress rules to inspect')
    t.same(
      rules.filter((r) => opensPort(r, 22)),
      [],
    )
  })

  t.test(`${profile}: only the load balancer is open to the internet, on 80 and 443`, async (t) => {
    const open = ingressRules(platform).filter(
      (r) =>
        r.cidr_ipv4 === '0.0.0.0/0' ||
        r.cidr_ipv6 === '::/0' ||
        r.cidr_blocks?.includes('0.0.0.0/0'),
    )
    t.same(open.map((r) => r.from_port).sort(), [443, 80])
    for (const rule of open) {
      t.equal(rule.to_port, rule.from_port)
      t.match(rule.security_group_id, /alb-sg/)
    }
  })

  t.test(`${profile}: no rule opens every protocol inbound`, async (t) => {
    t.same(
      ingressRules(platform).filter((r) => r.ip_protocol === '-1' || r.protocol === '-1'),
      [],
    )
  })

  t.test(`${profile}: no key pair and no bastion exist`, async (t) => {
    t.same(everywhere(platform, 'aws_key_pair'), [])
    const machines = [
      ...everywhere(platform, 'aws_instance'),
      ...everywhere(platform, 'aws_launch_template'),
    ]
    t.equal(machines.length, 2, 'the app launch template and the monitoring host')
    t.ok(machines.every((m) => m.key_name === undefined))
    const hosts = everywhere(platform, 'aws_instance')
    t.same(
      hosts.map((h) => h.tags['sugang:role']),
      ['monitoring'],
      'the only standalone instance is the monitoring host',
    )
  })

  t.test(`${profile}: no instance gets a public IP address`, async (t) => {
    for (const host of everywhere(platform, 'aws_instance')) {
      t.equal(host.associate_public_ip_address, false)
    }
    for (const template of everywhere(platform, 'aws_launch_template')) {
      t.equal(template.network_interfaces[0].associate_public_ip_address, 'false')
    }
  })

  t.test(`${profile}: every instance requires IMDSv2 with a hop limit of 1`, async (t) => {
    const machines = [
      ...everywhere(platform, 'aws_instance'),
      ...everywhere(platform, 'aws_launch_template'),
    ]
    for (const machine of machines) {
      t.equal(machine.metadata_options.http_tokens, 'required')
      t.equal(machine.metadata_options.http_put_response_hop_limit, 1)
    }
  })

  t.test(`${profile}: every EBS volume is encrypted`, async (t) => {
    for (const host of everywhere(platform, 'aws_instance')) {
      t.equal(host.root_block_device.encrypted, true)
    }
    for (const template of everywhere(platform, 'aws_launch_template')) {
      const mappings = template.block_device_mappings as Body[]
      t.ok(mappings.length > 0)
      t.ok(mappings.every((m) => m.ebs.encrypted === 'true'))
    }
  })

  t.test(`${profile}: every S3 bucket blocks public access and is encrypted`, async (t) => {
    for (const stack of Object.values(platform)) {
      const buckets = Object.keys(resources(stack, 'aws_s3_bucket'))
      const refersTo = (type: string, id: string) =>
        resourceList(stack, type).some((r) => r.bucket === `\${aws_s3_bucket.${id}.id}`)
      for (const id of buckets) {
        const blocks = resourceList(stack, 'aws_s3_bucket_public_access_block').find(
          (b) => b.bucket === `\${aws_s3_bucket.${id}.id}`,
        )
        t.match(
          blocks,
          {
            block_public_acls: true,
            block_public_policy: true,
            ignore_public_acls: true,
            restrict_public_buckets: true,
          },
          id,
        )
        t.ok(refersTo('aws_s3_bucket_server_side_encryption_configuration', id), `${id} encrypted`)
        t.ok(refersTo('aws_s3_bucket_policy', id), `${id} has a TLS-only policy`)
      }
    }
    t.equal(everywhere(platform, 'aws_s3_bucket').length, 3, 'state, ALB logs, monitoring config')
  })

  t.test(`${profile}: every MySQL client verifies the server against the RDS CA`, async (t) => {
    const group = only(platform.data, 'aws_db_parameter_group')
    t.ok(
      (group.parameter as Body[]).some(
        (p) => p.name === 'require_secure_transport' && p.value === '1',
      ),
      'MySQL refuses unencrypted connections',
    )
    const envFile = /\n\{\n([\s\S]*?)\n\} >\/run\/sugang\/app\.env\.new/.exec(
      userData(platform.app),
    )?.[1]
    t.match(envFile, /^\s*echo 'DATABASE_TLS=rds'$/m, 'the service')
    const lambda = only(platform.notify, 'aws_lambda_function')
    t.equal(lambda.environment.variables.DATABASE_TLS, 'rds', 'the e-mail sender')
  })

  t.test(`${profile}: passwords stay out of Terraform state where Terraform allows`, async (t) => {
    for (const db of everywhere(platform, 'aws_db_instance')) t.notOk('password' in db)
    for (const parameter of everywhere(platform, 'aws_ssm_parameter')) {
      if (parameter.type === 'SecureString') t.notOk('value' in parameter, parameter.name)
    }
    const stored = Object.values(platform).flatMap((stack) =>
      Object.entries(resources(stack, 'aws_secretsmanager_secret_version'))
        .filter(([, v]) => 'secret_string' in v || 'secret_binary' in v)
        .map(([id]) => id),
    )
    t.same(
      stored.filter((id) => !STORED_SECRET_VERSIONS.some((known) => known.test(id))),
      [],
      'only the known exceptions',
    )
  })

  t.test(`${profile}: Terraform refuses to run against any other account`, async (t) => {
    for (const stack of Object.values(platform)) {
      const [aws] = stack.tf.provider!.aws!
      t.same(aws!.allowed_account_ids, [profiles[profile as 'small' | 'ha'].accountId])
      t.equal(aws!.region, 'ap-northeast-2')
    }
  })
}
