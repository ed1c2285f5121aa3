/**
 * What only the embedded pair has to show: one SQLite connection serialising concurrent
 * transactions without overselling or losing an enrollment, its file and schema, its failures
 * as 503s, the in-process state freeing what expired, and the demo semester.
 */
import { statSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import Database from 'better-sqlite3'
import t from 'tap'
import type { Test } from 'tap'
import { createMemoryRushState } from '../../src/adapters/memory/index.js'
import { migrations } from '../../src/adapters/sqlite/schema.js'
import { SqliteStore } from '../../src/adapters/sqlite/store.js'
import { DEMO_PASSWORD, demoSemester, seedDemoSemester } from '../../src/demo/semester.js'
import { Cancellation } from '../../src/domain/cancellation.js'
import { parseMeetings } from '../../src/domain/meetings.js'
import type { Decision, QueuedRequest } from '../../src/domain/model.js'
import type { CancellationTx } from '../../src/domain/ports.js'
import { seedCost, verifyPassword } from '../../src/domain/passwords.js'
import { planAdmission } from '../../src/domain/rules.js'
import { DependencyUnavailableError } from '../../src/errors.js'
import { PASSWORD_HASH } from './contract.js'

async function tempStore(t: Test, options: { timeoutMs?: number } = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'sugang-sqlite-'))
  const path = join(dir, 'nested', 'sugang.sqlite')
  const store = new SqliteStore({ path, ...options })
  t.teardown(async () => {
    await store.close()
    await rm(dir, { recursive: true, force: true })
  })
  await store.migrate()
  return { store, path, dir }
}

const student = (id: string, maxCredits = 18) => ({
  id,
  name: id,
  email: `${id}@example.edu`,
  passwordHash: PASSWORD_HASH,
  year: 1,
  maxCredits,
})
const course = (id: string, capacity: number, credits = 3) => ({
  id,
  title: id,
  professor: 'P',
  credits,
  capacity,
  meetings: [],
})
const sid = (n: number) => `S${String(n).padStart(4, '0')}`

t.test(
  'concurrent admissions and cancellations never oversell or lose an enrollment',
  async (t) => {
    const { store } = await tempStore(t)
    const rush = createMemoryRushState({
      sessionTtlSeconds: 60,
      decidedTtlSeconds: 60,
      requestBudget: { max: 1_000, windowMs: 10_000 },
    })
    t.teardown(() => rush.lifecycle.close())
    const STUDENTS = 400
    const courses = [course('C1', 25), course('C2', 40, 4)]
    // Half the students may take only one of the two courses: credit limits decide too.
    await store.insertSeed({
      students: Array.from({ length: STUDENTS }, (_, i) => student(sid(i + 1), i % 2 ? 6 : 18)),
      courses,
    })
    const rules = { maxWaitlistPerStudent: 2 }
    const cancellation = new Cancellation(
      { store, seats: rush.seats },
      { reflectionFailed: () => undefined, reflected: () => undefined },
    )

    let arrival = 0
    const decided: Decision[] = []
    let fencedBatches = 0
    const fences = new Map<string, number>()
    for (const c of courses) fences.set(c.id, (await store.fence(c.id)) as number)

    const admitBatch = async (courseId: string, batch: QueuedRequest[]) => {
      const outcome = await store.admit(
        courseId,
        fences.get(courseId) as number,
        batch.map((r) => r.studentId),
        (facts) => {
          const plan = planAdmission(batch, facts, rules)
          return { writes: plan.writes, value: plan.decisions }
        },
      )
      if (outcome.kind === 'done') decided.push(...outcome.value)
      else if (outcome.kind === 'fenced') fencedBatches += 1
      else throw new Error(outcome.kind)
    }

    const cancelled = new Set<string>()
    const promoted: string[] = []
    const cancelOne = async (studentId: string, courseId: string) => {
      await sleep(Math.random() * 20)
      const result = await cancellation.cancel(studentId, courseId)
      if (!result.ok) return
      cancelled.add(`${studentId}:${courseId}`)
      if (result.promoted) promoted.push(`${result.promoted.studentId}:${courseId}`)
    }

    const work: Array<Promise<void>> = []
    for (let i = 0; i < STUDENTS; i += 8) {
      for (const c of courses) {
        const batch: QueuedRequest[] = []
        for (let j = i; j < Math.min(i + 8, STUDENTS); j += 1) {
          arrival += 1
          batch.push({
            requestId: `${c.id}-${sid(j + 1)}`,
            studentId: sid(j + 1),
            waitlist: j % 3 === 0,
            arrival,
          })
        }
        work.push(admitBatch(c.id, batch))
      }
      // Cancellations of students who may or may not hold a seat yet, interleaved.
      for (let k = 0; k < 3; k += 1) {
        const who = sid(1 + Math.floor(Math.random() * Math.min(STUDENTS, i + 8)))
        work.push(cancelOne(who, k % 2 ? 'C1' : 'C2'))
      }
      if (i === 200) {
        // A new lease holder fences C2 mid-rush: batches of the old holder still running fail.
        work.push(
          store.fence('C2').then((fence) => {
            fences.set('C2', fence as number)
          }),
        )
      }
    }
    await Promise.all(work)

    t.equal(
      await store.countOverCapacity(),
      0,
      'no course holds more rows than seats, counts agree',
    )
    const expected = new Set<string>()
    for (const d of decided) {
      if (d.status === 'enrolled') expected.add(`${d.studentId}:${d.requestId.slice(0, 2)}`)
    }
    for (const p of promoted) expected.add(p)
    for (const c of cancelled) expected.delete(c)
    const actual = new Set<string>()
    for (const c of courses) {
      const snapshot = await store.courseSnapshot(c.id)
      if (!snapshot) throw new Error('course gone')
      t.equal(snapshot.students.length, c.capacity - snapshot.seatsLeft, `${c.id}: seats add up`)
      t.ok(snapshot.students.length <= c.capacity, `${c.id}: not oversold`)
      for (const s of snapshot.students) actual.add(`${s}:${c.id}`)
    }
    t.same([...actual].sort(), [...expected].sort(), 'every committed enrollment, and only those')
    t.ok(
      decided.filter((d) => d.status === 'enrolled').length > 0 && cancelled.size > 0,
      `${decided.length} decisions, ${cancelled.size} cancellations, ${promoted.length} promotions, ${fencedBatches} fenced batches`,
    )
    // Every student the rules put on a waitlist is there still, or was promoted or dropped.
    for (const d of decided.filter((x) => x.status === 'waitlisted')) {
      const found = await store.findDurableRequest(d.requestId)
      const key = `${d.studentId}:${d.requestId.slice(0, 2)}`
      if (found?.status === 'enrolled') t.ok(actual.has(key) || cancelled.has(key))
    }
  },
)

t.test(
  'the file: WAL, foreign keys, a recorded schema version, data kept across opens',
  async (t) => {
    const { store, path } = await tempStore(t)
    await store.insertSeed({ students: [student('S1')], courses: [course('C1', 2)] })
    await store.migrate()
    await store.close()

    const raw = new Database(path, { readonly: true })
    t.teardown(() => raw.close())
    t.equal(raw.pragma('journal_mode', { simple: true }), 'wal')
    t.equal(
      statSync(dirname(path)).mode & 0o777,
      0o700,
      "the directory it made is its owner's only",
    )
    t.same(
      raw.prepare('SELECT version FROM schema_migrations ORDER BY version').all(),
      migrations.map((m) => ({ version: m.version })),
      'each version, recorded once',
    )
    const columns = (table: string) =>
      (raw.prepare(`PRAGMA table_info(${table})`).all() as Array<{ name: string }>).map(
        (c) => c.name,
      )
    t.same(columns('students').sort(), [
      'email',
      'id',
      'max_credits',
      'name',
      'password_hash',
      'year',
    ])
    t.same(columns('courses').sort(), [
      'admission_fence',
      'capacity',
      'credits',
      'decided_through',
      'enrolled',
      'id',
      'meetings',
      'professor',
      'record_hash',
      'record_seq',
      'title',
      'version',
    ])
    t.same(columns('enrollments').sort(), ['course_id', 'created_at', 'request_id', 'student_id'])
    t.same(columns('waitlist').sort(), [
      'course_id',
      'created_at',
      'id',
      'request_id',
      'student_id',
    ])
    t.same(columns('cart_items').sort(), ['added_at', 'course_id', 'seq', 'student_id'])
    t.same(columns('fairness_record').sort(), [
      'arrival',
      'batch',
      'capacity',
      'course_id',
      'decided_at',
      'enrolled',
      'hash',
      'kind',
      'prev_hash',
      'queued_at',
      'reason',
      'request_id',
      'seq',
      'student_id',
    ])
    t.same(columns('operator_controls').sort(), ['name', 'value'])
    t.same(columns('operator_actions').sort(), [
      'action',
      'at',
      'details',
      'id',
      'operator',
      'reason',
      'target',
    ])

    const again = new SqliteStore({ path })
    t.teardown(() => again.close())
    await again.migrate()
    t.equal((await again.findCourse('C1'))?.capacity, 2, 'reopened with its data')
    const fence = (await again.fence('C1')) as number
    await t.rejects(
      again.admit('C1', fence, ['S1'], () => ({
        writes: {
          enroll: [{ requestId: 'r1', studentId: 'S-none', waitlist: false, arrival: 1 }],
          waitlist: [],
          rewaitlist: [],
          record: [],
          course: { enrolled: 1, version: 1, decidedThrough: 1 },
        },
        value: null,
      })),
      /FOREIGN KEY/,
      'foreign keys are enforced',
    )
    await t.rejects(
      again.admit('C1', fence, ['S1'], () => ({
        writes: {
          enroll: [],
          waitlist: [],
          rewaitlist: [],
          record: [],
          course: { enrolled: 3, version: 1, decidedThrough: 1 },
        },
        value: null,
      })),
      /CHECK/,
      'enrolled never exceeds capacity',
    )
  },
)

t.test('failures of the file are 503s; a transaction that ended refuses more work', async (t) => {
  const { store } = await tempStore(t, { timeoutMs: 150 })
  await store.insertSeed({ students: [student('S1')], courses: [course('C1', 2)] })

  // A write waits for the transaction in progress, up to its deadline.
  const holding = store.cancel('S1', 'C1', async () => {
    await sleep(400)
  })
  await t.rejects(store.addToCart('S1', 'C1', 12), DependencyUnavailableError)
  await holding
  t.equal(await store.addToCart('S1', 'C1', 12), 'added', 'and goes through once it is free')

  const leaked: CancellationTx[] = []
  await store.cancel('S1', 'C1', async (tx) => {
    leaked.push(tx)
  })
  const tx = leaked[0]
  if (!tx) throw new Error('work did not run')
  await t.rejects(async () => tx.removeEnrollment(), /transaction has ended/)

  await store.close()
  await t.rejects(store.listCourses(), DependencyUnavailableError)
  await t.rejects(store.addToCart('S1', 'C1', 12), DependencyUnavailableError)
  t.throws(() => new SqliteStore({ path: ':memory:' }), /needs a file/)
})

t.test('the in-process state frees what expired, reads or not', async (t) => {
  let now = 1_000_000
  const rush = createMemoryRushState({
    sessionTtlSeconds: 60,
    decidedTtlSeconds: 60,
    requestBudget: { max: 100, windowMs: 1_000 },
    clock: () => now,
    sweepIntervalMs: 60_000,
  })
  t.teardown(() => rush.lifecycle.close())
  const { memory } = rush
  for (let i = 0; i < 500; i += 1) {
    await rush.sessions.create(`sid-${i}`, `S${i}`)
    await rush.sessions.authorize(`sid-${i}`, `S${i}`)
    await rush.logins.reserve([{ scope: 'address', id: `a${i}`, max: 5, windowMs: 5_000 }])
  }
  await rush.queue.enqueue({
    sessionId: 'sid-1',
    studentId: 'S1',
    courseId: 'C1',
    requestId: 'r1',
    waitlist: false,
    refuseWhenFull: false,
  })
  await rush.leases.acquireCourse('C1', 'w', 5_000)
  await rush.queue.settle('C1', 'w', [{ requestId: 'r1', studentId: 'S1', status: 'enrolled' }], {
    seatsLeft: 1,
    versionBefore: 0,
    version: 1,
  })
  await rush.seats.markCancellation('C2', 'c1', 5_000)
  t.equal(memory.sessions.size, 500)
  t.equal(memory.counters.size, 1_000, 'request budgets and login failures')
  t.equal(memory.requests.size, 1)

  now += 6_000
  memory.sweep()
  t.equal(memory.counters.size, 0, 'counters go with their windows')
  t.equal(memory.leases.size, 0)
  t.equal(memory.sessions.size, 500, 'sessions live longer')
  t.notOk(memory.courses.has('C2'), 'expired marks, and a course left with nothing')
  now += 60_000
  memory.sweep()
  t.equal(memory.sessions.size, 0)
  t.equal(memory.requests.size, 0, 'decided requests go after their time')
  t.ok(memory.courses.has('C1'), 'live markers stay as long as the course')

  // Without a sweep, nothing expired is ever seen.
  await rush.sessions.create('late', 'S1')
  now += 61_000
  t.same(await rush.sessions.authorize('late', 'S1'), { kind: 'unauthenticated' })
})

t.test('the periodic sweep runs on its own without keeping the process alive', async (t) => {
  const rush = createMemoryRushState({
    sessionTtlSeconds: 60,
    decidedTtlSeconds: 60,
    requestBudget: { max: 100, windowMs: 20 },
    sweepIntervalMs: 25,
  })
  t.teardown(() => rush.lifecycle.close())
  await rush.logins.reserve([{ scope: 'device', id: 'd', max: 5, windowMs: 20 }])
  t.equal(rush.memory.counters.size, 1)
  await sleep(120)
  t.equal(rush.memory.counters.size, 0)
})

t.test('the demo semester: believable, the same every time, seeded once', async (t) => {
  const a = demoSemester()
  t.same(demoSemester(), a, 'deterministic')
  t.ok(a.courses.length >= 55 && a.courses.length <= 70, `${a.courses.length} courses`)
  t.equal(a.students.length, 2_000)
  const ids = new Set(a.courses.map((c) => c.id))
  t.equal(ids.size, a.courses.length, 'course ids are unique')
  for (const c of a.courses) {
    t.match(c.id, /^[A-Za-z0-9_-]{1,16}$/)
    t.ok(c.credits >= 1 && c.credits <= 4)
    t.ok(c.capacity >= 3 && c.capacity <= 200)
    t.same(parseMeetings(JSON.stringify(c.meetings)), c.meetings, `${c.id}: valid meetings`)
    t.ok(
      c.meetings.every((m) => m.start >= 1 && m.end <= 12 && m.day !== 'SAT'),
      `${c.id} meets Monday to Friday, periods 1-12`,
    )
  }
  const tiny = a.courses.filter((c) => c.capacity <= 5)
  t.ok(tiny.length >= 3 && tiny.length <= 4, `${tiny.length} tiny courses`)
  const titles = a.courses.map((c) => c.title)
  for (const title of ['자료구조', '운영체제', '선형대수학', '경제학원론', '한국근현대사']) {
    t.ok(titles.includes(title), title)
  }
  t.ok(a.courses.filter((c) => c.credits === 3).length > a.courses.length / 2, 'mostly 3 credits')
  t.ok(a.students.every((s) => /^S\d{6}$/.test(s.id) && /^\p{Script=Hangul}{2,4}$/u.test(s.name)))
  t.ok(
    a.students.every((s) => s.year >= 1 && s.year <= 4 && s.maxCredits >= 18 && s.maxCredits <= 21),
  )
  t.equal(a.students[0]?.id, 'S000001')

  const { store } = await tempStore(t)
  const started = Date.now()
  t.same(await seedDemoSemester(store), { courses: a.courses.length, students: 2_000 })
  t.ok(Date.now() - started < 10_000, `seeded in ${Date.now() - started} ms`)
  t.equal(await seedDemoSemester(store), null, 'a database with data is left alone')
  const s1 = await store.findStudent('S000001')
  t.ok(s1 && (await verifyPassword(DEMO_PASSWORD, s1.passwordHash, seedCost)), 'the password')
  t.notOk(s1 && (await verifyPassword('wrong', s1.passwordHash, seedCost)))
  t.equal((await store.listCourses()).length, a.courses.length)
})
