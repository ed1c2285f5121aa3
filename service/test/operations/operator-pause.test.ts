// Operators pause, resume and throttle admission through the admin listener. While a course is
// paused students still join its queue and keep their places, and nothing is decided (not even
// when a batch is asked for by hand); resumed, the queue is decided in arrival order, which the
// fairness record shows. Every command leaves an operator_actions row. A second instance on the
// same MySQL and Redis obeys a pause set through the first.
import t, { type Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { auditRecord } from '../../src/domain/fairness.js'
import { studentId } from '../../src/seed.js'
import {
  configFrom,
  database,
  isolatedEnv,
  login,
  seedDatabase,
  startInstance,
  STORAGES,
  waitFor,
} from '../helper.js'
import {
  ADMIN_SETTINGS,
  adminCall,
  ask,
  command,
  requestState,
  type ErrorBody,
} from './admin-support.js'

/** Students ask one after another; each answer must be 202 queued. Their request ids. */
async function askInTurn(
  t: Test,
  app: FastifyInstance,
  cookies: Map<string, string>,
  courseId: string,
  students: readonly number[],
  waitlistFrom = Infinity,
): Promise<string[]> {
  const ids: string[] = []
  const positions: number[] = []
  for (const [i, n] of students.entries()) {
    const res = await ask(app, cookies.get(studentId(n)) as string, courseId, i >= waitlistFrom)
    t.equal(res.status, 202, `${studentId(n)} joins ${courseId}'s queue`)
    t.equal(res.body.status, 'queued')
    ids.push(res.body.requestId)
    positions.push(res.body.position)
  }
  t.same(
    positions,
    students.map((_, i) => i + 1),
    `${courseId}: each one queued behind the ones before it`,
  )
  return ids
}

/** How many decisions the decision-wait histogram counted, through a pause and not. */
async function waitsCounted(app: FastifyInstance): Promise<{ paused: number; unpaused: number }> {
  const metric = await app.metrics.registry.getSingleMetric('sugang_decision_wait_seconds')?.get()
  const count = (paused: string) =>
    metric?.values.find(
      (v) =>
        (v as { metricName?: string }).metricName === 'sugang_decision_wait_seconds_count' &&
        v.labels.paused === paused,
    )?.value ?? 0
  return { paused: count('true'), unpaused: count('false') }
}

/** Asks for a batch of each course by hand, then checks that nothing was decided. */
async function nothingDecided(
  t: Test,
  app: FastifyInstance,
  cookies: Map<string, string>,
  queued: ReadonlyArray<{ courseId: string; students: readonly number[]; ids: string[] }>,
): Promise<void> {
  for (const { courseId } of queued) await app.sugang.worker.drain(courseId)
  for (const { courseId, students, ids } of queued) {
    t.equal(
      await app.sugang.rush.queue.length(courseId),
      ids.length,
      `${courseId}: every request still waits`,
    )
    const states = await Promise.all(
      ids.map((id, i) => requestState(app, cookies.get(studentId(students[i] ?? 0)) as string, id)),
    )
    t.same(
      states,
      ids.map((requestId, i) => ({ requestId, courseId, status: 'queued', position: i + 1 })),
      `${courseId}: all queued, in their places`,
    )
  }
}

/** The course's record holds, and the seats went to the earliest arrivals. */
async function decidedInArrivalOrder(
  t: Test,
  app: FastifyInstance,
  courseId: string,
  seated: readonly string[],
): Promise<void> {
  const store = app.sugang.store
  const [audit] = await auditRecord(store, courseId)
  t.same(audit?.breaks, [], `${courseId}: the fairness record holds`)
  const entries = await store.recordEntries(courseId, audit?.head.seq ?? 0)
  const enrolled = entries.filter((e) => e.kind === 'enrolled')
  const others = entries.filter((e) => e.kind !== 'enrolled')
  t.same(
    enrolled.map((e) => e.requestId).sort(),
    [...seated].sort(),
    `${courseId}: the seats went to the first requests`,
  )
  const lastSeat = Math.max(...enrolled.map((e) => Number(e.arrival)))
  const firstOther = Math.min(...others.map((e) => Number(e.arrival)))
  t.ok(
    lastSeat < firstOther,
    `${courseId}: every seat's arrival (up to ${lastSeat}) is before the rest (from ${firstOther})`,
  )
}

for (const storage of STORAGES) {
  t.test(`pause, resume and throttle admission (${storage})`, async (t) => {
    const env = await isolatedEnv(t, 'oppause', storage)
    const config = configFrom(env, ADMIN_SETTINGS)
    await seedDatabase(config, { students: 8, courses: 3, capacity: 2 })
    const app = await startInstance(t, config)
    const cookies = new Map<string, string>()
    for (let n = 1; n <= 8; n += 1) cookies.set(studentId(n), await login(app, studentId(n)))
    const state = (id: string, n: number) =>
      requestState(app, cookies.get(studentId(n)) as string, id)

    await t.test('one course paused: its queue waits, the others are decided', async (t) => {
      const paused = await command(app, '/pause', {
        course: 'C0001',
        reason: 'MySQL failover drill',
      })
      t.match(paused.pauses, [{ course: 'C0001', reason: 'MySQL failover drill', by: 'registrar' }])
      t.ok(app.sugang.controls.pausedFor('C0001'), 'this instance holds it at once')
      t.equal(app.sugang.controls.pausedFor('C0002'), null, 'for C0001 only')

      const students = [1, 2, 3, 4, 5]
      // Three ask for a seat only; the last two would take a waitlist place.
      const ids = await askInTurn(t, app, cookies, 'C0001', students, 3)
      const other = await ask(app, cookies.get(studentId(6)) as string, 'C0002')
      t.equal(other.status, 202)
      await waitFor('C0002 to be decided', async () => {
        return (await state(other.body.requestId, 6)).status === 'enrolled'
      })
      await nothingDecided(t, app, cookies, [{ courseId: 'C0001', students, ids }])
      const before = await waitFor('C0002 wait to be counted, not as paused', async () => {
        const counted = await waitsCounted(app)
        return counted.unpaused === 1 ? counted : undefined
      })
      t.same(before, { paused: 0, unpaused: 1 }, "the other course's wait counts as unpaused")

      const resumed = await command(app, '/resume', {
        course: 'C0001',
        reason: 'failover done',
      })
      t.same(resumed.pauses, [], 'nothing paused any more')
      await waitFor('C0001 to be decided', async () => {
        return (await app.sugang.rush.queue.length('C0001')) === 0
      })
      t.same(
        await Promise.all(ids.map((id, i) => state(id, students[i] ?? 0))),
        [
          { status: 'enrolled' },
          { status: 'enrolled' },
          { status: 'rejected', reason: 'COURSE_FULL' },
          { status: 'waitlisted', position: 1 },
          { status: 'waitlisted', position: 2 },
        ].map((s, i) => ({ requestId: ids[i], courseId: 'C0001', ...s })),
        'decided in the order they arrived',
      )
      await decidedInArrivalOrder(t, app, 'C0001', ids.slice(0, 2))
      // Their waits are not the admission's to answer for: each is counted as through a pause.
      const after = await waitFor('the five waits to be counted', async () => {
        const counted = await waitsCounted(app)
        return counted.paused + counted.unpaused >= 6 ? counted : undefined
      })
      t.same(after, { paused: 5, unpaused: 1 }, 'the paused course waited through its pause')
    })

    await t.test('every course paused: every queue waits until the pause is lifted', async (t) => {
      const paused = await command(app, '/pause', { reason: 'Redis failover' }, 'on-call')
      t.match(paused.pauses, [{ course: '*', reason: 'Redis failover', by: 'on-call' }])
      const students = [1, 2, 3, 4]
      const c3 = await askInTurn(t, app, cookies, 'C0003', students)
      const c2 = await askInTurn(t, app, cookies, 'C0002', [7])
      await nothingDecided(t, app, cookies, [
        { courseId: 'C0003', students, ids: c3 },
        { courseId: 'C0002', students: [7], ids: c2 },
      ])

      const notThatOne = await adminCall<ErrorBody>(app, '/resume', {
        course: 'C0003',
        reason: 'only this one',
      })
      t.equal(notThatOne.status, 409, 'a course of its own is not what is paused')
      t.equal(notThatOne.body.error.code, 'NOTHING_TO_UNDO')
      await nothingDecided(t, app, cookies, [{ courseId: 'C0003', students, ids: c3 }])

      await command(app, '/resume', { reason: 'Redis is back' }, 'on-call')
      await waitFor('every queue to be decided', async () => {
        const lengths = await Promise.all(
          ['C0002', 'C0003'].map((c) => app.sugang.rush.queue.length(c)),
        )
        return lengths.every((n) => n === 0)
      })
      t.same(
        (await Promise.all(c3.map((id, i) => state(id, students[i] ?? 0)))).map((s) => s.status),
        ['enrolled', 'enrolled', 'rejected', 'rejected'],
      )
      t.equal((await state(c2[0] as string, 7)).status, 'enrolled')
      await decidedInArrivalOrder(t, app, 'C0003', c3.slice(0, 2))
      const broken = (await auditRecord(app.sugang.store)).filter((a) => a.breaks.length > 0)
      t.same(broken, [], 'every course record holds')
    })

    await t.test('ceilings, per course and over all: decisions still happen', async (t) => {
      const throttled = await command(app, '/throttle', {
        course: 'C0002',
        perSecond: 3,
        reason: 'replica lag',
      })
      t.match(throttled.throttles, [{ course: 'C0002', perSecond: 3, by: 'registrar' }])
      const both = await command(app, '/throttle', { perSecond: 50, reason: 'MySQL CPU high' })
      t.match(both.throttles, [{ course: '*', perSecond: 50 }, { course: 'C0002' }])
      const controls = app.sugang.controls
      t.equal(controls.ceilingFor('C0002'), 3, "the worker is held to C0002's ceiling")
      t.equal(controls.ceilingFor('C0001'), 0, 'which is for C0002 only')
      t.equal(controls.overallCeiling(), 50, 'and to the one over all courses')

      const res = await ask(app, cookies.get(studentId(8)) as string, 'C0002', true)
      t.equal(res.status, 202)
      await waitFor('the request to be decided', async () => {
        return (await state(res.body.requestId, 8)).status === 'waitlisted'
      })

      const lifted = await command(app, '/unthrottle', { course: 'C0002', reason: 'lag gone' })
      t.match(lifted.throttles, [{ course: '*' }])
      t.equal(controls.ceilingFor('C0002'), 0)
      const none = await command(app, '/unthrottle', { reason: 'CPU fine' })
      t.same(none.throttles, [])
      t.equal(controls.overallCeiling(), 0)
      const again = await adminCall<ErrorBody>(app, '/unthrottle', { reason: 'once more' })
      t.equal(again.status, 409, 'lifting a ceiling that is not there is refused')
      t.equal(again.body.error.code, 'NOTHING_TO_UNDO')
    })

    await t.test('every command is recorded: who, what, on what, why', async (t) => {
      const db = await database(t, config)
      const [rows] = await db.query<
        Array<{ operator: string; action: string; target: string; reason: string; details: string }>
      >('SELECT operator, action, target, reason, details FROM operator_actions ORDER BY id')
      t.same(
        rows.map((r) => ({ ...r, details: JSON.parse(r.details) as unknown })),
        [
          ['registrar', 'pause', 'C0001', 'MySQL failover drill', {}],
          ['registrar', 'resume', 'C0001', 'failover done', {}],
          ['on-call', 'pause', '*', 'Redis failover', {}],
          ['on-call', 'resume', '*', 'Redis is back', {}],
          ['registrar', 'throttle', 'C0002', 'replica lag', { perSecond: 3 }],
          ['registrar', 'throttle', '*', 'MySQL CPU high', { perSecond: 50 }],
          ['registrar', 'unthrottle', 'C0002', 'lag gone', {}],
          ['registrar', 'unthrottle', '*', 'CPU fine', {}],
        ].map(([operator, action, target, reason, details]) => ({
          operator,
          action,
          target,
          reason,
          details,
        })),
        'one row per command that took effect, none for a refused one',
      )
      const listed = await adminCall<{ actions: Array<{ action: string; operator: string }> }>(
        app,
        '/actions?limit=3',
      )
      t.equal(listed.status, 200)
      t.same(
        listed.body.actions.map((a) => `${a.operator} ${a.action}`),
        ['registrar unthrottle', 'registrar unthrottle', 'registrar throttle'],
        'the API lists the latest first',
      )
    })
  })
}

t.test('a second instance obeys a pause set through the first', async (t) => {
  const env = await isolatedEnv(t, 'oppause2', 'mysql-redis')
  const config = configFrom(env, ADMIN_SETTINGS)
  await seedDatabase(config, { students: 2, courses: 1, capacity: 5 })
  const first = await startInstance(t, config)
  const second = await startInstance(t, config)
  t.equal(second.sugang.controls.pausedFor('C0001'), null, 'nothing paused yet')

  await command(first, '/pause', { course: 'C0001', reason: 'a pause for everyone' })
  const seen = await waitFor('the second instance to read the pause', async () => {
    return second.sugang.controls.pausedFor('C0001')
  })
  t.match(seen, { reason: 'a pause for everyone', by: 'registrar' })

  const cookie = await login(second, studentId(1))
  const res = await ask(second, cookie, 'C0001')
  t.equal(res.status, 202, 'the second instance still takes requests')
  await second.sugang.worker.drain('C0001')
  t.same(
    await requestState(second, cookie, res.body.requestId),
    { requestId: res.body.requestId, courseId: 'C0001', status: 'queued', position: 1 },
    'and decides none of them',
  )

  // Lifted through the second: the first reads it too, and the request is decided.
  await command(second, '/resume', { course: 'C0001', reason: 'over' }, 'on-call')
  await waitFor('the first instance to read the resume', async () => {
    return first.sugang.controls.pausedFor('C0001') === null
  })
  await waitFor('the request to be decided', async () => {
    return (await requestState(second, cookie, res.body.requestId)).status === 'enrolled'
  })
  t.pass('decided once resumed')
})
