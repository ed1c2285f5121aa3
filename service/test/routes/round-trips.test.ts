// What the rush's two routes cost Redis, counted on the wire: Redis's MONITOR sees every command
// a client sends (and, marked "lua", every command a script runs). A student's request and their
// status check are each one round trip, with the session and the rate limit checked inside it.
import t from 'tap'
import { Redis } from 'ioredis'
import type { FastifyInstance } from 'fastify'
import {
  REDIS_URL,
  configFrom,
  isolatedEnv,
  keysOf,
  login,
  seedDatabase,
  startInstance,
} from '../helper.js'
import { monitor } from '../support/redis-monitor.js'

interface Seen {
  /** Commands clients sent that name one of the watched words (round trips' commands). */
  readonly sent: string[][]
  /** Commands scripts ran that name one of them. */
  readonly scripted: string[][]
}

/**
 * Records every command of this test's keys (`prefix`: other suites share the Redis server, and
 * their students have the same ids) naming one of `words` while `work` runs.
 */
async function watching(
  prefix: string,
  words: readonly string[],
  work: () => Promise<void>,
): Promise<Seen> {
  const watch = await monitor(REDIS_URL)
  const seen: Seen = { sent: [], scripted: [] }
  watch.on(({ args, source }) => {
    if (!args.some((a) => a.startsWith(prefix))) return
    if (!args.some((a) => words.some((w) => a.includes(w)))) return
    ;(source === 'lua' ? seen.scripted : seen.sent).push(args)
  })
  const echo = new Redis(REDIS_URL)
  try {
    await work()
    // Everything sent before this marker has been seen once the marker is.
    const done = `monitor-done-${Math.random()}`
    const finished = new Promise<void>((resolve) => {
      watch.on(({ args }) => {
        if (args.includes(done)) resolve()
      })
    })
    await echo.echo(done)
    await finished
  } finally {
    echo.disconnect()
    watch.close()
  }
  return seen
}

async function enqueue(app: FastifyInstance, cookie: string, course: string): Promise<string> {
  const res = await app.inject({
    method: 'POST',
    url: `/api/v1/courses/${course}/enrollment-requests`,
    headers: { cookie },
    payload: {},
  })
  if (res.statusCode !== 202) throw new Error(`enqueue answered ${res.statusCode}: ${res.body}`)
  return res.json<{ requestId: string }>().requestId
}

t.test('a status check is one Redis round trip, session and rate limit included', async (t) => {
  const env = await isolatedEnv(t, 'roundtrips', 'mysql-redis')
  const config = configFrom(env)
  await seedDatabase(config, { students: 3, courses: 2 })
  const app = await startInstance(t, config, { worker: false })
  const cookies = await Promise.all(['S000001', 'S000002'].map((s) => login(app, s)))
  const requestId = await enqueue(app, cookies[0]!, 'C0001')

  const checks = 20
  const seen = await watching(keysOf(env).prefix, ['S000001', requestId], async () => {
    // Concurrent checks: the count must hold when they share round trips' timing.
    const answers = await Promise.all(
      Array.from({ length: checks }, () =>
        app.inject({
          method: 'GET',
          url: `/api/v1/enrollment-requests/${requestId}`,
          headers: { cookie: cookies[0]! },
        }),
      ),
    )
    for (const res of answers) t.equal(res.statusCode, 200, res.body)
  })
  t.equal(seen.sent.length, checks, 'one command sent per status check')
  t.ok(
    seen.sent.every((args) => /^eval(sha)?$/i.test(args[0] ?? '')),
    'each one a script call',
  )
  t.ok(
    seen.scripted.some((args) => args[0]?.toLowerCase() === 'incr'),
    'the rate limit is counted inside the script',
  )

  // The session is still checked: another student's cookie and no cookie are refused as before.
  const other = await app.inject({
    method: 'GET',
    url: `/api/v1/enrollment-requests/${requestId}`,
    headers: { cookie: cookies[1]! },
  })
  t.equal(other.statusCode, 404, "another student's request is answered like a missing one")
  const none = await app.inject({ method: 'GET', url: `/api/v1/enrollment-requests/${requestId}` })
  t.equal(none.statusCode, 401)
  await app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: { cookie: cookies[0]! } })
  const ended = await app.inject({
    method: 'GET',
    url: `/api/v1/enrollment-requests/${requestId}`,
    headers: { cookie: cookies[0]! },
  })
  t.equal(ended.statusCode, 401, 'a session that ended is refused in the same round trip')
})

t.test('asking for a seat is one Redis round trip', async (t) => {
  const env = await isolatedEnv(t, 'roundtrips', 'mysql-redis')
  const config = configFrom(env)
  await seedDatabase(config, { students: 2, courses: 3 })
  const app = await startInstance(t, config, { worker: false })
  const cookie = await login(app, 'S000001')
  const seen = await watching(keysOf(env).prefix, ['S000001'], async () => {
    await Promise.all(['C0001', 'C0002', 'C0003'].map((c) => enqueue(app, cookie, c)))
  })
  t.equal(seen.sent.length, 3, 'one command sent per request')
})

t.test('a status check over its rate limit is refused with Retry-After', async (t) => {
  const env = await isolatedEnv(t, 'roundtrips', 'mysql-redis')
  const config = configFrom(env, { RATE_LIMIT_MAX: '5' })
  await seedDatabase(config, { students: 2, courses: 1 })
  const app = await startInstance(t, config, { worker: false })
  const cookie = await login(app, 'S000001')
  const requestId = await enqueue(app, cookie, 'C0001')
  const answers = await Promise.all(
    Array.from({ length: 12 }, () =>
      app.inject({
        method: 'GET',
        url: `/api/v1/enrollment-requests/${requestId}`,
        headers: { cookie },
      }),
    ),
  )
  const limited = answers.filter((r) => r.statusCode === 429)
  // The enqueue took one of the 5; a window may turn over during the burst: two windows' worth
  // at most.
  t.ok(answers.filter((r) => r.statusCode === 200).length <= 9, 'the limit holds under concurrency')
  t.ok(limited.length > 0)
  for (const r of limited) {
    t.match(r.json(), { error: { code: 'RATE_LIMITED' } })
    t.ok(Number(r.headers['retry-after']) >= 1)
  }
})
