/**
 * Capacity changes in the fairness record (domain/fairness.ts), without a store: a `capacity`
 * entry carries the new capacity from itself on, the audit accepts a capacity change only on
 * such an entry, and a raise must leave no seat free while a student waits.
 */
import t from 'tap'
import {
  auditCourse,
  chainDecisions,
  emptyHead,
  type CourseNow,
  type RecordDecision,
  type RecordEntry,
  type RecordHead,
} from '../../src/domain/fairness.js'

const COURSE = 'C1'

const queued = (
  kind: RecordDecision['kind'],
  student: string,
  arrival: number,
): RecordDecision => ({
  kind,
  studentId: student,
  requestId: `r${student}`,
  arrival,
  reason: null,
})
const outside = (kind: RecordDecision['kind'], student: string): RecordDecision => ({
  kind,
  studentId: student,
  requestId: `r${student}`,
  arrival: null,
  reason: kind === 'passed-over' ? 'CREDIT_LIMIT' : null,
})
const capacity = (to: number): RecordDecision => ({
  kind: 'capacity',
  studentId: '',
  requestId: null,
  arrival: null,
  reason: null,
  capacity: to,
})

/** One chainDecisions call per transaction, as the store writes them. */
function record(start: number, transactions: ReadonlyArray<readonly RecordDecision[]>) {
  let head: RecordHead = emptyHead
  let seats = { enrolled: 0, capacity: start }
  const entries: RecordEntry[] = []
  for (const [i, decisions] of transactions.entries()) {
    const written = chainDecisions(COURSE, head, seats, decisions, 1_000 + i)
    entries.push(...written)
    const last = written.at(-1) as RecordEntry
    head = { seq: last.seq, hash: last.hash }
    seats = { enrolled: last.enrolled, capacity: last.capacity }
  }
  return { entries, head }
}

function now(
  rec: { entries: RecordEntry[]; head: RecordHead },
  students: string[],
  waitlist: string[],
): CourseNow {
  const last = rec.entries.at(-1) as RecordEntry
  return {
    courseId: COURSE,
    capacity: last.capacity,
    enrolled: last.enrolled,
    head: rec.head,
    students,
    waitlist: waitlist.map((s) => ({ studentId: s, requestId: `r${s}` })),
  }
}

/** Two seats taken, three waiting (A, B, C in that order). */
const full: RecordDecision[][] = [
  [queued('enrolled', 'S1', 1), queued('enrolled', 'S2', 2)],
  [queued('waitlisted', 'A', 3), queued('waitlisted', 'B', 4), queued('waitlisted', 'C', 5)],
]

t.test('a capacity entry changes the capacity from itself on', async (t) => {
  const rec = record(2, [
    ...full,
    [capacity(4), outside('promoted', 'A'), outside('promoted', 'B')],
  ])
  t.same(
    rec.entries.slice(-3).map((e) => [e.kind, e.enrolled, e.capacity]),
    [
      ['capacity', 2, 4],
      ['promoted', 3, 4],
      ['promoted', 4, 4],
    ],
  )
  t.same(auditCourse(rec.entries, now(rec, ['S1', 'S2', 'A', 'B'], ['C'])).breaks, [])
})

t.test('a raise that passes over a head and seats the next holds', async (t) => {
  const rec = record(2, [
    ...full,
    [capacity(3), outside('passed-over', 'A'), outside('promoted', 'B')],
  ])
  t.same(auditCourse(rec.entries, now(rec, ['S1', 'S2', 'B'], ['C'])).breaks, [])
})

t.test('a lowering to the seats taken holds', async (t) => {
  const rec = record(4, [[queued('enrolled', 'S1', 1), queued('enrolled', 'S2', 2)], [capacity(2)]])
  t.same(auditCourse(rec.entries, now(rec, ['S1', 'S2'], [])).breaks, [])
})

t.test('a capacity changed on any other entry breaks the record', async (t) => {
  const rec = record(2, [...full])
  // A promotion that claims a capacity of 3, as if a seat had been added without an entry.
  const more = chainDecisions(
    COURSE,
    rec.head,
    { enrolled: 2, capacity: 3 },
    [outside('promoted', 'A')],
    2_000,
  )
  const entries = [...rec.entries, ...more]
  const last = more.at(-1) as RecordEntry
  t.same(
    auditCourse(
      entries,
      now({ entries, head: { seq: last.seq, hash: last.hash } }, ['S1', 'S2', 'A'], ['B', 'C']),
    ).breaks,
    [`entry ${last.seq}: capacity 3 changed from 2 unrecorded`],
  )
})

t.test('a raise that leaves seats free while students wait breaks the record', async (t) => {
  const rec = record(2, [...full, [capacity(4), outside('promoted', 'A')]])
  const last = rec.entries.at(-1) as RecordEntry
  t.same(auditCourse(rec.entries, now(rec, ['S1', 'S2', 'A'], ['B', 'C'])).breaks, [
    `entry ${last.seq}: the capacity change left 1 seats free while 2 students wait`,
  ])
  // The same seats given in a later transaction do not mend it: the raise's own must give them.
  const later = record(2, [
    ...full,
    [capacity(4), outside('promoted', 'A')],
    [outside('promoted', 'B')],
  ])
  t.match(auditCourse(later.entries, now(later, ['S1', 'S2', 'A', 'B'], ['C'])).breaks, [
    /the capacity change left 1 seats free while 2 students wait/,
  ])
  // A raise past the waitlist leaves seats free, and nobody waiting: that holds.
  const past = record(2, [
    ...full,
    [capacity(9), ...['A', 'B', 'C'].map((s) => outside('promoted', s))],
  ])
  t.same(auditCourse(past.entries, now(past, ['S1', 'S2', 'A', 'B', 'C'], [])).breaks, [])
})

t.test('a capacity entry moves no seat', async (t) => {
  const rec = record(2, [...full])
  // A capacity entry that claims a seat was taken with it.
  const [change] = chainDecisions(
    COURSE,
    rec.head,
    { enrolled: 2, capacity: 2 },
    [capacity(3)],
    3_000,
  )
  const entry = { ...(change as RecordEntry), enrolled: 3 }
  const entries = [...rec.entries, entry]
  const head = { seq: entry.seq, hash: entry.hash }
  t.match(auditCourse(entries, now({ entries, head }, ['S1', 'S2'], ['A', 'B', 'C'])).breaks, [
    `entry ${entry.seq}: its hash does not match its content`,
    `entry ${entry.seq}: 3 seats taken after 2 and a capacity`,
  ])
})
