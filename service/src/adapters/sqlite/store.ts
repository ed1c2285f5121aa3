import type {
  AdmissionFacts,
  AdmissionWrites,
  CancellationTx,
  FencedOutcome,
  RegistrationStore,
  WaitlistHead,
} from '../../domain/ports.js'
import type { SeedStore } from '../../seed.js'
import {
  MEETINGS_HELD,
  WAITLIST_HEAD_STUDENT,
  admissionFacts,
  cancellationCourse,
  waitlistHead,
} from '../sql/rows.js'
import type { Row } from '../sql/rows.js'
import { SqlStore } from '../sql/store.js'
import { SqliteDialect, type SqliteConnectionOptions } from './dialect.js'
import { NOW_MS, migrations } from './schema.js'

export interface SqliteStoreOptions extends SqliteConnectionOptions {
  /** Runs after each successful migrate(): the demo seeds an empty database here. */
  readonly afterMigrate?: (store: SqliteStore) => Promise<void>
}

/**
 * The embedded store: one SQLite file, for trying sugang on one machine. The SQL store
 * (adapters/sql/store.ts) over the SQLite dialect: the same tables, statements and semantics as
 * MysqlStore, in one process, so callers cannot tell the stores apart.
 */
export class SqliteStore extends SqlStore<SqliteDialect> implements RegistrationStore, SeedStore {
  readonly #afterMigrate: ((store: SqliteStore) => Promise<void>) | undefined

  constructor(options: SqliteStoreOptions) {
    super(new SqliteDialect(options))
    this.#afterMigrate = options.afterMigrate
  }

  get path(): string {
    return this.dialect.path
  }

  async migrate(): Promise<void> {
    await this.dialect.withWriter((db) => {
      db.exec(
        `CREATE TABLE IF NOT EXISTS schema_migrations (
            version INTEGER NOT NULL PRIMARY KEY,
            applied_at TEXT NOT NULL DEFAULT ${NOW_MS}
          ) STRICT`,
      )
      const versions = db.prepare('SELECT version FROM schema_migrations').all() as Row[]
      const applied = new Set(versions.map((r) => Number(r.version)))
      for (const migration of migrations) {
        if (applied.has(migration.version)) continue
        db.transaction(() => {
          for (const statement of migration.statements) db.exec(statement)
          db.prepare('INSERT INTO schema_migrations (version) VALUES (?)').run(migration.version)
        }).immediate()
      }
    })
    await this.#afterMigrate?.(this)
  }

  async ping(): Promise<void> {
    await this.dialect.read('own', (s) => s.row('SELECT 1'))
  }

  /** Waits for the transaction in progress, then closes both connections. */
  async close(): Promise<void> {
    await this.dialect.close()
  }

  async replicaLagSeconds(): Promise<number | null> {
    return 0
  }

  async fence(courseId: string): Promise<number | null> {
    return this.dialect.write((s) => this.dialect.raiseFence(s, courseId))
  }

  async admit<T>(
    courseId: string,
    fence: number,
    studentIds: readonly string[],
    decide: (facts: AdmissionFacts) => { readonly writes: AdmissionWrites; readonly value: T },
  ): Promise<FencedOutcome<T>> {
    if (studentIds.length === 0) throw new Error('admit needs at least one student')
    const d = this.dialect
    const students = d.list([...new Set(studentIds)].sort())
    return d.transaction('admission', async (s): Promise<FencedOutcome<T>> => {
      const course = await s.row(
        `SELECT credits, capacity, enrolled, version, decided_through, admission_fence, meetings
           FROM courses WHERE id = ?${d.forUpdate}`,
        [courseId],
      )
      if (!course) return { kind: 'no-course' }
      if (Number(course.admission_fence) !== fence) return { kind: 'fenced' }

      // Lock order everywhere: the course row, then students by id. Two batches (or a batch and
      // a cancellation) can then never wait on each other in a cycle over the same students.
      const studentRows = await s.rows(
        `SELECT id, max_credits FROM students WHERE id ${d.inList} ORDER BY id${d.forUpdate}`,
        [students],
      )
      const heldRows = await s.rows(
        `SELECT e.student_id, e.course_id, e.request_id, c.credits, c.meetings
           FROM enrollments e JOIN courses c ON c.id = e.course_id
          WHERE e.student_id ${d.inList}`,
        [students],
      )
      const waitRows = await s.rows(
        `SELECT student_id, course_id, request_id FROM waitlist WHERE student_id ${d.inList}`,
        [students],
      )

      const facts = admissionFacts(courseId, {
        course,
        students: studentRows,
        held: heldRows,
        waiting: waitRows,
      })
      const { writes, value } = decide(facts)

      if (writes.enroll.length > 0) {
        await s.insert(
          'INSERT INTO enrollments (student_id, course_id, request_id)',
          writes.enroll.map((r) => [r.studentId, courseId, r.requestId]),
        )
        // The confirmation each new enrollment is owed commits or rolls back with it.
        await s.insert(
          'INSERT INTO confirmation_outbox (request_id, student_id, course_id, kind)',
          writes.enroll.map((r) => [r.requestId, r.studentId, courseId, 'enrolled']),
        )
      }
      if (writes.waitlist.length > 0) {
        await s.insert(
          'INSERT INTO waitlist (course_id, student_id, request_id)',
          writes.waitlist.map((r) => [courseId, r.studentId, r.requestId]),
        )
      }
      for (const r of writes.rewaitlist) {
        await s.run('UPDATE waitlist SET request_id = ? WHERE course_id = ? AND student_id = ?', [
          r.requestId,
          courseId,
          r.studentId,
        ])
      }
      if (writes.course) {
        const { enrolled, version, decidedThrough } = writes.course
        await s.run(
          'UPDATE courses SET enrolled = ?, version = ?, decided_through = ? WHERE id = ?',
          [enrolled, version, decidedThrough, courseId],
        )
      }
      // The places are read after the writes, in the same transaction (under the course row
      // lock where rows lock): the waitlist of this course cannot change before the commit.
      const waitlistPlaces = new Map<string, number>()
      if (writes.waitlist.length + writes.rewaitlist.length + facts.waitlistedBy.size > 0) {
        const placed = await s.rows(
          `SELECT id, request_id FROM waitlist WHERE course_id = ? AND student_id ${d.inList}`,
          [courseId, students],
        )
        for (const r of placed) waitlistPlaces.set(String(r.request_id), Number(r.id))
      }
      return { kind: 'done', value, waitlistPlaces }
    })
  }

  async cancel<T>(
    studentId: string,
    courseId: string,
    work: (tx: CancellationTx) => Promise<T>,
  ): Promise<T | null> {
    const d = this.dialect
    return d.transaction('request', async (s) => {
      const course = await s.row(
        `SELECT credits, capacity, enrolled, version, meetings FROM courses WHERE id = ?${d.forUpdate}`,
        [courseId],
      )
      if (!course) return null

      let firstHead: string | null = null
      if (d.locksRows) {
        // The waitlist of this course only changes under this course's row lock, so its head is
        // stable; lock the canceller and the head together, in id order.
        const head = await s.row(
          'SELECT student_id FROM waitlist WHERE course_id = ? ORDER BY id LIMIT 1',
          [courseId],
        )
        firstHead = head ? String(head.student_id) : null
        await s.rows(`SELECT id FROM students WHERE id ${d.inList} ORDER BY id${d.forUpdate}`, [
          d.list(firstHead ? [studentId, firstHead].sort() : [studentId]),
        ])
      }

      // `work` gets the transaction's connection until it settles; a method called after that
      // would run outside the transaction, so it is refused.
      let open = true
      const inside = async <R>(step: () => Promise<R>): Promise<R> => {
        if (!open) throw new Error('the cancellation transaction has ended')
        return step()
      }
      const tx: CancellationTx = {
        course: cancellationCourse(course),
        removeEnrollment: () =>
          inside(async () => {
            const deleted = await s.run(
              'DELETE FROM enrollments WHERE student_id = ? AND course_id = ?',
              [studentId, courseId],
            )
            return deleted.changes > 0
          }),
        removeWaitlistPlace: () =>
          inside(async () => {
            const place = await s.row(
              'SELECT id, request_id FROM waitlist WHERE course_id = ? AND student_id = ?',
              [courseId, studentId],
            )
            if (!place) return null
            await s.run('DELETE FROM waitlist WHERE id = ?', [place.id])
            return String(place.request_id)
          }),
        takeWaitlistHead: () =>
          inside(async (): Promise<WaitlistHead | null> => {
            const head = await s.row(
              'SELECT id, student_id, request_id FROM waitlist WHERE course_id = ? ORDER BY id LIMIT 1',
              [courseId],
            )
            if (!head) return null
            const headStudent = String(head.student_id)
            await s.run('DELETE FROM waitlist WHERE id = ?', [head.id])
            if (d.locksRows && headStudent !== firstHead) {
              // Rare: the first head was dropped by the rules. Deadlocks are retried as a whole.
              await s.rows(`SELECT id FROM students WHERE id = ?${d.forUpdate}`, [headStudent])
            }
            const student = await s.row(WAITLIST_HEAD_STUDENT, [courseId, headStudent])
            return waitlistHead(head, student, await s.rows(MEETINGS_HELD, [headStudent]))
          }),
        enroll: (student, requestId) =>
          inside(async () => {
            await s.run(
              'INSERT INTO enrollments (student_id, course_id, request_id) VALUES (?, ?, ?)',
              [student, courseId, requestId],
            )
            await s.run(
              `INSERT INTO confirmation_outbox (request_id, student_id, course_id, kind)
               VALUES (?, ?, ?, 'promoted')`,
              [requestId, student, courseId],
            )
          }),
        updateCourse: (enrolled, version) =>
          inside(async () => {
            await s.run('UPDATE courses SET enrolled = ?, version = ? WHERE id = ?', [
              enrolled,
              version,
              courseId,
            ])
          }),
      }
      try {
        return await work(tx)
      } finally {
        open = false
      }
    })
  }

  // -------------------------------------------------------------------------------------------
  // Sessions kept across restarts (adapters/sqlite/sessions.ts): not part of the ports.

  async saveSession(sessionId: string, studentId: string, expiresAtMs: number): Promise<void> {
    await this.dialect.write((s) =>
      s.run('INSERT OR REPLACE INTO sessions (id, student_id, expires_at) VALUES (?, ?, ?)', [
        sessionId,
        studentId,
        expiresAtMs,
      ]),
    )
  }

  async deleteSession(sessionId: string): Promise<void> {
    await this.dialect.write((s) => s.run('DELETE FROM sessions WHERE id = ?', [sessionId]))
  }

  /** The sessions alive at `nowMs`; the others are deleted. */
  async liveSessions(
    nowMs: number,
  ): Promise<Array<{ sessionId: string; studentId: string; expiresAtMs: number }>> {
    return this.dialect.write(async (s) => {
      await s.run('DELETE FROM sessions WHERE expires_at <= ?', [nowMs])
      const rows = await s.rows('SELECT id, student_id, expires_at FROM sessions')
      return rows.map((r) => ({
        sessionId: String(r.id),
        studentId: String(r.student_id),
        expiresAtMs: Number(r.expires_at),
      }))
    })
  }
}
