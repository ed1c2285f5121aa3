import t from 'tap'
import type { FastifyInstance } from 'fastify'
import {
  configFrom,
  database,
  isolatedEnv,
  login,
  seedDatabase,
  startInstance,
  waitFor,
  STORAGES,
} from '../helper.js'

const meet = (day: string, start: number, end: number) => [{ day, start, end, room: '공학관 301' }]

async function call(
  app: FastifyInstance,
  cookie: string,
  method: string,
  url: string,
  payload?: object,
) {
  const res = await app.inject({
    method: method as 'GET',
    url: `/api/v1${url}`,
    headers: { cookie },
    ...(payload ? { payload } : {}),
  })
  // The shape of each body is what the assertions check.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  return { status: res.statusCode, body: res.body ? (res.json() as Record<string, any>) : null }
}

async function decided(app: FastifyInstance, cookie: string, requestId: string) {
  return waitFor(`request ${requestId} to be decided`, async () => {
    const { body } = await call(app, cookie, 'GET', `/enrollment-requests/${requestId}`)
    return body?.status === 'queued' ? null : (body as { status: string; reason?: string })
  })
}

for (const storage of STORAGES) {
  t.test(
    `grade-year windows, the cart, time conflicts and the timetable (${storage})`,
    async (t) => {
      const env = await isolatedEnv(t, 'timetable', storage)
      const now = Date.now()
      const general = new Date(now + 3_600_000)
      const year4 = new Date(now - 60_000)
      const config = configFrom(env, {
        REGISTRATION_OPENS_AT: general.toISOString(),
        REGISTRATION_OPENS_AT_BY_YEAR: `4=${year4.toISOString()}`,
      })
      await seedDatabase(config, { students: 6, courses: 4, capacity: 30 })
      const db = await database(t, config)
      const setMeetings = (id: string, meetings: object) =>
        db.query('UPDATE courses SET meetings = ? WHERE id = ?', [JSON.stringify(meetings), id])
      await setMeetings('C0001', meet('MON', 3, 4))
      await setMeetings('C0002', meet('MON', 4, 5)) // clashes with C0001
      await setMeetings('C0003', meet('TUE', 1, 2))
      await setMeetings('C0004', meet('TUE', 2, 3)) // clashes with C0003
      await db.query("UPDATE courses SET capacity = 1 WHERE id = 'C0004'")
      await db.query("UPDATE students SET year = 4 WHERE id IN ('S000002', 'S000003', 'S000004')")
      const app = await startInstance(t, config)
      const first = await login(app, 'S000001')
      const senior = await login(app, 'S000002')
      const holder = await login(app, 'S000003')
      const waiter = await login(app, 'S000004')

      t.test('a year-1 student waits for the general opening, and is told when', async (t) => {
        const me = await call(app, first, 'GET', '/me')
        t.equal(me.status, 200)
        t.match(me.body, {
          studentId: 'S000001',
          year: 1,
          registration: { opensAt: general.toISOString(), open: false },
        })
        const asked = await call(app, first, 'POST', '/courses/C0001/enrollment-requests', {})
        t.equal(asked.status, 403)
        t.same(asked.body?.error.code, 'REGISTRATION_CLOSED')
        t.equal(asked.body?.error.opensAt, general.toISOString(), 'with the opening time')

        for (const c of ['C0003', 'C0001'])
          t.equal((await call(app, first, 'PUT', `/me/cart/${c}`)).status, 204)
        t.same(
          (await call(app, first, 'GET', '/me/cart')).body?.items.map(
            (i: { courseId: string }) => i.courseId,
          ),
          ['C0003', 'C0001'],
          'the cart fills before opening',
        )
        const early = await call(app, first, 'POST', '/me/cart/enrollment-requests', {})
        t.equal(early.status, 403, 'but is requested only once the window opens')
        t.equal(early.body?.error.opensAt, general.toISOString())
        t.equal((await call(app, first, 'PUT', '/me/cart/C9999')).status, 404)
        t.equal((await call(app, first, 'DELETE', '/me/cart/C0001')).status, 204)
        t.equal((await call(app, first, 'DELETE', '/me/cart/C0001')).status, 404)
      })

      t.test(
        'a senior requests the whole cart; a clashing course is a TIME_CONFLICT',
        async (t) => {
          t.equal((await call(app, senior, 'GET', '/me')).body?.registration.open, true)
          for (const c of ['C0002', 'C0001', 'C0003'])
            await call(app, senior, 'PUT', `/me/cart/${c}`)
          const asked = await call(app, senior, 'POST', '/me/cart/enrollment-requests')
          t.equal(asked.status, 200)
          const results = asked.body?.results as Array<{
            courseId: string
            requestId: string
            status: string
          }>
          t.same(
            results.map((r) => [r.courseId, r.status]),
            [
              ['C0002', 'queued'],
              ['C0001', 'queued'],
              ['C0003', 'queued'],
            ],
            'one queue entry per course, in the cart order',
          )
          const outcomes = new Map<string, string>()
          for (const r of results) {
            const d = await decided(app, senior, r.requestId)
            outcomes.set(r.courseId, d.status === 'rejected' ? (d.reason as string) : d.status)
          }
          t.equal(outcomes.get('C0003'), 'enrolled')
          t.same(
            [outcomes.get('C0001'), outcomes.get('C0002')].sort(),
            ['TIME_CONFLICT', 'enrolled'],
            'of two clashing courses, one is taken and the other refused',
          )
          const timetable = await call(app, senior, 'GET', '/me/timetable')
          t.equal(timetable.body?.totalCredits, 6)
          t.equal(timetable.body?.maxCredits, 18)
          t.same(
            timetable.body?.courses.map((c: { courseId: string }) => c.courseId).sort(),
            ['C0003', outcomes.get('C0001') === 'enrolled' ? 'C0001' : 'C0002'].sort(),
          )
          t.same(
            timetable.body?.courses.find((c: { courseId: string }) => c.courseId === 'C0003')
              ?.meetings,
            meet('TUE', 1, 2),
          )
        },
      )

      t.test(
        'a waitlisted student whose timetable changed is passed over for the freed seat',
        async (t) => {
          const take = await call(app, holder, 'POST', '/courses/C0004/enrollment-requests', {})
          t.equal((await decided(app, holder, take.body?.requestId)).status, 'enrolled')
          const wait = await call(app, waiter, 'POST', '/courses/C0004/enrollment-requests', {
            waitlist: true,
          })
          t.equal((await decided(app, waiter, wait.body?.requestId)).status, 'waitlisted')
          // Meanwhile the waiting student takes a course that meets at the same time.
          const other = await call(app, waiter, 'POST', '/courses/C0003/enrollment-requests', {})
          t.equal((await decided(app, waiter, other.body?.requestId)).status, 'enrolled')

          t.equal((await call(app, holder, 'DELETE', '/me/enrollments/C0004')).status, 204)
          const after = await decided(app, waiter, wait.body?.requestId)
          t.same([after.status, after.reason], ['rejected', 'TIME_CONFLICT'])
          const [rows] = await db.query(
            "SELECT COUNT(*) AS n FROM enrollments WHERE course_id = 'C0004'",
          )
          t.equal(Number((rows as Array<{ n: number }>)[0]?.n), 0, 'the seat stays free')
        },
      )
    },
  )
}
