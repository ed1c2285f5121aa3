/**
 * The ports the domain calls, one per concern, each small enough that a second implementation
 * (the embedded SQLite + in-process adapters) is obvious. Adapters translate; every rule lives
 * in the domain (rules.ts and the services that call these ports).
 */
import type {
  CartItem,
  Course,
  CourseSnapshot,
  CourseVersion,
  Decision,
  DurableRequest,
  Enrollment,
  Meeting,
  QueuedRequest,
  RejectReason,
  SeatChange,
  StudentAccount,
} from './model.js'
import type { ConfirmationBacklog } from './confirmations.js'
import type { CourseNow, RecordDecision, RecordEntry, RecordHead } from './fairness.js'
import type { OperatorAction, OperatorStore } from './operations.js'

// ---------------------------------------------------------------------------------------------
// The durable store (MySQL in production). Everything here is the truth.

/** Catalogue reads: may come from a replica and lag slightly. */
export interface CourseReader {
  listCourses(): Promise<Course[]>
  findCourse(courseId: string): Promise<Course | null>
}

export interface AccountStore {
  findStudent(studentId: string): Promise<StudentAccount | null>
  /** Replaces a password hash (a successful login upgrades it to the current cost). */
  updatePasswordHash(studentId: string, passwordHash: string): Promise<void>
}

/** A student's own records: read on the primary, so a student always sees their own writes. */
export interface StudentRecords {
  listEnrollments(studentId: string): Promise<Enrollment[]>
  /** Where a request stands in the store (enrolled, or waitlisted with its place), in one read. */
  findDurableRequest(requestId: string): Promise<DurableRequest | null>
}

/** What one admission transaction read under its locks. */
export interface AdmissionFacts {
  readonly credits: number
  readonly capacity: number
  readonly enrolled: number
  readonly version: number
  /** When the course meets. */
  readonly meetings: readonly Meeting[]
  /** Highest arrival number whose decision the store may hold. */
  readonly decidedThrough: number
  /** Students that exist, with their credit limit. */
  readonly maxCredits: ReadonlyMap<string, number>
  /** Credits each student already holds, over all courses. */
  readonly creditsHeld: ReadonlyMap<string, number>
  /** When the courses each student is enrolled in meet. */
  readonly meetingsHeld: ReadonlyMap<string, readonly Meeting[]>
  /** For students already enrolled in this course: the request that enrolled them (or null). */
  readonly enrolledBy: ReadonlyMap<string, string | null>
  /** For students already on this course's waitlist: their waitlist request id. */
  readonly waitlistedBy: ReadonlyMap<string, string>
  /** Waitlist places each student holds, over all courses. */
  readonly waitlistHeld: ReadonlyMap<string, number>
}

/** What one admission transaction writes before it commits. */
export interface AdmissionWrites {
  /** New enrollments, in arrival order. */
  readonly enroll: readonly QueuedRequest[]
  /** New waitlist places, appended in arrival order. */
  readonly waitlist: readonly QueuedRequest[]
  /** Waitlist places that now answer to a newer request of the same student. */
  readonly rewaitlist: readonly QueuedRequest[]
  /** The fairness record's entries for the batch's decisions, in arrival order. */
  readonly record: readonly RecordDecision[]
  /** The course row's new counters, or null to leave it as it is. */
  readonly course: {
    readonly enrolled: number
    readonly version: number
    readonly decidedThrough: number
  } | null
}

export type FencedOutcome<T> =
  | {
      readonly kind: 'done'
      readonly value: T
      /**
       * Where the batch's students stand on the course's waitlist after the commit: request id
       * -> place (the waitlist's order key), for each of them holding a place there.
       */
      readonly waitlistPlaces: ReadonlyMap<string, number>
    }
  /** Another worker fenced the course since this one did: it must stop deciding it. */
  | { readonly kind: 'fenced' }
  | { readonly kind: 'no-course' }

/** One student at the head of a course's waitlist, taken off it under lock. */
export interface WaitlistHead {
  readonly studentId: string
  readonly requestId: string
  /** Undefined when the student no longer exists. */
  readonly maxCredits: number | undefined
  readonly creditsHeld: number
  /** When the courses the student is enrolled in meet. */
  readonly meetingsHeld: readonly Meeting[]
  readonly enrolledHere: boolean
}

/**
 * The writes of one transaction that changes a course's seats or waitlist outside admission (a
 * cancellation, a leave, a capacity change): the course row is locked, and the canceller if
 * there is one.
 */
export interface CancellationTx {
  readonly course: {
    readonly credits: number
    readonly capacity: number
    readonly enrolled: number
    readonly version: number
    readonly meetings: readonly Meeting[]
  }
  /** Deletes the canceller's enrollment; false when there was none. Needs a canceller. */
  removeEnrollment(): Promise<boolean>
  /**
   * Deletes the canceller's place on the course's waitlist: its request id, or null if none.
   * Needs a canceller.
   */
  removeWaitlistPlace(): Promise<string | null>
  /**
   * Sets the course's capacity (never below its seats taken) and records the change (a
   * `capacity` entry): called before the promotions a raise makes room for.
   */
  changeCapacity(capacity: number): Promise<void>
  /** Takes the head off the waitlist, its student locked; null when the waitlist is empty. */
  takeWaitlistHead(): Promise<WaitlistHead | null>
  enroll(studentId: string, requestId: string): Promise<void>
  /** Records that the head just taken off the waitlist was dropped, and why (the fairness record). */
  passOver(studentId: string, requestId: string, reason: RejectReason): void
  updateCourse(enrolled: number, version: number): Promise<void>
  /** Records an operator's action (operator_actions), committed with the change it made. */
  recordAction(action: OperatorAction): Promise<void>
}

/** The transactions of admission and cancellation: locks and rows, no rules. */
export interface AdmissionStore {
  /**
   * Take the course for a new admission lease holder: raise its fence and return the new value
   * (null when the course does not exist). It waits for a transaction of the previous holder that
   * still holds the course row, and makes any later one of that holder's fail.
   */
  fence(courseId: string): Promise<number | null>
  /**
   * One transaction: lock the course row and check the fence, lock the students' rows in id
   * order, read the facts, let `decide` (pure, synchronous) say what to write, write, read the
   * students' waitlist places in the course, commit.
   */
  admit<T>(
    courseId: string,
    fence: number,
    studentIds: readonly string[],
    decide: (facts: AdmissionFacts) => { readonly writes: AdmissionWrites; readonly value: T },
  ): Promise<FencedOutcome<T>>
  /**
   * One transaction that locks the course row, then the canceller (none for a capacity change:
   * null) with the first `heads(course)` students of the waitlist (1 by default), in id order,
   * and runs `work` on them; null when the course does not exist. Heads taken beyond those are
   * locked as they are taken. `work` must use only the transaction object, and may run again
   * when the store retries the transaction (MySQL does after a deadlock).
   */
  cancel<T>(
    studentId: string | null,
    courseId: string,
    work: (tx: CancellationTx) => Promise<T>,
    heads?: (course: CancellationTx['course']) => number,
  ): Promise<T | null>
  /**
   * Records rejections decided without a batch (a full course's queue head, rules.bulkRejections)
   * in the fairness record, in one transaction that locks the course row and checks the fence,
   * before the queue tells anyone: 'not-full' (nothing written) when a seat is free after all.
   */
  recordRejections(
    courseId: string,
    fence: number,
    decisions: readonly RecordDecision[],
  ): Promise<'recorded' | 'fenced' | 'not-full' | 'no-course'>
}

/** A request's own entries in its course's fairness record, for its student. */
export interface RequestFairness {
  readonly courseId: string
  readonly studentId: string
  readonly arrival: number | null
  /** Requests of the course recorded with an earlier arrival number. */
  readonly arrivedBefore: number | null
  readonly entries: RecordEntry[]
  readonly head: RecordHead
}

/** Reads of the fairness record (domain/fairness.ts): the audit, a student's entries, a digest. */
export interface FairnessRecordReads {
  /** Courses as they are now (every course, or the one named), ordered by id. */
  recordCourses(courseId?: string): Promise<CourseNow[]>
  /** A course's entries in seq order, up to `throughSeq`. */
  recordEntries(courseId: string, throughSeq: number): Promise<RecordEntry[]>
  requestRecord(requestId: string): Promise<RequestFairness | null>
  /** A course's chain head: the digest anyone can compare; null when there is no course. */
  recordHead(courseId: string): Promise<RecordHead | null>
}

export type AddToCartResult = 'added' | 'cart-full' | 'course-not-found'

/** Carts (장바구니): courses a student saved to request together once registration opens. */
export interface CartStore {
  /** The student's cart in the order the courses were added. */
  listCart(studentId: string): Promise<CartItem[]>
  /**
   * Adds a course at the end, unless the cart already holds `limit` courses. Adding a course
   * already there is a no-op ('added', even in a full cart). Atomic: concurrent additions, on any
   * instance, never take a cart past `limit`.
   */
  addToCart(studentId: string, courseId: string, limit: number): Promise<AddToCartResult>
  /** False when the course was not in the cart. */
  removeFromCart(studentId: string, courseId: string): Promise<boolean>
  /**
   * Puts the cart in this order (each course keeps when it was added), in one transaction: true
   * when `courseIds` names exactly the courses in the cart, false (nothing changed) otherwise.
   */
  reorderCart(studentId: string, courseIds: readonly string[]): Promise<boolean>
}

/** Reads that compare the queue's caches with the truth, and health figures. */
export interface ConsistencyReads {
  /** Every course's version and decided-through mark, from the primary. */
  courseVersions(): Promise<CourseVersion[]>
  /** A course's seats and enrolled students in one consistent read (null if it is gone). */
  courseSnapshot(courseId: string): Promise<CourseSnapshot | null>
  /** Courses holding more enrollment rows than seats, or whose count disagrees. Must be 0. */
  countOverCapacity(): Promise<number>
  /** Seconds the replica is behind: 0 without one, Infinity when stopped, null when unknown. */
  replicaLagSeconds(): Promise<number | null>
  /** Confirmation e-mails still owed, and those that ended dead (may lag on a replica). */
  confirmationBacklog(): Promise<ConfirmationBacklog>
}

export interface Lifecycle {
  ping(): Promise<void>
  close(): Promise<void>
}

export interface StoreLifecycle extends Lifecycle {
  migrate(): Promise<void>
}

/** Everything the durable store offers (the MySQL adapter implements all of it). */
export type RegistrationStore = CourseReader &
  AccountStore &
  CartStore &
  StudentRecords &
  AdmissionStore &
  FairnessRecordReads &
  OperatorStore &
  ConsistencyReads &
  StoreLifecycle

// ---------------------------------------------------------------------------------------------
// The rush state (Redis in production): losing it may lose queued requests, never an enrollment.

/** The session a student's request came with, and the student its signed cookie names. */
export interface SessionRef {
  readonly sessionId: string
  readonly studentId: string
}

/** What a student's authenticated read of a request found. */
export type StudentRead =
  | { readonly kind: 'unauthenticated' }
  | { readonly kind: 'rate-limited'; readonly retryAfterMs: number }
  | { readonly kind: 'read'; readonly record: RequestRecord | null }

export type AuthorizeResult =
  | { readonly kind: 'ok' }
  | { readonly kind: 'unauthenticated' }
  | { readonly kind: 'rate-limited'; readonly retryAfterMs: number }

/** Sessions valid on every instance, and the per-student request budget they carry. */
export interface Sessions {
  create(sessionId: string, studentId: string): Promise<void>
  /** Ends a session (the student it names: a cluster keeps it in the student's slot). */
  destroy(sessionId: string, studentId: string): Promise<void>
  /** Whether the session is alive and names this student; counts the request against its budget. */
  authorize(sessionId: string, studentId: string): Promise<AuthorizeResult>
}

export interface LoginAttempt {
  readonly studentId: string
  readonly address: string
  /** The token of a device cookie issued to this very student, if the browser sent one. */
  readonly device: string | null
  /** Whether the address is one of the campus's own (shared by many students: LOGIN_CAMPUS_NETWORKS). */
  readonly campus: boolean
  readonly limits: {
    readonly account: { readonly max: number; readonly windowMs: number }
    readonly address: { readonly max: number; readonly windowMs: number }
    readonly device: { readonly max: number; readonly windowMs: number }
    /** Failures per account a campus address over its own limit may still make. */
    readonly campusAccount: { readonly max: number }
  }
}

export type LoginCheck =
  | { readonly kind: 'ok'; readonly reservation: LoginReservation }
  | {
      readonly kind: 'address-limited' | 'account-locked' | 'device-limited'
      readonly retryAfterMs: number
    }

/** One fixed-window counter of failed logins. */
export interface FailureCounter {
  readonly scope: 'account' | 'address' | 'device'
  readonly id: string
  /** Most failures per window. */
  readonly max: number
  readonly windowMs: number
}

/**
 * An attempt counted on some failure counters before its password was checked: it stays counted
 * as a failure unless released. `windows` names the window of each counter it was counted in.
 */
export interface LoginReservation {
  readonly counters: readonly FailureCounter[]
  readonly windows: readonly string[]
}

export type ReserveResult =
  | { readonly kind: 'reserved'; readonly reservation: LoginReservation }
  | { readonly kind: 'refused'; readonly index: number; readonly retryAfterMs: number }

/**
 * Counters of failed logins (which ones apply is the domain's rule: logins.ts). An attempt takes
 * its place on the counters atomically before its password is checked, so attempts in flight
 * count: however many arrive at once, no more are checked than the limits allow.
 */
export interface LoginThrottle {
  /**
   * In one atomic step: refuses (counting nothing) with the first counter, in order, that has
   * reached its max and the ms until its window ends; else counts one on every counter.
   */
  reserve(counters: readonly FailureCounter[]): Promise<ReserveResult>
  /**
   * Takes back a reservation (the password was right): one less on each counter, in the window
   * it was counted in. A window that ended since is left alone: the next one owes nothing.
   */
  release(reservation: LoginReservation): Promise<void>
  /** Forgets one counter's failures. */
  clear(scope: FailureCounter['scope'], id: string): Promise<void>
}

export interface EnqueueInput {
  readonly sessionId: string
  readonly studentId: string
  readonly courseId: string
  readonly requestId: string
  /** Whether the student takes a waitlist place if no seat is left (the batch decides). */
  readonly waitlist: boolean
  /**
   * Refuse at the door (course-full) instead of queueing while the seat cache says the course
   * is full and no cancellation of it is in flight.
   */
  readonly refuseWhenFull: boolean
}

export type EnqueueResult =
  | {
      readonly kind: 'created' | 'existing'
      readonly requestId: string
      readonly status: 'queued' | 'waitlisted'
      /** 1-based place in the queue while queued (0 for a waitlisted request: the store knows). */
      readonly position: number
      readonly queueLength: number
    }
  | { readonly kind: 'unauthenticated' }
  | { readonly kind: 'rate-limited'; readonly retryAfterMs: number }
  | { readonly kind: 'course-full' }
  | { readonly kind: 'already-enrolled' }

export interface RequestRecord {
  readonly requestId: string
  readonly studentId: string
  readonly courseId: string
  readonly status: 'queued' | 'waitlisted' | 'enrolled' | 'rejected'
  readonly reason: RejectReason | null
  /**
   * 1-based place: in the course queue while queued; on the course's waitlist while waitlisted,
   * when the queue's mirror of the waitlist can vouch for it (1 + the places ahead in the store).
   * Null when the queue cannot say.
   */
  readonly position: number | null
  /**
   * Where it joined: its place then, and how many requests the course's queue had let go of by
   * then. While it waits, its place is `position - (progress now - removedBefore)`: a queue only
   * lets go of its head.
   */
  readonly joined: { readonly position: number; readonly removedBefore: number } | null
}

/** What the queue's cache says about the student of a queued request, in that course. */
export type CachedStanding =
  /** Their live request in the course is this one, and nothing else is known of them. */
  | 'this-request'
  /** Enrolled (as far as the cache knows). */
  | 'enrolled'
  /** Another request of theirs (waitlisted, decided, or expired), or nothing at all. */
  | 'other'

export interface HeadEntry extends QueuedRequest {
  readonly standing: CachedStanding
}

/** The per-course waiting queues, in arrival order. */
export interface WaitingQueue {
  /** Authenticates, rate-limits and queues in one step (the door of the rush). */
  enqueue(input: EnqueueInput): Promise<EnqueueResult>
  request(requestId: string): Promise<RequestRecord | null>
  /**
   * A student's status check: authenticates, rate-limits and reads the request in one step (the
   * request may be another student's: the caller decides what to tell).
   */
  studentRequest(session: SessionRef, requestId: string): Promise<StudentRead>
  length(courseId: string): Promise<number>
  /** Courses whose queue may be non-empty. */
  activeCourses(): Promise<string[]>
  /**
   * Up to `count` requests from the head of the queue, in arrival order. An empty queue leaves
   * the active courses; an entry whose request is gone is dropped.
   */
  head(courseId: string, count: number): Promise<HeadEntry[]>
  /**
   * Records committed decisions (a waitlisted one with its place, which the queue's mirror of
   * the waitlist takes if the batch is the next change it expects); the queue length left, or
   * null if the lease was lost.
   */
  settle(
    courseId: string,
    leaseToken: string,
    decisions: readonly Decision[],
    seats: SeatChange,
  ): Promise<number | null>
  /**
   * Records rejections decided without the store, if the lease is still held and the seat cache
   * still says the course is full with no cancellation in flight. How many were recorded (from
   * the head, stopping at one no longer queued or whose student's marker no longer names it:
   * a rebuild since the head was read may have learned the student holds a seat or a place),
   * or why none could be.
   */
  rejectHead(
    courseId: string,
    leaseToken: string,
    rejections: ReadonlyArray<Extract<Decision, { status: 'rejected' }>>,
  ): Promise<number | 'lease-lost' | 'not-full'>
  /**
   * Keeps each course's arrival counter above every arrival number the store has recorded for it
   * (an embedded queue may number every course from one counter).
   */
  raiseArrivalCounters(least: ReadonlyMap<string, number>): Promise<void>
  /**
   * A new request id for a course: a UUID, which on Redis names the course's slot group so that a
   * read by id alone finds it.
   */
  newRequestId(courseId: string): string
  /**
   * How many requests each course's queue has let go of so far (decided, or dropped): one
   * number per course tells every waiting student of that course where they now stand.
   */
  progress(courseIds: readonly string[]): Promise<Map<string, number>>
}

export type LeaseResult = 'taken' | 'renewed' | 'held'

/** Time-limited leases: one admission worker per course, one reconciler in the fleet. */
export interface Leases {
  /** 'renewed' while the caller held it all along, 'taken' when it was free, else 'held'. */
  acquireCourse(courseId: string, token: string, ttlMs: number): Promise<LeaseResult>
  releaseCourse(courseId: string, token: string): Promise<void>
  acquireReconciler(token: string, ttlMs: number): Promise<boolean>
  /**
   * Takes up to `count` decisions from this second's budget of `perSecond`, shared by every
   * instance (an operator's overall ceiling): how many were granted, 0 when the second's budget
   * is spent. Seconds are the shared store's clock, so instances agree on them.
   */
  takeAdmissions(count: number, perSecond: number): Promise<number>
}

/** A waitlisted request that took a seat outside admission. */
export interface Promotion {
  readonly studentId: string
  readonly requestId: string
}

/**
 * A committed cancellation, leave or capacity change, as the seat cache must learn it. The new
 * capacity is in `seatsLeft`: the cache keeps no capacity of its own.
 */
export interface CancellationChange extends SeatChange {
  readonly cancellationId: string
  /** Who gave up a seat or a place; null for a capacity change. */
  readonly studentId: string | null
  /**
   * The waitlist heads that took a seat, in the waitlist's order: one at most for a
   * cancellation, as many as a capacity raise freed (see promotionsOf, domain/cancellation.ts).
   */
  readonly promoted: Promotion | readonly Promotion[] | null
  /** Waitlisted requests dropped because the rules no longer allow them. */
  readonly dropped: ReadonlyArray<{
    readonly requestId: string
    readonly studentId: string
    readonly reason: RejectReason
  }>
}

/** Seats left per course, who holds one, and the cancellations that may be changing them. */
export interface SeatCache {
  /** Marks a cancellation as in flight (before its store transaction); it expires by itself. */
  markCancellation(courseId: string, cancellationId: string, ttlMs: number): Promise<void>
  /** Removes the mark of a cancellation that did not commit. */
  unmarkCancellation(courseId: string, cancellationId: string): Promise<void>
  /** Records a committed cancellation and removes its mark. Idempotent. */
  reflectCancellation(courseId: string, change: CancellationChange): Promise<void>
  /**
   * Cache versions of the given courses: the course version every part of a course's cache (the
   * seat count and markers, the waitlist's mirror) has caught up with; -1 where one is missing.
   */
  versions(courseIds: readonly string[]): Promise<Map<string, number>>
  /** Rewrites each part of a course's cache from a store snapshot unless that part is as new. */
  repair(courseId: string, snapshot: CourseSnapshot): Promise<boolean>
}

/** The connection behind the rush state. */
export interface QueueLifecycle extends Lifecycle {
  /** Resolves once commands can be sent (or rejects after the timeout). */
  connect(timeoutMs?: number): Promise<void>
}

/** Everything the rush state offers (the Redis adapter implements all of it). */
export interface RushState {
  readonly sessions: Sessions
  readonly logins: LoginThrottle
  readonly queue: WaitingQueue
  readonly leases: Leases
  readonly seats: SeatCache
  readonly lifecycle: QueueLifecycle
}

/** Rules that are settings rather than data. */
export interface AdmissionRules {
  /** Most waitlist places one student may hold at once, over all courses. */
  readonly maxWaitlistPerStudent: number
}
