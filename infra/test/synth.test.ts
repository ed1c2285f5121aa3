// `npm run synth` itself: every stack of both profiles, written where other tools read them.
import { execFile } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import t from 'tap'

const run = promisify(execFile)
const infraDir = fileURLToPath(new URL('..', import.meta.url))

async function synth(env: Record<string, string> = {}) {
  const outdir = mkdtempSync(path.join(os.tmpdir(), 'sugang-synth-'))
  await run(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: infraDir,
    env: { ...process.env, CDKTF_OUTDIR: outdir, ...env },
  })
  const manifest = JSON.parse(readFileSync(path.join(outdir, 'manifest.json'), 'utf8')) as {
    stacks: Record<string, { synthesizedStackPath: string; dependencies: string[] }>
  }
  return { outdir, manifest }
}

const concerns = ['app', 'ci', 'data', 'network', 'notify', 'ops', 'registry', 'state']

t.test('synth writes every stack of both profiles as Terraform JSON', async (t) => {
  const { outdir, manifest } = await synth()
  const expected = ['small', 'ha'].flatMap((p) => concerns.map((c) => `sugang-${p}-${c}`)).sort()
  t.same(Object.keys(manifest.stacks).sort(), expected)
  for (const stack of Object.values(manifest.stacks)) {
    const file = path.join(outdir, stack.synthesizedStackPath)
    t.ok(existsSync(file), stack.synthesizedStackPath)
    t.ok(JSON.parse(readFileSync(file, 'utf8')).resource, 'has resources')
  }
  t.same(manifest.stacks['sugang-ha-app']!.dependencies.sort(), [
    'sugang-ha-data',
    'sugang-ha-network',
    'sugang-ha-registry',
  ])
  // Engineers apply ops after app and before notify, whose Lambda names its SES configuration set.
  t.same(manifest.stacks['sugang-ha-ops']!.dependencies.sort(), ['sugang-ha-app', 'sugang-ha-data'])
  for (const stack of Object.values(manifest.stacks)) {
    t.notOk(
      stack.dependencies.some((d) => d.endsWith('-state')),
      'bootstrap stands alone',
    )
  }
})

t.test('SUGANG_PROFILE narrows synthesis and SUGANG_IMAGE_TAG picks the image', async (t) => {
  const { outdir, manifest } = await synth({ SUGANG_PROFILE: 'ha', SUGANG_IMAGE_TAG: '0123abc' })
  t.same(Object.keys(manifest.stacks).sort(), concerns.map((c) => `sugang-ha-${c}`).sort())
  const app = JSON.parse(
    readFileSync(path.join(outdir, manifest.stacks['sugang-ha-app']!.synthesizedStackPath), 'utf8'),
  )
  const template = Object.values(app.resource.aws_launch_template)[0] as { user_data: string }
  t.match(Buffer.from(template.user_data, 'base64').toString(), 'sugang-ha/service:0123abc')
})

t.test('SUGANG_IMAGE_DIGEST pins the image by digest', async (t) => {
  const digest = `sha256:${'0f'.repeat(32)}`
  const { outdir, manifest } = await synth({
    SUGANG_PROFILE: 'small',
    SUGANG_IMAGE_TAG: '0123abc',
    SUGANG_IMAGE_DIGEST: digest,
  })
  const app = JSON.parse(
    readFileSync(
      path.join(outdir, manifest.stacks['sugang-small-app']!.synthesizedStackPath),
      'utf8',
    ),
  )
  const template = Object.values(app.resource.aws_launch_template)[0] as { user_data: string }
  const script = Buffer.from(template.user_data, 'base64').toString()
  t.match(script, `sugang-small/service@${digest}`)
  t.notMatch(script, 'service:0123abc')
  await t.rejects(
    synth({ SUGANG_PROFILE: 'small', SUGANG_IMAGE_DIGEST: 'latest' }),
    /is not an image digest/,
  )
})

t.test('synth refuses an unknown profile', async (t) => {
  await t.rejects(synth({ SUGANG_PROFILE: 'huge' }), /SUGANG_PROFILE must be one of small, ha/)
})
