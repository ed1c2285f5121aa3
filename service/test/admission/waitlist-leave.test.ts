import { request as httpRequest, type IncomingMessage } from 'node:http'
import type { FastifyInstance } from 'fastify'
import { Redis } from 'ioredis'
import type { RowDataPacket } from 'mysql2/promise'
import t, { type Test as Tap } from 'tap'
import { Cancellation } from '../../src/domain/cancellation.js'
import { courseId, studentId } from '../../src/seed.js'
import {
  configFrom,
  database,
  invariants,
  isolatedEnv,
  keysOf,
  REDIS_URL,
  login,
  seedDatabase,
  startInstance,
  waitFor,
  STORAGES,
  type Sql,
} from '../helper.js'
import { takeEvents } from '../support/sse.js'

type View = { requestId?: string; status: string; position?: number; reason?: string }

const WAITING = 6
const ROUNDS = 10

/** The course's waitlist in MySQL, in order: student ids. */
async function waitlistOf(conn: Sql, course: string): Promise<string[]> {
  const [rows] = await conn.query<RowDataPacket[]>(
    'SELECT student_id FROM waitlist WHERE course_id = ? ORDER BY id',
    [course],
  )
  return rows.map((r) => String(r.student_id))
}

async function enrolledIn(conn: Sql, course: string): Promise<string[]> {
  const [rows] = await conn.query<RowDataPacket[]>(
    'SELECT student_id FROM enrollments WHERE course_id = ? ORDER BY student_id',
    [course],
  )
  return rows.map((r) => String(r.student_id))
}

/** Collects the `request` events of one event stream, as the page's EventSource would. */
function watch(base: string, cookie: string, requestId: string) {
  const events: View[] = []
  const req = httpRequest(`${base}/api/v1/me/events?requests=${requestId}`, {
    headers: { cookie, accept: 'text/event-stream' },
  })
  req.on('error', () => undefined)
  req.on('response', (res: IncomingMessage) => {
    let buffer = ''
    res.setEncoding('utf8')
    res.on('data', (chunk: string) => {
      const taken = takeEvents(buffer + chunk)
      buffer = taken.rest
      for (const { event, data } of taken.events) {
        if (event === 'request' && data) events.push(JSON.parse(data) as View)
      }
    })
    res.on('error', () => undefined)
  })
  req.end()
  return { events, close: () => req.destroy() }
}

/** Two instances over MySQL and Redis (one for the embedded pair), students logged in. */
async function world(
  t: Tap,
  storage: (typeof STORAGES)[number],
  students: number,
  settings: Record<string, string> = {},
) {
  const env = { ...(await isolatedEnv(t, 'wlleave', storage)), ...settings }
  await seedDatabase(configFrom(env), { students, courses: ROUNDS, capacity: 1 })
  const a = await startInstance(t, configFrom(env))
  const b = storage === 'embedded' ? a : await startInstance(t, configFrom(env))
  const conn = await database(t, configFrom(env))
  const cookie = new Map<string, string>()
  for (let i = 1; i <= students; i += 1) {
    cookie.set(studentId(i), await login(i % 2 ? a : b, studentId(i)))
  }
  const any = (): FastifyInstance => (Math.random() < 0.5 ? a : b)
  const call = (method: 'GET' | 'POST' | 'DELETE', url: string, student: string, body?: object) =>
    any().inject({
      method,
      url,
      headers: { cookie: cookie.get(student) as string },
      ...(body ? { payload: body } : {}),
    })
  const request = async (course: string, student: string, waitlist: boolean) => {
    const res = await call(
      'POST',
      `/api/v1/courses/${course}/enrollment-requests`,
      student,
      waitlist ? { waitlist: true } : {},
    )
    if (res.statusCode !== 202) throw new Error(`request: ${res.statusCode} ${res.body}`)
    return (res.json() as { requestId: string }).requestId
  }
  const status = async (student: string, requestId: string) =>
    (await call('GET', `/api/v1/enrollment-requests/${requestId}`, student)).json() as View
  const leave = (course: string, student: string) =>
    call('DELETE', `/api/v1/me/waitlist/${course}`, student)
  const cancel = (course: string, student: string) =>
    call('DELETE', `/api/v1/me/enrollments/${course}`, student)
  const drained = (course: string) =>
    waitFor(
      `queue of ${course} decided`,
      async () => (await a.sugang.rush.queue.length(course)) === 0,
    )
  /** A holder with the one seat, then students waitlisted one at a time (a known order). */
  const fill = async (course: string, holder: string, waiting: readonly string[]) => {
    await request(course, holder, false)
    await drained(course)
    const ids: string[] = []
    for (const s of waiting) {
      ids.push(await request(course, s, true))
      await drained(course)
    }
    return ids
  }
  return { env, a, conn, cookie, request, status, leave, cancel, drained, fill }
}

for (const storage of STORAGES) {
  t.test(
    `a student leaves a waitlist: the place is given up, everyone behind moves up, watchers are told (${storage})`,
    async (t) => {
      const w = await world(t, storage, 1 + WAITING)
      await w.a.listen({ host: '127.0.0.1', port: 0 })
      const address = w.a.server.address()
      if (!address || typeof address === 'string') throw new Error('no address')
      const base = `http://127.0.0.1:${address.port}`
      const holder = studentId(1)
      const waiting = Array.from({ length: WAITING }, (_, i) => studentId(i + 2))

      const course = courseId(1)
      const ids = await w.fill(course, holder, waiting)
      const watcher = waiting[4] as string
      const stream = watch(base, w.cookie.get(watcher) as string, ids[4] as string)
      t.teardown(() => stream.close())
      await waitFor('the watcher to see place 5', async () =>
        stream.events.some((e) => e.position === 5),
      )

      const leaver = waiting[1] as string
      // Through the watcher's instance, which pushes at its next tick; another instance's
      // watchers hear of it at their next re-read of waitlisted requests.
      const res = await w.a.inject({
        method: 'DELETE',
        url: `/api/v1/me/waitlist/${course}`,
        headers: { cookie: w.cookie.get(leaver) as string },
      })
      t.equal(res.statusCode, 204, 'the place is given up')
      t.same(await w.status(leaver, ids[1] as string), {
        requestId: ids[1],
        courseId: course,
        status: 'rejected',
        reason: 'LEFT_WAITLIST',
      })
      const stay = waiting.filter((s) => s !== leaver)
      const stayIds = ids.filter((_, i) => i !== 1)
      for (const [i, s] of stay.entries()) {
        const view = await w.status(s, stayIds[i] as string)
        t.same([view.status, view.position], ['waitlisted', i + 1], `${s} is now ${i + 1}`)
      }
      t.same(await waitlistOf(w.conn, course), stay, 'MySQL no longer holds the place')
      if (storage === 'mysql-redis') {
        const redis = new Redis(REDIS_URL)
        t.teardown(() => redis.quit())
        const keys = keysOf(w.env).course(course)
        t.same(
          await redis.zrange(keys.waitlist, 0, -1),
          stayIds,
          "Redis's mirror of the waitlist follows, in order",
        )
        const [rows] = await w.conn.query<RowDataPacket[]>(
          'SELECT version FROM courses WHERE id = ?',
          [course],
        )
        t.equal(
          await redis.hget(keys.seats, 'wv'),
          String(rows[0]?.version),
          'at the version MySQL has',
        )
      }
      await waitFor('the watcher to be pushed place 4', async () =>
        stream.events.some((e) => e.position === 4),
      )

      const again = await w.leave(course, leaver)
      t.equal(again.statusCode, 404)
      t.equal((again.json() as { error: { code: string } }).error.code, 'NOT_WAITLISTED')
      t.equal((await w.leave(course, holder)).statusCode, 404, 'an enrolled student has no place')

      // Leaving is not for good: asking again puts the student at the end.
      const back = await w.request(course, leaver, true)
      await w.drained(course)
      const view = await w.status(leaver, back)
      t.same([view.status, view.position], ['waitlisted', WAITING])

      // The seat a cancellation frees goes to the head, not to the one who left.
      t.equal((await w.cancel(course, holder)).statusCode, 204)
      t.same(await enrolledIn(w.conn, course), [waiting[0]])
      const state = (await invariants(w.conn)).find((c) => c.id === course)
      t.same(state, { id: course, capacity: 1, enrolled: 1, rows: 1 })
    },
  )

  t.test(
    `leaving while the seat is handed to the waitlist head neither loses the seat nor gives it to one who left (${storage})`,
    async (t) => {
      const w = await world(t, storage, 1 + 4)
      const holder = studentId(1)
      const waiting = [studentId(2), studentId(3), studentId(4), studentId(5)]
      for (let round = 1; round <= ROUNDS; round += 1) {
        const course = courseId(round)
        const ids = await w.fill(course, holder, waiting)
        // The head and the next one leave while the holder cancels, in a random order.
        const leaving = [waiting[0] as string, waiting[1] as string]
        const calls = [
          { who: holder, run: () => w.cancel(course, holder) },
          ...leaving.map((s) => ({ who: s, run: () => w.leave(course, s) })),
        ].sort(() => Math.random() - 0.5)
        const answers = await Promise.all(calls.map((c) => c.run()))
        const answer = new Map(calls.map((c, i) => [c.who, answers[i]?.statusCode]))
        t.equal(answer.get(holder), 204, `round ${round}: the cancellation went through`)
        const left = leaving.filter((s) => answer.get(s) === 204)
        for (const s of leaving) {
          t.ok([204, 404].includes(answer.get(s) ?? 0), `round ${round}: ${s} left or was promoted`)
        }
        const enrolled = await enrolledIn(w.conn, course)
        t.equal(enrolled.length, 1, `round ${round}: the freed seat is taken, once`)
        t.notOk(
          left.includes(enrolled[0] as string),
          `round ${round}: not by a student whose leave was confirmed`,
        )
        // The seat went to the first in line who had not left when it was handed over.
        const stillWaiting = waiting.filter((s) => !left.includes(s) && s !== enrolled[0])
        t.same(await waitlistOf(w.conn, course), stillWaiting, `round ${round}: the rest wait`)
        t.equal(
          enrolled[0],
          waiting.find((s) => !left.includes(s)),
          `round ${round}: in waitlist order`,
        )
        // Every student is told what MySQL says.
        for (const [i, s] of waiting.entries()) {
          const view = await w.status(s, ids[i] as string)
          if (s === enrolled[0]) t.equal(view.status, 'enrolled', `round ${round}: ${s} enrolled`)
          else if (left.includes(s))
            t.same([view.status, view.reason], ['rejected', 'LEFT_WAITLIST'])
          else
            t.same(
              [view.status, view.position],
              ['waitlisted', stillWaiting.indexOf(s) + 1],
              `round ${round}: ${s} waits at its new place`,
            )
        }
        const state = (await invariants(w.conn)).find((c) => c.id === course)
        t.same(state, { id: course, capacity: 1, enrolled: 1, rows: 1 })
        // Everyone gives the course up, so the next round starts with no credits held.
        for (let seat = enrolled[0]; seat; seat = (await enrolledIn(w.conn, course))[0]) {
          t.equal((await w.cancel(course, seat)).statusCode, 204)
        }
      }
    },
  )
}

t.test(
  'a leave committed in MySQL whose report never reached Redis (the instance died) is answered from MySQL and repaired',
  { skip: !STORAGES.includes('mysql-redis') && 'needs MySQL and Redis' },
  async (t) => {
    const w = await world(t, 'mysql-redis', 1 + WAITING, { RECONCILE_INTERVAL_MS: '200' })
    const holder = studentId(1)
    const waiting = Array.from({ length: WAITING }, (_, i) => studentId(i + 2))
    for (let round = 1; round <= 3; round += 1) {
      const course = courseId(round)
      const ids = await w.fill(course, holder, waiting)
      const leaver = waiting[round] as string
      // The same steps as the route's, by an instance that dies right after the COMMIT: the
      // in-flight mark stays, Redis never hears of the change, nothing retries it.
      const { store, rush } = w.a.sugang
      const dying = new Cancellation(
        {
          store,
          seats: {
            markCancellation: (c, id, ttl) => rush.seats.markCancellation(c, id, ttl),
            unmarkCancellation: (c, id) => rush.seats.unmarkCancellation(c, id),
            reflectCancellation: async () => {
              throw new Error('the instance died after its COMMIT')
            },
            versions: (c) => rush.seats.versions(c),
            repair: (c, snapshot) => rush.seats.repair(c, snapshot),
          },
        },
        { reflectionFailed: () => undefined, reflected: () => undefined },
      )
      t.match(await dying.leaveWaitlist(leaver, course), { ok: true })
      dying.stop()

      const stay = waiting.filter((s) => s !== leaver)
      const stayIds = ids.filter((_, i) => i !== round)
      t.equal((await w.status(leaver, ids[round] as string)).status, 'rejected', 'no place left')
      for (const [i, s] of stay.entries()) {
        const view = await w.status(s, stayIds[i] as string)
        t.same([view.status, view.position], ['waitlisted', i + 1], `${s} is told ${i + 1}`)
      }
      const redis = new Redis(REDIS_URL)
      t.teardown(() => redis.quit())
      const keys = keysOf(w.env).course(course)
      await waitFor('the reconciler to rebuild the mirror', async () => {
        const mirror = await redis.zrange(keys.waitlist, 0, -1)
        return JSON.stringify(mirror) === JSON.stringify(stayIds)
      })
      // The freed place was never a seat: the course still holds its one student.
      t.same(await enrolledIn(w.conn, course), [holder])
      t.equal((await w.cancel(course, holder)).statusCode, 204)
      t.same(await enrolledIn(w.conn, course), [stay[0]], 'the head takes the seat')
    }
  },
)
