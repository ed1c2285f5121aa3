/**
 * An operator changes a course's capacity during registration (증원/감원) through the admin API
 * of a running instance, its real queue and admission worker deciding a rush meanwhile, on both
 * adapter pairs (MySQL with Redis, SQLite with the in-process queue):
 * - a raise gives the new seats to the waitlist's head, in order, and to nobody in the queue;
 * - the seat cache and the course list show the new capacity (the door lets a request through);
 * - a lowering never removes an enrollment: below the seats taken it is refused, and nothing
 *   changes; down to the seats taken it closes the course;
 * - the operator's audit row commits with the change, or not at all;
 * - the fairness record holds throughout (auditRecord).
 */
import type { FastifyInstance } from 'fastify'
import t from 'tap'
import { auditRecord, type CourseAudit, type RecordEntry } from '../../src/domain/fairness.js'
import { courseId, studentId } from '../../src/seed.js'
import {
  STORAGES,
  configFrom,
  database,
  invariants,
  isolatedEnv,
  login,
  seedDatabase,
  startInstance,
  waitFor,
  type Sql,
} from '../helper.js'
import { ADMIN_SETTINGS, adminCall, command, type ErrorBody } from '../operations/admin-support.js'

/** What the capacity route answers. */
interface Changed {
  courseId: string
  capacity: number
  enrolled: number
  promoted: Array<{ studentId: string; requestId: string }>
}
type Answer = { status: number; body: Partial<Changed & ErrorBody> }

/** The course's capacity before the raise: this many hold a seat when the rush starts. */
const HOLDERS = 5
/** On the waitlist, in a known order, before the rush. */
const WAITERS = 8
/** New seats: fewer than the waiters, so the raise leaves the course full again. */
const RAISE = 4
const NEWCOMERS = 24
const STUDENTS = HOLDERS + WAITERS + NEWCOMERS

const RUSH = courseId(1)
const DOOR = courseId(2)
const ROLLBACK = courseId(3)

const holders = Array.from({ length: HOLDERS }, (_, i) => studentId(i + 1))
const waiters = Array.from({ length: WAITERS }, (_, i) => studentId(HOLDERS + i + 1))
const newcomers = Array.from({ length: NEWCOMERS }, (_, i) => studentId(HOLDERS + WAITERS + i + 1))

const summary = (a: CourseAudit) => ({ course: a.courseId, breaks: a.breaks })

for (const storage of STORAGES) {
  t.test(`${storage}: capacity changes during registration`, async (t) => {
    const env = await isolatedEnv(t, 'capacity', storage)
    const config = configFrom(env, {
      ...ADMIN_SETTINGS,
      // Small batches: many transactions of the rush come after the raise.
      ADMISSION_MAX_BATCH: '2',
      RECONCILE_INTERVAL_MS: '200',
    })
    await seedDatabase(config, { students: STUDENTS, courses: 3, capacity: HOLDERS })
    /** Runs after each admission batch commits, before the queue hears of it. */
    let afterCommit: (() => Promise<void>) | null = null
    const app = await startInstance(t, config, {
      hooks: { afterCommit: async () => afterCommit?.() },
    })
    const sql = await database(t, config)
    const cookie = new Map<string, string>()
    for (let i = 1; i <= STUDENTS; i += 1) cookie.set(studentId(i), await login(app, studentId(i)))

    const w = world(app, sql, cookie)

    await t.test("a raise during a rush seats the waitlist's head, in order", async (t) => {
      for (const s of holders) t.equal((await w.request(RUSH, s, false)).statusCode, 202)
      await w.drained(RUSH)
      const waitIds: string[] = []
      for (const s of waiters) {
        const res = await w.request(RUSH, s, true)
        t.equal(res.statusCode, 202)
        waitIds.push(res.json().requestId)
        await w.drained(RUSH) // one at a time, so the waitlist's order is known
      }

      // The rush: every newcomer at once, half of them asking to wait. Admission of the course
      // is paused until they are all queued, so that the queue is long when it resumes. After
      // the first batch then, the operator raises the capacity (the worker waits for the answer,
      // so the batches after it come after the raise).
      let raised: (Answer & { queued: number }) | null = null
      afterCommit = async () => {
        const queued = await app.sugang.rush.queue.length(RUSH)
        if (queued === 0) return
        afterCommit = null
        const answer = await w.capacity(RUSH, HOLDERS + RAISE, 'second lecture hall opened')
        raised = { ...answer, queued }
      }
      await command(app, '/pause', { course: RUSH, reason: 'line them up' })
      const sent = await Promise.all(newcomers.map((s, i) => w.request(RUSH, s, i % 2 === 0)))
      const accepted = sent.filter((r) => r.statusCode === 202).length
      t.equal(
        sent.filter((r) => r.json().error?.code === 'COURSE_FULL').length,
        NEWCOMERS - accepted,
        'each newcomer is queued or told at the door that the course is full',
      )
      t.ok(accepted > 2, `${accepted} newcomers queued`)
      t.equal(await app.sugang.rush.queue.length(RUSH), accepted, 'none decided while paused')
      await command(app, '/resume', { course: RUSH, reason: 'all lined up' })
      await w.drained(RUSH)
      afterCommit = null
      const raise = raised as (Answer & { queued: number }) | null
      if (!raise) throw new Error('the raise never ran while requests were queued')
      t.ok(raise.queued > 0, `the raise ran with ${raise.queued} requests still queued`)

      const promoted = waiters
        .slice(0, RAISE)
        .map((s, i) => ({ studentId: s, requestId: waitIds[i] }))
      t.same(raise, {
        status: 200,
        body: { courseId: RUSH, capacity: HOLDERS + RAISE, enrolled: HOLDERS + RAISE, promoted },
        queued: raise.queued,
      })
      t.same(
        await w.enrolled(RUSH),
        [...holders, ...waiters.slice(0, RAISE)].sort(),
        'the new seats went to the first waiters, and to nobody in the queue',
      )
      const place = await w.waitlist(RUSH)
      t.same(
        place.slice(0, WAITERS - RAISE),
        waiters.slice(RAISE),
        'the other waiters moved up, in their order',
      )
      t.ok(
        place.slice(WAITERS - RAISE).every((s) => newcomers.includes(s)),
        'newcomers who asked to wait queue behind them',
      )

      // The record: the capacity entry, then the promotions, in one transaction.
      const entries = await app.sugang.store.recordEntries(RUSH, Number.MAX_SAFE_INTEGER)
      const at = entries.findIndex((e) => e.kind === 'capacity')
      const change = entries[at] as RecordEntry
      t.match(change, { capacity: HOLDERS + RAISE, enrolled: HOLDERS, studentId: '' })
      t.same(
        entries
          .filter((e) => e.batch === change.batch)
          .map((e) => [e.kind, e.studentId, e.requestId]),
        [['capacity', '', null], ...promoted.map((p) => ['promoted', p.studentId, p.requestId])],
        'the capacity entry and the promotions, in the waitlist order, in one transaction',
      )
      const decided = (from: number, to: number) =>
        entries.slice(from, to).filter((e) => e.arrival !== null && newcomers.includes(e.studentId))
      t.ok(decided(0, at).length > 0, 'newcomers were decided before the raise')
      t.ok(decided(at, entries.length).length > 0, 'and after it')
      t.same(await w.broken(), [], 'the fairness record holds')

      // What the students see, once the queue's caches caught up.
      for (const [i, s] of waiters.entries()) {
        const expected =
          i < RAISE ? { status: 'enrolled' } : { status: 'waitlisted', position: i - RAISE + 1 }
        await waitFor(`${s} sees ${expected.status}`, async () => {
          const view = await w.status(s, waitIds[i] as string)
          return view.status === expected.status && view.position === expected.position
        })
      }
      t.pass('the promoted see their seat, the others their new place')

      t.same(await w.actions(), [
        {
          operator: 'registrar',
          action: 'capacity',
          target: RUSH,
          reason: 'second lecture hall opened',
          details: { from: HOLDERS, to: HOLDERS + RAISE, promoted },
        },
      ])
      t.same(
        (await invariants(sql)).find((c) => c.id === RUSH),
        {
          id: RUSH,
          capacity: HOLDERS + RAISE,
          enrolled: HOLDERS + RAISE,
          rows: HOLDERS + RAISE,
        },
      )
    })

    await t.test('the seat cache and the course list show the new capacity', async (t) => {
      const [late, waiting, ...seated] = newcomers.slice(0, HOLDERS + 2)
      for (const s of seated) t.equal((await w.request(DOOR, s, false)).statusCode, 202)
      await w.drained(DOOR)
      t.equal((await w.request(DOOR, waiting as string, true)).statusCode, 202)
      await w.drained(DOOR)
      t.equal(
        (await w.request(DOOR, late as string, false)).json().error?.code,
        'COURSE_FULL',
        'the door refuses while the course is full',
      )

      const raise = await w.capacity(DOOR, HOLDERS + 2, 'more seats')
      t.equal(raise.status, 200)
      t.same(
        raise.body.promoted?.map((p) => p.studentId),
        [waiting],
        'the one waiting takes a new seat; one is left free',
      )
      const res = await w.request(DOOR, late as string, false)
      t.equal(res.statusCode, 202, 'the door lets a request through to the free seat')
      await w.drained(DOOR)
      t.equal((await w.status(late as string, res.json().requestId)).status, 'enrolled')

      const listed = await waitFor('the course list shows the new capacity', async () => {
        const list = await app.inject({
          method: 'GET',
          url: '/api/v1/courses',
          headers: { cookie: cookie.get(late as string) as string },
        })
        const course = list.json().courses.find((c: { id: string }) => c.id === DOOR) as {
          capacity: number
        }
        return course.capacity === HOLDERS + 2 ? course : null
      })
      t.match(listed, { capacity: HOLDERS + 2, enrolled: HOLDERS + 2, seatsLeft: 0 })
      t.same(await w.broken(), [])
    })

    await t.test('a lowering never removes an enrollment', async (t) => {
      const before = await w.enrolled(DOOR)
      const head = await app.sugang.store.recordHead(DOOR)
      const actions = (await w.actions()).length

      const below = await w.capacity(DOOR, before.length - 1, 'hall too small')
      t.equal(below.status, 409)
      t.equal(below.body.error?.code, 'CAPACITY_BELOW_ENROLLED')
      t.match(below.body.error?.message, `${before.length} students hold seats`)
      t.same(await w.enrolled(DOOR), before, 'every enrollment stays')
      t.same(await app.sugang.store.recordHead(DOOR), head, 'nothing recorded')
      t.equal((await w.actions()).length, actions, 'no audit row for a refused change')
      t.match(
        (await invariants(sql)).find((c) => c.id === DOOR),
        { capacity: before.length },
      )

      // One holder cancels (nobody is waiting): the seat stays free until the capacity drops
      // to the seats taken.
      const leaving = before[0] as string
      const cancelled = await app.inject({
        method: 'DELETE',
        url: `/api/v1/me/enrollments/${DOOR}`,
        headers: { cookie: cookie.get(leaving) as string },
      })
      t.equal(cancelled.statusCode, 204)
      const staying = before.slice(1)
      const lowered = await w.capacity(DOOR, staying.length, 'hall too small')
      t.same(lowered, {
        status: 200,
        body: { courseId: DOOR, capacity: staying.length, enrolled: staying.length, promoted: [] },
      })
      t.same(await w.enrolled(DOOR), staying, 'every remaining enrollment stays')
      t.same(
        (await invariants(sql)).find((c) => c.id === DOOR),
        {
          id: DOOR,
          capacity: staying.length,
          enrolled: staying.length,
          rows: staying.length,
        },
      )
      const latest = await app.sugang.store.recordEntries(DOOR, Number.MAX_SAFE_INTEGER)
      t.match(latest.at(-1), { kind: 'capacity', capacity: staying.length })
      t.match((await w.actions())[0], {
        action: 'capacity',
        target: DOOR,
        details: { from: staying.length + 1, to: staying.length, promoted: [] },
      })
      t.equal(
        (await w.request(DOOR, leaving, false)).json().error?.code,
        'COURSE_FULL',
        'the door refuses again: the seat cache took the lower capacity',
      )
      t.same(await w.broken(), [])
    })

    await t.test('the audit row commits with the change, or not at all', async (t) => {
      const store = app.sugang.store
      const cancel = store.cancel.bind(store)
      // The transaction fails after the change and its audit row were written.
      store.cancel = async (student, course, work, heads) =>
        cancel(
          student,
          course,
          async (tx) => {
            await work(tx)
            throw new Error('the transaction fails before its commit')
          },
          heads,
        )
      const failed = await w.capacity(ROLLBACK, HOLDERS + 3, 'rolled back')
      store.cancel = cancel
      t.equal(failed.status, 500)
      t.match(
        (await invariants(sql)).find((c) => c.id === ROLLBACK),
        { capacity: HOLDERS },
      )
      t.same(await store.recordHead(ROLLBACK), { seq: 0, hash: '0'.repeat(64) })
      t.notOk(
        (await w.actions()).some((a) => a.target === ROLLBACK),
        'no audit row without the change',
      )

      const done = await w.capacity(ROLLBACK, HOLDERS + 3, 'committed')
      t.equal(done.status, 200)
      t.match((await w.actions())[0], { target: ROLLBACK, reason: 'committed' })
      t.same(await w.broken(), [])
    })
  })
}

function world(app: FastifyInstance, sql: Sql, cookie: Map<string, string>) {
  return {
    request: (course: string, student: string, waitlist: boolean) =>
      app.inject({
        method: 'POST',
        url: `/api/v1/courses/${course}/enrollment-requests`,
        headers: { cookie: cookie.get(student) as string },
        payload: waitlist ? { waitlist: true } : {},
      }),
    status: async (student: string, requestId: string) =>
      (
        await app.inject({
          method: 'GET',
          url: `/api/v1/enrollment-requests/${requestId}`,
          headers: { cookie: cookie.get(student) as string },
        })
      ).json() as { status: string; position?: number },
    drained: (course: string) =>
      waitFor(
        `queue of ${course} decided`,
        async () => (await app.sugang.rush.queue.length(course)) === 0,
      ),
    capacity: (course: string, capacity: number, reason: string): Promise<Answer> =>
      adminCall<Answer['body']>(app, `/courses/${course}/capacity`, { capacity, reason }),
    enrolled: async (course: string) => {
      const [rows] = await sql.query<Array<{ student_id: string }>>(
        'SELECT student_id FROM enrollments WHERE course_id = ? ORDER BY student_id',
        [course],
      )
      return rows.map((r) => String(r.student_id))
    },
    waitlist: async (course: string) => {
      const [rows] = await sql.query<Array<{ student_id: string }>>(
        'SELECT student_id FROM waitlist WHERE course_id = ? ORDER BY id',
        [course],
      )
      return rows.map((r) => String(r.student_id))
    },
    /** The capacity actions, newest first. */
    actions: async () => {
      const [rows] = await sql.query<Array<Record<string, unknown>>>(
        `SELECT operator, action, target, reason, details FROM operator_actions
          WHERE action = 'capacity' ORDER BY id DESC`,
      )
      return rows.map((r) => ({
        operator: String(r.operator),
        action: String(r.action),
        target: String(r.target),
        reason: String(r.reason),
        details: JSON.parse(String(r.details)) as unknown,
      }))
    },
    broken: async () =>
      (await auditRecord(app.sugang.store)).filter((a) => a.breaks.length > 0).map(summary),
  }
}
