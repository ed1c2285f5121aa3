import { execFile } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import t from 'tap'
import { App } from '../src/cdktf.js'
import { profiles } from '../src/config/index.js'
import { buildPlatform } from '../src/platform.js'

// Every synthesized stack of both profiles, checked by Terraform itself against the AWS
// provider's schema: `terraform validate` catches an argument the provider does not have, a
// wrong type or a missing required block, which the JSON assertions of the other tests cannot.
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

const work = mkdtempSync(path.join(os.tmpdir(), 'sugang-validate-'))
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

const terraform = (args: string[], cwd: string) =>
  run('terraform', args, {
    cwd,
    maxBuffer: 64 * 1024 * 1024,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? work,
      CHECKPOINT_DISABLE: '1',
      TF_IN_AUTOMATION: '1',
      TF_CLI_CONFIG_FILE: path.join(work, 'terraformrc'),
    },
  })

/** A stack's JSON as Terraform validates it: no backend (nothing remote is read). */
function validatable(stack: string, version: string | undefined): string {
  const json = JSON.parse(
    readFileSync(path.join(outdir, 'stacks', stack, 'cdk.tf.json'), 'utf8'),
  ) as { terraform: { backend?: unknown; required_providers: { aws: { version: string } } } }
  delete json.terraform.backend
  if (version) json.terraform.required_providers.aws.version = version
  return JSON.stringify(json)
}

// Every stack is a module of one root configuration, validated in one run (Terraform starts the
// stacks' providers side by side), each diagnostic naming its stack's file.
const root = path.join(work, 'validate')
mkdirSync(root)

function writeRoot(
  version: string | undefined,
  only: readonly string[] = stacks,
  change?: (stack: string, json: Body) => void,
) {
  for (const stack of only) {
    mkdirSync(path.join(root, stack), { recursive: true })
    const json = JSON.parse(validatable(stack, version)) as Body
    change?.(stack, json)
    writeFileSync(path.join(root, stack, 'main.tf.json'), JSON.stringify(json))
  }
  const modules = Object.fromEntries(only.map((stack) => [stack, { source: `./${stack}` }]))
  writeFileSync(path.join(root, 'main.tf.json'), JSON.stringify({ module: modules }))
}

interface Diagnostic {
  severity: string
  summary: string
  detail?: string
  range?: { filename?: string }
}

async function validate(): Promise<{ valid?: boolean; diagnostics?: Diagnostic[] }> {
  const { stdout } = await terraform(['validate', '-json'], root).catch(
    (err: { stdout?: string }) => ({ stdout: err.stdout ?? '{}' }),
  )
  return JSON.parse(stdout)
}

type Body = { resource: Record<string, Record<string, Record<string, unknown>>> }

t.test('Terraform finds every stack of both profiles valid', async (t) => {
  t.same(stacks, expected.sort(), 'every stack of both profiles was synthesized')
  const version = pluginDir ? mirrorVersion(pluginDir) : undefined
  if (version) t.comment(`validating against hashicorp/aws ${version} from TF_PLUGIN_DIR`)
  writeFileSync(path.join(work, 'terraformrc'), '')
  writeRoot(version)
  await terraform(
    ['init', '-backend=false', '-input=false', ...(pluginDir ? [`-plugin-dir=${pluginDir}`] : [])],
    root,
  )
  const result = await validate()
  t.ok(result.valid !== undefined, 'Terraform answered')
  for (const stack of stacks) {
    const errors = (result.diagnostics ?? []).filter(
      (d) => d.severity === 'error' && d.range?.filename?.startsWith(`${stack}/`) !== false,
    )
    t.ok(errors.length === 0, `${stack} is valid`, errors.length > 0 ? { errors } : {})
  }
  t.equal(result.valid, true, 'the whole configuration is valid')
})

t.test('validation catches an argument the provider does not have', async (t) => {
  // The check itself must be able to fail: one stack with a made-up argument.
  const stack = stacks.find((s) => s.endsWith('-registry')) as string
  let repository: Record<string, unknown> | undefined
  writeRoot(pluginDir ? mirrorVersion(pluginDir) : undefined, [stack], (_, json) => {
    repository = Object.values(json.resource.aws_ecr_repository ?? {})[0]
    if (repository) repository.scan_everything_twice = true
  })
  t.ok(repository, 'the registry stack has a repository')
  const result = await validate()
  t.match(result, { valid: false })
  t.match(JSON.stringify(result.diagnostics), /scan_everything_twice/)
  t.ok(
    result.diagnostics?.some((d) => d.range?.filename === `${stack}/main.tf.json`),
    'the diagnostic names the stack',
  )
})
