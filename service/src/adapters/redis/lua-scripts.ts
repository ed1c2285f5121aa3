import { readFileSync, readdirSync } from 'node:fs'
import calculateSlot from 'cluster-key-slot'
import type { Cluster, Redis } from 'ioredis'
import type { Decision, RejectReason, WaitlistPlace } from '../../domain/model.js'
import type { LeaseResult, Promotion } from '../../domain/ports.js'
import type { CourseKeys, KeyAround } from './keys.js'

const luaDir = new URL('./lua/', import.meta.url)
const INCLUDE = /^--@include ([a-z-]+)\s*$/gm

/**
 * Reads a script and splices in the shared snippets it names (`--@include <name>` lines, from
 * lua/includes/), so that each piece of Lua is written once. Unknown includes fail at start-up.
 */
export function loadLua(name: string): string {
  const source = readFileSync(new URL(`${name}.lua`, luaDir), 'utf8')
  return source.replace(INCLUDE, (_line, include: string) =>
    readFileSync(new URL(`includes/${include}.lua`, luaDir), 'utf8').trimEnd(),
  )
}

/** Every script in lua/, by file name (without .lua). */
export function scriptNames(): string[] {
  return readdirSync(luaDir)
    .filter((file) => file.endsWith('.lua'))
    .map((file) => file.slice(0, -'.lua'.length))
    .sort()
}

type Arg = string | number
type Reply = Array<string | number>
type Call = (numKeys: number, ...keysAndArgs: Arg[]) => Promise<unknown>

const ENQUEUE_CODES = [
  'created',
  'existing',
  'unauthenticated',
  'rate-limited',
  'course-full',
  'already-enrolled',
] as const
const AUTHORIZE_CODES = ['ok', 'unauthenticated', 'rate-limited'] as const
const LEASE_CODES: readonly LeaseResult[] = ['held', 'renewed', 'taken']
const READ_CODES = [
  'missing',
  'placed',
  'no-place',
  'ask-store',
  'unauthenticated',
  'rate-limited',
] as const

export type EnqueueReply =
  | {
      readonly code: 'created' | 'existing'
      readonly requestId: string
      readonly status: 'queued' | 'waitlisted'
      readonly position: number
      readonly queueLength: number
    }
  | { readonly code: 'rate-limited'; readonly retryAfterMs: number }
  | { readonly code: 'unauthenticated' | 'course-full' | 'already-enrolled' }

export type ReadRequestReply =
  | { readonly code: 'missing' | 'unauthenticated' }
  | { readonly code: 'rate-limited'; readonly retryAfterMs: number }
  | {
      /**
       * placed: queued or waitlisted, with its place; no-place: decided, or no longer in its
       * queue, or not on the waitlist mirror; ask-store: waitlisted, and the mirror cannot vouch
       * for a place now (behind MySQL, or a cancellation in flight).
       */
      readonly code: 'placed' | 'no-place' | 'ask-store'
      readonly studentId: string
      readonly courseId: string
      readonly status: string
      /** '' when none. */
      readonly reason: string
      /** Where it joined its queue and how many the queue had let go of then ('' if unknown). */
      readonly joinedPosition: string
      readonly joinedRemoved: string
      /** 1-based, when placed. */
      readonly position: number | null
    }

/** A student's session and request counter, checked in the same call as the script's work. */
export interface StudentCheck {
  readonly session: string
  readonly rate: string
  readonly max: number
  readonly windowMs: number
}

export type AuthorizeReply =
  | { readonly code: 'ok' | 'unauthenticated' }
  | { readonly code: 'rate-limited'; readonly retryAfterMs: number }

function code<T extends string>(codes: readonly T[], value: unknown, script: string): T {
  const found = codes[Number(value)]
  if (found === undefined) throw new Error(`${script} returned unknown code ${String(value)}`)
  return found
}

const flag = (on: boolean): string => (on ? '1' : '0')

/** Throws unless every key hashes to one slot (a Redis Cluster's CROSSSLOT refusal). */
export function assertOneSlot(script: string, keys: readonly string[]): void {
  const slots = new Set(keys.map((k) => calculateSlot(k)))
  if (slots.size > 1) {
    throw new Error(`${script} would cross slots: ${keys.join(', ')}`)
  }
}

/** What settle-batch is told besides a decision's status: a rejection's reason, a waitlist place. */
function detail(d: Decision): string | number {
  if (d.status === 'rejected') return d.reason
  if (d.status === 'waitlisted') return d.place ?? ''
  return ''
}

/**
 * One typed wrapper per Lua script in lua/: named arguments and keys in, named result codes
 * out. The keys come from the key schema (keys.ts); the scripts never build key names.
 */
export class LuaScripts {
  readonly #redis: Redis | Cluster
  readonly #checkSlots: boolean

  /**
   * `checkSlots`: refuse any call whose keys span more than one hash slot, as a Redis Cluster
   * would (CROSSSLOT), also on a single node: the tests run every script this way.
   */
  constructor(redis: Redis | Cluster, options: { readonly checkSlots?: boolean } = {}) {
    this.#redis = redis
    this.#checkSlots = options.checkSlots ?? false
    for (const name of scriptNames()) this.#redis.defineCommand(name, { lua: loadLua(name) })
  }

  /**
   * `studentKeys`: how many of the last keys are a student's session and counter, checked in the
   * same call on a single node only; they must share a slot of their own (on a cluster they are
   * checked in a call of their own, authorize-request).
   */
  async #call(
    name: string,
    keys: readonly string[],
    args: readonly Arg[],
    studentKeys = 0,
  ): Promise<unknown> {
    if (this.#checkSlots) {
      assertOneSlot(name, keys.slice(0, keys.length - studentKeys))
      assertOneSlot(name, keys.slice(keys.length - studentKeys))
    }
    const call = (this.#redis as unknown as Record<string, Call>)[name]
    if (!call) throw new Error(`no Lua script named ${name}`)
    return call.call(this.#redis, keys.length, ...keys, ...args)
  }

  async authorizeRequest(
    keys: { readonly session: string; readonly rate: string },
    args: { readonly studentId: string; readonly max: number; readonly windowMs: number },
  ): Promise<AuthorizeReply> {
    const reply = (await this.#call(
      'authorize-request',
      [keys.session, keys.rate],
      [args.studentId, args.max, args.windowMs],
    )) as [number, number]
    const kind = code(AUTHORIZE_CODES, reply[0], 'authorize-request')
    return kind === 'rate-limited' ? { code: kind, retryAfterMs: reply[1] } : { code: kind }
  }

  /**
   * Joins a course's queue; with `auth` (a single Redis node), authenticates and counts the
   * request against the student's rate limit in the same call.
   */
  async enqueueRequest(
    keys: {
      readonly course: CourseKeys
      readonly activeCourses: string
      readonly request: string
      readonly requestPrefix: string
    },
    args: {
      readonly studentId: string
      readonly requestId: string
      readonly courseId: string
      readonly waitlist: boolean
      readonly refuseWhenFull: boolean
    },
    auth?: StudentCheck,
  ): Promise<EnqueueReply> {
    const { course } = keys
    const scriptKeys = [
      course.live,
      course.queue,
      course.seats,
      course.arrivals,
      keys.activeCourses,
      keys.request,
      course.cancelling,
      course.removed,
    ]
    const scriptArgs: Arg[] = [
      args.studentId,
      args.requestId,
      args.courseId,
      flag(args.waitlist),
      keys.requestPrefix,
      flag(args.refuseWhenFull),
    ]
    if (auth) {
      scriptKeys.push(auth.session, auth.rate)
      scriptArgs.push(auth.max, auth.windowMs)
    }
    const reply = (await this.#call(
      'enqueue-request',
      scriptKeys,
      scriptArgs,
      auth ? 2 : 0,
    )) as Reply
    const kind = code(ENQUEUE_CODES, reply[0], 'enqueue-request')
    switch (kind) {
      case 'created':
      case 'existing':
        return {
          code: kind,
          requestId: String(reply[1]),
          status: reply[2] === 'waitlisted' ? 'waitlisted' : 'queued',
          position: Number(reply[3]),
          queueLength: Number(reply[4]),
        }
      case 'rate-limited':
        return { code: kind, retryAfterMs: Number(reply[5]) }
      default:
        return { code: kind }
    }
  }

  /**
   * A request and its place, in its queue or on the waitlist mirror, in one round trip; with
   * `auth`, a student's status check, authenticated and counted against their rate limit in the
   * same call.
   */
  async readRequest(
    keys: {
      readonly request: string
      /** The course's keys around its id: the course is only known inside the script. */
      readonly course: { readonly [K in keyof CourseKeys]: KeyAround }
    },
    requestId: string,
    auth?: StudentCheck & { readonly studentId: string },
  ): Promise<ReadRequestReply> {
    const { course } = keys
    const args: Arg[] = [requestId]
    for (const k of [course.queue, course.seats, course.cancelling, course.waitlist]) {
      args.push(k.before, k.after)
    }
    const scriptKeys = [keys.request]
    if (auth) {
      scriptKeys.push(auth.session, auth.rate)
      args.push(auth.studentId, auth.max, auth.windowMs)
    }
    const reply = (await this.#call('read-request', scriptKeys, args, auth ? 2 : 0)) as Reply
    const kind = code(READ_CODES, reply[0], 'read-request')
    if (kind === 'missing' || kind === 'unauthenticated') return { code: kind }
    if (kind === 'rate-limited') return { code: kind, retryAfterMs: Number(reply[7]) }
    return {
      code: kind,
      studentId: String(reply[1]),
      courseId: String(reply[2]),
      status: String(reply[3]),
      reason: String(reply[4]),
      joinedPosition: String(reply[5]),
      joinedRemoved: String(reply[6]),
      position: kind === 'placed' ? Number(reply[7]) : null,
    }
  }

  /** The 0-based index of the first counter at its max, with ms until its window ends. */
  /**
   * Counts one login attempt on every counter, or refuses it at the first one at its max
   * (counting nothing). A reservation names each counter's window by when it ends.
   */
  async reserveAttempt(
    counters: readonly string[],
    limits: ReadonlyArray<{ readonly max: number; readonly windowMs: number }>,
  ): Promise<
    | { readonly kind: 'reserved'; readonly windows: string[] }
    | { readonly kind: 'refused'; readonly index: number; readonly retryAfterMs: number }
  > {
    if (counters.length !== limits.length) throw new Error('one limit per counter')
    const [index, ...rest] = (await this.#call(
      'reserve-attempt',
      counters,
      limits.flatMap((l) => [l.max, l.windowMs]),
    )) as Reply
    if (Number(index) === 0) return { kind: 'reserved', windows: rest.map(String) }
    return { kind: 'refused', index: Number(index) - 1, retryAfterMs: Number(rest[0]) }
  }

  /** Gives back one attempt on each counter still in the window named; how many did. */
  async releaseAttempt(counters: readonly string[], windows: readonly string[]): Promise<number> {
    if (counters.length !== windows.length) throw new Error('one window per counter')
    return Number(await this.#call('release-attempt', counters, windows))
  }

  async takeLease(lease: string, token: string, ttlMs: number): Promise<LeaseResult> {
    return code(LEASE_CODES, await this.#call('take-lease', [lease], [token, ttlMs]), 'take-lease')
  }

  /** Takes up to `count` from this second's budget of `perSecond`: how many it got. */
  async takeBudget(budget: string, count: number, perSecond: number): Promise<number> {
    return Number(await this.#call('take-budget', [budget], [count, perSecond]))
  }

  async releaseLease(lease: string, token: string): Promise<boolean> {
    return (await this.#call('release-lease', [lease], [token])) === 1
  }

  /** True when the course left the active set (its queue was empty). */
  async forgetIdleCourse(
    course: CourseKeys,
    activeCourses: string,
    courseId: string,
  ): Promise<boolean> {
    return (await this.#call('forget-idle-course', [course.queue, activeCourses], [courseId])) === 1
  }

  /** Raises each counter (all of one slot) to at least its value; how many were raised. */
  async raiseCounters(
    counters: ReadonlyArray<{ readonly key: string; readonly least: number }>,
  ): Promise<number> {
    return Number(
      await this.#call(
        'raise-counter',
        counters.map((c) => c.key),
        counters.map((c) => c.least),
      ),
    )
  }

  async markCancellation(course: CourseKeys, cancellationId: string, ttlMs: number): Promise<void> {
    await this.#call('mark-cancellation', [course.cancelling], [cancellationId, ttlMs])
  }

  /** The queue length left, or 'lease-lost' (nothing was written). */
  async settleBatch(
    keys: {
      readonly course: CourseKeys
      readonly activeCourses: string
      readonly requests: readonly string[]
    },
    args: {
      readonly token: string
      readonly ttlSeconds: number
      readonly courseId: string
      readonly seatsLeft: number
      readonly version: number
      readonly versionBefore: number
      /** Waitlisted ones with their place; one without leaves the waitlist mirror unknown. */
      readonly decisions: readonly Decision[]
    },
  ): Promise<number | 'lease-lost'> {
    const { course } = keys
    if (keys.requests.length !== args.decisions.length)
      throw new Error('one request key per decision')
    const left = Number(
      await this.#call(
        'settle-batch',
        [
          course.lease,
          course.queue,
          course.live,
          course.seats,
          keys.activeCourses,
          course.removed,
          course.waitlist,
          ...keys.requests,
        ],
        [
          args.token,
          args.ttlSeconds,
          args.courseId,
          args.seatsLeft,
          args.version,
          args.versionBefore,
          ...args.decisions.flatMap((d) => [d.requestId, d.studentId, d.status, detail(d)]),
        ],
      ),
    )
    return left < 0 ? 'lease-lost' : left
  }

  /** How many were rejected, 'lease-lost', or 'not-full' (the cache no longer says full). */
  async rejectHead(
    keys: { readonly course: CourseKeys; readonly requests: readonly string[] },
    args: {
      readonly token: string
      readonly ttlSeconds: number
      readonly rejections: ReadonlyArray<{
        readonly requestId: string
        readonly studentId: string
        readonly reason: RejectReason
      }>
    },
  ): Promise<number | 'lease-lost' | 'not-full'> {
    const { course } = keys
    if (keys.requests.length !== args.rejections.length)
      throw new Error('one request key per rejection')
    const n = Number(
      await this.#call(
        'reject-head',
        [
          course.lease,
          course.queue,
          course.live,
          course.seats,
          course.cancelling,
          course.removed,
          ...keys.requests,
        ],
        [
          args.token,
          args.ttlSeconds,
          ...args.rejections.flatMap((r) => [r.requestId, r.studentId, r.reason]),
        ],
      ),
    )
    return n === -1 ? 'lease-lost' : n === -2 ? 'not-full' : n
  }

  async reflectCancellation(
    keys: {
      readonly course: CourseKeys
      /** The hash of each promoted request (one, or none, as the promoted args). */
      readonly promoted: string | readonly string[] | null
      readonly dropped: readonly string[]
    },
    args: {
      readonly cancellationId: string
      /** The canceller; null for a capacity change. */
      readonly studentId: string | null
      readonly seatsLeft: number
      readonly version: number
      readonly versionBefore: number
      readonly ttlSeconds: number
      /** The heads that took a seat, in the waitlist's order (one or none for a cancellation). */
      readonly promoted: Promotion | readonly Promotion[] | null
      readonly dropped: ReadonlyArray<{
        readonly requestId: string
        readonly studentId: string
        readonly reason: RejectReason
      }>
    },
  ): Promise<void> {
    const { course } = keys
    const promotedKeys = keys.promoted === null ? [] : [keys.promoted].flat()
    const promoted = args.promoted === null ? [] : [args.promoted].flat()
    if (promotedKeys.length !== promoted.length)
      throw new Error('one request key per promoted request')
    if (keys.dropped.length !== args.dropped.length)
      throw new Error('one request key per dropped request')
    await this.#call(
      'reflect-cancellation',
      [
        course.live,
        course.seats,
        course.cancelling,
        course.waitlist,
        ...promotedKeys,
        ...keys.dropped,
      ],
      [
        args.studentId ?? '',
        args.seatsLeft,
        args.version,
        args.ttlSeconds,
        args.cancellationId,
        promoted.length,
        args.versionBefore,
        ...promoted.flatMap((p) => [p.studentId, p.requestId]),
        ...args.dropped.flatMap((d) => [d.requestId, d.studentId, d.reason]),
      ],
    )
  }

  /** True when some of the cache was rewritten, false when it was all as new as the snapshot. */
  async repairCourse(
    keys: {
      readonly course: CourseKeys
      /** The hash of each waitlisted request, in the waitlist's order. */
      readonly waitlistedRequests: readonly string[]
      readonly markedRequests: readonly string[]
    },
    args: {
      readonly courseId: string
      readonly version: number
      readonly seatsLeft: number
      /** How long a rebuilt hash of a waitlisted request lives (as a decided one's). */
      readonly ttlSeconds: number
      readonly students: readonly string[]
      /** The course's waitlist, in its order. */
      readonly waitlist: ReadonlyArray<WaitlistPlace & { readonly studentId: string }>
      /**
       * Enrolled or waitlisted students whose marker named a request when read, in
       * markedRequests' order.
       */
      readonly markers: ReadonlyArray<{ readonly studentId: string; readonly requestId: string }>
    },
  ): Promise<boolean> {
    const { course } = keys
    if (keys.markedRequests.length !== args.markers.length)
      throw new Error('one request key per marker')
    if (keys.waitlistedRequests.length !== args.waitlist.length)
      throw new Error('one request key per waitlist place')
    const repaired = await this.#call(
      'repair-course',
      [
        course.live,
        course.seats,
        course.cancelling,
        course.waitlist,
        ...keys.waitlistedRequests,
        ...keys.markedRequests,
      ],
      [
        args.version,
        args.seatsLeft,
        args.students.length,
        args.waitlist.length,
        args.courseId,
        args.ttlSeconds,
        ...args.students,
        ...args.waitlist.flatMap((w) => [w.requestId, w.place, w.studentId]),
        ...args.markers.flatMap((m) => [m.studentId, m.requestId]),
      ],
    )
    return repaired === 1
  }
}
