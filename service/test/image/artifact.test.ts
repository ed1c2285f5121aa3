/**
 * The container image's contents, built without Docker: the Dockerfile's own steps (its COPYs and
 * RUNs, read with dockerfile-ast) replayed on the Node release its FROM names, then started with
 * its ENV, USER and CMD against MariaDB and Redis, as `docker run` would start it.
 */
import { execFile, type ChildProcess } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, lstatSync } from 'node:fs'
import { chmod, mkdir, mkdtemp, rename, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import type { Test } from 'tap'
import { configFrom, database, isolatedEnv, waitFor } from '../helper.js'
import { freePort } from '../support/servers.js'
import { REPO_ROOT, parseDockerfile } from './dockerfile.js'
import { replay, spawnIsolated, type ReplayedStage } from './replay.js'

const run = promisify(execFile)
const SERVICE_DIR = join(REPO_ROOT, 'service')
/** Downloaded Node releases, kept between runs (git-ignored). */
const NODE_CACHE = join(SERVICE_DIR, 'test-output', 'image-node')
const PASSWORD = 'image-test-password'

/**
 * The Node binary of the release the image is built FROM: this process's own if it is that
 * release, TEST_IMAGE_NODE if set, else the registry's `node-<platform>-<arch>` package of that
 * version (the official binary; npm checks its integrity), unpacked once into NODE_CACHE.
 */
async function imageNode(version: string): Promise<string> {
  const wanted = `v${version}`
  if (process.env.TEST_IMAGE_NODE) return checked(process.env.TEST_IMAGE_NODE, wanted)
  if (process.version === wanted) return process.execPath
  const pkg = `node-${process.platform}-${process.arch}`
  const dir = join(NODE_CACHE, `${pkg}-${version}`)
  const binary = join(dir, 'bin', 'node')
  if (!existsSync(binary)) {
    await mkdir(NODE_CACHE, { recursive: true })
    const staging = await mkdtemp(join(NODE_CACHE, '.download-'))
    try {
      const { stdout } = await run(
        'npm',
        ['pack', `${pkg}@${version}`, '--pack-destination', staging, '--json'],
        { cwd: staging, env: hostEnv(), maxBuffer: 64 * 1024 * 1024 },
      )
      const [packed] = JSON.parse(stdout) as Array<{ filename: string }>
      if (!packed) throw new Error(`npm pack ${pkg}@${version} packed nothing`)
      await run('tar', ['-xzf', join(staging, packed.filename), '-C', staging, 'package/bin/node'])
      // Another run may have unpacked it meanwhile: then theirs is kept.
      await rename(join(staging, 'package'), dir).catch(() => {})
    } finally {
      await rm(staging, { recursive: true, force: true })
    }
  }
  return checked(binary, wanted)
}

async function checked(node: string, wanted: string): Promise<string> {
  const { stdout } = await run(node, ['--version'])
  if (stdout.trim() !== wanted) {
    throw new Error(`${node} is Node ${stdout.trim()}, but the image is built on ${wanted}`)
  }
  return node
}

/** This machine's environment less npm's and tap's own variables (a test runs under both). */
function hostEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(process.env).filter(
      ([name]) => !/^(npm_|NODE_OPTIONS$|TAP)/i.test(name) && name !== 'INIT_CWD',
    ),
  )
}

/** Builds the artifact once for every test in this file. */
async function build(t: Test): Promise<ReplayedStage> {
  const dockerfile = parseDockerfile()
  const version = dockerfile.globalArgs.get('NODE_VERSION')
  if (!version) throw new Error('the Dockerfile declares no ARG NODE_VERSION')
  const node = await imageNode(version)
  const root = await mkdtemp(join(tmpdir(), 'sugang-image-'))
  t.teardown(() => rm(root, { recursive: true, force: true }))
  // mkdtemp makes it private to root; the service runs as the image's user.
  await chmod(root, 0o755)
  const started = Date.now()
  const log: string[] = []
  const stages = await replay({
    dockerfile,
    context: REPO_ROOT,
    root,
    node,
    buildArgs: { REVISION: 'artifact-test' },
    log: (text) => log.push(text),
  }).catch(async (err: unknown) => {
    // A failed build ends the file before any teardown runs.
    await rm(root, { recursive: true, force: true })
    throw new Error(`${(err as Error).message}\n--- build log ---\n${log.join('\n')}`)
  })
  t.comment(`replayed ${stages.length} stages on Node ${version} in ${Date.now() - started} ms`)
  return stages.at(-1) as ReplayedStage
}

const runtime = await build(t)
const APP = runtime.hostPath(runtime.workdir)

/** The process `docker run` starts: the image's environment, its user, in its WORKDIR. */
interface Container {
  readonly child: ChildProcess
  readonly output: () => string
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

function userOf(stage: ReplayedStage): { uid: number; gid: number } | Record<string, never> {
  // Only root may run a process as someone else; any other user already is unprivileged.
  if (process.getuid?.() !== 0) return {}
  // The official node image's node user and group are 1000.
  const ids = (stage.user ?? 'root').split(':').map((id) => (id === 'node' ? '1000' : id))
  const uid = Number(ids[0])
  const gid = Number(ids[1] ?? ids[0])
  if (!Number.isInteger(uid) || !Number.isInteger(gid)) {
    throw new Error(`cannot replay USER ${stage.user}`)
  }
  return { uid, gid }
}

function environment(stage: ReplayedStage, extra: Record<string, string>): NodeJS.ProcessEnv {
  return {
    // The node image's PATH, its /usr/local/bin being the stage's.
    PATH: `${stage.hostPath('/usr/local/bin')}:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin`,
    ...Object.fromEntries(stage.env),
    ...extra,
  }
}

function start(t: Test, argv: readonly string[], env: NodeJS.ProcessEnv): Container {
  const [command, ...args] = argv
  if (!command) throw new Error('nothing to run')
  const child = spawnIsolated([command, ...args], {
    cwd: APP,
    env,
    ...userOf(runtime),
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')))
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')))
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  )
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  return { child, output: () => output, exited }
}

/** Runs a command in the image to its end: `docker run --rm sugang <argv>`. */
async function runInImage(t: Test, argv: readonly string[], env: NodeJS.ProcessEnv) {
  const container = start(t, argv, env)
  const { code } = await container.exited
  return { code, output: container.output() }
}

/** fetch, retrying a 503 as the contract says (load shedding remembers a busy start-up). */
async function call(url: string, init: RequestInit = {}): Promise<Response> {
  for (let attempt = 1; ; attempt += 1) {
    const res = await fetch(url, init)
    if (res.status !== 503 || attempt >= 20) return res
    await res.arrayBuffer()
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

/** Every package directory under node_modules, by its path relative to the app. */
function installedPackages(dir: string, out: string[] = []): string[] {
  for (const holder of [join(dir, 'node_modules')]) {
    if (!existsSync(holder)) continue
    for (const entry of readdirSync(holder)) {
      if (entry.startsWith('.')) continue
      const names = entry.startsWith('@')
        ? readdirSync(join(holder, entry)).map((n) => `${entry}/${n}`)
        : [entry]
      for (const name of names) {
        const path = join(holder, name)
        out.push(relative(APP, path))
        if (!lstatSync(path).isSymbolicLink()) installedPackages(path, out)
      }
    }
  }
  return out
}

t.test(
  'the runtime tree holds the lockfile production dependencies of the service only',
  async (t) => {
    const lock = JSON.parse(readFileSync(join(APP, 'package-lock.json'), 'utf8')) as {
      packages: Record<
        string,
        {
          version?: string
          dev?: boolean
          optional?: boolean
          devOptional?: boolean
          link?: boolean
        }
      >
    }
    const installed = [...installedPackages(APP), ...installedPackages(join(APP, 'service'))]
    t.ok(installed.length > 20, `${installed.length} packages installed`)
    const names = new Set(installed.map((path) => path.replace(/^.*node_modules\//, '')))
    for (const name of [
      'tap',
      'tsx',
      'typescript',
      'esbuild',
      'better-sqlite3',
      'dockerfile-ast',
    ]) {
      t.notOk(names.has(name), `no ${name}`)
    }
    const strays = installed.filter((path) => {
      const entry = lock.packages[path]
      if (!entry) return true
      if (entry.link) return false
      const { version } = JSON.parse(readFileSync(join(APP, path, 'package.json'), 'utf8')) as {
        version: string
      }
      return entry.version !== version || entry.dev || entry.optional || entry.devOptional
    })
    t.same(strays, [], 'every package is the lockfile version of a production dependency')

    t.ok(existsSync(join(APP, 'service', 'dist', 'cli.js')), 'the compiled service')
    t.ok(existsSync(join(APP, 'service', 'dist', 'web', 'index.html')), 'the page')
    t.ok(existsSync(join(APP, 'service', 'dist', 'adapters', 'redis', 'lua')), 'the Lua scripts')
    t.notOk(existsSync(join(APP, 'service', 'src')), 'no TypeScript sources')
    t.notOk(existsSync(join(APP, 'service', 'test')), 'no tests')
  },
)

t.test(
  'as its own user on MySQL and Redis it turns ready, serves metrics, enrolls a student and stops on SIGTERM',
  async (t) => {
    const test = await isolatedEnv(t, 'image')
    const port = await freePort()
    const metricsPort = await freePort()
    // What a deployment passes with `docker run -e`: the image's ENV supplies the rest.
    const env = environment(runtime, {
      DATABASE_URL: test.DATABASE_URL as string,
      REDIS_URL: test.REDIS_URL as string,
      REDIS_PREFIX: test.REDIS_PREFIX as string,
      SESSION_SECRET: test.SESSION_SECRET as string,
      PORT: String(port),
      METRICS_PORT: String(metricsPort),
    })
    t.equal(env.NODE_ENV, 'production', 'the image runs in production mode')

    // `docker run sugang node service/bin/sugang.js seed ...`: the CLI of the image.
    const cli = runtime.cmd.slice(0, runtime.cmd.indexOf('serve'))
    const seeded = await runInImage(
      t,
      [
        ...runtime.entrypoint,
        ...cli,
        'seed',
        '--students',
        '3',
        '--courses',
        '1',
        '--capacity',
        '2',
        '--password',
        PASSWORD,
      ],
      env,
    )
    t.equal(seeded.code, 0, 'the image seeds with its own CLI', { output: seeded.output })

    const service = start(t, [...runtime.entrypoint, ...runtime.cmd], env)
    const base = `http://127.0.0.1:${port}`
    await waitFor(
      'the service to be ready',
      async () => {
        if (service.child.exitCode !== null) {
          throw new Error(`the service exited early:\n${service.output()}`)
        }
        return fetch(`${base}/health/ready`).then(
          (r) => r.ok,
          () => false,
        )
      },
      240_000,
    )
    const user = userOf(runtime)
    if ('uid' in user) {
      // env -i execs the command in its own place: the pid is the service's.
      const status = readFileSync(`/proc/${service.child.pid}/status`, 'utf8')
      t.match(status, new RegExp(`^Uid:\\s+${user.uid}\\s`, 'm'), `it runs as uid ${user.uid}`)
      t.match(status, new RegExp(`^Gid:\\s+${user.gid}\\s`, 'm'), `and gid ${user.gid}`)
    } else {
      t.comment('not root: the service runs as this unprivileged user')
    }

    const metrics = await fetch(`http://127.0.0.1:${metricsPort}/metrics`)
    t.equal(metrics.status, 200, 'the metrics port answers')
    const exposition = await metrics.text()
    t.match(exposition, /^sugang_queue_length/m, "with the service's metrics")
    t.match(
      exposition,
      `nodejs_version_info{version="v${parseDockerfile().globalArgs.get('NODE_VERSION')}"`,
      "on the image's Node",
    )

    if (!runtime.healthcheck) throw new Error('the image has no HEALTHCHECK')
    const health = await runInImage(t, runtime.healthcheck, env)
    t.equal(health.code, 0, 'the HEALTHCHECK passes', { output: health.output })

    const login = await call(`${base}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ studentId: 'S000001', password: PASSWORD }),
    })
    t.equal(login.status, 200, 'S000001 logs in')
    const session = login.headers.getSetCookie().find((c) => c.startsWith('sugang_session='))
    if (!session) throw new Error('login set no session cookie')
    const headers = { cookie: session.split(';')[0] as string, 'content-type': 'application/json' }

    const asked = await call(`${base}/api/v1/courses/C0001/enrollment-requests`, {
      method: 'POST',
      headers,
      body: '{}',
    })
    t.equal(asked.status, 202, 'the request is queued')
    const { requestId } = (await asked.json()) as { requestId: string }
    const decided = await waitFor('the request to be decided', async () => {
      const res = await call(`${base}/api/v1/enrollment-requests/${requestId}`, { headers })
      const view = (await res.json()) as { status: string }
      return view.status === 'queued' ? null : view
    })
    t.match(decided, { status: 'enrolled' }, 'and admitted')
    const sql = await database(t, configFrom(test))
    const [rows] = await sql.query('SELECT student_id, course_id, request_id FROM enrollments')
    t.same(
      rows,
      [{ student_id: 'S000001', course_id: 'C0001', request_id: requestId }],
      'the enrollment is in MySQL',
    )

    service.child.kill('SIGTERM')
    t.same(await service.exited, { code: 0, signal: null }, 'SIGTERM: exit code 0', {
      output: service.output(),
    })
    t.match(
      service.output(),
      /"signal":"SIGTERM".*"msg":"closing: no new requests, finishing admission batches"/,
      'after closing gracefully',
    )
  },
)

t.test('without MySQL and Redis it refuses to start and says why', async (t) => {
  const argv = [...runtime.entrypoint, ...runtime.cmd]
  const secret = { SESSION_SECRET: 'image-test-secret-of-at-least-32-bytes' }
  const production = await runInImage(t, argv, environment(runtime, secret))
  t.equal(production.code, 2, 'as the image is configured: production')
  t.match(production.output, 'NODE_ENV=production needs DATABASE_URL and REDIS_URL', 'saying so')

  const development = await runInImage(
    t,
    argv,
    environment(runtime, { ...secret, NODE_ENV: 'development' }),
  )
  t.equal(development.code, 2, 'and in development mode')
  t.match(
    development.output,
    /the embedded store needs better-sqlite3.*not installed/,
    'saying the image has no SQLite',
  )
})
