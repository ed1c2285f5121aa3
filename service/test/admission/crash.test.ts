import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { Redis } from 'ioredis'
import t from 'tap'
import type { RowDataPacket } from 'mysql2/promise'
import { courseId, studentId } from '../../src/seed.js'
import {
  REDIS_URL,
  configFrom,
  database,
  invariants,
  isolatedEnv,
  login,
  seedDatabase,
  startInstance,
  waitFor,
} from '../helper.js'

const fixture = fileURLToPath(new URL('../fixtures/crash-after-commit.ts', import.meta.url))
const serviceDir = fileURLToPath(new URL('../..', import.meta.url))
const CAPACITY = 30
const REQUESTS = 120

/** Runs an instance that is killed between COMMIT and the Redis update; resolves on its death. */
function crashingWorker(env: Record<string, string>): Promise<NodeJS.Signals | null> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', fixture], {
      cwd: serviceDir,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'ignore', 'inherit'],
    })
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error('the crashing worker never committed'))
    }, 60_000)
    child.on('exit', (_code, signal) => {
      clearTimeout(timer)
      resolve(signal)
    })
  })
}

t.test('a worker killed between COMMIT and the Redis update loses no enrollment', async (t) => {
  const env = await isolatedEnv(t, 'crash')
  const batches = [10, 25, 64]
  await seedDatabase(configFrom(env), {
    students: REQUESTS,
    courses: batches.length,
    capacity: CAPACITY,
  })
  // The front instance only takes requests; admission is left to the instances under test.
  const front = await startInstance(t, configFrom(env), { worker: false })
  const conn = await database(t, configFrom(env))
  const redis = new Redis(REDIS_URL)
  t.teardown(() => redis.disconnect())
  const cookies: string[] = []
  for (let i = 1; i <= REQUESTS; i += 1) cookies.push(await login(front, studentId(i)))

  for (const [round, batch] of batches.entries()) {
    const course = courseId(round + 1)
    t.test(
      `batches of ${batch}: the next worker reports the committed seats as enrolled`,
      async (t) => {
        const replies = await Promise.all(
          cookies.map((cookie) =>
            front.inject({
              method: 'POST',
              url: `/api/v1/courses/${course}/enrollment-requests`,
              headers: { cookie },
              payload: {},
            }),
          ),
        )
        t.ok(
          replies.every((r) => r.statusCode === 202),
          'all queued',
        )
        const requestIds = replies.map((r) => r.json().requestId as string)

        const workerEnv = { ...env, ADMISSION_LEASE_MS: '1000', ADMISSION_MAX_BATCH: String(batch) }
        t.equal(await crashingWorker(workerEnv), 'SIGKILL', 'the worker died mid-admission')

        const [committed] = await conn.query<RowDataPacket[]>(
          'SELECT student_id, request_id FROM enrollments WHERE course_id = ?',
          [course],
        )
        t.equal(committed.length, Math.min(batch, CAPACITY), 'its batch was committed')
        t.equal(
          await redis.zcard(`${env.REDIS_PREFIX}q:${course}`),
          REQUESTS,
          'but Redis never heard of it: every request is still queued',
        )

        const survivor = await startInstance(t, configFrom(env, { ADMISSION_LEASE_MS: '1000' }))
        await waitFor('the survivor to decide the queue', async () => {
          return (await redis.zcard(`${env.REDIS_PREFIX}q:${course}`)) === 0
        })
        const statuses = await Promise.all(
          requestIds.map(async (id, i) => {
            const res = await survivor.inject({
              method: 'GET',
              url: `/api/v1/enrollment-requests/${id}`,
              headers: { cookie: cookies[i] as string },
            })
            return res.json() as { requestId: string; status: string; reason?: string }
          }),
        )
        for (const row of committed) {
          const status = statuses.find((s) => s.requestId === row.request_id)
          t.equal(
            status?.status,
            'enrolled',
            `${row.student_id} committed before the crash is enrolled`,
          )
        }
        const enrolled = statuses.filter((s) => s.status === 'enrolled')
        t.equal(enrolled.length, CAPACITY, 'exactly the capacity enrolled')
        t.notOk(
          statuses.some((s) => s.reason === 'ALREADY_ENROLLED'),
          'nobody was turned into "already enrolled"',
        )
        const state = (await invariants(conn)).find((c) => c.id === course)
        t.same(state, { id: course, capacity: CAPACITY, enrolled: CAPACITY, rows: CAPACITY })
        await survivor.close()
      },
    )
  }
})
