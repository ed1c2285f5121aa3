import type { FastifyInstance } from 'fastify'
import { Redis } from 'ioredis'
import type { RowDataPacket } from 'mysql2/promise'
import t, { type Test as Tap } from 'tap'
import { courseId, studentId } from '../../src/seed.js'
import {
  configFrom,
  database,
  isolatedEnv,
  keysOf,
  login,
  REDIS_URL,
  seedDatabase,
  startInstance,
  waitFor,
  type Sql,
} from '../helper.js'
import { FaultProxy } from '../support/fault-proxy.js'

type View = { status: string; position?: number; reason?: string; requestId?: string }
type Truth = { status: 'enrolled' } | { status: 'waitlisted'; position: number }

/** Where every request stands in MySQL: enrolled, or waitlisted at 1 + the rows ahead of it. */
async function truth(conn: Sql): Promise<Map<string, Truth>> {
  const [waiting] = await conn.query<RowDataPacket[]>(
    `SELECT w.request_id,
            (SELECT COUNT(*) FROM waitlist a WHERE a.course_id = w.course_id AND a.id <= w.id) AS n
       FROM waitlist w`,
  )
  const [enrolled] = await conn.query<RowDataPacket[]>(
    'SELECT request_id FROM enrollments WHERE request_id IS NOT NULL',
  )
  const out = new Map<string, Truth>()
  for (const r of waiting)
    out.set(String(r.request_id), { status: 'waitlisted', position: Number(r.n) })
  for (const r of enrolled) out.set(String(r.request_id), { status: 'enrolled' })
  return out
}

/** Each course's waitlist in MySQL as the mirror should hold it: request id, place, in order. */
async function waitlists(conn: Sql, courses: readonly string[]): Promise<Map<string, string[]>> {
  const [rows] = await conn.query<RowDataPacket[]>(
    'SELECT course_id, request_id, id FROM waitlist ORDER BY id',
  )
  const out = new Map(courses.map((c) => [c, [] as string[]]))
  for (const r of rows) out.get(String(r.course_id))?.push(String(r.request_id), String(r.id))
  return out
}

const COURSES = 4
const CAPACITY = 3
const STUDENTS = 40
const ROUNDS = 10

t.test(
  'a waitlisted student is told what MySQL says through rounds of concurrent cancellations',
  async (t) => {
    const env = await isolatedEnv(t, 'wlstatus')
    // Small batches and a quick reconciler: many settles to race the cancellations, and a
    // waitlist mirror that a change reached out of order is rebuilt within the test.
    const config = configFrom(env, { ADMISSION_MAX_BATCH: '3', RECONCILE_INTERVAL_MS: '200' })
    // Two courses at most per student: a promotion into a third is dropped (CREDIT_LIMIT).
    await seedDatabase(config, {
      students: STUDENTS,
      courses: COURSES,
      capacity: CAPACITY,
      maxCredits: 6,
    })
    const a = await startInstance(t, config)
    const b = await startInstance(t, config)
    const conn = await database(t, config)
    const redis = new Redis(REDIS_URL)
    t.teardown(() => redis.disconnect())
    const keys = keysOf(env)
    const courses = Array.from({ length: COURSES }, (_, i) => courseId(i + 1))
    const students = Array.from({ length: STUDENTS }, (_, i) => studentId(i + 1))
    const cookie = new Map<string, string>()
    for (const [i, s] of students.entries()) cookie.set(s, await login(i % 2 ? a : b, s))
    const any = (): FastifyInstance => (Math.random() < 0.5 ? a : b)
    const pick = <T>(list: readonly T[]): T => list[Math.floor(Math.random() * list.length)] as T
    /** Every request id sent, with its student and course. */
    const sent = new Map<string, { student: string; course: string }>()

    const ask = async (student: string, course: string, waitlist: boolean) => {
      const res = await any().inject({
        method: 'POST',
        url: `/api/v1/courses/${course}/enrollment-requests`,
        headers: { cookie: cookie.get(student) as string },
        payload: waitlist ? { waitlist: true } : {},
      })
      const body = res.json() as View
      if (res.statusCode === 202) sent.set(body.requestId as string, { student, course })
      return { code: res.statusCode, body }
    }
    const status = async (requestId: string): Promise<View> => {
      const owner = sent.get(requestId)?.student as string
      const res = await any().inject({
        method: 'GET',
        url: `/api/v1/enrollment-requests/${requestId}`,
        headers: { cookie: cookie.get(owner) as string },
      })
      if (res.statusCode !== 200) throw new Error(`status ${res.statusCode}: ${res.body}`)
      return res.json() as View
    }
    const cancel = (student: string, course: string) =>
      any().inject({
        method: 'DELETE',
        url: `/api/v1/me/enrollments/${course}`,
        headers: { cookie: cookie.get(student) as string },
      })
    const settled = async () => {
      await waitFor('every queue decided', async () => {
        for (const c of courses) if ((await a.sugang.rush.queue.length(c)) > 0) return false
        return true
      })
      // The mirror may have been left behind by a change that reached it out of order: wait
      // for the reconciler, then it must be MySQL's waitlist exactly.
      await waitFor('every waitlist mirror caught up with its course', async () => {
        for (const c of courses) {
          const [v, wv] = await redis.hmget(keys.course(c).seats, 'v', 'wv')
          if (v !== null && v !== wv) return false
        }
        return true
      })
      const expected = await waitlists(conn, courses)
      for (const c of courses) {
        const mirror = await redis.zrange(keys.course(c).waitlist, 0, -1, 'WITHSCORES')
        t.same(mirror, expected.get(c), `${c}: the mirror is MySQL's waitlist, in its order`)
      }
    }
    /** Every request MySQL holds is answered as MySQL has it. */
    const agree = async (label: string) => {
      const now = await truth(conn)
      let waiting = 0
      for (const [requestId, expected] of now) {
        if (!sent.has(requestId)) continue
        const view = await status(requestId)
        const told =
          view.status === 'waitlisted' ? { status: view.status, position: view.position } : view
        if (expected.status === 'waitlisted') {
          waiting += 1
          if (told.status !== 'waitlisted' || told.position !== expected.position)
            t.fail(
              `${label}: ${requestId} told ${JSON.stringify(told)}, MySQL ${JSON.stringify(expected)}`,
            )
        } else if (told.status !== 'enrolled') {
          t.fail(`${label}: ${requestId} told ${JSON.stringify(told)}, MySQL says enrolled`)
        }
      }
      t.ok(waiting > 0, `${label}: ${waiting} waitlisted requests agree with MySQL`)
      return now
    }

    // Each course filled by its own three holders, then most students wait for two courses.
    await Promise.all(
      courses.flatMap((c, i) =>
        students.slice(i * CAPACITY, (i + 1) * CAPACITY).map((s) => ask(s, c, false)),
      ),
    )
    await settled()
    const waiters = students.slice(COURSES * CAPACITY)
    await Promise.all(
      waiters.flatMap((s, i) => [
        ask(s, courses[i % COURSES] as string, true),
        ask(s, courses[(i + 1) % COURSES] as string, true),
      ]),
    )
    await settled()
    let before = await agree('after the rush')

    for (let round = 1; round <= ROUNDS; round += 1) {
      const [enrolledRows] = await conn.query<RowDataPacket[]>(
        'SELECT student_id, course_id FROM enrollments',
      )
      const held = enrolledRows.map((r) => [String(r.student_id), String(r.course_id)] as const)
      const cancels = [...held].sort(() => Math.random() - 0.5).slice(0, 1 + (round % 4))
      const waitingAtStart = [...before]
        .filter(([id, s]) => s.status === 'waitlisted' && sent.has(id))
        .map(([id]) => id)
      const newcomers = Array.from({ length: 6 }, () => [pick(students), pick(courses)] as const)

      // All at once: cancellations, newcomers asking to wait, and waiting students polling.
      const polls: Array<{ requestId: string; view: View }> = []
      const poll = async (requestId: string) => {
        polls.push({ requestId, view: await status(requestId) })
      }
      const results = await Promise.all([
        ...cancels.map(([s, c]) => cancel(s, c).then((r) => r.statusCode)),
        ...newcomers.map(([s, c]) => ask(s, c, true).then((r) => r.code)),
        ...waitingAtStart.flatMap((id) => [poll(id), poll(id)]).map((p) => p.then(() => 0)),
      ])
      t.ok(
        results.slice(0, cancels.length).every((code) => code === 204),
        `round ${round}: ${cancels.length} cancellations`,
      )
      await settled()
      const after = await agree(`round ${round}`)

      // What a student was told during the round held at some moment of it: a place only moves
      // up, a promotion is never taken back, and a promoted request is never told rejected.
      for (const { requestId, view } of polls) {
        const start = before.get(requestId)
        const end = after.get(requestId)
        const fits =
          view.status === 'waitlisted'
            ? start?.status === 'waitlisted' &&
              (view.position as number) <= start.position &&
              (view.position as number) >= (end?.status === 'waitlisted' ? end.position : 1)
            : view.status === 'enrolled'
              ? end?.status === 'enrolled'
              : view.status === 'rejected' && end === undefined
        if (!fits) {
          t.fail(
            `round ${round}: ${requestId} told ${JSON.stringify(view)} between ${JSON.stringify(start)} and ${JSON.stringify(end)}`,
          )
        }
      }
      t.ok(polls.length > 0, `round ${round}: ${polls.length} answers during the round fit MySQL`)

      // Asking again for a waitlisted request answers with its place as MySQL has it.
      const again = [...after].filter(([id, s]) => s.status === 'waitlisted' && sent.has(id))
      for (const [requestId, state] of again.slice(0, 5)) {
        const { student, course } = sent.get(requestId) as { student: string; course: string }
        const { code, body } = await ask(student, course, true)
        t.same(
          [code, body.requestId, body.status, body.position],
          [200, requestId, 'waitlisted', state.status === 'waitlisted' && state.position],
          `round ${round}: asking again for ${requestId}`,
        )
      }
      before = after
    }
  },
)

/**
 * One instance whose MySQL connections go through a fault proxy (to cut MySQL off, or to hold a
 * COMMIT's reply), on one course of capacity 1 with `students` students logged in. The
 * reconciler only runs when the test sweeps.
 */
async function proxied(t: Tap, name: string, students: number) {
  const env = await isolatedEnv(t, name)
  await seedDatabase(configFrom(env), { students, courses: 1, capacity: 1 })
  const direct = new URL(env.DATABASE_URL as string)
  const proxy = await FaultProxy.start({ targetPort: Number(direct.port || 3306) })
  t.teardown(() => proxy.close())
  const app = await startInstance(
    t,
    configFrom(env, {
      DATABASE_URL: proxy.url('mysql', direct.pathname),
      RECONCILE_INTERVAL_MS: '600000',
    }),
  )
  const conn = await database(t, configFrom(env))
  const redis = new Redis(REDIS_URL)
  t.teardown(() => redis.disconnect())
  const course = keysOf(env).course('C0001')
  const cookies = new Map<string, string>()
  for (let i = 1; i <= students; i += 1) cookies.set(studentId(i), await login(app, studentId(i)))
  const requests = new Map<string, string>()

  const ask = (student: string) =>
    app.inject({
      method: 'POST',
      url: '/api/v1/courses/C0001/enrollment-requests',
      headers: { cookie: cookies.get(student) as string },
      payload: { waitlist: true },
    })
  return {
    app,
    proxy,
    conn,
    redis,
    course,
    cookies,
    requests,
    ask,
    /** Asks for a seat or a waitlist place; the request id is kept for `status`. */
    async request(student: string): Promise<string> {
      const res = await ask(student)
      if (res.statusCode !== 202) throw new Error(`${student}: ${res.statusCode} ${res.body}`)
      const requestId = (res.json() as View).requestId as string
      requests.set(student, requestId)
      return requestId
    },
    status: (student: string) =>
      app.inject({
        method: 'GET',
        url: `/api/v1/enrollment-requests/${requests.get(student)}`,
        headers: { cookie: cookies.get(student) as string },
      }),
    /** What MySQL says of each student's request (undefined: neither enrolled nor waiting). */
    async truthOf(...students: string[]): Promise<Array<Truth | undefined>> {
      const now = await truth(conn)
      return students.map((s) => now.get(requests.get(s) as string))
    },
    /** What the service tells each student. */
    async told(...students: string[]): Promise<View[]> {
      const views: View[] = []
      for (const s of students) {
        const res = await this.status(s)
        if (res.statusCode !== 200) throw new Error(`${s}: ${res.statusCode} ${res.body}`)
        const { status, position } = res.json() as View
        views.push(position === undefined ? { status } : { status, position })
      }
      return views
    },
    drained: () =>
      waitFor('the queue decided', async () => (await app.sugang.rush.queue.length('C0001')) === 0),
    /** The seat cache's version and the version the waitlist mirror holds every change through. */
    versions: () => redis.hmget(course.seats, 'v', 'wv'),
    cancel: (student: string) =>
      app.inject({
        method: 'DELETE',
        url: '/api/v1/me/enrollments/C0001',
        headers: { cookie: cookies.get(student) as string },
      }),
  }
}

t.test(
  "while a cancellation's promotion is committed but not yet in Redis, MySQL answers",
  async (t) => {
    const w = await proxied(t, 'wlinflight', 4)
    const [holder, first, second, third] = [1, 2, 3, 4].map((i) => studentId(i)) as [
      string,
      string,
      string,
      string,
    ]
    for (const s of [holder, first, second, third]) {
      await w.request(s)
      await w.drained()
    }
    t.same(
      await w.told(first, second, third),
      [1, 2, 3].map((position) => ({ status: 'waitlisted', position })),
    )

    let held = false
    w.proxy.onMysqlCommit(
      async () => {
        held = true
        // Committed in MySQL: the head took the seat. Redis has only the cancellation's mark.
        t.same(await w.truthOf(first, second, third), [
          { status: 'enrolled' },
          { status: 'waitlisted', position: 1 },
          { status: 'waitlisted', position: 2 },
        ])
        t.same(
          await w.told(first, second, third),
          [
            { status: 'enrolled' },
            { status: 'waitlisted', position: 1 },
            { status: 'waitlisted', position: 2 },
          ],
          'every waiting student is told what MySQL says, not what Redis last heard',
        )
      },
      { after: /DELETE FROM enrollments/ },
    )
    t.equal((await w.cancel(holder)).statusCode, 204)
    t.ok(held, 'the cancellation was held between its COMMIT and its Redis update')
    const [v, wv] = await w.versions()
    t.equal(wv, v, 'the mirror took the cancellation')
    t.same(await w.told(first, second, third), [
      { status: 'enrolled' },
      { status: 'waitlisted', position: 1 },
      { status: 'waitlisted', position: 2 },
    ])
  },
)

t.test(
  "a batch's Redis update that a cancellation overtook puts no one back on the waitlist",
  async (t) => {
    const w = await proxied(t, 'wlovertaken', 4)
    const [holder, first, second, third] = [1, 2, 3, 4].map((i) => studentId(i)) as [
      string,
      string,
      string,
      string,
    ]
    await w.request(holder)
    await w.drained()

    // The batch that puts `first` and `second` on the waitlist commits; before its Redis update,
    // the holder cancels and `first` is promoted, all the way to Redis.
    let held = false
    w.proxy.onMysqlCommit(
      async () => {
        held = true
        t.equal((await w.cancel(holder)).statusCode, 204)
      },
      { after: /INSERT INTO waitlist/ },
    )
    await Promise.all([w.request(first), w.request(second)])
    await w.drained()
    t.ok(held, 'the cancellation ran between the batch COMMIT and its Redis update')
    t.same(await w.truthOf(first, second), [
      { status: 'enrolled' },
      { status: 'waitlisted', position: 1 },
    ])
    const [v, wv] = await w.versions()
    t.not(wv, v, 'the late update left the mirror behind the seat cache')
    t.same(
      await w.told(first, second),
      [{ status: 'enrolled' }, { status: 'waitlisted', position: 1 }],
      'the promoted student is told enrolled, the next one their place',
    )

    // The reconciler sees the mirror behind MySQL and rebuilds it (at once: the change out of
    // order also left the markers unknown, and no write in flight brings them back).
    const repaired = [
      ...(await w.app.sugang.reconciler.sweep()),
      ...(await w.app.sugang.reconciler.sweep()),
    ]
    t.same(repaired, ['C0001'], 'the course is repaired, once')
    const [v2, wv2] = await w.versions()
    t.equal(wv2, v2, 'the mirror caught up')
    t.same(
      await w.redis.zrange(w.course.waitlist, 0, -1),
      [w.requests.get(second)],
      "it holds MySQL's waitlist",
    )
    await w.request(third)
    await w.drained()
    t.same(await w.told(first, second, third), [
      { status: 'enrolled' },
      { status: 'waitlisted', position: 1 },
      { status: 'waitlisted', position: 2 },
    ])
  },
)

t.test("a waitlisted student's status check does not read MySQL", async (t) => {
  const w = await proxied(t, 'wlnomysql', 4)
  const students = [1, 2, 3, 4].map((i) => studentId(i))
  for (const s of students) {
    await w.request(s)
    await w.drained()
  }
  const waiting = students.slice(1)
  t.same(
    await w.truthOf(...waiting),
    [1, 2, 3].map((position) => ({ status: 'waitlisted', position })),
    'MySQL has three waiting, in order',
  )
  await waitFor('the waitlist mirror to catch up', async () => {
    const [v, wv] = await w.versions()
    return v !== null && v === wv
  })

  // Asking again may need the student's grade year (openings by year), which a login leaves in
  // memory for a minute.
  const again = waiting[1] as string
  w.cookies.set(again, await login(w.app, again))
  // MySQL is cut off from the instance: anything that reads it now fails with a 503.
  w.proxy.refuse(true)
  w.proxy.resetAll()
  for (const [i, s] of waiting.entries()) {
    const res = await w.status(s)
    t.equal(res.statusCode, 200, `${s}: answered without MySQL`)
    t.same(res.json(), {
      requestId: w.requests.get(s),
      courseId: 'C0001',
      status: 'waitlisted',
      position: i + 1,
    })
  }
  const res = await w.ask(again)
  t.equal(res.statusCode, 200, 'asking again is answered without MySQL too')
  t.match(res.json(), { requestId: w.requests.get(again), status: 'waitlisted', position: 2 })

  // While a cancellation may be promoting the head, only MySQL can answer: the cut shows.
  const head = waiting[0] as string
  await w.app.sugang.rush.seats.markCancellation('C0001', 'probe', 60_000)
  t.equal((await w.status(head)).statusCode, 503, 'a cancellation in flight sends it to MySQL')
  await w.app.sugang.rush.seats.unmarkCancellation('C0001', 'probe')
  t.equal((await w.status(head)).statusCode, 200)
  w.proxy.refuse(false)
})
