import type { FastifyInstance } from 'fastify'
import { openRedis } from '../../src/adapters/redis/connection.js'
import t from 'tap'
import type { RowDataPacket } from 'mysql2/promise'
import { courseId, studentId } from '../../src/seed.js'
import {
  REDIS_TARGET,
  deleteKeys,
  keysMatching,
  redisClient,
  configFrom,
  database,
  invariants,
  isolatedEnv,
  login,
  seedDatabase,
  startInstance,
  waitFor,
  keysOf,
  injectRetrying503,
  retrying503,
} from '../helper.js'

const STUDENTS = 3_000
const CAPACITY = 30
const ROUNDS = 5
const INSTANCES = 3

interface Sent {
  student: string
  sentAt: number
  ackAt: number
  status: number
  requestId: string
  code: string
}

t.test(
  'a rush from several instances fills a course exactly, fairly, once per student',
  async (t) => {
    const env = await isolatedEnv(t, 'rush')
    const config = configFrom(env, { MYSQL_POOL_SIZE: '12' })
    await seedDatabase(config, { students: STUDENTS, courses: ROUNDS, capacity: CAPACITY })
    const instances: FastifyInstance[] = []
    const bases: string[] = []
    for (let i = 0; i < INSTANCES; i += 1) {
      const app = await startInstance(t, config)
      await app.listen({ host: '127.0.0.1', port: 0 })
      const address = app.server.address()
      if (!address || typeof address === 'string') throw new Error('no address')
      instances.push(app)
      bases.push(`http://127.0.0.1:${address.port}`)
    }
    const cookies = new Map<string, string>()
    for (let i = 1; i <= STUDENTS; i += 1) {
      const id = studentId(i)
      cookies.set(id, await login(instances[i % INSTANCES] as FastifyInstance, id))
    }
    const conn = await database(t, config)
    const redis = redisClient(t)

    for (let round = 1; round <= ROUNDS; round += 1) {
      const course = courseId(round)
      t.test(`round ${round}: ${STUDENTS} concurrent requests for ${CAPACITY} seats`, async (t) => {
        // Every student once, in a shuffled order; one in ten clicks twice at the same moment.
        const order = [...cookies.keys()].sort(() => Math.random() - 0.5)
        const clicks = [...order, ...order.filter((_, i) => i % 10 === 0)]
        const sent: Sent[] = await Promise.all(
          clicks.map(async (student, i) => {
            const base = bases[(i + round) % INSTANCES] as string
            const sentAt = performance.now()
            // A student's browser retries a 503 after its Retry-After, as the contract asks.
            const res = await retrying503(() =>
              fetch(`${base}/api/v1/courses/${course}/enrollment-requests`, {
                method: 'POST',
                headers: {
                  cookie: cookies.get(student) as string,
                  'content-type': 'application/json',
                },
                body: '{}',
              }),
            )
            const ackAt = performance.now()
            const body = (await res.json()) as { requestId?: string; error?: { code: string } }
            return {
              student,
              sentAt,
              ackAt,
              status: res.status,
              requestId: body.requestId ?? '',
              code: body.error?.code ?? '',
            }
          }),
        )
        const statuses = new Set(sent.map((s) => s.status))
        t.ok(
          [...statuses].every((s) => s === 202 || s === 200 || s === 409),
          `statuses ${[...statuses]}`,
        )
        const accepted = sent.filter((s) => s.status === 202 || s.status === 200)

        const byStudent = new Map<string, Set<string>>()
        for (const s of accepted) {
          const set = byStudent.get(s.student) ?? new Set()
          set.add(s.requestId)
          byStudent.set(s.student, set)
        }
        t.ok(
          [...byStudent.values()].every((ids) => ids.size === 1),
          'a student clicking twice gets one request, not two',
        )

        await waitFor('the queue to be decided', async () => {
          return (await redis.zcard(keysOf(env).course(course).queue)) === 0
        })

        // Read each decision through the API, from a random instance.
        const decided = await Promise.all(
          [...byStudent.entries()].map(async ([student, ids]) => {
            const requestId = [...ids][0] as string
            const app = instances[Math.floor(Math.random() * INSTANCES)] as FastifyInstance
            const res = await injectRetrying503(app, {
              method: 'GET',
              url: `/api/v1/enrollment-requests/${requestId}`,
              headers: { cookie: cookies.get(student) as string },
            })
            return { student, requestId, ...(res.json() as { status: string; reason?: string }) }
          }),
        )
        // A 503 does not say whether the request got in before the instance gave up on it (a
        // Redis answer lost to a timeout): the retry then tells the truth. A student told
        // ALREADY_ENROLLED (the course is new this round) was admitted through a request whose
        // id the 503 never carried; MySQL names it.
        const alreadyEnrolled = [
          ...new Set(sent.filter((s) => s.code === 'ALREADY_ENROLLED').map((s) => s.student)),
        ].filter((student) => !byStudent.has(student))
        const admittedUnseen = await Promise.all(
          alreadyEnrolled.map(async (student) => {
            const [held] = await conn.query<RowDataPacket[]>(
              'SELECT request_id FROM enrollments WHERE student_id = ? AND course_id = ?',
              [student, course],
            )
            t.equal(held.length, 1, `${student}, told ALREADY_ENROLLED, holds the seat`)
            return { student, requestId: String(held[0]?.request_id), status: 'enrolled' }
          }),
        )
        const enrolled = [...decided.filter((d) => d.status === 'enrolled'), ...admittedUnseen]
        const rejected = decided.filter((d) => d.status === 'rejected')
        t.equal(enrolled.length, CAPACITY, `exactly ${CAPACITY} enrolled`)
        t.equal(
          rejected.length + enrolled.length,
          decided.length + admittedUnseen.length,
          'every request is decided',
        )
        t.ok(
          rejected.every((d) => d.reason === 'COURSE_FULL'),
          'the rest were turned down as full',
        )

        const [rows] = await conn.query<RowDataPacket[]>(
          'SELECT student_id, request_id FROM enrollments WHERE course_id = ?',
          [course],
        )
        t.equal(rows.length, CAPACITY, 'the database holds exactly the capacity')
        t.same(
          new Set(rows.map((r) => `${r.student_id}/${r.request_id}`)),
          new Set(enrolled.map((d) => `${d.student}/${d.requestId}`)),
          'the enrollments are exactly the requests reported enrolled',
        )
        const state = (await invariants(conn)).find((c) => c.id === course)
        t.same(state, { id: course, capacity: CAPACITY, enrolled: CAPACITY, rows: CAPACITY })

        // First come, first served: the seats went to the earliest arrival numbers...
        const arrival = new Map<string, number>()
        for (const d of [...decided, ...admittedUnseen]) {
          arrival.set(d.requestId, Number(await redis.hget(keysOf(env).request(d.requestId), 'q')))
        }
        const earliest = [...arrival.entries()].sort((a, b) => a[1] - b[1]).slice(0, CAPACITY)
        t.same(
          new Set(earliest.map(([id]) => id)),
          new Set(enrolled.map((d) => d.requestId)),
          'the enrolled are the earliest arrivals',
        )
        // ...and, as the contract states it: a request acknowledged before another was sent is
        // never beaten by it.
        const firstAck = new Map<string, number>()
        const lastSend = new Map<string, number>()
        for (const s of accepted) {
          firstAck.set(s.requestId, Math.min(firstAck.get(s.requestId) ?? Infinity, s.ackAt))
          lastSend.set(s.requestId, Math.min(lastSend.get(s.requestId) ?? Infinity, s.sentAt))
        }
        const latestEnrolledSend = Math.max(...enrolled.map((d) => lastSend.get(d.requestId) ?? 0))
        const earliestRejectedAck = Math.min(
          ...rejected.map((d) => firstAck.get(d.requestId) ?? Infinity),
        )
        t.ok(
          latestEnrolledSend <= earliestRejectedAck,
          'no enrolled request was sent after a rejected one had been acknowledged',
        )
      })
    }
  },
)

t.test('the credit limit holds when students rush several courses at once', async (t) => {
  const env = await isolatedEnv(t, 'credits')
  const config = configFrom(env)
  const students = 600
  await seedDatabase(config, { students, courses: 3, capacity: 250, maxCredits: 6 })
  const a = await startInstance(t, config)
  const b = await startInstance(t, config)
  const conn = await database(t, config)
  const cookies: string[] = []
  for (let i = 1; i <= students; i += 1) cookies.push(await login(i % 2 ? a : b, studentId(i)))

  for (let round = 0; round < 3; round += 1) {
    await conn.query('DELETE FROM enrollments')
    await conn.query('UPDATE courses SET enrolled = 0, version = version + 1')
    const redis = openRedis(REDIS_TARGET)
    await deleteKeys(redis, await keysMatching(redis, keysOf(env).patterns.live))
    for (const c of ['C0001', 'C0002', 'C0003']) await redis.del(keysOf(env).course(c).seats)
    const results = await Promise.all(
      cookies.flatMap((cookie, i) =>
        ['C0001', 'C0002', 'C0003'].map((course) =>
          injectRetrying503(i % 2 ? a : b, {
            method: 'POST',
            url: `/api/v1/courses/${course}/enrollment-requests`,
            headers: { cookie },
            payload: {},
          }),
        ),
      ),
    )
    // A request sent again after a 503 may arrive once its course has filled: then it is told
    // so at the door. Nothing else may happen to a request.
    t.ok(
      results.every(
        (r) =>
          r.statusCode === 202 || (r.statusCode === 409 && r.json().error.code === 'COURSE_FULL'),
      ),
      `round ${round}: all queued (or refused as full after a retry)`,
    )
    await waitFor('all queues decided', async () => {
      const lengths = await Promise.all(
        ['C0001', 'C0002', 'C0003'].map((c) => redis.zcard(keysOf(env).course(c).queue)),
      )
      return lengths.every((n) => n === 0)
    })
    redis.disconnect()
    const [over] = await conn.query<RowDataPacket[]>(
      `SELECT e.student_id, SUM(c.credits) AS credits FROM enrollments e
         JOIN courses c ON c.id = e.course_id GROUP BY e.student_id HAVING credits > 6`,
    )
    t.equal(over.length, 0, `round ${round}: nobody holds more than 6 credits`)
    const state = await invariants(conn)
    t.ok(
      state.every((c) => c.enrolled === c.rows && c.rows <= c.capacity),
      'counts match rows',
    )
    t.equal(
      state.reduce((sum, c) => sum + c.rows, 0),
      Math.min(students * 2, 750),
      'every seat a student could hold within the limit was given',
    )
  }
})
