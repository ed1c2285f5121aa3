import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import Database from 'better-sqlite3'
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
import {
  MEETINGS_HELD,
  WAITLIST_HEAD_STUDENT,
  admissionFacts,
  cancellationCourse,
  toCourse,
  waitlistHead,
  type Row,
} from '../sql/rows.js'
import { NOW_MS, migrations } from './schema.js'
import type { ConfirmationBacklog } from '../../domain/confirmations.js'
import type { SeedRows, SeedStore } from '../../seed.js'
import { BACKLOG_SQL, toBacklog } from '../sql/confirmations.js'

type Connection = Database.Database

export interface SqliteStoreOptions {
  /** The database file; its directory is created if missing. */
  readonly path: string
  /** How long an operation waits for the write connection (held by another transaction), ms. */
  readonly timeoutMs?: number
  /**
   * How long SQLite waits for a lock held by another process, such as `sugang seed` (its
   * busy_timeout), in ms. The wait blocks this process, so it is short.
   */
  readonly busyTimeoutMs?: number
  /** Runs after each successful migrate(): the demo seeds an empty database here. */
  readonly afterMigrate?: (store: SqliteStore) => Promise<void>
}

const DEFAULT_TIMEOUT_MS = 5_000
const DEFAULT_BUSY_TIMEOUT_MS = 1_000

/** SQLite result codes that mean the file cannot be used right now, not that a statement is wrong. */
const UNAVAILABLE =
  /^SQLITE_(BUSY|LOCKED|IOERR|FULL|CANTOPEN|READONLY|CORRUPT|NOTADB|PROTOCOL|NOLFS|AUTH)/

/** Failures of the store's file become DependencyUnavailableError (503), as MySQL outages do. */
function translate(err: unknown): unknown {
  const code = (err as { code?: unknown } | null)?.code
  if (typeof code === 'string' && UNAVAILABLE.test(code)) {
    return new DependencyUnavailableError('mysql', err)
  }
  if (err instanceof TypeError && /database connection is not open/i.test(err.message)) {
    return new DependencyUnavailableError('mysql', err)
  }
  return err
}

/** The write connection is busy for longer than the operation may wait. */
class WriteLockTimeout extends Error {
  constructor(ms: number) {
    super(`waited ${ms} ms for the embedded store's write connection`)
    this.name = 'WriteLockTimeout'
  }
}

/**
 * One holder at a time, first come first served, with a deadline for waiting. SQLite has one
 * writer, and this process one write connection: a transaction that awaits (a cancellation's
 * `work`) must not have another transaction's statements interleaved on that connection.
 */
class WriteLock {
  #held = false
  readonly #waiters: Array<{ grant: () => void }> = []

  async acquire(timeoutMs: number): Promise<() => void> {
    if (!this.#held) {
      this.#held = true
      return this.#releaser()
    }
    return new Promise((resolve, reject) => {
      const waiter = {
        grant: () => {
          clearTimeout(timer)
          resolve(this.#releaser())
        },
      }
      const timer = setTimeout(() => {
        const i = this.#waiters.indexOf(waiter)
        if (i >= 0) this.#waiters.splice(i, 1)
        reject(new WriteLockTimeout(timeoutMs))
      }, timeoutMs)
      this.#waiters.push(waiter)
    })
  }

  #releaser(): () => void {
    let released = false
    return () => {
      if (released) return
      released = true
      const next = this.#waiters.shift()
      if (next) next.grant()
      else this.#held = false
    }
  }
}

interface Connections {
  /** Every write, and every transaction, under the write lock. */
  readonly writer: Connection
  /** Reads of committed data (WAL: they never wait for the writer, nor see its open transaction). */
  readonly reader: Connection
}

/** A JSON array for `IN (SELECT value FROM json_each(?))`: any number of ids, one parameter. */
const list = (ids: readonly string[]): string => JSON.stringify(ids)

/**
 * The embedded store: one SQLite file (WAL), for trying sugang on one machine. The same tables
 * and the same semantics as MysqlStore, in one process: every write runs on one connection under
 * an in-process lock (admission and cancellation as one BEGIN IMMEDIATE transaction each), reads
 * run on a second connection and see committed data only. better-sqlite3 is synchronous; each
 * port method is a promise all the same, so callers cannot tell the stores apart.
 */
export class SqliteStore implements RegistrationStore, SeedStore {
  readonly #path: string
  readonly #timeoutMs: number
  readonly #busyTimeoutMs: number
  readonly #afterMigrate: ((store: SqliteStore) => Promise<void>) | undefined
  readonly #lock = new WriteLock()
  readonly #statements = new WeakMap<Connection, Map<string, Database.Statement>>()
  #connections: Connections | null = null
  #closed = false

  constructor(options: SqliteStoreOptions) {
    if (options.path === ':memory:' || options.path === '') {
      throw new Error('SqliteStore needs a file: its reads use a second connection')
    }
    this.#path = options.path
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS
    this.#busyTimeoutMs = options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS
    this.#afterMigrate = options.afterMigrate
  }

  get path(): string {
    return this.#path
  }

  /** Opens the file on first use, so that building the app touches no disk. */
  #open(): Connections {
    if (this.#connections) return this.#connections
    if (this.#closed) throw new TypeError('The database connection is not open')
    // Its own directory is its owner's only: the file holds password hashes and live sessions.
    mkdirSync(dirname(this.#path), { recursive: true, mode: 0o700 })
    const writer = new Database(this.#path, { timeout: this.#busyTimeoutMs })
    try {
      writer.pragma('journal_mode = WAL')
      // Every commit reaches the disk before it is reported: an enrollment, once answered, stays.
      writer.pragma('synchronous = FULL')
      writer.pragma('foreign_keys = ON')
      const reader = new Database(this.#path, { timeout: this.#busyTimeoutMs })
      reader.pragma('foreign_keys = ON')
      reader.pragma('query_only = ON')
      this.#connections = { writer, reader }
      return this.#connections
    } catch (err) {
      writer.close()
      throw err
    }
  }

  #statement(db: Connection, sql: string): Database.Statement {
    let cache = this.#statements.get(db)
    if (!cache) this.#statements.set(db, (cache = new Map()))
    let statement = cache.get(sql)
    if (!statement) cache.set(sql, (statement = db.prepare(sql)))
    return statement
  }

  #rows(db: Connection, sql: string, ...params: unknown[]): Row[] {
    return this.#statement(db, sql).all(...params) as Row[]
  }

  #row(db: Connection, sql: string, ...params: unknown[]): Row | undefined {
    return this.#statement(db, sql).get(...params) as Row | undefined
  }

  #run(db: Connection, sql: string, ...params: unknown[]): Database.RunResult {
    return this.#statement(db, sql).run(...params)
  }

  /** Reads committed data on the read connection. */
  async #read<T>(work: (db: Connection) => T): Promise<T> {
    try {
      return work(this.#open().reader)
    } catch (err) {
      throw translate(err)
    }
  }

  /** Runs `work` holding the write connection; nothing else writes until it settles. */
  async #write<T>(work: (db: Connection) => T | Promise<T>): Promise<T> {
    let release: () => void
    try {
      release = await this.#lock.acquire(this.#timeoutMs)
    } catch (err) {
      throw new DependencyUnavailableError('mysql', err)
    }
    try {
      return await work(this.#open().writer)
    } catch (err) {
      throw translate(err)
    } finally {
      release()
    }
  }

  /** One BEGIN IMMEDIATE transaction on the write connection: committed if `work` returns. */
  async #transaction<T>(work: (db: Connection) => T | Promise<T>): Promise<T> {
    return this.#write(async (db) => {
      this.#run(db, 'BEGIN IMMEDIATE')
      try {
        const result = await work(db)
        this.#run(db, 'COMMIT')
        return result
      } catch (err) {
        if (db.inTransaction) {
          try {
            this.#run(db, 'ROLLBACK')
          } catch {
            // The first error is the one to report; SQLite rolls back on its own if it must.
          }
        }
        throw err
      }
    })
  }

  async migrate(): Promise<void> {
    await this.#write((db) => {
      db.exec(
        `CREATE TABLE IF NOT EXISTS schema_migrations (
            version INTEGER NOT NULL PRIMARY KEY,
            applied_at TEXT NOT NULL DEFAULT ${NOW_MS}
          ) STRICT`,
      )
      const applied = new Set(
        this.#rows(db, 'SELECT version FROM schema_migrations').map((r) => Number(r.version)),
      )
      for (const migration of migrations) {
        if (applied.has(migration.version)) continue
        db.transaction(() => {
          for (const statement of migration.statements) db.exec(statement)
          this.#run(db, 'INSERT INTO schema_migrations (version) VALUES (?)', migration.version)
        }).immediate()
      }
    })
    await this.#afterMigrate?.(this)
  }

  async ping(): Promise<void> {
    await this.#read((db) => this.#row(db, 'SELECT 1'))
  }

  /** Waits for the transaction in progress, then closes both connections. */
  async close(): Promise<void> {
    if (this.#closed) return
    const release = await this.#lock.acquire(this.#timeoutMs).catch(() => null)
    try {
      this.#closed = true
      const connections = this.#connections
      this.#connections = null
      connections?.reader.close()
      connections?.writer.close()
    } finally {
      release?.()
    }
  }

  async listCourses(): Promise<Course[]> {
    const rows = await this.#read((db) =>
      this.#rows(
        db,
        'SELECT id, title, professor, credits, capacity, enrolled, meetings FROM courses ORDER BY id',
      ),
    )
    return rows.map(toCourse)
  }

  async findCourse(courseId: string): Promise<Course | null> {
    const row = await this.#read((db) =>
      this.#row(
        db,
        'SELECT id, title, professor, credits, capacity, enrolled, meetings FROM courses WHERE id = ?',
        courseId,
      ),
    )
    return row ? toCourse(row) : null
  }

  async findStudent(studentId: string): Promise<StudentAccount | null> {
    const row = await this.#read((db) =>
      this.#row(
        db,
        'SELECT id, name, password_hash, year, max_credits FROM students WHERE id = ?',
        studentId,
      ),
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
    await this.#write((db) =>
      this.#run(db, 'UPDATE students SET password_hash = ? WHERE id = ?', passwordHash, studentId),
    )
  }

  async listEnrollments(studentId: string): Promise<Enrollment[]> {
    const rows = await this.#read((db) =>
      this.#rows(
        db,
        `SELECT e.course_id, c.title, c.professor, c.credits, c.meetings, e.created_at
           FROM enrollments e JOIN courses c ON c.id = e.course_id
          WHERE e.student_id = ? ORDER BY e.created_at, e.course_id`,
        studentId,
      ),
    )
    return rows.map((r) => ({
      courseId: String(r.course_id),
      title: String(r.title),
      professor: String(r.professor),
      credits: Number(r.credits),
      meetings: parseMeetings(r.meetings),
      enrolledAt: new Date(String(r.created_at)),
    }))
  }

  async listCart(studentId: string): Promise<CartItem[]> {
    const rows = await this.#read((db) =>
      this.#rows(
        db,
        'SELECT course_id, added_at FROM cart_items WHERE student_id = ? ORDER BY seq',
        studentId,
      ),
    )
    return rows.map((r) => ({
      courseId: String(r.course_id),
      addedAt: new Date(String(r.added_at)),
    }))
  }

  async addToCart(studentId: string, courseId: string, limit: number): Promise<AddToCartResult> {
    // One BEGIN IMMEDIATE transaction: the count and the insert cannot be split by another
    // addition, from this process or another one on the same file.
    return this.#transaction((db): AddToCartResult => {
      if (this.#row(db, 'SELECT 1 FROM courses WHERE id = ?', courseId) === undefined) {
        return 'course-not-found'
      }
      const items = this.#rows(
        db,
        'SELECT course_id FROM cart_items WHERE student_id = ?',
        studentId,
      )
      if (items.some((r) => String(r.course_id) === courseId)) return 'added'
      if (items.length >= limit) return 'cart-full'
      // As in MySQL: a student that does not exist adds nothing, and is no error.
      this.#run(
        db,
        `INSERT INTO cart_items (student_id, course_id)
           SELECT id, ? FROM students WHERE id = ?`,
        courseId,
        studentId,
      )
      return 'added'
    })
  }

  async removeFromCart(studentId: string, courseId: string): Promise<boolean> {
    const result = await this.#write((db) =>
      this.#run(
        db,
        'DELETE FROM cart_items WHERE student_id = ? AND course_id = ?',
        studentId,
        courseId,
      ),
    )
    return result.changes > 0
  }

  async reorderCart(studentId: string, courseIds: readonly string[]): Promise<boolean> {
    return this.#transaction((db) => {
      const items = this.#rows(
        db,
        'SELECT course_id, added_at FROM cart_items WHERE student_id = ? ORDER BY seq',
        studentId,
      )
      const addedAt = new Map(items.map((r) => [String(r.course_id), String(r.added_at)]))
      if (items.length !== courseIds.length || !courseIds.every((id) => addedAt.has(id))) {
        return false
      }
      // The order is the rows' seq: written again, in the new order.
      this.#run(db, 'DELETE FROM cart_items WHERE student_id = ?', studentId)
      for (const id of courseIds) {
        this.#run(
          db,
          'INSERT INTO cart_items (student_id, course_id, added_at) VALUES (?, ?, ?)',
          studentId,
          id,
          addedAt.get(id),
        )
      }
      return true
    })
  }

  async findDurableRequest(requestId: string): Promise<DurableRequest | null> {
    // One statement, so one snapshot: a promotion moves a request from the waitlist to the
    // enrollments in one transaction, and the two halves are never seen apart.
    const row = await this.#read((db) =>
      this.#row(
        db,
        `SELECT 'enrolled' AS status, e.course_id, e.student_id, NULL AS position
           FROM enrollments e WHERE e.request_id = ?
         UNION ALL
         SELECT 'waitlisted', w.course_id, w.student_id,
                (SELECT COUNT(*) FROM waitlist a WHERE a.course_id = w.course_id AND a.id <= w.id)
           FROM waitlist w WHERE w.request_id = ?`,
        requestId,
        requestId,
      ),
    )
    if (!row) return null
    const found = { courseId: String(row.course_id), studentId: String(row.student_id) }
    return row.status === 'enrolled'
      ? { status: 'enrolled', ...found }
      : { status: 'waitlisted', ...found, position: Number(row.position) }
  }

  async fence(courseId: string): Promise<number | null> {
    // Under the write lock: it waits for a transaction of the previous holder in progress.
    const row = await this.#write((db) =>
      this.#row(
        db,
        'UPDATE courses SET admission_fence = admission_fence + 1 WHERE id = ? RETURNING admission_fence',
        courseId,
      ),
    )
    return row ? Number(row.admission_fence) : null
  }

  async admit<T>(
    courseId: string,
    fence: number,
    studentIds: readonly string[],
    decide: (facts: AdmissionFacts) => { readonly writes: AdmissionWrites; readonly value: T },
  ): Promise<FencedOutcome<T>> {
    if (studentIds.length === 0) throw new Error('admit needs at least one student')
    const students = list([...new Set(studentIds)].sort())
    return this.#transaction((db): FencedOutcome<T> => {
      const course = this.#row(
        db,
        `SELECT credits, capacity, enrolled, version, decided_through, admission_fence, meetings
           FROM courses WHERE id = ?`,
        courseId,
      )
      if (!course) return { kind: 'no-course' }
      if (Number(course.admission_fence) !== fence) return { kind: 'fenced' }

      const studentRows = this.#rows(
        db,
        'SELECT id, max_credits FROM students WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id',
        students,
      )
      const heldRows = this.#rows(
        db,
        `SELECT e.student_id, e.course_id, e.request_id, c.credits, c.meetings
           FROM enrollments e JOIN courses c ON c.id = e.course_id
          WHERE e.student_id IN (SELECT value FROM json_each(?))`,
        students,
      )
      const waitRows = this.#rows(
        db,
        `SELECT student_id, course_id, request_id FROM waitlist
          WHERE student_id IN (SELECT value FROM json_each(?))`,
        students,
      )

      const facts = admissionFacts(courseId, {
        course,
        students: studentRows,
        held: heldRows,
        waiting: waitRows,
      })
      const { writes, value } = decide(facts)

      for (const r of writes.enroll) {
        this.#run(
          db,
          'INSERT INTO enrollments (student_id, course_id, request_id) VALUES (?, ?, ?)',
          r.studentId,
          courseId,
          r.requestId,
        )
        // The confirmation each new enrollment is owed commits or rolls back with it.
        this.#run(
          db,
          `INSERT INTO confirmation_outbox (request_id, student_id, course_id, kind)
           VALUES (?, ?, ?, 'enrolled')`,
          r.requestId,
          r.studentId,
          courseId,
        )
      }
      for (const r of writes.waitlist) {
        this.#run(
          db,
          'INSERT INTO waitlist (course_id, student_id, request_id) VALUES (?, ?, ?)',
          courseId,
          r.studentId,
          r.requestId,
        )
      }
      for (const r of writes.rewaitlist) {
        this.#run(
          db,
          'UPDATE waitlist SET request_id = ? WHERE course_id = ? AND student_id = ?',
          r.requestId,
          courseId,
          r.studentId,
        )
      }
      if (writes.course) {
        const { enrolled, version, decidedThrough } = writes.course
        this.#run(
          db,
          'UPDATE courses SET enrolled = ?, version = ?, decided_through = ? WHERE id = ?',
          enrolled,
          version,
          decidedThrough,
          courseId,
        )
      }
      // Read after the writes, in the same transaction: the waitlist cannot change before COMMIT.
      const waitlistPlaces = new Map<string, number>()
      if (writes.waitlist.length + writes.rewaitlist.length + facts.waitlistedBy.size > 0) {
        const placed = this.#rows(
          db,
          `SELECT id, request_id FROM waitlist
            WHERE course_id = ? AND student_id IN (SELECT value FROM json_each(?))`,
          courseId,
          students,
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
    return this.#transaction(async (db) => {
      const course = this.#row(
        db,
        'SELECT credits, capacity, enrolled, version, meetings FROM courses WHERE id = ?',
        courseId,
      )
      if (!course) return null

      // The transaction holds the one write connection until `work` settles; a method called
      // after that would run outside it, so it is refused.
      let open = true
      const inside = <R>(step: () => R): Promise<R> =>
        new Promise<R>((resolve) => {
          if (!open) throw new Error('the cancellation transaction has ended')
          resolve(step())
        })

      const tx: CancellationTx = {
        course: cancellationCourse(course),
        removeEnrollment: () =>
          inside(
            () =>
              this.#run(
                db,
                'DELETE FROM enrollments WHERE student_id = ? AND course_id = ?',
                studentId,
                courseId,
              ).changes > 0,
          ),
        removeWaitlistPlace: () =>
          inside(() => {
            const place = this.#row(
              db,
              'SELECT id, request_id FROM waitlist WHERE course_id = ? AND student_id = ?',
              courseId,
              studentId,
            )
            if (!place) return null
            this.#run(db, 'DELETE FROM waitlist WHERE id = ?', place.id)
            return String(place.request_id)
          }),
        takeWaitlistHead: () =>
          inside((): WaitlistHead | null => {
            const head = this.#row(
              db,
              'SELECT id, student_id, request_id FROM waitlist WHERE course_id = ? ORDER BY id LIMIT 1',
              courseId,
            )
            if (!head) return null
            const headStudent = String(head.student_id)
            this.#run(db, 'DELETE FROM waitlist WHERE id = ?', head.id)
            const student = this.#row(db, WAITLIST_HEAD_STUDENT, courseId, headStudent)
            return waitlistHead(head, student, this.#rows(db, MEETINGS_HELD, headStudent))
          }),
        enroll: (student, requestId) =>
          inside(() => {
            this.#run(
              db,
              'INSERT INTO enrollments (student_id, course_id, request_id) VALUES (?, ?, ?)',
              student,
              courseId,
              requestId,
            )
            this.#run(
              db,
              `INSERT INTO confirmation_outbox (request_id, student_id, course_id, kind)
               VALUES (?, ?, ?, 'promoted')`,
              requestId,
              student,
              courseId,
            )
          }),
        updateCourse: (enrolled, version) =>
          inside(() => {
            this.#run(
              db,
              'UPDATE courses SET enrolled = ?, version = ? WHERE id = ?',
              enrolled,
              version,
              courseId,
            )
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
    // Counts rows, not the enrolled column (a CHECK constraint already bounds that), and also
    // flags a column that disagrees with its rows.
    const row = await this.#read((db) =>
      this.#row(
        db,
        `SELECT COUNT(*) AS n FROM courses c
           LEFT JOIN (SELECT course_id, COUNT(*) AS taken FROM enrollments GROUP BY course_id) e
             ON e.course_id = c.id
          WHERE COALESCE(e.taken, 0) > c.capacity OR COALESCE(e.taken, 0) <> c.enrolled`,
      ),
    )
    return Number(row?.n ?? 0)
  }

  async replicaLagSeconds(): Promise<number | null> {
    return 0
  }

  async confirmationBacklog(): Promise<ConfirmationBacklog> {
    return toBacklog(await this.#read((db) => this.#rows(db, BACKLOG_SQL)))
  }

  async courseVersions(): Promise<CourseVersion[]> {
    const rows = await this.#read((db) =>
      this.#rows(db, 'SELECT id, version, decided_through FROM courses ORDER BY id'),
    )
    return rows.map((r) => ({
      id: String(r.id),
      version: Number(r.version),
      decidedThrough: Number(r.decided_through),
    }))
  }

  async courseSnapshot(courseId: string): Promise<CourseSnapshot | null> {
    // Both reads in one read transaction: one snapshot, even with another process writing.
    return this.#read((db) => {
      this.#run(db, 'BEGIN DEFERRED')
      try {
        const course = this.#row(
          db,
          'SELECT capacity, enrolled, version FROM courses WHERE id = ?',
          courseId,
        )
        if (!course) return null
        const students = this.#rows(
          db,
          'SELECT student_id FROM enrollments WHERE course_id = ? ORDER BY student_id',
          courseId,
        )
        const waiting = this.#rows(
          db,
          'SELECT id, request_id, student_id FROM waitlist WHERE course_id = ? ORDER BY id',
          courseId,
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
        this.#run(db, 'COMMIT')
      }
    })
  }

  // -------------------------------------------------------------------------------------------
  // Sessions kept across restarts (adapters/sqlite/sessions.ts): not part of the ports.

  async saveSession(sessionId: string, studentId: string, expiresAtMs: number): Promise<void> {
    await this.#write((db) =>
      this.#run(
        db,
        'INSERT OR REPLACE INTO sessions (id, student_id, expires_at) VALUES (?, ?, ?)',
        sessionId,
        studentId,
        expiresAtMs,
      ),
    )
  }

  async deleteSession(sessionId: string): Promise<void> {
    await this.#write((db) => this.#run(db, 'DELETE FROM sessions WHERE id = ?', sessionId))
  }

  /** The sessions alive at `nowMs`; the others are deleted. */
  async liveSessions(
    nowMs: number,
  ): Promise<Array<{ sessionId: string; studentId: string; expiresAtMs: number }>> {
    return this.#write((db) => {
      this.#run(db, 'DELETE FROM sessions WHERE expires_at <= ?', nowMs)
      return this.#rows(db, 'SELECT id, student_id, expires_at FROM sessions').map((r) => ({
        sessionId: String(r.id),
        studentId: String(r.student_id),
        expiresAtMs: Number(r.expires_at),
      }))
    })
  }

  // -------------------------------------------------------------------------------------------
  // Seeding (the demo semester and `sugang seed`, SeedStore): not part of the ports.

  async isEmpty(): Promise<boolean> {
    const row = await this.#read((db) =>
      this.#row(
        db,
        'SELECT EXISTS(SELECT 1 FROM students) OR EXISTS(SELECT 1 FROM courses) AS any_rows',
      ),
    )
    return Number(row?.any_rows ?? 0) === 0
  }

  async deleteAll(): Promise<void> {
    await this.#transaction((db) => {
      for (const table of ['cart_items', 'waitlist', 'enrollments', 'courses', 'students']) {
        db.exec(`DELETE FROM ${table}`)
      }
    })
  }

  /** In one transaction. */
  async insertSeed(rows: SeedRows): Promise<void> {
    await this.#transaction((db) => {
      for (const s of rows.students ?? []) {
        this.#run(
          db,
          `INSERT INTO students (id, name, email, password_hash, year, max_credits)
           VALUES (?, ?, ?, ?, ?, ?)
           ON CONFLICT (id) DO UPDATE SET password_hash = excluded.password_hash,
             max_credits = excluded.max_credits`,
          s.id,
          s.name,
          s.email,
          s.passwordHash,
          s.year,
          s.maxCredits,
        )
      }
      for (const c of rows.courses ?? []) {
        this.#run(
          db,
          `INSERT INTO courses (id, title, professor, credits, capacity, meetings)
           VALUES (?, ?, ?, ?, ?, ?)
           ON CONFLICT (id) DO UPDATE SET capacity = MAX(excluded.capacity, enrolled)`,
          c.id,
          c.title,
          c.professor,
          c.credits,
          c.capacity,
          formatMeetings(c.meetings),
        )
      }
    })
  }
}
