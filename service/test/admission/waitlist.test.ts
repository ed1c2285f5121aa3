import type { FastifyInstance } from 'fastify'
import t from 'tap'
import type { RowDataPacket } from 'mysql2/promise'
import { courseId, studentId } from '../../src/seed.js'
import {
  configFrom,
  database,
  invariants,
  isolatedEnv,
  login,
  seedDatabase,
  startInstance,
  waitFor,
  STORAGES,
} from '../helper.js'

const CAPACITY = 10
const WAITING = 20
const CANCELS = 5
const NEWCOMERS = 30
const ROUNDS = 5

for (const storage of STORAGES) {
  t.test(
    `cancelled seats go to the waitlist head, never to a faster clicker (${storage})`,
    async (t) => {
      const env = await isolatedEnv(t, 'waitlist', storage)
      const students = CAPACITY + WAITING + NEWCOMERS
      await seedDatabase(configFrom(env), { students, courses: ROUNDS, capacity: CAPACITY })
      const a = await startInstance(t, configFrom(env))
      // The embedded pair is one process: its queue lives in it, so it is one instance.
      const b = storage === 'embedded' ? a : await startInstance(t, configFrom(env))
      const conn = await database(t, configFrom(env))
      const cookie = new Map<string, string>()
      for (let i = 1; i <= students; i += 1)
        cookie.set(studentId(i), await login(i % 2 ? a : b, studentId(i)))
      const holders = Array.from({ length: CAPACITY }, (_, i) => studentId(i + 1))
      const waiting = Array.from({ length: WAITING }, (_, i) => studentId(CAPACITY + i + 1))
      const newcomers = Array.from({ length: NEWCOMERS }, (_, i) =>
        studentId(CAPACITY + WAITING + i + 1),
      )
      const any = (): FastifyInstance => (Math.random() < 0.5 ? a : b)

      const request = (course: string, student: string, waitlist: boolean) =>
        any().inject({
          method: 'POST',
          url: `/api/v1/courses/${course}/enrollment-requests`,
          headers: { cookie: cookie.get(student) as string },
          payload: waitlist ? { waitlist: true } : {},
        })
      const status = async (student: string, requestId: string) =>
        (
          await any().inject({
            method: 'GET',
            url: `/api/v1/enrollment-requests/${requestId}`,
            headers: { cookie: cookie.get(student) as string },
          })
        ).json() as { status: string; position?: number; reason?: string }
      const drained = (course: string) =>
        waitFor(
          `queue of ${course} decided`,
          async () => (await a.sugang.rush.queue.length(course)) === 0,
        )

      for (let round = 1; round <= ROUNDS; round += 1) {
        const course = courseId(round)
        t.test(`round ${round}`, async (t) => {
          for (const s of holders) t.equal((await request(course, s, false)).statusCode, 202)
          await drained(course)
          const waitIds: string[] = []
          for (const s of waiting) {
            const res = await request(course, s, true)
            t.equal(res.statusCode, 202)
            waitIds.push(res.json().requestId)
            await drained(course) // one at a time, so the waitlist order is known
          }
          for (const [i, s] of waiting.entries()) {
            t.same(await status(s, waitIds[i] as string), {
              requestId: waitIds[i],
              courseId: course,
              status: 'waitlisted',
              position: i + 1,
            })
          }

          // Now, all at once: five holders cancel while newcomers hammer the full course.
          const cancelling = holders.slice(0, CANCELS).sort(() => Math.random() - 0.5)
          const results = await Promise.all([
            ...cancelling.map((s) =>
              any().inject({
                method: 'DELETE',
                url: `/api/v1/me/enrollments/${course}`,
                headers: { cookie: cookie.get(s) as string },
              }),
            ),
            ...newcomers.map((s, i) => request(course, s, i % 2 === 0)),
          ])
          t.ok(
            results.slice(0, CANCELS).every((r) => r.statusCode === 204),
            'every cancel succeeded',
          )
          await drained(course)

          const [rows] = await conn.query<RowDataPacket[]>(
            'SELECT student_id, request_id FROM enrollments WHERE course_id = ? ORDER BY student_id',
            [course],
          )
          const expected = [...holders.slice(CANCELS), ...waiting.slice(0, CANCELS)].sort()
          t.same(
            rows.map((r) => r.student_id),
            expected,
            'the seats went to the first five waiting, in order',
          )
          for (const [i, s] of waiting.slice(0, CANCELS).entries()) {
            t.equal(
              (await status(s, waitIds[i] as string)).status,
              'enrolled',
              `${s} sees the promotion`,
            )
          }
          for (const [i, s] of waiting.slice(CANCELS).entries()) {
            const view = await status(s, waitIds[i + CANCELS] as string)
            t.same(
              [view.status, view.position],
              ['waitlisted', i + 1],
              `${s} moved up the waitlist`,
            )
          }
          const [late] = await conn.query<RowDataPacket[]>(
            'SELECT COUNT(*) AS n FROM waitlist WHERE course_id = ? AND student_id IN (?)',
            [course, newcomers],
          )
          t.equal(
            Number(late[0]?.n),
            NEWCOMERS / 2,
            'newcomers who asked to wait queue behind them',
          )
          const state = (await invariants(conn)).find((c) => c.id === course)
          t.same(state, { id: course, capacity: CAPACITY, enrolled: CAPACITY, rows: CAPACITY })
        })
      }
    },
  )
}
