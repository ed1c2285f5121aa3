import t from 'tap'
import type { Tracked } from '../rush/driver.js'
import { check, violations } from '../rush/invariants.js'
import type { DbState } from '../rush/targets.js'

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
