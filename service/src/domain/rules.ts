import type { Decision, QueuedRequest, RejectReason } from './model.js'

/** What the store read under lock for one batch: the course and the students' current state. */
export interface BatchFacts {
  readonly credits: number
  readonly capacity: number
  readonly enrolled: number
  /** Students that exist, with their credit limit. */
  readonly maxCredits: ReadonlyMap<string, number>
  /** Credits each student already holds, over all courses. */
  readonly creditsHeld: ReadonlyMap<string, number>
  /** For students already enrolled in this course: the request that enrolled them (or null). */
  readonly enrolledBy: ReadonlyMap<string, string | null>
  /** For students already on this course's waitlist: their waitlist request id. */
  readonly waitlistedBy: ReadonlyMap<string, string>
  /** Waitlist places each student holds, over all courses. */
  readonly waitlistHeld: ReadonlyMap<string, number>
  /** Most waitlist places one student may hold (hoarding places blocks other students). */
  readonly maxWaitlist: number
}

export interface BatchOutcome {
  readonly decisions: Decision[]
  /** Requests to insert as enrollments, in arrival order. */
  readonly admitted: QueuedRequest[]
  /** Requests to append to the waitlist, in arrival order. */
  readonly waitlisted: QueuedRequest[]
  /** Students already waiting through an older request: their place now answers to this one. */
  readonly rehandled: QueuedRequest[]
}

/**
 * Decide a batch of requests in arrival order. Pure: the store calls it between reading the
 * locked rows and writing, so the rules stay out of SQL and are tested without a database.
 *
 * A request already recorded in MySQL (by a worker that crashed after COMMIT) is reported as it
 * was decided, never re-judged: an enrolled student must not turn into ALREADY_ENROLLED.
 */
export function decideBatch(requests: readonly QueuedRequest[], facts: BatchFacts): BatchOutcome {
  const decisions: Decision[] = []
  const admitted: QueuedRequest[] = []
  const waitlisted: QueuedRequest[] = []
  const rehandled: QueuedRequest[] = []
  let seatsLeft = facts.capacity - facts.enrolled
  const seen = new Set<string>()

  const reject = (r: QueuedRequest, reason: RejectReason): void => {
    decisions.push({ requestId: r.requestId, studentId: r.studentId, status: 'rejected', reason })
  }

  for (const r of requests) {
    const enrolledBy = facts.enrolledBy.get(r.studentId)
    if (enrolledBy === r.requestId) {
      decisions.push({ requestId: r.requestId, studentId: r.studentId, status: 'enrolled' })
      continue
    }
    if (facts.waitlistedBy.get(r.studentId) === r.requestId) {
      decisions.push({ requestId: r.requestId, studentId: r.studentId, status: 'waitlisted' })
      continue
    }
    if (enrolledBy !== undefined || seen.has(r.studentId)) {
      reject(r, 'ALREADY_ENROLLED')
      continue
    }
    seen.add(r.studentId)
    if (facts.waitlistedBy.has(r.studentId)) {
      rehandled.push(r)
      decisions.push({ requestId: r.requestId, studentId: r.studentId, status: 'waitlisted' })
      continue
    }
    const maxCredits = facts.maxCredits.get(r.studentId)
    if (maxCredits === undefined) {
      // A session names a student that no longer exists; nothing to enroll.
      reject(r, 'CREDIT_LIMIT')
      continue
    }
    if ((facts.creditsHeld.get(r.studentId) ?? 0) + facts.credits > maxCredits) {
      reject(r, 'CREDIT_LIMIT')
      continue
    }
    if (seatsLeft > 0) {
      seatsLeft -= 1
      admitted.push(r)
      decisions.push({ requestId: r.requestId, studentId: r.studentId, status: 'enrolled' })
      continue
    }
    if (r.waitlist) {
      if ((facts.waitlistHeld.get(r.studentId) ?? 0) >= facts.maxWaitlist) {
        reject(r, 'WAITLIST_LIMIT')
        continue
      }
      waitlisted.push(r)
      decisions.push({ requestId: r.requestId, studentId: r.studentId, status: 'waitlisted' })
      continue
    }
    reject(r, 'COURSE_FULL')
  }
  return { decisions, admitted, waitlisted, rehandled }
}

/** Whether a waitlisted student may take a freed seat now (rules may have changed since). */
export function mayPromote(
  credits: number,
  maxCredits: number | undefined,
  creditsHeld: number,
  alreadyEnrolled: boolean,
): RejectReason | null {
  if (alreadyEnrolled) return 'ALREADY_ENROLLED'
  if (maxCredits === undefined || creditsHeld + credits > maxCredits) return 'CREDIT_LIMIT'
  return null
}
