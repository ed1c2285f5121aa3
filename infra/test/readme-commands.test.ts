import { execFile } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { stripVTControlCharacters } from 'node:util'
import t from 'tap'

// The cdktf commands the READMEs tell an infra engineer to run, run as written (from infra/,
// with the variables their code block exports) as far as this machine allows: past cdktf's own
// checks (stack names, dependencies, flags) to Terraform, which then stops for want of AWS
// credentials. A command cdktf itself refuses fails the test.

const INFRA_DIR = fileURLToPath(new URL('..', import.meta.url))
const READMES = [path.join(INFRA_DIR, '..', 'README.md'), path.join(INFRA_DIR, 'README.md')]

interface Documented {
  readonly file: string
  readonly line: number
  readonly env: Record<string, string>
  readonly args: string[]
}

/** Placeholders an engineer fills in, and a value of the right shape for each. */
function filled(value: string): string {
  return value.replace(/sha256:<[^>]+>/g, `sha256:${'0'.repeat(64)}`)
}

/** `npx cdktf ...` lines of the fenced shell blocks, with what the block exported before them. */
function documentedCommands(file: string): Documented[] {
  const out: Documented[] = []
  const lines = readFileSync(file, 'utf8').split('\n')
  let inShell = false
  let exported: Record<string, string> = {}
  for (let i = 0; i < lines.length; i += 1) {
    const raw = (lines[i] ?? '').trim()
    if (raw.startsWith('```')) {
      inShell = !inShell && /^```(sh|bash|shell)?$/.test(raw)
      exported = {}
      continue
    }
    if (!inShell) continue
    let command = raw.replace(/\s+#.*$/, '')
    const start = i
    while (command.endsWith('\\') && i + 1 < lines.length) {
      i += 1
      command = `${command.slice(0, -1)} ${(lines[i] ?? '').trim().replace(/\s+#.*$/, '')}`
    }
    // A placeholder such as <your admin profile> is one word.
    const words = command
      .replace(/<[^>]*>/g, (m) => m.replace(/\s+/g, '_'))
      .split(/\s+/)
      .filter(Boolean)
    if (words[0] === 'export') {
      for (const w of words.slice(1)) {
        const match = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(w)
        if (match?.[1]) exported[match[1]] = match[2] ?? ''
      }
      continue
    }
    const at = words.findIndex((w, k) => w === 'npx' && words[k + 1] === 'cdktf')
    if (at < 0) continue
    const env = { ...exported }
    for (const w of words.slice(0, at)) {
      const match = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(w)
      if (match?.[1]) env[match[1]] = filled(match[2] ?? '')
    }
    out.push({ file, line: start + 1, env, args: words.slice(at + 2).map(filled) })
  }
  return out
}

// The same command documented twice (the quick start and the infra guide) runs once.
const commands = [
  ...new Map(
    READMES.flatMap(documentedCommands).map((c) => [JSON.stringify([c.env, c.args]), c]),
  ).values(),
]

t.test('the READMEs document the deploy from an empty account', async (t) => {
  const all = commands.map((c) => c.args.join(' '))
  for (const stack of ['state', 'network', 'registry', 'data', 'ci', 'app', 'notify', 'ops']) {
    t.ok(
      all.some((a) => a.startsWith('deploy') && a.includes(`sugang-small-${stack}`)),
      `a cdktf deploy of sugang-small-${stack}`,
    )
  }
})

// cdktf synthesizes the whole app before every command, and the synthesis depends only on the
// environment: the commands that share one run after the first with --skip-synth on its output, as
// `cdktf deploy --skip-synth` would after a `cdktf synth` (a dozen synths cost minutes of CPU).
const groups = new Map<string, Documented[]>()
for (const command of commands) {
  const { AWS_PROFILE: _profile, ...documentedEnv } = command.env
  const key = JSON.stringify(documentedEnv)
  groups.set(key, [...(groups.get(key) ?? []), command])
}

for (const group of groups.values()) {
  const outdir = mkdtempSync(path.join(os.tmpdir(), 'sugang-cdktf-'))
  t.teardown(() => rmSync(outdir, { recursive: true, force: true }))
  group.forEach((command, index) => {
    const where = `${path.relative(path.join(INFRA_DIR, '..'), command.file)}:${command.line}`
    const synthesizes = index === 0
    t.test(`cdktf accepts "${command.args.join(' ')}" (${where})`, async (t) => {
      const { AWS_PROFILE: _profile, ...documentedEnv } = command.env
      const args = [...command.args, '--output', outdir, ...(synthesizes ? [] : ['--skip-synth'])]
      const output = await new Promise<string>((resolve) => {
        execFile(
          'npx',
          ['cdktf', ...args],
          {
            cwd: INFRA_DIR,
            timeout: 180_000,
            maxBuffer: 16 * 1024 * 1024,
            env: {
              PATH: process.env.PATH ?? '',
              HOME: process.env.HOME ?? os.tmpdir(),
              CHECKPOINT_DISABLE: '1',
              // No credentials and no instance metadata: Terraform must stop at AWS, not reach it.
              AWS_EC2_METADATA_DISABLED: 'true',
              AWS_SHARED_CREDENTIALS_FILE: path.join(outdir, 'no-credentials'),
              AWS_CONFIG_FILE: path.join(outdir, 'no-config'),
              TF_CLI_CONFIG_FILE: path.join(outdir, 'no-terraformrc'),
              CI: 'true',
              // The committed profiles hold example values, which a deploy refuses; here they
              // stand for the adopter's own (src/config/placeholders.ts).
              SUGANG_ALLOW_PLACEHOLDERS: '1',
              ...documentedEnv,
            },
          },
          (_err, stdout, stderr) => resolve(`${stdout}\n${stderr}`),
        )
      })
      t.comment(stripVTControlCharacters(output).slice(-1500))
      // cdktf's own refusals: unknown stacks, missing dependencies, bad flags.
      t.notMatch(
        output,
        /Usage Error|Unknown argument|Found no stacks|not included in the stacks to run/,
      )
      t.notMatch(output, /Error: Could not find stack/)
      if (synthesizes) t.match(output, /synthesized \d+ stacks/, 'the app synthesized')
      else t.ok(existsSync(path.join(outdir, 'manifest.json')), 'on the app synthesized before')
      // Terraform took over: init or the backend stopped for want of AWS, as it would anywhere
      // without credentials.
      t.match(
        output,
        /terraform init failed|No valid credential sources|Failed to query available provider packages|Error: .*(credential|provider)/i,
        'Terraform ran',
      )
    })
  })
}

// The other commands of the deploy sections that run without AWS: npm's name workspaces, scripts
// and packages that exist, and the service CLI's commands are commands it has.

const ROOT = path.join(INFRA_DIR, '..')

/** Shell lines of the fenced blocks, continuations joined, comments dropped. */
function shellLines(file: string): { line: number; command: string }[] {
  const out: { line: number; command: string }[] = []
  const lines = readFileSync(file, 'utf8').split('\n')
  let inShell = false
  for (let i = 0; i < lines.length; i += 1) {
    const raw = (lines[i] ?? '').trim()
    if (raw.startsWith('```')) {
      inShell = !inShell && /^```(sh|bash|shell)?$/.test(raw)
      continue
    }
    if (!inShell) continue
    const start = i
    let command = raw.replace(/\s+#.*$/, '')
    while (command.endsWith('\\') && i + 1 < lines.length) {
      i += 1
      command = `${command.slice(0, -1)} ${(lines[i] ?? '').trim().replace(/\s+#.*$/, '')}`
    }
    if (command) out.push({ line: start + 1, command })
  }
  return out
}

const deployLines = READMES.flatMap((file) =>
  shellLines(file).map((l) => ({ ...l, where: `${path.relative(ROOT, file)}:${l.line}` })),
)
const packageJson = (dir: string) =>
  JSON.parse(readFileSync(path.join(ROOT, dir, 'package.json'), 'utf8')) as {
    workspaces?: string[]
    scripts?: Record<string, string>
  }
const lock = JSON.parse(readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { hasInstallScript?: boolean }>
}

t.test('the npm commands name workspaces, scripts and packages that exist', async (t) => {
  const workspaces = packageJson('.').workspaces ?? []
  const npm = deployLines.filter((l) => /(^|&&\s*)npm (ci|run|rebuild)\b/.test(l.command))
  t.ok(npm.some((l) => /npm ci --workspace infra --workspace service/.test(l.command)))
  t.ok(npm.some((l) => /npm ci --workspace service --ignore-scripts/.test(l.command)))
  for (const { command, where } of npm) {
    for (const [, ws] of command.matchAll(/(?:--workspace|-w) (\S+)/g)) {
      t.ok(workspaces.includes(ws!), `${where}: workspace ${ws}`)
    }
    for (const [, script, ws] of command.matchAll(/npm run ([\w:-]+) (?:--workspace|-w) (\S+)/g)) {
      t.ok(packageJson(ws!).scripts?.[script!], `${where}: ${ws} has the script ${script}`)
    }
    for (const [, pkg] of command.matchAll(/npm rebuild (\S+)/g)) {
      // Rebuilt because --ignore-scripts skipped its install script.
      t.ok(lock.packages[`node_modules/${pkg}`]?.hasInstallScript, `${where}: ${pkg} has one`)
    }
  }
})

t.test('the service CLI has the commands the deploy steps run', async (t) => {
  const commands = [
    ...new Set(
      deployLines.flatMap((l) =>
        [...l.command.matchAll(/npx sugang ([a-z-]+)/g)].map((m) => m[1]!),
      ),
    ),
  ]
  t.ok(commands.includes('database-users'))
  for (const command of commands) {
    const output = await new Promise<{ code: number; text: string }>((resolve) => {
      execFile(
        process.execPath,
        [path.join(ROOT, 'service/bin/sugang.js'), command, '--help'],
        { cwd: ROOT, timeout: 60_000 },
        (err, stdout, stderr) =>
          resolve({
            code: err ? ((err as { code?: number }).code ?? 1) : 0,
            text: stdout + stderr,
          }),
      )
    })
    t.equal(output.code, 0, `sugang ${command} --help`, { output: output.text })
    t.match(output.text, `Usage: sugang ${command}`)
  }
})
