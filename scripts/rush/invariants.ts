// The claims a run must not break, checked against the database after it. Every count here must
// be zero; a report lists a few examples of each break so that it can be chased.
import type { Tracked } from './driver.js'
import type { DbState } from './targets.js'
import { courseId, studentId } from './workload.js'

/** Reasons a request may lose to a later one (the contract's own-reason exceptions). */
const OWN_REASONS = new Set(['ALREADY_ENROLLED', 'CREDIT_LIMIT', 'TIME_CONFLICT'])

export interface InvariantReport {
  /** Courses with more enrollment rows than seats. */
  readonly oversold: number
  /** Courses whose `enrolled` column differs from their rows. */
  readonly enrolledColumnOff: number
  /** Students with two rows in one course. */
  readonly duplicates: number
  /** Requests a student was told "enrolled" (and kept) with no row in the database. */
  readonly lostEnrollments: number
  /** Rows whose student was last told something other than "enrolled". */
  readonly untoldEnrollments: number
  /** Requests the service forgot (404 on a request it had acknowledged). */
  readonly forgotten: number
  /** Contract fairness: B got a seat though A, acknowledged before B was sent, did not. */
  readonly unfair: number
  /** Waitlisted requests whose last told position differs from the database's. */
  readonly wrongPositions: number
  /** Courses with a free seat while their waitlist is not empty. */
  readonly idleSeats: number
  /** Requests not decided by the deadline, or answered with an error. */
  readonly stuck: number
  readonly errors: number
  readonly examples: readonly string[]
}

export interface CheckOptions {
  /** Whether requests must be decided by the deadline (not the 10-per-second design's case). */
  readonly mustDecide: boolean
  /** Whether the last told waitlist positions are to be compared with the database. */
  readonly checkPositions: boolean
}

export function violations(r: InvariantReport): number {
  return (
    r.oversold +
    r.enrolledColumnOff +
    r.duplicates +
    r.lostEnrollments +
    r.untoldEnrollments +
    r.forgotten +
    r.unfair +
    r.wrongPositions +
    r.idleSeats +
    r.stuck +
    r.errors
  )
}

export function check(
  tracked: readonly Tracked[],
  state: DbState,
  options: CheckOptions,
): InvariantReport {
  const examples: string[] = []
  const note = (s: string): void => {
    if (examples.length < 20) examples.push(s)
  }
  let oversold = 0
  let enrolledColumnOff = 0
  for (const [id, c] of state.courses) {
    if (c.rows > c.capacity) {
      oversold += 1
      note(`${id}: ${c.rows} rows for ${c.capacity} seats`)
    }
    if (c.rows !== c.enrolled) {
      enrolledColumnOff += 1
      note(`${id}: enrolled column ${c.enrolled}, rows ${c.rows}`)
    }
  }

  const rows = new Set<string>()
  let duplicates = 0
  for (const e of state.enrollments) {
    const key = `${e.studentId}/${e.courseId}`
    if (rows.has(key)) {
      duplicates += 1
      note(`${key} enrolled twice`)
    }
    rows.add(key)
  }

  // The last word each student had about each course (a later request of theirs overrides).
  const told = new Map<string, Tracked>()
  for (const r of tracked) {
    const key = `${studentId(r.wish.student)}/${courseId(r.wish.course)}`
    const prev = told.get(key)
    if (!prev || r.sentAt >= prev.sentAt) told.set(key, r)
  }
  let lostEnrollments = 0
  let forgotten = 0
  let stuck = 0
  let errors = 0
  for (const r of tracked) {
    const key = `${studentId(r.wish.student)}/${courseId(r.wish.course)}`
    if (r.status === 'enrolled' && !r.cancelled && !rows.has(key)) {
      lostEnrollments += 1
      note(`${key}: told enrolled, no row`)
    }
    if (r.reason === 'REQUEST_NOT_FOUND') {
      forgotten += 1
      note(`${key}: request ${r.requestId} forgotten`)
    }
    if (r.errors > 0) {
      errors += 1
      if (errors <= 3) note(`${key}: ${r.errors} unusable answer(s)`)
    }
    if (options.mustDecide && (r.status === null || r.status === 'queued')) {
      stuck += 1
      if (stuck <= 3) note(`${key}: still ${r.status ?? 'unanswered'} at the deadline`)
    }
  }
  let untoldEnrollments = 0
  for (const e of state.enrollments) {
    const key = `${e.studentId}/${e.courseId}`
    const r = told.get(key)
    // Rows made before the run (the cancel storm's set-up) are told by their own requests.
    if (r && r.status !== 'enrolled' && !(r.status === 'queued' && !options.mustDecide)) {
      untoldEnrollments += 1
      note(`${key}: has a row but was told ${r.status}${r.reason ? ` ${r.reason}` : ''}`)
    }
  }

  // Fairness, per course: the earliest acknowledgement of a request that ended without a seat
  // (for a reason that is not its own); any request sent after it must not have a seat.
  const earliestLoser = new Map<number, number>()
  for (const r of tracked) {
    if (r.ackStatus !== 202 || r.cancelled) continue
    const lost =
      (r.status === 'rejected' && !OWN_REASONS.has(r.reason ?? '')) || r.status === 'waitlisted'
    if (!lost) continue
    const at = earliestLoser.get(r.wish.course)
    if (at === undefined || r.ackAt < at) earliestLoser.set(r.wish.course, r.ackAt)
  }
  let unfair = 0
  for (const r of tracked) {
    const at = earliestLoser.get(r.wish.course)
    if (at !== undefined && r.status === 'enrolled' && r.sentAt > at) {
      unfair += 1
      if (unfair <= 3) {
        note(
          `${courseId(r.wish.course)}: ${studentId(r.wish.student)} sent after an acknowledged loser, enrolled`,
        )
      }
    }
  }

  let wrongPositions = 0
  if (options.checkPositions) {
    const truth = new Map(state.waitlist.map((w) => [w.requestId, w.position]))
    for (const r of tracked) {
      if (r.status !== 'waitlisted' || r.cancelled || !r.requestId) continue
      const position = truth.get(r.requestId)
      if (position !== r.position) {
        wrongPositions += 1
        if (wrongPositions <= 3) {
          note(
            `${r.requestId}: told waitlisted at ${r.position}, database says ${position ?? 'not waitlisted'}`,
          )
        }
      }
    }
  }

  let idleSeats = 0
  const waiting = new Set(state.waitlist.map((w) => w.courseId))
  for (const [id, c] of state.courses) {
    if (c.rows < c.capacity && waiting.has(id)) {
      idleSeats += 1
      note(`${id}: ${c.capacity - c.rows} free seat(s) while its waitlist waits`)
    }
  }

  return {
    oversold,
    enrolledColumnOff,
    duplicates,
    lostEnrollments,
    untoldEnrollments,
    forgotten,
    unfair,
    wrongPositions,
    idleSeats,
    stuck,
    errors,
    examples,
  }
}
