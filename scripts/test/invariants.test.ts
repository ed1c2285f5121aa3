import mysql from 'mysql2/promise'
import t from 'tap'
import type { Tracked } from '../rush/driver.js'
import { auditFairness, check, summarizeAudit, violations } from '../rush/invariants.js'
import { bench } from '../rush/main.js'
import { sugangCli } from '../rush/processes.js'
import { markdown } from '../rush/report.js'
import { scenarios } from '../rush/scenarios.js'
import { REDIS_URL, SUGANG_DB, type DbState } from '../rush/targets.js'

// The checker must catch each break it claims to: every case starts from a clean world and
// breaks exactly one thing.

function request(student: number, course: number, fields: Partial<Tracked>): Tracked {
  return {
    wish: { student, course, waitlist: false },
    firstSentAt: 0,
    sentAt: 0,
    ackAt: 1,
    ackStatus: 202,
    requestId: `r-${student}-${course}`,
    status: 'rejected',
    reason: 'COURSE_FULL',
    position: null,
    decidedAt: 2,
    errors: 0,
    retries: 0,
    cancelled: false,
    ...fields,
  }
}

/** Course C0001 with 2 seats: students 1 and 2 enrolled (acknowledged first), 3 rejected. */
function world(): { tracked: Tracked[]; state: DbState } {
  return {
    tracked: [
      request(1, 1, { status: 'enrolled', reason: null, sentAt: 0, ackAt: 1 }),
      request(2, 1, { status: 'enrolled', reason: null, sentAt: 0, ackAt: 2 }),
      request(3, 1, { sentAt: 1, ackAt: 3 }),
    ],
    state: {
      courses: new Map([['C0001', { capacity: 2, enrolled: 2, rows: 2 }]]),
      enrollments: [
        { studentId: 'S000001', courseId: 'C0001' },
        { studentId: 'S000002', courseId: 'C0001' },
      ],
      waitlist: [],
    },
  }
}

const strict = { mustDecide: true, checkPositions: true }

t.test('a clean run has no violations', async (t) => {
  const { tracked, state } = world()
  t.equal(violations(check(tracked, state, strict)), 0)
})

t.test(
  'finds an oversold course and an enrolled column that disagrees with the rows',
  async (t) => {
    const { tracked, state } = world()
    const courses = new Map([['C0001', { capacity: 1, enrolled: 1, rows: 2 }]])
    const r = check(tracked, { ...state, courses }, strict)
    t.equal(r.oversold, 1)
    t.equal(r.enrolledColumnOff, 1)
  },
)

t.test('finds a duplicate enrollment', async (t) => {
  const { tracked, state } = world()
  const enrollments = [...state.enrollments, { studentId: 'S000001', courseId: 'C0001' }]
  t.equal(check(tracked, { ...state, enrollments }, strict).duplicates, 1)
})

t.test('finds an acknowledged enrollment that is not in the database', async (t) => {
  const { tracked, state } = world()
  const r = check(tracked, { ...state, enrollments: state.enrollments.slice(0, 1) }, strict)
  t.equal(r.lostEnrollments, 1)
  // Given back by the student: not lost.
  tracked[1]!.cancelled = true
  t.equal(
    check(tracked, { ...state, enrollments: state.enrollments.slice(0, 1) }, strict)
      .lostEnrollments,
    0,
  )
})

t.test('finds a row whose student was told something else', async (t) => {
  const { tracked, state } = world()
  const enrollments = [...state.enrollments, { studentId: 'S000003', courseId: 'C0001' }]
  t.equal(check(tracked, { ...state, enrollments }, strict).untoldEnrollments, 1)
})

t.test('finds a later request seated ahead of an acknowledged earlier one', async (t) => {
  const { tracked, state } = world()
  // Student 3 was acknowledged at 3 and lost; a request sent at 4 won.
  tracked[1] = request(2, 1, { status: 'enrolled', reason: null, sentAt: 4, ackAt: 5 })
  t.equal(check(tracked, state, strict).unfair, 1)
  // Losing for a reason of its own (the credit limit) is not unfair.
  tracked[2]!.reason = 'CREDIT_LIMIT'
  t.equal(check(tracked, state, strict).unfair, 0)
})

t.test('finds forgotten, stuck and failed requests', async (t) => {
  const { tracked, state } = world()
  tracked.push(request(4, 1, { reason: 'REQUEST_NOT_FOUND' }))
  tracked.push(request(5, 1, { status: 'queued', reason: null, decidedAt: null }))
  tracked.push(request(6, 1, { errors: 2 }))
  const r = check(tracked, state, strict)
  t.equal(r.forgotten, 1)
  t.equal(r.stuck, 1)
  t.equal(r.errors, 1)
  // A design that decides at its own pace is not stuck for being slow.
  t.equal(check(tracked, state, { ...strict, mustDecide: false }).stuck, 0)
})

t.test(
  'finds a wrong waitlist position and a seat left idle while its waitlist waits',
  async (t) => {
    const { tracked, state } = world()
    tracked[2] = request(3, 1, { status: 'waitlisted', reason: null, position: 2 })
    const waitlist = [{ requestId: 'r-3-1', courseId: 'C0001', position: 1 }]
    t.equal(check(tracked, { ...state, waitlist }, strict).wrongPositions, 1)
    tracked[2]!.position = 1
    t.equal(check(tracked, { ...state, waitlist }, strict).wrongPositions, 0)
    const courses = new Map([['C0001', { capacity: 3, enrolled: 2, rows: 2 }]])
    t.equal(check(tracked, { ...state, courses, waitlist }, strict).idleSeats, 1)
  },
)

t.test(
  'counts a broken fairness record, an audit that failed and one of another database',
  async (t) => {
    const { tracked, state } = world()
    const course = {
      courseId: 'C0001',
      entries: 3,
      enrolled: 2,
      capacity: 2,
      waiting: 0,
      kinds: { enrolled: 2, rejected: 1 },
      head: { seq: 3, hash: 'h' },
      breaks: [] as string[],
    }
    const holds = summarizeAudit([course])
    t.equal(violations(check(tracked, state, { ...strict, fairness: holds })), 0)
    const broken = summarizeAudit([{ ...course, breaks: ['entry 1: its hash does not match'] }])
    const r = check(tracked, state, { ...strict, fairness: broken })
    t.equal(violations(r), 1)
    t.same(r.examples, ['fairness record: C0001: entry 1: its hash does not match'])
    const failed = { ...holds, holds: false, error: 'exited 2' }
    t.equal(violations(check(tracked, state, { ...strict, fairness: failed })), 1)
    const elsewhere = summarizeAudit([course, { ...course, courseId: 'C0002' }])
    t.equal(violations(check(tracked, state, { ...strict, fairness: elsewhere })), 1)
  },
)

t.test('after a run, sugang audit fairness finds a record changed after the fact', async (t) => {
  // Against real MariaDB and Redis: the seed scenario at its small size (one course, C0001, as in
  // world() above), then its record changed behind the service's back.
  const report = await bench({
    scenario: 'seed',
    size: scenarios.seed.small,
    instances: [1],
    baselines: [],
    inFlight: 64,
    deadlineMs: 120_000,
    baselineWindowMs: 3_000,
    command: 'test seed',
    log: () => {},
  })
  const [run] = report.results
  t.same(run!.invariants.examples, [])
  t.equal(run!.violations, 0)
  const audited = run!.invariants.fairness
  t.ok(audited?.holds, 'the run left a record that holds')
  t.equal(audited?.courses, 1)
  // Every seat given is recorded (refusals at the door, from the seat cache, are not).
  t.ok((audited?.entries ?? 0) >= scenarios.seed.small.capacity[0], `${audited?.entries} entries`)
  t.match(markdown(report), /\| holds \(1 course, [\d,]+ entries\) \|/)

  // The first arrival number rewritten: its hash no longer matches its entry.
  const db = await mysql.createConnection({ uri: SUGANG_DB })
  try {
    const [changed] = await db.query<mysql.ResultSetHeader>(
      "UPDATE fairness_record SET arrival = arrival + 1000 WHERE course_id = 'C0001' AND seq = 1",
    )
    t.equal(changed.affectedRows, 1)
  } finally {
    await db.end()
  }
  const fairness = await auditFairness(sugangCli, { DATABASE_URL: SUGANG_DB, REDIS_URL })
  t.notOk(fairness.holds)
  t.equal(fairness.brokenCourses, 1)
  t.match(fairness.breaks[0], /^C0001: entry 1: its hash does not match its content/)
  const { tracked, state } = world()
  const r = check(tracked, state, { ...strict, fairness })
  t.equal(violations(r), 1, 'a violation, as the run counts it')
  t.match(r.examples[0], /^fairness record: C0001: entry 1:/)
  const page = markdown({
    ...report,
    results: [{ ...run!, invariants: r, violations: violations(r) }],
  })
  t.match(page, /\*\*broken in 1 course\*\*/, 'the report says so')
  t.match(page, /- sugang: fairness record: C0001: entry 1:/)
})
