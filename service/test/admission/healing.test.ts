import { Redis } from 'ioredis'
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import type { RowDataPacket } from 'mysql2/promise'
import {
  configFrom,
  database,
  isolatedEnv,
  login,
  seedDatabase,
  startInstance,
  waitFor,
  keysOf,
  STORAGES,
} from '../helper.js'
import { startRedis } from '../support/servers.js'
import { Cancellation } from '../../src/domain/cancellation.js'
import type { CancellationTx, SeatCache } from '../../src/domain/ports.js'

async function enqueue(app: FastifyInstance, cookie: string) {
  const res = await app.inject({
    method: 'POST',
    url: '/api/v1/courses/C0001/enrollment-requests',
    headers: { cookie },
    payload: {},
  })
  return {
    status: res.statusCode,
    body: res.json() as { requestId?: string; error?: { code: string } },
  }
}

/** Enqueues and waits until the request is decided; returns its final status. */
async function enroll(app: FastifyInstance, cookie: string): Promise<string> {
  const { status, body } = await enqueue(app, cookie)
  if (status !== 202) return body.error?.code ?? String(status)
  return waitFor('the request to be decided', async () => {
    const res = await app.inject({
      method: 'GET',
      url: `/api/v1/enrollment-requests/${body.requestId}`,
      headers: { cookie },
    })
    const view = res.json() as { status: string }
    return view.status !== 'queued' && view.status
  })
}

async function metric(app: FastifyInstance, name: string): Promise<number> {
  const text = await app.metrics.registry.getSingleMetricAsString(name)
  const match = new RegExp(`^${name} (\\d+)`, 'm').exec(text)
  return match ? Number(match[1]) : 0
}

t.test('a cancellation whose queue update failed is retried until the queue agrees', async (t) => {
  const redisServer = await startRedis()
  t.teardown(() => redisServer.stop())
  const env = await isolatedEnv(t, 'reflect')
  // Reconciler out of the way: this test is about the retry of the failed write itself.
  const config = configFrom(env, {
    REDIS_URL: redisServer.url,
    REDIS_TIMEOUT_MS: '300',
    RECONCILE_INTERVAL_MS: '600000',
  })
  await seedDatabase(config, { students: 2, capacity: 1 })
  const app = await startInstance(t, config)
  const [holder, newcomer] = [await login(app, 'S000001'), await login(app, 'S000002')]
  t.equal(await enroll(app, holder), 'enrolled')
  t.equal(await enroll(app, newcomer), 'COURSE_FULL', 'the door says full')

  // Redis freezes the moment the cancellation has committed in MySQL.
  const store = app.sugang.store
  const cancel = store.cancel.bind(store)
  store.cancel = async <T>(
    studentId: string,
    courseId: string,
    work: (tx: CancellationTx) => Promise<T>,
  ) => {
    const result = await cancel(studentId, courseId, work)
    redisServer.pause()
    return result
  }
  const res = await app.inject({
    method: 'DELETE',
    url: '/api/v1/me/enrollments/C0001',
    headers: { cookie: holder },
  })
  t.equal(res.statusCode, 204, 'the cancellation is committed and answered')
  t.ok(
    (await metric(app, 'sugang_cancel_reflection_failures_total')) >= 1,
    'its queue update failed',
  )
  redisServer.resume()

  // Until Redis is reconnected the door answers 503, until the seat is seen it says full.
  const pending = new Set(['COURSE_FULL', 'SERVICE_UNAVAILABLE'])
  const code = await waitFor('the freed seat to be open at the door', async () => {
    const { status, body } = await enqueue(app, newcomer)
    return status === 202 ? 'queued' : !pending.has(body.error?.code ?? '') && body.error?.code
  })
  t.equal(code, 'queued', 'a newcomer sees the freed seat')
  const again = await waitFor('the canceller to be free to ask again', async () => {
    const { body } = await enqueue(app, holder)
    const answer = body.error?.code ?? 'answered'
    return answer !== 'ALREADY_ENROLLED' && answer !== 'SERVICE_UNAVAILABLE' && answer
  })
  t.not(again, 'ALREADY_ENROLLED', 'the canceller is not told they are still enrolled')
})

t.test('a cancellation whose instance died before telling Redis is repaired', async (t) => {
  const env = await isolatedEnv(t, 'repair')
  const config = configFrom(env, { RECONCILE_INTERVAL_MS: '200' })
  await seedDatabase(config, { students: 2, capacity: 1 })
  const app = await startInstance(t, config)
  const [holder, newcomer] = [await login(app, 'S000001'), await login(app, 'S000002')]
  t.equal(await enroll(app, holder), 'enrolled')
  t.equal(await enroll(app, newcomer), 'COURSE_FULL')

  // Committed in MySQL, and nothing else: what an instance killed right after COMMIT leaves.
  const silent: SeatCache = {
    markCancellation: async () => undefined,
    unmarkCancellation: async () => undefined,
    reflectCancellation: async () => undefined,
    versions: async () => new Map(),
    repair: async () => false,
  }
  const dying = new Cancellation(
    { store: app.sugang.store, seats: silent },
    { reflectionFailed: () => undefined, reflected: () => undefined },
  )
  const result = await dying.cancel('S000001', 'C0001')
  t.ok(result.ok)

  t.equal(
    await waitFor('the reconciler to open the door', async () => {
      const status = await enroll(app, newcomer)
      return status !== 'COURSE_FULL' && status
    }),
    'enrolled',
    'the newcomer gets the freed seat',
  )
  t.ok((await metric(app, 'sugang_cache_repairs_total')) >= 1, 'the reconciler repaired the course')
  const { body } = await enqueue(app, holder)
  t.equal(body.error?.code, 'COURSE_FULL', 'the canceller is told the truth: full, not enrolled')
})

t.test('after Redis loses everything the reconciler rebuilds what the door needs', async (t) => {
  const redisServer = await startRedis()
  t.teardown(() => redisServer.stop())
  const env = await isolatedEnv(t, 'redisloss')
  const config = configFrom(env, { REDIS_URL: redisServer.url, RECONCILE_INTERVAL_MS: '200' })
  await seedDatabase(config, { students: 3, capacity: 2 })
  const app = await startInstance(t, config)
  for (const student of ['S000001', 'S000002']) {
    t.equal(await enroll(app, await login(app, student)), 'enrolled')
  }
  const conn = await database(t, config)
  const [[course]] = await conn.query<RowDataPacket[]>(
    "SELECT decided_through FROM courses WHERE id = 'C0001'",
  )
  const through = Number(course?.decided_through)
  t.ok(through > 0, 'MySQL records how far the course was decided')

  const repairsBefore = await metric(app, 'sugang_cache_repairs_total')
  await redisServer.restart()
  await waitFor('the reconciler to repair the course', async () => {
    return (await metric(app, 'sugang_cache_repairs_total')) > repairsBefore
  })
  // Sessions went with Redis: students log in again.
  const enrolled = await waitFor('login after the restart', () =>
    login(app, 'S000001').catch(() => null),
  )
  t.equal(
    (await enqueue(app, enrolled)).body.error?.code,
    'ALREADY_ENROLLED',
    'an enrolled student is answered at the door again',
  )
  t.equal(
    (await enqueue(app, await login(app, 'S000003'))).body.error?.code,
    'COURSE_FULL',
    'and so is a newcomer to the full course',
  )
  const redis = new Redis(redisServer.url)
  t.teardown(() => redis.disconnect())
  t.ok(
    Number(await redis.get(keysOf(env).course('C0001').arrivals)) >= through,
    'the arrival counter continues above what MySQL has seen',
  )
})

/**
 * Asks for C0001 (without the waitlist unless told) and follows the request to its answer: the
 * door's refusal code, or the decision of a queued request (waitlisted, enrolled, or the reason).
 */
async function answerTo(
  app: FastifyInstance,
  cookie: string,
  payload: { waitlist?: boolean } = {},
): Promise<{ status: number; answer: string; requestId?: string }> {
  const res = await app.inject({
    method: 'POST',
    url: '/api/v1/courses/C0001/enrollment-requests',
    headers: { cookie },
    payload,
  })
  const body = res.json() as { requestId?: string; status?: string; error?: { code: string } }
  if (res.statusCode >= 400) return { status: res.statusCode, answer: body.error?.code ?? '' }
  const requestId = body.requestId as string
  if (body.status !== 'queued') {
    return { status: res.statusCode, answer: String(body.status), requestId }
  }
  const answer = await waitFor('the request to be decided', async () => {
    const view = (
      await app.inject({
        method: 'GET',
        url: `/api/v1/enrollment-requests/${requestId}`,
        headers: { cookie },
      })
    ).json() as { status: string; reason?: string }
    return view.status !== 'queued' && (view.reason ?? view.status)
  })
  return { status: res.statusCode, answer, requestId }
}

for (const storage of STORAGES) {
  t.test(
    `${storage}: after the rush state is lost, enrolled and waitlisted students asking again are told the truth`,
    async (t) => {
      const redisServer = storage === 'mysql-redis' ? await startRedis() : null
      t.teardown(() => redisServer?.stop())
      const env = await isolatedEnv(t, 'dataloss', storage)
      // The reconciler sweeps only when the test says, so that both sides of the rebuild are seen.
      const config = configFrom(env, {
        ...(redisServer ? { REDIS_URL: redisServer.url } : {}),
        RECONCILE_INTERVAL_MS: '600000',
      })
      await seedDatabase(config, { students: 4, capacity: 2 })
      let app = await startInstance(t, config)
      for (const student of ['S000001', 'S000002']) {
        t.equal(await enroll(app, await login(app, student)), 'enrolled')
      }
      const waiting = await answerTo(app, await login(app, 'S000003'), { waitlist: true })
      t.equal(waiting.answer, 'waitlisted')

      // Redis loses everything (FLUSHALL: no restart, no reconnect to notice); the embedded rush
      // state is lost with its process.
      if (redisServer) {
        const redis = new Redis(redisServer.url)
        await redis.flushall()
        redis.disconnect()
      } else {
        await app.close()
        app = await startInstance(t, config)
      }
      const [enrolled, waitlisted, newcomer] = [
        await login(app, 'S000001'),
        await login(app, 'S000003'),
        await login(app, 'S000004'),
      ]
      // One new request: its batch writes the seat cache at the course's current version.
      t.equal((await answerTo(app, newcomer)).answer, 'COURSE_FULL', 'the newcomer: full')

      // Before the views are rebuilt, answers come from MySQL.
      t.equal((await answerTo(app, enrolled)).answer, 'ALREADY_ENROLLED', 'enrolled: not full')
      t.equal((await answerTo(app, waitlisted)).answer, 'waitlisted', 'waitlisted: not full')

      // Once rebuilt, the door answers from Redis again, and answers the same.
      await app.sugang.reconciler.sweep()
      await app.sugang.reconciler.sweep()
      t.same(
        await answerTo(app, enrolled),
        { status: 409, answer: 'ALREADY_ENROLLED' },
        'an enrolled student is told so at the door',
      )
      const again = await answerTo(app, waitlisted)
      t.same(
        { status: again.status, answer: again.answer },
        { status: 200, answer: 'waitlisted' },
        'a waitlisted student is given their place at the door',
      )
      t.same(
        await answerTo(app, newcomer),
        { status: 409, answer: 'COURSE_FULL' },
        'a newcomer is told full at the door',
      )
      const place = (
        await app.inject({
          method: 'GET',
          url: `/api/v1/enrollment-requests/${again.requestId}`,
          headers: { cookie: waitlisted },
        })
      ).json() as { status: string; position: number }
      t.same(place, { ...place, status: 'waitlisted', position: 1 }, 'first on the waitlist')
      const mine = (
        await app.inject({
          method: 'GET',
          url: '/api/v1/me/enrollments',
          headers: { cookie: enrolled },
        })
      ).json() as { enrollments: unknown[] }
      t.equal(mine.enrollments.length, 1, 'MySQL still holds the seat')
    },
  )
}
