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
import type { EdgeConfig } from '../config/types.js'
import { denyInsecureTransport, policyDocument } from './iam.js'
import { blockPublicAccess } from './private-bucket.js'

export interface EdgeProps {
  readonly name: string
  readonly config: EdgeConfig
  readonly vpcId: string
  readonly publicSubnetIds: string[]
  readonly albSecurityGroupId: string
  readonly appSecurityGroupId: string
  /** Port the service container listens on (CONTRACT.md: PORT). */
  readonly appPort: number
}

/** Path the target group probes: 200 only when MySQL and Redis answer (CONTRACT.md). */
export const HEALTH_CHECK_PATH = '/health/ready'

/** AWS managed rule groups evaluated for every request, in this order after the rate limit. */
export const MANAGED_RULE_GROUPS = [
  'AWSManagedRulesAmazonIpReputationList',
  'AWSManagedRulesCommonRuleSet',
  'AWSManagedRulesKnownBadInputsRuleSet',
  'AWSManagedRulesSQLiRuleSet',
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
      deregistrationDelay: '30',
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
      description: 'Managed protections and a per-IP rate limit in front of the sugang ALB',
      scope: 'REGIONAL',
      defaultAction: { allow: {} },
      // The binding cannot express nested rule statements, so the rules go in as WAF API JSON.
      ruleJson: JSON.stringify(webAclRules(name, config.rateLimitPer5Minutes)),
      visibilityConfig: {
        cloudwatchMetricsEnabled: true,
        metricName: `${name}-web-acl`,
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

/** WAF rules in the WAFv2 API shape: the per-IP rate limit first, then the managed groups. */
export function webAclRules(name: string, rateLimitPer5Minutes: number): object[] {
  return [
    {
      Name: 'rate-limit-per-ip',
      Priority: 0,
      Action: { Block: {} },
      Statement: {
        RateBasedStatement: {
          Limit: rateLimitPer5Minutes,
          AggregateKeyType: 'IP',
          EvaluationWindowSec: 300,
        },
      },
      VisibilityConfig: visibility(`${name}-rate-limit-per-ip`),
    },
    ...MANAGED_RULE_GROUPS.map((group, i) => ({
      Name: group,
      Priority: 10 * (i + 1),
      OverrideAction: { None: {} },
      Statement: { ManagedRuleGroupStatement: { VendorName: 'AWS', Name: group } },
      VisibilityConfig: visibility(`${name}-${group}`),
    })),
  ]
}
