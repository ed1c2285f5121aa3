/**
 * The durable store over SQL, written once for MySQL and SQLite: every statement, and the steps
 * and lock order of every transaction. The dialect object (adapters/mysql/dialect.ts,
 * adapters/sqlite/dialect.ts) holds only what truly differs between the two engines: which
 * connection a read or a write takes and with what deadline, how a transaction is opened,
 * committed and retried, which failures mean the database is unavailable (503), how rows are
 * locked (MySQL locks rows; SQLite has one writer, which excludes every other), how a list is
 * bound, how many rows one INSERT carries, and the upsert syntax.
 */
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
  RequestFairness,
  WaitlistHead,
} from '../../domain/ports.js'
import type { ConfirmationBacklog } from '../../domain/confirmations.js'
import type {
  ControlRow,
  OperatorAction,
  OperatorStore,
  RecordedAction,
} from '../../domain/operations.js'
import {
  chainDecisions,
  type CourseNow,
  type RecordDecision,
  type RecordEntry,
  type RecordHead,
} from '../../domain/fairness.js'
import type { SeedRows, SeedStore } from '../../seed.js'
import {
  MEETINGS_HELD,
  RECORD_COLUMNS,
  WAITLIST_HEAD_STUDENT,
  admissionFacts,
  asDate,
  cancellationCourse,
  recordHead,
  toCourse,
  toRecordEntry,
  waitlistHead,
  type Row,
} from './rows.js'
import { BACKLOG_SQL, toBacklog } from './confirmations.js'

/** What a statement changed: rows affected, and the id it generated (if any). */
export interface Written {
  readonly changes: number
  readonly insertId: number
}

/** Runs one operation's statements on one connection, in the dialect's placeholders (`?`). */
export interface SqlSession {
  rows(sql: string, params?: readonly unknown[]): Promise<Row[]>
  /** The first row, if any. */
  row(sql: string, params?: readonly unknown[]): Promise<Row | undefined>
  run(sql: string, params?: readonly unknown[]): Promise<Written>
  /**
   * `into` (`INSERT INTO t (a, b)`) with the values of `rows`, then `tail` (an upsert's clause):
   * one statement for all the rows in MySQL (one round trip), one prepared statement run per row
   * in SQLite (no round trip to save).
   */
  insert(into: string, rows: ReadonlyArray<readonly unknown[]>, tail?: string): Promise<void>
}

/**
 * Where a read goes: the catalogue may lag (MySQL's replica), a student's own data may not (the
 * primary), and a seed's reads have no request deadline.
 */
export type ReadFrom = 'catalogue' | 'own' | 'seed'

/** What a transaction is for, which sets its deadline. */
export type TransactionKind = 'request' | 'admission' | 'seed'

export interface SqlDialect {
  /**
   * Whether a transaction must lock the rows it depends on (MySQL). Where it is false (SQLite)
   * a transaction holds the one write connection, and no other writes until it ends.
   */
  readonly locksRows: boolean
  /** Appended to a SELECT that locks its rows for writing ('' where rows are not locked). */
  readonly forUpdate: string
  /** Appended to a SELECT that locks its rows against writers ('' where rows are not locked). */
  readonly forShare: string
  /** `IN (...)` over a list bound as one parameter: the value of `list(ids)`. */
  readonly inList: string
  list(ids: readonly string[]): unknown
  /** An upsert's clause before its assignments, for a row whose `key` exists already. */
  onConflict(key: string): string
  /** In an upsert's assignments: the value the INSERT brought for `column`. */
  incoming(column: string): string
  /** The larger of two SQL values. */
  greatest(a: string, b: string): string

  /** Statements outside a transaction that only read. */
  read<T>(from: ReadFrom, work: (s: SqlSession) => Promise<T>): Promise<T>
  /** Statements outside a transaction that write (each commits on its own). */
  write<T>(work: (s: SqlSession) => Promise<T>): Promise<T>
  /**
   * One transaction, committed if `work` returns, rolled back if it throws. `work` may run again
   * when the dialect retries a lost lock conflict (MySQL).
   */
  transaction<T>(kind: TransactionKind, work: (s: SqlSession) => Promise<T>): Promise<T>
  /** Reads of one consistent snapshot that locks out no writer. */
  snapshot<T>(work: (s: SqlSession) => Promise<T>): Promise<T>
  /** Raises a course's admission fence by one: its new value, or null when there is no course. */
  raiseFence(s: SqlSession, courseId: string): Promise<number | null>
}

/**
 * One transaction on a session: `begin`, `work`, COMMIT. If anything throws, `rollback` runs and
 * the first error is the one reported.
 */
export async function inTransaction<T>(
  s: SqlSession,
  begin: string,
  work: (s: SqlSession) => Promise<T>,
  rollback: () => Promise<void>,
): Promise<T> {
  await s.run(begin)
  try {
    const result = await work(s)
    await s.run('COMMIT')
    return result
  } catch (err) {
    await rollback()
    throw err
  }
}

/**
 * Every port method of the durable store, over a dialect: the statements, and the steps of each
 * transaction in their lock order. The engines' stores (MysqlStore, SqliteStore) add their
 * lifecycle (migrations, closing) and what only they offer.
 */
export abstract class SqlStore<D extends SqlDialect = SqlDialect>
  implements RegistrationStore, SeedStore, OperatorStore
{
  protected readonly dialect: D

  constructor(dialect: D) {
    this.dialect = dialect
  }

  abstract migrate(): Promise<void>
  abstract ping(): Promise<void>
  abstract close(): Promise<void>
  abstract replicaLagSeconds(): Promise<number | null>

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
        `SELECT credits, capacity, enrolled, version, decided_through, admission_fence, meetings,
                record_seq, record_hash
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
      const head = await this.#record(s, courseId, course, facts.enrolled, writes.record)
      if (writes.course) {
        const { enrolled, version, decidedThrough } = writes.course
        await s.run(
          `UPDATE courses SET enrolled = ?, version = ?, decided_through = ?,
                  record_seq = ?, record_hash = ? WHERE id = ?`,
          [enrolled, version, decidedThrough, head.seq, head.hash, courseId],
        )
      } else if (writes.record.length > 0) {
        await this.#moveHead(s, courseId, head)
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
    studentId: string | null,
    courseId: string,
    work: (tx: CancellationTx) => Promise<T>,
    heads: (course: CancellationTx['course']) => number = () => 1,
  ): Promise<T | null> {
    const d = this.dialect
    return d.transaction('request', async (s) => {
      const course = await s.row(
        `SELECT credits, capacity, enrolled, version, meetings, record_seq, record_hash
           FROM courses WHERE id = ?${d.forUpdate}`,
        [courseId],
      )
      if (!course) return null
      const read = cancellationCourse(course)
      // The fairness record's entries of this transaction, written after `work` returns.
      const record: RecordDecision[] = []
      const note = (kind: RecordDecision['kind'], student: string, requestId: string | null) => {
        record.push({ kind, studentId: student, requestId, arrival: null, reason: null })
      }
      const canceller = (): string => {
        if (studentId === null) throw new Error('this transaction has no canceller')
        return studentId
      }

      // The students locked so far (where rows lock): a head beyond them is locked when taken.
      const locked = new Set<string>()
      if (d.locksRows) {
        // The waitlist of this course only changes under this course's row lock, so its first
        // heads are stable; lock the canceller and those heads together, in id order.
        const first = Math.max(0, Math.floor(heads(read)))
        const waiting =
          first === 0
            ? []
            : await s.rows(
                `SELECT student_id FROM waitlist WHERE course_id = ? ORDER BY id LIMIT ${first}`,
                [courseId],
              )
        for (const r of waiting) locked.add(String(r.student_id))
        if (studentId !== null) locked.add(studentId)
        if (locked.size > 0) {
          await s.rows(`SELECT id FROM students WHERE id ${d.inList} ORDER BY id${d.forUpdate}`, [
            d.list([...locked].sort()),
          ])
        }
      }

      // `work` gets the transaction's connection until it settles; a method called after that
      // would run outside the transaction, so it is refused.
      let open = true
      const inside = async <R>(step: () => Promise<R>): Promise<R> => {
        if (!open) throw new Error('the cancellation transaction has ended')
        return step()
      }
      const tx: CancellationTx = {
        course: read,
        removeEnrollment: () =>
          inside(async () => {
            const studentId = canceller()
            const held = await s.row(
              'SELECT request_id FROM enrollments WHERE student_id = ? AND course_id = ?',
              [studentId, courseId],
            )
            if (!held) return false
            await s.run('DELETE FROM enrollments WHERE student_id = ? AND course_id = ?', [
              studentId,
              courseId,
            ])
            note('cancelled', studentId, held.request_id === null ? null : String(held.request_id))
            return true
          }),
        removeWaitlistPlace: () =>
          inside(async () => {
            const studentId = canceller()
            const place = await s.row(
              'SELECT id, request_id FROM waitlist WHERE course_id = ? AND student_id = ?',
              [courseId, studentId],
            )
            if (!place) return null
            await s.run('DELETE FROM waitlist WHERE id = ?', [place.id])
            note('left', studentId, String(place.request_id))
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
            if (d.locksRows && !locked.has(headStudent)) {
              // Rare: a head locked first was dropped by the rules. Deadlocks are retried as a
              // whole.
              await s.rows(`SELECT id FROM students WHERE id = ?${d.forUpdate}`, [headStudent])
              locked.add(headStudent)
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
            note('promoted', student, requestId)
          }),
        passOver: (student, requestId, reason) => {
          if (!open) throw new Error('the cancellation transaction has ended')
          record.push({ kind: 'passed-over', studentId: student, requestId, arrival: null, reason })
        },
        changeCapacity: (capacity) =>
          inside(async () => {
            await s.run('UPDATE courses SET capacity = ? WHERE id = ?', [capacity, courseId])
            record.push({
              kind: 'capacity',
              studentId: '',
              requestId: null,
              arrival: null,
              reason: null,
              capacity,
            })
          }),
        updateCourse: (enrolled, version) =>
          inside(async () => {
            await s.run('UPDATE courses SET enrolled = ?, version = ? WHERE id = ?', [
              enrolled,
              version,
              courseId,
            ])
          }),
        recordAction: (action) => inside(() => this.#recordAction(s, action)),
      }
      let result: T
      try {
        result = await work(tx)
      } finally {
        open = false
      }
      if (record.length > 0) {
        const enrolledBefore = Number(course.enrolled)
        await this.#moveHead(
          s,
          courseId,
          await this.#record(s, courseId, course, enrolledBefore, record),
        )
      }
      return result
    })
  }

  async recordRejections(
    courseId: string,
    fence: number,
    decisions: readonly RecordDecision[],
  ): Promise<'recorded' | 'fenced' | 'not-full' | 'no-course'> {
    if (decisions.length === 0) return 'recorded'
    const d = this.dialect
    return d.transaction('admission', async (s) => {
      const course = await s.row(
        `SELECT capacity, enrolled, admission_fence, record_seq, record_hash
           FROM courses WHERE id = ?${d.forUpdate}`,
        [courseId],
      )
      if (!course) return 'no-course'
      if (Number(course.admission_fence) !== fence) return 'fenced'
      if (Number(course.enrolled) < Number(course.capacity)) return 'not-full'
      await this.#moveHead(
        s,
        courseId,
        await this.#record(s, courseId, course, Number(course.enrolled), decisions),
      )
      return 'recorded'
    })
  }

  /**
   * Appends a transaction's decisions to the course's fairness record, chained after the head
   * the locked course row holds (`record_seq`, `record_hash`, `capacity`): the new head, which
   * the caller writes to the row in the same transaction.
   */
  async #record(
    s: SqlSession,
    courseId: string,
    course: Row,
    enrolledBefore: number,
    decisions: readonly RecordDecision[],
  ): Promise<RecordHead> {
    const head = recordHead(course)
    if (decisions.length === 0) return head
    const entries = chainDecisions(
      courseId,
      head,
      { enrolled: enrolledBefore, capacity: Number(course.capacity) },
      decisions,
      Date.now(),
    )
    await s.insert(
      `INSERT INTO fairness_record (${RECORD_COLUMNS})`,
      entries.map((e) => [
        e.courseId,
        e.seq,
        e.batch,
        e.kind,
        e.studentId,
        e.requestId,
        e.arrival,
        e.queuedAt,
        e.reason,
        e.enrolled,
        e.capacity,
        e.decidedAt,
        e.prevHash,
        e.hash,
      ]),
    )
    const last = entries[entries.length - 1] as RecordEntry
    return { seq: last.seq, hash: last.hash }
  }

  async #moveHead(s: SqlSession, courseId: string, head: RecordHead): Promise<void> {
    await s.run('UPDATE courses SET record_seq = ?, record_hash = ? WHERE id = ?', [
      head.seq,
      head.hash,
      courseId,
    ])
  }

  // -------------------------------------------------------------------------------------------
  // The fairness record's reads (FairnessRecordReads): the audit reads the primary, where the
  // record is written; a student's entries and a digest are reads of their own.

  async recordCourses(courseId?: string): Promise<CourseNow[]> {
    return this.dialect.snapshot(async (s) => {
      const where = courseId === undefined ? '' : ' WHERE id = ?'
      const params = courseId === undefined ? [] : [courseId]
      const courses = await s.rows(
        `SELECT id, capacity, enrolled, record_seq, record_hash FROM courses${where} ORDER BY id`,
        params,
      )
      const cwhere = courseId === undefined ? '' : ' WHERE course_id = ?'
      const seats = await s.rows(
        `SELECT course_id, student_id FROM enrollments${cwhere} ORDER BY course_id, student_id`,
        params,
      )
      const places = await s.rows(
        `SELECT course_id, student_id, request_id FROM waitlist${cwhere} ORDER BY course_id, id`,
        params,
      )
      const students = new Map<string, string[]>()
      for (const r of seats) {
        const list = students.get(String(r.course_id)) ?? []
        list.push(String(r.student_id))
        students.set(String(r.course_id), list)
      }
      const waitlist = new Map<string, Array<{ studentId: string; requestId: string }>>()
      for (const r of places) {
        const list = waitlist.get(String(r.course_id)) ?? []
        list.push({ studentId: String(r.student_id), requestId: String(r.request_id) })
        waitlist.set(String(r.course_id), list)
      }
      return courses.map((c) => ({
        courseId: String(c.id),
        capacity: Number(c.capacity),
        enrolled: Number(c.enrolled),
        head: recordHead(c),
        students: students.get(String(c.id)) ?? [],
        waitlist: waitlist.get(String(c.id)) ?? [],
      }))
    })
  }

  async recordEntries(courseId: string, throughSeq: number): Promise<RecordEntry[]> {
    const rows = await this.dialect.read('own', (s) =>
      s.rows(
        `SELECT ${RECORD_COLUMNS} FROM fairness_record WHERE course_id = ? AND seq <= ? ORDER BY seq`,
        [courseId, throughSeq],
      ),
    )
    return rows.map(toRecordEntry)
  }

  async requestRecord(requestId: string): Promise<RequestFairness | null> {
    return this.dialect.snapshot(async (s): Promise<RequestFairness | null> => {
      const rows = await s.rows(
        `SELECT ${RECORD_COLUMNS} FROM fairness_record WHERE request_id = ? ORDER BY seq`,
        [requestId],
      )
      const first = rows[0]
      if (!first) return null
      const entries = rows.map(toRecordEntry)
      const courseId = String(first.course_id)
      const arrival = entries.find((e) => e.arrival !== null)?.arrival ?? null
      const before =
        arrival === null
          ? null
          : await s.row(
              `SELECT COUNT(DISTINCT request_id) AS n FROM fairness_record
                WHERE course_id = ? AND arrival < ?`,
              [courseId, arrival],
            )
      const course = await s.row('SELECT record_seq, record_hash FROM courses WHERE id = ?', [
        courseId,
      ])
      return {
        courseId,
        studentId: String(first.student_id),
        arrival,
        arrivedBefore: before ? Number(before.n) : null,
        entries,
        head: course ? recordHead(course) : { seq: 0, hash: entries[0]?.prevHash ?? '' },
      }
    })
  }

  async recordHead(courseId: string): Promise<RecordHead | null> {
    const row = await this.dialect.read('own', (s) =>
      s.row('SELECT record_seq, record_hash FROM courses WHERE id = ?', [courseId]),
    )
    return row ? recordHead(row) : null
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
  // Operator controls and the operators' actions (OperatorStore, domain/operations.ts). Read
  // every second by every instance: one small table, on the primary, where they are written.

  async readControls(): Promise<ControlRow[]> {
    const rows = await this.dialect.read('own', (s) =>
      s.rows('SELECT name, value FROM operator_controls ORDER BY name'),
    )
    return rows.map((r) => ({ name: String(r.name), value: String(r.value) }))
  }

  async setControl(name: string, value: string | null, action: OperatorAction): Promise<void> {
    const d = this.dialect
    await d.transaction('request', async (s) => {
      if (value === null) {
        await s.run('DELETE FROM operator_controls WHERE name = ?', [name])
      } else {
        await s.insert(
          'INSERT INTO operator_controls (name, value)',
          [[name, value]],
          `${d.onConflict('name')} value = ${d.incoming('value')}`,
        )
      }
      await this.#recordAction(s, action)
    })
  }

  async #recordAction(s: SqlSession, action: OperatorAction): Promise<void> {
    await s.run(
      'INSERT INTO operator_actions (operator, action, target, reason, details) VALUES (?, ?, ?, ?, ?)',
      [action.operator, action.action, action.target, action.reason, action.details],
    )
  }

  async listActions(limit: number): Promise<RecordedAction[]> {
    const rows = await this.dialect.read('own', (s) =>
      s.rows(
        `SELECT id, at, operator, action, target, reason, details FROM operator_actions
          ORDER BY id DESC LIMIT ${Math.max(1, Math.floor(limit))}`,
      ),
    )
    return rows.map((r) => ({
      id: Number(r.id),
      at: asDate(r.at),
      operator: String(r.operator),
      action: String(r.action),
      target: String(r.target),
      reason: String(r.reason),
      details: String(r.details),
    }))
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
      const tables = ['cart_items', 'waitlist', 'enrollments', 'fairness_record', 'courses']
      for (const table of [...tables, 'students']) {
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
}
