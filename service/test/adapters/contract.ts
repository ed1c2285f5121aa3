/**
 * The port contract every store + rush-state pair must keep, run against the MySQL + Redis pair
 * (mysql-redis.test.ts) and the embedded SQLite + in-process pair (embedded.test.ts). It drives
 * the ports only, as the domain does; what each adapter does underneath is its own business.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import type { Test } from 'tap'
import type { Decision, Meeting, QueuedRequest } from '../../src/domain/model.js'
import type {
  AdmissionFacts,
  AdmissionWrites,
  CancellationChange,
  FailureCounter,
  RegistrationStore,
  RushState,
} from '../../src/domain/ports.js'

export interface FixtureStudent {
  readonly id: string
  readonly maxCredits?: number
  readonly year?: number
  readonly name?: string
}

export interface FixtureCourse {
  readonly id: string
  readonly capacity: number
  readonly credits?: number
  readonly meetings?: readonly Meeting[]
  readonly title?: string
  readonly professor?: string
}

export interface Fixture {
  readonly students?: readonly FixtureStudent[]
  readonly courses?: readonly FixtureCourse[]
}

export interface PairOptions {
  readonly sessionTtlSeconds?: number
  readonly decidedTtlSeconds?: number
  readonly requestBudget?: { readonly max: number; readonly windowMs: number }
}

/** A fresh, empty, migrated store and rush state of their own, closed when `t` ends. */
export interface Pair {
  readonly store: RegistrationStore
  readonly rush: RushState
  /** Writes students and courses directly (seeding is no port). */
  seed(fixture: Fixture): Promise<void>
}

export type PairFactory = (t: Test, options: PairOptions) => Promise<Pair>

export const PASSWORD_HASH = 'scrypt$16$8$1$c2FsdA$aGFzaA'

/** Polls until check gives a value (a window to end, a state to change): no fixed wait. */
async function waitForValue<T>(check: () => Promise<T | null>, timeoutMs = 30_000): Promise<T> {
  const until = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value !== null) return value
    if (Date.now() > until) throw new Error('timed out waiting for a value')
    await sleep(10)
  }
}

const MON_1_2: Meeting = { day: 'MON', start: 1, end: 2, room: '공학관 301' }
const WED_1_2: Meeting = { day: 'WED', start: 1, end: 2, room: '공학관 301' }
const TUE_3_4: Meeting = { day: 'TUE', start: 3, end: 4, room: '인문관 101' }

const q = (requestId: string, studentId: string, arrival: number, waitlist = false) =>
  ({ requestId, studentId, arrival, waitlist }) satisfies QueuedRequest

const noWrites: AdmissionWrites = {
  enroll: [],
  waitlist: [],
  rewaitlist: [],
  record: [],
  course: null,
}

/** A decide that writes what it is told and hands back the facts it read. */
function writing(writes: Partial<AdmissionWrites>) {
  return (facts: AdmissionFacts) => ({ writes: { ...noWrites, ...writes }, value: facts })
}

/** A course snapshot with its waitlist as request ids (places are the store's own numbers). */
async function snapshotOf(store: RegistrationStore, courseId: string) {
  const snapshot = await store.courseSnapshot(courseId)
  if (!snapshot) return null
  const places = snapshot.waitlist.map((w) => w.place)
  if (places.some((p, i) => i > 0 && p <= (places[i - 1] as number)))
    throw new Error(`the waitlist of ${courseId} is not in its order: ${places.join(', ')}`)
  return { ...snapshot, waitlist: snapshot.waitlist.map((w) => w.requestId) }
}

/** Admission with a fresh fence, as a new lease holder would. */
async function admitNow(
  store: RegistrationStore,
  courseId: string,
  students: readonly string[],
  writes: Partial<AdmissionWrites>,
) {
  const fence = await store.fence(courseId)
  if (fence === null) throw new Error(`no course ${courseId}`)
  const outcome = await store.admit(courseId, fence, students, writing(writes))
  if (outcome.kind !== 'done') throw new Error(`admission ${outcome.kind}`)
  return outcome.value
}

/** The rush-state helpers every test of the queue uses. */
function door(rush: RushState) {
  return {
    async login(studentId: string): Promise<string> {
      const sid = `sid-${studentId}`
      await rush.sessions.create(sid, studentId)
      return sid
    },
    enqueue(
      studentId: string,
      courseId: string,
      requestId: string,
      options: { waitlist?: boolean; refuseWhenFull?: boolean } = {},
    ) {
      return rush.queue.enqueue({
        sessionId: `sid-${studentId}`,
        studentId,
        courseId,
        requestId,
        waitlist: options.waitlist ?? false,
        refuseWhenFull: options.refuseWhenFull ?? true,
      })
    },
    async lease(courseId: string, token = 'worker'): Promise<string> {
      const taken = await rush.leases.acquireCourse(courseId, token, 30_000)
      if (taken === 'held') throw new Error('lease held by another')
      return token
    },
  }
}

const enrolled = (requestId: string, studentId: string): Decision => ({
  requestId,
  studentId,
  status: 'enrolled',
})
const rejected = (
  requestId: string,
  studentId: string,
  reason: Extract<Decision, { status: 'rejected' }>['reason'] = 'COURSE_FULL',
) => ({ requestId, studentId, status: 'rejected', reason }) as const

/** Runs every behaviour of the contract against pairs from `factory`. */
export function contract(t: Test, factory: PairFactory): void {
  const fresh = async (t: Test, fixture: Fixture = {}, options: PairOptions = {}) => {
    const pair = await factory(t, options)
    await pair.seed(fixture)
    return pair
  }
  const students = (...ids: string[]) => ids.map((id) => ({ id }))

  // ---------------------------------------------------------------------------------------
  // The store

  t.test('catalogue and accounts', async (t) => {
    const { store } = await fresh(t, {
      students: [{ id: 'S2', maxCredits: 21, year: 4, name: '김민준' }],
      courses: [
        { id: 'C2', capacity: 30, credits: 3, meetings: [MON_1_2, WED_1_2], title: '자료구조' },
        { id: 'C1', capacity: 5, credits: 1, title: '교양합창', professor: '이영수' },
      ],
    })
    const courses = await store.listCourses()
    t.same(
      courses.map((c) => c.id),
      ['C1', 'C2'],
      'ordered by id',
    )
    t.same(await store.findCourse('C2'), {
      id: 'C2',
      title: '자료구조',
      professor: 'Professor',
      credits: 3,
      capacity: 30,
      enrolled: 0,
      meetings: [MON_1_2, WED_1_2],
    })
    t.equal((await store.findCourse('C1'))?.professor, '이영수', 'Korean text round-trips')
    t.equal(await store.findCourse('C9'), null)
    t.same(await store.findStudent('S2'), {
      id: 'S2',
      name: '김민준',
      passwordHash: PASSWORD_HASH,
      year: 4,
      maxCredits: 21,
    })
    t.equal(await store.findStudent('S9'), null)
    await store.updatePasswordHash('S2', 'scrypt$32768$8$1$new$hash')
    t.equal((await store.findStudent('S2'))?.passwordHash, 'scrypt$32768$8$1$new$hash')
    t.equal(await store.replicaLagSeconds(), 0, 'no replica: no lag')
    await store.ping()
    await store.migrate()
    t.equal((await store.listCourses()).length, 2, 'migrating again changes nothing')
  })

  t.test('fence: raised by every new holder; null for a course that does not exist', async (t) => {
    const { store } = await fresh(t, { courses: [{ id: 'C1', capacity: 1 }] })
    t.equal(await store.fence('C1'), 1)
    t.equal(await store.fence('C1'), 2)
    t.equal(await store.fence('C9'), null)
  })

  t.test('admit: no course, an old fence, no students', async (t) => {
    const { store } = await fresh(t, {
      students: students('S1'),
      courses: [{ id: 'C1', capacity: 1 }],
    })
    t.same(await store.admit('C9', 1, ['S1'], writing({})), { kind: 'no-course' })
    const old = (await store.fence('C1')) as number
    const current = (await store.fence('C1')) as number
    let decided = false
    const fenced = await store.admit('C1', old, ['S1'], (facts) => {
      decided = true
      return writing({})(facts)
    })
    t.same(fenced, { kind: 'fenced' })
    t.notOk(decided, 'a fenced batch decides nothing')
    t.equal((await store.admit('C1', current, ['S1'], writing({}))).kind, 'done')
    await t.rejects(store.admit('C1', current, [], writing({})), /at least one student/)
  })

  t.test(
    'admit: decide reads the facts under the transaction, the writes are applied',
    async (t) => {
      const { store } = await fresh(t, {
        students: [
          { id: 'S1', maxCredits: 18 },
          { id: 'S2', maxCredits: 19 },
          { id: 'S3', maxCredits: 21 },
        ],
        courses: [
          { id: 'C1', capacity: 2, credits: 3, meetings: [MON_1_2] },
          { id: 'C2', capacity: 10, credits: 4, meetings: [TUE_3_4] },
          { id: 'C3', capacity: 1, credits: 2, meetings: [WED_1_2] },
        ],
      })
      // S1 holds C2 (4 credits); S2 waits for C3, which S3 holds.
      await admitNow(store, 'C2', ['S1'], {
        enroll: [q('r-s1-c2', 'S1', 1)],
        course: { enrolled: 1, version: 1, decidedThrough: 1 },
      })
      await admitNow(store, 'C3', ['S3', 'S2'], {
        enroll: [q('r-s3-c3', 'S3', 2)],
        waitlist: [q('r-s2-c3', 'S2', 3, true)],
        course: { enrolled: 1, version: 1, decidedThrough: 3 },
      })

      // Enrollments are listed in the order they were made (to the millisecond).
      await sleep(5)
      const facts = await admitNow(store, 'C1', ['S2', 'S1', 'S9'], {
        enroll: [q('r-s1-c1', 'S1', 4)],
        waitlist: [q('r-s2-c1', 'S2', 5, true)],
        course: { enrolled: 1, version: 7, decidedThrough: 5 },
      })
      t.equal(facts.credits, 3)
      t.equal(facts.capacity, 2)
      t.equal(facts.enrolled, 0)
      t.equal(facts.version, 0)
      t.equal(facts.decidedThrough, 0)
      t.same(facts.meetings, [MON_1_2])
      t.same(
        [...facts.maxCredits].sort(),
        [
          ['S1', 18],
          ['S2', 19],
        ],
        'only students that exist, with their limits',
      )
      t.same([...facts.creditsHeld], [['S1', 4]], 'credits over all courses')
      t.same([...facts.meetingsHeld], [['S1', [TUE_3_4]]])
      t.same([...facts.enrolledBy], [], 'nobody is in C1 yet')
      t.same([...facts.waitlistedBy], [])
      t.same([...facts.waitlistHeld], [['S2', 1]], 'waitlist places over all courses')

      const again = await admitNow(store, 'C1', ['S1', 'S2'], {
        rewaitlist: [q('r-s2-c1-again', 'S2', 6, true)],
      })
      t.equal(again.enrolled, 1)
      t.equal(again.version, 7)
      t.equal(again.decidedThrough, 5)
      t.same([...again.enrolledBy], [['S1', 'r-s1-c1']])
      t.same([...again.waitlistedBy], [['S2', 'r-s2-c1']])
      t.same([...again.creditsHeld].sort(), [['S1', 7]])
      t.same(
        [...again.meetingsHeld].map(([s, m]) => [
          s,
          [...m].sort((a, b) => a.day.localeCompare(b.day)),
        ]),
        [['S1', [MON_1_2, TUE_3_4]]],
      )
      t.same([...again.waitlistHeld].sort(), [['S2', 2]])

      t.same(await store.findDurableRequest('r-s1-c1'), {
        status: 'enrolled',
        courseId: 'C1',
        studentId: 'S1',
      })
      t.same(
        await store.findDurableRequest('r-s2-c1-again'),
        { status: 'waitlisted', courseId: 'C1', studentId: 'S2', position: 1 },
        'the waitlist place answers to the newer request',
      )
      t.equal(await store.findDurableRequest('r-s2-c1'), null, 'and no longer to the old one')
      t.equal(await store.findDurableRequest('nothing'), null)

      const mine = await store.listEnrollments('S1')
      t.same(
        mine.map((e) => [e.courseId, e.credits, e.meetings]),
        [
          ['C2', 4, [TUE_3_4]],
          ['C1', 3, [MON_1_2]],
        ],
        'in the order enrolled',
      )
      t.ok(mine.every((e) => e.enrolledAt instanceof Date && !Number.isNaN(e.enrolledAt.getTime())))
      t.equal(mine[0]?.title, 'Course')
      t.same(await store.listEnrollments('S9'), [])

      t.same(await snapshotOf(store, 'C1'), {
        version: 7,
        seatsLeft: 1,
        students: ['S1'],
        waitlist: ['r-s2-c1-again'],
      })
      t.equal(await store.courseSnapshot('C9'), null)
      t.same(
        (await store.courseVersions()).sort((a, b) => a.id.localeCompare(b.id)),
        [
          { id: 'C1', version: 7, decidedThrough: 5 },
          { id: 'C2', version: 1, decidedThrough: 1 },
          { id: 'C3', version: 1, decidedThrough: 3 },
        ],
      )
      t.equal(await store.countOverCapacity(), 0)
      t.equal((await store.findCourse('C1'))?.enrolled, 1)
    },
  )

  t.test('admit: a failed decide or write leaves nothing behind', async (t) => {
    const { store } = await fresh(t, {
      students: students('S1', 'S2'),
      courses: [{ id: 'C1', capacity: 5 }],
    })
    const fence = (await store.fence('C1')) as number
    await t.rejects(
      store.admit('C1', fence, ['S1'], () => {
        throw new Error('decide failed')
      }),
      /decide failed/,
    )
    await t.rejects(
      store.admit(
        'C1',
        fence,
        ['S1', 'S2'],
        writing({
          enroll: [q('r1', 'S1', 1), q('r2', 'S2', 2), q('r3', 'S1', 3)],
          course: { enrolled: 3, version: 1, decidedThrough: 3 },
        }),
      ),
      'a second enrollment of one student in one course is refused',
    )
    t.same(await snapshotOf(store, 'C1'), { version: 0, seatsLeft: 5, students: [], waitlist: [] })
    t.equal(await store.findDurableRequest('r2'), null, 'the whole batch rolled back')
    t.equal(
      (await store.admit('C1', fence, ['S1'], writing({}))).kind,
      'done',
      'and the store is usable after',
    )
  })

  t.test(
    'admit: the waitlist places the batch’s students hold in the course, after its writes',
    async (t) => {
      const { store } = await fresh(t, {
        students: students('S1', 'S2', 'S3', 'S4'),
        courses: [
          { id: 'C1', capacity: 1 },
          { id: 'C2', capacity: 5 },
        ],
      })
      const placed = async (
        courseId: string,
        ids: readonly string[],
        writes: Partial<AdmissionWrites>,
      ) => {
        const fence = await store.fence(courseId)
        if (fence === null) throw new Error(`no course ${courseId}`)
        const outcome = await store.admit(courseId, fence, ids, writing(writes))
        if (outcome.kind !== 'done') throw new Error(`admission ${outcome.kind}`)
        return outcome.waitlistPlaces
      }
      /** Request id -> place, for every place on the course's waitlist. */
      const places = async (courseId: string) =>
        new Map(
          ((await store.courseSnapshot(courseId))?.waitlist ?? []).map((w) => [
            w.requestId,
            w.place,
          ]),
        )

      const first = await placed('C1', ['S1', 'S2', 'S3'], {
        enroll: [q('r1', 'S1', 1)],
        waitlist: [q('r2', 'S2', 2, true), q('r3', 'S3', 3, true)],
        course: { enrolled: 1, version: 1, decidedThrough: 3 },
      })
      t.same(first, await places('C1'), 'each new place, by its request, as the store orders them')
      t.ok((first.get('r2') as number) < (first.get('r3') as number), 'in the order written')

      const second = await placed('C1', ['S3', 'S4'], {
        rewaitlist: [q('r3-again', 'S3', 4, true)],
        waitlist: [q('r4', 'S4', 5, true)],
        course: { enrolled: 1, version: 1, decidedThrough: 5 },
      })
      t.same(
        second,
        new Map([
          ['r3-again', first.get('r3')],
          ['r4', (await places('C1')).get('r4')],
        ]),
        'a place that answers to a newer request keeps where it stands',
      )
      t.ok((second.get('r4') as number) > (first.get('r3') as number), 'a new place comes last')
      t.same(
        await placed('C1', ['S2', 'S1'], {}),
        new Map([['r2', first.get('r2')]]),
        'a place held from before, though the batch wrote none',
      )
      t.same(
        await placed('C2', ['S2'], {}),
        new Map(),
        "a place in another course is not this one's",
      )
    },
  )

  t.test('countOverCapacity flags a course whose count disagrees with its rows', async (t) => {
    const { store } = await fresh(t, {
      students: students('S1'),
      courses: [
        { id: 'C1', capacity: 3 },
        { id: 'C2', capacity: 3 },
      ],
    })
    await admitNow(store, 'C1', ['S1'], {
      enroll: [q('r1', 'S1', 1)],
      course: { enrolled: 2, version: 1, decidedThrough: 1 },
    })
    t.equal(await store.countOverCapacity(), 1)
  })

  t.test('cancel: the transaction object frees the seat and promotes in order', async (t) => {
    const { store } = await fresh(t, {
      students: [{ id: 'S1' }, { id: 'S2', maxCredits: 19 }, { id: 'S3' }, { id: 'S4' }],
      courses: [
        { id: 'C1', capacity: 1, credits: 3, meetings: [MON_1_2] },
        { id: 'C2', capacity: 5, credits: 2, meetings: [TUE_3_4] },
      ],
    })
    await admitNow(store, 'C2', ['S2'], {
      enroll: [q('r-s2-c2', 'S2', 1)],
      course: { enrolled: 1, version: 1, decidedThrough: 1 },
    })
    await admitNow(store, 'C1', ['S1', 'S2', 'S3', 'S4'], {
      enroll: [q('r1', 'S1', 2)],
      waitlist: [q('r2', 'S2', 3, true), q('r3', 'S3', 4, true), q('r4', 'S4', 5, true)],
      course: { enrolled: 1, version: 1, decidedThrough: 5 },
    })
    t.same(await store.findDurableRequest('r3'), {
      status: 'waitlisted',
      courseId: 'C1',
      studentId: 'S3',
      position: 2,
    })

    t.equal(await store.cancel('S1', 'C9', async () => 'ran'), null, 'no course: work not run')
    t.equal(
      await store.cancel('S4', 'C1', async (tx) => tx.removeEnrollment()),
      false,
      'removeEnrollment: false when not enrolled',
    )

    const result = await store.cancel('S1', 'C1', async (tx) => {
      t.same(tx.course, { credits: 3, capacity: 1, enrolled: 1, version: 1, meetings: [MON_1_2] })
      t.equal(await tx.removeEnrollment(), true)
      const head = await tx.takeWaitlistHead()
      t.same(head, {
        studentId: 'S2',
        requestId: 'r2',
        maxCredits: 19,
        creditsHeld: 2,
        meetingsHeld: [TUE_3_4],
        enrolledHere: false,
      })
      // The rules drop S2; the next head is S3.
      const next = await tx.takeWaitlistHead()
      t.equal(next?.studentId, 'S3')
      t.equal(next?.creditsHeld, 0)
      t.same(next?.meetingsHeld, [])
      await tx.enroll('S3', 'r3')
      await tx.updateCourse(1, 2)
      return 'committed'
    })
    t.equal(result, 'committed')
    t.same(await snapshotOf(store, 'C1'), {
      version: 2,
      seatsLeft: 0,
      students: ['S3'],
      waitlist: ['r4'],
    })
    t.same(await store.findDurableRequest('r3'), {
      status: 'enrolled',
      courseId: 'C1',
      studentId: 'S3',
    })
    t.equal(await store.findDurableRequest('r2'), null, 'the dropped head left the waitlist')
    t.same(await store.findDurableRequest('r4'), {
      status: 'waitlisted',
      courseId: 'C1',
      studentId: 'S4',
      position: 1,
    })
    t.same(await store.listEnrollments('S1'), [])
    t.equal(await store.countOverCapacity(), 0)

    await t.rejects(
      store.cancel('S3', 'C1', async (tx) => {
        await tx.removeEnrollment()
        await tx.takeWaitlistHead()
        throw new Error('work failed')
      }),
      /work failed/,
    )
    t.same(
      await snapshotOf(store, 'C1'),
      { version: 2, seatsLeft: 0, students: ['S3'], waitlist: ['r4'] },
      'a failed cancellation rolls back',
    )
    t.equal((await store.findDurableRequest('r4'))?.status, 'waitlisted')
  })

  t.test(
    'cancel: a waitlist place given up, and a head enrolled in the course already',
    async (t) => {
      const { store } = await fresh(t, {
        students: students('S1', 'S2', 'S3', 'S4'),
        courses: [
          { id: 'C1', capacity: 1, credits: 3, meetings: [MON_1_2] },
          { id: 'C2', capacity: 1 },
        ],
      })
      // S1 holds the seat and, still, the first place on the waitlist.
      await admitNow(store, 'C1', ['S1', 'S2', 'S3'], {
        enroll: [q('r1', 'S1', 1)],
        waitlist: [q('w1', 'S1', 2, true), q('w2', 'S2', 3, true), q('w3', 'S3', 4, true)],
        course: { enrolled: 1, version: 1, decidedThrough: 4 },
      })
      await admitNow(store, 'C2', ['S2'], { waitlist: [q('x2', 'S2', 5, true)] })

      const giveUp = (studentId: string) =>
        store.cancel(studentId, 'C1', async (tx) => tx.removeWaitlistPlace())
      t.equal(await giveUp('S2'), 'w2', "removeWaitlistPlace: the place's request")
      t.equal(await giveUp('S2'), null, 'and it is gone')
      t.equal(await giveUp('S4'), null, 'null without a place')
      t.same(await snapshotOf(store, 'C1'), {
        version: 1,
        seatsLeft: 0,
        students: ['S1'],
        waitlist: ['w1', 'w3'],
      })
      t.equal(await store.findDurableRequest('w2'), null)
      t.same(await store.findDurableRequest('w3'), {
        status: 'waitlisted',
        courseId: 'C1',
        studentId: 'S3',
        position: 2,
      })
      t.same(
        await store.findDurableRequest('x2'),
        { status: 'waitlisted', courseId: 'C2', studentId: 'S2', position: 1 },
        'a place in another course stays',
      )

      t.same(await store.cancel('S3', 'C1', async (tx) => tx.takeWaitlistHead()), {
        studentId: 'S1',
        requestId: 'w1',
        maxCredits: 18,
        creditsHeld: 3,
        meetingsHeld: [MON_1_2],
        enrolledHere: true,
      })
    },
  )

  t.test('cancel: others see nothing until it commits, and a fence waits for it', async (t) => {
    const { store } = await fresh(t, {
      students: students('S1', 'S2'),
      courses: [{ id: 'C1', capacity: 1 }],
    })
    await admitNow(store, 'C1', ['S1', 'S2'], {
      enroll: [q('r1', 'S1', 1)],
      waitlist: [q('r2', 'S2', 2, true)],
      course: { enrolled: 1, version: 1, decidedThrough: 2 },
    })
    let committedAt = 0
    let inside!: () => void
    const entered = new Promise<void>((resolve) => (inside = resolve))
    const cancelling = store
      .cancel('S1', 'C1', async (tx) => {
        await tx.removeEnrollment()
        const head = await tx.takeWaitlistHead()
        if (head) await tx.enroll(head.studentId, head.requestId)
        await tx.updateCourse(1, 2)
        inside()
        await sleep(300)
        committedAt = Date.now()
      })
      .then(() => {
        committedAt = committedAt || Date.now()
      })
    await entered
    t.same(
      (await store.listEnrollments('S1')).map((e) => e.courseId),
      ['C1'],
      'the enrollment is still there for readers',
    )
    t.equal((await store.findDurableRequest('r2'))?.status, 'waitlisted')
    const fence = await store.fence('C1')
    t.ok(committedAt > 0, 'the fence was raised only after the cancellation committed')
    await cancelling
    t.ok(fence !== null && fence >= 2)
    t.same(await store.listEnrollments('S1'), [])
    t.equal((await store.findDurableRequest('r2'))?.status, 'enrolled')
  })

  t.test('cart: saved in order, once each, only existing courses, up to a limit', async (t) => {
    const { store } = await fresh(t, {
      students: students('S1', 'S2'),
      courses: [
        { id: 'C1', capacity: 1 },
        { id: 'C2', capacity: 1 },
        { id: 'C3', capacity: 1 },
      ],
    })
    const limit = 3
    t.same(await store.listCart('S1'), [])
    t.equal(await store.addToCart('S1', 'C3', limit), 'added')
    t.equal(await store.addToCart('S1', 'C1', limit), 'added')
    t.equal(await store.addToCart('S1', 'C3', limit), 'added', 'adding twice is a no-op')
    t.equal(await store.addToCart('S1', 'C9', limit), 'course-not-found')
    t.equal(await store.addToCart('S2', 'C2', limit), 'added')
    t.equal(await store.addToCart('S1', 'C2', 2), 'cart-full', 'a full cart takes no more')
    t.equal(await store.addToCart('S1', 'C1', 2), 'added', 'a course already there is fine')
    t.equal(await store.addToCart('S9', 'C1', limit), 'added', 'a missing student adds nothing')
    t.same(await store.listCart('S9'), [])
    const cart = await store.listCart('S1')
    t.same(
      cart.map((c) => c.courseId),
      ['C3', 'C1'],
      'in the order added',
    )
    t.ok(cart.every((c) => c.addedAt instanceof Date && !Number.isNaN(c.addedAt.getTime())))
    t.equal(await store.removeFromCart('S1', 'C3'), true)
    t.equal(await store.removeFromCart('S1', 'C3'), false)
    t.equal(await store.addToCart('S1', 'C3', limit), 'added')
    t.same(
      (await store.listCart('S1')).map((c) => c.courseId),
      ['C1', 'C3'],
      'added again: at the end',
    )
    t.same(
      (await store.listCart('S2')).map((c) => c.courseId),
      ['C2'],
    )
  })

  t.test('cart: put in an order that names every course once, or left as it is', async (t) => {
    const { store } = await fresh(t, {
      students: students('S1', 'S2'),
      courses: [
        { id: 'C1', capacity: 1 },
        { id: 'C2', capacity: 1 },
        { id: 'C3', capacity: 1 },
      ],
    })
    for (const c of ['C1', 'C2', 'C3']) await store.addToCart('S1', c, 12)
    await store.addToCart('S2', 'C1', 12)
    const before = await store.listCart('S1')
    const addedAt = (id: string) => before.find((c) => c.courseId === id)?.addedAt.getTime()
    t.equal(await store.reorderCart('S1', ['C3', 'C1', 'C2']), true)
    const after = await store.listCart('S1')
    t.same(
      after.map((c) => c.courseId),
      ['C3', 'C1', 'C2'],
      'the new order',
    )
    t.same(
      after.map((c) => c.addedAt.getTime()),
      ['C3', 'C1', 'C2'].map(addedAt),
      'each course keeps when it was added',
    )
    for (const wrong of [['C3', 'C1'], ['C3', 'C1', 'C2', 'C4'], ['C3', 'C1', 'C4'], []]) {
      t.equal(await store.reorderCart('S1', wrong), false, `refused: ${wrong.join(',')}`)
    }
    t.same(
      (await store.listCart('S1')).map((c) => c.courseId),
      ['C3', 'C1', 'C2'],
      'a refused order changes nothing',
    )
    t.equal(await store.addToCart('S1', 'C1', 12), 'added')
    t.equal(await store.removeFromCart('S1', 'C3'), true)
    t.equal(await store.addToCart('S1', 'C3', 12), 'added')
    t.same(
      (await store.listCart('S1')).map((c) => c.courseId),
      ['C1', 'C2', 'C3'],
      'added after a reorder: at the end',
    )
    t.same(
      (await store.listCart('S2')).map((c) => c.courseId),
      ['C1'],
      "another student's cart is untouched",
    )
    t.equal(await store.reorderCart('S9', []), true, 'an empty cart is in every order')
  })

  // ---------------------------------------------------------------------------------------
  // The rush state

  t.test('sessions: alive for their student, destroyed, and expiring', async (t) => {
    const { rush } = await fresh(t, {}, { sessionTtlSeconds: 1 })
    await rush.sessions.create('sid-a', 'S1')
    t.same(await rush.sessions.authorize('sid-a', 'S1'), { kind: 'ok' })
    t.same(await rush.sessions.authorize('sid-a', 'S2'), { kind: 'unauthenticated' })
    t.same(await rush.sessions.authorize('sid-none', 'S1'), { kind: 'unauthenticated' })
    await rush.sessions.destroy('sid-a', 'S1')
    t.same(await rush.sessions.authorize('sid-a', 'S1'), { kind: 'unauthenticated' })
    await rush.sessions.create('sid-b', 'S1')
    await sleep(1_150)
    t.same(await rush.sessions.authorize('sid-b', 'S1'), { kind: 'unauthenticated' }, 'expired')
  })

  t.test('the request budget is one per student, shared by authorize and enqueue', async (t) => {
    const { rush } = await fresh(t, {}, { requestBudget: { max: 3, windowMs: 2_000 } })
    const d = door(rush)
    await d.login('S1')
    await d.login('S2')
    t.same(await rush.sessions.authorize('sid-S1', 'S1'), { kind: 'ok' })
    t.same(await rush.sessions.authorize('wrong', 'S1'), { kind: 'unauthenticated' })
    t.equal((await d.enqueue('S1', 'C1', 'r1')).kind, 'created')
    t.equal((await d.enqueue('S1', 'C1', 'r2')).kind, 'existing', 'counted too')
    const limited = await rush.sessions.authorize('sid-S1', 'S1')
    t.equal(limited.kind, 'rate-limited')
    t.ok(
      limited.kind === 'rate-limited' && limited.retryAfterMs > 0 && limited.retryAfterMs <= 2_000,
      'with the time left in the window',
    )
    const door4 = await d.enqueue('S1', 'C1', 'r3')
    t.equal(door4.kind, 'rate-limited', 'the door shares the budget')
    t.same(await rush.sessions.authorize('sid-S2', 'S2'), { kind: 'ok' }, 'per student')
    await sleep(2_100)
    t.same(await rush.sessions.authorize('sid-S1', 'S1'), { kind: 'ok' }, 'a new window')
  })

  t.test('enqueue: the door answers', async (t) => {
    const { rush } = await fresh(t)
    const d = door(rush)
    for (const s of ['S1', 'S2', 'S3', 'S4', 'S5']) await d.login(s)
    t.same(
      await rush.queue.enqueue({
        sessionId: 'nobody',
        studentId: 'S1',
        courseId: 'C1',
        requestId: 'r0',
        waitlist: false,
        refuseWhenFull: true,
      }),
      { kind: 'unauthenticated' },
    )
    t.same(await d.enqueue('S1', 'C1', 'r1'), {
      kind: 'created',
      requestId: 'r1',
      status: 'queued',
      position: 1,
      queueLength: 1,
    })
    t.same(await rush.queue.activeCourses(), ['C1'], 'the course became active')
    t.same(await d.enqueue('S2', 'C1', 'r2', { waitlist: true }), {
      kind: 'created',
      requestId: 'r2',
      status: 'queued',
      position: 2,
      queueLength: 2,
    })
    t.same(
      await d.enqueue('S1', 'C1', 'r3'),
      { kind: 'existing', requestId: 'r1', status: 'queued', position: 1, queueLength: 2 },
      'a live request is returned, not duplicated',
    )
    t.equal(await rush.queue.length('C1'), 2)
    t.same(await rush.queue.request('r1'), {
      requestId: 'r1',
      studentId: 'S1',
      courseId: 'C1',
      status: 'queued',
      reason: null,
      position: 1,
      joined: { position: 1, removedBefore: 0 },
    })
    t.equal(await rush.queue.request('r3'), null, 'the refused duplicate was never stored')
    t.equal(await rush.queue.request('nothing'), null)

    const lease = await d.lease('C1')
    t.equal(
      await rush.queue.settle(
        'C1',
        lease,
        [
          enrolled('r1', 'S1'),
          { requestId: 'r2', studentId: 'S2', status: 'waitlisted', place: 1 },
        ],
        { seatsLeft: 0, versionBefore: 0, version: 1 },
      ),
      0,
    )
    t.same(await d.enqueue('S1', 'C1', 'r4'), { kind: 'already-enrolled' })
    t.same(
      await d.enqueue('S2', 'C1', 'r5'),
      { kind: 'existing', requestId: 'r2', status: 'waitlisted', position: 0, queueLength: 0 },
      'a waitlisted request is live too',
    )
    t.same(await d.enqueue('S3', 'C1', 'r6'), { kind: 'course-full' }, 'full: refused')
    t.equal(
      (await d.enqueue('S3', 'C1', 'r7', { refuseWhenFull: false, waitlist: true })).kind,
      'created',
      'unless the domain lets it wait',
    )
    await rush.seats.markCancellation('C1', 'cx', 60_000)
    t.equal(
      (await d.enqueue('S4', 'C1', 'r8')).kind,
      'created',
      'not full while a cancellation may free a seat',
    )
    await rush.seats.unmarkCancellation('C1', 'cx')
    t.same(await d.enqueue('S5', 'C1', 'r9'), { kind: 'course-full' }, 'full again once unmarked')

    // A rejected request is no longer live: the student may ask again.
    t.equal(
      await rush.queue.settle('C1', lease, [rejected('r7', 'S3')], {
        seatsLeft: 0,
        versionBefore: 1,
        version: 1,
      }),
      1,
    )
    t.same(await rush.queue.request('r7'), {
      requestId: 'r7',
      studentId: 'S3',
      courseId: 'C1',
      status: 'rejected',
      reason: 'COURSE_FULL',
      position: null,
      joined: { position: 1, removedBefore: 2 },
    })
    t.equal(
      (await d.enqueue('S3', 'C1', 'r10', { refuseWhenFull: false })).kind,
      'created',
      'asks again after a rejection',
    )
    t.same(await d.enqueue('S3', 'C2', 'r11'), {
      kind: 'created',
      requestId: 'r11',
      status: 'queued',
      position: 1,
      queueLength: 1,
    })
    t.same((await rush.queue.activeCourses()).sort(), ['C1', 'C2'])
  })

  t.test('arrival numbers: in order per course, raised but never lowered', async (t) => {
    const { rush } = await fresh(t)
    const d = door(rush)
    for (const s of ['S1', 'S2', 'S3', 'S4']) await d.login(s)
    await d.enqueue('S1', 'C1', 'r1')
    await d.enqueue('S2', 'C2', 'r2')
    await d.enqueue('S3', 'C1', 'r3')
    const c1 = await rush.queue.head('C1', 10)
    const c2 = await rush.queue.head('C2', 10)
    // Redis numbers each course from its own counter (a cluster keeps each in its course's
    // slot); the embedded queue numbers every course from one. Either way a course's order holds.
    t.equal(c1.length, 2)
    t.ok(c1[0]!.arrival < c1[1]!.arrival, "a course's arrivals grow")
    t.equal(c2.length, 1)
    await rush.queue.raiseArrivalCounters(new Map([['C1', 1_000]]))
    await rush.queue.raiseArrivalCounters(new Map([['C1', 10]]))
    await d.enqueue('S4', 'C1', 'r4')
    t.same(
      (await rush.queue.head('C1', 10)).map((e) => e.arrival),
      [c1[0]!.arrival, c1[1]!.arrival, 1_001],
      'raised above the store, never lowered',
    )
  })

  t.test('head: arrival order, what the cache knows of each student, idle courses', async (t) => {
    const { rush } = await fresh(t, {}, { decidedTtlSeconds: 1 })
    const d = door(rush)
    for (const s of ['S1', 'S2', 'S3', 'S4']) await d.login(s)
    t.same(await rush.queue.head('C1', 5), [], 'no queue')
    await d.enqueue('S1', 'C1', 'r1', { waitlist: true })
    await d.enqueue('S2', 'C1', 'r2')
    await d.enqueue('S3', 'C1', 'r3')
    await d.enqueue('S4', 'C1', 'r4')
    // S2 is promoted from the waitlist meanwhile (its marker says enrolled); S3's request is
    // dropped by a cancellation (its marker is gone): both stay queued for a batch to answer.
    await rush.seats.reflectCancellation('C1', {
      cancellationId: 'c1',
      studentId: 'S9',
      seatsLeft: 0,
      versionBefore: 2,
      version: 3,
      promoted: { studentId: 'S2', requestId: 'w2' },
      dropped: [{ requestId: 'r3', studentId: 'S3', reason: 'CREDIT_LIMIT' }],
    })
    const before = Date.now()
    const head = await rush.queue.head('C1', 3)
    t.same(
      head.map(({ queuedAt: _, ...e }) => e),
      [
        { requestId: 'r1', studentId: 'S1', waitlist: true, arrival: 1, standing: 'this-request' },
        { requestId: 'r2', studentId: 'S2', waitlist: false, arrival: 2, standing: 'enrolled' },
        { requestId: 'r3', studentId: 'S3', waitlist: false, arrival: 3, standing: 'other' },
      ],
    )
    // When each joined, on the queue's clock (the same machine's here): in arrival order.
    const joined = head.map((e) => e.queuedAt ?? NaN)
    t.ok(
      joined.every((at, i) => at <= before && (i === 0 || at >= (joined[i - 1] ?? NaN))),
      `joined in order, before the head was read: ${joined}`,
    )
    t.same(
      await rush.queue.progress(['C1', 'C9']),
      new Map([
        ['C1', 0],
        ['C9', 0],
      ]),
    )
    await sleep(1_150)
    // r3's record expired with its decision: its queue entry cannot be decided and is dropped.
    t.same(
      (await rush.queue.head('C1', 10)).map((e) => e.requestId),
      ['r1', 'r2', 'r4'],
    )
    t.equal(await rush.queue.length('C1'), 3)
    t.equal((await rush.queue.progress(['C1'])).get('C1'), 1, 'a dropped entry is progress')
    t.equal((await rush.queue.request('r4'))?.position, 3)

    const lease = await d.lease('C1')
    await rush.queue.settle(
      'C1',
      lease,
      [enrolled('r1', 'S1'), rejected('r2', 'S2', 'ALREADY_ENROLLED'), enrolled('r4', 'S4')],
      { seatsLeft: 0, versionBefore: 3, version: 4 },
    )
    t.same(await rush.queue.activeCourses(), [], 'a drained course leaves the active set')
    await d.enqueue('S3', 'C2', 'r5')
    const lease2 = await d.lease('C2')
    await rush.queue.settle('C2', lease2, [enrolled('r5', 'S3')], {
      seatsLeft: 1,
      versionBefore: 0,
      version: 1,
    })
    t.same(await rush.queue.activeCourses(), [])
    t.same(await rush.queue.head('C2', 5), [])
  })

  t.test('settle: only with the lease; decisions, markers and the versioned cache', async (t) => {
    const { rush } = await fresh(t)
    const d = door(rush)
    for (const s of ['S1', 'S2', 'S3', 'S4']) await d.login(s)
    for (const [s, r] of [
      ['S1', 'r1'],
      ['S2', 'r2'],
      ['S3', 'r3'],
      ['S4', 'r4'],
    ] as const)
      await d.enqueue(s, 'C1', r)
    t.equal(
      await rush.queue.settle('C1', 'not-the-holder', [enrolled('r1', 'S1')], {
        seatsLeft: 0,
        versionBefore: 0,
        version: 1,
      }),
      null,
      'lease lost: nothing written',
    )
    t.equal((await rush.queue.request('r1'))?.status, 'queued')
    t.same(await rush.seats.versions(['C1']), new Map([['C1', -1]]))

    const lease = await d.lease('C1')
    const left = await rush.queue.settle(
      'C1',
      lease,
      [
        enrolled('r1', 'S1'),
        { requestId: 'r2', studentId: 'S2', status: 'waitlisted', place: 7 },
        rejected('r3', 'S3', 'TIME_CONFLICT'),
      ],
      { seatsLeft: 2, versionBefore: 0, version: 1 },
    )
    t.equal(left, 1)
    t.same(
      (await rush.queue.head('C1', 10)).map((e) => e.requestId),
      ['r4'],
    )
    t.equal((await rush.queue.request('r4'))?.position, 1)
    t.same((await rush.queue.request('r1'))?.status, 'enrolled')
    const waiting = await rush.queue.request('r2')
    t.same(waiting?.status, 'waitlisted')
    t.ok(
      waiting?.position === null || waiting?.position === 1,
      'a waitlist place, when the queue gives one, is the place in the waitlist order',
    )
    t.same(await rush.queue.request('r3'), {
      requestId: 'r3',
      studentId: 'S3',
      courseId: 'C1',
      status: 'rejected',
      reason: 'TIME_CONFLICT',
      position: null,
      joined: { position: 3, removedBefore: 0 },
    })
    t.equal((await rush.queue.progress(['C1'])).get('C1'), 3)
    t.same(
      await rush.seats.versions(['C1', 'C9']),
      new Map([
        ['C1', 1],
        ['C9', -1],
      ]),
    )

    // An older version never overwrites a newer one; the same version does.
    await rush.queue.settle('C1', lease, [], { seatsLeft: 0, versionBefore: 0, version: 0 })
    t.same(await rush.seats.versions(['C1']), new Map([['C1', 1]]))
    await d.login('S5')
    t.equal((await d.enqueue('S5', 'C1', 'r5')).kind, 'created', 'the cache still has seats')
    await rush.queue.settle('C1', lease, [], { seatsLeft: 0, versionBefore: 1, version: 1 })
    await d.login('S6')
    t.same(await d.enqueue('S6', 'C1', 'r6'), { kind: 'course-full' })
  })

  t.test('decided requests expire; queued ones do not', async (t) => {
    const { rush } = await fresh(t, {}, { decidedTtlSeconds: 1 })
    const d = door(rush)
    await d.login('S1')
    await d.login('S2')
    await d.enqueue('S1', 'C1', 'r1')
    await d.enqueue('S2', 'C1', 'r2')
    const lease = await d.lease('C1')
    await rush.queue.settle('C1', lease, [enrolled('r1', 'S1')], {
      seatsLeft: 3,
      versionBefore: 0,
      version: 1,
    })
    await sleep(1_150)
    t.equal(await rush.queue.request('r1'), null, 'decided: gone after its time')
    t.equal((await rush.queue.request('r2'))?.status, 'queued', 'queued: kept')
    t.same(await d.enqueue('S1', 'C1', 'r3'), { kind: 'already-enrolled' }, 'the marker stays')
  })

  t.test('rejectHead: lease, a full cache, nothing cancelling; stops at a gap', async (t) => {
    const { rush } = await fresh(t)
    const d = door(rush)
    for (const s of ['S1', 'S2', 'S3', 'S4']) await d.login(s)
    for (const [s, r] of [
      ['S1', 'r1'],
      ['S2', 'r2'],
      ['S3', 'r3'],
      ['S4', 'r4'],
    ] as const)
      await d.enqueue(s, 'C1', r, { refuseWhenFull: false })
    const all = [rejected('r1', 'S1'), rejected('r2', 'S2'), rejected('r3', 'S3')]
    t.equal(await rush.queue.rejectHead('C1', 'nobody', all), 'lease-lost')
    const lease = await d.lease('C1')
    t.equal(await rush.queue.rejectHead('C1', lease, all), 'not-full', 'no cache: not known full')
    await rush.queue.settle('C1', lease, [], { seatsLeft: 1, versionBefore: 0, version: 1 })
    t.equal(await rush.queue.rejectHead('C1', lease, all), 'not-full')
    await rush.queue.settle('C1', lease, [], { seatsLeft: 0, versionBefore: 1, version: 2 })
    await rush.seats.markCancellation('C1', 'cx', 60_000)
    t.equal(await rush.queue.rejectHead('C1', lease, all), 'not-full', 'a cancellation in flight')
    await rush.seats.unmarkCancellation('C1', 'cx')

    // r2 leaves the queue first: the bulk rejection stops there.
    await rush.queue.settle('C1', lease, [enrolled('r2', 'S2')], {
      seatsLeft: 0,
      versionBefore: 2,
      version: 3,
    })
    t.equal(await rush.queue.rejectHead('C1', lease, all), 1)
    t.same(await rush.queue.request('r1'), {
      requestId: 'r1',
      studentId: 'S1',
      courseId: 'C1',
      status: 'rejected',
      reason: 'COURSE_FULL',
      position: null,
      joined: { position: 1, removedBefore: 0 },
    })
    t.equal((await rush.queue.request('r3'))?.status, 'queued')
    t.equal(
      await rush.queue.rejectHead('C1', lease, [rejected('r3', 'S3'), rejected('r4', 'S4')]),
      2,
    )
    t.equal(await rush.queue.length('C1'), 0)
    t.equal((await rush.queue.progress(['C1'])).get('C1'), 4)
    t.equal((await d.enqueue('S1', 'C1', 'r5', { refuseWhenFull: false })).kind, 'created')
  })

  t.test(
    'rejectHead: a student the cache learned about since the head was read is left',
    async (t) => {
      const { rush } = await fresh(t)
      const d = door(rush)
      for (const s of ['S1', 'S5']) await d.login(s)
      const lease = await d.lease('C1')
      // The rush state was lost: the first batch after it writes seats over markers it never had.
      await rush.queue.settle('C1', lease, [], { seatsLeft: 0, versionBefore: 3, version: 3 })
      await d.enqueue('S5', 'C1', 'r5')
      await d.enqueue('S1', 'C1', 'r1')
      const head = await rush.queue.head('C1', 10)
      t.same(
        head.map((e) => [e.requestId, e.standing]),
        [
          ['r5', 'this-request'],
          ['r1', 'this-request'],
        ],
      )
      // Between reading the head and rejecting it, the course is rebuilt: S1 holds a seat.
      t.equal(
        await rush.seats.repair('C1', { version: 3, seatsLeft: 0, students: ['S1'], waitlist: [] }),
        true,
      )
      t.equal(
        await rush.queue.rejectHead('C1', lease, [rejected('r5', 'S5'), rejected('r1', 'S1')]),
        1,
        'the rejection stops at the student now known enrolled',
      )
      t.equal((await rush.queue.request('r5'))?.reason, 'COURSE_FULL')
      t.equal(
        (await rush.queue.request('r1'))?.status,
        'queued',
        'left to a batch: ALREADY_ENROLLED',
      )
    },
  )

  t.test('leases: taken, renewed, held, released, expiring', async (t) => {
    const { rush } = await fresh(t)
    const { leases } = rush
    t.equal(await leases.acquireCourse('C1', 'a', 300), 'taken')
    t.equal(await leases.acquireCourse('C1', 'a', 300), 'renewed')
    t.equal(await leases.acquireCourse('C1', 'b', 300), 'held')
    t.equal(await leases.acquireCourse('C2', 'b', 300), 'taken', 'per course')
    await leases.releaseCourse('C1', 'b')
    t.equal(await leases.acquireCourse('C1', 'b', 300), 'held', 'only the holder releases')
    await leases.releaseCourse('C1', 'a')
    t.equal(await leases.acquireCourse('C1', 'b', 300), 'taken')
    await sleep(400)
    t.equal(await leases.acquireCourse('C1', 'a', 300), 'taken', 'an expired lease is free')
    t.equal(await leases.acquireCourse('C1', 'b', 300), 'held')
    await sleep(400)
    t.equal(
      await leases.acquireCourse('C1', 'a', 300),
      'taken',
      'a holder whose lease ran out takes it anew (and must fence again)',
    )
    t.equal(
      await rush.queue.settle('C2', 'b', [], { seatsLeft: 1, versionBefore: 0, version: 1 }),
      null,
      'settle needs a live lease',
    )

    t.equal(await leases.acquireReconciler('x', 300), true)
    t.equal(await leases.acquireReconciler('x', 300), true)
    t.equal(await leases.acquireReconciler('y', 300), false)
    await sleep(400)
    t.equal(await leases.acquireReconciler('y', 300), true)
  })

  t.test('takeAdmissions: concurrent takers never share more than one second allows', async (t) => {
    const { rush } = await fresh(t)
    for (let round = 0; round < 5; round += 1) {
      // Seconds are the shared store's clock; count the ones the takers may have spanned.
      const before = Math.floor(Date.now() / 1000)
      const granted = await Promise.all(
        Array.from({ length: 60 }, () => rush.leases.takeAdmissions(3, 20)),
      )
      const seconds = Math.floor(Date.now() / 1000) - before + 1
      const total = granted.reduce((a, b) => a + b, 0)
      t.ok(
        granted.every((g) => g >= 0 && g <= 3),
        'nobody gets more than asked',
      )
      t.ok(total <= 20 * seconds, `${total} granted over at most ${seconds} seconds`)
      // The first round starts on a fresh budget: its first second's share is all granted.
      if (round === 0) t.ok(total >= 20, `${total} granted to 60 takers asking 3 each`)
    }
  })

  t.test('cancellation marks expire by themselves', async (t) => {
    const { rush } = await fresh(t)
    const d = door(rush)
    await d.login('S1')
    await d.login('S2')
    const lease = await d.lease('C1')
    await rush.queue.settle('C1', lease, [], { seatsLeft: 0, versionBefore: 0, version: 1 })
    await rush.seats.markCancellation('C1', 'c1', 300)
    t.equal((await d.enqueue('S1', 'C1', 'r1')).kind, 'created')
    await sleep(400)
    t.same(await d.enqueue('S2', 'C1', 'r2'), { kind: 'course-full' }, 'the mark has expired')
  })

  t.test('reflectCancellation: versioned, idempotent, promotes and drops', async (t) => {
    const { rush } = await fresh(t, {}, { decidedTtlSeconds: 60 })
    const d = door(rush)
    for (const s of ['S1', 'S2', 'S3', 'S4', 'S5', 'S6']) await d.login(s)
    const lease = await d.lease('C1')
    await d.enqueue('S1', 'C1', 'r1')
    await rush.queue.settle('C1', lease, [enrolled('r1', 'S1')], {
      seatsLeft: 0,
      versionBefore: 0,
      version: 1,
    })
    // S2 and S3 wait on the store's waitlist for this course.
    await d.enqueue('S2', 'C1', 'r2', { waitlist: true, refuseWhenFull: false })
    await d.enqueue('S3', 'C1', 'r3', { waitlist: true, refuseWhenFull: false })
    await rush.queue.settle(
      'C1',
      lease,
      [
        { requestId: 'r2', studentId: 'S2', status: 'waitlisted', place: 3 },
        { requestId: 'r3', studentId: 'S3', status: 'waitlisted', place: 4 },
      ],
      { seatsLeft: 0, versionBefore: 1, version: 2 },
    )
    const second = (await rush.queue.request('r3'))?.position
    t.ok(second === null || second === 2, 'second on the waitlist, if the queue says')
    await rush.seats.markCancellation('C1', 'c1', 60_000)
    t.equal(
      (await rush.queue.request('r3'))?.position,
      null,
      'no waitlist place while a cancellation may be moving the waitlist',
    )
    const change: CancellationChange = {
      cancellationId: 'c1',
      studentId: 'S1',
      seatsLeft: 0,
      versionBefore: 2,
      version: 3,
      promoted: { studentId: 'S3', requestId: 'r3' },
      dropped: [
        { requestId: 'r2', studentId: 'S2', reason: 'CREDIT_LIMIT' },
        { requestId: 'gone', studentId: 'S6', reason: 'CREDIT_LIMIT' },
      ],
    }
    await rush.seats.reflectCancellation('C1', change)
    await rush.seats.reflectCancellation('C1', change)
    t.same(await rush.seats.versions(['C1']), new Map([['C1', 3]]))
    t.equal((await rush.queue.request('r3'))?.status, 'enrolled', 'the promoted request')
    t.same(await d.enqueue('S3', 'C1', 'r7'), { kind: 'already-enrolled' })
    t.same(
      await rush.queue.request('r2'),
      {
        requestId: 'r2',
        studentId: 'S2',
        courseId: 'C1',
        status: 'rejected',
        reason: 'CREDIT_LIMIT',
        position: null,
        joined: { position: 1, removedBefore: 1 },
      },
      'a dropped request is rejected',
    )
    t.equal(await rush.queue.request('gone'), null, 'an expired request is not brought back')
    t.same(await d.enqueue('S4', 'C1', 'r8'), { kind: 'course-full' }, 'mark removed, still full')
    t.equal(
      (await d.enqueue('S1', 'C1', 'r9', { refuseWhenFull: false })).kind,
      'created',
      'the canceller is no longer enrolled',
    )

    // An older reflection (retried late) changes neither the cache nor a newer marker.
    await rush.queue.settle('C1', lease, [enrolled('r9', 'S1')], {
      seatsLeft: 0,
      versionBefore: 3,
      version: 4,
    })
    await rush.seats.reflectCancellation('C1', {
      ...change,
      versionBefore: 1,
      version: 2,
      seatsLeft: 1,
    })
    t.same(await rush.seats.versions(['C1']), new Map([['C1', 4]]))
    t.same(await d.enqueue('S1', 'C1', 'r10'), { kind: 'already-enrolled' })

    // A promoted request whose record has expired still leaves its student enrolled.
    await rush.seats.reflectCancellation('C1', {
      cancellationId: 'c2',
      studentId: 'S9',
      seatsLeft: 0,
      versionBefore: 4,
      version: 5,
      promoted: { studentId: 'S5', requestId: 'expired' },
      dropped: [],
    })
    t.equal(await rush.queue.request('expired'), null)
    t.same(await d.enqueue('S5', 'C1', 'r11'), { kind: 'already-enrolled' })
  })

  t.test('repair: rewrites an older cache from a snapshot, never a newer one', async (t) => {
    const { rush } = await fresh(t)
    const d = door(rush)
    for (const s of ['S1', 'S2', 'S3', 'S4', 'S5']) await d.login(s)
    const lease = await d.lease('C1')
    // S1 enrolled (cached); S2 has a queued request; S3 a decided one; S4 nothing.
    await d.enqueue('S1', 'C1', 'r1')
    await d.enqueue('S3', 'C1', 'r3')
    await rush.queue.settle(
      'C1',
      lease,
      [enrolled('r1', 'S1'), { requestId: 'r3', studentId: 'S3', status: 'waitlisted', place: 1 }],
      { seatsLeft: 2, versionBefore: 0, version: 1 },
    )
    await d.enqueue('S2', 'C1', 'r2')
    t.equal(
      await rush.seats.repair('C1', {
        version: 1,
        seatsLeft: 0,
        students: [],
        waitlist: [{ requestId: 'r3', place: 1, studentId: 'S3' }],
      }),
      false,
      'as new: left alone',
    )
    t.same(await rush.seats.versions(['C1']), new Map([['C1', 1]]))

    // The store says: S1 cancelled, S2, S3 and S4 hold seats, none left.
    t.equal(
      await rush.seats.repair('C1', {
        version: 5,
        seatsLeft: 0,
        students: ['S2', 'S3', 'S4'],
        waitlist: [],
      }),
      true,
    )
    t.same(await rush.seats.versions(['C1']), new Map([['C1', 5]]))
    t.equal(
      (await d.enqueue('S1', 'C1', 'r5', { refuseWhenFull: false })).kind,
      'created',
      'a stale enrolled marker is removed',
    )
    t.same(await d.enqueue('S3', 'C1', 'r6'), { kind: 'already-enrolled' }, 'decided: enrolled')
    t.same(await d.enqueue('S4', 'C1', 'r7'), { kind: 'already-enrolled' }, 'missing: enrolled')
    t.same(
      (await rush.queue.head('C1', 10)).find((e) => e.requestId === 'r2')?.standing,
      'this-request',
      'a queued request is left to its batch',
    )
    t.same(await d.enqueue('S5', 'C1', 'r8'), { kind: 'course-full' }, 'the seats were repaired')
    t.equal(
      await rush.seats.repair('C2', { version: 1, seatsLeft: 3, students: [], waitlist: [] }),
      true,
    )
    t.same(await rush.seats.versions(['C2']), new Map([['C2', 1]]))
  })

  t.test('repair: after the rush state lost its markers, rebuilds every one of them', async (t) => {
    const { rush } = await fresh(t)
    const d = door(rush)
    for (const s of ['S1', 'S2', 'S3', 'S4']) await d.login(s)
    const lease = await d.lease('C1')
    // The state was lost: the first batch after it writes the seats over markers it never had.
    await d.enqueue('S4', 'C1', 'r4')
    await rush.queue.settle('C1', lease, [rejected('r4', 'S4')], {
      seatsLeft: 0,
      versionBefore: 3,
      version: 3,
    })
    t.same(await rush.seats.versions(['C1']), new Map([['C1', -1]]), 'counts as no cache')
    t.equal(
      (await d.enqueue('S1', 'C1', 'r5')).kind,
      'created',
      'the door refuses no one it knows nothing of: the store decides',
    )
    t.equal((await d.enqueue('S3', 'C1', 'r3')).kind, 'created', 'nor one waiting in the store')
    const snapshot = {
      version: 3,
      seatsLeft: 0,
      students: ['S1', 'S2'],
      waitlist: [{ requestId: 'w3', place: 9, studentId: 'S3' }],
    }
    t.equal(await rush.seats.repair('C1', { ...snapshot, version: 2 }), false, 'not from older')
    t.equal(await rush.seats.repair('C1', snapshot), true)
    t.same(await rush.seats.versions(['C1']), new Map([['C1', 3]]))
    const standing = new Map(
      (await rush.queue.head('C1', 10)).map((e) => [e.requestId, e.standing]),
    )
    t.same(
      [standing.get('r5'), standing.get('r3')],
      ['enrolled', 'other'],
      'requests of students the store holds are left to a batch, not to bulk rejection',
    )
    t.same(await d.enqueue('S1', 'C1', 'r6'), { kind: 'already-enrolled' }, 'even while queued')
    t.same(await d.enqueue('S2', 'C1', 'r7'), { kind: 'already-enrolled' })
    t.same(
      await d.enqueue('S3', 'C1', 'r8'),
      { kind: 'existing', requestId: 'w3', status: 'waitlisted', position: 0, queueLength: 2 },
      'a waitlisted student has their place again',
    )
    t.equal((await rush.queue.request('w3'))?.status, 'waitlisted')
    t.same(await d.enqueue('S4', 'C1', 'r9'), { kind: 'course-full' }, 'and the door says full')

    // The batch: the queued request now holds the waitlist place, and the marker follows it.
    await rush.queue.settle(
      'C1',
      lease,
      [
        rejected('r5', 'S1', 'ALREADY_ENROLLED'),
        { requestId: 'r3', studentId: 'S3', status: 'waitlisted', place: 9 },
      ],
      { seatsLeft: 0, versionBefore: 3, version: 4 },
    )
    t.same(await rush.seats.versions(['C1']), new Map([['C1', 4]]), 'still complete')
    t.same(await d.enqueue('S1', 'C1', 'r10'), { kind: 'already-enrolled' })
    t.same(
      await d.enqueue('S3', 'C1', 'r11'),
      { kind: 'existing', requestId: 'r3', status: 'waitlisted', position: 0, queueLength: 0 },
      'the place answers to the newer request',
    )
  })

  t.test('login throttle: attempts reserved on fixed-window counters', async (t) => {
    const { rush } = await fresh(t)
    const { logins } = rush
    const account = { scope: 'account', id: 'S1', max: 2, windowMs: 60_000 } as const
    const address = { scope: 'address', id: '10.0.0.1', max: 3, windowMs: 60_000 } as const
    const device = { scope: 'device', id: 'dev-1', max: 1, windowMs: 60_000 } as const
    const reserved = async (counters: readonly FailureCounter[]) => {
      const r = await logins.reserve(counters)
      if (r.kind !== 'reserved') throw new Error(`refused at ${r.index}`)
      return r.reservation
    }
    const first = await reserved([account, address])
    await reserved([account, address])
    const over = await logins.reserve([address, account])
    t.equal(over.kind === 'refused' && over.index, 1, 'the first counter, in order, at its max')
    t.ok(
      over.kind === 'refused' && over.retryAfterMs > 0 && over.retryAfterMs <= 60_000,
      'until its window ends',
    )
    await logins.release(first)
    await reserved([address, account])
    t.equal(
      (await logins.reserve([address, account])).kind,
      'refused',
      'a released attempt made room for one, no more',
    )
    await logins.clear('address', '10.0.0.1')
    const cleared = await logins.reserve([address, account])
    t.equal(cleared.kind === 'refused' && cleared.index, 1, 'cleared one counter')
    t.equal((await logins.reserve([device])).kind, 'reserved')
    t.equal((await logins.reserve([device])).kind, 'refused')

    const many = await Promise.all(Array.from({ length: 40 }, () => logins.reserve([address])))
    t.equal(
      many.filter((r) => r.kind === 'reserved').length,
      3,
      '40 at once: exactly as many as the limit',
    )
    // A window ends: an attempt counted in it is not given back to the next one.
    const short = { scope: 'account', id: 'S2', max: 1, windowMs: 200 } as const
    const old = await reserved([short])
    const current = await waitForValue(async () => {
      const r = await logins.reserve([short])
      return r.kind === 'reserved' ? r.reservation : null
    })
    t.not(current.windows[0], old.windows[0], 'the window ended: a new one counts')
    await logins.release(old)
    const next = await logins.reserve([short])
    t.ok(
      next.kind === 'refused' || next.reservation.windows[0] !== current.windows[0],
      'an attempt of an ended window is not given back by the next one',
    )
  })

  t.test('the rush state answers its lifecycle', async (t) => {
    const { rush } = await fresh(t)
    await rush.lifecycle.connect(1_000)
    await rush.lifecycle.ping()
    t.pass()
  })
}
