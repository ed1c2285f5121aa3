import type {
  Course,
  CourseSnapshot,
  CourseVersion,
  Decision,
  DurableRequest,
  Enrollment,
  QueuedRequest,
  RejectReason,
  SeatState,
  StudentAccount,
} from './model.js'

/** Outcome of one admission transaction. */
export interface AdmissionResult extends SeatState {
  readonly kind: 'decided'
  readonly decisions: Decision[]
  /** The course's decided-through mark after the commit (bulk rejection stops at or below it). */
  readonly decidedThrough: number
}

export type AdmitOutcome =
  | AdmissionResult
  /** Another worker fenced the course since this one did: it must stop deciding it. */
  | { readonly kind: 'fenced' }
  | { readonly kind: 'no-course' }

export type CancelResult =
  | { readonly ok: false }
  | (SeatState & {
      readonly ok: true
      readonly promoted: { readonly studentId: string; readonly requestId: string } | null
      /** Waitlisted requests dropped because the rules no longer allow them. */
      readonly dropped: ReadonlyArray<{ readonly requestId: string; readonly reason: RejectReason }>
    })

/**
 * The durable store (MySQL in production). Everything here is the truth; nothing in it depends
 * on the queue.
 */
export interface RegistrationStore {
  migrate(): Promise<void>
  ping(): Promise<void>
  close(): Promise<void>

  /** Catalogue reads: may come from a replica and lag slightly. */
  listCourses(): Promise<Course[]>
  findCourse(courseId: string): Promise<Course | null>
  findStudent(studentId: string): Promise<StudentAccount | null>
  /** Replaces a password hash (a successful login upgrades it to the current cost). */
  updatePasswordHash(studentId: string, passwordHash: string): Promise<void>

  /** Reads that must see the student's own writes: always the primary. */
  listEnrollments(studentId: string): Promise<Enrollment[]>
  findDurableRequest(requestId: string): Promise<DurableRequest | null>

  /**
   * Take the course for a new admission lease holder: raise its fence and return the new value
   * (null when the course does not exist). It waits for a transaction of the previous holder that
   * still holds the course row, and makes any later one of that holder's fail: a worker that was
   * paused or cut off while another took over can never commit over it.
   */
  fence(courseId: string): Promise<number | null>

  /**
   * Decide a batch in one transaction: lock the course row, check the fence, lock the students'
   * rows in id order, apply the rules, insert enrollments and waitlist entries, update the count
   * and the decided-through mark, commit.
   */
  admit(
    courseId: string,
    fence: number,
    requests: readonly QueuedRequest[],
    rules: AdmissionRules,
  ): Promise<AdmitOutcome>

  /** Drop an enrollment and hand the seat to the waitlist head, in the same transaction. */
  cancel(studentId: string, courseId: string): Promise<CancelResult>

  /**
   * How far the read replica is behind the primary, in seconds: 0 without a replica (reads go
   * to the primary), Infinity when replication has stopped, null when it cannot be read.
   */
  replicaLagSeconds(): Promise<number | null>

  /**
   * Courses holding more enrollment rows than seats, or whose enrolled column disagrees with
   * its rows. Must always be 0.
   */
  countOverCapacity(): Promise<number>

  /** Every course's version and decided-through mark, from the primary. */
  courseVersions(): Promise<CourseVersion[]>
  /** A course's seats and enrolled students in one consistent read (null if it is gone). */
  courseSnapshot(courseId: string): Promise<CourseSnapshot | null>
}

/** Rules that are settings rather than data. */
export interface AdmissionRules {
  /** Most waitlist places one student may hold at once, over all courses. */
  readonly maxWaitlistPerStudent: number
}

export type EnqueueResult =
  | {
      readonly kind: 'created' | 'existing'
      readonly requestId: string
      readonly status: 'queued' | 'waitlisted'
      readonly position: number
      readonly queueLength: number
    }
  | { readonly kind: 'unauthenticated' }
  | { readonly kind: 'rate-limited'; readonly retryAfterMs: number }
  | { readonly kind: 'course-full' }
  | { readonly kind: 'already-enrolled' }

export interface EnqueueInput {
  readonly sessionId: string
  readonly studentId: string
  readonly courseId: string
  readonly requestId: string
  readonly waitlist: boolean
}

export type AuthorizeResult =
  | { readonly kind: 'ok' }
  | { readonly kind: 'unauthenticated' }
  | { readonly kind: 'rate-limited'; readonly retryAfterMs: number }

export interface RequestRecord {
  readonly requestId: string
  readonly studentId: string
  readonly courseId: string
  readonly status: 'queued' | 'waitlisted' | 'enrolled' | 'rejected'
  readonly reason: RejectReason | null
  /** 1-based place in the course queue while queued. */
  readonly position: number | null
}

/**
 * The rush queue and the short-lived state around it (Redis in production): sessions, rate
 * limits, queues, leases, decisions for a while, seat cache. Losing it may lose queued requests,
 * never an enrollment.
 */
export interface RegistrationQueue {
  /** Resolves once the queue can take commands (or rejects after the timeout). */
  connect(timeoutMs?: number): Promise<void>
  ping(): Promise<void>
  close(): Promise<void>

  createSession(sessionId: string, studentId: string): Promise<void>
  destroySession(sessionId: string): Promise<void>
  authorize(sessionId: string, studentId: string): Promise<AuthorizeResult>
  /** Whether a login may be tried now (nothing is counted). */
  checkLogin(attempt: LoginAttempt): Promise<LoginCheck>
  /** Counts a failed login against the attempt's limits. */
  loginFailed(attempt: LoginAttempt): Promise<void>

  enqueue(input: EnqueueInput): Promise<EnqueueResult>
  getRequest(requestId: string): Promise<RequestRecord | null>
  queueLength(courseId: string): Promise<number>

  activeCourses(): Promise<string[]>
  /** 'renewed' while the caller held it all along, 'taken' when it was free, else 'held'. */
  acquireLease(courseId: string, token: string, ttlMs: number): Promise<LeaseResult>
  releaseLease(courseId: string, token: string): Promise<void>
  /** The head of the queue, or null if the lease is no longer the caller's. */
  peek(courseId: string, token: string, count: number): Promise<QueuedRequest[] | null>
  /** Returns the queue length left, or null if the lease was lost. */
  settle(
    courseId: string,
    token: string,
    decisions: readonly Decision[],
    seats: SeatState,
  ): Promise<number | null>
  /**
   * Rejects the head of a full course's queue in bulk, stopping at a waitlist request and at the
   * decided-through mark. Returns how many were rejected, or null if the lease was lost or the
   * course is not known to be full.
   */
  rejectFullHead(
    courseId: string,
    token: string,
    limit: number,
    decidedThrough: number,
  ): Promise<number | null>

  /** Marks a cancellation as in flight (before its MySQL transaction); it expires by itself. */
  beginCancel(courseId: string, cancellationId: string, ttlMs: number): Promise<void>
  /** Removes the mark of a cancellation that did not commit. */
  abandonCancel(courseId: string, cancellationId: string): Promise<void>
  /** Records a committed cancellation and removes its mark. Idempotent. */
  reflectCancel(
    studentId: string,
    courseId: string,
    cancellationId: string,
    result: Extract<CancelResult, { ok: true }>,
  ): Promise<void>

  /** Seat-cache versions of the given courses (-1 where the cache has none). */
  seatCacheVersions(courseIds: readonly string[]): Promise<Map<string, number>>
  /** Rewrites a course's seat cache and live markers from a MySQL snapshot unless newer. */
  repairCourse(courseId: string, snapshot: CourseSnapshot): Promise<boolean>
  /** Keeps the arrival counter above every arrival number MySQL has recorded. */
  raiseArrivalCounter(least: number): Promise<void>
  /** The instance-wide lease of the reconciler (one instance sweeps at a time). */
  acquireReconcilerLease(token: string, ttlMs: number): Promise<boolean>
}

export type LeaseResult = 'taken' | 'renewed' | 'held'

export interface LoginAttempt {
  readonly studentId: string
  readonly address: string
  /** The token of a device cookie issued to this very student, if the browser sent one. */
  readonly device: string | null
  readonly limits: {
    readonly account: { readonly max: number; readonly windowMs: number }
    readonly address: { readonly max: number; readonly windowMs: number }
    readonly device: { readonly max: number; readonly windowMs: number }
  }
}

export type LoginCheck =
  | { readonly kind: 'ok' }
  | {
      readonly kind: 'address-limited' | 'account-locked' | 'device-limited'
      readonly retryAfterMs: number
    }
