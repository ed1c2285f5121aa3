/**
 * `sugang serve` with neither DATABASE_URL nor REDIS_URL: the real process on its embedded store,
 * as a visitor trying it on one machine would run it (npm start), and the refusal in production.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { statSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import type { Test } from 'tap'
import { waitFor } from '../helper.js'
import { freePort } from '../support/servers.js'

const SERVICE_DIR = fileURLToPath(new URL('../..', import.meta.url))
const CLI = join(SERVICE_DIR, 'bin', 'sugang.js')

/** The environment less anything that would pick MySQL and Redis. */
function embeddedEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra }
  for (const name of ['DATABASE_URL', 'REDIS_URL', 'DATABASE_REPLICA_URL', 'NODE_ENV']) {
    delete env[name]
  }
  return env
}

interface Served {
  readonly base: string
  readonly output: () => string
  stop(): Promise<number | null>
}

async function serve(t: Test, sqlitePath: string): Promise<Served> {
  const port = await freePort()
  const child: ChildProcess = spawn(process.execPath, [CLI, 'serve'], {
    cwd: SERVICE_DIR,
    env: embeddedEnv({
      SQLITE_PATH: sqlitePath,
      PORT: String(port),
      METRICS_PORT: '0',
      LOG_LEVEL: 'info',
      // As `npm start` runs on a new machine: no SESSION_SECRET.
    }),
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')))
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')))
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  )
  t.teardown(() => {
    child.kill('SIGKILL')
  })
  const base = `http://127.0.0.1:${port}`
  await waitFor(
    'the embedded service to be ready',
    async () => {
      if (child.exitCode !== null) throw new Error(`sugang serve exited early:\n${output}`)
      return fetch(`${base}/health/ready`).then(
        (r) => r.ok,
        () => false,
      )
    },
    60_000,
  )
  return {
    base,
    output: () => output,
    async stop() {
      child.kill('SIGTERM')
      return exited
    },
  }
}

/**
 * fetch, retrying a 503 as the contract tells clients to: load shedding may still remember the
 * event loop's busy start-up for a moment after the instance turned ready.
 */
async function call(url: string, init: RequestInit = {}): Promise<Response> {
  for (let attempt = 1; ; attempt += 1) {
    const res = await fetch(url, init)
    if (res.status !== 503 || attempt >= 20) return res
    await res.arrayBuffer()
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

/** Logs in through the API; the cookie header for later requests. */
async function login(base: string, studentId: string, password: string): Promise<string> {
  const res = await call(`${base}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ studentId, password }),
  })
  if (res.status !== 200)
    throw new Error(`login of ${studentId}: ${res.status} ${await res.text()}`)
  const session = res.headers.getSetCookie().find((c) => c.startsWith('sugang_session='))
  if (!session) throw new Error('no session cookie')
  return session.split(';')[0] as string
}

async function api(base: string, cookie: string, path: string, init: RequestInit = {}) {
  const res = await call(`${base}/api/v1${path}`, {
    ...init,
    headers: { cookie, 'content-type': 'application/json', ...(init.headers ?? {}) },
  })
  return { status: res.status, body: (await res.json()) as Record<string, unknown> }
}

/** Asks for a seat and polls until the request is decided; its final view. */
async function requestSeat(base: string, cookie: string, courseId: string) {
  const submitted = await api(base, cookie, `/courses/${courseId}/enrollment-requests`, {
    method: 'POST',
    body: '{}',
  })
  if (submitted.status === 409) return submitted.body
  if (submitted.status !== 202) throw new Error(`submit: ${JSON.stringify(submitted)}`)
  const id = String(submitted.body.requestId)
  return waitFor(`request ${id} to be decided`, async () => {
    const view = await api(base, cookie, `/enrollment-requests/${id}`)
    const status = view.body.status
    return status === 'enrolled' || status === 'rejected' ? view.body : null
  })
}

t.test('npm start without MySQL or Redis: a demo semester one can use at once', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sugang-embedded-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const sqlitePath = join(dir, 'data', 'sugang.sqlite')
  const first = await serve(t, sqlitePath)
  const { base } = first

  const output = first.output()
  t.match(output, `Open        ${base}/`, 'the console says where to open the page')
  t.match(output, /S000001.*sugang-demo/, 'and how to log in')
  // The log line goes through the logger's own stream, which may flush after the banner.
  t.match(
    await waitFor('the seeding to be logged', async () =>
      /"msg":"new database: seeded the demo semester"/.test(first.output()) ? first.output() : null,
    ),
    /"msg":"new database: seeded the demo semester"/,
    'logged at info',
  )

  const page = await call(`${base}/`)
  t.equal(page.status, 200, 'the page is served')
  t.match(page.headers.get('content-type') ?? '', /text\/html/)

  const s1 = await login(base, 'S000001', 'sugang-demo')
  const { body } = await api(base, s1, '/courses')
  const courses = body.courses as Array<{ id: string; title: string; capacity: number }>
  t.ok(courses.length >= 55, `${courses.length} courses`)
  const titles = courses.map((c) => c.title)
  t.ok(titles.includes('자료구조') && titles.includes('경제학원론'), 'Korean titles')
  const tiny = courses.find((c) => c.capacity === 3)
  if (!tiny) throw new Error('no tiny course')

  t.match(await requestSeat(base, s1, tiny.id), { status: 'enrolled' }, 'S000001 gets a seat')
  const mine = await api(base, s1, '/me/enrollments')
  t.same(
    (mine.body.enrollments as Array<{ courseId: string }>).map((e) => e.courseId),
    [tiny.id],
  )

  // Two more fill it; the next is turned away.
  for (const id of ['S000002', 'S000003']) {
    const cookie = await login(base, id, 'sugang-demo')
    t.match(await requestSeat(base, cookie, tiny.id), { status: 'enrolled' }, `${id} too`)
  }
  const late = await login(base, 'S000004', 'sugang-demo')
  const refused = await requestSeat(base, late, tiny.id)
  t.ok(
    JSON.stringify(refused).includes('COURSE_FULL'),
    `the course is full: ${JSON.stringify(refused)}`,
  )
  const after = await api(base, late, `/courses/${tiny.id}`)
  t.match(after.body, { enrolled: 3, capacity: 3 })

  const loggedOut = await login(base, 'S000006', 'sugang-demo')
  t.equal((await api(base, loggedOut, '/me')).status, 200)
  t.equal(
    (await call(`${base}/api/v1/auth/logout`, { method: 'POST', headers: { cookie: loggedOut } }))
      .status,
    204,
  )
  t.equal(await first.stop(), 0, 'SIGTERM: a clean exit')
  const secretFile = join(dir, 'data', 'sugang.session-secret')
  t.equal(
    statSync(secretFile).mode & 0o777,
    0o600,
    "the signing key beside the database is its owner's alone",
  )

  // The same file again: nothing is seeded twice, and the enrollment is still there.
  const second = await serve(t, sqlitePath)
  t.notMatch(second.output(), /seeded the demo semester/)
  t.match(
    await api(second.base, s1, '/me'),
    { status: 200, body: { studentId: 'S000001' } },
    'a tab logged in before the restart is still logged in',
  )
  t.equal((await api(second.base, loggedOut, '/me')).status, 401, 'a logout is one too')
  const again = await login(second.base, 'S000001', 'sugang-demo')
  const kept = await api(second.base, again, '/me/enrollments')
  t.same(
    (kept.body.enrollments as Array<{ courseId: string }>).map((e) => e.courseId),
    [tiny.id],
    'enrollments survive a restart',
  )
  const fifth = await requestSeat(
    second.base,
    await login(second.base, 'S000005', 'sugang-demo'),
    tiny.id,
  )
  t.ok(
    JSON.stringify(fifth).includes('COURSE_FULL'),
    `a new queue still answers from the store: ${JSON.stringify(fifth)}`,
  )
  t.equal(await second.stop(), 0)
})

t.test('NODE_ENV=production without the URLs refuses to start, saying why', async (t) => {
  const run = spawnSync(process.execPath, [CLI, 'serve'], {
    cwd: SERVICE_DIR,
    env: { ...embeddedEnv({}), NODE_ENV: 'production', SESSION_SECRET: 'x'.repeat(32) },
    encoding: 'utf8',
  })
  t.equal(run.status, 2)
  t.match(
    run.stderr,
    'NODE_ENV=production needs DATABASE_URL and REDIS_URL; the embedded store is for trying sugang on one machine',
  )
})

t.test('one URL without the other is a mistake, not the embedded store', async (t) => {
  const run = spawnSync(process.execPath, [CLI, 'serve'], {
    cwd: SERVICE_DIR,
    env: { ...embeddedEnv({}), REDIS_URL: 'redis://127.0.0.1:1' },
    encoding: 'utf8',
  })
  t.equal(run.status, 2)
  t.match(run.stderr, /DATABASE_URL is not set but REDIS_URL is/)
})

t.test('the CLI on the embedded store: migrate, seed; unlock says what it needs', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sugang-embedded-cli-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const env = embeddedEnv({ SQLITE_PATH: join(dir, 'cli.sqlite') })
  const cli = (...args: string[]) =>
    spawnSync(process.execPath, [CLI, ...args], { cwd: SERVICE_DIR, env, encoding: 'utf8' })
  const migrated = cli('migrate')
  t.equal(migrated.status, 0, migrated.stderr)
  t.match(migrated.stdout, /schema is up to date/)
  const seeded = cli(
    'seed',
    '--students',
    '5',
    '--courses',
    '2',
    '--capacity',
    '3',
    '--password',
    'pw',
  )
  t.equal(seeded.status, 0, seeded.stderr)
  t.match(seeded.stdout, /seeded 5 students and 2 courses of capacity 3 into .*cli\.sqlite/)
  const unlock = cli('unlock', 'S000001')
  t.equal(unlock.status, 2)
  t.match(unlock.stderr, /sugang unlock needs REDIS_URL/)
})

t.test('seed from the repository root and serve from service/ name the same file', async (t) => {
  // Read-only: --help says where this environment's embedded store is, without touching it.
  const where = (cwd: string, cli: string) => {
    const run = spawnSync(process.execPath, [cli, 'seed', '--help'], {
      cwd,
      env: embeddedEnv({}),
      encoding: 'utf8',
    })
    t.equal(run.status, 0, run.stderr)
    return /The embedded store here: (.+)$/m.exec(run.stdout)?.[1]
  }
  const repoRoot = join(SERVICE_DIR, '..')
  const fromRoot = where(repoRoot, join('service', 'bin', 'sugang.js'))
  const fromService = where(SERVICE_DIR, CLI)
  t.equal(fromRoot, join(SERVICE_DIR, 'data', 'sugang.sqlite'), 'npx sugang seed from the root')
  t.equal(fromService, fromRoot, 'npm start (run in service/)')
})
