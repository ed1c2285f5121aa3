/**
 * The fairness record's chain and audit (domain/fairness.ts), without a store: records are built
 * the way the store builds them (chainDecisions, one call per transaction) and then edited the
 * ways an entry can go wrong afterwards. Each break must be found and named.
 */
import t from 'tap'
import {
  GENESIS_HASH,
  RECORD_KINDS,
  auditCourse,
  chainDecisions,
  emptyHead,
  entryHash,
  seatDelta,
  type CourseNow,
  type RecordDecision,
  type RecordEntry,
  type RecordHead,
  type RecordKind,
} from '../../src/domain/fairness.js'
import type { RejectReason } from '../../src/domain/model.js'

const COURSE = 'C1'
const T0 = 1_767_000_000_000

/** A queue decision: the request is named after its student and arrival (`rA1`). */
const queued = (
  kind: RecordKind,
  student: string,
  arrival: number,
  reason: RejectReason | null = null,
): RecordDecision => ({
  kind,
  studentId: student,
  requestId: `r${student}${arrival}`,
  arrival,
  reason,
})

/** A decision outside the queue (a cancellation or a leave), about the request `requestId`. */
const outside = (
  kind: RecordKind,
  student: string,
  requestId: string,
  reason: RejectReason | null = null,
): RecordDecision => ({ kind, studentId: student, requestId, arrival: null, reason })

/** A course's record, one chainDecisions call per transaction, as the store writes it. */
function record(capacity: number, transactions: ReadonlyArray<readonly RecordDecision[]>) {
  let head: RecordHead = emptyHead
  let enrolled = 0
  const entries: RecordEntry[] = []
  for (const [i, decisions] of transactions.entries()) {
    const written = chainDecisions(COURSE, head, { enrolled, capacity }, decisions, T0 + i)
    entries.push(...written)
    const last = written[written.length - 1] as RecordEntry
    head = { seq: last.seq, hash: last.hash }
    enrolled = last.enrolled
  }
  return { entries, head }
}

/** The chain's hashes computed again from the first entry on, as a forger rewriting it would. */
function rechain(entries: readonly RecordEntry[]): RecordEntry[] {
  let prevHash = GENESIS_HASH
  return entries.map(({ hash: _, ...e }) => {
    const fields = { ...e, prevHash }
    prevHash = entryHash(fields)
    return { ...fields, hash: prevHash }
  })
}

const headOf = (entries: readonly RecordEntry[]): RecordHead => {
  const last = entries[entries.length - 1]
  return last ? { seq: last.seq, hash: last.hash } : emptyHead
}

function now(
  head: RecordHead,
  course: {
    capacity: number
    students: string[]
    waitlist?: Array<[string, string]>
    enrolled?: number
  },
): CourseNow {
  return {
    courseId: COURSE,
    capacity: course.capacity,
    enrolled: course.enrolled ?? course.students.length,
    head,
    students: course.students,
    waitlist: (course.waitlist ?? []).map(([studentId, requestId]) => ({ studentId, requestId })),
  }
}

/**
 * Two seats, every kind of decision, and a later arrival seated after earlier ones were refused
 * (a cancellation freed the seat in between). The course now holds C and J, with L waiting.
 */
const TRANSACTIONS: ReadonlyArray<readonly RecordDecision[]> = [
  // 1-6: a batch
  [
    queued('enrolled', 'A', 1),
    queued('enrolled', 'B', 2),
    queued('waitlisted', 'C', 3),
    queued('rejected', 'D', 4, 'COURSE_FULL'),
    queued('waitlisted', 'E', 5),
    queued('rejected', 'F', 6, 'CREDIT_LIMIT'),
  ],
  // 7-8: a bulk rejection of the full course's head
  [queued('rejected', 'G', 7, 'COURSE_FULL'), queued('rejected', 'H', 8, 'COURSE_FULL')],
  // 9-10: E asks again (its place now answers to rE9), I joins the waitlist
  [queued('rewaitlisted', 'E', 9), queued('waitlisted', 'I', 10)],
  // 11-12: A cancels, C (the head) takes the seat
  [outside('cancelled', 'A', 'rA1'), outside('promoted', 'C', 'rC3')],
  // 13: E leaves the waitlist
  [outside('left', 'E', 'rE9')],
  // 14-15: B cancels, I (now the head) may no longer take the seat
  [outside('cancelled', 'B', 'rB2'), outside('passed-over', 'I', 'rI10', 'CREDIT_LIMIT')],
  // 16-18: J, a later arrival than D, G and H, takes the free seat; the course is full again
  [
    queued('enrolled', 'J', 11),
    queued('rejected', 'K', 12, 'COURSE_FULL'),
    queued('waitlisted', 'L', 13),
  ],
]
const CAPACITY = 2
const HELD = { capacity: CAPACITY, students: ['C', 'J'], waitlist: [['L', 'rL13']] } as {
  capacity: number
  students: string[]
  waitlist: Array<[string, string]>
}

function valid() {
  const { entries, head } = record(CAPACITY, TRANSACTIONS)
  return { entries, head, now: now(head, HELD) }
}

const at = (entries: readonly RecordEntry[], seq: number): RecordEntry => {
  const e = entries.find((x) => x.seq === seq)
  if (!e) throw new Error(`no entry ${seq}`)
  return e
}

t.test('chainDecisions chains one transaction after the head it read', async (t) => {
  const first = chainDecisions(
    COURSE,
    emptyHead,
    { enrolled: 0, capacity: 2 },
    [queued('enrolled', 'A', 1), queued('rejected', 'B', 2, 'TIME_CONFLICT')],
    T0,
  )
  const head = headOf(first)
  const second = chainDecisions(
    COURSE,
    head,
    { enrolled: 1, capacity: 2 },
    [outside('cancelled', 'A', 'rA1'), queued('enrolled', 'C', 3), queued('enrolled', 'D', 4)],
    T0 + 5,
  )
  t.same(
    [...first, ...second].map((e) => [e.seq, e.batch, e.kind, e.enrolled, e.capacity, e.decidedAt]),
    [
      [1, 1, 'enrolled', 1, 2, T0],
      [2, 1, 'rejected', 1, 2, T0],
      [3, 3, 'cancelled', 0, 2, T0 + 5],
      [4, 3, 'enrolled', 1, 2, T0 + 5],
      [5, 3, 'enrolled', 2, 2, T0 + 5],
    ],
    'seq goes on from the head, batch is the first seq, seats move by each decision',
  )
  t.equal(first[0]?.prevHash, GENESIS_HASH, 'the first entry chains to the genesis hash')
  t.equal(second[0]?.prevHash, head.hash, 'a transaction chains to the head it read')
  for (const e of [...first, ...second]) {
    const { hash, ...fields } = e
    t.equal(hash, entryHash(fields), `entry ${e.seq}: its hash is the hash of its fields`)
  }
  t.equal(second[1]?.prevHash, second[0]?.hash)
  t.same(
    second.slice(1).map((e) => [e.studentId, e.requestId, e.arrival, e.reason]),
    [
      ['C', 'rC3', 3, null],
      ['D', 'rD4', 4, null],
    ],
    'the decision is written as it was made',
  )
  t.same(chainDecisions(COURSE, head, { enrolled: 1, capacity: 2 }, [], T0), [])
  t.same(
    Object.fromEntries(
      RECORD_KINDS.filter((k) => seatDelta(k) !== 0).map((k) => [k, seatDelta(k)]),
    ),
    { enrolled: 1, cancelled: -1, promoted: 1 },
    'only enrolled and promoted take a seat, only cancelled frees one',
  )
})

t.test('a record written as the store writes it holds', async (t) => {
  const { entries, head, now: held } = valid()
  const audit = auditCourse(entries, held)
  t.same(audit.breaks, [], 'no break')
  t.same(audit, {
    courseId: COURSE,
    entries: 18,
    enrolled: 2,
    capacity: 2,
    waiting: 1,
    kinds: {
      enrolled: 3,
      waitlisted: 4,
      rejected: 5,
      rewaitlisted: 1,
      cancelled: 2,
      promoted: 1,
      left: 1,
      'passed-over': 1,
    },
    head,
    breaks: [],
  })
  t.same(
    auditCourse([], now(emptyHead, { capacity: 3, students: [] })).breaks,
    [],
    'a course nobody asked for: no entries, the genesis head',
  )
})

t.test(
  'a refusal, then a cancellation, then a later arrival seated: first come, first served holds',
  async (t) => {
    const { entries, head } = record(1, [
      [queued('enrolled', 'A', 1), queued('rejected', 'B', 2, 'COURSE_FULL')],
      [queued('waitlisted', 'C', 3)],
      [outside('left', 'C', 'rC3')],
      [outside('cancelled', 'A', 'rA1')],
      [queued('enrolled', 'D', 4), queued('waitlisted', 'E', 5)],
    ])
    t.same(
      auditCourse(entries, now(head, { capacity: 1, students: ['D'], waitlist: [['E', 'rE5']] }))
        .breaks,
      [],
    )
  },
)

t.test('an edited field with its hash left as it was breaks that entry', async (t) => {
  const { entries, now: held } = valid()
  const edits: Array<[string, Partial<RecordEntry>]> = [
    ['arrival', { arrival: 3 }],
    ['kind', { kind: 'waitlisted' }],
    ['student', { studentId: 'Z' }],
    ['request', { requestId: 'rZ4' }],
    ['reason', { reason: 'CREDIT_LIMIT' }],
    ['seats taken', { enrolled: 1 }],
    ['capacity', { capacity: 3 }],
    ['time', { decidedAt: T0 - 1 }],
    ['batch', { batch: 4 }],
    ['course', { courseId: 'C2' }],
  ]
  // Entry 4: D refused as the course was full.
  for (const [field, edit] of edits) {
    const edited = entries.map((e) => (e.seq === 4 ? { ...e, ...edit } : e))
    const { breaks } = auditCourse(edited, held)
    t.equal(breaks[0], 'entry 4: its hash does not match its content', `${field}: found first`)
  }
  const edited = entries.map((e) => (e.seq === 4 ? { ...e, prevHash: at(entries, 2).hash } : e))
  t.same(
    auditCourse(edited, held).breaks,
    [
      'entry 4: does not chain to the entry before it',
      'entry 4: its hash does not match its content',
    ],
    'prev hash',
  )
  const reseq = entries.map((e) => (e.seq === 4 ? { ...e, seq: 5 } : e))
  t.ok(
    auditCourse(reseq, held).breaks.includes('entry 5: its hash does not match its content'),
    'seq',
  )
})

t.test(
  'an edited field with its hash computed again breaks the link to the next entry',
  async (t) => {
    const { entries, now: held } = valid()
    for (const [field, edit] of [
      ['arrival', { arrival: 3 }],
      ['kind', { kind: 'waitlisted' }],
      ['student', { studentId: 'Z' }],
    ] as Array<[string, Partial<RecordEntry>]>) {
      const edited = entries.map((e) => {
        if (e.seq !== 4) return e
        const { hash: _, ...fields } = { ...e, ...edit }
        return { ...fields, hash: entryHash(fields) }
      })
      const { breaks } = auditCourse(edited, held)
      t.equal(breaks[0], 'entry 5: does not chain to the entry before it', field)
      t.notOk(
        breaks.some((b) => b.startsWith('entry 4: its hash')),
        `${field}: entry 4 itself is consistent`,
      )
    }
    // The last entry, its hash computed again and the course's head left as it was.
    const last = entries.map((e) => {
      if (e.seq !== 18) return e
      const { hash: _, ...fields } = { ...e, arrival: 14 }
      return { ...fields, hash: entryHash(fields) }
    })
    t.match(auditCourse(last, held).breaks, [
      /^the course's head is entry 18 [0-9a-f]{12}, the record ends at 18 [0-9a-f]{12}$/,
    ])
  },
)

t.test('two entries swapped', async (t) => {
  const { entries, now: held } = valid()
  // Moved in the order (each keeps its seq): the record is read in seq order, so this is a
  // reader's mistake, but the audit must still notice.
  const moved = [...entries]
  ;[moved[6], moved[7]] = [moved[7] as RecordEntry, moved[6] as RecordEntry]
  t.same(auditCourse(moved, held).breaks.slice(0, 2), [
    'entry 8: expected entry 7 here',
    'entry 8: does not chain to the entry before it',
  ])
  // Their seq numbers swapped, as an UPDATE would: read in seq order, each sits in the other's
  // place, and neither hash matches its entry.
  const swapped = entries
    .map((e) => (e.seq === 7 ? { ...e, seq: 8 } : e.seq === 8 ? { ...e, seq: 7 } : e))
    .sort((a, b) => a.seq - b.seq)
  const { breaks } = auditCourse(swapped, held)
  t.same(breaks.slice(0, 4), [
    'entry 7: does not chain to the entry before it',
    'entry 7: its hash does not match its content',
    'entry 8: does not chain to the entry before it',
    'entry 8: its hash does not match its content',
  ])
  // Two entries of different kinds swapped: the replay goes wrong too.
  const kinds = entries
    .map((e) => (e.seq === 11 ? { ...e, seq: 12 } : e.seq === 12 ? { ...e, seq: 11 } : e))
    .sort((a, b) => a.seq - b.seq)
  t.ok(auditCourse(kinds, held).breaks.includes('entry 11: its hash does not match its content'))
})

t.test('an entry deleted from the middle', async (t) => {
  const { entries, now: held } = valid()
  const gone = entries.filter((e) => e.seq !== 9)
  const { breaks } = auditCourse(gone, held)
  t.same(breaks.slice(0, 2), [
    'entry 10: expected entry 9 here',
    'entry 10: does not chain to the entry before it',
  ])
  // Every later seq moved down one and the chain computed again from there: whole again, but it
  // no longer ends at the head the course row holds.
  const closed = rechain(
    entries
      .filter((e) => e.seq !== 9)
      .map((e) =>
        e.seq > 9 ? { ...e, seq: e.seq - 1, batch: e.batch > 9 ? e.batch - 1 : e.batch } : e,
      ),
  )
  t.match(auditCourse(closed, held).breaks, [
    /^the course's head is entry 18 [0-9a-f]{12}, the record ends at 17 [0-9a-f]{12}$/,
  ])
})

t.test(
  'the last entry deleted: the course head names an entry the record does not hold',
  async (t) => {
    const { entries, head, now: held } = valid()
    const { breaks } = auditCourse(entries.slice(0, -1), held)
    const before = at(entries, 17)
    t.equal(
      breaks[0],
      `the course's head is entry 18 ${head.hash.slice(0, 12)}, the record ends at 17 ${before.hash.slice(0, 12)}`,
    )
    t.same(
      auditCourse([], held).breaks[0],
      `the course's head is entry 18 ${head.hash.slice(0, 12)}, the record ends at 0 ${GENESIS_HASH.slice(0, 12)}`,
      'every entry deleted',
    )
  },
)

t.test('a refusal for a full course, or a waitlisting, while a seat was free', async (t) => {
  const refused = record(2, [
    [queued('enrolled', 'A', 1), queued('rejected', 'B', 2, 'COURSE_FULL')],
  ])
  t.same(auditCourse(refused.entries, now(refused.head, { capacity: 2, students: ['A'] })).breaks, [
    'entry 2: rejected rB2 while 1 seats were free',
  ])
  const waiting = record(3, [[queued('enrolled', 'A', 1)], [queued('waitlisted', 'B', 2)]])
  t.same(
    auditCourse(
      waiting.entries,
      now(waiting.head, { capacity: 3, students: ['A'], waitlist: [['B', 'rB2']] }),
    ).breaks,
    ['entry 2: waitlisted rB2 while 2 seats were free'],
  )
  // Other refusals do not depend on the seats.
  const other = record(2, [[queued('rejected', 'B', 2, 'TIME_CONFLICT')]])
  t.same(auditCourse(other.entries, now(other.head, { capacity: 2, students: [] })).breaks, [])
})

t.test('an earlier arrival refused or waitlisted after a later arrival got a seat', async (t) => {
  const refused = record(1, [
    [queued('enrolled', 'B', 5)],
    [queued('rejected', 'A', 4, 'COURSE_FULL')],
  ])
  t.same(auditCourse(refused.entries, now(refused.head, { capacity: 1, students: ['B'] })).breaks, [
    'entry 2: rejected rA4 (arrival 4) after rB5 (arrival 5) got a seat',
  ])
  const waiting = record(1, [[queued('enrolled', 'B', 5), queued('waitlisted', 'A', 4)]])
  t.same(
    auditCourse(
      waiting.entries,
      now(waiting.head, { capacity: 1, students: ['B'], waitlist: [['A', 'rA4']] }),
    ).breaks,
    ['entry 2: waitlisted rA4 (arrival 4) after rB5 (arrival 5) got a seat'],
  )
  // Still a break after a cancellation: the later arrival got its seat before the refusal.
  const cancelled = record(1, [
    [queued('enrolled', 'B', 5)],
    [outside('cancelled', 'B', 'rB5')],
    [queued('enrolled', 'C', 6)],
    [queued('rejected', 'A', 4, 'COURSE_FULL')],
  ])
  t.same(
    auditCourse(cancelled.entries, now(cancelled.head, { capacity: 1, students: ['C'] })).breaks,
    ['entry 4: rejected rA4 (arrival 4) after rC6 (arrival 6) got a seat'],
  )
})

t.test(
  'arrival numbers that start again after the queue lost its counter are ordered by when they joined',
  async (t) => {
    const at = (d: RecordDecision, queuedAt: number): RecordDecision => ({ ...d, queuedAt })
    // B joined first and got the seat; Redis lost its data; A joined later and was numbered 1.
    const renumbered = record(1, [
      [at(queued('enrolled', 'B', 15), T0)],
      [at(queued('rejected', 'A', 1, 'COURSE_FULL'), T0 + 5_000)],
      [at(queued('waitlisted', 'C', 2), T0 + 6_000)],
    ])
    t.same(
      auditCourse(
        renumbered.entries,
        now(renumbered.head, { capacity: 1, students: ['B'], waitlist: [['C', 'rC2']] }),
      ).breaks,
      [],
      'no break: A and C joined after B',
    )
    // The same numbers, but the queue's clock says A joined before B: B jumped the queue.
    const jumped = record(1, [
      [at(queued('enrolled', 'B', 15), T0 + 5_000)],
      [at(queued('rejected', 'A', 1, 'COURSE_FULL'), T0)],
    ])
    t.same(auditCourse(jumped.entries, now(jumped.head, { capacity: 1, students: ['B'] })).breaks, [
      'entry 2: rejected rA1 (arrival 1) after rB15 (arrival 15) got a seat',
    ])
    // The time is part of the hash: moving it breaks the entry.
    const moved = renumbered.entries.map((e) => (e.seq === 2 ? { ...e, queuedAt: T0 - 1 } : e))
    t.match(
      auditCourse(
        moved,
        now(renumbered.head, { capacity: 1, students: ['B'], waitlist: [['C', 'rC2']] }),
      ).breaks,
      ['entry 2: its hash does not match its content'],
    )
  },
)

t.test('a promotion or a pass-over of a student who is not the waitlist head', async (t) => {
  const base = [
    [queued('enrolled', 'A', 1), queued('waitlisted', 'C', 2), queued('waitlisted', 'E', 3)],
  ]
  const promoted = record(1, [
    ...base,
    [outside('cancelled', 'A', 'rA1'), outside('promoted', 'E', 'rE3')],
  ])
  t.same(
    auditCourse(
      promoted.entries,
      now(promoted.head, { capacity: 1, students: ['E'], waitlist: [['C', 'rC2']] }),
    ).breaks,
    ["entry 5: promoted rE3 was not the waitlist's head (C)"],
  )
  const passed = record(1, [
    ...base,
    [
      outside('cancelled', 'A', 'rA1'),
      outside('passed-over', 'E', 'rE3', 'CREDIT_LIMIT'),
      outside('promoted', 'C', 'rC2'),
    ],
  ])
  t.same(auditCourse(passed.entries, now(passed.head, { capacity: 1, students: ['C'] })).breaks, [
    "entry 5: passed-over rE3 was not the waitlist's head (C)",
  ])
  const nobody = record(1, [
    [queued('enrolled', 'A', 1)],
    [outside('cancelled', 'A', 'rA1'), outside('promoted', 'X', 'rX9')],
  ])
  t.same(auditCourse(nobody.entries, now(nobody.head, { capacity: 1, students: ['X'] })).breaks, [
    "entry 3: promoted rX9 was not the waitlist's head (empty)",
  ])
})

t.test('a seat count that drifts', async (t) => {
  const { entries } = valid()
  // Entry 7 (G refused) says one seat fewer than entry 6 left, and the chain is computed again
  // from there, so only the count gives it away.
  const drifted = rechain(entries.map((e) => (e.seq === 7 ? { ...e, enrolled: 1 } : e)))
  const { breaks } = auditCourse(drifted, now(headOf(drifted), HELD))
  t.same(breaks, [
    'entry 7: 1 seats taken after 2 and a rejected',
    'entry 7: rejected rG7 while 1 seats were free',
    'entry 8: 2 seats taken after 1 and a rejected',
  ])
  // Every count from entry 7 on one lower: the course ends with a seat the record does not give.
  const lower = rechain(entries.map((e) => (e.seq >= 7 ? { ...e, enrolled: e.enrolled - 1 } : e)))
  const lowered = auditCourse(lower, now(headOf(lower), HELD)).breaks
  t.same(lowered.slice(0, 3), [
    'entry 7: 1 seats taken after 2 and a rejected',
    'entry 7: rejected rG7 while 1 seats were free',
    'entry 8: rejected rH8 while 1 seats were free',
  ])
  t.equal(
    lowered[lowered.length - 1],
    'the record leaves 1 seats taken (2 students); the course has 2 (2 enrollments)',
  )
  // More seats than the course has.
  const over = rechain(
    entries.map((e) => (e.seq === 16 ? { ...e, kind: 'enrolled', enrolled: 3 } : e)),
  )
  t.ok(auditCourse(over, now(headOf(over), HELD)).breaks.includes('entry 16: 3 seats taken of 2'))
  // The capacity changed without an entry that says so.
  const grown = rechain(entries.map((e) => (e.seq >= 10 ? { ...e, capacity: 3 } : e)))
  const regrown = auditCourse(grown, now(headOf(grown), HELD)).breaks
  t.equal(regrown[0], 'entry 10: capacity 3 changed from 2 unrecorded')
  t.equal(regrown[regrown.length - 1], 'capacity 2 changed from 3 unrecorded')
  // The first entry too starts from an empty course: a refusal as the course's first decision
  // that claims every seat taken (and a course row that agrees) is a drift from nothing.
  const forged = record(2, [])
  const claimed = chainDecisions(
    COURSE,
    forged.head,
    { enrolled: 2, capacity: 2 },
    [queued('rejected', 'A', 1, 'COURSE_FULL')],
    T0,
  )
  t.same(
    auditCourse(claimed, now(headOf(claimed), { capacity: 2, students: [], enrolled: 2 })).breaks,
    ['entry 1: 2 seats taken after 0 and a rejected'],
  )
})

t.test(
  'a record that replays to other seats or another waitlist than the course holds',
  async (t) => {
    const { entries, head } = valid()
    t.same(
      auditCourse(entries, now(head, { ...HELD, students: ['C', 'J', 'X'] })).breaks,
      [
        'the record leaves 2 seats taken (2 students); the course has 3 (3 enrollments)',
        'enrolled without a record: X',
      ],
      'a student seated without an entry',
    )
    t.same(
      auditCourse(entries, now(head, { ...HELD, students: ['C', 'X'] })).breaks,
      ['enrolled without a record: X'],
      'a seat given to another student',
    )
    t.same(
      auditCourse(entries, now(head, { ...HELD, students: ['C'], enrolled: 2 })).breaks,
      ['the record leaves 2 seats taken (2 students); the course has 2 (1 enrollments)'],
      'a seat gone without an entry',
    )
    t.same(
      auditCourse(entries, now(head, { ...HELD, waitlist: [] })).breaks,
      ["the waitlist differs from the record's: [] against [L:rL13]"],
      'a waitlist place gone without an entry',
    )
    t.same(
      auditCourse(
        entries,
        now(head, {
          ...HELD,
          waitlist: [
            ['M', 'rM14'],
            ['L', 'rL13'],
          ],
        }),
      ).breaks,
      ["the waitlist differs from the record's: [M:rM14 L:rL13] against [L:rL13]"],
      'a place given ahead of the record',
    )
    t.same(
      auditCourse(entries, now(head, { ...HELD, waitlist: [['L', 'rL99']] })).breaks,
      ["the waitlist differs from the record's: [L:rL99] against [L:rL13]"],
      'a place answering to another request',
    )
    t.same(
      auditCourse(entries, now(head, { ...HELD, capacity: 3 })).breaks,
      ['capacity 3 changed from 2 unrecorded'],
      'the capacity changed since',
    )
  },
)
