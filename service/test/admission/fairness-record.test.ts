/**
 * The fairness record as the service writes it: a concurrent rush decided by the real admission
 * worker over the real queue (Redis with MySQL, the in-process queue with SQLite), cancellations
 * that promote from the waitlist, and leaves. Afterwards (and while it runs) the audit must find
 * every course's record intact, and a request's last entry must be what the queue told its
 * student. Then entries are changed through SQL, and the audit must name that course and only it.
 */
import t, { type Test } from 'tap'
import { MysqlStore } from '../../src/adapters/mysql/store.js'
import { createRedisRushState } from '../../src/adapters/redis/index.js'
import { SqliteStore } from '../../src/adapters/sqlite/store.js'
import { prng, shuffle, type Random } from '../../src/demo/random.js'
import { AdmissionWorker } from '../../src/domain/admission-worker.js'
import { Cancellation } from '../../src/domain/cancellation.js'
import { auditRecord, type CourseAudit, type RecordEntry } from '../../src/domain/fairness.js'
import type { Meeting } from '../../src/domain/model.js'
import type { RegistrationStore, RushState } from '../../src/domain/ports.js'
import type { SeedStore } from '../../src/seed.js'
import {
  REDIS_CLUSTER_NODES,
  REDIS_URL,
  STORAGES,
  configFrom,
  database,
  databaseUrlOf,
  isolatedEnv,
  waitFor,
  type Sql,
  type Storage,
} from '../helper.js'
import { rushState } from '../unit/support/world.js'

const SEEDS = [11, 23, 47, 89]
const STUDENTS = 120
const COURSES = 5
const rules = { maxWaitlistPerStudent: 2 }
/** Small batches and bulk rejections: many transactions, so many chances to interleave. */
const settings = {
  minBatch: 2,
  maxBatch: 6,
  idleMs: 5,
  sliceMs: 250,
  bulkRejectLimit: 4,
  maxBackoffMs: 40,
}
/** Every this many commits a worker stops between its commit and telling the queue. */
const STOP_AFTER_COMMIT_EVERY = 7

/** A worker stopping after its commit: the queue never hears, the successor decides again. */
class StoppedAfterCommit extends Error {}

const MON_1_2: Meeting = { day: 'MON', start: 1, end: 2, room: 'A101' }
const MON_2_3: Meeting = { day: 'MON', start: 2, end: 3, room: 'A102' }
const TUE_1_2: Meeting = { day: 'TUE', start: 1, end: 2, room: 'A103' }
const WED_1_2: Meeting = { day: 'WED', start: 1, end: 2, room: 'A104' }
const THU_1_2: Meeting = { day: 'THU', start: 1, end: 2, room: 'A105' }
/** Courses 1 and 2 clash; a credit limit of 6 allows two courses. */
const MEETINGS = [[MON_1_2], [MON_2_3], [TUE_1_2], [WED_1_2], [THU_1_2]]

interface World {
  readonly store: RegistrationStore & SeedStore
  readonly rush: RushState
  readonly sql: Sql
  readonly cancellation: Cancellation
}

async function world(t: Test, storage: Storage): Promise<World> {
  const env = await isolatedEnv(t, 'fairrec', storage)
  const config = configFrom(env)
  const store =
    config.storage.kind === 'embedded'
      ? new SqliteStore({ path: config.storage.sqlitePath })
      : new MysqlStore({ url: databaseUrlOf(config), poolSize: 8 })
  t.teardown(() => store.close())
  await store.migrate()
  let rush: RushState
  if (config.storage.kind === 'embedded') {
    rush = rushState(t)
  } else {
    const redis = createRedisRushState({
      ...(REDIS_CLUSTER_NODES ? { clusterNodes: REDIS_CLUSTER_NODES } : { url: REDIS_URL }),
      courseGroups: config.storage.redisCourseGroups,
      checkSlots: true,
      prefix: config.redisPrefix,
      sessionTtlSeconds: 3_600,
      decidedTtlSeconds: 3_600,
      requestBudget: { max: 100_000, windowMs: 60_000 },
    })
    t.teardown(() => redis.lifecycle.close())
    await redis.lifecycle.connect()
    rush = redis
  }
  const cancellation = new Cancellation(
    { store, seats: rush.seats },
    { reflectionFailed: (err) => t.error(err), reflected: () => undefined },
  )
  t.teardown(() => cancellation.stop())
  return { store, rush, sql: await database(t, config), cancellation }
}

/**
 * Admission workers, as instances run them (one for the embedded pair: it is one process). Now
 * and then one stops between its commit and telling the queue, as a crash there would: the next
 * holder of the course decides those requests again, and the record must still hold.
 */
function startWorkers(t: Test, w: World, count: number) {
  /** Requests the workers rejected in bulk (a full course's head, without a batch). */
  const counts = { bulk: 0, stopped: 0 }
  let commits = 0
  const workers = Array.from(
    { length: count },
    () =>
      new AdmissionWorker(
        { store: w.store, queue: w.rush.queue, leases: w.rush.leases },
        settings,
        rules,
        {
          batch: () => undefined,
          bulkRejected: (_course, n) => (counts.bulk += n),
          waited: () => undefined,
          error: (err) => {
            if (!(err instanceof StoppedAfterCommit)) t.error(err, 'admission attempt failed')
          },
        },
        {
          afterCommit: () => {
            commits += 1
            if (commits % STOP_AFTER_COMMIT_EVERY !== 0) return
            counts.stopped += 1
            throw new StoppedAfterCommit('stopped between the commit and the queue')
          },
        },
      ),
  )
  for (const worker of workers) worker.start()
  const stop = async () => {
    await Promise.all(workers.map((worker) => worker.stop()))
  }
  t.teardown(stop)
  return { stop, counts }
}

/** What the queue tells a student about a request, as the record's last entry must say it. */
type Told = { status: string; reason: string | null }

/** A request's decision in the record: its last entry, a cancellation aside (the seat was given). */
function lastDecision(entries: readonly RecordEntry[]): Told | null {
  const last = entries.filter((e) => e.kind !== 'cancelled').at(-1)
  if (!last) return null
  switch (last.kind) {
    case 'enrolled':
    case 'promoted':
      return { status: 'enrolled', reason: null }
    case 'waitlisted':
    case 'rewaitlisted':
      return { status: 'waitlisted', reason: null }
    case 'left':
      return { status: 'rejected', reason: 'LEFT_WAITLIST' }
    default:
      return { status: 'rejected', reason: last.reason }
  }
}

interface Round {
  readonly courses: string[]
  /** Every request the queue took, by id: its course. */
  readonly requests: Map<string, string>
}

/** Seeds one round's students and courses; each round has its own. */
async function seedRound(w: World, seed: number, random: Random) {
  const students = Array.from({ length: STUDENTS }, (_, i) => `R${seed}S${i + 1}`)
  const courses = Array.from({ length: COURSES }, (_, i) => `R${seed}C${i + 1}`)
  await w.store.insertSeed({
    students: students.map((id, i) => ({
      id,
      name: id,
      email: `${id}@example.edu`,
      passwordHash: 'x',
      year: 1,
      // One in three may hold two courses only: credit limits at the door and at a promotion.
      maxCredits: i % 3 === 0 ? 6 : 18,
    })),
    courses: courses.map((id, i) => ({
      id,
      title: id,
      professor: 'P',
      credits: 3,
      capacity: 2 + Math.floor(random() * 3),
      meetings: MEETINGS[i] ?? [],
    })),
  })
  for (const s of students) await w.rush.sessions.create(`sid-${s}`, s)
  return { students, courses }
}

/** Sends requests at once (some twice, as a double click), waitlist asked at random. */
async function send(
  w: World,
  round: Round,
  wishes: ReadonlyArray<readonly [string, string]>,
  random: Random,
): Promise<void> {
  const clicks = wishes.flatMap(([student, course]) => {
    const one = {
      student,
      course,
      waitlist: random() < 0.45,
      requestId: w.rush.queue.newRequestId(course),
    }
    return random() < 0.15 ? [one, { ...one, requestId: w.rush.queue.newRequestId(course) }] : [one]
  })
  const results = await Promise.all(
    shuffle(clicks, random).map(async (c) => {
      const res = await w.rush.queue.enqueue({
        sessionId: `sid-${c.student}`,
        studentId: c.student,
        courseId: c.course,
        requestId: c.requestId,
        waitlist: c.waitlist,
        refuseWhenFull: false,
      })
      return { ...c, res }
    }),
  )
  for (const { course, res } of results) {
    if (res.kind === 'created' || res.kind === 'existing') round.requests.set(res.requestId, course)
  }
}

async function decided(w: World, round: Round): Promise<void> {
  await waitFor('every request decided', async () => {
    for (const course of round.courses) if ((await w.rush.queue.length(course)) > 0) return false
    for (const id of round.requests.keys()) {
      if ((await w.rush.queue.request(id))?.status === 'queued') return false
    }
    return true
  })
}

/** Audits until `done` settles: each audit, taken while the rush runs, must hold. */
async function auditWhile(t: Test, w: World, done: Promise<unknown>): Promise<number> {
  let finished = false
  void done.finally(() => (finished = true))
  let audits = 0
  while (!finished) {
    const broken = (await auditRecord(w.store)).filter((a) => a.breaks.length > 0)
    if (broken.length > 0) t.same(broken.map(summary), [], 'an audit during the rush holds')
    audits += 1
    // The embedded store answers without I/O: let the workers' timers run between audits.
    await new Promise((resolve) => setImmediate(resolve))
  }
  return audits
}

const summary = (a: CourseAudit) => ({ course: a.courseId, breaks: a.breaks })

async function enrollmentsOf(w: World, course: string): Promise<number> {
  const [rows] = await w.sql.query<Array<{ n: number }>>(
    'SELECT COUNT(*) AS n FROM enrollments WHERE course_id = ?',
    [course],
  )
  return Number(rows[0]?.n)
}

async function rush(t: Test, w: World, seed: number, workers: number) {
  const random = prng(seed)
  const { students, courses } = await seedRound(w, seed, random)
  const round: Round = { courses, requests: new Map() }
  const { stop, counts } = startWorkers(t, w, workers)

  // 1. The rush: every student asks for one to three courses at once.
  const wishes = students.flatMap((s) =>
    shuffle([...courses], random)
      .slice(0, 1 + Math.floor(random() * 3))
      .map((c) => [s, c] as const),
  )
  const first = send(w, round, wishes, random).then(() => decided(w, round))
  const during = await auditWhile(t, w, first)
  await first
  t.ok(during > 0, `${during} audits taken during the rush`)

  // 2. Leaves, then cancellations (the waitlist head takes the seat, unless the rules now refuse
  // it), each while late requests arrive for the same courses.
  const meanwhile = async (changes: Array<Promise<unknown>>) => {
    const late = shuffle([...students], random)
      .slice(0, 8)
      .map((s) => [s, courses[Math.floor(random() * courses.length)] as string] as const)
    const all = Promise.all([...changes, send(w, round, late, random)]).then(() =>
      decided(w, round),
    )
    await auditWhile(t, w, all)
    await all
  }
  const snapshots = async () =>
    Promise.all(
      courses.map(async (course) => {
        const snapshot = await w.store.courseSnapshot(course)
        if (!snapshot) throw new Error(`no course ${course}`)
        return { course, ...snapshot }
      }),
    )
  let leaves = 0
  await meanwhile(
    (await snapshots()).flatMap(({ course, waitlist }) => {
      const leaving = waitlist.at(-1)
      if (!leaving) return []
      leaves += 1
      return [
        w.cancellation
          .leaveWaitlist(leaving.studentId, course)
          .then((r) => t.ok(r.ok, `${leaving.studentId} leaves the waitlist of ${course}`)),
      ]
    }),
  )
  // The first course's waitlist head may no longer take a seat (a registrar lowered their
  // credit limit): a promotion there passes them over.
  const [firstCourse] = await snapshots()
  const head = firstCourse?.waitlist[0]
  if (head) {
    await w.sql.query('UPDATE students SET max_credits = 0 WHERE id = ?', [head.studentId])
  }
  let cancels = 0
  await meanwhile(
    (await snapshots()).flatMap(({ course, students: seated }) =>
      shuffle([...seated], random)
        .slice(0, 2)
        .map((student) => {
          cancels += 1
          return w.cancellation
            .cancel(student, course)
            .then((r) => t.ok(r.ok, `${student} cancels ${course}`))
        }),
    ),
  )
  await stop()

  // 3. The record holds for every course, and says what the queue said.
  const audits = await auditRecord(w.store)
  t.same(audits.filter((a) => a.breaks.length > 0).map(summary), [], 'every course holds')
  t.equal(await w.store.countOverCapacity(), 0, 'no course oversold')
  const kinds: Record<string, number> = {}
  for (const course of courses) {
    const audit = audits.find((a) => a.courseId === course)
    if (!audit) throw new Error(`no audit of ${course}`)
    const entries = await w.store.recordEntries(course, audit.head.seq)
    t.equal(entries.length, audit.entries)
    const k = (kind: string) => entries.filter((e) => e.kind === kind).length
    const rows = await enrollmentsOf(w, course)
    t.equal(
      k('enrolled') + k('promoted') - k('cancelled'),
      rows,
      `${course}: enrolled + promoted - cancelled is the ${rows} enrollments`,
    )
    t.equal(audit.enrolled, rows)
    for (const e of entries) kinds[e.kind] = (kinds[e.kind] ?? 0) + 1
  }
  const byRequest = new Map<string, RecordEntry[]>()
  for (const course of courses) {
    for (const e of await w.store.recordEntries(course, Number.MAX_SAFE_INTEGER)) {
      if (e.requestId !== null)
        byRequest.set(e.requestId, [...(byRequest.get(e.requestId) ?? []), e])
    }
  }
  /** Requests the queue decided more than once (a worker stopped before telling it). */
  const twice = [...byRequest.values()].filter(
    (entries) => entries.filter((e) => e.arrival !== null).length > 1,
  ).length
  const told = new Map<string, { record: Told | null; queue: Told | null }>()
  for (const requestId of round.requests.keys()) {
    const reported = await w.rush.queue.request(requestId)
    told.set(requestId, {
      record: lastDecision(byRequest.get(requestId) ?? []),
      queue: reported ? { status: reported.status, reason: reported.reason } : null,
    })
  }
  const differ = [...told].filter(([, v]) => JSON.stringify(v.record) !== JSON.stringify(v.queue))
  t.same(differ, [], `each of ${told.size} requests: its last entry is what the queue told`)
  t.ok(
    (kinds.cancelled ?? 0) >= cancels && (kinds.left ?? 0) >= leaves,
    'cancels and leaves recorded',
  )
  return { kinds, counts, twice }
}

/** One entry's columns, to put a deleted entry back. */
const COLUMNS =
  'course_id, seq, batch, kind, student_id, request_id, arrival, queued_at, reason, enrolled, capacity, decided_at, prev_hash, hash'

for (const storage of STORAGES) {
  t.test(`${storage}: the fairness record of a rush holds, and shows any change`, async (t) => {
    const w = await world(t, storage)
    const total: Record<string, number> = {}
    let rejectedInBulk = 0
    let stopped = 0
    let decidedTwice = 0
    for (const seed of SEEDS) {
      await t.test(`rush ${seed}`, async (t) => {
        const done = await rush(t, w, seed, storage === 'embedded' ? 1 : 2)
        for (const [k, n] of Object.entries(done.kinds)) total[k] = (total[k] ?? 0) + n
        rejectedInBulk += done.counts.bulk
        stopped += done.counts.stopped
        decidedTwice += done.twice
      })
    }
    // The paths the record has to get right beyond a plain batch were all taken.
    t.ok(rejectedInBulk > 0, `${rejectedInBulk} rejected in bulk, recorded before told`)
    t.ok(
      stopped > 0 && decidedTwice > 0,
      `${stopped} stops after a commit, ${decidedTwice} requests decided twice`,
    )
    t.ok(
      ['enrolled', 'waitlisted', 'rejected', 'cancelled', 'promoted', 'left', 'passed-over'].every(
        (k) => (total[k] ?? 0) > 0,
      ),
      `the rushes made every kind of decision but rewaitlisted: ${JSON.stringify(total)}`,
    )

    await t.test(
      'an entry changed through SQL breaks its course, and only its course',
      async (t) => {
        const broken = async () =>
          (await auditRecord(w.store)).filter((a) => a.breaks.length > 0).map(summary)
        t.same(await broken(), [], 'the record holds before')
        const heads = await w.store.recordCourses()
        const [a, b, c] = heads.filter((h) => h.head.seq >= 3).map((h) => h.courseId)
        if (!a || !b || !c) throw new Error('three courses with three entries are needed')
        const q = (sql: string, values: unknown[]) => w.sql.query(sql, values)

        // An arrival moved (a request said to have come later than it did).
        const [arrived] = await w.sql.query<Array<{ seq: number }>>(
          'SELECT seq FROM fairness_record WHERE course_id = ? AND arrival IS NOT NULL ORDER BY seq LIMIT 1',
          [a],
        )
        const seq = Number(arrived[0]?.seq)
        await q(
          'UPDATE fairness_record SET arrival = arrival + 1 WHERE course_id = ? AND seq = ?',
          [a, seq],
        )
        const moved = await broken()
        t.same(
          moved.map((x) => x.course),
          [a],
          'the moved arrival breaks its course only',
        )
        t.equal(moved[0]?.breaks[0], `entry ${seq}: its hash does not match its content`)
        await q(
          'UPDATE fairness_record SET arrival = arrival - 1 WHERE course_id = ? AND seq = ?',
          [a, seq],
        )
        t.same(await broken(), [], 'holds again once the arrival is put back')

        // Two entries swapped: each takes the other's seq.
        const swap = async () => {
          await q('UPDATE fairness_record SET seq = 999999 WHERE course_id = ? AND seq = 2', [b])
          await q('UPDATE fairness_record SET seq = 2 WHERE course_id = ? AND seq = 3', [b])
          await q('UPDATE fairness_record SET seq = 3 WHERE course_id = ? AND seq = 999999', [b])
        }
        await swap()
        const swapped = await broken()
        t.same(
          swapped.map((x) => x.course),
          [b],
          'the swap breaks its course only',
        )
        t.same(swapped[0]?.breaks.filter((b) => /chain|hash/.test(b)).slice(0, 4), [
          'entry 2: does not chain to the entry before it',
          'entry 2: its hash does not match its content',
          'entry 3: does not chain to the entry before it',
          'entry 3: its hash does not match its content',
        ])
        await swap()
        t.same(await broken(), [], 'holds again once swapped back')

        // The last entry deleted.
        const last = heads.find((h) => h.courseId === c)?.head.seq as number
        const [saved] = await w.sql.query<Array<Record<string, unknown>>>(
          `SELECT ${COLUMNS} FROM fairness_record WHERE course_id = ? AND seq = ?`,
          [c, last],
        )
        const row = saved[0] as Record<string, unknown>
        await q('DELETE FROM fairness_record WHERE course_id = ? AND seq = ?', [c, last])
        const deleted = await broken()
        t.same(
          deleted.map((x) => x.course),
          [c],
          'the deletion breaks its course only',
        )
        t.match(
          deleted[0]?.breaks[0],
          new RegExp(
            `^the course's head is entry ${last} \\w{12}, the record ends at ${last - 1} `,
          ),
        )
        t.same(
          (await auditRecord(w.store, c)).map((x) => x.courseId),
          [c],
          'the audit of that course alone',
        )
        const columns = COLUMNS.split(', ')
        await q(
          `INSERT INTO fairness_record (${COLUMNS}) VALUES (${columns.map(() => '?').join(', ')})`,
          columns.map((col) => row[col]),
        )
        t.same(await broken(), [], 'holds again once the entry is back')
      },
    )
  })
}
