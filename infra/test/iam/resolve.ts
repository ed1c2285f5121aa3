// Reads the synthesized stacks the way AWS will see them once applied: every Terraform reference in
// a policy or a resource argument becomes the value it will have, built from the profile's config
// (names, account, region) and the synthesized bodies. What cannot be known before an apply (ids
// AWS draws, random suffixes) gets a fixed stand-in of the right shape. A reference this module
// does not know fails loudly: a policy that would be read wrong is worse than a test that stops.
import { createHash } from 'node:crypto'
import type { PlatformConfig } from '../../src/config/types.js'
import type { Body, StackKey, SynthesizedPlatform, SynthesizedStack } from '../helpers/synth.js'

/** An IAM policy document as AWS stores it. */
export interface PolicyDocument {
  readonly Version: '2012-10-17'
  readonly Statement: PolicyStatement[]
}

export interface PolicyStatement {
  Sid?: string
  Effect: 'Allow' | 'Deny'
  Principal?: Record<string, string[]>
  Action?: string[]
  NotAction?: string[]
  Resource?: string[]
  NotResource?: string[]
  Condition?: Record<string, Record<string, string[]>>
}

/** A role and every identity policy attached to it, in any stack of the profile. */
export interface Principal {
  readonly roleName: string
  readonly arn: string
  readonly policies: { readonly name: string; readonly document: PolicyDocument }[]
}

/** One resource of a synthesized stack, with its references resolvable. */
export interface ResourceRef {
  readonly stack: StackKey
  readonly type: string
  readonly id: string
  readonly body: Body
}

/**
 * Stand-ins for what AWS draws when it creates a resource. Their shapes are AWS's: Secrets Manager
 * appends `-` and six characters to a secret's name, `bucket_prefix` gets 26 digits, EC2 ids are a
 * prefix and 17 hex digits.
 */
export const DRAWN = {
  uuid: '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d',
  secretSuffix: 'AbCdEf',
  bucketSuffix: '20260101000000000000000001',
  elbId: '0123456789abcdef',
} as const

/** Where ELB writes access logs from, per region (the aws_elb_service_account data source). */
const ELB_ACCOUNTS: Readonly<Record<string, string>> = { 'ap-northeast-2': '600734575887' }

/** EC2-style ids: the type's prefix and 17 hex digits drawn from the logical id. */
const ID_PREFIXES: Readonly<Record<string, string>> = {
  aws_instance: 'i-',
  aws_launch_template: 'lt-',
  aws_security_group: 'sg-',
  aws_subnet: 'subnet-',
  aws_vpc: 'vpc-',
  aws_vpc_security_group_egress_rule: 'sgr-',
  aws_vpc_security_group_ingress_rule: 'sgr-',
  aws_lb_listener: 'listener-',
}

function drawnId(type: string, logicalId: string): string {
  const prefix = ID_PREFIXES[type]
  if (!prefix) throw new Error(`no id shape known for ${type} (${logicalId})`)
  return `${prefix}${createHash('sha256').update(logicalId).digest('hex').slice(0, 17)}`
}

export class Resolver {
  readonly config: PlatformConfig
  readonly platform: SynthesizedPlatform
  readonly prefix: string

  constructor(config: PlatformConfig, platform: SynthesizedPlatform) {
    this.config = config
    this.platform = platform
    this.prefix = `${config.project}-${config.profile}`
  }

  /** `arn:aws:<service>:<region>:<account>:<resource>` of this profile. */
  arn(service: string, resource: string): string {
    return `arn:aws:${service}:${this.config.region}:${this.config.accountId}:${resource}`
  }

  /** The stack whose state lives under a backend key (what terraform_remote_state reads). */
  stackByStateKey(key: string): StackKey {
    for (const [name, stack] of Object.entries(this.platform) as [StackKey, SynthesizedStack][]) {
      if (stack.tf.terraform?.backend?.s3?.key === key) return name
    }
    throw new Error(`no stack keeps its state at ${key}`)
  }

  resource(stack: StackKey, type: string, id: string): ResourceRef {
    const body = this.platform[stack].tf.resource?.[type]?.[id]
    if (!body) throw new Error(`no ${type}.${id} in the ${stack} stack`)
    return { stack, type, id, body }
  }

  dataSource(stack: StackKey, type: string, id: string): ResourceRef {
    const body = this.platform[stack].tf.data?.[type]?.[id]
    if (!body) throw new Error(`no data.${type}.${id} in the ${stack} stack`)
    return { stack, type: `data.${type}`, id, body }
  }

  /** Every `${...}` in a value replaced by what it will be; objects and lists deeply. */
  value(stack: StackKey, value: unknown): unknown {
    if (typeof value === 'string') return this.string(stack, value)
    if (Array.isArray(value)) return value.map((v) => this.value(stack, v))
    if (value && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, this.value(stack, v)]))
    }
    return value
  }

  string(stack: StackKey, text: string): string {
    return text.replace(/\$\{([^}]*)\}/g, (_, expression: string) =>
      this.expression(stack, expression.trim()),
    )
  }

  /** An attribute of a resource body, with its references resolved. */
  attribute(ref: ResourceRef, name: string): string {
    const value = ref.body[name]
    if (typeof value !== 'string') {
      throw new Error(`${ref.type}.${ref.id} has no string ${name} (${JSON.stringify(value)})`)
    }
    return this.string(ref.stack, value)
  }

  /** The tags AWS will report for a resource: the provider's default tags and its own. */
  tags(ref: ResourceRef): Record<string, string> {
    const defaults = this.platform[ref.stack].tf.provider?.aws?.[0]?.default_tags?.[0]?.tags ?? {}
    return this.value(ref.stack, { ...defaults, ...(ref.body.tags ?? {}) }) as Record<
      string,
      string
    >
  }

  private expression(stack: StackKey, expression: string): string {
    const remote =
      /^data\.terraform_remote_state\.([\w-]+)\.outputs\.([\w-]+)$/.exec(expression) ?? undefined
    if (remote) {
      const [, input, output] = remote as unknown as [string, string, string]
      const state = this.dataSource(stack, 'terraform_remote_state', input)
      const producer = this.stackByStateKey(state.body.config.key as string)
      const value = this.platform[producer].tf.output?.[output]?.value
      if (typeof value !== 'string') {
        throw new Error(`the ${producer} stack has no output ${output} (read by ${stack})`)
      }
      return this.string(producer, value)
    }
    const data = /^data\.([a-z0-9_]+)\.([\w-]+)\.([a-z0-9_]+)$/.exec(expression)
    if (data) {
      const [, type, id, attribute] = data as unknown as [string, string, string, string]
      return this.dataAttribute(this.dataSource(stack, type, id), attribute)
    }
    const local = /^(aws_[a-z0-9_]+)\.([\w-]+)\.([a-z0-9_]+)$/.exec(expression)
    if (local) {
      const [, type, id, attribute] = local as unknown as [string, string, string, string]
      return this.resourceAttribute(this.resource(stack, type, id), attribute)
    }
    throw new Error(`unresolved Terraform expression in the ${stack} stack: \${${expression}}`)
  }

  private dataAttribute(ref: ResourceRef, attribute: string): string {
    const key = `${ref.type}.${attribute}`
    switch (key) {
      case 'data.aws_caller_identity.account_id':
        return this.config.accountId
      case 'data.aws_elb_service_account.arn': {
        const account = ELB_ACCOUNTS[this.config.region]
        if (!account) throw new Error(`no ELB account known for ${this.config.region}`)
        return `arn:aws:iam::${account}:root`
      }
      case 'data.aws_iam_policy_document.json':
        return JSON.stringify(this.policyDocument(ref))
      default:
        throw new Error(`unresolved data source attribute ${key} (${ref.id})`)
    }
  }

  /** What Terraform reports for `<type>.<id>.<attribute>` once the resource exists. */
  resourceAttribute(ref: ResourceRef, attribute: string): string {
    if (attribute === 'arn') return this.resourceArn(ref)
    const named = (field: string) => this.attribute(ref, field)
    switch (`${ref.type}.${attribute}`) {
      case 'aws_iam_role.id':
      case 'aws_iam_role.name':
      case 'aws_iam_instance_profile.name':
      case 'aws_cloudwatch_log_group.name':
      case 'aws_lambda_function.function_name':
      case 'aws_autoscaling_group.name':
      case 'aws_ssm_parameter.name':
        return named(attribute === 'function_name' ? 'function_name' : 'name')
      case 'aws_s3_bucket.id':
      case 'aws_s3_bucket.bucket':
        return this.bucketName(ref)
      case 'aws_elasticache_replication_group.replication_group_id':
        return named('replication_group_id')
      case 'aws_db_instance.resource_id':
        // A DbiResourceId: `db-` and 26 upper-case letters and digits, drawn from the logical id.
        return `db-${createHash('sha256').update(ref.id).digest('hex').slice(0, 26).toUpperCase()}`
      default:
        if (attribute === 'id' && ID_PREFIXES[ref.type]) return drawnId(ref.type, ref.id)
        throw new Error(`unresolved attribute ${ref.type}.${attribute} (${ref.id})`)
    }
  }

  bucketName(ref: ResourceRef): string {
    if (typeof ref.body.bucket === 'string') return this.attribute(ref, 'bucket')
    return `${this.attribute(ref, 'bucket_prefix')}${DRAWN.bucketSuffix}`
  }

  /** The ARN a resource will have, as AWS forms it for that type. */
  resourceArn(ref: ResourceRef): string {
    const a = (field: string) => this.attribute(ref, field)
    switch (ref.type) {
      case 'aws_acm_certificate':
        return this.arn('acm', `certificate/${DRAWN.uuid}`)
      case 'aws_autoscaling_policy':
      case 'aws_autoscaling_schedule': {
        const group = this.attribute(this.referenced(ref, 'autoscaling_group_name'), 'name')
        return ref.type === 'aws_autoscaling_policy'
          ? this.arn(
              'autoscaling',
              `scalingPolicy:${DRAWN.uuid}:autoScalingGroupName/${group}:policyName/${a('name')}`,
            )
          : this.arn(
              'autoscaling',
              `scheduledUpdateGroupAction:${DRAWN.uuid}:autoScalingGroupName/${group}:scheduledActionName/${a('scheduled_action_name')}`,
            )
      }
      case 'aws_autoscaling_group':
        return this.arn(
          'autoscaling',
          `autoScalingGroup:${DRAWN.uuid}:autoScalingGroupName/${a('name')}`,
        )
      case 'aws_cloudwatch_log_group':
        return this.arn('logs', `log-group:${a('name')}`)
      case 'aws_cloudwatch_event_rule':
        return this.arn('events', `rule/${a('name')}`)
      case 'aws_ecr_repository':
        return this.arn('ecr', `repository/${a('name')}`)
      case 'aws_iam_instance_profile':
        return `arn:aws:iam::${this.config.accountId}:instance-profile/${a('name')}`
      case 'aws_iam_openid_connect_provider':
        return `arn:aws:iam::${this.config.accountId}:oidc-provider/${a('url').replace(/^https:\/\//, '')}`
      case 'aws_iam_role':
        return `arn:aws:iam::${this.config.accountId}:role/${a('name')}`
      case 'aws_instance':
      case 'aws_launch_template':
      case 'aws_security_group':
      case 'aws_subnet':
      case 'aws_vpc_security_group_egress_rule':
      case 'aws_vpc_security_group_ingress_rule': {
        const kind = {
          aws_instance: 'instance',
          aws_launch_template: 'launch-template',
          aws_security_group: 'security-group',
          aws_subnet: 'subnet',
          aws_vpc_security_group_egress_rule: 'security-group-rule',
          aws_vpc_security_group_ingress_rule: 'security-group-rule',
        }[ref.type]
        return this.arn('ec2', `${kind}/${drawnId(ref.type, ref.id)}`)
      }
      case 'aws_kms_key':
        return this.arn('kms', `key/${DRAWN.uuid}`)
      case 'aws_lambda_function':
        return this.arn('lambda', `function:${a('function_name')}`)
      case 'aws_lb':
        return this.arn('elasticloadbalancing', `loadbalancer/app/${a('name')}/${DRAWN.elbId}`)
      case 'aws_lb_listener': {
        const lb = this.referenced(ref, 'load_balancer_arn')
        const [, name] = /loadbalancer\/app\/([^/]+)\//.exec(this.resourceArn(lb)) ?? []
        return this.arn(
          'elasticloadbalancing',
          `listener/app/${name}/${DRAWN.elbId}/${drawnId(ref.type, ref.id).slice(9)}`,
        )
      }
      case 'aws_lb_target_group':
        return this.arn('elasticloadbalancing', `targetgroup/${a('name')}/${DRAWN.elbId}`)
      case 'aws_s3_bucket':
        return `arn:aws:s3:::${this.bucketName(ref)}`
      case 'aws_secretsmanager_secret':
        return this.arn('secretsmanager', `secret:${a('name')}-${DRAWN.secretSuffix}`)
      case 'aws_sesv2_email_identity':
        return this.arn('ses', `identity/${a('email_identity')}`)
      case 'aws_sqs_queue':
        return this.arn('sqs', a('name'))
      case 'aws_ssm_parameter':
        return parameterArn(this.config, a('name'))
      case 'aws_wafv2_web_acl':
        return this.arn('wafv2', `regional/webacl/${a('name')}/${DRAWN.uuid}`)
      default:
        throw new Error(`no ARN shape known for ${ref.type} (${ref.id})`)
    }
  }

  /** The resource an argument of `ref` points at (`${<type>.<id>.<attr>}`). */
  referenced(ref: ResourceRef, field: string): ResourceRef {
    const value = ref.body[field]
    if (typeof value !== 'string') {
      throw new Error(`${ref.type}.${ref.id}.${field} is not a reference: ${JSON.stringify(value)}`)
    }
    return this.refOf(ref.stack, value)
  }

  /**
   * The resource a whole-string expression points at: `${<type>.<id>.<attr>}` in the same stack,
   * or a remote state output followed to the stack that produces it.
   */
  refOf(stack: StackKey, text: string): ResourceRef {
    const expression = /^\$\{([^}]*)\}$/.exec(text)?.[1]
    const remote =
      expression && /^data\.terraform_remote_state\.([\w-]+)\.outputs\.([\w-]+)$/.exec(expression)
    if (remote) {
      const state = this.dataSource(stack, 'terraform_remote_state', remote[1]!)
      const producer = this.stackByStateKey(state.body.config.key as string)
      const value = this.platform[producer].tf.output?.[remote[2]!]?.value
      if (typeof value !== 'string')
        throw new Error(`the ${producer} stack has no output ${remote[2]}`)
      return this.refOf(producer, value)
    }
    const local = expression && /^(aws_[a-z0-9_]+)\.([\w-]+)\.[a-z_]+$/.exec(expression)
    if (!local) throw new Error(`not a reference to a resource in the ${stack} stack: ${text}`)
    return this.resource(stack, local[1]!, local[2]!)
  }

  /** The one resource of a type in a stack that matches, or an error naming what was sought. */
  find(stack: StackKey, type: string, matches: (body: Body) => boolean, what: string): ResourceRef {
    const found = Object.entries(this.platform[stack].tf.resource?.[type] ?? {}).filter(([, b]) =>
      matches(b),
    )
    if (found.length !== 1) {
      throw new Error(`expected one ${type} (${what}) in the ${stack} stack, found ${found.length}`)
    }
    const [id, body] = found[0]!
    return { stack, type, id, body }
  }

  /**
   * An aws_iam_policy_document data source as the JSON document Terraform renders. Principals
   * belong to resource policies (a key policy) only; an identity policy naming one is an error.
   */
  policyDocument(ref: ResourceRef, kind: 'identity' | 'resource' = 'identity'): PolicyDocument {
    const unknown = Object.keys(ref.body).filter((k) => k !== 'statement')
    if (unknown.length > 0) {
      throw new Error(
        `policy document ${ref.id} uses ${unknown.join(', ')}, which is not read here`,
      )
    }
    const statements = (ref.body.statement ?? []) as Body[]
    return {
      Version: '2012-10-17',
      Statement: statements.map((s) => {
        const out: PolicyStatement = { Effect: s.effect ?? 'Allow' }
        if (s.sid) out.Sid = s.sid
        const list = (field: string) => this.value(ref.stack, s[field]) as string[] | undefined
        if (s.actions) out.Action = list('actions')
        if (s.not_actions) out.NotAction = list('not_actions')
        if (s.resources) out.Resource = list('resources')
        if (s.not_resources) out.NotResource = list('not_resources')
        if (s.not_principals || (s.principals && kind === 'identity')) {
          throw new Error(`policy document ${ref.id} names principals: not an identity policy`)
        }
        for (const p of (s.principals ?? []) as Body[]) {
          out.Principal ??= {}
          out.Principal[p.type as string] = this.value(ref.stack, p.identifiers) as string[]
        }
        for (const c of (s.condition ?? []) as Body[]) {
          const test = (out.Condition ??= {})[c.test as string] ?? {}
          if (test[c.variable as string]) {
            throw new Error(`policy document ${ref.id} repeats ${c.test} ${c.variable}`)
          }
          test[c.variable as string] = this.value(ref.stack, c.values) as string[]
          out.Condition[c.test as string] = test
        }
        return out
      }),
    }
  }

  /**
   * The role named `roleName` and every policy attached to it, wherever it is attached: inline
   * policies of any stack (the ops stack attaches to the app stack's roles) and managed policies.
   */
  principal(roleName: string, managed: Readonly<Record<string, PolicyDocument>>): Principal {
    const policies: { name: string; document: PolicyDocument }[] = []
    let found = false
    for (const [stack, synthesized] of Object.entries(this.platform) as [
      StackKey,
      SynthesizedStack,
    ][]) {
      const resources = synthesized.tf.resource ?? {}
      for (const [id, body] of Object.entries(resources.aws_iam_role ?? {})) {
        if (body.name !== roleName) continue
        found = true
        for (const field of ['inline_policy', 'managed_policy_arns', 'permissions_boundary']) {
          if (body[field]) throw new Error(`${roleName} (${id}) sets ${field}, not read here`)
        }
      }
      for (const [id, body] of Object.entries(resources.aws_iam_role_policy ?? {})) {
        if (this.string(stack, body.role as string) !== roleName) continue
        const policy = /^\$\{data\.aws_iam_policy_document\.([\w-]+)\.json\}$/.exec(body.policy)
        if (!policy) throw new Error(`${stack} ${id}: the policy is not a policy document`)
        policies.push({
          name: `${stack}/${body.name}`,
          document: this.policyDocument(
            this.dataSource(stack, 'aws_iam_policy_document', policy[1]!),
          ),
        })
      }
      for (const [id, body] of Object.entries(resources.aws_iam_role_policy_attachment ?? {})) {
        if (this.string(stack, body.role as string) !== roleName) continue
        const arn = this.string(stack, body.policy_arn as string)
        const name = /^arn:aws:iam::aws:policy\/(?:[\w-]+\/)*([\w-]+)$/.exec(arn)?.[1]
        const document = name ? managed[name] : undefined
        if (!document) throw new Error(`${stack} ${id}: no document known for ${arn}`)
        policies.push({ name: `aws/${name}`, document })
      }
    }
    if (!found) throw new Error(`no role named ${roleName}`)
    return { roleName, arn: `arn:aws:iam::${this.config.accountId}:role/${roleName}`, policies }
  }

  /** A resource's own policy (a KMS key's key policy), from its policy document. */
  resourcePolicy(ref: ResourceRef, field = 'policy'): PolicyDocument {
    const policy = /^\$\{data\.aws_iam_policy_document\.([\w-]+)\.json\}$/.exec(ref.body[field])
    if (!policy) throw new Error(`${ref.type}.${ref.id}.${field} is not a policy document`)
    return this.policyDocument(
      this.dataSource(ref.stack, 'aws_iam_policy_document', policy[1]!),
      'resource',
    )
  }

  /** Every resource of the stack, data sources included (as `data.<type>`). */
  resources(stack: StackKey): ResourceRef[] {
    const tf = this.platform[stack].tf
    return [
      ...Object.entries(tf.resource ?? {}).flatMap(([type, byId]) =>
        Object.entries(byId).map(([id, body]) => ({ stack, type, id, body })),
      ),
      ...Object.entries(tf.data ?? {}).flatMap(([type, byId]) =>
        Object.entries(byId).map(([id, body]) => ({ stack, type: `data.${type}`, id, body })),
      ),
    ]
  }
}

/**
 * A parameter's ARN. AWS's public parameters (`/aws/service/...`) belong to no account: their
 * ARNs have an empty account field, and a grant that names the caller's account never matches.
 */
export function parameterArn(config: PlatformConfig, name: string): string {
  const account = name.startsWith('/aws/service/') ? '' : config.accountId
  return `arn:aws:ssm:${config.region}:${account}:parameter${name.startsWith('/') ? '' : '/'}${name}`
}
