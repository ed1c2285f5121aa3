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
  keysOf,
} from '../helper.js'

const fixture = fileURLToPath(new URL('../fixtures/crash-after-commit.ts', import.meta.url))
const serviceDir = fileURLToPath(new URL('../..', import.meta.url))
const CAPACITY = 30
const REQUESTS = 120
/** Every fourth student asks for the waitlist, so the crashed batch also holds waitlist places. */
const wantsWaitlist = (i: number) => i % 4 === 3

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

// The batch of the worker that dies, and the batch its survivor starts with: smaller (the survivor
// finds the course full while requests the dead worker decided are still queued behind its first
// batch), larger, equal, and a survivor free to grow.
const ROUNDS = [
  { crashed: 64, survivor: 16 },
  { crashed: 16, survivor: 64 },
  { crashed: 25, survivor: 25 },
  { crashed: 10, survivor: 1000 },
] as const

t.test('a worker killed between COMMIT and the Redis update loses no enrollment', async (t) => {
  const env = await isolatedEnv(t, 'crash')
  await seedDatabase(configFrom(env), {
    students: REQUESTS,
    courses: ROUNDS.length,
    capacity: CAPACITY,
  })
  // The front instance only takes requests; admission is left to the instances under test.
  const front = await startInstance(t, configFrom(env), { worker: false })
  const conn = await database(t, configFrom(env))
  const redis = new Redis(REDIS_URL)
  t.teardown(() => redis.disconnect())
  const cookies: string[] = []
  for (let i = 1; i <= REQUESTS; i += 1) cookies.push(await login(front, studentId(i)))

  for (const [round, { crashed, survivor }] of ROUNDS.entries()) {
    const course = courseId(round + 1)
    t.test(`crashed at a batch of ${crashed}, survivor at ${survivor}`, async (t) => {
      // One after another, so that arrival order is index order.
      const replies = []
      for (const [i, cookie] of cookies.entries()) {
        replies.push(
          await front.inject({
            method: 'POST',
            url: `/api/v1/courses/${course}/enrollment-requests`,
            headers: { cookie },
            payload: wantsWaitlist(i) ? { waitlist: true } : {},
          }),
        )
      }
      t.ok(
        replies.every((r) => r.statusCode === 202),
        'all queued',
      )
      const requestIds = replies.map((r) => r.json().requestId as string)

      const workerEnv = { ...env, ADMISSION_LEASE_MS: '1000', ADMISSION_MAX_BATCH: String(crashed) }
      t.equal(await crashingWorker(workerEnv), 'SIGKILL', 'the worker died mid-admission')

      const [committed] = await conn.query<RowDataPacket[]>(
        'SELECT student_id, request_id FROM enrollments WHERE course_id = ?',
        [course],
      )
      t.equal(committed.length, Math.min(crashed, CAPACITY), 'its batch was committed')
      t.equal(
        await redis.zcard(keysOf(env).course(course).queue),
        REQUESTS,
        'but Redis never heard of it: every request is still queued',
      )

      const next = await startInstance(
        t,
        configFrom(env, { ADMISSION_LEASE_MS: '1000', ADMISSION_MAX_BATCH: String(survivor) }),
      )
      await waitFor('the survivor to decide the queue', async () => {
        return (await redis.zcard(keysOf(env).course(course).queue)) === 0
      })
      const statuses = await Promise.all(
        requestIds.map(async (id, i) => {
          const res = await next.inject({
            method: 'GET',
            url: `/api/v1/enrollment-requests/${id}`,
            headers: { cookie: cookies[i] as string },
          })
          return res.json() as { requestId: string; status: string; reason?: string }
        }),
      )

      // What each student is told must agree with MySQL, request by request.
      const [enrolledRows] = await conn.query<RowDataPacket[]>(
        'SELECT request_id FROM enrollments WHERE course_id = ?',
        [course],
      )
      const [waitingRows] = await conn.query<RowDataPacket[]>(
        'SELECT request_id FROM waitlist WHERE course_id = ?',
        [course],
      )
      const enrolledIds = new Set(enrolledRows.map((r) => String(r.request_id)))
      const waitingIds = new Set(waitingRows.map((r) => String(r.request_id)))
      const contradictions = statuses.filter((s) => {
        if (enrolledIds.has(s.requestId)) return s.status !== 'enrolled'
        if (waitingIds.has(s.requestId)) return s.status !== 'waitlisted'
        return s.status !== 'rejected'
      })
      t.same(contradictions, [], 'every answer agrees with MySQL')
      t.equal(
        statuses.filter((s) => s.status === 'enrolled').length,
        CAPACITY,
        'exactly the capacity enrolled',
      )
      t.same(
        statuses.slice(0, CAPACITY).map((s) => s.status),
        Array(CAPACITY).fill('enrolled'),
        'the earliest arrivals hold the seats',
      )
      t.notOk(
        statuses.some((s) => s.reason === 'ALREADY_ENROLLED'),
        'nobody was turned into "already enrolled"',
      )
      t.ok(waitingIds.size > 0, 'the round had waitlisted students too')
      const state = (await invariants(conn)).find((c) => c.id === course)
      t.same(state, { id: course, capacity: CAPACITY, enrolled: CAPACITY, rows: CAPACITY })
      await next.close()
    })
  }
})
