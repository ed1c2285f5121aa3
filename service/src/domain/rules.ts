import type { Decision, Meeting, QueuedRequest, RejectReason } from './model.js'
import type { RecordDecision } from './fairness.js'
import type { AdmissionFacts, AdmissionRules, AdmissionWrites, HeadEntry } from './ports.js'

/** What the store read under lock for one batch, with the settings that bound it. */
export interface BatchFacts extends AdmissionFacts {
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
  /**
   * The fairness record's entries for the batch, in arrival order: every decision made now (a
   * request the store already decided is reported as it was, and recorded only the first time).
   */
  readonly record: RecordDecision[]
}

/**
 * Decide a batch of requests in arrival order. Pure: it runs between the store reading the
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
  const record: RecordDecision[] = []
  let seatsLeft = facts.capacity - facts.enrolled
  const seen = new Set<string>()

  const recordAs = (kind: RecordDecision['kind'], r: QueuedRequest, reason?: RejectReason) => {
    record.push({
      kind,
      studentId: r.studentId,
      requestId: r.requestId,
      arrival: r.arrival,
      queuedAt: r.queuedAt ?? null,
      reason: reason ?? null,
    })
  }
  const reject = (r: QueuedRequest, reason: RejectReason): void => {
    decisions.push({ requestId: r.requestId, studentId: r.studentId, status: 'rejected', reason })
    recordAs('rejected', r, reason)
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
      recordAs('rewaitlisted', r)
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
    if (clashes(facts.meetings, facts.meetingsHeld.get(r.studentId) ?? [])) {
      reject(r, 'TIME_CONFLICT')
      continue
    }
    if (seatsLeft > 0) {
      seatsLeft -= 1
      admitted.push(r)
      recordAs('enrolled', r)
      decisions.push({ requestId: r.requestId, studentId: r.studentId, status: 'enrolled' })
      continue
    }
    if (r.waitlist) {
      if ((facts.waitlistHeld.get(r.studentId) ?? 0) >= facts.maxWaitlist) {
        reject(r, 'WAITLIST_LIMIT')
        continue
      }
      waitlisted.push(r)
      recordAs('waitlisted', r)
      decisions.push({ requestId: r.requestId, studentId: r.studentId, status: 'waitlisted' })
      continue
    }
    reject(r, 'COURSE_FULL')
  }
  return { decisions, admitted, waitlisted, rehandled, record }
}

/** Why a waitlisted student may not take a freed seat now (their timetable changed), or null. */
export function mayPromote(
  course: { readonly credits: number; readonly meetings: readonly Meeting[] },
  student: {
    readonly maxCredits: number | undefined
    readonly creditsHeld: number
    readonly meetingsHeld: readonly Meeting[]
    readonly enrolledHere: boolean
  },
): RejectReason | null {
  if (student.enrolledHere) return 'ALREADY_ENROLLED'
  const { maxCredits } = student
  if (maxCredits === undefined || student.creditsHeld + course.credits > maxCredits) {
    return 'CREDIT_LIMIT'
  }
  if (clashes(course.meetings, student.meetingsHeld)) return 'TIME_CONFLICT'
  return null
}

/** Whether two sets of weekly meetings overlap: the same day and at least one shared period. */
export function clashes(a: readonly Meeting[], b: readonly Meeting[]): boolean {
  return a.some((x) => b.some((y) => x.day === y.day && x.start <= y.end && y.start <= x.end))
}

/** An admission batch's decisions and what the store must write for them. */
export interface AdmissionPlan {
  readonly decisions: Decision[]
  readonly writes: AdmissionWrites
  readonly seatsLeft: number
  /** The course version the batch read. */
  readonly versionBefore: number
  /**
   * The course version after the commit: it rises whenever the seats taken or the waitlist
   * change, so that every cache of either can tell a missed change from an old one.
   */
  readonly version: number
  /** The decided-through mark after the commit (bulk rejection stops at or below it). */
  readonly decidedThrough: number
}

/**
 * What a batch means for the store: its decisions, the rows to write, and the course's counters.
 * Once any row is written for a batch, every request up to its last arrival may have a decision in
 * the store, so the decided-through mark rises to it: bulk rejection, which answers without the
 * store, must leave those requests to a batch (see bulkRejections).
 */
export function planAdmission(
  requests: readonly QueuedRequest[],
  facts: AdmissionFacts,
  rules: AdmissionRules,
): AdmissionPlan {
  const outcome = decideBatch(requests, { ...facts, maxWaitlist: rules.maxWaitlistPerStudent })
  const enrolled = facts.enrolled + outcome.admitted.length
  const wroteRows =
    outcome.admitted.length + outcome.waitlisted.length + outcome.rehandled.length > 0
  const version = wroteRows ? facts.version + 1 : facts.version
  const decidedThrough = wroteRows
    ? Math.max(facts.decidedThrough, ...requests.map((r) => r.arrival))
    : facts.decidedThrough
  return {
    decisions: outcome.decisions,
    writes: {
      enroll: outcome.admitted,
      waitlist: outcome.waitlisted,
      rewaitlist: outcome.rehandled,
      record: outcome.record,
      course: wroteRows ? { enrolled, version, decidedThrough } : null,
    },
    seatsLeft: facts.capacity - enrolled,
    versionBefore: facts.version,
    version,
    decidedThrough,
  }
}

/**
 * The requests at the head of a full course's queue that may be rejected COURSE_FULL without a
 * store transaction, in arrival order. It stops at the first request that only a batch, which
 * reads the store, may answer:
 * - one at or below the decided-through mark: the store may hold an enrollment or a waitlist
 *   place for it (a worker committed it and died before telling the queue);
 * - one that asks for the waitlist: it may get a place, and decisions keep arrival order;
 * - one whose student the cache knows anything else about in this course (enrolled, or another
 *   request, which may hold a waitlist place): the store says which answer is true
 *   (ALREADY_ENROLLED, or the waitlist place now answering to this request).
 */
export function bulkRejections(
  head: readonly HeadEntry[],
  decidedThrough: number,
): Array<Extract<Decision, { status: 'rejected' }>> {
  const out: Array<Extract<Decision, { status: 'rejected' }>> = []
  for (const r of head) {
    if (r.arrival <= decidedThrough || r.waitlist || r.standing !== 'this-request') break
    out.push({
      requestId: r.requestId,
      studentId: r.studentId,
      status: 'rejected',
      reason: 'COURSE_FULL',
    })
  }
  return out
}

/**
 * When students may ask for seats: null ends mean open from the start, or without end. The
 * opening may differ by grade year (year 4 first, as Korean universities do); a year without an
 * opening of its own opens with everyone.
 */
export interface RegistrationWindow {
  readonly opensAt: Date | null
  readonly closesAt: Date | null
  readonly opensAtByYear?: ReadonlyMap<number, Date>
}

/** When registration opens for a student of this grade year. */
export function opensAtFor(window: RegistrationWindow, year: number): Date | null {
  return window.opensAtByYear?.get(year) ?? window.opensAt
}

export function registrationOpen(window: RegistrationWindow, year: number, now: number): boolean {
  const opensAt = opensAtFor(window, year)
  if (opensAt && now < opensAt.getTime()) return false
  if (window.closesAt && now >= window.closesAt.getTime()) return false
  return true
}
