import { API_PREFIX } from '@sugang/service/app'
import { SESSION_COOKIE as SERVICE_SESSION_COOKIE } from '@sugang/service/sessions'
import t from 'tap'
import { Testing } from '../src/cdktf.js'
import { profiles } from '../src/config/index.js'
import {
  API_PATH_PREFIX,
  Edge,
  DEREGISTRATION_DELAY_SECONDS,
  HEALTH_CHECK_PATH,
  MANAGED_RULE_GROUPS,
  RATE_LIMIT_WINDOW_SECONDS,
  RATE_RULES,
  SESSION_COOKIE,
  validateRateLimits,
  WAF_RATE_LIMIT_MAX,
  WAF_RATE_LIMIT_MIN,
} from '../src/constructs/edge.js'
import {
  type Body,
  dataSources,
  only,
  policyStatements,
  resourceList,
  resources,
  synthPlatform,
  type SynthesizedStack,
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

t.test(
  'the target group sends traffic to port 3000 and checks liveness, which no failover fails',
  async (t) => {
    t.equal(HEALTH_CHECK_PATH, '/health/live')
    for (const stack of both) {
      t.ok(
        Testing.toHaveResourceWithProperties(stack.json, 'aws_lb_target_group', {
          port: 3000,
          protocol: 'HTTP',
          health_check: { path: '/health/live', matcher: '200', enabled: true },
        }),
      )
    }
  },
)

t.test('a deregistering instance drains for 30 s, not the 300 s default', async (t) => {
  t.equal(DEREGISTRATION_DELAY_SECONDS, 30)
  for (const stack of both) {
    const group = resourceList(stack, 'aws_lb_target_group')[0]!
    // An instance refresh waits this long per batch: ha's ten instances at 300 s would outlast
    // the deploy's 30-minute wait for the refresh.
    t.equal(Number(group.deregistration_delay), DEREGISTRATION_DELAY_SECONDS)
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

interface WafRule {
  Name: string
  Priority: number
  Action?: Record<string, object>
  OverrideAction?: Record<string, object>
  Statement: {
    ManagedRuleGroupStatement?: { VendorName: string; Name: string }
    RateBasedStatement?: {
      Limit: number
      AggregateKeyType: string
      EvaluationWindowSec: number
      CustomKeys?: Body[]
      ScopeDownStatement?: { ByteMatchStatement?: ByteMatch }
    }
  }
}

interface ByteMatch {
  FieldToMatch: Body
  PositionalConstraint: string
  SearchString: string
  TextTransformations: { Priority: number; Type: string }[]
}

const profileStacks = [
  ['small', small, profiles.small],
  ['ha', ha, profiles.ha],
] as const

const rulesOf = (stack: SynthesizedStack) =>
  JSON.parse(only(stack, 'aws_wafv2_web_acl').rule_json as string) as WafRule[]
const rateRules = (stack: SynthesizedStack) =>
  rulesOf(stack).filter((r) => r.Statement.RateBasedStatement)
const rule = (stack: SynthesizedStack, name: string) => {
  const found = rulesOf(stack).find((r) => r.Name === name)
  if (!found) throw new Error(`no WAF rule ${name}`)
  return found
}
const rate = (stack: SynthesizedStack, name: string) =>
  rule(stack, name).Statement.RateBasedStatement!

/**
 * What WAF does to the URI path before a byte match, for the transformations the rules use, so the
 * tests can check spellings rather than only read the JSON. Unknown types fail the test.
 */
function transform(path: string, transformations: ByteMatch['TextTransformations']): string {
  return [...transformations]
    .sort((a, b) => a.Priority - b.Priority)
    .reduce((value, { Type }) => {
      switch (Type) {
        case 'URL_DECODE':
          return decodeURIComponent(value)
        case 'LOWERCASE':
          return value.toLowerCase()
        case 'NORMALIZE_PATH':
          return value.replace(/\/{2,}/g, '/').replace(/\/(\.\/)+/g, '/')
        default:
          throw new Error(`transformation ${Type} not modelled`)
      }
    }, path)
}

function matches(match: ByteMatch, path: string): boolean {
  const value = transform(path, match.TextTransformations)
  if (match.PositionalConstraint === 'STARTS_WITH') return value.startsWith(match.SearchString)
  if (match.PositionalConstraint === 'EXACTLY') return value === match.SearchString
  throw new Error(`positional constraint ${match.PositionalConstraint} not modelled`)
}

// Traffic the limits must let through (see the comments in src/config/{small,ha}.ts).
/** A student polling their queue position every 2 s for 5 minutes. */
const POLLS_PER_5_MINUTES = (5 * 60) / 2
/** A lab of 500 students behind one NAT logging in within minutes: once plus up to four retries. */
const LAB_LOGIN_ATTEMPTS = 500 * (1 + 4)
/** The same from 1,000 students behind a campus or a mobile carrier's NAT. */
const NAT_LOGIN_ATTEMPTS = 1_000 * (1 + 4)
/** One polling student plus enqueues and page loads, per 5 minutes. */
const REQUESTS_PER_ACTIVE_STUDENT = 200
/** Students behind the busiest shared address: all of small's users; a campus NAT for ha. */
const BUSIEST_ADDRESS_STUDENTS = { small: 100, ha: 2_000 } as const

t.test('the web ACL runs two rate rules, then the AWS managed rule groups', async (t) => {
  for (const [, stack] of profileStacks) {
    const acl = only(stack, 'aws_wafv2_web_acl')
    t.equal(acl.scope, 'REGIONAL')
    t.match(acl.description, /^[\w+=:#@/\-,.][\w+=:#@/\-,.\s]+[\w+=:#@/\-,.]$/, 'WAF accepts it')
    const rules = rulesOf(stack)
    t.same(
      rules.map((r) => r.Name),
      ['rate-limit-per-session', 'rate-limit-per-ip-backstop', ...MANAGED_RULE_GROUPS],
      'rate rules first, in this order, then the managed groups',
    )
    t.same(
      RATE_RULES,
      rules.slice(0, 2).map((r) => r.Name),
    )
    t.equal(new Set(rules.map((r) => r.Priority)).size, rules.length, 'priorities are unique')
    const byPriority = [...rules].sort((a, b) => a.Priority - b.Priority).map((r) => r.Name)
    t.same(
      byPriority,
      rules.map((r) => r.Name),
      'WAF evaluates them in this order',
    )

    const managed = rules.filter((r) => r.Statement.ManagedRuleGroupStatement)
    t.same(
      managed.map((m) => m.Statement.ManagedRuleGroupStatement!.Name),
      [
        'AWSManagedRulesAmazonIpReputationList',
        'AWSManagedRulesCommonRuleSet',
        'AWSManagedRulesKnownBadInputsRuleSet',
        'AWSManagedRulesSQLiRuleSet',
      ],
    )
    t.same(
      managed.map((m) => m.Priority),
      [10, 20, 30, 40],
    )
    for (const group of managed) {
      t.equal(group.Statement.ManagedRuleGroupStatement!.VendorName, 'AWS')
      t.same(group.OverrideAction, { None: {} }, `${group.Name} keeps its own actions`)
      // Switching a group's rules to Count one by one (RuleActionOverrides) disarms it as surely
      // as a Count override of the whole group: the statement names the group and nothing else.
      t.same(
        Object.keys(group.Statement.ManagedRuleGroupStatement!).sort(),
        ['Name', 'VendorName'],
        `${group.Name} has no rule switched to Count`,
      )
    }

    const rates = rateRules(stack)
    t.equal(rates.length, 2)
    const firstManaged = Math.min(...managed.map((m) => m.Priority))
    for (const r of rates) {
      t.same(r.Action, { Block: {} }, `${r.Name} blocks`)
      t.ok(r.Priority < firstManaged, `${r.Name} runs before every managed group`)
      t.equal(r.Statement.RateBasedStatement!.EvaluationWindowSec, 300)
      t.match(r, {
        VisibilityConfig: { CloudWatchMetricsEnabled: true, MetricName: /-rate-limit-/ },
      })
    }
  }
  t.equal(MANAGED_RULE_GROUPS.length, 4)
})

t.test('the session rule counts /api/ requests per sugang_session cookie', async (t) => {
  for (const [, stack, config] of profileStacks) {
    const statement = rate(stack, 'rate-limit-per-session')
    t.equal(statement.Limit, config.edge.rateLimits.perSessionPer5Minutes)
    t.equal(statement.AggregateKeyType, 'CUSTOM_KEYS')
    t.same(statement.CustomKeys, [
      { Cookie: { Name: 'sugang_session', TextTransformations: [{ Priority: 0, Type: 'NONE' }] } },
    ])
    const match = statement.ScopeDownStatement!.ByteMatchStatement!
    t.same(match.FieldToMatch, { UriPath: {} })
    t.equal(match.PositionalConstraint, 'STARTS_WITH')
    t.equal(match.SearchString, '/api/')
    const types = [...match.TextTransformations]
      .sort((a, b) => a.Priority - b.Priority)
      .map((x) => x.Type)
    t.ok(types.includes('URL_DECODE') && types.includes('LOWERCASE'))
    t.ok(types.indexOf('URL_DECODE') < types.indexOf('LOWERCASE'), 'decodes, then lowercases')
    for (const path of [
      '/api/v1/me',
      '/%61pi/v1/me',
      '/API/v1/me',
      '/Api/v1/courses',
      '//api/v1/me',
    ]) {
      t.ok(matches(match, path), `${path} is counted`)
    }
    for (const path of ['/health/ready', '/', '/apiary', '/static/api/x']) {
      t.notOk(matches(match, path), `${path} is not`)
    }
  }
})

t.test('no rule limits logins per address: the service limits them per account', async (t) => {
  const login = '/api/v1/auth/login'
  for (const [, stack] of profileStacks) {
    for (const r of rateRules(stack)) {
      const statement = r.Statement.RateBasedStatement!
      const scope = statement.ScopeDownStatement?.ByteMatchStatement
      if (statement.AggregateKeyType !== 'IP') continue
      t.notOk(scope, `${r.Name}: an IP-keyed rule counts everything, not logins alone`)
      if (scope) t.notOk(matches(scope, login), `${r.Name} is not a login rule`)
    }
  }
})

t.test('the backstop counts every request per IP', async (t) => {
  for (const [, stack, config] of profileStacks) {
    const statement = rate(stack, 'rate-limit-per-ip-backstop')
    t.equal(statement.Limit, config.edge.rateLimits.perIpBackstopPer5Minutes)
    t.equal(statement.AggregateKeyType, 'IP')
    t.notOk(statement.ScopeDownStatement, 'unscoped: counts requests without a session too')
    t.notOk(statement.CustomKeys)
  }
})

t.test('a student polling every 2 s stays far below the session limit', async (t) => {
  t.equal(POLLS_PER_5_MINUTES, 150)
  for (const [, stack] of profileStacks) {
    t.ok(rate(stack, 'rate-limit-per-session').Limit >= 10 * POLLS_PER_5_MINUTES)
  }
})

t.test(
  'a campus NAT is not blocked: no per-IP limit below what a shared address needs',
  async (t) => {
    for (const [profile, stack] of profileStacks) {
      const ipKeyed = rateRules(stack).filter(
        (r) => r.Statement.RateBasedStatement!.AggregateKeyType !== 'CUSTOM_KEYS',
      )
      t.same(
        ipKeyed.map((r) => r.Name),
        ['rate-limit-per-ip-backstop'],
      )
      for (const r of ipKeyed) {
        t.ok(
          r.Statement.RateBasedStatement!.Limit >= LAB_LOGIN_ATTEMPTS,
          `${r.Name} lets a lab of 500 log in (${LAB_LOGIN_ATTEMPTS} attempts)`,
        )
        t.ok(
          r.Statement.RateBasedStatement!.Limit >= NAT_LOGIN_ATTEMPTS,
          `${r.Name} lets 1,000 students behind a NAT log in (${NAT_LOGIN_ATTEMPTS} attempts)`,
        )
      }
      const busiest = BUSIEST_ADDRESS_STUDENTS[profile] * REQUESTS_PER_ACTIVE_STUDENT
      t.ok(
        rate(stack, 'rate-limit-per-ip-backstop').Limit >= busiest,
        `${profile}: the backstop lets ${BUSIEST_ADDRESS_STUDENTS[profile]} students poll from one address`,
      )
      t.notOk(
        rulesOf(stack).some((r) => r.Name === 'rate-limit-per-ip'),
        'the old single per-IP rule is gone',
      )
    }
    // The old rules, a single per-IP limit of 2,000 for all traffic and then 3,000 logins per IP,
    // would fail the above.
    t.ok(2_000 < LAB_LOGIN_ATTEMPTS && 3_000 < NAT_LOGIN_ATTEMPTS)
  },
)

t.test('rate limits outside what WAF accepts are refused', async (t) => {
  const good = profiles.ha.edge.rateLimits
  const keys = ['perSessionPer5Minutes', 'perIpBackstopPer5Minutes'] as const
  for (const key of keys) {
    for (const bad of [0, 9, 2_000_000_001, 1500.5, Number.NaN, -1]) {
      const limits = { ...good, [key]: bad }
      t.throws(
        () => validateRateLimits(limits),
        new RegExp(`edge\\.rateLimits\\.${key}`),
        `${key}: ${bad}`,
      )
    }
  }
  t.doesNotThrow(() =>
    validateRateLimits({
      perSessionPer5Minutes: WAF_RATE_LIMIT_MIN,
      perIpBackstopPer5Minutes: WAF_RATE_LIMIT_MAX,
    }),
  )
  t.equal(WAF_RATE_LIMIT_MIN, 10)
  t.equal(WAF_RATE_LIMIT_MAX, 2_000_000_000)
  // The construct refuses them too, so `cdktf synth` fails before Terraform ever sees them.
  t.throws(
    () =>
      Testing.synthScope((scope) => {
        new Edge(scope, 'edge', {
          name: 'sugang-test',
          config: { ...profiles.small.edge, rateLimits: { ...good, perSessionPer5Minutes: 5 } },
          vpcId: 'vpc-1',
          publicSubnetIds: ['subnet-1', 'subnet-2'],
          albSecurityGroupId: 'sg-alb',
          appSecurityGroupId: 'sg-app',
          appPort: 3000,
        })
      }),
    /edge\.rateLimits\.perSessionPer5Minutes must be a whole number from 10 to 2000000000/,
  )
})

t.test('the WAF keys on the cookie and routes the service actually uses', async (t) => {
  // The service's own constants, through its public entry points: if either side renames, this
  // fails.
  t.equal(SERVICE_SESSION_COOKIE, SESSION_COOKIE)
  t.equal(API_PREFIX, '/api/v1')
  t.equal(API_PATH_PREFIX, '/api/')
  t.equal(RATE_LIMIT_WINDOW_SECONDS, 300)
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
