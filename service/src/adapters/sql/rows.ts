/**
 * What the two SQL stores (MySQL, SQLite) read, turned into the domain's shapes. Both run the same
 * queries in their own dialect and get rows of the same columns; the translation is written once.
 */
import { parseMeetings } from '../../domain/meetings.js'
import type { RecordEntry, RecordHead, RecordKind } from '../../domain/fairness.js'
import type { Course, Meeting, RejectReason } from '../../domain/model.js'
import type { AdmissionFacts, CancellationTx, WaitlistHead } from '../../domain/ports.js'

export type Row = Record<string, unknown>

/** A row of `id, title, professor, credits, capacity, enrolled, meetings` from courses. */
export function toCourse(row: Row): Course {
  return {
    id: String(row.id),
    title: String(row.title),
    professor: String(row.professor),
    credits: Number(row.credits),
    capacity: Number(row.capacity),
    enrolled: Number(row.enrolled),
    meetings: parseMeetings(row.meetings),
  }
}

/** Meetings of every course each student holds, from rows of (student_id, meetings). */
export function meetingsByStudent(rows: readonly Row[]): Map<string, Meeting[]> {
  const out = new Map<string, Meeting[]>()
  for (const r of rows) {
    const sid = String(r.student_id)
    const list = out.get(sid) ?? []
    list.push(...parseMeetings(r.meetings))
    out.set(sid, list)
  }
  return out
}

/**
 * The facts of one admission batch, from what the transaction read under its locks:
 * - `course`: credits, capacity, enrolled, version, decided_through, meetings (the locked row);
 * - `students`: id, max_credits of the batch's students;
 * - `held`: student_id, course_id, request_id, credits, meetings of every enrollment they hold;
 * - `waiting`: student_id, course_id, request_id of every waitlist place they hold.
 */
export function admissionFacts(
  courseId: string,
  rows: {
    readonly course: Row
    readonly students: readonly Row[]
    readonly held: readonly Row[]
    readonly waiting: readonly Row[]
  },
): AdmissionFacts {
  const { course } = rows
  const creditsHeld = new Map<string, number>()
  const enrolledBy = new Map<string, string | null>()
  for (const r of rows.held) {
    const sid = String(r.student_id)
    creditsHeld.set(sid, (creditsHeld.get(sid) ?? 0) + Number(r.credits))
    if (String(r.course_id) === courseId) {
      enrolledBy.set(sid, r.request_id === null ? null : String(r.request_id))
    }
  }
  const waitlistedBy = new Map<string, string>()
  const waitlistHeld = new Map<string, number>()
  for (const r of rows.waiting) {
    const sid = String(r.student_id)
    waitlistHeld.set(sid, (waitlistHeld.get(sid) ?? 0) + 1)
    if (String(r.course_id) === courseId) waitlistedBy.set(sid, String(r.request_id))
  }
  return {
    credits: Number(course.credits),
    capacity: Number(course.capacity),
    enrolled: Number(course.enrolled),
    version: Number(course.version),
    meetings: parseMeetings(course.meetings),
    decidedThrough: Number(course.decided_through),
    maxCredits: new Map(rows.students.map((r) => [String(r.id), Number(r.max_credits)])),
    creditsHeld,
    meetingsHeld: meetingsByStudent(rows.held),
    enrolledBy,
    waitlistedBy,
    waitlistHeld,
  }
}

/** The locked course row of a cancellation: credits, capacity, enrolled, version, meetings. */
export function cancellationCourse(row: Row): CancellationTx['course'] {
  return {
    credits: Number(row.credits),
    capacity: Number(row.capacity),
    enrolled: Number(row.enrolled),
    version: Number(row.version),
    meetings: parseMeetings(row.meetings),
  }
}

/** A waitlist head's credit limit, credits held, and whether it holds this course (course id, student id). */
export const WAITLIST_HEAD_STUDENT = `SELECT s.max_credits,
        COALESCE((SELECT SUM(c.credits) FROM enrollments e JOIN courses c ON c.id = e.course_id
                   WHERE e.student_id = s.id), 0) AS held,
        EXISTS(SELECT 1 FROM enrollments e WHERE e.student_id = s.id AND e.course_id = ?) AS here
   FROM students s WHERE s.id = ?`

/** The meetings of the courses one student holds (rows of student_id, meetings). */
export const MEETINGS_HELD = `SELECT e.student_id, c.meetings FROM enrollments e JOIN courses c ON c.id = e.course_id
  WHERE e.student_id = ?`

/**
 * The waitlist head taken off the list: its row (student_id, request_id), its student's row read
 * with WAITLIST_HEAD_STUDENT (absent when the account is gone), and MEETINGS_HELD for it.
 */
export function waitlistHead(
  head: Row,
  student: Row | undefined,
  meetingsHeld: readonly Row[],
): WaitlistHead {
  const studentId = String(head.student_id)
  return {
    studentId,
    requestId: String(head.request_id),
    maxCredits: student ? Number(student.max_credits) : undefined,
    creditsHeld: student ? Number(student.held) : 0,
    meetingsHeld: meetingsByStudent(meetingsHeld).get(studentId) ?? [],
    enrolledHere: student ? Number(student.here) === 1 : false,
  }
}

/** A DATETIME as the driver returns it (MySQL: a Date; SQLite: ISO 8601 text) as a Date. */
export function asDate(value: unknown): Date {
  return value instanceof Date ? value : new Date(String(value))
}

/** The fairness record's columns, in the order its rows are written and read. */
export const RECORD_COLUMNS =
  'course_id, seq, batch, kind, student_id, request_id, arrival, queued_at, reason, enrolled, capacity, decided_at, prev_hash, hash'

/** A row of RECORD_COLUMNS. */
export function toRecordEntry(r: Row): RecordEntry {
  return {
    courseId: String(r.course_id),
    seq: Number(r.seq),
    batch: Number(r.batch),
    kind: String(r.kind) as RecordKind,
    studentId: String(r.student_id),
    requestId: r.request_id === null ? null : String(r.request_id),
    arrival: r.arrival === null ? null : Number(r.arrival),
    queuedAt: r.queued_at === null || r.queued_at === undefined ? null : Number(r.queued_at),
    reason: r.reason === null ? null : (String(r.reason) as RejectReason),
    enrolled: Number(r.enrolled),
    capacity: Number(r.capacity),
    decidedAt: Number(r.decided_at),
    prevHash: String(r.prev_hash),
    hash: String(r.hash),
  }
}

/** The chain head a course row holds (record_seq, record_hash). */
export function recordHead(row: Row): RecordHead {
  return { seq: Number(row.record_seq), hash: String(row.record_hash) }
}
