import { createHash } from 'node:crypto'
import { request as httpRequest, type IncomingMessage } from 'node:http'
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import {
  configFrom,
  isolatedEnv,
  login,
  seedDatabase,
  startInstance,
  waitFor,
  STORAGES,
} from '../helper.js'
import { takeEvents } from '../support/sse.js'

const TOKEN = 'operator-token-for-the-notices-test'
const ADMIN_TOKENS = `ops:${createHash('sha256').update(TOKEN).digest('hex')}`

interface Notice {
  announcement: { id: string; ko: string; en: string; since: string } | null
  pauses: Array<{ courseId: string | null; reason: string; since: string }>
  windowVersion: string
}

interface Stream {
  readonly status: number
  /** Every event in the order it came: its name and its data, parsed. */
  readonly events: Array<{ event: string; data: Record<string, unknown> }>
  notices(): Notice[]
  close(): void
}

/** Opens the event stream as the page's EventSource does; `ids` may be empty. */
async function openStream(base: string, cookie: string, ids: string[] = []): Promise<Stream> {
  const query = ids.length ? `?requests=${ids.join(',')}` : ''
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${base}/api/v1/me/events${query}`, {
      headers: { cookie, accept: 'text/event-stream' },
    })
    req.on('error', reject)
    req.on('response', (res: IncomingMessage) => {
      const events: Stream['events'] = []
      let buffer = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        const taken = takeEvents(buffer + chunk)
        buffer = taken.rest
        for (const { event, data } of taken.events) {
          if (event && data) events.push({ event, data: JSON.parse(data) })
        }
      })
      res.on('error', () => undefined)
      resolve({
        status: res.statusCode ?? 0,
        events,
        notices: () =>
          events.filter((e) => e.event === 'notice').map((e) => e.data as unknown as Notice),
        close: () => req.destroy(),
      })
    })
    req.end()
  })
}

async function notices(base: string): Promise<{ status: number; cache: string; body: Notice }> {
  const res = await fetch(`${base}/api/v1/notices`)
  return {
    status: res.status,
    cache: res.headers.get('cache-control') ?? '',
    body: (await res.json()) as Notice,
  }
}

/** A command of the admin API, over its own listener, as an operator sends it. */
async function admin(app: FastifyInstance, path: string, body: object): Promise<Response> {
  const address = app.adminAddress()
  if (!address) throw new Error('the admin listener is not listening')
  return fetch(`http://127.0.0.1:${address.port}/admin/v1${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
}

async function listen(app: FastifyInstance): Promise<string> {
  await app.listen({ host: '127.0.0.1', port: 0 })
  const address = app.server.address()
  if (!address || typeof address === 'string') throw new Error('no address')
  return `http://127.0.0.1:${address.port}`
}

const NONE: Notice = { announcement: null, pauses: [], windowVersion: '' }

for (const storage of STORAGES) {
  t.test(
    `the notices answer what operators set, and every open stream is sent each change (${storage})`,
    async (t) => {
      const env = await isolatedEnv(t, 'notices', storage)
      const config = configFrom(env, { ADMIN_TOKENS, ADMIN_PORT: '0' })
      await seedDatabase(config, { students: 3, courses: 2 })
      const app = await startInstance(t, config, { worker: false })
      const base = await listen(app)
      const ops = app.sugang.operations

      const first = await notices(base)
      t.equal(first.status, 200, 'no session needed')
      t.same(first.body, NONE, 'nothing set: nothing to tell')
      t.match(first.cache, /(^|,\s*)no-store(,|$)/, 'never stored, as every API answer')

      // A page with no request to watch holds a stream for the notices alone.
      const cookie = await login(app, 'S000001')
      const stream = await openStream(base, cookie)
      t.teardown(() => stream.close())
      t.equal(stream.status, 200)
      await waitFor('the notice at once', async () => stream.notices().length === 1)
      t.same(stream.notices()[0], NONE)

      // An announcement through the admin API: on GET /notices and pushed.
      const announced = await admin(app, '/announcement', {
        ko: '10시 5분까지 점검합니다.',
        en: 'Maintenance until 10:05.',
        reason: 'database failover',
      })
      t.equal(announced.status, 200, 'the admin API took the announcement')
      const withAnnouncement = (await notices(base)).body
      t.match(withAnnouncement.announcement, {
        ko: '10시 5분까지 점검합니다.',
        en: 'Maintenance until 10:05.',
      })
      t.notOk('by' in (withAnnouncement.announcement ?? {}), 'the operator is not named')
      await waitFor('the announcement pushed', async () => stream.notices().length === 2)
      t.same(stream.notices()[1], withAnnouncement, 'the stream says what GET /notices says')

      // A pause of one course, then of every course: each with its reason.
      await ops.pause('ops', 'C0001', '좌석 수 확인 중')
      await waitFor('the course pause pushed', async () => stream.notices().length === 3)
      t.match(stream.notices()[2]?.pauses, [{ courseId: 'C0001', reason: '좌석 수 확인 중' }])
      await ops.pause('ops', '*', 'database failover')
      await waitFor('the global pause pushed', async () => stream.notices().length === 4)
      t.same(
        stream.notices()[3]?.pauses.map((p) => [p.courseId, p.reason]),
        [
          [null, 'database failover'],
          ['C0001', '좌석 수 확인 중'],
        ],
        'every course (null) and the course',
      )
      t.same((await notices(base)).body, stream.notices()[3])

      // A ceiling is not the students' business: it changes the controls, not the notice. The
      // next change shows nothing was sent for it in between.
      await ops.throttle('ops', 'C0001', 50, 'slow the worker down')
      await ops.resume('ops', '*', 'failover done')
      await waitFor('the resume pushed', async () => stream.notices().length === 5)
      t.same(
        stream.notices()[4]?.pauses.map((p) => p.courseId),
        ['C0001'],
        'the global pause lifted, the course one kept; nothing was sent for the ceiling',
      )

      // The window moved: a new version, and GET /me answers the new opening.
      const opensAt = new Date(Date.now() + 2 * 3_600_000)
      const moved = await admin(app, '/window', {
        opensAt: opensAt.toISOString(),
        reason: 'the failover took longer',
      })
      t.equal(moved.status, 200)
      await waitFor('the move pushed', async () => stream.notices().length === 6)
      const version = stream.notices()[5]?.windowVersion ?? ''
      t.not(version, '', 'the window has a version once moved')
      t.equal((await notices(base)).body.windowVersion, version)
      const me = await app.inject({ method: 'GET', url: '/api/v1/me', headers: { cookie } })
      t.match(me.json(), { registration: { opensAt: opensAt.toISOString(), open: false } })
      await ops.moveWindow('ops', { opensAt: new Date(opensAt.getTime() + 60_000) }, 'again')
      await waitFor('the second move pushed', async () => stream.notices().length === 7)
      t.not(stream.notices()[6]?.windowVersion, version, 'each move, a new version')

      // A stream that watches requests is sent the notice first, then its requests.
      await ops.moveWindow('ops', { opensAt: new Date(Date.now() - 60_000) }, 'open it')
      const enqueued = await app.inject({
        method: 'POST',
        url: '/api/v1/courses/C0002/enrollment-requests',
        headers: { cookie },
        payload: {},
      })
      t.equal(enqueued.statusCode, 202)
      const { requestId } = enqueued.json() as { requestId: string }
      const watching = await openStream(base, cookie, [requestId])
      t.teardown(() => watching.close())
      await waitFor('both events', async () => watching.events.length >= 2)
      t.same(
        watching.events.slice(0, 2).map((e) => e.event),
        ['notice', 'request'],
        'the notice, then the request',
      )
      t.match(watching.events[1]?.data, { requestId, status: 'queued' })
      await ops.unannounce('ops', 'over')
      await waitFor('the change on both streams', async () =>
        [stream, watching].every((s) => s.notices().at(-1)?.announcement === null),
      )
      t.equal(
        stream.events.filter((e) => e.event !== 'notice').length,
        0,
        'a stream without requests carries notices alone',
      )

      // The stream's query stays checked, and it still needs a session.
      const malformed = await fetch(`${base}/api/v1/me/events?requests=nope`, {
        headers: { cookie },
      })
      t.equal(malformed.status, 400)
      const anonymous = await fetch(`${base}/api/v1/me/events`)
      t.equal(anonymous.status, 401)
    },
  )

  t.test(
    `streams without requests count against MAX_STREAMS_PER_STUDENT like any other (${storage})`,
    async (t) => {
      const env = await isolatedEnv(t, 'notice-limits', storage)
      const config = configFrom(env, { MAX_STREAMS_PER_STUDENT: '2' })
      await seedDatabase(config, { students: 1, courses: 1 })
      const app = await startInstance(t, config, { worker: false })
      const base = await listen(app)
      const cookie = await login(app, 'S000001')
      const streams = await Promise.all([1, 2, 3].map(() => openStream(base, cookie)))
      t.teardown(() => streams.forEach((s) => s.close()))
      t.same(streams.map((s) => s.status).sort(), [200, 200, 429], 'two held, the third refused')
    },
  )
}

const SHARED = STORAGES.includes('mysql-redis')

t.test(
  'a change made on one instance reaches the streams of another',
  { skip: SHARED ? false : 'two instances share MySQL and Redis' },
  async (t) => {
    const env = await isolatedEnv(t, 'notice-fleet', 'mysql-redis')
    const config = configFrom(env, { ADMIN_TOKENS, ADMIN_PORT: '0' })
    await seedDatabase(config, { students: 1, courses: 1 })
    const one = await startInstance(t, config, { worker: false })
    const other = await startInstance(t, config, { worker: false })
    const base = await listen(other)
    const stream = await openStream(base, await login(other, 'S000001'))
    t.teardown(() => stream.close())
    await waitFor('the first notice', async () => stream.notices().length === 1)
    const paused = await admin(one, '/pause', { course: 'C0001', reason: 'checking the seats' })
    t.equal(paused.status, 200)
    // The other instance reads the controls every second and tells its own streams.
    await waitFor('the pause on the other instance', async () => stream.notices().length === 2)
    t.match(stream.notices()[1]?.pauses, [{ courseId: 'C0001', reason: 'checking the seats' }])
    t.match((await notices(base)).body.pauses, [{ courseId: 'C0001' }])
  },
)
