import type { Decision, RejectReason } from '../../domain/model.js'
import type { RequestRecord } from '../../domain/ports.js'
import { ArrivalQueue } from './arrival-queue.js'
import { ExpiringMap, type Clock } from './expiring.js'

/** The per-student request budget: fixed windows of this length, this many requests each. */
export interface RequestBudget {
  readonly max: number
  readonly windowMs: number
}

export interface MemoryRushOptions {
  readonly sessionTtlSeconds: number
  /** How long a decided request stays readable (the store keeps enrollments for good). */
  readonly decidedTtlSeconds: number
  /** Requests one student may make per window (sessions and the enqueue door share it). */
  readonly requestBudget: RequestBudget
  readonly clock?: Clock
  /** How often expired entries are freed (ms); reads never see them in any case. */
  readonly sweepIntervalMs?: number
}

/**
 * One enrollment request (the Redis hash `request:<id>`). Student and course are null for a
 * record that holds only a decision: one recorded after the request itself had expired, as
 * HSET recreates a hash in Redis. Such a record is no request to a reader, and expires again.
 */
export interface RequestState {
  studentId: string | null
  courseId: string | null
  arrival: number | null
  waitlist: boolean
  status: RequestRecord['status']
  reason: RejectReason | null
  /** Its place when it joined, and how many the queue had let go of by then. */
  joined: { readonly position: number; readonly removedBefore: number } | null
  /** When it joined (ms since the epoch; enqueue-request.lua's `t`). */
  queuedAt?: number
}

/** The keys of one course (`course:{<id>}:*` in Redis), the lease aside. */
export class CourseState {
  /** Request ids by arrival number. */
  readonly queue = new ArrivalQueue()
  /** Student -> their live request id, or 'E' once enrolled. */
  readonly live = new Map<string, string>()
  /** Course version and seats left, written only by a version at least as new. */
  seats: { version: number; left: number } | null = null
  /**
   * Whether the live markers hold every change through the seat cache's version (the seat cache
   * hash's 'built' field in Redis, see lua/includes/seat-cache.lua). False after the state was
   * lost with its process until the reconciler rebuilds the course.
   */
  built = false
  /** In-flight cancellations: id -> when its mark expires (ms). */
  cancelling = new Map<string, number>()
  /** When the whole set of marks expires (PEXPIRE of the last mark), or null. */
  cancellingExpiresAt: number | null = null
  /** How many requests the queue has let go of (decided or dropped), ever. */
  removed = 0

  get idle(): boolean {
    return (
      this.queue.size === 0 &&
      this.live.size === 0 &&
      this.seats === null &&
      this.cancelling.size === 0 &&
      this.removed === 0
    )
  }
}

export const ENROLLED = 'E'

/**
 * Everything the in-process rush state holds, with the primitives the Redis adapter's Lua
 * includes provide (fixed-window counters, recording a decision, the versioned seat cache,
 * cancellations in flight). JavaScript runs one piece of code at a time, so each port method,
 * which never awaits in the middle, is as atomic as a Lua script.
 */
export class RushMemory {
  readonly clock: Clock
  readonly sessionTtlMs: number
  readonly decidedTtlMs: number
  readonly budget: RequestBudget
  /** Session id -> student id. */
  readonly sessions: ExpiringMap<string, string>
  /** Fixed-window counters: request budgets and failed logins. */
  readonly counters: ExpiringMap<string, number>
  readonly requests: ExpiringMap<string, RequestState>
  /** Lease name -> holder's token. */
  readonly leases: ExpiringMap<string, string>
  readonly courses = new Map<string, CourseState>()
  /** Courses whose queue may be non-empty. */
  readonly active = new Set<string>()
  /** The global arrival counter. */
  arrivals = 0

  constructor(options: MemoryRushOptions) {
    this.clock = options.clock ?? Date.now
    this.sessionTtlMs = options.sessionTtlSeconds * 1000
    this.decidedTtlMs = options.decidedTtlSeconds * 1000
    this.budget = options.requestBudget
    this.sessions = new ExpiringMap(this.clock)
    this.counters = new ExpiringMap(this.clock)
    this.requests = new ExpiringMap(this.clock)
    this.leases = new ExpiringMap(this.clock)
  }

  /** A course's state, created on first write. */
  course(courseId: string): CourseState {
    let course = this.courses.get(courseId)
    if (!course) this.courses.set(courseId, (course = new CourseState()))
    return course
  }

  /** The student's request counter of the current budget window. */
  rateKey(studentId: string): string {
    return `rate:${studentId}:${Math.floor(this.clock() / this.budget.windowMs)}`
  }

  loginKey(scope: string, id: string): string {
    return `login-failures:${scope}:${id}`
  }

  courseLease(courseId: string): string {
    return `course:${courseId}`
  }

  // --- fixed-window counters (lua/includes/fixed-window.lua) ----------------------------------

  /** Counts one event; the count in the window so far. The window starts with its first event. */
  countInWindow(key: string, windowMs: number): number {
    const used = (this.counters.get(key) ?? 0) + 1
    if (used === 1) this.counters.set(key, used, windowMs)
    else this.counters.update(key, used)
    return used
  }

  /** Milliseconds until the counter's window ends. */
  windowLeftMs(key: string, windowMs: number): number {
    const ttl = this.counters.ttlMs(key)
    if (ttl < 0) {
      this.counters.expire(key, windowMs)
      return windowMs
    }
    return ttl
  }

  /** Counts one request against a limit: null while within it, else the ms to wait. */
  overLimit(key: string, max: number, windowMs: number): number | null {
    if (this.countInWindow(key, windowMs) > max) return this.windowLeftMs(key, windowMs)
    return null
  }

  // --- sessions -------------------------------------------------------------------------------

  /** Whether the session is alive and names this student. */
  sessionNames(sessionId: string, studentId: string): boolean {
    return this.sessions.get(sessionId) === studentId
  }

  // --- decisions (lua/includes/decisions.lua) ------------------------------------------------

  /**
   * Records a decision on a request (kept decidedTtl for the student to read) and keeps the
   * course's live marker of the student in step: 'E' once enrolled; the request once it holds
   * the student's waitlist place; removed when the request it pointed at was rejected.
   */
  recordDecision(
    course: CourseState,
    requestId: string,
    studentId: string,
    status: Decision['status'],
    reason: RejectReason | null,
  ): void {
    const record = this.requests.get(requestId)
    if (record) {
      record.status = status
      record.reason = reason
      this.requests.expire(requestId, this.decidedTtlMs)
    } else {
      this.requests.set(
        requestId,
        {
          studentId: null,
          courseId: null,
          arrival: null,
          waitlist: false,
          status,
          reason,
          joined: null,
        },
        this.decidedTtlMs,
      )
    }
    if (status === 'enrolled') {
      course.live.set(studentId, ENROLLED)
    } else if (status === 'waitlisted') {
      course.live.set(studentId, requestId)
    } else if (status === 'rejected' && course.live.get(studentId) === requestId) {
      course.live.delete(studentId)
    }
  }

  // --- the seat cache (lua/includes/seat-cache.lua) ------------------------------------------

  /**
   * Writes the cache unless it holds a newer version; true when it wrote. The markers stay known
   * complete only through a change from version 0 or one that follows the cache's version.
   */
  writeSeatCache(course: CourseState, version: number, left: number, from: number): boolean {
    const cached = course.seats?.version ?? -1
    if (version < cached) return false
    course.built = from === 0 || (course.built && from <= cached)
    course.seats = { version, left }
    return true
  }

  /** True when the cache says no seat is left, and its markers are known complete. */
  knownFull(course: CourseState | undefined): boolean {
    return course?.built === true && course.seats?.left === 0
  }

  /** The course's cancellation marks, once the set as a whole has not expired. */
  marks(course: CourseState): Map<string, number> {
    if (course.cancellingExpiresAt !== null && course.cancellingExpiresAt <= this.clock()) {
      course.cancelling.clear()
      course.cancellingExpiresAt = null
    }
    return course.cancelling
  }

  /** True while a cancellation of the course is between its mark and its reflection. */
  cancellationInFlight(course: CourseState | undefined): boolean {
    if (!course) return false
    const now = this.clock()
    for (const until of this.marks(course).values()) if (until > now) return true
    return false
  }

  /** Drops marks whose time is up (ZREMRANGEBYSCORE -inf now). */
  dropExpiredMarks(course: CourseState): void {
    const now = this.clock()
    const marks = this.marks(course)
    for (const [id, until] of marks) if (until <= now) marks.delete(id)
  }

  // --- housekeeping ---------------------------------------------------------------------------

  /** Frees everything that has expired, and the state of courses that hold nothing. */
  sweep(): void {
    this.sessions.sweep()
    this.counters.sweep()
    this.requests.sweep()
    this.leases.sweep()
    for (const [courseId, course] of this.courses) {
      this.dropExpiredMarks(course)
      if (course.cancelling.size === 0) course.cancellingExpiresAt = null
      if (course.idle && !this.active.has(courseId)) this.courses.delete(courseId)
    }
  }
}
