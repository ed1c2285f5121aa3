import type { Pool, PoolConnection, RowDataPacket, ResultSetHeader } from 'mysql2/promise'
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
import {
  MEETINGS_HELD,
  WAITLIST_HEAD_STUDENT,
  admissionFacts,
  cancellationCourse,
  toCourse,
  waitlistHead,
} from '../sql/rows.js'
import type {
  AddToCartResult,
  AdmissionFacts,
  AdmissionWrites,
  CancellationTx,
  FencedOutcome,
  RegistrationStore,
  WaitlistHead,
} from '../../domain/ports.js'
import type { DatabaseTls } from '../../config.js'
import { isRetryableLockError } from './lock-conflicts.js'
import { createPool } from './pool.js'
import type { ConfirmationBacklog } from '../../domain/confirmations.js'
import { BACKLOG_SQL, toBacklog } from '../sql/confirmations.js'
import { migrations } from './schema.js'
import type { SeedRows, SeedStore } from '../../seed.js'

export interface MysqlStoreOptions {
  readonly url: string
  readonly replicaUrl?: string | undefined
  /** TLS for both pools (DATABASE_TLS); plain text when unset. */
  readonly tls?: DatabaseTls | undefined
  readonly poolSize: number
  /**
   * Deadline of every statement and of every operation as a whole, waiting for a connection
   * included. Admission transactions, which run in the background, get three times as long.
   */
  readonly timeoutMs?: number
}

const DEFAULT_TIMEOUT_MS = 1_500
const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'EPIPE',
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'ER_CON_COUNT_ERROR',
  'ER_SERVER_SHUTDOWN',
  'ER_CONNECTION_KILLED',
  'ER_ACCESS_DENIED_ERROR',
  'ER_BAD_DB_ERROR',
  'ER_OPTION_PREVENTS_STATEMENT',
  'ER_QUERY_INTERRUPTED',
])

/** The operation ran out of time; what it started is rolled back or finishes on its own. */
class DeadlineExceeded extends Error {
  constructor(what: string) {
    super(`${what} did not finish within its deadline`)
    this.name = 'DeadlineExceeded'
  }
}

function isConnectionError(err: unknown): boolean {
  if (err instanceof DeadlineExceeded) return true
  const code = (err as { code?: unknown } | null)?.code
  if (typeof code === 'string' && CONNECTION_CODES.has(code)) return true
  const message = err instanceof Error ? err.message : ''
  return /Pool is closed|Connection lost|connect ETIMEDOUT|read-only|Queue limit reached|closed state/i.test(
    message,
  )
}

type Row = RowDataPacket & Record<string, unknown>
type Values = unknown[]

/** Runs statements on one connection, each bounded by the statement and operation deadlines. */
interface Session {
  rows(sql: string, values?: Values): Promise<Row[]>
  write(sql: string, values?: Values): Promise<ResultSetHeader>
  /**
   * Ends an open transaction whatever the deadline says: an operation that ran out of time must
   * still undo what it wrote. If the ROLLBACK cannot be sent, the connection is destroyed (the
   * server rolls back a closed connection's transaction), never returned to the pool open: the
   * next START TRANSACTION on it would commit the half-done writes.
   */
  rollback(): Promise<void>
}

/**
 * MySQL store: writes and own-data reads on the primary pool, catalogue reads on the replica
 * pool (the primary when no replica is configured). Every statement and every operation has a
 * deadline: a stalled server turns into a prompt DependencyUnavailableError (503), never a hang.
 */
export class MysqlStore implements RegistrationStore, SeedStore {
  readonly #primary: Pool
  readonly #replica: Pool
  readonly #timeoutMs: number

  constructor(options: MysqlStoreOptions) {
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS
    this.#primary = createPool(options.url, options.poolSize, this.#timeoutMs, options.tls)
    this.#replica = options.replicaUrl
      ? createPool(options.replicaUrl, options.poolSize, this.#timeoutMs, options.tls)
      : this.#primary
  }

  /**
   * Runs `work` on a connection of `pool`, all within `budgetMs`. A statement that times out
   * leaves its connection in an unknown state, so that connection is destroyed, not reused.
   */
  async #session<T>(
    pool: Pool,
    work: (session: Session) => Promise<T>,
    budgetMs = this.#timeoutMs,
  ): Promise<T> {
    const deadline = Date.now() + budgetMs
    try {
      const conn = await this.#acquire(pool, budgetMs)
      let broken = false
      const run = async <R>(sql: string, values: Values | undefined): Promise<R> => {
        const left = deadline - Date.now()
        if (left <= 0) throw new DeadlineExceeded('a MySQL operation')
        try {
          const [result] = await conn.query(
            { sql, timeout: Math.min(left, this.#timeoutMs) },
            values,
          )
          return result as R
        } catch (err) {
          if (isConnectionError(err)) broken = true
          throw err
        }
      }
      const rollback = async (): Promise<void> => {
        if (broken) return
        try {
          await conn.query({ sql: 'ROLLBACK', timeout: this.#timeoutMs })
        } catch {
          broken = true
        }
      }
      try {
        return await work({
          rows: (sql, values) => run<Row[]>(sql, values),
          write: (sql, values) => run<ResultSetHeader>(sql, values),
          rollback,
        })
      } finally {
        if (broken) conn.destroy()
        else conn.release()
      }
    } catch (err) {
      if (isConnectionError(err)) throw new DependencyUnavailableError('mysql', err)
      throw err
    }
  }

  /** A pool connection, or DeadlineExceeded; a connection that arrives too late goes back. */
  async #acquire(pool: Pool, budgetMs: number): Promise<PoolConnection> {
    let timer: NodeJS.Timeout | undefined
    const acquiring = pool.getConnection()
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new DeadlineExceeded('waiting for a MySQL connection')),
        budgetMs,
      )
    })
    try {
      return await Promise.race([acquiring, late])
    } catch (err) {
      acquiring.then((conn) => conn.release()).catch(() => undefined)
      throw err
    } finally {
      clearTimeout(timer)
    }
  }

  /**
   * A READ COMMITTED transaction on the primary, retried on deadlock or lock timeout. Every
   * statement checks the deadline first: a transaction whose caller has given up rolls back
   * instead of committing later behind the caller's back.
   */
  async #transaction<T>(work: (session: Session) => Promise<T>, budgetMs: number): Promise<T> {
    const deadline = Date.now() + budgetMs
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await this.#session(
          this.#primary,
          async (session) => {
            await session.write('START TRANSACTION')
            try {
              const result = await work(session)
              await session.write('COMMIT')
              return result
            } catch (err) {
              await session.rollback()
              throw err
            }
          },
          Math.max(1, deadline - Date.now()),
        )
      } catch (err) {
        if (attempt < 5 && isRetryableLockError(err) && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 5 * attempt + Math.random() * 20))
          continue
        }
        throw err
      }
    }
  }

  async migrate(): Promise<void> {
    // Migrations may take long on a big table: no operation deadline, only the lock's own.
    const conn = await this.#primary.getConnection().catch((err: unknown) => {
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
      const [rows] = await conn.query<Row[]>('SELECT version FROM schema_migrations')
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
    await this.#session(this.#primary, (s) => s.rows('SELECT 1'))
    if (this.#replica !== this.#primary)
      await this.#session(this.#replica, (s) => s.rows('SELECT 1'))
  }

  async close(): Promise<void> {
    await this.#primary.end().catch(() => undefined)
    if (this.#replica !== this.#primary) await this.#replica.end().catch(() => undefined)
  }

  async listCourses(): Promise<Course[]> {
    const rows = await this.#session(this.#replica, (s) =>
      s.rows(
        'SELECT id, title, professor, credits, capacity, enrolled, meetings FROM courses ORDER BY id',
      ),
    )
    return rows.map(toCourse)
  }

  async findCourse(courseId: string): Promise<Course | null> {
    const rows = await this.#session(this.#replica, (s) =>
      s.rows(
        'SELECT id, title, professor, credits, capacity, enrolled, meetings FROM courses WHERE id = ?',
        [courseId],
      ),
    )
    return rows[0] ? toCourse(rows[0]) : null
  }

  async findStudent(studentId: string): Promise<StudentAccount | null> {
    const rows = await this.#session(this.#replica, (s) =>
      s.rows('SELECT id, name, password_hash, year, max_credits FROM students WHERE id = ?', [
        studentId,
      ]),
    )
    const row = rows[0]
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
    await this.#session(this.#primary, (s) =>
      s.write('UPDATE students SET password_hash = ? WHERE id = ?', [passwordHash, studentId]),
    )
  }

  async listEnrollments(studentId: string): Promise<Enrollment[]> {
    const rows = await this.#session(this.#primary, (s) =>
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
      enrolledAt: r.created_at as Date,
    }))
  }

  async listCart(studentId: string): Promise<CartItem[]> {
    const rows = await this.#session(this.#primary, (s) =>
      s.rows('SELECT course_id, added_at FROM cart_items WHERE student_id = ? ORDER BY seq', [
        studentId,
      ]),
    )
    return rows.map((r) => ({ courseId: String(r.course_id), addedAt: r.added_at as Date }))
  }

  async addToCart(studentId: string, courseId: string, limit: number): Promise<AddToCartResult> {
    return this.#transaction(async (s) => {
      // The lock order of admission and cancellation: the course row (shared here: the insert's
      // foreign key check takes it anyway), then the student's row. The student's row lock
      // makes concurrent additions to one cart, on every instance, count one after the other.
      const course = await s.rows('SELECT id FROM courses WHERE id = ? LOCK IN SHARE MODE', [
        courseId,
      ])
      if (course.length === 0) return 'course-not-found'
      const student = await s.rows('SELECT id FROM students WHERE id = ? FOR UPDATE', [studentId])
      // A session that outlived its account adds nothing, and is no error.
      if (student.length === 0) return 'added'
      const items = await s.rows('SELECT course_id FROM cart_items WHERE student_id = ?', [
        studentId,
      ])
      if (items.some((r) => String(r.course_id) === courseId)) return 'added'
      if (items.length >= limit) return 'cart-full'
      await s.write('INSERT INTO cart_items (student_id, course_id) VALUES (?, ?)', [
        studentId,
        courseId,
      ])
      return 'added'
    }, this.#timeoutMs)
  }

  async removeFromCart(studentId: string, courseId: string): Promise<boolean> {
    const result = await this.#session(this.#primary, (s) =>
      s.write('DELETE FROM cart_items WHERE student_id = ? AND course_id = ?', [
        studentId,
        courseId,
      ]),
    )
    return result.affectedRows > 0
  }

  async reorderCart(studentId: string, courseIds: readonly string[]): Promise<boolean> {
    return this.#transaction(async (s) => {
      // The lock order of addToCart: the courses (shared: the inserts' foreign key checks take
      // them anyway), then the student's row, which keeps every change to one cart in turn.
      if (courseIds.length > 0) {
        await s.rows('SELECT id FROM courses WHERE id IN (?) ORDER BY id LOCK IN SHARE MODE', [
          courseIds,
        ])
      }
      await s.rows('SELECT id FROM students WHERE id = ? FOR UPDATE', [studentId])
      const items = await s.rows(
        'SELECT course_id, added_at FROM cart_items WHERE student_id = ? ORDER BY seq',
        [studentId],
      )
      const addedAt = new Map(items.map((r) => [String(r.course_id), r.added_at as Date]))
      if (items.length !== courseIds.length || !courseIds.every((id) => addedAt.has(id))) {
        return false
      }
      if (items.length === 0) return true
      // The order is the rows' seq: written again, in the new order.
      await s.write('DELETE FROM cart_items WHERE student_id = ?', [studentId])
      await s.write('INSERT INTO cart_items (student_id, course_id, added_at) VALUES ?', [
        courseIds.map((id) => [studentId, id, addedAt.get(id)]),
      ])
      return true
    }, this.#timeoutMs)
  }

  async findDurableRequest(requestId: string): Promise<DurableRequest | null> {
    // One statement, so one snapshot: a promotion moves a request from the waitlist to the
    // enrollments in one transaction, and two separate reads could fall between the two and
    // find it in neither (and the student would be told "rejected" while holding the seat).
    const rows = await this.#session(this.#primary, (s) =>
      s.rows(
        `SELECT 'enrolled' AS status, e.course_id, e.student_id, NULL AS position
           FROM enrollments e WHERE e.request_id = ?
         UNION ALL
         SELECT 'waitlisted', w.course_id, w.student_id,
                (SELECT COUNT(*) FROM waitlist a WHERE a.course_id = w.course_id AND a.id <= w.id)
           FROM waitlist w WHERE w.request_id = ?`,
        [requestId, requestId],
      ),
    )
    const row = rows[0]
    if (!row) return null
    const found = { courseId: String(row.course_id), studentId: String(row.student_id) }
    return row.status === 'enrolled'
      ? { status: 'enrolled', ...found }
      : { status: 'waitlisted', ...found, position: Number(row.position) }
  }

  async fence(courseId: string): Promise<number | null> {
    const result = await this.#session(this.#primary, (s) =>
      s.write(
        'UPDATE courses SET admission_fence = LAST_INSERT_ID(admission_fence + 1) WHERE id = ?',
        [courseId],
      ),
    )
    return result.affectedRows === 0 ? null : Number(result.insertId)
  }

  async admit<T>(
    courseId: string,
    fence: number,
    studentIds: readonly string[],
    decide: (facts: AdmissionFacts) => { readonly writes: AdmissionWrites; readonly value: T },
  ): Promise<FencedOutcome<T>> {
    if (studentIds.length === 0) throw new Error('admit needs at least one student')
    const students = [...studentIds].sort()
    return this.#transaction(async (s) => {
      const courseRows = await s.rows(
        `SELECT credits, capacity, enrolled, version, decided_through, admission_fence, meetings
           FROM courses WHERE id = ? FOR UPDATE`,
        [courseId],
      )
      const course = courseRows[0]
      if (!course) return { kind: 'no-course' } as const
      if (Number(course.admission_fence) !== fence) return { kind: 'fenced' } as const

      // Lock order everywhere: the course row, then students by id. Two batches (or a batch and
      // a cancellation) can then never wait on each other in a cycle over the same students.
      const studentRows = await s.rows(
        'SELECT id, max_credits FROM students WHERE id IN (?) ORDER BY id FOR UPDATE',
        [students],
      )
      const heldRows = await s.rows(
        `SELECT e.student_id, e.course_id, e.request_id, c.credits, c.meetings
           FROM enrollments e JOIN courses c ON c.id = e.course_id
          WHERE e.student_id IN (?)`,
        [students],
      )
      const waitRows = await s.rows(
        'SELECT student_id, course_id, request_id FROM waitlist WHERE student_id IN (?)',
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
        await s.write('INSERT INTO enrollments (student_id, course_id, request_id) VALUES ?', [
          writes.enroll.map((r) => [r.studentId, courseId, r.requestId]),
        ])
        // The confirmation each new enrollment is owed commits or rolls back with it.
        await s.write(
          'INSERT INTO confirmation_outbox (request_id, student_id, course_id, kind) VALUES ?',
          [writes.enroll.map((r) => [r.requestId, r.studentId, courseId, 'enrolled'])],
        )
      }
      if (writes.waitlist.length > 0) {
        await s.write('INSERT INTO waitlist (course_id, student_id, request_id) VALUES ?', [
          writes.waitlist.map((r) => [courseId, r.studentId, r.requestId]),
        ])
      }
      for (const r of writes.rewaitlist) {
        await s.write('UPDATE waitlist SET request_id = ? WHERE course_id = ? AND student_id = ?', [
          r.requestId,
          courseId,
          r.studentId,
        ])
      }
      if (writes.course) {
        const { enrolled, version, decidedThrough } = writes.course
        await s.write(
          'UPDATE courses SET enrolled = ?, version = ?, decided_through = ? WHERE id = ?',
          [enrolled, version, decidedThrough, courseId],
        )
      }
      // The places are read under the course row lock, after the writes: the waitlist of this
      // course cannot change before the commit.
      const waitlistPlaces = new Map<string, number>()
      if (writes.waitlist.length + writes.rewaitlist.length + facts.waitlistedBy.size > 0) {
        const placed = await s.rows(
          'SELECT id, request_id FROM waitlist WHERE course_id = ? AND student_id IN (?)',
          [courseId, students],
        )
        for (const r of placed) waitlistPlaces.set(String(r.request_id), Number(r.id))
      }
      return { kind: 'done', value, waitlistPlaces } as const
    }, this.#timeoutMs * 3)
  }

  async cancel<T>(
    studentId: string,
    courseId: string,
    work: (tx: CancellationTx) => Promise<T>,
  ): Promise<T | null> {
    return this.#transaction(async (s) => {
      const courseRows = await s.rows(
        'SELECT credits, capacity, enrolled, version, meetings FROM courses WHERE id = ? FOR UPDATE',
        [courseId],
      )
      const course = courseRows[0]
      if (!course) return null

      // The waitlist of this course only changes under this course's row lock, so its head is
      // stable; lock the canceller and the head together, in id order.
      const heads = await s.rows(
        'SELECT student_id FROM waitlist WHERE course_id = ? ORDER BY id LIMIT 1',
        [courseId],
      )
      const firstHead = heads[0] ? String(heads[0].student_id) : null
      await s.rows('SELECT id FROM students WHERE id IN (?) ORDER BY id FOR UPDATE', [
        firstHead ? [studentId, firstHead].sort() : [studentId],
      ])

      const tx: CancellationTx = {
        course: cancellationCourse(course),
        async removeEnrollment() {
          const deleted = await s.write(
            'DELETE FROM enrollments WHERE student_id = ? AND course_id = ?',
            [studentId, courseId],
          )
          return deleted.affectedRows > 0
        },
        async removeWaitlistPlace() {
          const [place] = await s.rows(
            'SELECT id, request_id FROM waitlist WHERE course_id = ? AND student_id = ?',
            [courseId, studentId],
          )
          if (!place) return null
          await s.write('DELETE FROM waitlist WHERE id = ?', [place.id])
          return String(place.request_id)
        },
        async takeWaitlistHead(): Promise<WaitlistHead | null> {
          const next = await s.rows(
            'SELECT id, student_id, request_id FROM waitlist WHERE course_id = ? ORDER BY id LIMIT 1',
            [courseId],
          )
          const head = next[0]
          if (!head) return null
          const headStudent = String(head.student_id)
          await s.write('DELETE FROM waitlist WHERE id = ?', [head.id])
          if (headStudent !== firstHead) {
            // Rare: the first head was dropped by the rules. Deadlocks are retried as a whole.
            await s.rows('SELECT id FROM students WHERE id = ? FOR UPDATE', [headStudent])
          }
          const [student] = await s.rows(WAITLIST_HEAD_STUDENT, [courseId, headStudent])
          return waitlistHead(head, student, await s.rows(MEETINGS_HELD, [headStudent]))
        },
        async enroll(student: string, requestId: string) {
          await s.write(
            'INSERT INTO enrollments (student_id, course_id, request_id) VALUES (?, ?, ?)',
            [student, courseId, requestId],
          )
          await s.write(
            `INSERT INTO confirmation_outbox (request_id, student_id, course_id, kind)
             VALUES (?, ?, ?, 'promoted')`,
            [requestId, student, courseId],
          )
        },
        async updateCourse(enrolled: number, version: number) {
          await s.write('UPDATE courses SET enrolled = ?, version = ? WHERE id = ?', [
            enrolled,
            version,
            courseId,
          ])
        },
      }
      return work(tx)
    }, this.#timeoutMs)
  }

  async countOverCapacity(): Promise<number> {
    // Counts rows, not the enrolled column (which a CHECK constraint already bounds), and also
    // flags a column that disagrees with its rows. Read on the replica: it runs on every scrape.
    const rows = await this.#session(this.#replica, (s) =>
      s.rows(
        `SELECT COUNT(*) AS n FROM courses c
           LEFT JOIN (SELECT course_id, COUNT(*) AS taken FROM enrollments GROUP BY course_id) e
             ON e.course_id = c.id
          WHERE COALESCE(e.taken, 0) > c.capacity OR COALESCE(e.taken, 0) <> c.enrolled`,
      ),
    )
    return Number(rows[0]?.n ?? 0)
  }

  async confirmationBacklog(): Promise<ConfirmationBacklog> {
    return toBacklog(await this.#session(this.#replica, (s) => s.rows(BACKLOG_SQL)))
  }

  async replicaLagSeconds(): Promise<number | null> {
    if (this.#replica === this.#primary) return 0
    try {
      // MySQL 8 and MariaDB both answer SHOW REPLICA STATUS; the column name differs. It needs
      // the REPLICATION CLIENT privilege (RDS's master user has it).
      const rows = await this.#session(this.#replica, (s) => s.rows('SHOW REPLICA STATUS'))
      const row = rows[0]
      if (!row) return null
      const lag = row.Seconds_Behind_Source ?? row.Seconds_Behind_Master
      return lag === null || lag === undefined ? Infinity : Number(lag)
    } catch {
      return null
    }
  }

  async courseVersions(): Promise<CourseVersion[]> {
    const rows = await this.#session(this.#primary, (s) =>
      s.rows('SELECT id, version, decided_through FROM courses'),
    )
    return rows.map((r) => ({
      id: String(r.id),
      version: Number(r.version),
      decidedThrough: Number(r.decided_through),
    }))
  }

  async courseSnapshot(courseId: string): Promise<CourseSnapshot | null> {
    return this.#session(this.#primary, async (s) => {
      // Both reads from one snapshot, without locking out the writers.
      await s.write('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ')
      await s.write('START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY')
      try {
        const courses = await s.rows(
          'SELECT capacity, enrolled, version FROM courses WHERE id = ?',
          [courseId],
        )
        const course = courses[0]
        if (!course) return null
        const students = await s.rows('SELECT student_id FROM enrollments WHERE course_id = ?', [
          courseId,
        ])
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
      } finally {
        // Read only: ending it by a rollback undoes nothing, and is sent past the deadline too.
        await s.rollback()
      }
    })
  }

  // -------------------------------------------------------------------------------------------
  // Seeding (the demo semester and `sugang seed`, SeedStore): not part of the ports, and without
  // the request deadlines (a load test's seed writes tens of thousands of rows at once).

  async isEmpty(): Promise<boolean> {
    const [rows] = await this.#primary.query<RowDataPacket[]>(
      'SELECT EXISTS(SELECT 1 FROM students) OR EXISTS(SELECT 1 FROM courses) AS any_rows',
    )
    return Number(rows[0]?.any_rows ?? 0) === 0
  }

  async deleteAll(): Promise<void> {
    for (const table of ['cart_items', 'waitlist', 'enrollments', 'courses', 'students']) {
      await this.#primary.query(`DELETE FROM ${table}`)
    }
  }

  /** In one transaction, one statement per table. */
  async insertSeed(rows: SeedRows): Promise<void> {
    const students = rows.students ?? []
    const courses = rows.courses ?? []
    const conn = await this.#primary.getConnection()
    try {
      await conn.query('START TRANSACTION')
      if (students.length > 0) {
        await conn.query(
          `INSERT INTO students (id, name, email, password_hash, year, max_credits) VALUES ?
           ON DUPLICATE KEY UPDATE password_hash = VALUES(password_hash), max_credits = VALUES(max_credits)`,
          [students.map((s) => [s.id, s.name, s.email, s.passwordHash, s.year, s.maxCredits])],
        )
      }
      if (courses.length > 0) {
        await conn.query(
          `INSERT INTO courses (id, title, professor, credits, capacity, meetings) VALUES ?
           ON DUPLICATE KEY UPDATE capacity = GREATEST(VALUES(capacity), enrolled)`,
          [
            courses.map((c) => [
              c.id,
              c.title,
              c.professor,
              c.credits,
              c.capacity,
              formatMeetings(c.meetings),
            ]),
          ],
        )
      }
      await conn.query('COMMIT')
    } catch (err) {
      await conn.query('ROLLBACK').catch(() => undefined)
      throw err
    } finally {
      conn.release()
    }
  }

  /** For the CLI and tests: the primary pool. */
  get primary(): Pool {
    return this.#primary
  }
}
