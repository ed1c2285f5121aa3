// eslint-disable-next-line @typescript-eslint/triple-slash-reference -- the package ships no types; a reference (not tsconfig) makes the declaration travel to every project that type-checks this file
/// <reference path="./cluster-key-slot.d.ts" />
import { randomUUID } from 'node:crypto'
import calculateSlot from 'cluster-key-slot'
import type { FailureCounter } from '../../domain/ports.js'

/**
 * The Redis key schema: every key name the service uses is spelled here and nowhere else (the
 * Lua scripts receive their keys; tests and tools build them through this module).
 *
 * Every script call touches one hash slot, so the same scripts run on one Redis node and on a
 * Redis Cluster:
 * - Courses are spread over `courseGroups` groups by the slot their id hashes to; a group's keys
 *   share one hash tag, chosen so that the group's slot lies in the group's own slot range. A
 *   course's keys (queue, markers, seat cache, arrival counter, ...) and the hashes of its requests
 *   carry its group's tag, and each group has its own set of active courses: a course's scripts
 *   never leave its group's slot. One group on a single node (one set to poll); on a cluster,
 *   enough groups that every shard holds an even share of them (a shard owns a range of slots).
 * - A request id names its course's group (`newRequestId`), so a read by id alone finds the slot.
 * - A student's session and request counters share the student's tag, so a status check can be
 *   authorized on the student's slot.
 * - Login-failure counters, checked together by one script, share one tag.
 */
export interface KeySchemaOptions {
  /** Prefix of every key, so that several deployments or tests can share one Redis. */
  readonly prefix: string
  readonly sessionTtlSeconds: number
  /** How long a decided request stays readable (MySQL keeps enrollments for good). */
  readonly decidedTtlSeconds: number
  /**
   * How many slot groups courses are spread over (default 1: a single node). A request id minted
   * under one count is read under another only through MySQL, so it changes with a new Redis.
   */
  readonly courseGroups?: number
}

/** Redis Cluster's number of hash slots. */
export const SLOTS = 16_384

/** Course groups on a cluster unless REDIS_COURSE_GROUPS says otherwise. */
export const CLUSTER_COURSE_GROUPS = 64

/** Most course groups: a request id carries its group in its first 16 bits. */
export const MAX_COURSE_GROUPS = 1_024

/** The group a slot falls in when `groups` groups split the slots into equal ranges. */
function groupOfSlot(slot: number, groups: number): number {
  return Math.floor((slot * groups) / SLOTS)
}

/** A short hash tag whose slot lies in each group's range, found once per group. */
function groupTags(groups: number): string[] {
  const tags: string[] = []
  for (let group = 0; group < groups; group += 1) {
    for (let n = 0; ; n += 1) {
      const tag = `g${group}.${n.toString(36)}`
      if (groupOfSlot(calculateSlot(tag), groups) === group) {
        tags.push(tag)
        break
      }
    }
  }
  return tags
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
  /** Counter: the course's arrival number (one INCR per request; fair across instances). */
  readonly arrivals: string
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
  readonly #tags: readonly string[]
  readonly ttl: { readonly sessionSeconds: number; readonly decidedSeconds: number }

  constructor(options: KeySchemaOptions) {
    const groups = options.courseGroups ?? 1
    if (!Number.isInteger(groups) || groups < 1 || groups > MAX_COURSE_GROUPS) {
      throw new Error(`courseGroups must be an integer from 1 to ${MAX_COURSE_GROUPS}`)
    }
    this.#p = options.prefix
    this.#tags = groupTags(groups)
    this.ttl = {
      sessionSeconds: options.sessionTtlSeconds,
      decidedSeconds: options.decidedTtlSeconds,
    }
  }

  get prefix(): string {
    return this.#p
  }

  /** How many slot groups courses are spread over. */
  get courseGroups(): number {
    return this.#tags.length
  }

  /** The slot group of a course: the one whose slot range holds the slot its id hashes to. */
  courseGroup(courseId: string): number {
    return groupOfSlot(calculateSlot(courseId), this.#tags.length)
  }

  /** A new request id (a version 4 UUID) whose first 16 bits name its course's group. */
  newRequestId(courseId: string): string {
    const groups = this.#tags.length
    const uuid = randomUUID()
    // The group plus a random multiple of the group count: the id stays as random as a UUID's
    // first 16 bits can be while naming the group.
    const spread = Math.floor(Math.random() * Math.floor(0x10000 / groups))
    const head = (this.courseGroup(courseId) + spread * groups).toString(16).padStart(4, '0')
    return head + uuid.slice(4)
  }

  /** The group a request id names (see newRequestId); group 0 for an id that names none. */
  requestGroup(requestId: string): number {
    const head = Number.parseInt(requestId.slice(0, 4), 16)
    return Number.isNaN(head) ? 0 : head % this.#tags.length
  }

  /** String: the student id of a live session. */
  session(studentId: string, sessionId: string): string {
    return `${this.#p}session:{${studentId}}:${sessionId}`
  }

  /** Counter of a student's requests in one fixed rate-limit window. */
  requestRate(studentId: string, window: number): string {
    return `${this.#p}rate:{${studentId}}:${window}`
  }

  /** Counter of failed logins in one scope (expires with its window). */
  loginFailures(scope: LoginFailureScope, id: string): string {
    return `${this.#p}login-failures:{login}:${scope}:${id}`
  }

  /**
   * Hash of one enrollment request: s student, c course, q arrival, w waitlist, st status, r
   * reason. Found from the id alone: the id names its course's group.
   */
  request(requestId: string): string {
    return `${this.#requestPrefix(this.#tags[this.requestGroup(requestId)] as string)}${requestId}`
  }

  /**
   * The hash of a request of a known course: always in the course's slot, also for an id minted
   * under another group count (such a request is read by id through MySQL).
   */
  requestOf(courseId: string, requestId: string): string {
    return `${this.requestPrefix(courseId)}${requestId}`
  }

  /**
   * What precedes a request id in the key of a request of this course. Only the enqueue script
   * uses it: it must read the student's existing request, whose id it learns inside the script,
   * in the same round trip.
   */
  requestPrefix(courseId: string): string {
    return this.#requestPrefix(this.#tagOf(courseId))
  }

  #requestPrefix(tag: string): string {
    return `${this.#p}request:{${tag}}:`
  }

  #tagOf(courseId: string): string {
    return this.#tags[this.courseGroup(courseId)] as string
  }

  course(courseId: string): CourseKeys {
    return this.#courseKeys(this.#tagOf(courseId), courseId)
  }

  #courseKeys(tag: string, courseId: string): CourseKeys {
    const base = `${this.#p}course:{${tag}}:${courseId}:`
    return {
      queue: `${base}queue`,
      live: `${base}live`,
      seats: `${base}seats`,
      cancelling: `${base}cancelling`,
      lease: `${base}lease`,
      removed: `${base}removed`,
      waitlist: `${base}waitlist`,
      arrivals: `${base}arrivals`,
    }
  }

  /**
   * How each of a course's keys is spelled around the course id, for the courses of the group a
   * request id names. Only the script that reads a request uses it: it learns the course from the
   * request's hash and must read the course's queue, seat cache, cancellations and waitlist in the
   * same round trip.
   */
  courseKeysAround(requestId: string): { readonly [K in keyof CourseKeys]: KeyAround } {
    const tag = this.#tags[this.requestGroup(requestId)] as string
    const marked = this.#courseKeys(tag, COURSE_ID_MARK)
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
      arrivals: around(marked.arrivals),
    }
  }

  /** Set: the group's courses whose queue may be non-empty. */
  activeCourses(group: number): string {
    return `${this.#p}active-courses:{${this.#tags[group] as string}}`
  }

  /** The set of active courses a course belongs to. */
  activeCoursesOf(courseId: string): string {
    return this.activeCourses(this.courseGroup(courseId))
  }

  /** Hash: the second (Redis's clock) and the decisions taken in it under an overall ceiling. */
  get admissionBudget(): string {
    return `${this.#p}admission:budget`
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
