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
    // The committed profiles' example values, accepted for this check only.
    env: { ...process.env, CDKTF_OUTDIR: outdir, SUGANG_ALLOW_PLACEHOLDERS: '1', ...env },
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

// What the committed profiles hold that an adopter must replace, field by field (the root
// README's "Deploying to AWS", step 1, and infra/README.md, "Before the first deploy").
const PLACEHOLDERS = {
  small: [
    'accountId',
    'registration',
    'state.bucketName',
    'edge.domainName',
    'edge.certificateArn',
    'compute.amiId',
    'notify.senderDomain',
    'notify.fromAddress',
    'ops.alarmEmails[0]',
    'ci.githubOrg',
  ],
  ha: [
    'accountId',
    'registration',
    'state.bucketName',
    'edge.domainName',
    'edge.hostedZoneId',
    'compute.amiId',
    'notify.senderDomain',
    'notify.fromAddress',
    'notify.hostedZoneId',
    'ops.alarmEmails[0]',
    'ci.githubOrg',
  ],
}

t.test('a deploy’s synthesis refuses the example values, naming every one at once', async (t) => {
  const outdir = mkdtempSync(path.join(os.tmpdir(), 'sugang-synth-'))
  const { SUGANG_ALLOW_PLACEHOLDERS: _allowed, ...env } = process.env
  const refused = await run(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: infraDir,
    env: { ...env, CDKTF_OUTDIR: outdir, SUGANG_PROFILE: 'ha' },
  }).then(
    () => undefined,
    (error: { code: number; stderr: string }) => error,
  )
  t.equal(refused?.code, 1, 'exits 1')
  const message = refused?.stderr ?? ''
  t.match(message, 'Profile ha still holds example values; fill them in infra/src/config/ha.ts:')
  const named = [...message.matchAll(/^ {2}- (\S+) \(/gm)].map((m) => m[1])
  t.same(named, PLACEHOLDERS.ha, 'each placeholder, by its field')
  t.notMatch(message, 'Profile small', 'only the profile asked for')
  t.notOk(existsSync(path.join(outdir, 'manifest.json')), 'nothing synthesized')

  const both = await run(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: infraDir,
    env: { ...env, CDKTF_OUTDIR: outdir },
  }).then(
    () => '',
    (error: { stderr: string }) => error.stderr,
  )
  for (const profile of ['small', 'ha'] as const) {
    const section = both.split(/^Profile /m).find((s) => s.startsWith(`${profile} `)) ?? ''
    t.same(
      [...section.matchAll(/^ {2}- (\S+) \(/gm)].map((m) => m[1]),
      PLACEHOLDERS[profile],
      `${profile}: one message lists them all`,
    )
  }
  t.match(both, 'SUGANG_PROFILE=<profile> synthesizes only the profile you deploy')
})
