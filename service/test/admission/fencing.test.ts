import { randomUUID } from 'node:crypto'
import t from 'tap'
import { MysqlStore } from '../../src/adapters/mysql/store.js'
import { createRedisRushState } from '../../src/adapters/redis/index.js'
import { AdmissionWorker } from '../../src/domain/admission-worker.js'
import type { QueuedRequest } from '../../src/domain/model.js'
import type { AdmissionFacts } from '../../src/domain/ports.js'
import { planAdmission } from '../../src/domain/rules.js'
import { REDIS_URL, configFrom, databaseUrlOf, isolatedEnv, seedDatabase } from '../helper.js'
import { freePort } from '../support/servers.js'

const rules = { maxWaitlistPerStudent: 5 }

t.test('a worker whose course was fenced by a successor cannot commit', async (t) => {
  const env = await isolatedEnv(t, 'fence')
  const config = configFrom(env)
  await seedDatabase(config, { students: 3, capacity: 2 })
  const store = new MysqlStore({ url: databaseUrlOf(config), poolSize: 2 })
  t.teardown(() => store.close())
  const request: QueuedRequest = {
    requestId: randomUUID(),
    studentId: 'S000001',
    waitlist: false,
    arrival: 1,
  }

  const decide = (facts: AdmissionFacts) => {
    const plan = planAdmission([request], facts, rules)
    return { writes: plan.writes, value: plan }
  }

  const paused = await store.fence('C0001')
  const successor = await store.fence('C0001')
  t.ok(paused !== null && successor !== null && successor > paused, 'each holder gets a new fence')
  t.same(
    await store.admit('C0001', paused as number, ['S000001'], decide),
    { kind: 'fenced' },
    'the old holder is refused',
  )
  const [rows] = await store.primary.query<import('mysql2').RowDataPacket[]>(
    'SELECT COUNT(*) AS n FROM enrollments',
  )
  t.equal(Number(rows[0]?.n), 0, 'and committed nothing')
  const decided = await store.admit('C0001', successor as number, ['S000001'], decide)
  t.equal(decided.kind, 'done', 'the current holder decides')
  t.equal(await store.fence('C9999'), null, 'a course that does not exist has no fence')
})

t.test(
  'a failing course is retried with growing, jittered pauses, not in a hot loop',
  async (t) => {
    const env = await isolatedEnv(t, 'backoff')
    // MySQL is unreachable: every attempt fails at once, so only the backoff spaces them.
    const store = new MysqlStore({
      url: `mysql://root@127.0.0.1:${await freePort()}/none`,
      poolSize: 2,
    })
    const rush = createRedisRushState({
      url: REDIS_URL,
      prefix: env.REDIS_PREFIX as string,
      sessionTtlSeconds: 60,
      decidedTtlSeconds: 60,
      requestBudget: { max: 100, windowMs: 10_000 },
    })
    t.teardown(async () => {
      await rush.lifecycle.close()
      await store.close()
    })
    await rush.lifecycle.connect()
    await rush.sessions.create('sid', 'S000001')
    await rush.queue.enqueue({
      sessionId: 'sid',
      studentId: 'S000001',
      courseId: 'C0001',
      requestId: randomUUID(),
      waitlist: false,
      refuseWhenFull: true,
    })
    const settings = { idleMs: 50, maxBackoffMs: 10_000 }
    const failures: number[] = []
    let done: () => void = () => undefined
    const sixFailures = new Promise<void>((resolve) => (done = resolve))
    const worker = new AdmissionWorker(
      { store, queue: rush.queue, leases: rush.leases },
      settings,
      rules,
      {
        batch: () => undefined,
        bulkRejected: () => undefined,
        waited: () => undefined,
        error: (_err, courseId) => {
          if (courseId !== 'C0001') return
          failures.push(performance.now())
          if (failures.length === 6) done()
        },
      },
    )
    worker.start()
    t.teardown(() => worker.stop())
    await sixFailures
    await worker.stop()
    for (let i = 1; i < failures.length; i += 1) {
      // The pause after the n-th failure is at least half of min(max, idle * 2^n).
      const least = Math.min(settings.maxBackoffMs, settings.idleMs * 2 ** i) / 2
      const gap = (failures[i] as number) - (failures[i - 1] as number)
      t.ok(gap >= least - 5, `pause after failure ${i}: ${Math.round(gap)} ms ≥ ${least} ms`)
    }
  },
)
