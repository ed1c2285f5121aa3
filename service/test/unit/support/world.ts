/**
 * The embedded pair, as the service ships it, for unit tests of the domain services: the
 * in-process rush state (on a clock the test may move) and the SQLite store in a temporary file.
 * The adapter contract (test/adapters/contract.ts) pins what the domain relies on from both; this
 * file only puts rows in and reads them back. A test that needs a failure wraps a method.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { createMemoryRushState } from '../../../src/adapters/memory/index.js'
import { SqliteStore } from '../../../src/adapters/sqlite/store.js'
import type { Meeting } from '../../../src/domain/model.js'
import type { AdmissionWrites, RushState } from '../../../src/domain/ports.js'

interface Tap {
  teardown(fn: () => unknown): void
}

/** The in-process rush state, closed when `t` ends. */
export function rushState(t: Tap, clock?: () => number) {
  const rush = createMemoryRushState({
    sessionTtlSeconds: 3_600,
    decidedTtlSeconds: 3_600,
    // The request budget is the contract's concern: here a student never reaches it.
    requestBudget: { max: Number.MAX_SAFE_INTEGER, windowMs: 60_000 },
    ...(clock ? { clock } : {}),
  })
  t.teardown(() => rush.lifecycle.close())
  return rush
}

/** Logs each student in with a session of their own, named by their id. */
export async function logIn(rush: RushState, studentIds: Iterable<string>): Promise<void> {
  for (const id of studentIds) await rush.sessions.create(id, id)
}

export interface StudentRow {
  readonly id: string
  readonly maxCredits?: number
}

export interface CourseRow {
  readonly id: string
  readonly capacity: number
  readonly credits?: number
  readonly meetings?: readonly Meeting[]
}

export interface Rows {
  readonly students?: ReadonlyArray<string | StudentRow>
  readonly courses?: readonly CourseRow[]
}

/** What an arrangement writes to a course: enrollments and waitlist places, as [student, request]. */
export interface Placement {
  readonly enroll?: ReadonlyArray<readonly [string, string]>
  readonly waitlist?: ReadonlyArray<readonly [string, string]>
  /** The course row's counters afterwards; left as they are when absent. */
  readonly course?: AdmissionWrites['course']
}

/**
 * The embedded store in a temporary file (it refuses an in-memory database: its reads use a
 * second connection), migrated and holding `rows`; closed and deleted when `t` ends. Admissions
 * and cancellations through the store are counted, and after each admission no course may hold
 * more enrollments than seats, nor a count that disagrees with its rows. Arrangements (`place`)
 * are neither counted nor checked.
 */
export async function embeddedStore(t: Tap, rows: Rows = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'sugang-unit-'))
  const path = join(dir, 'sugang.sqlite')
  const store = new SqliteStore({ path })
  t.teardown(async () => {
    await store.close()
    await rm(dir, { recursive: true, force: true })
  })
  await store.migrate()

  const admit = store.admit.bind(store)
  const fence = store.fence.bind(store)
  const cancel = store.cancel.bind(store)
  let transactions = 0
  store.admit = async (courseId, fenceValue, studentIds, decide) => {
    transactions += 1
    const outcome = await admit(courseId, fenceValue, studentIds, decide)
    const wrong = await store.countOverCapacity()
    if (wrong > 0) throw new Error(`${wrong} course(s) oversold or miscounted after admitting`)
    return outcome
  }
  store.cancel = async (studentId, courseId, work) => {
    transactions += 1
    return cancel(studentId, courseId, work)
  }

  const world = {
    store,
    /** Admissions and cancellations run through the store so far. */
    get transactions() {
      return transactions
    },
    async add(more: Rows): Promise<void> {
      await store.insertSeed({
        students: (more.students ?? []).map((s) => {
          const { id, maxCredits = 18 } = typeof s === 'string' ? { id: s } : s
          return {
            id,
            name: id,
            email: `${id}@example.edu`,
            passwordHash: 'x',
            year: 1,
            maxCredits,
          }
        }),
        courses: (more.courses ?? []).map((c) => ({
          id: c.id,
          title: c.id,
          professor: 'P',
          credits: c.credits ?? 3,
          capacity: c.capacity,
          meetings: c.meetings ?? [],
        })),
      })
    },
    /** Writes enrollments, waitlist places (appended in order) and counters in one admission. */
    async place(courseId: string, placement: Placement): Promise<void> {
      const queued = (list: Placement['enroll'], waitlist: boolean) =>
        (list ?? []).map(([studentId, requestId]) => ({
          studentId,
          requestId,
          waitlist,
          arrival: 0,
        }))
      const enroll = queued(placement.enroll, false)
      const waitlist = queued(placement.waitlist, true)
      const students = [...new Set([...enroll, ...waitlist].map((r) => r.studentId))]
      const current = await fence(courseId)
      if (current === null) throw new Error(`no course ${courseId}`)
      const outcome = await admit(courseId, current, students, () => ({
        writes: { enroll, waitlist, rewaitlist: [], record: [], course: placement.course ?? null },
        value: null,
      }))
      if (outcome.kind !== 'done') throw new Error(`placing in ${courseId}: ${outcome.kind}`)
    },
    /** The students enrolled in a course, by id. */
    async enrolled(courseId: string): Promise<string[]> {
      return (await store.courseSnapshot(courseId))?.students ?? []
    },
    /** A course's waitlist in its order. */
    async waitlist(courseId: string): Promise<Array<{ studentId: string; requestId: string }>> {
      const snapshot = await store.courseSnapshot(courseId)
      return (snapshot?.waitlist ?? []).map(({ studentId, requestId }) => ({
        studentId,
        requestId,
      }))
    },
    async version(courseId: string): Promise<number | undefined> {
      return (await store.courseSnapshot(courseId))?.version
    },
    /**
     * Deletes a student's account and nothing else. The schema would take their enrollments and
     * waitlist places with it; this leaves them, as a store that lost the row would, so that what
     * the store says of such a student (no credit limit) can be tested.
     */
    dropAccount(studentId: string): void {
      const db = new Database(path)
      try {
        db.pragma('foreign_keys = OFF')
        db.prepare('DELETE FROM students WHERE id = ?').run(studentId)
      } finally {
        db.close()
      }
    },
  }
  await world.add(rows)
  return world
}
