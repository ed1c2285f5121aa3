import t from 'tap'
import { Testing } from '../src/cdktf.js'
import { profiles } from '../src/config/index.js'
import { Edge, HEALTH_CHECK_PATH, MANAGED_RULE_GROUPS } from '../src/constructs/edge.js'
import {
  dataSources,
  only,
  policyStatements,
  resourceList,
  resources,
  synthPlatform,
} from './helpers/synth.js'

const small = synthPlatform(profiles.small).app
const ha = synthPlatform(profiles.ha).app
const both = [small, ha]

t.test(
  'the load balancer is internet-facing, drops invalid headers and mitigates desync',
  async (t) => {
    for (const stack of both) {
      t.ok(
        Testing.toHaveResourceWithProperties(stack.json, 'aws_lb', {
          internal: false,
          load_balancer_type: 'application',
          drop_invalid_header_fields: true,
          desync_mitigation_mode: 'strictest',
          access_logs: { enabled: true },
        }),
      )
    }
  },
)

t.test('the load balancer has deletion protection in ha only', async (t) => {
  t.equal(only(ha, 'aws_lb').enable_deletion_protection, true)
  t.equal(only(small, 'aws_lb').enable_deletion_protection, false)
})

t.test('HTTPS terminates with the certificate under a TLS 1.2+ policy', async (t) => {
  for (const stack of both) {
    const https = resourceList(stack, 'aws_lb_listener').filter((l) => l.port === 443)
    t.equal(https.length, 1)
    t.equal(https[0]!.protocol, 'HTTPS')
    t.match(https[0]!.ssl_policy, /^ELBSecurityPolicy-(TLS13-1-2|TLS-1-2)/)
    t.ok(https[0]!.certificate_arn)
    t.match(https[0]!.default_action, [{ type: 'forward' }])
  }
  t.equal(
    resourceList(small, 'aws_lb_listener').find((l) => l.port === 443)!.certificate_arn,
    profiles.small.edge.certificateArn,
  )
})

t.test('plain HTTP only redirects to HTTPS', async (t) => {
  for (const stack of both) {
    t.ok(
      Testing.toHaveResourceWithProperties(stack.json, 'aws_lb_listener', {
        port: 80,
        protocol: 'HTTP',
        default_action: [
          {
            type: 'redirect',
            redirect: { protocol: 'HTTPS', port: '443', status_code: 'HTTP_301' },
          },
        ],
      }),
    )
  }
})

t.test('the target group sends traffic to port 3000 and checks /health/ready', async (t) => {
  t.equal(HEALTH_CHECK_PATH, '/health/ready')
  for (const stack of both) {
    t.ok(
      Testing.toHaveResourceWithProperties(stack.json, 'aws_lb_target_group', {
        port: 3000,
        protocol: 'HTTP',
        health_check: { path: '/health/ready', matcher: '200', enabled: true },
      }),
    )
  }
})

t.test('access logs go to an encrypted bucket only the ELB service may write to', async (t) => {
  for (const stack of both) {
    t.ok(
      Testing.toHaveResourceWithProperties(
        stack.json,
        'aws_s3_bucket_server_side_encryption_configuration',
        { rule: [{ apply_server_side_encryption_by_default: { sse_algorithm: 'AES256' } }] },
      ),
    )
    const policy = resourceList(stack, 'aws_s3_bucket_policy').find((p) =>
      String(p.bucket).includes('edge_access-logs'),
    )!
    const statements = policyStatements(stack, policy.policy)
    const allow = statements.filter((s) => s.effect === 'Allow')
    t.equal(allow.length, 1)
    t.same(allow[0]!.actions, ['s3:PutObject'])
    t.match(allow[0]!.principals[0].identifiers[0], /aws_elb_service_account/)
    t.ok(
      statements.some(
        (s) => s.effect === 'Deny' && s.condition[0].variable === 'aws:SecureTransport',
      ),
    )
  }
})

t.test('the web ACL is associated with the load balancer', async (t) => {
  for (const stack of both) {
    const lbId = Object.keys(resources(stack, 'aws_lb'))[0]
    const aclId = Object.keys(resources(stack, 'aws_wafv2_web_acl'))[0]
    t.ok(
      Testing.toHaveResourceWithProperties(stack.json, 'aws_wafv2_web_acl_association', {
        resource_arn: `\${aws_lb.${lbId}.arn}`,
        web_acl_arn: `\${aws_wafv2_web_acl.${aclId}.arn}`,
      }),
    )
  }
})

t.test('the web ACL runs the AWS managed rule groups and a per-IP rate limit', async (t) => {
  for (const [stack, config] of [
    [small, profiles.small],
    [ha, profiles.ha],
  ] as const) {
    const acl = only(stack, 'aws_wafv2_web_acl')
    t.equal(acl.scope, 'REGIONAL')
    const rules = JSON.parse(acl.rule_json) as {
      Name: string
      Priority: number
      Statement: {
        ManagedRuleGroupStatement?: { VendorName: string; Name: string }
        RateBasedStatement?: { Limit: number; AggregateKeyType: string }
      }
      Action?: object
    }[]
    const managed = rules.flatMap((r) => r.Statement.ManagedRuleGroupStatement ?? [])
    t.same(managed.map((m) => m.Name).sort(), [
      'AWSManagedRulesAmazonIpReputationList',
      'AWSManagedRulesCommonRuleSet',
      'AWSManagedRulesKnownBadInputsRuleSet',
      'AWSManagedRulesSQLiRuleSet',
    ])
    t.ok(managed.every((m) => m.VendorName === 'AWS'))
    const rate = rules.find((r) => r.Statement.RateBasedStatement)
    t.match(rate, {
      Action: { Block: {} },
      Statement: {
        RateBasedStatement: { Limit: config.edge.rateLimitPer5Minutes, AggregateKeyType: 'IP' },
      },
    })
    t.equal(new Set(rules.map((r) => r.Priority)).size, rules.length, 'priorities are unique')
  }
  t.equal(MANAGED_RULE_GROUPS.length, 4)
})

t.test('WAF logs every request with cookies and authorization redacted', async (t) => {
  for (const stack of both) {
    const logging = only(stack, 'aws_wafv2_web_acl_logging_configuration')
    t.match(logging.log_destination_configs[0], /aws_cloudwatch_log_group\.edge_waf-logs/)
    t.same(logging.redacted_fields, [
      { single_header: { name: 'cookie' } },
      { single_header: { name: 'authorization' } },
    ])
    const group = resourceList(stack, 'aws_cloudwatch_log_group').find((g) =>
      String(g.name).startsWith('aws-waf-logs-'),
    )
    t.ok(group, 'log group name starts with aws-waf-logs-, as WAF requires')
  }
})

t.test('ha requests a DNS-validated certificate and adds an alias record', async (t) => {
  t.ok(
    Testing.toHaveResourceWithProperties(ha.json, 'aws_acm_certificate', {
      validation_method: 'DNS',
    }),
  )
  t.ok(Testing.toHaveResource(ha.json, 'aws_acm_certificate_validation'))
  t.ok(
    Testing.toHaveResourceWithProperties(ha.json, 'aws_route53_record', {
      name: profiles.ha.edge.domainName,
      type: 'A',
      zone_id: profiles.ha.edge.hostedZoneId,
      alias: { evaluate_target_health: true },
    }),
  )
})

t.test('small uses the configured certificate and creates no DNS records', async (t) => {
  t.notOk(Testing.toHaveResource(small.json, 'aws_acm_certificate'))
  t.notOk(Testing.toHaveResource(small.json, 'aws_route53_record'))
})

t.test('the ELB log-delivery account is looked up, not hard-coded', async (t) => {
  t.equal(Object.keys(dataSources(small, 'aws_elb_service_account')).length, 1)
})

t.test('an edge with neither a certificate nor a hosted zone is refused', async (t) => {
  const { certificateArn: _unused, ...edge } = profiles.small.edge
  t.throws(
    () =>
      Testing.synthScope((scope) => {
        new Edge(scope, 'edge', {
          name: 'sugang-test',
          config: edge,
          vpcId: 'vpc-1',
          publicSubnetIds: ['subnet-1', 'subnet-2'],
          albSecurityGroupId: 'sg-alb',
          appSecurityGroupId: 'sg-app',
          appPort: 3000,
        })
      }),
    /certificateArn or hostedZoneId/,
  )
})
