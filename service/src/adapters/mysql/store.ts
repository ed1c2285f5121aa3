import mysql from 'mysql2/promise'
import type { Pool, PoolConnection, RowDataPacket, ResultSetHeader } from 'mysql2/promise'
import { DependencyUnavailableError } from '../../errors.js'
import type {
  Course,
  DurableRequest,
  Enrollment,
  QueuedRequest,
  RejectReason,
  StudentAccount,
} from '../../domain/model.js'
import type { AdmissionResult, CancelResult, RegistrationStore } from '../../domain/ports.js'
import { decideBatch, mayPromote } from '../../domain/rules.js'
import { migrations } from './schema.js'

export interface MysqlStoreOptions {
  readonly url: string
  readonly replicaUrl?: string | undefined
  readonly poolSize: number
}

const DEADLOCK = 1213
const LOCK_WAIT_TIMEOUT = 1205
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
])

function isConnectionError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code
  if (typeof code === 'string' && CONNECTION_CODES.has(code)) return true
  const message = err instanceof Error ? err.message : ''
  return /Pool is closed|Connection lost|connect ETIMEDOUT|read-only|Queue limit reached/i.test(
    message,
  )
}

function isRetryableLockError(err: unknown): boolean {
  const errno = (err as { errno?: unknown } | null)?.errno
  return errno === DEADLOCK || errno === LOCK_WAIT_TIMEOUT
}

function createPool(url: string, size: number): Pool {
  return mysql.createPool({
    uri: url,
    connectionLimit: size,
    waitForConnections: true,
    queueLimit: size * 50,
    enableKeepAlive: true,
    connectTimeout: 5_000,
    timezone: 'Z',
    charset: 'utf8mb4',
  })
}

type Row = RowDataPacket & Record<string, unknown>

function toCourse(row: Row): Course {
  return {
    id: String(row.id),
    title: String(row.title),
    professor: String(row.professor),
    credits: Number(row.credits),
    capacity: Number(row.capacity),
    enrolled: Number(row.enrolled),
  }
}

/**
 * MySQL store: writes and own-data reads on the primary pool, catalogue reads on the replica
 * pool (the primary when no replica is configured).
 */
export class MysqlStore implements RegistrationStore {
  readonly #primary: Pool
  readonly #replica: Pool

  constructor(options: MysqlStoreOptions) {
    this.#primary = createPool(options.url, options.poolSize)
    this.#replica = options.replicaUrl
      ? createPool(options.replicaUrl, options.poolSize)
      : this.#primary
  }

  async #guard<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work()
    } catch (err) {
      if (isConnectionError(err)) throw new DependencyUnavailableError('mysql', err)
      throw err
    }
  }

  /** Runs a READ COMMITTED transaction on the primary, retrying on deadlock or lock timeout. */
  async #transaction<T>(work: (conn: PoolConnection) => Promise<T>): Promise<T> {
    return this.#guard(async () => {
      for (let attempt = 1; ; attempt += 1) {
        const conn = await this.#primary.getConnection()
        try {
          // Locking reads see the latest committed rows; READ COMMITTED keeps the plain reads that
          // follow them just as fresh and avoids gap locks on the enrollment inserts.
          await conn.query('SET TRANSACTION ISOLATION LEVEL READ COMMITTED')
          await conn.beginTransaction()
          const result = await work(conn)
          await conn.commit()
          return result
        } catch (err) {
          await conn.rollback().catch(() => undefined)
          if (attempt < 5 && isRetryableLockError(err)) {
            await new Promise((resolve) => setTimeout(resolve, 5 * attempt + Math.random() * 20))
            continue
          }
          throw err
        } finally {
          conn.release()
        }
      }
    })
  }

  async migrate(): Promise<void> {
    await this.#guard(async () => {
      const conn = await this.#primary.getConnection()
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
          await conn.query('INSERT INTO schema_migrations (version) VALUES (?)', [
            migration.version,
          ])
        }
      } finally {
        await conn.query("SELECT RELEASE_LOCK('sugang.migrate')").catch(() => undefined)
        conn.release()
      }
    })
  }

  async ping(): Promise<void> {
    await this.#guard(async () => {
      await this.#primary.query('SELECT 1')
      if (this.#replica !== this.#primary) await this.#replica.query('SELECT 1')
    })
  }

  async close(): Promise<void> {
    await this.#primary.end().catch(() => undefined)
    if (this.#replica !== this.#primary) await this.#replica.end().catch(() => undefined)
  }

  async listCourses(): Promise<Course[]> {
    return this.#guard(async () => {
      const [rows] = await this.#replica.query<Row[]>(
        'SELECT id, title, professor, credits, capacity, enrolled FROM courses ORDER BY id',
      )
      return rows.map(toCourse)
    })
  }

  async findCourse(courseId: string): Promise<Course | null> {
    return this.#guard(async () => {
      const [rows] = await this.#replica.execute<Row[]>(
        'SELECT id, title, professor, credits, capacity, enrolled FROM courses WHERE id = ?',
        [courseId],
      )
      return rows[0] ? toCourse(rows[0]) : null
    })
  }

  async findStudent(studentId: string): Promise<StudentAccount | null> {
    return this.#guard(async () => {
      const [rows] = await this.#replica.execute<Row[]>(
        'SELECT id, name, password_hash FROM students WHERE id = ?',
        [studentId],
      )
      const row = rows[0]
      return row
        ? { id: String(row.id), name: String(row.name), passwordHash: String(row.password_hash) }
        : null
    })
  }

  async listEnrollments(studentId: string): Promise<Enrollment[]> {
    return this.#guard(async () => {
      const [rows] = await this.#primary.execute<Row[]>(
        `SELECT e.course_id, c.title, c.credits, e.created_at
           FROM enrollments e JOIN courses c ON c.id = e.course_id
          WHERE e.student_id = ? ORDER BY e.created_at, e.course_id`,
        [studentId],
      )
      return rows.map((r) => ({
        courseId: String(r.course_id),
        title: String(r.title),
        credits: Number(r.credits),
        enrolledAt: r.created_at as Date,
      }))
    })
  }

  async findDurableRequest(requestId: string): Promise<DurableRequest | null> {
    return this.#guard(async () => {
      const [enrolled] = await this.#primary.execute<Row[]>(
        'SELECT student_id, course_id FROM enrollments WHERE request_id = ?',
        [requestId],
      )
      if (enrolled[0]) {
        return {
          status: 'enrolled',
          courseId: String(enrolled[0].course_id),
          studentId: String(enrolled[0].student_id),
        }
      }
      const [waiting] = await this.#primary.execute<Row[]>(
        `SELECT w.course_id, w.student_id,
                (SELECT COUNT(*) FROM waitlist a WHERE a.course_id = w.course_id AND a.id <= w.id)
                  AS position
           FROM waitlist w WHERE w.request_id = ?`,
        [requestId],
      )
      const row = waiting[0]
      return row
        ? {
            status: 'waitlisted',
            courseId: String(row.course_id),
            studentId: String(row.student_id),
            position: Number(row.position),
          }
        : null
    })
  }

  async admit(
    courseId: string,
    requests: readonly QueuedRequest[],
  ): Promise<AdmissionResult | null> {
    if (requests.length === 0) throw new Error('admit needs at least one request')
    return this.#transaction(async (conn) => {
      const [courseRows] = await conn.execute<Row[]>(
        'SELECT credits, capacity, enrolled, version FROM courses WHERE id = ? FOR UPDATE',
        [courseId],
      )
      const course = courseRows[0]
      if (!course) return null
      const credits = Number(course.credits)
      const capacity = Number(course.capacity)
      const enrolled = Number(course.enrolled)

      const studentIds = [...new Set(requests.map((r) => r.studentId))].sort()
      // Lock order everywhere: the course row, then students by id. Two batches (or a batch and
      // a cancellation) can then never wait on each other in a cycle over the same students.
      const [studentRows] = await conn.query<Row[]>(
        'SELECT id, max_credits FROM students WHERE id IN (?) ORDER BY id FOR UPDATE',
        [studentIds],
      )
      const [heldRows] = await conn.query<Row[]>(
        `SELECT e.student_id, e.course_id, e.request_id, c.credits
           FROM enrollments e JOIN courses c ON c.id = e.course_id
          WHERE e.student_id IN (?)`,
        [studentIds],
      )
      const [waitRows] = await conn.query<Row[]>(
        'SELECT student_id, request_id FROM waitlist WHERE course_id = ? AND student_id IN (?)',
        [courseId, studentIds],
      )

      const maxCredits = new Map(studentRows.map((r) => [String(r.id), Number(r.max_credits)]))
      const creditsHeld = new Map<string, number>()
      const enrolledBy = new Map<string, string | null>()
      for (const r of heldRows) {
        const sid = String(r.student_id)
        creditsHeld.set(sid, (creditsHeld.get(sid) ?? 0) + Number(r.credits))
        if (String(r.course_id) === courseId) {
          enrolledBy.set(sid, r.request_id === null ? null : String(r.request_id))
        }
      }
      const waitlistedBy = new Map(
        waitRows.map((r) => [String(r.student_id), String(r.request_id)]),
      )

      const outcome = decideBatch(requests, {
        credits,
        capacity,
        enrolled,
        maxCredits,
        creditsHeld,
        enrolledBy,
        waitlistedBy,
      })

      if (outcome.admitted.length > 0) {
        await conn.query('INSERT INTO enrollments (student_id, course_id, request_id) VALUES ?', [
          outcome.admitted.map((r) => [r.studentId, courseId, r.requestId]),
        ])
      }
      if (outcome.waitlisted.length > 0) {
        await conn.query('INSERT INTO waitlist (course_id, student_id, request_id) VALUES ?', [
          outcome.waitlisted.map((r) => [courseId, r.studentId, r.requestId]),
        ])
      }
      for (const r of outcome.rehandled) {
        await conn.execute(
          'UPDATE waitlist SET request_id = ? WHERE course_id = ? AND student_id = ?',
          [r.requestId, courseId, r.studentId],
        )
      }
      let version = Number(course.version)
      const nowEnrolled = enrolled + outcome.admitted.length
      if (outcome.admitted.length > 0) {
        version += 1
        await conn.execute('UPDATE courses SET enrolled = ?, version = ? WHERE id = ?', [
          nowEnrolled,
          version,
          courseId,
        ])
      }
      return { decisions: outcome.decisions, seatsLeft: capacity - nowEnrolled, version }
    })
  }

  async cancel(studentId: string, courseId: string): Promise<CancelResult> {
    return this.#transaction(async (conn) => {
      const [courseRows] = await conn.execute<Row[]>(
        'SELECT credits, capacity, enrolled, version FROM courses WHERE id = ? FOR UPDATE',
        [courseId],
      )
      const course = courseRows[0]
      if (!course) return { ok: false }
      const credits = Number(course.credits)
      const capacity = Number(course.capacity)

      // The waitlist of this course only changes under this course's row lock, so its head is
      // stable; lock the canceller and the head together, in id order.
      const [heads] = await conn.execute<Row[]>(
        'SELECT id, student_id, request_id FROM waitlist WHERE course_id = ? ORDER BY id LIMIT 1',
        [courseId],
      )
      const firstHead = heads[0] ? String(heads[0].student_id) : null
      await conn.query('SELECT id FROM students WHERE id IN (?) ORDER BY id FOR UPDATE', [
        firstHead ? [studentId, firstHead].sort() : [studentId],
      ])

      const [deleted] = await conn.execute<ResultSetHeader>(
        'DELETE FROM enrollments WHERE student_id = ? AND course_id = ?',
        [studentId, courseId],
      )
      if (deleted.affectedRows === 0) return { ok: false }
      let enrolled = Number(course.enrolled) - 1

      let promoted: { studentId: string; requestId: string } | null = null
      const dropped: Array<{ requestId: string; reason: RejectReason }> = []
      for (;;) {
        const [next] = await conn.execute<Row[]>(
          'SELECT id, student_id, request_id FROM waitlist WHERE course_id = ? ORDER BY id LIMIT 1',
          [courseId],
        )
        const head = next[0]
        if (!head) break
        const headStudent = String(head.student_id)
        const headRequest = String(head.request_id)
        await conn.execute('DELETE FROM waitlist WHERE id = ?', [head.id])
        if (headStudent !== firstHead) {
          // Rare: the first head was dropped by the rules. Deadlocks are retried as a whole.
          await conn.execute('SELECT id FROM students WHERE id = ? FOR UPDATE', [headStudent])
        }
        const [studentRows] = await conn.execute<Row[]>(
          `SELECT s.max_credits,
                  COALESCE((SELECT SUM(c.credits) FROM enrollments e JOIN courses c ON c.id = e.course_id
                             WHERE e.student_id = s.id), 0) AS held,
                  EXISTS(SELECT 1 FROM enrollments e WHERE e.student_id = s.id AND e.course_id = ?)
                    AS here
             FROM students s WHERE s.id = ?`,
          [courseId, headStudent],
        )
        const s = studentRows[0]
        const reason = mayPromote(
          credits,
          s ? Number(s.max_credits) : undefined,
          s ? Number(s.held) : 0,
          s ? Number(s.here) === 1 : false,
        )
        if (reason) {
          dropped.push({ requestId: headRequest, reason })
          continue
        }
        await conn.execute(
          'INSERT INTO enrollments (student_id, course_id, request_id) VALUES (?, ?, ?)',
          [headStudent, courseId, headRequest],
        )
        enrolled += 1
        promoted = { studentId: headStudent, requestId: headRequest }
        break
      }

      const version = Number(course.version) + 1
      await conn.execute('UPDATE courses SET enrolled = ?, version = ? WHERE id = ?', [
        enrolled,
        version,
        courseId,
      ])
      return { ok: true, promoted, dropped, seatsLeft: capacity - enrolled, version }
    })
  }

  async countOverCapacity(): Promise<number> {
    return this.#guard(async () => {
      // Counts rows, not the enrolled column (which a CHECK constraint already bounds), and also
      // flags a column that disagrees with its rows. Read on the replica: it runs on every scrape.
      const [rows] = await this.#replica.query<Row[]>(
        `SELECT COUNT(*) AS n FROM courses c
           LEFT JOIN (SELECT course_id, COUNT(*) AS taken FROM enrollments GROUP BY course_id) e
             ON e.course_id = c.id
          WHERE COALESCE(e.taken, 0) > c.capacity OR COALESCE(e.taken, 0) <> c.enrolled`,
      )
      return Number(rows[0]?.n ?? 0)
    })
  }

  async replicaLagSeconds(): Promise<number | null> {
    if (this.#replica === this.#primary) return 0
    try {
      // MySQL 8 and MariaDB both answer SHOW REPLICA STATUS; the column name differs. It needs
      // the REPLICATION CLIENT privilege (RDS's master user has it).
      const [rows] = await this.#replica.query<Row[]>('SHOW REPLICA STATUS')
      const row = rows[0]
      if (!row) return null
      const lag = row.Seconds_Behind_Source ?? row.Seconds_Behind_Master
      return lag === null || lag === undefined ? Infinity : Number(lag)
    } catch {
      return null
    }
  }

  /** For the CLI and tests: the primary pool. */
  get primary(): Pool {
    return this.#primary
  }
}
