import type { Pool, RowDataPacket } from 'mysql2/promise'
import { DependencyUnavailableError } from '../../errors.js'
import type {
  CartItem,
  Course,
  CourseSnapshot,
  CourseVersion,
  DurableRequest,
  Enrollment,
  StudentAccount,
} from '../../domain/model.js'
import { formatMeetings, parseMeetings } from '../../domain/meetings.js'
import type {
  AddToCartResult,
  AdmissionFacts,
  AdmissionWrites,
  CancellationTx,
  FencedOutcome,
  RegistrationStore,
  WaitlistHead,
} from '../../domain/ports.js'
import type { ConfirmationBacklog } from '../../domain/confirmations.js'
import type { SeedRows, SeedStore } from '../../seed.js'
import {
  MEETINGS_HELD,
  WAITLIST_HEAD_STUDENT,
  admissionFacts,
  asDate,
  cancellationCourse,
  toCourse,
  waitlistHead,
} from '../sql/rows.js'
import { BACKLOG_SQL, toBacklog } from '../sql/confirmations.js'
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

  async listCourses(): Promise<Course[]> {
    const rows = await this.dialect.read('catalogue', (s) =>
      s.rows(
        'SELECT id, title, professor, credits, capacity, enrolled, meetings FROM courses ORDER BY id',
      ),
    )
    return rows.map(toCourse)
  }

  async findCourse(courseId: string): Promise<Course | null> {
    const row = await this.dialect.read('catalogue', (s) =>
      s.row(
        'SELECT id, title, professor, credits, capacity, enrolled, meetings FROM courses WHERE id = ?',
        [courseId],
      ),
    )
    return row ? toCourse(row) : null
  }

  async findStudent(studentId: string): Promise<StudentAccount | null> {
    const row = await this.dialect.read('catalogue', (s) =>
      s.row('SELECT id, name, password_hash, year, max_credits FROM students WHERE id = ?', [
        studentId,
      ]),
    )
    return row
      ? {
          id: String(row.id),
          name: String(row.name),
          passwordHash: String(row.password_hash),
          year: Number(row.year),
          maxCredits: Number(row.max_credits),
        }
      : null
  }

  async updatePasswordHash(studentId: string, passwordHash: string): Promise<void> {
    await this.dialect.write((s) =>
      s.run('UPDATE students SET password_hash = ? WHERE id = ?', [passwordHash, studentId]),
    )
  }

  async listEnrollments(studentId: string): Promise<Enrollment[]> {
    const rows = await this.dialect.read('own', (s) =>
      s.rows(
        `SELECT e.course_id, c.title, c.professor, c.credits, c.meetings, e.created_at
           FROM enrollments e JOIN courses c ON c.id = e.course_id
          WHERE e.student_id = ? ORDER BY e.created_at, e.course_id`,
        [studentId],
      ),
    )
    return rows.map((r) => ({
      courseId: String(r.course_id),
      title: String(r.title),
      professor: String(r.professor),
      credits: Number(r.credits),
      meetings: parseMeetings(r.meetings),
      enrolledAt: asDate(r.created_at),
    }))
  }

  async listCart(studentId: string): Promise<CartItem[]> {
    const rows = await this.dialect.read('own', (s) =>
      s.rows('SELECT course_id, added_at FROM cart_items WHERE student_id = ? ORDER BY seq', [
        studentId,
      ]),
    )
    return rows.map((r) => ({ courseId: String(r.course_id), addedAt: asDate(r.added_at) }))
  }

  async addToCart(studentId: string, courseId: string, limit: number): Promise<AddToCartResult> {
    const d = this.dialect
    return d.transaction('request', async (s): Promise<AddToCartResult> => {
      // The lock order of admission and cancellation: the course row (shared here: the insert's
      // foreign key check takes it anyway), then the student's row. The student's row lock
      // makes concurrent additions to one cart, on every instance, count one after the other.
      const course = await s.row(`SELECT id FROM courses WHERE id = ?${d.forShare}`, [courseId])
      if (!course) return 'course-not-found'
      const student = await s.row(`SELECT id FROM students WHERE id = ?${d.forUpdate}`, [studentId])
      // A session that outlived its account adds nothing, and is no error.
      if (!student) return 'added'
      const items = await s.rows('SELECT course_id FROM cart_items WHERE student_id = ?', [
        studentId,
      ])
      if (items.some((r) => String(r.course_id) === courseId)) return 'added'
      if (items.length >= limit) return 'cart-full'
      await s.run('INSERT INTO cart_items (student_id, course_id) VALUES (?, ?)', [
        studentId,
        courseId,
      ])
      return 'added'
    })
  }

  async removeFromCart(studentId: string, courseId: string): Promise<boolean> {
    const result = await this.dialect.write((s) =>
      s.run('DELETE FROM cart_items WHERE student_id = ? AND course_id = ?', [studentId, courseId]),
    )
    return result.changes > 0
  }

  async reorderCart(studentId: string, courseIds: readonly string[]): Promise<boolean> {
    const d = this.dialect
    return d.transaction('request', async (s) => {
      if (d.locksRows) {
        // The lock order of addToCart: the courses (shared: the inserts' foreign key checks take
        // them anyway), then the student's row, which keeps every change to one cart in turn.
        if (courseIds.length > 0) {
          await s.rows(`SELECT id FROM courses WHERE id ${d.inList} ORDER BY id${d.forShare}`, [
            d.list(courseIds),
          ])
        }
        await s.rows(`SELECT id FROM students WHERE id = ?${d.forUpdate}`, [studentId])
      }
      const items = await s.rows(
        'SELECT course_id, added_at FROM cart_items WHERE student_id = ? ORDER BY seq',
        [studentId],
      )
      const addedAt = new Map(items.map((r) => [String(r.course_id), r.added_at]))
      if (items.length !== courseIds.length || !courseIds.every((id) => addedAt.has(id))) {
        return false
      }
      if (items.length === 0) return true
      // The order is the rows' seq: written again, in the new order.
      await s.run('DELETE FROM cart_items WHERE student_id = ?', [studentId])
      await s.insert(
        'INSERT INTO cart_items (student_id, course_id, added_at)',
        courseIds.map((id) => [studentId, id, addedAt.get(id)]),
      )
      return true
    })
  }

  async findDurableRequest(requestId: string): Promise<DurableRequest | null> {
    // One statement, so one snapshot: a promotion moves a request from the waitlist to the
    // enrollments in one transaction, and two separate reads could fall between the two and
    // find it in neither (and the student would be told "rejected" while holding the seat).
    const row = await this.dialect.read('own', (s) =>
      s.row(
        `SELECT 'enrolled' AS status, e.course_id, e.student_id, NULL AS position
           FROM enrollments e WHERE e.request_id = ?
         UNION ALL
         SELECT 'waitlisted', w.course_id, w.student_id,
                (SELECT COUNT(*) FROM waitlist a WHERE a.course_id = w.course_id AND a.id <= w.id)
           FROM waitlist w WHERE w.request_id = ?`,
        [requestId, requestId],
      ),
    )
    if (!row) return null
    const found = { courseId: String(row.course_id), studentId: String(row.student_id) }
    return row.status === 'enrolled'
      ? { status: 'enrolled', ...found }
      : { status: 'waitlisted', ...found, position: Number(row.position) }
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

  async countOverCapacity(): Promise<number> {
    // Counts rows, not the enrolled column (which a CHECK constraint already bounds), and also
    // flags a column that disagrees with its rows. A catalogue read (MySQL: on the replica): it
    // runs on every scrape.
    const row = await this.dialect.read('catalogue', (s) =>
      s.row(
        `SELECT COUNT(*) AS n FROM courses c
           LEFT JOIN (SELECT course_id, COUNT(*) AS taken FROM enrollments GROUP BY course_id) e
             ON e.course_id = c.id
          WHERE COALESCE(e.taken, 0) > c.capacity OR COALESCE(e.taken, 0) <> c.enrolled`,
      ),
    )
    return Number(row?.n ?? 0)
  }

  async confirmationBacklog(): Promise<ConfirmationBacklog> {
    return toBacklog(await this.dialect.read('catalogue', (s) => s.rows(BACKLOG_SQL)))
  }

  async courseVersions(): Promise<CourseVersion[]> {
    const rows = await this.dialect.read('own', (s) =>
      s.rows('SELECT id, version, decided_through FROM courses ORDER BY id'),
    )
    return rows.map((r) => ({
      id: String(r.id),
      version: Number(r.version),
      decidedThrough: Number(r.decided_through),
    }))
  }

  async courseSnapshot(courseId: string): Promise<CourseSnapshot | null> {
    return this.dialect.snapshot(async (s): Promise<CourseSnapshot | null> => {
      const course = await s.row('SELECT capacity, enrolled, version FROM courses WHERE id = ?', [
        courseId,
      ])
      if (!course) return null
      const students = await s.rows(
        'SELECT student_id FROM enrollments WHERE course_id = ? ORDER BY student_id',
        [courseId],
      )
      const waiting = await s.rows(
        'SELECT id, request_id, student_id FROM waitlist WHERE course_id = ? ORDER BY id',
        [courseId],
      )
      return {
        version: Number(course.version),
        seatsLeft: Number(course.capacity) - Number(course.enrolled),
        students: students.map((r) => String(r.student_id)),
        waitlist: waiting.map((r) => ({
          requestId: String(r.request_id),
          place: Number(r.id),
          studentId: String(r.student_id),
        })),
      }
    })
  }

  // -------------------------------------------------------------------------------------------
  // Seeding (the demo semester and `sugang seed`, SeedStore): not part of the ports, and without
  // the request deadlines (a load test's seed writes tens of thousands of rows at once).

  async isEmpty(): Promise<boolean> {
    const row = await this.dialect.read('seed', (s) =>
      s.row('SELECT EXISTS(SELECT 1 FROM students) OR EXISTS(SELECT 1 FROM courses) AS any_rows'),
    )
    return Number(row?.any_rows ?? 0) === 0
  }

  async deleteAll(): Promise<void> {
    await this.dialect.transaction('seed', async (s) => {
      for (const table of ['cart_items', 'waitlist', 'enrollments', 'courses', 'students']) {
        await s.run(`DELETE FROM ${table}`)
      }
    })
  }

  /** In one transaction, one statement per table where the dialect batches rows. */
  async insertSeed(rows: SeedRows): Promise<void> {
    const d = this.dialect
    const students = rows.students ?? []
    const courses = rows.courses ?? []
    await d.transaction('seed', async (s) => {
      if (students.length > 0) {
        await s.insert(
          'INSERT INTO students (id, name, email, password_hash, year, max_credits)',
          students.map((r) => [r.id, r.name, r.email, r.passwordHash, r.year, r.maxCredits]),
          `${d.onConflict('id')} password_hash = ${d.incoming('password_hash')}, max_credits = ${d.incoming('max_credits')}`,
        )
      }
      if (courses.length > 0) {
        await s.insert(
          'INSERT INTO courses (id, title, professor, credits, capacity, meetings)',
          courses.map((c) => [
            c.id,
            c.title,
            c.professor,
            c.credits,
            c.capacity,
            formatMeetings(c.meetings),
          ]),
          `${d.onConflict('id')} capacity = ${d.greatest(d.incoming('capacity'), 'enrolled')}`,
        )
      }
    })
  }

  /** For the CLI and tests: the primary pool. */
  get primary(): Pool {
    return this.dialect.primary
  }
}
