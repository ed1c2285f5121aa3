/**
 * The fairness record: every decision about a course's seats or waitlist, one entry per
 * decision, written in the store transaction that makes the decision, and chained per course
 * (each entry carries the hash of the one before it) so that an entry edited, removed, inserted
 * or moved afterwards breaks the chain. The audit (auditCourse) checks the chain and replays it:
 * first come, first served within the course, the waitlist's order, and the course's seats.
 *
 * What the record holds and how it is read is documented in docs/fairness.md.
 */
import { createHash } from 'node:crypto'
import type { RejectReason } from './model.js'
import type { FairnessRecordReads } from './ports.js'

/**
 * What happened:
 * - from the queue (an admission batch, or a full course's bulk rejection): `enrolled`,
 *   `waitlisted`, `rewaitlisted` (the student's place now answers to this newer request),
 *   `rejected` (with its reason);
 * - outside the queue (a cancellation or a leave): `cancelled` (an enrollment given up),
 *   `left` (a waitlist place given up), `promoted` (the waitlist head took the freed seat),
 *   `passed-over` (the head was dropped: the rules no longer allow it the seat, with the reason);
 * - from an operator: `capacity` (the course's capacity changed, 증원/감원: the entry carries the
 *   new one and no student), followed in its transaction by the `promoted` and `passed-over`
 *   entries of the seats a raise frees.
 */
export type RecordKind =
  | 'enrolled'
  | 'waitlisted'
  | 'rewaitlisted'
  | 'rejected'
  | 'cancelled'
  | 'left'
  | 'promoted'
  | 'passed-over'
  | 'capacity'

export const RECORD_KINDS: readonly RecordKind[] = [
  'enrolled',
  'waitlisted',
  'rewaitlisted',
  'rejected',
  'cancelled',
  'left',
  'promoted',
  'passed-over',
  'capacity',
]

/** One decision, as the domain makes it; the store adds its place in the chain. */
export interface RecordDecision {
  readonly kind: RecordKind
  readonly studentId: string
  /** The request decided or affected (null: a cancelled enrollment that never had one). */
  readonly requestId: string | null
  /** The request's arrival number in the course's queue (null outside the queue). */
  readonly arrival: number | null
  /**
   * When the request joined the queue, on the queue's clock (ms since the epoch; null where
   * unknown). Arrival numbers start again when Redis loses its counter: this orders them then.
   */
  readonly queuedAt?: number | null
  readonly reason: RejectReason | null
  /** The course's new capacity, from this entry on (a `capacity` decision; its student is ''). */
  readonly capacity?: number
}

/** Where a course's chain ends: its last entry's number and hash. */
export interface RecordHead {
  readonly seq: number
  readonly hash: string
}

/** The hash a course's first entry chains to. */
export const GENESIS_HASH = '0'.repeat(64)

export const emptyHead: RecordHead = { seq: 0, hash: GENESIS_HASH }

export interface RecordEntry extends RecordDecision {
  readonly courseId: string
  /** 1, 2, 3, ... within the course. */
  readonly seq: number
  /** The seq of the first entry of the transaction that wrote this one. */
  readonly batch: number
  /** Seats taken in the course after this decision, and its capacity then. */
  readonly enrolled: number
  readonly capacity: number
  /** When the transaction decided it, in ms since the epoch. */
  readonly decidedAt: number
  readonly prevHash: string
  readonly hash: string
}

/** How a decision changes the seats taken. */
export function seatDelta(kind: RecordKind): number {
  if (kind === 'enrolled' || kind === 'promoted') return 1
  if (kind === 'cancelled') return -1
  return 0
}

/**
 * Whether `b` joined its queue after `a`: a larger arrival number, unless the queue's clock says
 * it joined first (the numbers started again after Redis lost the counter, between the two).
 */
function cameLater(b: RecordEntry, a: RecordEntry): boolean {
  if (b.arrival === null || a.arrival === null || b.arrival <= a.arrival) return false
  const bAt = b.queuedAt ?? null
  const aAt = a.queuedAt ?? null
  return bAt === null || aAt === null || bAt >= aAt
}

/** The hash of an entry: SHA-256 over its fields and the hash of the entry before it. */
export function entryHash(e: Omit<RecordEntry, 'hash'>): string {
  return createHash('sha256')
    .update(
      [
        e.prevHash,
        e.courseId,
        e.seq,
        e.batch,
        e.kind,
        e.studentId,
        e.requestId ?? '',
        e.arrival ?? '',
        e.queuedAt ?? '',
        e.reason ?? '',
        e.enrolled,
        e.capacity,
        e.decidedAt,
      ].join('\n'),
    )
    .digest('hex')
}

/**
 * The entries of one transaction's decisions, chained after `head`. `seats` is the course as the
 * transaction read it under its lock, before these decisions; a decision that carries a capacity
 * changes it for itself and every entry after it.
 */
export function chainDecisions(
  courseId: string,
  head: RecordHead,
  seats: { readonly enrolled: number; readonly capacity: number },
  decisions: readonly RecordDecision[],
  decidedAt: number,
): RecordEntry[] {
  const out: RecordEntry[] = []
  const batch = head.seq + 1
  let prevHash = head.hash
  let enrolled = seats.enrolled
  let capacity = seats.capacity
  for (const [i, d] of decisions.entries()) {
    enrolled += seatDelta(d.kind)
    if (d.capacity !== undefined) capacity = d.capacity
    const entry = {
      courseId,
      seq: head.seq + 1 + i,
      batch,
      kind: d.kind,
      studentId: d.studentId,
      requestId: d.requestId,
      arrival: d.arrival,
      queuedAt: d.queuedAt ?? null,
      reason: d.reason,
      enrolled,
      capacity,
      decidedAt,
      prevHash,
    }
    prevHash = entryHash(entry)
    out.push({ ...entry, hash: prevHash })
  }
  return out
}

/** A course as the store holds it now, which its record must reproduce. */
export interface CourseNow {
  readonly courseId: string
  readonly capacity: number
  readonly enrolled: number
  readonly head: RecordHead
  /** The students holding a seat. */
  readonly students: readonly string[]
  /** The waitlist, head first: the student and the request holding each place. */
  readonly waitlist: ReadonlyArray<{ readonly studentId: string; readonly requestId: string }>
}

export interface CourseAudit {
  readonly courseId: string
  readonly entries: number
  readonly enrolled: number
  readonly capacity: number
  readonly waiting: number
  /** Decisions by kind (a request decided twice counts twice). */
  readonly kinds: Readonly<Partial<Record<RecordKind, number>>>
  readonly head: RecordHead
  /** Everything wrong, in the order found: empty when the record holds. */
  readonly breaks: readonly string[]
}

/**
 * Checks one course's record (its entries in seq order) against itself and against the course
 * as it is now:
 * - the chain: seq runs 1, 2, 3, ...; each entry's prevHash is the hash of the one before it
 *   (the first one's is GENESIS_HASH); each hash is the hash of its entry; batches are runs of
 *   consecutive entries; the course's head is the last entry;
 * - the seats: each entry's enrolled is the one before it moved by its decision, never above the
 *   capacity, and a capacity changes only on a `capacity` entry; when the transaction of a
 *   capacity change ends, no seat is free while a student holds a waitlist place (a raise gives
 *   its seats to the waitlist's head, in order);
 * - first come, first served: a request is refused for a full course (COURSE_FULL) or put on the
 *   waitlist only when every seat is taken, and never after a later arrival got a seat from the
 *   queue;
 * - the waitlist: places are taken in the order they were given, a promotion or a pass-over takes
 *   the head, and only a student holding a place leaves or gets a newer request on it;
 * - now: the seats and the waitlist the record replays to are the ones the store holds.
 *
 * A request may be decided twice: a worker that stopped after its transaction committed leaves
 * the queue to its successor, which decides the requests it was never told of again (a
 * rejection is judged again; a seat or a place is reported as it was, not recorded again).
 */
export function auditCourse(entries: readonly RecordEntry[], now: CourseNow): CourseAudit {
  const breaks: string[] = []
  const kinds: Partial<Record<RecordKind, number>> = {}
  const seated = new Set<string>()
  const waiting: Array<{ studentId: string; requestId: string | null }> = []
  let prev: RecordEntry | null = null
  /** Seats given from the queue so far, in the order given. */
  const admitted: RecordEntry[] = []
  // The transaction (batch) of the latest `capacity` entry, until it ends.
  let capacityBatch: number | null = null
  const endOfTransaction = (last: RecordEntry) => {
    if (capacityBatch !== last.batch) return
    capacityBatch = null
    if (last.enrolled < last.capacity && waiting.length > 0) {
      breaks.push(
        `entry ${last.seq}: the capacity change left ${last.capacity - last.enrolled} seats free while ${waiting.length} students wait`,
      )
    }
  }
  for (const e of entries) {
    const at = `entry ${e.seq}`
    if (prev !== null && e.batch !== prev.batch) endOfTransaction(prev)
    kinds[e.kind] = (kinds[e.kind] ?? 0) + 1
    const expectedSeq = (prev?.seq ?? 0) + 1
    if (e.seq !== expectedSeq) breaks.push(`${at}: expected entry ${expectedSeq} here`)
    if (e.prevHash !== (prev?.hash ?? GENESIS_HASH)) {
      breaks.push(`${at}: does not chain to the entry before it`)
    }
    const { hash, ...fields } = e
    if (entryHash(fields) !== hash) breaks.push(`${at}: its hash does not match its content`)
    if (e.batch > e.seq || (prev !== null && e.batch !== prev.batch && e.batch !== e.seq)) {
      breaks.push(`${at}: batch ${e.batch} is not a run of consecutive entries`)
    }
    // The first entry moves the seats of a course nobody held a seat in yet.
    const before = prev?.enrolled ?? 0
    if (e.enrolled !== before + seatDelta(e.kind)) {
      breaks.push(`${at}: ${e.enrolled} seats taken after ${before} and a ${e.kind}`)
    }
    if (e.kind === 'capacity') capacityBatch = e.batch
    else if (prev !== null && e.capacity !== prev.capacity) {
      breaks.push(`${at}: capacity ${e.capacity} changed from ${prev.capacity} unrecorded`)
    }
    if (e.enrolled > e.capacity) breaks.push(`${at}: ${e.enrolled} seats taken of ${e.capacity}`)
    const full = e.enrolled >= e.capacity
    const who = `${e.kind} ${e.requestId ?? e.studentId}`

    if (e.kind === 'enrolled' && e.arrival !== null) admitted.push(e)
    if ((e.kind === 'rejected' && e.reason === 'COURSE_FULL') || e.kind === 'waitlisted') {
      if (!full) breaks.push(`${at}: ${who} while ${e.capacity - e.enrolled} seats were free`)
      // The latest arrival among those seated from the queue after joining it later than e.
      let jumped: RecordEntry | undefined
      for (const b of admitted) {
        if (cameLater(b, e) && (jumped === undefined || (b.arrival ?? 0) > (jumped.arrival ?? 0))) {
          jumped = b
        }
      }
      if (jumped) {
        breaks.push(
          `${at}: ${who} (arrival ${e.arrival}) after ${jumped.requestId ?? jumped.studentId} (arrival ${jumped.arrival}) got a seat`,
        )
      }
    }

    switch (e.kind) {
      case 'enrolled':
      case 'promoted':
        if (seated.has(e.studentId)) breaks.push(`${at}: ${e.studentId} already held a seat`)
        seated.add(e.studentId)
        break
      case 'cancelled':
        if (!seated.delete(e.studentId)) breaks.push(`${at}: ${e.studentId} held no seat`)
        break
      default:
        break
    }
    const place = waiting.findIndex((w) => w.studentId === e.studentId)
    switch (e.kind) {
      case 'waitlisted':
        if (place >= 0) breaks.push(`${at}: ${e.studentId} already held a waitlist place`)
        waiting.push({ studentId: e.studentId, requestId: e.requestId })
        break
      case 'rewaitlisted':
        if (place < 0) breaks.push(`${at}: ${e.studentId} held no waitlist place`)
        else waiting[place] = { studentId: e.studentId, requestId: e.requestId }
        break
      case 'left':
        if (place < 0) breaks.push(`${at}: ${e.studentId} held no waitlist place`)
        else waiting.splice(place, 1)
        break
      case 'promoted':
      case 'passed-over':
        if (place !== 0) {
          breaks.push(
            `${at}: ${who} was not the waitlist's head (${waiting[0]?.studentId ?? 'empty'})`,
          )
        }
        if (place >= 0) waiting.splice(place, 1)
        break
      default:
        break
    }
    prev = e
  }
  if (prev !== null) endOfTransaction(prev)

  const last: RecordHead = prev ? { seq: prev.seq, hash: prev.hash } : emptyHead
  if (now.head.seq !== last.seq || now.head.hash !== last.hash) {
    breaks.push(
      `the course's head is entry ${now.head.seq} ${now.head.hash.slice(0, 12)}, the record ends at ${last.seq} ${last.hash.slice(0, 12)}`,
    )
  }
  const replayedEnrolled = prev?.enrolled ?? 0
  if (replayedEnrolled !== now.enrolled || seated.size !== now.students.length) {
    breaks.push(
      `the record leaves ${replayedEnrolled} seats taken (${seated.size} students); the course has ${now.enrolled} (${now.students.length} enrollments)`,
    )
  }
  const strays = now.students.filter((s) => !seated.has(s))
  if (strays.length > 0) breaks.push(`enrolled without a record: ${strays.join(', ')}`)
  if (prev && prev.capacity !== now.capacity) {
    breaks.push(`capacity ${now.capacity} changed from ${prev.capacity} unrecorded`)
  }
  const replayed = waiting.map((w) => `${w.studentId}:${w.requestId ?? ''}`).join(' ')
  const held = now.waitlist.map((w) => `${w.studentId}:${w.requestId}`).join(' ')
  if (replayed !== held) {
    breaks.push(`the waitlist differs from the record's: [${held}] against [${replayed}]`)
  }
  return {
    courseId: now.courseId,
    entries: entries.length,
    enrolled: now.enrolled,
    capacity: now.capacity,
    waiting: now.waitlist.length,
    kinds,
    head: last,
    breaks,
  }
}

/**
 * Audits every course's record (or one course's) from the store alone. Each course's entries are
 * read up to the head its row held when the course was read, so the audit may run during a rush:
 * entries are never changed once committed, and later ones are left to the next audit.
 */
export async function auditRecord(
  reads: FairnessRecordReads,
  courseId?: string,
): Promise<CourseAudit[]> {
  const out: CourseAudit[] = []
  for (const course of await reads.recordCourses(courseId)) {
    out.push(auditCourse(await reads.recordEntries(course.courseId, course.head.seq), course))
  }
  return out
}
