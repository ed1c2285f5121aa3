import type {
  Course,
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
  readonly decisions: Decision[]
}

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

  /** Reads that must see the student's own writes: always the primary. */
  listEnrollments(studentId: string): Promise<Enrollment[]>
  findDurableRequest(requestId: string): Promise<DurableRequest | null>

  /**
   * Decide a batch in one transaction: lock the course row, lock the students' rows in id order,
   * apply the rules, insert enrollments and waitlist entries, update the count, commit.
   * Returns null when the course does not exist.
   */
  admit(courseId: string, requests: readonly QueuedRequest[]): Promise<AdmissionResult | null>

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
  /** Counts an attempt against a named fixed-window limit; returns retry-after ms or 0. */
  countAttempt(key: string, max: number, windowMs: number): Promise<number>

  enqueue(input: EnqueueInput): Promise<EnqueueResult>
  getRequest(requestId: string): Promise<RequestRecord | null>
  queueLength(courseId: string): Promise<number>

  activeCourses(): Promise<string[]>
  acquireLease(courseId: string, token: string, ttlMs: number): Promise<boolean>
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
  /** Returns how many were rejected, or null if the lease was lost or the course is not full. */
  rejectFullHead(courseId: string, token: string, limit: number): Promise<number | null>
  reflectCancel(
    studentId: string,
    courseId: string,
    result: Extract<CancelResult, { ok: true }>,
  ): Promise<void>
}
