import { spawn } from 'node:child_process'
import t from 'tap'
import { buildApp } from '../../src/app.js'
import { studentId } from '../../src/seed.js'
import {
  configFrom,
  database,
  isolatedEnv,
  login,
  seedDatabase,
  startInstance,
  waitFor,
} from '../helper.js'
import { freePort, startRedis } from '../support/servers.js'

t.test('with Redis gone the service answers 503 with Retry-After, and recovers', async (t) => {
  const redis = await startRedis()
  t.teardown(() => redis.stop())
  const env = await isolatedEnv(t, 'redisdown')
  const config = configFrom(env, { REDIS_URL: redis.url })
  await seedDatabase(config, { students: 2 })
  const app = await startInstance(t, config)
  const cookie = await login(app, 'S000001')
  const enqueue = () =>
    app.inject({
      method: 'POST',
      url: '/api/v1/courses/C0001/enrollment-requests',
      headers: { cookie },
      payload: {},
    })
  t.equal((await enqueue()).statusCode, 202, 'works while Redis is up')

  await redis.kill()

  const res = await enqueue()
  t.equal(res.statusCode, 503)
  t.equal(res.json().error.code, 'SERVICE_UNAVAILABLE')
  t.equal(res.headers['retry-after'], '2')
  const loginRes = await app.inject({
    method: 'POST',
    url: '/api/v1/auth/login',
    payload: { studentId: 'S000001', password: 'whatever' },
  })
  t.equal(loginRes.statusCode, 503, 'login too, rather than a 500')
  // Readiness follows background checks (debounced: one lost ping is not an outage).
  const ready = await waitFor('readiness to notice', async () => {
    const res = await app.inject({ method: 'GET', url: '/health/ready' })
    return res.statusCode === 503 && res
  })
  t.equal(ready.statusCode, 503, 'the load balancer is told to stop sending traffic')
  t.match(ready.json().error.message, /redis/)
  t.equal(
    (await app.inject({ method: 'GET', url: '/health/live' })).statusCode,
    200,
    'but the process lives',
  )

  await redis.restart()
  await waitFor('the service to reconnect', async () => {
    return (await app.inject({ method: 'GET', url: '/health/ready' })).statusCode === 200
  })
  // Redis kept nothing: the session is gone, so the student logs in again and re-submits.
  t.equal((await enqueue()).statusCode, 401)
  const again = await login(app, 'S000001')
  const retry = await app.inject({
    method: 'POST',
    url: '/api/v1/courses/C0001/enrollment-requests',
    headers: { cookie: again },
    payload: {},
  })
  t.equal(retry.statusCode, 202)
})

t.test(
  'with MySQL unreachable at start-up the service waits instead of crash-looping',
  async (t) => {
    const env = await isolatedEnv(t, 'mysqldown')
    const port = await freePort()
    const config = configFrom(env, { DATABASE_URL: `mysql://root@127.0.0.1:${port}/nothing` })
    const app = await buildApp({ config, logger: false })
    t.teardown(() => app.close())
    await app.ready()
    void app.sugang.startup()
    t.equal((await app.inject({ method: 'GET', url: '/health/live' })).statusCode, 200)
    const ready = await app.inject({ method: 'GET', url: '/health/ready' })
    t.equal(ready.statusCode, 503)
    t.match(ready.json().error.message, /mysql/)
    const res = await app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { studentId: 'S000001', password: 'x' },
    })
    t.equal(res.statusCode, 503)
    t.equal(res.json().error.code, 'SERVICE_UNAVAILABLE')
    t.equal(app.sugang.started, false, 'the worker waits for the schema')
  },
)

t.test('health and metrics', async (t) => {
  const env = await isolatedEnv(t, 'metrics')
  const config = configFrom(env)
  await seedDatabase(config, { students: 3, capacity: 1 })
  const app = await startInstance(t, config)
  t.same((await app.inject({ method: 'GET', url: '/health/ready' })).json(), { status: 'ready' })
  const cookies = [await login(app, 'S000001'), await login(app, 'S000002')]
  for (const cookie of cookies) {
    await app.inject({
      method: 'POST',
      url: '/api/v1/courses/C0001/enrollment-requests',
      headers: { cookie },
      payload: {},
    })
  }
  await waitFor('admission', async () => (await app.sugang.rush.queue.length('C0001')) === 0)
  const address = app.metrics.address()
  // Catalogue-based gauges may be up to a second old: wait for the admission to show.
  const text = await waitFor('the scrape to show the admission', async () => {
    const body = await (await fetch(`http://127.0.0.1:${address?.port}/metrics`)).text()
    const waits = /^sugang_decision_wait_seconds_count\{paused="false"\} 2$/m
    return /^sugang_seats_left\{course_id="C0001"\} 0$/m.test(body) && waits.test(body) && body
  })
  for (const line of [
    /^http_request_duration_seconds_bucket\{.*method="POST".*route="\/api\/v1\/courses\/:courseId\/enrollment-requests".*status_code="202"/m,
    /^sugang_enrollment_requests_total\{outcome="queued"\} 2$/m,
    /^sugang_queue_length\{course_id="C0001"\} 0$/m,
    /^sugang_admission_batch_duration_seconds_count \d+$/m,
    // Both requests decided and told: each one's wait from its queue's clock to its answer.
    /^sugang_decision_wait_seconds_bucket\{le="600",paused="false"\} 2$/m,
    /^sugang_enrolled_over_capacity 0$/m,
    /^sugang_replica_lag_seconds 0$/m,
    /^sugang_admissions_total\{outcome="enrolled"\} 1$/m,
    /^sugang_admissions_total\{outcome="rejected"\} 1$/m,
    /^sugang_seats_left\{course_id="C0001"\} 0$/m,
    /^sugang_dependency_up\{dependency="redis"\} 1$/m,
    /^nodejs_eventloop_lag_seconds /m,
    /^process_resident_memory_bytes /m,
  ]) {
    t.match(text, line)
  }
  t.equal((await fetch(`http://127.0.0.1:${address?.port}/other`)).status, 404)

  // The oversell gauge can fire: make the count disagree with the rows, as a bug would.
  const conn = await database(t, config)
  await conn.query("UPDATE courses SET capacity = capacity + 1, enrolled = 0 WHERE id = 'C0001'")
  const broken = await (await fetch(`http://127.0.0.1:${address?.port}/metrics`)).text()
  t.match(broken, /^sugang_enrolled_over_capacity 1$/m, 'a disagreeing count is reported')
  const api = await app.inject({ method: 'GET', url: '/metrics' })
  t.equal(api.statusCode, 404, 'metrics are not served on the public port')
})

t.test('the metrics listener binds METRICS_HOST, not HOST', async (t) => {
  const env = await isolatedEnv(t, 'metricshost')
  const app = await startInstance(t, configFrom(env, { HOST: '0.0.0.0' }), { worker: false })
  t.equal(app.metrics.address()?.address, '127.0.0.1')
})

t.test('an overloaded instance sheds requests with 503 and Retry-After', async (t) => {
  const env = await isolatedEnv(t, 'shedding')
  const config = configFrom(env, { MAX_EVENT_LOOP_DELAY_MS: '50' })
  await seedDatabase(config, { students: 1 })
  const app = await startInstance(t, config)
  // Block the event loop as a flood of work would, until the sampler has seen it: on a busy
  // machine one block may fall between samples, so block again rather than trust a sleep.
  const res = await waitFor('the API to shed', async () => {
    const until = Date.now() + 400
    while (Date.now() < until) {
      // busy: nothing else runs
    }
    await new Promise((resolve) => setImmediate(resolve))
    const answer = await app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { studentId: 'S000001', password: 'x' },
    })
    return answer.statusCode === 503 && answer
  })
  t.equal(res.json().error.code, 'OVERLOADED')
  t.equal(res.headers['retry-after'], '2')
  t.equal(
    (await app.inject({ method: 'GET', url: '/health/live' })).statusCode,
    200,
    'health is never shed',
  )
})

t.test('SIGTERM stops taking requests, gives leases back and exits cleanly', async (t) => {
  const env = await isolatedEnv(t, 'shutdown')
  const config = configFrom(env)
  await seedDatabase(config, { students: 400, capacity: 1000 })
  const port = await freePort()
  const child = spawn(process.execPath, ['bin/sugang.js', 'serve'], {
    cwd: new URL('../..', import.meta.url),
    env: { ...process.env, ...env, PORT: String(port), METRICS_PORT: '0', LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'inherit'],
  })
  t.teardown(() => {
    child.kill('SIGKILL')
  })
  const base = `http://127.0.0.1:${port}`
  // A process of its own starts from the TypeScript sources: on a machine busy with other suites
  // that alone can take half a minute.
  await waitFor(
    'the service to be ready',
    async () =>
      fetch(`${base}/health/ready`).then(
        (r) => r.ok,
        () => false,
      ),
    120_000,
  )
  const front = await startInstance(t, config, { worker: false })
  const cookies: string[] = []
  for (let i = 1; i <= 400; i += 1) cookies.push(await login(front, studentId(i)))
  await Promise.all(
    cookies.map((cookie) =>
      front.inject({
        method: 'POST',
        url: '/api/v1/courses/C0001/enrollment-requests',
        headers: { cookie },
        payload: {},
      }),
    ),
  )
  // Stop it while it is (or has just been) admitting.
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  )
  child.kill('SIGTERM')
  t.equal(await exited, 0, 'exit code 0')
  const refused = await fetch(`${base}/health/live`).then(
    () => 'answered',
    () => 'refused',
  )
  t.equal(refused, 'refused', 'the port is closed')
  const leases = await front.sugang.rush.leases.acquireCourse('C0001', 'probe', 1000)
  t.equal(leases, 'taken', 'no lease is left behind to expire')
  await front.sugang.rush.leases.releaseCourse('C0001', 'probe')
})
