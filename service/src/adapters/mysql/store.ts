import type { Pool, RowDataPacket } from 'mysql2/promise'
import { DependencyUnavailableError } from '../../errors.js'
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
import { SqlStore } from '../sql/store.js'
import { MysqlDialect, isConnectionError, type MysqlConnectionOptions } from './dialect.js'
import { migrations } from './schema.js'

export type MysqlStoreOptions = MysqlConnectionOptions

/**
 * The durable store on MySQL: the SQL store (adapters/sql/store.ts) over the MySQL dialect, whose
 * deadlines turn a stalled server into a prompt DependencyUnavailableError (503), never a hang.
 */
export class MysqlStore extends SqlStore<MysqlDialect> implements RegistrationStore, SeedStore {
  constructor(options: MysqlStoreOptions) {
    super(new MysqlDialect(options))
  }

  async migrate(): Promise<void> {
    // Migrations may take long on a big table: no operation deadline, only the lock's own.
    const conn = await this.dialect.primary.getConnection().catch((err: unknown) => {
      throw new DependencyUnavailableError('mysql', err)
    })
    try {
      // Instances starting together must not run the same migration twice.
      await conn.query("SELECT GET_LOCK('sugang.migrate', 60)")
      await conn.query(
        `CREATE TABLE IF NOT EXISTS schema_migrations (
            version INT UNSIGNED NOT NULL PRIMARY KEY,
            applied_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)
          ) ENGINE=InnoDB`,
      )
      const [rows] = await conn.query<RowDataPacket[]>('SELECT version FROM schema_migrations')
      const applied = new Set(rows.map((r) => Number(r.version)))
      for (const migration of migrations) {
        if (applied.has(migration.version)) continue
        for (const statement of migration.statements) await conn.query(statement)
        await conn.query('INSERT INTO schema_migrations (version) VALUES (?)', [migration.version])
      }
    } catch (err) {
      if (isConnectionError(err)) throw new DependencyUnavailableError('mysql', err)
      throw err
    } finally {
      await conn.query("SELECT RELEASE_LOCK('sugang.migrate')").catch(() => undefined)
      conn.release()
    }
  }

  async ping(): Promise<void> {
    await this.dialect.read('own', (s) => s.rows('SELECT 1'))
    if (this.dialect.replica !== this.dialect.primary)
      await this.dialect.read('catalogue', (s) => s.rows('SELECT 1'))
  }

  async close(): Promise<void> {
    const { primary, replica } = this.dialect
    await primary.end().catch(() => undefined)
    if (replica !== primary) await replica.end().catch(() => undefined)
  }

  async replicaLagSeconds(): Promise<number | null> {
    if (this.dialect.replica === this.dialect.primary) return 0
    try {
      // MySQL 8 and MariaDB both answer SHOW REPLICA STATUS; the column name differs. It needs
      // the REPLICATION CLIENT privilege (RDS's master user has it).
      const row = await this.dialect.read('catalogue', (s) => s.row('SHOW REPLICA STATUS'))
      if (!row) return null
      const lag = row.Seconds_Behind_Source ?? row.Seconds_Behind_Master
      return lag === null || lag === undefined ? Infinity : Number(lag)
    } catch {
      return null
    }
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

  /** For the CLI and tests: the primary pool. */
  get primary(): Pool {
    return this.dialect.primary
  }
}
