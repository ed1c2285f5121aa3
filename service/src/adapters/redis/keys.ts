import type { FailureCounter } from '../../domain/ports.js'

/**
 * The Redis key schema: every key name the service uses is spelled here and nowhere else (the
 * Lua scripts receive their keys; tests and tools build them through this module).
 *
 * A course's keys share the hash tag `{<course id>}`, so in a Redis Cluster they would sit in one
 * slot and the per-course scripts (peek, settle, reject, cancel, repair) would stay single-slot.
 * Reading a request learns its course from the request's hash, inside the script, so that script
 * builds the course's keys itself from the affixes this module gives it (`courseKeysAround`).
 * Joining a queue also touches the student's session and rate-limit keys, the global arrival
 * counter and the set of active courses, so the service as a whole still needs one Redis
 * primary (see docs/architecture.md).
 */
export interface KeySchemaOptions {
  /** Prefix of every key, so that several deployments or tests can share one Redis. */
  readonly prefix: string
  readonly sessionTtlSeconds: number
  /** How long a decided request stays readable (MySQL keeps enrollments for good). */
  readonly decidedTtlSeconds: number
}

/** The keys of one course, all under the course's hash tag. */
export interface CourseKeys {
  /** Sorted set: request id scored by arrival number (the waiting queue). */
  readonly queue: string
  /** Hash: student id -> their live request id, or 'E' once enrolled. */
  readonly live: string
  /** Hash: v = course version, left = seats left (written only by newer versions). */
  readonly seats: string
  /** Sorted set: cancellation id scored by the expiry (ms) of its in-flight mark. */
  readonly cancelling: string
  /** String: token of the instance holding the course's admission lease. */
  readonly lease: string
  /** Counter: how many requests the queue has let go of (decided or dropped), ever. */
  readonly removed: string
  /**
   * Sorted set: waitlisted request id scored by its place (the MySQL waitlist row id), mirroring
   * the course's waitlist in MySQL for reads. The seat cache's `wv` field is the course version
   * through which it holds every change.
   */
  readonly waitlist: string
}

/** A course's key around its course id: `before + courseId + after`. */
export interface KeyAround {
  readonly before: string
  readonly after: string
}

/** Never part of a course id: marks where the id goes in `courseKeysAround`. */
const COURSE_ID_MARK = '\u0000'

export type LoginFailureScope = FailureCounter['scope']

export class RedisKeys {
  readonly #p: string
  readonly ttl: { readonly sessionSeconds: number; readonly decidedSeconds: number }

  constructor(options: KeySchemaOptions) {
    this.#p = options.prefix
    this.ttl = {
      sessionSeconds: options.sessionTtlSeconds,
      decidedSeconds: options.decidedTtlSeconds,
    }
  }

  get prefix(): string {
    return this.#p
  }

  /** String: the student id of a live session. */
  session(sessionId: string): string {
    return `${this.#p}session:${sessionId}`
  }

  /** Counter of a student's requests in one fixed rate-limit window. */
  requestRate(studentId: string, window: number): string {
    return `${this.#p}rate:${studentId}:${window}`
  }

  /** Counter of failed logins in one scope (expires with its window). */
  loginFailures(scope: LoginFailureScope, id: string): string {
    return `${this.#p}login-failures:${scope}:${id}`
  }

  /** Hash of one enrollment request: s student, c course, q arrival, w waitlist, st status, r reason. */
  request(requestId: string): string {
    return `${this.requestPrefix}${requestId}`
  }

  /**
   * What precedes a request id in its key. Only the enqueue script uses it: it must read the
   * student's existing request, whose id it learns inside the script, in the same round trip.
   */
  get requestPrefix(): string {
    return `${this.#p}request:`
  }

  course(courseId: string): CourseKeys {
    const base = `${this.#p}course:{${courseId}}:`
    return {
      queue: `${base}queue`,
      live: `${base}live`,
      seats: `${base}seats`,
      cancelling: `${base}cancelling`,
      lease: `${base}lease`,
      removed: `${base}removed`,
      waitlist: `${base}waitlist`,
    }
  }

  /**
   * How each of a course's keys is spelled around the course id. Only the script that reads a
   * request uses it: it learns the course from the request's hash and must read the course's
   * queue, seat cache, cancellations and waitlist in the same round trip.
   */
  courseKeysAround(): { readonly [K in keyof CourseKeys]: KeyAround } {
    const marked = this.course(COURSE_ID_MARK)
    const around = (key: string): KeyAround => {
      const [before = '', after = ''] = key.split(COURSE_ID_MARK)
      return { before, after }
    }
    return {
      queue: around(marked.queue),
      live: around(marked.live),
      seats: around(marked.seats),
      cancelling: around(marked.cancelling),
      lease: around(marked.lease),
      removed: around(marked.removed),
      waitlist: around(marked.waitlist),
    }
  }

  /** Counter: the global arrival number (one INCR per request; fair across instances). */
  get arrivals(): string {
    return `${this.#p}arrivals`
  }

  /** Set: courses whose queue may be non-empty. */
  get activeCourses(): string {
    return `${this.#p}active-courses`
  }

  /** String: token of the instance running the reconciler. */
  get reconcilerLease(): string {
    return `${this.#p}reconciler:lease`
  }

  /** SCAN patterns, for tools and tests that look over every course. */
  get patterns(): { readonly all: string; readonly queues: string; readonly live: string } {
    return {
      all: `${this.#p}*`,
      queues: `${this.#p}course:*:queue`,
      live: `${this.#p}course:*:live`,
    }
  }
}
