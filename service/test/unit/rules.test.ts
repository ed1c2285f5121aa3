import t from 'tap'
import { clashes, decideBatch, mayPromote, type BatchFacts } from '../../src/domain/rules.js'
import type { QueuedRequest } from '../../src/domain/model.js'

const req = (n: number, waitlist = false, student = `S${n}`): QueuedRequest => ({
  requestId: `r${n}`,
  studentId: student,
  waitlist,
  arrival: n,
})

function facts(overrides: Partial<BatchFacts> = {}, students = 10): BatchFacts {
  return {
    credits: 3,
    capacity: 2,
    enrolled: 0,
    version: 0,
    meetings: [],
    meetingsHeld: new Map(),
    decidedThrough: 0,
    maxCredits: new Map(Array.from({ length: students }, (_, i) => [`S${i + 1}`, 18])),
    creditsHeld: new Map(),
    enrolledBy: new Map(),
    waitlistedBy: new Map(),
    waitlistHeld: new Map(),
    maxWaitlist: 5,
    ...overrides,
  }
}

t.test('admits in arrival order until the seats run out, then rejects as full', async (t) => {
  const out = decideBatch([req(1), req(2), req(3)], facts())
  t.same(
    out.decisions.map((d) => [d.requestId, d.status]),
    [
      ['r1', 'enrolled'],
      ['r2', 'enrolled'],
      ['r3', 'rejected'],
    ],
  )
  t.same(out.decisions[2], {
    requestId: 'r3',
    studentId: 'S3',
    status: 'rejected',
    reason: 'COURSE_FULL',
  })
  t.same(
    out.admitted.map((r) => r.requestId),
    ['r1', 'r2'],
  )
})

t.test('puts those who asked for it on the waitlist once the course is full', async (t) => {
  const out = decideBatch([req(1), req(2), req(3, true), req(4)], facts({ capacity: 1 }))
  t.same(
    out.decisions.map((d) => d.status),
    ['enrolled', 'rejected', 'waitlisted', 'rejected'],
  )
  t.same(
    out.waitlisted.map((r) => r.requestId),
    ['r3'],
  )
})

t.test('a request recorded by a worker that crashed after COMMIT stays enrolled', async (t) => {
  const out = decideBatch(
    [req(1), req(2)],
    facts({ capacity: 2, enrolled: 1, enrolledBy: new Map([['S1', 'r1']]) }),
  )
  t.same(
    out.decisions.map((d) => d.status),
    ['enrolled', 'enrolled'],
  )
  t.same(
    out.admitted.map((r) => r.requestId),
    ['r2'],
    'only the new request takes a seat',
  )
})

t.test('a student enrolled through another request is rejected as already enrolled', async (t) => {
  const out = decideBatch([req(1)], facts({ enrolledBy: new Map([['S1', 'old']]) }))
  t.same(out.decisions[0], {
    requestId: 'r1',
    studentId: 'S1',
    status: 'rejected',
    reason: 'ALREADY_ENROLLED',
  })
})

t.test('the same student twice in one batch gets one seat', async (t) => {
  const out = decideBatch([req(1, false, 'S1'), req(2, false, 'S1')], facts({ capacity: 5 }))
  t.same(
    out.decisions.map((d) => d.status),
    ['enrolled', 'rejected'],
  )
  t.equal(out.admitted.length, 1)
})

t.test('the credit limit rejects without using a seat', async (t) => {
  const out = decideBatch(
    [req(1), req(2)],
    facts({ capacity: 1, creditsHeld: new Map([['S1', 16]]) }),
  )
  t.same(
    out.decisions.map((d) => (d.status === 'rejected' ? d.reason : d.status)),
    ['CREDIT_LIMIT', 'enrolled'],
  )
})

t.test('a student already waiting keeps the place under the new request', async (t) => {
  const out = decideBatch(
    [req(1, true)],
    facts({ capacity: 0, waitlistedBy: new Map([['S1', 'old']]) }),
  )
  t.same(
    out.decisions.map((d) => d.status),
    ['waitlisted'],
  )
  t.same(
    out.rehandled.map((r) => r.requestId),
    ['r1'],
  )
  t.equal(out.waitlisted.length, 0)
})

t.test(
  'a student at the waitlist cap is turned down with WAITLIST_LIMIT, others wait',
  async (t) => {
    const out = decideBatch(
      [req(1, true), req(2, true), req(3, true)],
      facts({
        capacity: 0,
        maxWaitlist: 2,
        waitlistHeld: new Map([
          ['S1', 2],
          ['S2', 1],
        ]),
      }),
    )
    t.same(
      out.decisions.map((d) => (d.status === 'rejected' ? d.reason : d.status)),
      ['WAITLIST_LIMIT', 'waitlisted', 'waitlisted'],
    )
    t.same(
      out.waitlisted.map((r) => r.requestId),
      ['r2', 'r3'],
    )
  },
)

t.test(
  'a waitlist cap of 0 turns every waitlist request down, but seats are still taken',
  async (t) => {
    const out = decideBatch([req(1, true), req(2, true)], facts({ capacity: 1, maxWaitlist: 0 }))
    t.same(
      out.decisions.map((d) => (d.status === 'rejected' ? d.reason : d.status)),
      ['enrolled', 'WAITLIST_LIMIT'],
    )
  },
)

t.test('a course that meets when the student already has class is a TIME_CONFLICT', async (t) => {
  const mon34 = { day: 'MON' as const, start: 3, end: 4, room: 'A' }
  const mon45 = { day: 'MON' as const, start: 4, end: 5, room: 'B' }
  const tue34 = { day: 'TUE' as const, start: 3, end: 4, room: 'C' }
  t.ok(clashes([mon34], [mon45]), 'one shared period on the same day')
  t.notOk(clashes([mon34], [tue34]), 'another day')
  t.notOk(clashes([mon34], [{ ...mon45, start: 5 }]), 'back to back')
  const out = decideBatch(
    [req(1), req(2), req(3, true)],
    facts({
      meetings: [mon34],
      meetingsHeld: new Map([
        ['S1', [mon45]],
        ['S3', [mon45]],
        ['S2', [tue34]],
      ]),
    }),
  )
  t.same(
    out.decisions.map((d) => [d.studentId, d.status === 'rejected' ? d.reason : d.status]),
    [
      ['S1', 'TIME_CONFLICT'],
      ['S2', 'enrolled'],
      ['S3', 'TIME_CONFLICT'],
    ],
    'checked before seats, for waitlist requests too',
  )
  t.equal(
    mayPromote(
      { credits: 3, meetings: [mon34] },
      { maxCredits: 18, creditsHeld: 3, meetingsHeld: [mon45], enrolledHere: false },
    ),
    'TIME_CONFLICT',
    'and again when a waitlisted student would take a freed seat',
  )
})
