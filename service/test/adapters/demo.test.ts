/**
 * `sugang demo`, the real process as a newcomer runs it (npm run demo): a countdown, the opening,
 * and a crowd ahead in the queue whose requests are decided at a pace one can watch, so that a
 * student who asks after them sees their place and its estimated wait move.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { retrying503, waitFor } from '../helper.js'
import { freePort } from '../support/servers.js'
import { takeEvents } from '../support/sse.js'

const SERVICE_DIR = fileURLToPath(new URL('../..', import.meta.url))
const CLI = join(SERVICE_DIR, 'bin', 'sugang.js')
/** 이산수학: 50 seats or more, so the crowd of 20 and the visitor all get one. */
const COURSE = 'CSE2020-01'
const CROWD = 20

interface QueueEvent {
  readonly status: string
  readonly position?: number
  readonly estimatedWaitSeconds?: number
}

/** The `request` events of one request's stream, until it is decided. */
async function followStream(base: string, cookie: string, requestId: string) {
  const res = await fetch(`${base}/api/v1/me/events?requests=${requestId}`, {
    headers: { cookie, accept: 'text/event-stream' },
    signal: AbortSignal.timeout(60_000),
  })
  if (res.status !== 200 || !res.body) throw new Error(`stream: ${res.status}`)
  const events: QueueEvent[] = []
  const decoder = new TextDecoder()
  let text = ''
  for await (const chunk of res.body) {
    const taken = takeEvents(text + decoder.decode(chunk as Uint8Array, { stream: true }))
    text = taken.rest
    for (const { event: name, data } of taken.events) {
      if (name !== 'request' || !data) continue
      const event = JSON.parse(data) as QueueEvent
      events.push(event)
      if (event.status !== 'queued') return events
    }
  }
  return events
}

t.test('npm run demo: a countdown, then a crowd ahead whose queue moves', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sugang-demo-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const port = await freePort()
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PORT: String(port),
    METRICS_PORT: '0',
    LOG_LEVEL: 'info',
    // The seed's cost for the crowd's logins: the claims here are not about scrypt.
    PASSWORD_SCRYPT_N: '16',
  }
  for (const name of ['DATABASE_URL', 'REDIS_URL', 'SESSION_SECRET', 'NODE_ENV']) delete env[name]
  const child: ChildProcess = spawn(
    process.execPath,
    [
      CLI,
      'demo',
      '--data',
      join(dir, 'demo.sqlite'),
      // Long enough for a start on a busy machine, and a login, before the opening.
      '--opens-in',
      '20s',
      '--crowd',
      String(CROWD),
      '--course',
      COURSE,
      '--pace',
      '4',
      '--spread',
      '0s',
    ],
    { cwd: SERVICE_DIR, env, stdio: ['ignore', 'pipe', 'pipe'] },
  )
  let output = ''
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')))
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')))
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
  t.teardown(() => {
    child.kill('SIGKILL')
  })
  const base = `http://127.0.0.1:${port}`
  await waitFor(
    'the demo to be ready',
    async () => {
      if (child.exitCode !== null) throw new Error(`sugang demo exited early:\n${output}`)
      return fetch(`${base}/health/ready`).then(
        (r) => r.ok,
        () => false,
      )
    },
    60_000,
  )
  t.match(output, /Demo: registration opens at \S+, \d+ s from now\./, 'the console says when')
  t.match(output, `At the opening ${CROWD} students (S001981-S002000) ask for 이산수학 (${COURSE}`)

  // Just after the start the demo is still busy with its semester, and a loaded machine can shed
  // the first login with 503 and Retry-After; the page then asks again when told, and so does this.
  const login = await retrying503(() =>
    fetch(`${base}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ studentId: 's000001', password: 'sugang-demo' }),
    }),
  )
  t.equal(login.status, 200, 'the visitor logs in (any letter case)')
  const cookie = (login.headers.getSetCookie()[0] ?? '').split(';')[0] as string
  const headers = { cookie, 'content-type': 'application/json' }

  // The countdown: registration is ahead, and a request now is refused with its opening.
  const meAnswer = await retrying503(() => fetch(`${base}/api/v1/me`, { headers }))
  t.equal(meAnswer.status, 200, 'the visitor reads their page')
  const me = (await meAnswer.json()) as {
    registration: { open: boolean; opensAt: string; serverTime: string }
  }
  t.equal(me.registration.open, false, 'not open yet: the page counts down')
  const opensAt = Date.parse(me.registration.opensAt)
  t.ok(opensAt > Date.parse(me.registration.serverTime), 'the opening is ahead of the server clock')
  const early = await fetch(`${base}/api/v1/courses/${COURSE}/enrollment-requests`, {
    method: 'POST',
    headers,
    body: '{}',
  })
  t.equal(early.status, 403)
  t.match(await early.json(), {
    error: { code: 'REGISTRATION_CLOSED', opensAt: me.registration.opensAt },
  })

  // The crowd asks at the opening; the visitor right after it.
  await waitFor(
    'the crowd to ask',
    async () => output.includes(`crowd: ${CROWD} requests sent for ${COURSE}`),
    60_000,
  )
  t.ok(Date.now() >= opensAt, 'only once registration opened')
  const asked = await fetch(`${base}/api/v1/courses/${COURSE}/enrollment-requests`, {
    method: 'POST',
    headers,
    body: '{}',
  })
  t.equal(asked.status, 202)
  const { requestId, position } = (await asked.json()) as { requestId: string; position: number }
  t.ok(position > 1, `behind the crowd: place ${position}`)

  const events = await followStream(base, cookie, requestId)
  const places = events.filter((e) => e.status === 'queued').map((e) => e.position ?? 0)
  t.ok(new Set(places).size >= 3, `the place moves: ${places.join(' → ')}`)
  t.ok(
    places.every((p, i) => i === 0 || p <= (places[i - 1] ?? p)),
    'and only forward',
  )
  t.ok(
    events.some((e) => e.status === 'queued' && (e.estimatedWaitSeconds ?? 0) > 0),
    `an estimated wait is shown: ${events.map((e) => e.estimatedWaitSeconds).join(', ')}`,
  )
  t.equal(events.at(-1)?.status, 'enrolled', 'and the seat is the visitor’s')

  await waitFor(
    'the crowd to report',
    async () => output.includes(`crowd: ${CROWD} enrolled`),
    60_000,
  )
  child.kill('SIGTERM')
  t.equal(await exited, 0, 'SIGTERM: a clean exit')
})
