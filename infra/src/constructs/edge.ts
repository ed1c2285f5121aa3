import {
  AcmCertificate,
  AcmCertificateValidation,
  CloudwatchLogGroup,
  DataAwsCallerIdentity,
  DataAwsElbServiceAccount,
  Lb,
  LbListener,
  LbTargetGroup,
  Route53Record,
  S3Bucket,
  S3BucketLifecycleConfiguration,
  S3BucketOwnershipControls,
  S3BucketPolicy,
  S3BucketServerSideEncryptionConfigurationA,
  Wafv2WebAcl,
  Wafv2WebAclAssociation,
  Wafv2WebAclLoggingConfiguration,
  VpcSecurityGroupEgressRule,
  VpcSecurityGroupIngressRule,
} from '../aws.js'
import { Construct } from '../cdktf.js'
import type { EdgeConfig, RateLimitsConfig } from '../config/types.js'
import { LIVENESS_PATH } from './app-user-data.js'
import { denyInsecureTransport, policyDocument } from './iam.js'
import { blockPublicAccess } from './private-bucket.js'

export interface EdgeProps {
  readonly name: string
  readonly config: EdgeConfig
  readonly vpcId: string
  readonly publicSubnetIds: string[]
  readonly albSecurityGroupId: string
  readonly appSecurityGroupId: string
  /** Port the service container listens on (its PORT; README.md, "Configuration"). */
  readonly appPort: number
  /**
   * LCUs to reserve now (config.capacityReservation, decided against the calendar by the stack);
   * unset: none, and a reservation made before is released.
   */
  readonly reservedCapacityUnits?: number
}

/**
 * Path the target group probes: liveness, not readiness. The autoscaling group's ELB health is
 * this check, and readiness fails on every instance at once whenever MySQL or Redis fails over or
 * reboots: acting on it would replace the whole fleet for a dependency's blip. Readiness gates
 * an instance's entry into service instead (app-user-data.ts, sugang-launch), and an instance
 * that loses a dependency answers 503 NOT_READY with Retry-After rather than disappearing.
 */
export const HEALTH_CHECK_PATH = LIVENESS_PATH
/**
 * Seconds the ALB keeps a deregistering target's requests going. Requests are short and the live
 * stream reconnects; an instance refresh waits this long per batch, and a scale-in per instance.
 */
export const DEREGISTRATION_DELAY_SECONDS = 30

/** AWS managed rule groups evaluated for every request, in this order after the rate rules. */
export const MANAGED_RULE_GROUPS = [
  'AWSManagedRulesAmazonIpReputationList',
  'AWSManagedRulesCommonRuleSet',
  'AWSManagedRulesKnownBadInputsRuleSet',
  'AWSManagedRulesSQLiRuleSet',
] as const

/** The service's session cookie (service/src/plugins/app/sessions.ts, SESSION_COOKIE). */
export const SESSION_COOKIE = 'sugang_session'
/** Every API route lives under this prefix (service/src/app.ts); the session rule counts only these. */
export const API_PATH_PREFIX = '/api/'

/** WAF's range for a rate-based rule's limit (requests per evaluation window). */
export const WAF_RATE_LIMIT_MIN = 10
export const WAF_RATE_LIMIT_MAX = 2_000_000_000
/** The window every rate rule counts over; the config's limits are "per 5 minutes". */
export const RATE_LIMIT_WINDOW_SECONDS = 300

/** The rate-based rules, in evaluation order, ahead of MANAGED_RULE_GROUPS. */
export const RATE_RULES = ['rate-limit-per-session', 'rate-limit-per-ip-backstop'] as const

/** A rule of the web ACL, by name. */
export type WafRuleName = (typeof RATE_RULES)[number] | (typeof MANAGED_RULE_GROUPS)[number]

/**
 * The names WAF publishes CloudWatch metrics under (namespace AWS/WAFV2, dimensions WebACL, Rule
 * and Region): the web ACL's and each rule's visibility-config metric name.
 */
export interface WebAclMetricNames {
  readonly webAcl: string
  readonly rules: Readonly<Record<WafRuleName, string>>
}

export function webAclMetricNames(name: string): WebAclMetricNames {
  const rules: WafRuleName[] = [...RATE_RULES, ...MANAGED_RULE_GROUPS]
  return {
    webAcl: `${name}-web-acl`,
    rules: Object.fromEntries(rules.map((rule) => [rule, `${name}-${rule}`])) as Record<
      WafRuleName,
      string
    >,
  }
}

/**
 * Applied to the URI path before the scope-down matches, lowest priority first, so spellings the
 * service routes the same way count the same: Fastify decodes percent-escapes when routing
 * (`/%61pi/v1/auth/login` reaches the login route), dot segments and doubled slashes are
 * normalised, and case is folded (`/API/` is not routed today; counting it costs nothing).
 * The search strings are lowercase to match.
 */
export const PATH_TRANSFORMATIONS = [
  { Priority: 0, Type: 'URL_DECODE' },
  { Priority: 1, Type: 'NORMALIZE_PATH' },
  { Priority: 2, Type: 'LOWERCASE' },
] as const

/**
 * The public edge: WAF → ALB (HTTPS only, HTTP redirects) → target group of app instances.
 */
export class Edge extends Construct {
  readonly loadBalancer: Lb
  readonly targetGroup: LbTargetGroup
  readonly httpsListener: LbListener
  readonly webAcl: Wafv2WebAcl
  readonly accessLogBucket: S3Bucket

  constructor(scope: Construct, id: string, props: EdgeProps) {
    super(scope, id)
    const { name, config } = props

    const ingress = (key: string, port: number) =>
      new VpcSecurityGroupIngressRule(this, `alb-ingress-${key}`, {
        securityGroupId: props.albSecurityGroupId,
        description: `${key.toUpperCase()} from the internet`,
        ipProtocol: 'tcp',
        fromPort: port,
        toPort: port,
        cidrIpv4: '0.0.0.0/0',
      })
    ingress('https', 443)
    // Port 80 only ever answers with a redirect to HTTPS.
    ingress('http', 80)
    new VpcSecurityGroupEgressRule(this, 'alb-to-app', {
      securityGroupId: props.albSecurityGroupId,
      description: 'Forward to the service instances only',
      ipProtocol: 'tcp',
      fromPort: props.appPort,
      toPort: props.appPort,
      referencedSecurityGroupId: props.appSecurityGroupId,
    })
    new VpcSecurityGroupIngressRule(this, 'app-from-alb', {
      securityGroupId: props.appSecurityGroupId,
      description: 'Service port from the load balancer',
      ipProtocol: 'tcp',
      fromPort: props.appPort,
      toPort: props.appPort,
      referencedSecurityGroupId: props.albSecurityGroupId,
    })

    // ALB access logs support only SSE-S3 (not KMS), so the bucket uses AES256.
    const caller = new DataAwsCallerIdentity(this, 'caller')
    const elbAccount = new DataAwsElbServiceAccount(this, 'elb-account')
    this.accessLogBucket = new S3Bucket(this, 'access-logs', {
      bucketPrefix: `${name}-alb-logs-`,
      forceDestroy: false,
    })
    blockPublicAccess(this, 'access-logs-public-access', this.accessLogBucket)
    new S3BucketOwnershipControls(this, 'access-logs-ownership', {
      bucket: this.accessLogBucket.id,
      rule: { objectOwnership: 'BucketOwnerEnforced' },
    })
    new S3BucketServerSideEncryptionConfigurationA(this, 'access-logs-encryption', {
      bucket: this.accessLogBucket.id,
      rule: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: 'AES256' } }],
    })
    new S3BucketLifecycleConfiguration(this, 'access-logs-lifecycle', {
      bucket: this.accessLogBucket.id,
      rule: [
        {
          id: 'expire-access-logs',
          status: 'Enabled',
          filter: [{ prefix: '' }],
          expiration: [{ days: config.accessLogRetentionDays }],
        },
      ],
    })
    const logsPolicy = new S3BucketPolicy(this, 'access-logs-policy', {
      bucket: this.accessLogBucket.id,
      policy: policyDocument(this, 'access-logs-policy-document', [
        {
          sid: 'AllowLoadBalancerLogDelivery',
          effect: 'Allow',
          actions: ['s3:PutObject'],
          resources: [`${this.accessLogBucket.arn}/AWSLogs/${caller.accountId}/*`],
          principals: [{ type: 'AWS', identifiers: [elbAccount.arn] }],
        },
        denyInsecureTransport(this.accessLogBucket.arn),
      ]).json,
    })

    this.loadBalancer = new Lb(this, 'alb', {
      name: `${name}-alb`,
      internal: false,
      loadBalancerType: 'application',
      securityGroups: [props.albSecurityGroupId],
      subnets: props.publicSubnetIds,
      // Requests with malformed headers are a smuggling vector; the service never needs them.
      dropInvalidHeaderFields: true,
      desyncMitigationMode: 'strictest',
      enableDeletionProtection: config.deletionProtection,
      idleTimeout: 60,
      minimumLoadBalancerCapacity:
        props.reservedCapacityUnits === undefined
          ? undefined
          : { capacityUnits: props.reservedCapacityUnits },
      accessLogs: { bucket: this.accessLogBucket.id, enabled: true },
      tags: { Name: `${name}-alb` },
      dependsOn: [logsPolicy],
    })

    this.targetGroup = new LbTargetGroup(this, 'app-tg', {
      name: `${name}-app`,
      port: props.appPort,
      protocol: 'HTTP',
      targetType: 'instance',
      vpcId: props.vpcId,
      // Short drain: requests are short and enrollment is idempotent, so rolling deploys stay quick.
      deregistrationDelay: String(DEREGISTRATION_DELAY_SECONDS),
      healthCheck: {
        enabled: true,
        path: HEALTH_CHECK_PATH,
        protocol: 'HTTP',
        matcher: '200',
        interval: 10,
        timeout: 5,
        healthyThreshold: 2,
        unhealthyThreshold: 3,
      },
      tags: { Name: `${name}-app` },
    })

    const certificateArn = config.certificateArn ?? this.requestCertificate(name, config)

    this.httpsListener = new LbListener(this, 'https', {
      loadBalancerArn: this.loadBalancer.arn,
      port: 443,
      protocol: 'HTTPS',
      sslPolicy: config.sslPolicy,
      certificateArn,
      defaultAction: [{ type: 'forward', targetGroupArn: this.targetGroup.arn }],
    })
    new LbListener(this, 'http-redirect', {
      loadBalancerArn: this.loadBalancer.arn,
      port: 80,
      protocol: 'HTTP',
      defaultAction: [
        {
          type: 'redirect',
          redirect: { protocol: 'HTTPS', port: '443', statusCode: 'HTTP_301' },
        },
      ],
    })

    this.webAcl = new Wafv2WebAcl(this, 'web-acl', {
      name: `${name}-web-acl`,
      description:
        'Rate limits per session and per IP, then AWS managed rule groups, in front of the sugang ALB',
      scope: 'REGIONAL',
      defaultAction: { allow: {} },
      // The binding cannot express nested rule statements, so the rules go in as WAF API JSON.
      ruleJson: JSON.stringify(webAclRules(name, config.rateLimits)),
      visibilityConfig: {
        cloudwatchMetricsEnabled: true,
        metricName: webAclMetricNames(name).webAcl,
        sampledRequestsEnabled: true,
      },
    })
    new Wafv2WebAclAssociation(this, 'web-acl-association', {
      resourceArn: this.loadBalancer.arn,
      webAclArn: this.webAcl.arn,
    })
    // WAF only delivers to log groups whose name starts with aws-waf-logs-.
    const wafLogs = new CloudwatchLogGroup(this, 'waf-logs', {
      name: `aws-waf-logs-${name}`,
      retentionInDays: config.wafLogRetentionDays,
    })
    new Wafv2WebAclLoggingConfiguration(this, 'web-acl-logging', {
      resourceArn: this.webAcl.arn,
      logDestinationConfigs: [wafLogs.arn],
      // Session cookies must not end up in logs.
      redactedFields: [
        { singleHeader: { name: 'cookie' } },
        { singleHeader: { name: 'authorization' } },
      ],
    })

    if (config.hostedZoneId) {
      new Route53Record(this, 'alias', {
        zoneId: config.hostedZoneId,
        name: config.domainName,
        type: 'A',
        alias: {
          name: this.loadBalancer.dnsName,
          zoneId: this.loadBalancer.zoneId,
          evaluateTargetHealth: true,
        },
      })
    }
  }

  private requestCertificate(name: string, config: EdgeConfig): string {
    if (!config.hostedZoneId) {
      throw new Error('edge: set either certificateArn or hostedZoneId (to request a certificate)')
    }
    const certificate = new AcmCertificate(this, 'certificate', {
      domainName: config.domainName,
      validationMethod: 'DNS',
      lifecycle: { createBeforeDestroy: true },
      tags: { Name: name },
    })
    const option = certificate.domainValidationOptions.get(0)
    const record = new Route53Record(this, 'certificate-validation-record', {
      zoneId: config.hostedZoneId,
      name: option.resourceRecordName,
      type: option.resourceRecordType,
      records: [option.resourceRecordValue],
      ttl: 300,
      allowOverwrite: true,
    })
    return new AcmCertificateValidation(this, 'certificate-validation', {
      certificateArn: certificate.arn,
      validationRecordFqdns: [record.fqdn],
    }).certificateArn
  }
}

function visibility(metricName: string) {
  return { SampledRequestsEnabled: true, CloudWatchMetricsEnabled: true, MetricName: metricName }
}

/** Refuses limits WAF would reject at apply time, so `cdktf synth` fails instead. */
export function validateRateLimits(limits: RateLimitsConfig): void {
  const keys = ['perSessionPer5Minutes', 'perIpBackstopPer5Minutes'] as const
  for (const key of keys) {
    const value = limits[key]
    if (!Number.isInteger(value) || value < WAF_RATE_LIMIT_MIN || value > WAF_RATE_LIMIT_MAX) {
      throw new Error(
        `edge.rateLimits.${key} must be a whole number from ${WAF_RATE_LIMIT_MIN} to ` +
          `${WAF_RATE_LIMIT_MAX} (the range WAF accepts), not ${value}`,
      )
    }
  }
}

/** A scope-down statement: the normalised URI path starts with `path`. */
function pathMatch(positionalConstraint: 'STARTS_WITH', path: string) {
  return {
    ByteMatchStatement: {
      FieldToMatch: { UriPath: {} },
      PositionalConstraint: positionalConstraint,
      // Plain text: the provider base64-encodes SearchString of rule_json itself.
      SearchString: path,
      TextTransformations: PATH_TRANSFORMATIONS,
    },
  }
}

/**
 * WAF rules in the WAFv2 API shape: two rate-based rules, then the managed groups.
 *
 * A campus NAT puts hundreds or thousands of students behind one address, so the tight limit is
 * per session, and the per-IP rule is sized for the busiest shared address:
 * 1. per `sugang_session` cookie on `/api/` (requests without the cookie are not counted here);
 * 2. per IP over everything, high, against a single flooding host and cookie-less traffic.
 * Every rule counts independently; a request is blocked when any of its counts is over its limit.
 *
 * No rule limits logins per IP. One tight enough to matter (the old 3,000 per 5 minutes) blocks
 * a campus or a mobile carrier's NAT once some 600 students log in behind it, with retries, and
 * the service never sees them; one sized for such an address stops nothing the backstop does not.
 * Logins are limited where an account and a failure can be told apart: the service counts
 * failures per account and per address (a campus address per account), refuses an address over
 * its limit before the password check, and answers a storm beyond its capacity with 503
 * LOGIN_BUSY at once (docs/security.md).
 */
export function webAclRules(name: string, limits: RateLimitsConfig): object[] {
  validateRateLimits(limits)
  const metricNames = webAclMetricNames(name).rules
  const [perSession, backstop] = RATE_RULES
  const rateRule = (rule: WafRuleName, priority: number, statement: object) => ({
    Name: rule,
    Priority: priority,
    Action: { Block: {} },
    Statement: {
      RateBasedStatement: { ...statement, EvaluationWindowSec: RATE_LIMIT_WINDOW_SECONDS },
    },
    VisibilityConfig: visibility(metricNames[rule]),
  })
  return [
    rateRule(perSession, 0, {
      Limit: limits.perSessionPer5Minutes,
      AggregateKeyType: 'CUSTOM_KEYS',
      CustomKeys: [
        { Cookie: { Name: SESSION_COOKIE, TextTransformations: [{ Priority: 0, Type: 'NONE' }] } },
      ],
      ScopeDownStatement: pathMatch('STARTS_WITH', API_PATH_PREFIX),
    }),
    rateRule(backstop, 1, {
      Limit: limits.perIpBackstopPer5Minutes,
      AggregateKeyType: 'IP',
    }),
    ...MANAGED_RULE_GROUPS.map((group, i) => ({
      Name: group,
      Priority: 10 * (i + 1),
      OverrideAction: { None: {} },
      Statement: { ManagedRuleGroupStatement: { VendorName: 'AWS', Name: group } },
      VisibilityConfig: visibility(metricNames[group]),
    })),
  ]
}
