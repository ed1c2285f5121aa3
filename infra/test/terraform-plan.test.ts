import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer as createHttpServer, type Server } from 'node:http'
import { createServer as createTcpServer } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { isDeepStrictEqual, promisify } from 'node:util'
import t from 'tap'
import { App } from '../src/cdktf.js'
import { profiles } from '../src/config/index.js'
import { buildPlatform } from '../src/platform.js'
import { STACK_TAG_KEY } from '../src/stacks/platform-stack.js'
import type { Body } from './helpers/synth.js'

// Every synthesized stack of both profiles, planned by Terraform with the real AWS provider, each
// stack a module of one root configuration and one `terraform test` run (`command = plan`). A
// plan catches what the JSON assertions of the other tests cannot: an argument the provider does
// not have, a wrong type, a missing block (what `terraform validate` sees), and beyond validate
// the provider's plan-time checks (CustomizeDiff, validation of values known only at plan time)
// and the stacks' own preconditions.
//
// Offline: the stacks' copies have no backend, the provider skips its credential and account
// checks, and every data source that would call AWS, every `terraform_remote_state` included, is
// overridden with a value of the right shape. A remote state's outputs are derived from the
// producing stack's synthesized outputs, so a reference to an output that stack no longer has
// fails. The only call the plan makes, Secrets Manager's GetRandomPassword for the ephemeral
// passwords (Terraform 1.11 cannot override an ephemeral resource), goes to a stand-in in this
// process; every other request goes to a proxy on a closed port and fails at once.
//
// The provider: with TF_PLUGIN_DIR set (a filesystem mirror: <dir>/registry.terraform.io/
// hashicorp/aws/<version>/<os_arch>/), the version found there, offline; the pinned version
// constraint is relaxed to it, so an argument newer than the mirror's release fails here and
// must be decided (infra/README.md, "Checking the stacks with Terraform"). Without it, `terraform
// init` installs the pinned version from the registry.

const run = promisify(execFile)
const INFRA_DIR = fileURLToPath(new URL('..', import.meta.url))
const pluginDir = process.env.TF_PLUGIN_DIR

function mirrorVersion(dir: string): string {
  const versions = readdirSync(path.join(dir, 'registry.terraform.io', 'hashicorp', 'aws'))
  const [version] = versions.sort().reverse()
  if (!version) throw new Error(`no hashicorp/aws release in ${dir}`)
  return version
}

const work = mkdtempSync(path.join(os.tmpdir(), 'sugang-plan-'))
t.teardown(() => rmSync(work, { recursive: true, force: true }))

const outdir = path.join(work, 'cdktf.out')
const app = new App({ outdir })
const expected: string[] = []
for (const config of Object.values(profiles)) {
  const platform = buildPlatform(app, config, { baseDir: INFRA_DIR })
  expected.push(...Object.values(platform).map((stack) => stack.node.id))
}
app.synth()
const stacks = readdirSync(path.join(outdir, 'stacks')).sort()

interface StackJson {
  terraform: Body
  provider: { aws: Body[] }
  data?: Record<string, Record<string, Body>>
  resource?: Record<string, Record<string, Body>>
  output?: Record<string, { value: unknown }>
}

const synthesized: Record<string, StackJson> = Object.fromEntries(
  stacks.map((stack) => [
    stack,
    JSON.parse(readFileSync(path.join(outdir, 'stacks', stack, 'cdk.tf.json'), 'utf8')),
  ]),
)

// ---------------------------------------------------------------------------------------------
// Values of the right shape for what AWS would answer

/** Hex digits drawn from a name: the same fake id every run, a different one per resource. */
function hex(seed: string, length: number): string {
  let out = ''
  for (let i = 0; out.length < length; i += 1) {
    out += createHash('sha256').update(`${seed}/${i}`).digest('hex')
  }
  return out.slice(0, length)
}

/** A password as Secrets Manager draws one: letters and digits (the stacks exclude punctuation). */
function password(seed: string, length: number): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'
  const digest = Buffer.from(hex(seed, length * 2), 'hex')
  return Array.from(digest.subarray(0, length), (byte) => alphabet[byte % alphabet.length]).join('')
}

/** A region as ElastiCache's host names and zone ids spell it: ap-northeast-2 is apne2. */
function shortRegion(region: string): string {
  const [area = '', direction = '', number = ''] = region.split('-')
  return `${area}${direction.replace(/(north|south|east|west|central)/g, (w) => w[0] ?? '')}${number}`
}

function providerOf(json: StackJson): { region: string; account: string } {
  const { region, allowed_account_ids: [account] = [] } = json.provider.aws[0] ?? {}
  if (!region || !account) throw new Error('a stack without its region or its account')
  return { region: String(region), account: String(account) }
}

/** A literal argument of a resource, which its attribute of the same name then equals. */
function literal(body: Body, name: string, where: string): string {
  const value = body[name]
  if (typeof value !== 'string' || value.includes('${')) {
    throw new Error(`${where}: ${name} is not a literal, so no offline value can be derived`)
  }
  return value
}

/** What an attribute of a created resource would read, from its type and its arguments. */
function attributeValue(json: StackJson, type: string, name: string, attribute: string): string {
  const where = `${type}.${name}.${attribute}`
  const body = json.resource?.[type]?.[name]
  if (!body) throw new Error(`${where}: no such resource`)
  const { region, account } = providerOf(json)
  const seed = `${account}/${where}`
  const ids: Record<string, string> = {
    aws_vpc: 'vpc',
    aws_subnet: 'subnet',
    aws_security_group: 'sg',
    aws_instance: 'i',
  }
  if (attribute === 'id' && ids[type]) return `${ids[type]}-${hex(seed, 17)}`
  if (['name', 'identifier', 'replication_group_id', 'bucket'].includes(attribute)) {
    // A name Terraform draws from a prefix ends in a timestamp and a counter, 26 digits.
    if (body[attribute] === undefined && body[`${attribute}_prefix`] !== undefined) {
      return `${literal(body, `${attribute}_prefix`, where)}20250901120000000000000001`
    }
    return literal(body, attribute, where)
  }
  switch (`${type}.${attribute}`) {
    case 'aws_secretsmanager_secret.arn':
      return `arn:aws:secretsmanager:${region}:${account}:secret:${literal(body, 'name', where)}-${password(seed, 6)}`
    case 'aws_ecr_repository.arn':
      return `arn:aws:ecr:${region}:${account}:repository/${literal(body, 'name', where)}`
    case 'aws_ecr_repository.repository_url':
      return `${account}.dkr.ecr.${region}.amazonaws.com/${literal(body, 'name', where)}`
    case 'aws_iam_role.arn':
      return `arn:aws:iam::${account}:role/${literal(body, 'name', where)}`
    case 'aws_sns_topic.arn':
      return `arn:aws:sns:${region}:${account}:${literal(body, 'name', where)}`
    case 'aws_kms_key.arn':
      return `arn:aws:kms:${region}:${account}:key/${hex(seed, 32).replace(/^(.{8})(.{4})(.{4})(.{4})/, '$1-$2-$3-$4-')}`
    case 'aws_lb.arn_suffix':
      return `app/${literal(body, 'name', where)}/${hex(seed, 16)}`
    case 'aws_lb.dns_name':
      return `${literal(body, 'name', where)}-${parseInt(hex(seed, 8), 16)}.${region}.elb.amazonaws.com`
    case 'aws_lb_target_group.arn_suffix':
      return `targetgroup/${literal(body, 'name', where)}/${hex(seed, 16)}`
    case 'aws_db_instance.address':
      return `${literal(body, 'identifier', where)}.c${hex(seed, 11)}.${region}.rds.amazonaws.com`
    case 'aws_db_instance.resource_id':
      return `db-${hex(seed, 26).toUpperCase()}`
    case 'aws_db_instance.endpoint':
      return `${attributeValue(json, type, name, 'address')}:${body.port ?? 3306}`
    case 'aws_elasticache_replication_group.primary_endpoint_address':
      return `master.${literal(body, 'replication_group_id', where)}.${hex(seed, 6)}.${shortRegion(region)}.cache.amazonaws.com`
    case 'aws_elasticache_replication_group.configuration_endpoint_address':
      return `clustercfg.${literal(body, 'replication_group_id', where)}.${hex(seed, 6)}.${shortRegion(region)}.cache.amazonaws.com`
  }
  throw new Error(`${where}: no offline value for this attribute; add one to this test`)
}

/** A stack's outputs as its state would hold them after an apply, for a remote state read. */
function outputsOf(stack: string): Record<string, string> {
  const json = synthesized[stack]
  if (!json) throw new Error(`a remote state reads ${stack}, which was not synthesized`)
  return Object.fromEntries(
    Object.entries(json.output ?? {}).map(([name, { value }]) => {
      const text = String(value)
      const resolved = text.replace(/\$\{([^}]*)\}/g, (_, expression: string) => {
        const reference = /^(aws_[a-z0-9_]+)\.([\w-]+)\.([a-z_]+)$/.exec(expression)
        if (!reference) throw new Error(`${stack} output ${name}: cannot derive "${expression}"`)
        const [, type, resource, attribute] = reference as unknown as [
          string,
          string,
          string,
          string,
        ]
        return attributeValue(json, type, resource, attribute)
      })
      return [name, resolved]
    }),
  )
}

interface Override {
  target: string
  values: Body
}

/**
 * Data sources the provider computes itself, without calling AWS: they are planned as written.
 * Every other data source is overridden; one of a type not named here fails the test.
 */
const COMPUTED_LOCALLY = new Set([
  'aws_iam_policy_document',
  'aws_elb_service_account',
  'aws_partition',
  'aws_region',
])

/** What a data source would read from AWS, by type, or undefined when the provider computes it. */
function dataValues(stack: string, type: string, body: Body): Body | undefined {
  const json = synthesized[stack] as StackJson
  const { region, account } = providerOf(json)
  const seed = `${stack}/${type}/${JSON.stringify(body)}`
  if (COMPUTED_LOCALLY.has(type)) return undefined
  switch (type) {
    case 'terraform_remote_state': {
      // The stack whose state it reads must write it there.
      const producer = path.basename(String(body.config?.key), '.tfstate')
      const written = synthesized[producer]?.terraform.backend?.s3
      if (written?.bucket !== body.config?.bucket || written?.key !== body.config?.key) {
        throw new Error(
          `${stack} reads state from ${JSON.stringify(body.config)}: no stack writes it`,
        )
      }
      return { outputs: outputsOf(producer) }
    }
    case 'aws_caller_identity':
      return {
        id: account,
        account_id: account,
        arn: `arn:aws:iam::${account}:user/terraform`,
        user_id: `AIDA${hex(seed, 17).toUpperCase()}`,
      }
    case 'aws_ssm_parameter': {
      const name = String(body.name)
      let value: string
      if (name.startsWith('/aws/service/ami-')) value = `ami-0${hex(seed, 16)}`
      else if (name.endsWith('/released-image')) value = `sha256:${hex(seed, 64)}`
      else throw new Error(`${stack}: no offline value for the parameter ${name}`)
      return { value, insecure_value: value, type: 'String', version: 1 }
    }
    case 'aws_secretsmanager_random_password':
      return { random_password: password(seed, Number(body.password_length ?? 32)) }
    case 'aws_availability_zones':
      return {
        names: ['a', 'b', 'c', 'd'].map((zone) => `${region}${zone}`),
        zone_ids: [1, 2, 3, 4].map((n) => `${shortRegion(region)}-az${n}`),
      }
    case 'aws_route53_zone':
      return { zone_id: body.zone_id ?? `Z${hex(seed, 20).toUpperCase()}`, name: body.name }
  }
  throw new Error(`${stack}: no offline value for data sources of type ${type}; add one`)
}

/** The overrides of every data source of the given stacks, with how many of each type. */
function overridesOf(only: readonly string[]): { overrides: Override[]; counts: Body } {
  const overrides: Override[] = []
  const counts: Record<string, Record<string, number>> = {}
  for (const stack of only) {
    counts[stack] = {}
    for (const [type, sources] of Object.entries(synthesized[stack]?.data ?? {})) {
      for (const [name, body] of Object.entries(sources)) {
        const values = dataValues(stack, type, body)
        if (!values) continue
        overrides.push({ target: `module.${stack}.data.${type}.${name}`, values })
        counts[stack][type] = (counts[stack][type] ?? 0) + 1
      }
    }
  }
  return { overrides, counts }
}

// ---------------------------------------------------------------------------------------------
// The stand-in for Secrets Manager, and the closed port every other request goes to

interface StandIn {
  server: Server
  url: string
  /** Requests it refused: anything but GetRandomPassword. */
  refused: string[]
  passwords: number
}

async function startStandIn(): Promise<StandIn> {
  const standIn: StandIn = { server: createHttpServer(), url: '', refused: [], passwords: 0 }
  standIn.server.on('request', (request, response) => {
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () => {
      const target = String(request.headers['x-amz-target'] ?? `${request.method} ${request.url}`)
      response.setHeader('content-type', 'application/x-amz-json-1.1')
      if (target !== 'secretsmanager.GetRandomPassword') {
        standIn.refused.push(target)
        response.statusCode = 400
        response.end(JSON.stringify({ __type: 'AccessDeniedException', message: 'offline' }))
        return
      }
      const { PasswordLength } = JSON.parse(Buffer.concat(chunks).toString() || '{}') as Body
      standIn.passwords += 1
      const length = Number(PasswordLength ?? 32)
      response.end(JSON.stringify({ RandomPassword: password(`${standIn.passwords}`, length) }))
    })
  })
  await new Promise<void>((resolve) => standIn.server.listen(0, '127.0.0.1', resolve))
  const address = standIn.server.address()
  if (!address || typeof address === 'string') throw new Error('the stand-in has no port')
  standIn.url = `http://127.0.0.1:${address.port}`
  return standIn
}

/** A port on the loopback that nothing listens on: a proxy there refuses every connection. */
async function closedPort(): Promise<number> {
  const server = createTcpServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  if (!address || typeof address === 'string') throw new Error('no port')
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return address.port
}

// ---------------------------------------------------------------------------------------------
// The root configuration, and Terraform

const root = path.join(work, 'plan')
mkdirSync(root)
const version = pluginDir ? mirrorVersion(pluginDir) : undefined

/**
 * The AWS provider of one profile, shared by its stacks. Each provider configuration is a process
 * of its own, started for the validation walk and again for the plan, and costs seconds of CPU
 * before it does anything: sixteen of them made up nearly all of the time. So the stacks of a
 * profile share one, as synthesized but for the stack tag among the default tags. The plan skips
 * the provider's checks that need AWS, and sends Secrets Manager's requests to the stand-in. The
 * account guard (`allowed_account_ids`) needs the account AWS would name, so it goes too; the
 * caller identity the stacks read is overridden with the profile's account.
 */
function sharedProvider(stack: string, standInUrl: string): Body {
  const [aws, ...others] = structuredClone(synthesized[stack]?.provider.aws ?? [])
  if (!aws || others.length > 0) throw new Error(`${stack}: expected one AWS provider`)
  for (const { tags } of aws.default_tags ?? []) delete tags?.[STACK_TAG_KEY]
  delete aws.allowed_account_ids
  return {
    ...aws,
    skip_credentials_validation: true,
    skip_requesting_account_id: true,
    skip_metadata_api_check: true,
    max_retries: 1,
    endpoints: [{ secretsmanager: standInUrl }],
  }
}

/** A stack as the plan runs it: no backend, and the provider its profile shares. */
function plannable(stack: string): StackJson {
  const json = structuredClone(synthesized[stack]) as StackJson
  delete json.terraform.backend
  if (version) json.terraform.required_providers.aws.version = version
  delete (json as Partial<StackJson>).provider
  return json
}

/** Writes the root of the given stacks and its test file; says what it overrode and shared. */
function writeRoot(
  standInUrl: string,
  only: readonly string[],
  change?: (stack: string, json: StackJson) => void,
): { counts: Body; providers: number } {
  const providers: Body[] = []
  const modules: Body = {}
  for (const stack of only) {
    mkdirSync(path.join(root, stack), { recursive: true })
    const json = plannable(stack)
    change?.(stack, json)
    // Indented, so that a diagnostic's snippet is the line at fault, not the whole stack.
    writeFileSync(path.join(root, stack, 'main.tf.json'), JSON.stringify(json, null, 2))
    const provider = sharedProvider(stack, standInUrl)
    let index = providers.findIndex((shared) => isDeepStrictEqual(shared, provider))
    if (index < 0) index = providers.push(provider) - 1
    modules[stack] = { source: `./${stack}`, providers: { aws: `aws.stacks${index}` } }
  }
  const aws = { ...synthesized[only[0] as string]?.terraform.required_providers.aws }
  if (version) aws.version = version
  const main = {
    terraform: { required_providers: { aws } },
    provider: {
      aws: providers.map((settings, index) => ({ alias: `stacks${index}`, ...settings })),
    },
    module: modules,
  }
  writeFileSync(path.join(root, 'main.tf.json'), JSON.stringify(main))
  const { overrides, counts } = overridesOf(only)
  const test = { run: { plan: { command: 'plan', override_data: overrides } } }
  writeFileSync(path.join(root, 'plan.tftest.json'), JSON.stringify(test))
  return { counts, providers: providers.length }
}

const terraform = (args: string[], env: Record<string, string> = {}) =>
  run('terraform', args, {
    cwd: root,
    maxBuffer: 256 * 1024 * 1024,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: work,
      CHECKPOINT_DISABLE: '1',
      TF_IN_AUTOMATION: '1',
      TF_CLI_CONFIG_FILE: path.join(work, 'terraformrc'),
      // Terraform and the provider spend most of their CPU building schemas, much of it in the
      // garbage collector: collecting less often takes a quarter off for some 200 MB more each.
      GOGC: '400',
      ...env,
    },
  })

interface Diagnostic {
  severity: string
  summary: string
  detail?: string
  address?: string
  range?: { filename?: string }
}

interface PlannedChange {
  address: string
  module_address?: string
  mode: string
  type: string
  change: { actions: string[] }
}

interface PlanResult {
  status?: string
  diagnostics: Diagnostic[]
  changes: PlannedChange[]
}

/** `terraform test` of the root as written, offline: its run's status, diagnostics and plan. */
async function plan(): Promise<PlanResult> {
  const port = await closedPort()
  const proxy = `http://127.0.0.1:${port}`
  const { stdout } = await terraform(['test', '-json', '-verbose'], {
    AWS_ACCESS_KEY_ID: 'AKIAIOSFODNN7EXAMPLE',
    AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
    AWS_CONFIG_FILE: path.join(work, 'no-aws-config'),
    AWS_SHARED_CREDENTIALS_FILE: path.join(work, 'no-aws-credentials'),
    AWS_EC2_METADATA_DISABLED: 'true',
    HTTPS_PROXY: proxy,
    HTTP_PROXY: proxy,
    https_proxy: proxy,
    http_proxy: proxy,
  }).catch((err: { stdout?: string }) => ({ stdout: err.stdout ?? '' }))
  const result: PlanResult = { diagnostics: [], changes: [] }
  for (const line of stdout.split('\n')) {
    if (!line.startsWith('{')) continue
    const message = JSON.parse(line) as Body
    if (message.type === 'diagnostic') result.diagnostics.push(message.diagnostic as Diagnostic)
    if (message.type === 'test_plan') result.changes = message.test_plan.resource_changes ?? []
    if (message.type === 'test_run' && message.test_run.progress === 'complete') {
      result.status = message.test_run.status
    }
  }
  return result
}

/** What a diagnostic says and where, without the snippet of the configuration. */
const brief = ({ summary, detail, address, range }: Diagnostic) => ({
  summary,
  detail,
  at: address ?? range?.filename,
})

const ofStack = (stack: string) => (d: Diagnostic) =>
  d.address?.startsWith(`module.${stack}.`) || d.range?.filename?.startsWith(`${stack}/`)

/** Resource counts by type, as synthesized (`count` taken literally). */
function synthesizedCounts(stack: string): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const [type, resources] of Object.entries(synthesized[stack]?.resource ?? {})) {
    for (const [name, body] of Object.entries(resources)) {
      if (body.for_each !== undefined || (body.count ?? 1) !== Number(body.count ?? 1)) {
        throw new Error(`${type}.${name}: count or for_each this test cannot count`)
      }
      counts[type] = (counts[type] ?? 0) + Number(body.count ?? 1)
    }
  }
  return counts
}

let standIn: StandIn
t.before(async () => {
  standIn = await startStandIn()
  writeFileSync(path.join(work, 'terraformrc'), '')
})
t.teardown(() => standIn?.server.close())

t.test('Terraform plans every stack of both profiles, offline, as synthesized', async (t) => {
  t.same(stacks, [...expected].sort(), 'every stack of both profiles was synthesized')
  if (version) t.comment(`planning with hashicorp/aws ${version} from TF_PLUGIN_DIR`)
  const { counts: overridden, providers } = writeRoot(standIn.url, stacks)
  t.equal(providers, Object.keys(profiles).length, 'the stacks of each profile share a provider')
  await terraform([
    'init',
    '-backend=false',
    '-input=false',
    ...(pluginDir ? [`-plugin-dir=${pluginDir}`] : []),
  ])
  const result = await plan()
  t.equal(result.status, 'pass', 'the plan succeeded', {
    errors: result.diagnostics.filter((d) => d.severity === 'error').map(brief),
  })
  for (const stack of stacks) {
    const errors = result.diagnostics.filter((d) => d.severity === 'error' && ofStack(stack)(d))
    t.same(errors.map(brief), [], `${stack} plans without errors`)
    if (result.status !== 'pass') continue
    const planned = result.changes.filter((c) => c.module_address === `module.${stack}`)
    const managed = planned.filter((c) => c.mode === 'managed')
    const counts: Record<string, number> = {}
    for (const change of managed) counts[change.type] = (counts[change.type] ?? 0) + 1
    t.same(counts, synthesizedCounts(stack), `${stack}: every synthesized resource is planned`)
    t.same(
      managed.filter((c) => c.change.actions.join() !== 'create'),
      [],
      `${stack}: every resource is to be created`,
    )
    const reads = Object.entries(overridden[stack] as Record<string, number>)
      .map(([type, n]) => `${n} ${type}`)
      .join(', ')
    t.comment(
      `${stack}: ${managed.length} resources of ${Object.keys(counts).length} types to create; ` +
        `overridden: ${reads || 'nothing'}; reads deferred to apply: ${planned.length - managed.length}`,
    )
  }
  t.same(standIn.refused, [], 'no request but GetRandomPassword reached the stand-in')
  t.ok(standIn.passwords > 0, 'the ephemeral passwords were drawn from the stand-in')
})

t.test('the plan fails on what only a plan finds, and on any read of AWS', async (t) => {
  // The check itself must be able to fail, in each stack on its own. Multi-AZ Redis without
  // automatic failover passes `terraform validate`; the provider refuses it only when it plans.
  // A data source nobody overrode tries AWS, and the closed proxy refuses it at once.
  const data = 'sugang-small-data'
  const registry = 'sugang-small-registry'
  let redisAddress = ''
  writeRoot(standIn.url, [data, registry], (stack, json) => {
    if (stack === data) {
      const [[name, redis] = []] = Object.entries(
        json.resource?.aws_elasticache_replication_group ?? {},
      )
      Object.assign(redis ?? {}, { multi_az_enabled: true, automatic_failover_enabled: false })
      redisAddress = `module.${data}.aws_elasticache_replication_group.${name}`
    }
    if (stack === registry) json.data = { aws_caller_identity: { probe: {} } }
  })
  const { stdout } = await terraform(['validate', '-json']).catch((err: { stdout?: string }) => ({
    stdout: err.stdout ?? '{}',
  }))
  t.match(JSON.parse(stdout), { valid: true }, 'validate finds nothing wrong with either')

  const result = await plan()
  t.equal(result.status, 'error', 'the plan fails')
  const errors = result.diagnostics.filter((d) => d.severity === 'error')
  t.match(
    errors.filter(ofStack(data)).map(brief),
    [
      {
        summary: 'automatic_failover_enabled must be true if multi_az_enabled is true',
        at: redisAddress,
      },
    ],
    'the provider refuses the data stack at plan time, naming it',
  )
  t.match(
    errors.filter(ofStack(registry)).map(brief),
    [
      {
        detail: /proxyconnect tcp: .* connection refused/,
        at: `module.${registry}.data.aws_caller_identity.probe`,
      },
    ],
    'the read of AWS fails at once, naming the registry stack',
  )
  t.same(standIn.refused, [], 'no request but GetRandomPassword reached the stand-in')
})
