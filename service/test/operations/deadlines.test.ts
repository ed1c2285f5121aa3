import t from 'tap'
import type { Test } from 'tap'
import type { FastifyInstance, InjectOptions } from 'fastify'
import mysql from 'mysql2/promise'
import { studentId } from '../../src/seed.js'
import { configFrom, isolatedEnv, login, seedDatabase, startInstance, waitFor } from '../helper.js'
import { startMariaDb, startRedis } from '../support/servers.js'

interface Probe {
  readonly name: string
  readonly status: number
  readonly code: string | undefined
  readonly retryAfter: string | undefined
  readonly ms: number
}

/** Sends requests while a dependency is frozen; each must be answered while it still is. */
async function probe(
  app: FastifyInstance,
  requests: ReadonlyArray<{ name: string } & InjectOptions>,
): Promise<Probe[]> {
  return Promise.all(
    requests.map(async ({ name, ...request }) => {
      const started = performance.now()
      const res = await app.inject(request)
      return {
        name,
        status: res.statusCode,
        code: res.statusCode >= 400 ? (res.json().error?.code as string) : undefined,
        retryAfter: res.headers['retry-after'] as string | undefined,
        ms: Math.round(performance.now() - started),
      }
    }),
  )
}

function expectPrompt503(t: Test, answers: Probe[]): void {
  for (const a of answers) {
    t.equal(a.status, 503, `${a.name}: 503 (after ${a.ms} ms)`)
    t.equal(a.code, 'SERVICE_UNAVAILABLE', `${a.name}: SERVICE_UNAVAILABLE`)
    t.equal(a.retryAfter, '2', `${a.name}: Retry-After`)
  }
}

t.test('with Redis frozen, requests answer 503 while it is still frozen', async (t) => {
  const redis = await startRedis()
  t.teardown(() => redis.stop())
  const env = await isolatedEnv(t, 'frozenredis')
  const config = configFrom(env, { REDIS_URL: redis.url })
  await seedDatabase(config, { students: 3 })
  const app = await startInstance(t, config)
  const cookie = await login(app, 'S000001')

  redis.pause()
  // Nothing here waits for Redis to come back: if a request hung, this would never resolve
  // (and the test would fail on its timeout) because Redis is resumed only afterwards.
  const answers = await probe(app, [
    {
      name: 'login',
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { studentId: 'S000002', password: 'correct horse' },
    },
    {
      name: 'enqueue',
      method: 'POST',
      url: '/api/v1/courses/C0001/enrollment-requests',
      headers: { cookie },
      payload: {},
    },
    { name: 'course list', method: 'GET', url: '/api/v1/courses', headers: { cookie } },
    { name: 'my enrollments', method: 'GET', url: '/api/v1/me/enrollments', headers: { cookie } },
  ])
  expectPrompt503(t, answers)
  t.equal((await app.inject({ method: 'GET', url: '/health/live' })).statusCode, 200, 'still live')
  await waitFor('readiness to turn 503', async () => {
    return (await app.inject({ method: 'GET', url: '/health/ready' })).statusCode === 503
  })
  redis.resume()
  await waitFor('readiness to come back', async () => {
    return (await app.inject({ method: 'GET', url: '/health/ready' })).statusCode === 200
  })
  const after = await app.inject({
    method: 'POST',
    url: '/api/v1/courses/C0001/enrollment-requests',
    headers: { cookie },
    payload: {},
  })
  // The request made during the freeze may have reached Redis before its deadline and run once
  // Redis woke up: the 503 said "unknown, retry", and the retry finds it (200 queued, or 409 if
  // the worker has enrolled it meanwhile).
  t.ok(
    [200, 202].includes(after.statusCode) || after.json().error?.code === 'ALREADY_ENROLLED',
    `and it serves again (${after.statusCode})`,
  )
})

t.test('with MariaDB frozen, requests answer 503 while it is still frozen', async (t) => {
  const db = await startMariaDb()
  t.teardown(() => db.stop())
  const root = await mysql.createConnection({ uri: db.url })
  await root.query('CREATE DATABASE sugang')
  await root.end()
  const env = await isolatedEnv(t, 'frozendb')
  const config = configFrom(env, { DATABASE_URL: `${db.url}/sugang` })
  await seedDatabase(config, { students: 3 })
  const app = await startInstance(t, config)
  const cookie = await login(app, 'S000001')

  db.pause()
  const answers = await probe(app, [
    {
      name: 'login',
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { studentId: 'S000002', password: 'correct horse' },
    },
    { name: 'one course', method: 'GET', url: '/api/v1/courses/C0001', headers: { cookie } },
    { name: 'my enrollments', method: 'GET', url: '/api/v1/me/enrollments', headers: { cookie } },
    {
      name: 'cancel',
      method: 'DELETE',
      url: '/api/v1/me/enrollments/C0001',
      headers: { cookie },
    },
  ])
  expectPrompt503(t, answers)
  await waitFor('readiness to turn 503', async () => {
    const res = await app.inject({ method: 'GET', url: '/health/ready' })
    return res.statusCode === 503 && /mysql/.test(res.body)
  })
  db.resume()
  await waitFor('readiness to come back', async () => {
    return (await app.inject({ method: 'GET', url: '/health/ready' })).statusCode === 200
  })
  const after = await app.inject({
    method: 'GET',
    url: '/api/v1/me/enrollments',
    headers: { cookie },
  })
  t.equal(after.statusCode, 200, 'and it serves again once MariaDB answers')
})

t.test('work waiting on a frozen Redis is bounded: beyond it, requests fail at once', async (t) => {
  const redis = await startRedis()
  t.teardown(() => redis.stop())
  const env = await isolatedEnv(t, 'inflight')
  // A deadline far longer than the test, so that only the in-flight bound can answer quickly.
  const config = configFrom(env, {
    REDIS_URL: redis.url,
    REDIS_TIMEOUT_MS: '60000',
    REDIS_MAX_IN_FLIGHT: '5',
  })
  await seedDatabase(config, { students: 20 })
  const app = await startInstance(t, config, { worker: false })
  const cookies: string[] = []
  for (let i = 1; i <= 20; i += 1) cookies.push(await login(app, studentId(i)))

  redis.pause()
  let settled = 0
  const answers = cookies.map((cookie) =>
    app
      .inject({
        method: 'POST',
        url: '/api/v1/courses/C0001/enrollment-requests',
        headers: { cookie },
        payload: {},
      })
      .finally(() => {
        settled += 1
      }),
  )
  await waitFor('all but the bounded few to be answered', async () => settled >= 15)
  t.ok(settled >= 15, `${settled} of 20 answered while Redis is frozen`)
  redis.resume()
  const statuses = (await Promise.all(answers)).map((r) => r.statusCode)
  t.ok(statuses.filter((s) => s === 503).length >= 15, 'those were told 503, to retry')
  t.ok(
    statuses.every((s) => s === 503 || s === 202),
    'the few that waited were served once Redis came back',
  )
})

t.test('health answers 200 on a saturated event loop; only the API sheds', async (t) => {
  const env = await isolatedEnv(t, 'saturated')
  const config = configFrom(env, { MAX_EVENT_LOOP_DELAY_MS: '50' })
  await seedDatabase(config, { students: 1 })
  const app = await startInstance(t, config)

  // Saturate: block the event loop 150 ms at a time, over and over, as a flood of work would.
  let saturating = true
  const saturate = (): void => {
    if (!saturating) return
    const until = Date.now() + 150
    while (Date.now() < until) {
      // busy
    }
    setTimeout(saturate, 1)
  }
  saturate()
  t.teardown(() => {
    saturating = false
  })

  const shed = await waitFor('the API to shed load', async () => {
    const res = await app.inject({ method: 'GET', url: '/api/v1/courses' })
    return res.statusCode === 503 && res
  })
  t.equal(shed.json().error.code, 'OVERLOADED', 'the API sheds with OVERLOADED')
  t.equal(shed.headers['retry-after'], '2')
  for (let i = 0; i < 10; i += 1) {
    const [live, ready] = await Promise.all([
      app.inject({ method: 'GET', url: '/health/live' }),
      app.inject({ method: 'GET', url: '/health/ready' }),
    ])
    t.equal(live.statusCode, 200, `live ${i + 1}: 200 while saturated`)
    t.equal(ready.statusCode, 200, `ready ${i + 1}: 200 while saturated`)
  }
  saturating = false
})
