// @ts-check
// The whole test suite, as `npm test` and CI run it: checks (and, as root on Debian, installs and
// starts) what the suites need, runs the suites side by side, prints the time each took and the
// coverage of each workspace, and ends with one line `N passed, N failed` summing every suite.
//
//   node scripts/run-tests.mjs [--only service,infra,...] [--skip-env]
//
// Each suite writes its whole output to test-output/suites/<name>.log; a failed suite's failures
// are printed at the end.
import { spawn, spawnSync } from 'node:child_process'
import { createWriteStream, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs'
import { homedir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const LOGS = join(ROOT, 'test-output', 'suites')
const TAP = join(ROOT, 'node_modules', '.bin', 'tap')
const C8 = join(ROOT, 'node_modules', 'c8', 'bin', 'c8.js')

/**
 * @typedef {object} Suite
 * @property {string} name
 * @property {string} workspace  the folder it runs in, relative to the repository root
 * @property {string[]} command  a tap suite's are tap's arguments
 * @property {'tap' | 'check'} kind  tap suites report counts; a check counts as one test
 * @property {number} [jobs]     test files at once (tap suites)
 * @property {boolean} [coverage] counted in its workspace's coverage (c8, .c8rc.json)
 * @property {Record<string, string>} [env] more environment for its processes
 */

// The service's slowest files (each a minute of CPU or more) are a suite of their own, in a lane
// of their own, so that they start at once instead of waiting for their turn in alphabetical order.
// The demo's file takes little CPU but half a minute of waiting for its opening and its queue.
const SERVICE_SLOW = [
  'test/faults/*.test.ts',
  'test/image/artifact.test.ts',
  'test/admission/crash.test.ts',
  'test/routes/wait-estimate.test.ts',
  'test/adapters/demo.test.ts',
  // Chromium drives the rush on two pages at once: half a minute, most of it waiting on pages.
  'test/browser/student-page.test.ts',
  // Chromium again: two pages watch an operator's banner, pauses and a moved opening.
  'test/browser/operator-controls.test.ts',
  // Chromium again: a decided request's fairness record, opened on the page.
  'test/browser/fairness-record.test.ts',
]
// Files that count the answers to thousands of simultaneous requests: they run last, on a machine
// with nothing else to do, as a benchmark would. Beside three busy lanes their instances stall for
// seconds, past the service's own deadlines (MYSQL_TIMEOUT_MS), and the count measures the stall.
const SERVICE_ALONE = ['test/admission/rush.test.ts', 'test/routes/login-protection.test.ts']
// The suites that run again on the local Redis Cluster (scripts/redis-cluster-up.sh): the store
// contract and the scripts, with every call's keys in one slot for real; the rush, alone. The
// cluster's own faults (a primary killed, a shard back empty) are a file of the fault suite.
const REDIS_CLUSTER = {
  TEST_REDIS_CLUSTER_NODES: [7001, 7002, 7003].map((p) => `redis://127.0.0.1:${p}`).join(','),
}

/** @type {Suite[]} */
const SUITES = [
  {
    name: 'service-slow',
    workspace: 'service',
    // A fault file runs a rush per scenario: on a busy machine it needs more than tap's 300 s.
    command: ['--timeout=600', ...SERVICE_SLOW],
    kind: 'tap',
    jobs: 1,
  },
  {
    name: 'service',
    workspace: 'service',
    command: [...SERVICE_SLOW, ...SERVICE_ALONE].map((glob) => `--exclude=${glob}`),
    kind: 'tap',
    jobs: 1,
    coverage: true,
  },
  { name: 'infra', workspace: 'infra', command: [], kind: 'tap', jobs: 1 },
  { name: 'lint', workspace: '.', command: ['npm', 'run', 'lint'], kind: 'check' },
  { name: 'typecheck', workspace: '.', command: ['npm', 'run', 'typecheck'], kind: 'check' },
  { name: 'monitoring', workspace: 'monitoring', command: [], kind: 'tap', jobs: 2 },
  { name: 'scripts', workspace: 'scripts', command: [], kind: 'tap', jobs: 1, coverage: true },
  { name: 'service-alone', workspace: 'service', command: SERVICE_ALONE, kind: 'tap', jobs: 1 },
  {
    name: 'service-cluster',
    workspace: 'service',
    command: ['test/adapters/mysql-redis.test.ts', 'test/redis/scripts.test.ts'],
    kind: 'tap',
    jobs: 1,
    env: REDIS_CLUSTER,
  },
  {
    name: 'service-cluster-alone',
    workspace: 'service',
    command: ['test/admission/rush.test.ts'],
    kind: 'tap',
    jobs: 1,
    env: REDIS_CLUSTER,
  },
]

/**
 * Lanes run side by side, the suites of a lane one after another; then the suites of ALONE, one
 * after another. Two cores: four lanes of about equal time, the monitoring suite (which mostly
 * waits for Prometheus' `for` durations) first in its lane. Every suite at once (a load of 12)
 * was slower than this, and made the tests that count a rush's answers fail.
 */
const LANES = [
  ['service-slow'],
  ['service'],
  ['infra', 'lint', 'typecheck', 'service-cluster'],
  ['monitoring', 'scripts'],
]
const ALONE = ['service-alone', 'service-cluster-alone']

/**
 * Workspaces whose coverage is measured (c8; include, reporters and floors in .c8rc.json), over
 * their suites marked `coverage`. V8's coverage costs about 40 % more CPU; the slow and the
 * alone suites (faults, the image, crash recovery, the rush counts) drive code the other suites
 * cover already, so they run without it and the suite stays within its time.
 */
const COVERED = ['service', 'scripts']

const unplaced = SUITES.filter((s) => ![...LANES.flat(), ...ALONE].includes(s.name))
if (unplaced.length) throw new Error(`suites in no lane: ${unplaced.map((s) => s.name)}`)

function parseArgs(argv) {
  const options = { only: /** @type {string[] | undefined} */ (undefined), skipEnv: false }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    if (arg === '--skip-env') options.skipEnv = true
    else if (arg === '--only') options.only = String(argv[++i] ?? '').split(',')
    else if (arg?.startsWith('--only=')) options.only = arg.slice('--only='.length).split(',')
    else {
      console.error(
        `usage: node scripts/run-tests.mjs [--only ${SUITES.map((s) => s.name)}] [--skip-env]`,
      )
      process.exit(2)
    }
  }
  const unknown = (options.only ?? []).filter((name) => !SUITES.some((s) => s.name === name))
  if (unknown.length) {
    console.error(`unknown suite ${unknown.join(', ')}; suites: ${SUITES.map((s) => s.name)}`)
    process.exit(2)
  }
  return options
}

/**
 * An offline mirror of the AWS provider, for the infra suite's offline `terraform plan`:
 * TF_PLUGIN_DIR when set, else the first filesystem mirror found in the usual places.
 */
function terraformPluginDir() {
  if (process.env.TF_PLUGIN_DIR) return process.env.TF_PLUGIN_DIR
  const candidates = [
    '/opt',
    '/usr/local/share',
    '/usr/share',
    join(homedir(), '.terraform.d'),
    join(homedir(), '.local', 'share', 'terraform'),
  ]
  for (const base of candidates) {
    // A filesystem mirror lays providers out as <dir>/registry.terraform.io/hashicorp/aws/...
    const found = spawnSync(
      'find',
      [base, '-maxdepth', '4', '-type', 'd', '-path', '*/registry.terraform.io/hashicorp/aws'],
      { encoding: 'utf8' },
    ).stdout
    const first = found?.split('\n').find(Boolean)
    if (first) return first.slice(0, first.indexOf('/registry.terraform.io/'))
  }
  return undefined
}

/**
 * tap compiles its Test class for the configured plugins, in node_modules, the first time it runs
 * with them. Suites started side by side would all do it at once over each other: do it once here.
 * Every workspace configures the same plugins (tsx in place of tap's ts-node).
 */
function buildTapOnce() {
  const built = join(
    ROOT,
    'node_modules',
    '@tapjs',
    'test',
    'test-built',
    'dist',
    'esm',
    'index.js',
  )
  const source = existsSync(built) ? readFileSync(built, 'utf8') : ''
  if (source.includes('export const signature') && !/^@tapjs\/typescript$/m.test(source)) return
  const build = spawnSync(TAP, ['build'], { cwd: join(ROOT, 'service'), encoding: 'utf8' })
  if (build.status !== 0) {
    console.error(`tap build failed:\n${build.stdout}${build.stderr}`)
    process.exit(1)
  }
}

function seconds(ms) {
  const s = Math.round(ms / 1000)
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`
}

/** The counts tap prints at the end of a run: `# { total: N, pass: N, fail: N }`. */
function counted(suite, output, code) {
  if (suite.kind === 'check') return { passed: code === 0 ? 1 : 0, failed: code === 0 ? 0 : 1 }
  let passed = 0
  let failed = 0
  let seen = false
  for (const match of output.matchAll(/^# \{ total: (\d+)(.*)\}$/gm)) {
    seen = true
    const rest = match[2] ?? ''
    const field = (name) => Number(new RegExp(`${name}: (\\d+)`).exec(rest)?.[1] ?? 0)
    passed += field('pass')
    // Anything neither passed nor skipped (todo, a file that died) counts as failed.
    failed += Math.max(field('fail'), Number(match[1]) - field('pass') - field('skip'))
  }
  if ((!seen || code !== 0) && failed === 0) failed = 1
  return { passed, failed }
}

/** c8's text-summary: "Lines        : 91.2% ( 1234/1353 )". */
function coverageOf(output) {
  const pick = (label) => new RegExp(`^${label}\\s*: ([\\d.]+)%`, 'm').exec(output)?.[1]
  const lines = pick('Lines')
  return lines ? `lines ${lines}%, branches ${pick('Branches')}%` : undefined
}

/** The failing tests of a tap log, or its tail when it has none (a crash, a lint error). */
function failures(output) {
  const lines = output.split('\n')
  const picked = []
  lines.forEach((line, i) => {
    if (/^\s*not ok /.test(line)) picked.push(...lines.slice(i, i + 25), '')
  })
  return (picked.length ? picked : lines.slice(-60)).slice(0, 400).join('\n')
}

/**
 * Runs a command to its end, its output into test-output/suites/<name>.log.
 * @returns {Promise<{ name: string, code: number | null, output: string, ms: number, log: string }>}
 */
function run(name, bin, args, cwd, env) {
  const started = Date.now()
  const log = join(LOGS, `${name}.log`)
  const out = createWriteStream(log)
  return new Promise((resolveRun) => {
    const child = spawn(bin, args, {
      cwd,
      env: { ...env, FORCE_COLOR: '0', TAP_COLOR: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const chunks = []
    const take = (chunk) => {
      chunks.push(chunk)
      out.write(chunk)
    }
    child.stdout.on('data', take)
    child.stderr.on('data', take)
    child.once('error', (err) => take(Buffer.from(`\n${err.stack}\n`)))
    child.once('close', (code) => {
      out.end()
      const output = Buffer.concat(chunks).toString()
      resolveRun({ name, code, output, ms: Date.now() - started, log })
    })
  })
}

function report(result) {
  const mark = result.failed ? '✘' : '✔'
  console.log(
    `${mark} ${result.name}: ${result.passed} passed, ${result.failed} failed in ${seconds(result.ms)}` +
      (result.coverage ? ` (${result.coverage})` : ''),
  )
  return result
}

async function runSuite(suite, env) {
  console.log(`▶ ${suite.name}`)
  const cwd = join(ROOT, suite.workspace)
  const [bin, args] =
    suite.kind === 'tap'
      ? [TAP, [`--jobs=${suite.jobs ?? 1}`, ...suite.command]]
      : [String(suite.command[0]), suite.command.slice(1)]
  const withOwn = { ...env, ...suite.env }
  const suiteEnv = suite.coverage
    ? { ...withOwn, NODE_V8_COVERAGE: join(cwd, 'coverage', 'tmp') }
    : withOwn
  const result = await run(suite.name, bin, args, cwd, suiteEnv)
  return report({ ...result, ...counted(suite, result.output, result.code) })
}

/** c8's report of what a workspace's suites covered, and its floors; one check. */
async function coverageReport(workspace, env) {
  const result = await run(
    `coverage-${workspace}`,
    process.execPath,
    [C8, 'report'],
    join(ROOT, workspace),
    env,
  )
  return report({
    ...result,
    name: `coverage ${workspace}`,
    passed: result.code === 0 ? 1 : 0,
    failed: result.code === 0 ? 0 : 1,
    coverage: coverageOf(result.output),
  })
}

async function main() {
  const options = parseArgs(process.argv.slice(2))
  const suites = SUITES.filter((s) => !options.only || options.only.includes(s.name))
  const started = Date.now()

  if (!existsSync(TAP)) {
    console.error('missing: node_modules; install them first: npm ci')
    process.exit(1)
  }
  const needsServers = suites.some((s) => s.kind === 'tap')
  if (needsServers && !options.skipEnv) {
    const mode = process.getuid?.() === 0 ? 'up' : 'check'
    const env = spawnSync('bash', [join(ROOT, 'scripts', 'test-env.sh'), mode], {
      stdio: 'inherit',
    })
    if (env.status !== 0) {
      console.error('\nNo test ran: the suite needs what is named above.')
      console.log('\n0 passed, 1 failed')
      process.exit(1)
    }
  }

  mkdirSync(LOGS, { recursive: true })
  if (needsServers) buildTapOnce()
  const env = { ...process.env }
  const pluginDir = terraformPluginDir()
  if (pluginDir) env.TF_PLUGIN_DIR = pluginDir
  console.log(
    `AWS provider for Terraform: ${pluginDir ? `the mirror in ${pluginDir}` : 'the pinned release'}`,
  )
  console.log(`${suites.length} suites: ${LANES.length} lanes side by side, then ${ALONE}\n`)

  const covered = COVERED.filter((w) => suites.some((s) => s.workspace === w && s.coverage))
  for (const workspace of covered) {
    rmSync(join(ROOT, workspace, 'coverage'), { recursive: true, force: true })
    mkdirSync(join(ROOT, workspace, 'coverage', 'tmp'), { recursive: true })
  }
  /** @type {Map<Suite, Promise<any>>} */
  const running = new Map()
  /** Runs the selected suites of `names` one after another, the first once `after` settles. */
  const chain = (names, after) => {
    let previous = after
    for (const name of names) {
      const suite = suites.find((s) => s.name === name)
      if (!suite) continue
      const result = previous.then(() => runSuite(suite, env))
      running.set(suite, result)
      previous = result
    }
  }
  for (const lane of LANES) chain(lane, Promise.resolve())
  chain(ALONE, Promise.all(running.values()))
  const coverage = covered.map(async (workspace) => {
    const own = suites.filter((s) => s.workspace === workspace && s.coverage)
    await Promise.all(own.map((s) => running.get(s)))
    return coverageReport(workspace, env)
  })
  const results = [...(await Promise.all(running.values())), ...(await Promise.all(coverage))]

  const passed = results.reduce((n, r) => n + r.passed, 0)
  const failed = results.reduce((n, r) => n + r.failed, 0)
  for (const r of results.filter((r) => r.failed)) {
    console.log(`\n── ${r.name} failed (whole log: ${r.log}) ──\n${failures(r.output)}`)
  }
  console.log('\nsuite              time    passed  failed')
  for (const r of results) {
    console.log(
      `${r.name.padEnd(17)} ${seconds(r.ms).padStart(6)} ${String(r.passed).padStart(9)} ${String(r.failed).padStart(7)}  ${r.coverage ?? ''}`,
    )
  }
  console.log(`${'all'.padEnd(17)} ${seconds(Date.now() - started).padStart(6)}`)
  console.log(`\n${passed} passed, ${failed} failed`)
  process.exit(failed || !passed ? 1 : 0)
}

await main()
