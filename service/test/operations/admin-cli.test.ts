/**
 * `sugang admin`, run as an operator runs it in a shell on an instance: a token made with
 * `sugang admin token`, its hash in the ADMIN_TOKENS of a real `sugang serve` (its own process,
 * on MySQL and Redis), and each command its own process with the token in SUGANG_ADMIN_TOKEN.
 * The commands print what is in force, act on the students' API, exit 1 with the API's error and
 * 2 for a mistake in the command; a token is never taken as an option.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import t, { type Test } from 'tap'
import { courseId } from '../../src/seed.js'
import { configFrom, isolatedEnv, PASSWORD, seedDatabase, waitFor } from '../helper.js'
import { sugangProcess } from '../support/cli.js'
import { freePort } from '../support/servers.js'

const CLI = fileURLToPath(new URL('../../bin/sugang.js', import.meta.url))
const SERVICE_DIR = fileURLToPath(new URL('../..', import.meta.url))

interface Run {
  code: number | null
  out: string
  err: string
}

function sugang(args: string[], env: Record<string, string | undefined>): Promise<Run> {
  return sugangProcess(args, env)
}

/** Starts `sugang serve`; stopped when the test ends. */
async function serve(t: Test, env: Record<string, string>): Promise<ChildProcess> {
  const child = spawn(process.execPath, [CLI, 'serve'], {
    cwd: SERVICE_DIR,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')))
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')))
  const exited = new Promise((resolve) => child.once('exit', resolve))
  t.teardown(async () => {
    child.kill('SIGTERM')
    await exited
  })
  await waitFor(
    'sugang serve to be ready, with its admin listener',
    async () => {
      if (child.exitCode !== null) throw new Error(`sugang serve exited early:\n${output}`)
      const ready = await fetch(`http://127.0.0.1:${env.PORT}/health/ready`).then(
        (r) => r.ok,
        () => false,
      )
      const admin = await fetch(`http://127.0.0.1:${env.ADMIN_PORT}/admin/v1/controls`).then(
        (r) => r.status === 401,
        () => false,
      )
      return ready && admin
    },
    60_000,
  )
  return child
}

t.test('sugang admin against a running sugang serve', async (t) => {
  // The operator's token, as `sugang admin token` prints it.
  const made = await sugang(['admin', 'token', 'registrar'], {})
  t.equal(made.code, 0, made.err)
  const token = /^ {2}([A-Za-z0-9_-]{43})$/m.exec(made.out)?.[1]
  const entry = /^ {2}(registrar:[0-9a-f]{64})$/m.exec(made.out)?.[1]
  t.ok(token && entry, 'prints the token and the ADMIN_TOKENS entry')
  t.match(made.out, /shown only now/)
  const again = await sugang(['admin', 'token', 'registrar', '--json'], {})
  const json = JSON.parse(again.out) as { operator: string; token: string; entry: string }
  t.equal(json.operator, 'registrar')
  t.not(json.token, token, 'a new token every time')
  t.match(json.entry, /^registrar:[0-9a-f]{64}$/)

  const base = await isolatedEnv(t, 'admincli', 'mysql-redis')
  const [port, adminPort] = [await freePort(), await freePort()]
  const env = {
    ...base,
    PORT: String(port),
    ADMIN_PORT: String(adminPort),
    ADMIN_TOKENS: `${entry},on-call:${json.entry.split(':')[1]}`,
    LOG_LEVEL: 'warn',
  }
  await seedDatabase(configFrom(env), { students: 2, courses: 2, capacity: 5 })
  await serve(t, env)
  // An operator's shell on the instance: the token in the environment, the admin port as served.
  const operator = { SUGANG_ADMIN_TOKEN: token, ADMIN_PORT: String(adminPort), ADMIN_URL: '' }
  const admin = (...args: string[]) => sugang(['admin', ...args], operator)

  await t.test('status: nothing in force yet', async (t) => {
    const run = await admin('status')
    t.equal(run.code, 0, run.err)
    t.match(run.out, /^paused:\s+nothing$/m)
    t.match(run.out, /^throttled:\s+nothing$/m)
    t.match(run.out, /^opens:\s+always open$/m)
    t.match(run.out, /^announcement:\s+none$/m)
  })

  const c1 = courseId(1)
  await t.test('pause, throttle and announce: each says what is in force', async (t) => {
    const paused = await admin('pause', '--course', c1, '--reason', 'MySQL failover')
    t.equal(paused.code, 0, paused.err)
    t.match(paused.out, new RegExp(`^paused admission of ${c1}$`, 'm'))
    t.match(
      paused.out,
      new RegExp(`^paused:\\s+${c1} since \\S+ by registrar: MySQL failover$`, 'm'),
    )

    const throttled = await admin('throttle', '--per-second', '20', '--reason', 'CPU at 90%')
    t.equal(throttled.code, 0, throttled.err)
    t.match(throttled.out, /^at most 20 decisions a second over all courses together$/m)
    t.match(
      throttled.out,
      /^throttled:\s+all courses together at 20\/s since \S+ by registrar: CPU at 90%$/m,
    )
    t.match(throttled.out, new RegExp(`^paused:\\s+${c1} `, 'm'), 'the pause still holds')

    const ko = '서버 점검으로 10분 연기합니다'
    const en = 'Registration opens 10 minutes later for server maintenance.'
    const announced = await admin('announce', '--ko', ko, '--en', en, '--reason', 'maintenance')
    t.equal(announced.code, 0, announced.err)
    t.match(announced.out, new RegExp(`^announcement:\\s+${ko}$`, 'm'))
    t.match(announced.out, new RegExp(`^\\s+${en.replace('.', '\\.')}$`, 'm'))
  })

  await t.test('window: the students are told the moved opening', async (t) => {
    // Ten minutes from now, written as an operator in Korea would.
    const at = new Date(Math.ceil((Date.now() + 10 * 60_000) / 1000) * 1000)
    const kst = new Date(at.getTime() + 9 * 3600_000).toISOString().replace(/\.000Z$/, '+09:00')
    const moved = await admin('window', '--opens-at', kst, '--reason', 'opening delayed')
    t.equal(moved.code, 0, moved.err)
    t.match(moved.out, new RegExp(`^registration opens at ${at.toISOString()} for everyone$`, 'm'))
    t.match(moved.out, new RegExp(`^opens:\\s+${at.toISOString()}$`, 'm'))

    const login = await fetch(`http://127.0.0.1:${port}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ studentId: 'S000001', password: PASSWORD }),
    })
    t.equal(login.status, 200)
    const cookie = login.headers
      .getSetCookie()
      .find((c) => c.startsWith('sugang_session='))
      ?.split(';')[0]
    const asked = await fetch(
      `http://127.0.0.1:${port}/api/v1/courses/${courseId(2)}/enrollment-requests`,
      {
        method: 'POST',
        headers: { cookie: cookie as string, 'content-type': 'application/json' },
        body: '{}',
      },
    )
    t.equal(asked.status, 403)
    t.match(await asked.json(), {
      error: { code: 'REGISTRATION_CLOSED', opensAt: at.toISOString() },
    })

    const year = await admin('window', '--opens-at', '2030-02-10T10:00', '--reason', 'x y z')
    t.equal(year.code, 2, 'a time without its offset is refused')
    t.match(year.err, /with its offset/)
  })

  await t.test("refusals: the API's error, exit 1", async (t) => {
    const resume = await admin('resume', '--reason', 'nothing is paused for everyone')
    t.equal(resume.code, 1)
    t.match(resume.err, /409 NOTHING_TO_UNDO: admission of every course is not paused/)
    const unknown = await admin('pause', '--course', 'X9999', '--reason', 'no such course')
    t.equal(unknown.code, 1)
    t.match(unknown.err, /404 COURSE_NOT_FOUND/)
    const short = await admin('pause', '--reason', 'no')
    t.equal(short.code, 1)
    t.match(short.err, /400 VALIDATION_FAILED/)

    const stranger = await sugang(['admin', 'status'], {
      ...operator,
      SUGANG_ADMIN_TOKEN: 'a-token-nobody-was-ever-given',
    })
    t.equal(stranger.code, 1, 'a token nobody was given')
    t.match(stranger.err, /401 UNAUTHENTICATED/)

    const nowhere = await sugang(['admin', 'status'], {
      ...operator,
      ADMIN_URL: `http://127.0.0.1:${port}`,
    })
    t.equal(nowhere.code, 1, 'the public listener has no admin API')
    t.match(nowhere.err, /404 NOT_FOUND/)
  })

  await t.test('mistakes in the command: exit 2, nothing sent', async (t) => {
    const noReason = await admin('pause', '--course', c1)
    t.equal(noReason.code, 2)
    t.match(noReason.err, /--reason is required/)
    const asOption = await admin('status', '--token', token as string)
    t.equal(asOption.code, 2, 'a token is never an option')
    t.match(asOption.err, /Unknown option '--token'/)
    const noToken = await sugang(['admin', 'status'], { ...operator, SUGANG_ADMIN_TOKEN: '' })
    t.equal(noToken.code, 2)
    t.match(noToken.err, /SUGANG_ADMIN_TOKEN/)
    const wrongOption = await admin('pause', '--per-second', '5', '--reason', 'x y z')
    t.equal(wrongOption.code, 2)
    t.match(wrongOption.err, /--per-second does not apply to "sugang admin pause"/)
  })

  await t.test('actions: who did what and why, newest first', async (t) => {
    const run = await admin('actions')
    t.equal(run.code, 0, run.err)
    const lines = run.out.trim().split('\n')
    t.equal(lines.length, 4, 'the four commands that took effect')
    t.match(lines[0], /^\S+Z {2}registrar {2}window \{"opensAt":"[^"]+"\}: opening delayed$/)
    t.match(lines[1], /^\S+Z {2}registrar {2}announce \{"ko":.*\}: maintenance$/)
    t.match(lines[2], /^\S+Z {2}registrar {2}throttle every course \{"perSecond":20\}: CPU at 90%$/)
    t.match(lines[3], new RegExp(`^\\S+Z {2}registrar {2}pause ${c1}: MySQL failover$`))

    const latest = await admin('actions', '--limit', '1', '--json')
    t.equal(latest.code, 0, latest.err)
    t.match(JSON.parse(latest.out), {
      actions: [{ operator: 'registrar', action: 'window', reason: 'opening delayed' }],
    })
    t.equal((JSON.parse(latest.out) as { actions: unknown[] }).actions.length, 1)
  })

  await t.test('a second operator, and --json', async (t) => {
    const resumed = await sugang(
      ['admin', 'resume', '--course', c1, '--reason', 'failover done', '--json'],
      { ...operator, SUGANG_ADMIN_TOKEN: json.token, ADMIN_URL: `http://127.0.0.1:${adminPort}/` },
    )
    t.equal(resumed.code, 0, resumed.err)
    t.match(JSON.parse(resumed.out), { pauses: [], throttles: [{ course: '*', perSecond: 20 }] })
    const actions = await admin('actions', '--limit', '1')
    t.match(actions.out, new RegExp(`on-call {2}resume ${c1}: failover done`))
  })

  await t.test('capacity: raised, refused below the seats taken, audited', async (t) => {
    const raised = await admin(
      'capacity',
      '--course',
      c1,
      '--capacity',
      '7',
      '--reason',
      '증원 요청',
    )
    t.equal(raised.code, 0, raised.err)
    t.match(raised.out, new RegExp(`^${c1}: capacity 7, 0 seats taken, 0 promoted`, 'm'))
    const below = await admin(
      'capacity',
      '--course',
      c1,
      '--capacity',
      '3',
      '--reason',
      '감원 요청',
    )
    t.equal(below.code, 0, below.err)
    t.match(below.out, new RegExp(`^${c1}: capacity 3, 0 seats taken`, 'm'))
    const many = await admin('capacity', '--course', c1, '--capacity', 'many', '--reason', 'typo')
    t.equal(many.code, 2, 'a capacity that is no number is a mistake in the command')
    const missing = await admin('capacity', '--capacity', '7', '--reason', 'no course')
    t.equal(missing.code, 2)
    t.match(missing.err, /--course is required/)
    const actions = await admin('actions', '--limit', '1', '--json')
    t.match(JSON.parse(actions.out), {
      actions: [
        { action: 'capacity', target: c1, reason: '감원 요청', details: { from: 7, to: 3 } },
      ],
    })
  })

  await t.test('help', async (t) => {
    const help = await sugang(['admin', '--help'], {})
    t.equal(help.code, 0)
    t.match(help.out, /Usage: sugang admin token NAME/)
    t.match(help.out, /SUGANG_ADMIN_TOKEN/)
    const top = await sugang(['--help'], {})
    t.match(top.out, /^ {2}admin {5}opening-day controls/m)
  })
})
