import { readFileSync, readdirSync } from 'node:fs'
import { Redis } from 'ioredis'
import type { Result } from 'ioredis'
import { DependencyUnavailableError } from '../../errors.js'
import type {
  CourseSnapshot,
  Decision,
  QueuedRequest,
  RejectReason,
  SeatState,
} from '../../domain/model.js'
import type {
  AuthorizeResult,
  CancelResult,
  EnqueueInput,
  EnqueueResult,
  LeaseResult,
  LoginAttempt,
  LoginCheck,
  RegistrationQueue,
  RequestRecord,
} from '../../domain/ports.js'

const scriptsDir = new URL('../../redis/scripts/', import.meta.url)

/** Each `<verb>-<numKeys>.lua` becomes a command named after its camel-cased verb. */
function loadScripts(): Array<{ name: string; numberOfKeys: number; lua: string }> {
  return readdirSync(scriptsDir)
    .filter((file) => file.endsWith('.lua'))
    .map((file) => {
      const match = /^(.+)-(\d+)\.lua$/.exec(file)
      if (!match?.[1] || !match[2])
        throw new Error(`script ${file} must be named <verb>-<keys>.lua`)
      const name = match[1].replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())
      return {
        name,
        numberOfKeys: Number(match[2]),
        lua: readFileSync(new URL(file, scriptsDir), 'utf8'),
      }
    })
}

type Reply = Array<string | number>

declare module 'ioredis' {
  interface RedisCommander<Context> {
    enqueue(...args: Array<string | number>): Result<Reply, Context>
    authorize(...args: Array<string | number>): Result<[number, number], Context>
    loginCheck(...args: Array<string | number>): Result<[number, number], Context>
    loginFailed(...args: Array<string | number>): Result<number, Context>
    peek(...args: Array<string | number>): Result<string[] | number, Context>
    settle(...args: Array<string | number>): Result<number, Context>
    rejectFull(...args: Array<string | number>): Result<number, Context>
    acquireLease(...args: Array<string | number>): Result<number, Context>
    releaseLease(...args: Array<string | number>): Result<number, Context>
    beginCancel(...args: Array<string | number>): Result<number, Context>
    reflectCancel(...args: Array<string | number>): Result<number, Context>
    reconcile(...args: Array<string | number>): Result<number, Context>
    raiseCounter(...args: Array<string | number>): Result<number, Context>
  }
}

export interface RedisQueueOptions {
  readonly url: string
  /** Prefix of every key, so that several deployments or tests can share one Redis. */
  readonly prefix: string
  readonly sessionTtlSeconds: number
  readonly decidedTtlSeconds: number
  readonly rateLimitMax: number
  readonly rateLimitWindowMs: number
  /** Deadline of every command (ms). */
  readonly commandTimeoutMs?: number
  /** Commands that may wait for an answer at once; above it calls fail at once (503). */
  readonly maxInFlight?: number
  readonly onError?: (err: Error) => void
}

const STATUSES = new Set(['queued', 'waitlisted', 'enrolled', 'rejected'])
const LOGIN_REFUSALS = ['ok', 'address-limited', 'account-locked', 'device-limited'] as const

/** The queue was asked to do more at once than it may: shed, do not queue in memory. */
class TooManyInFlight extends Error {
  constructor() {
    super('too many Redis commands waiting for an answer')
    this.name = 'TooManyInFlight'
  }
}

export class RedisQueue implements RegistrationQueue {
  readonly #redis: Redis
  readonly #p: string
  readonly #options: RedisQueueOptions
  readonly #timeoutMs: number
  readonly #maxInFlight: number
  #inFlight = 0
  #lastAnswerAt = Date.now()
  #lastReconnectAt = 0

  constructor(options: RedisQueueOptions) {
    this.#options = options
    this.#p = options.prefix
    this.#timeoutMs = options.commandTimeoutMs ?? 1_000
    this.#maxInFlight = options.maxInFlight ?? 10_000
    this.#redis = new Redis(options.url, {
      // Concurrent requests share round trips: the rush is thousands of tiny scripts at once.
      enableAutoPipelining: true,
      // Fail fast while Redis is away (the route answers 503 with Retry-After) instead of
      // queueing requests in memory until the process falls over; a command that was sent but
      // not answered when the connection dropped fails too, and is never sent again behind the
      // back of a caller that has already answered its client.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      commandTimeout: this.#timeoutMs,
      connectTimeout: Math.max(this.#timeoutMs, 1_000),
      retryStrategy: (times) => Math.min(times * 200, 2_000),
      lazyConnect: false,
    })
    this.#redis.on('error', (err: Error) => options.onError?.(err))
    for (const script of loadScripts()) {
      this.#redis.defineCommand(script.name, { numberOfKeys: script.numberOfKeys, lua: script.lua })
    }
  }

  async connect(timeoutMs = 10_000): Promise<void> {
    if (this.#redis.status === 'ready') return
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#redis.off('ready', onReady)
        reject(new DependencyUnavailableError('redis', new Error('timed out connecting')))
      }, timeoutMs)
      const onReady = (): void => {
        clearTimeout(timer)
        resolve()
      }
      this.#redis.once('ready', onReady)
    })
  }

  async #guard<T>(work: () => Promise<T>): Promise<T> {
    if (this.#inFlight >= this.#maxInFlight) {
      throw new DependencyUnavailableError('redis', new TooManyInFlight())
    }
    this.#inFlight += 1
    try {
      const result = await work()
      this.#lastAnswerAt = Date.now()
      return result
    } catch (err) {
      // A ReplyError is Redis telling us a script or command is wrong: that is a bug, not an outage.
      if ((err as Error | null)?.name === 'ReplyError') throw err
      if (/timed out/i.test((err as Error | null)?.message ?? '')) this.#onTimeout()
      throw new DependencyUnavailableError('redis', err)
    } finally {
      this.#inFlight -= 1
    }
  }

  /**
   * A command timed out. If nothing at all has answered for a whole deadline, the connection is
   * stalled (a frozen server keeps its socket open): drop it, which fails every command still
   * waiting on it at once, and reconnect. Until Redis answers again, calls fail fast.
   */
  #onTimeout(): void {
    const now = Date.now()
    if (now - this.#lastAnswerAt < this.#timeoutMs) return
    if (now - this.#lastReconnectAt < this.#timeoutMs) return
    this.#lastReconnectAt = now
    this.#options.onError?.(new Error('redis stopped answering: reconnecting'))
    this.#redis.disconnect(true)
  }

  #key(...parts: string[]): string {
    return this.#p + parts.join(':')
  }

  #rateKey(studentId: string): string {
    const window = Math.floor(Date.now() / this.#options.rateLimitWindowMs)
    return this.#key('rl', studentId, String(window))
  }

  async ping(): Promise<void> {
    await this.#guard(() => this.#redis.ping())
  }

  async close(): Promise<void> {
    await this.#redis.quit().catch(() => this.#redis.disconnect())
  }

  async createSession(sessionId: string, studentId: string): Promise<void> {
    await this.#guard(() =>
      this.#redis.set(
        this.#key('sess', sessionId),
        studentId,
        'EX',
        this.#options.sessionTtlSeconds,
      ),
    )
  }

  async destroySession(sessionId: string): Promise<void> {
    await this.#guard(() => this.#redis.del(this.#key('sess', sessionId)))
  }

  async authorize(sessionId: string, studentId: string): Promise<AuthorizeResult> {
    const [code, retryAfterMs] = await this.#guard(() =>
      this.#redis.authorize(
        this.#key('sess', sessionId),
        this.#rateKey(studentId),
        studentId,
        this.#options.rateLimitMax,
        this.#options.rateLimitWindowMs,
      ),
    )
    if (code === 2) return { kind: 'unauthenticated' }
    if (code === 3) return { kind: 'rate-limited', retryAfterMs }
    return { kind: 'ok' }
  }

  #loginKeys(attempt: LoginAttempt): [string, string, string] {
    return [
      this.#key('fail', 'acct', attempt.studentId),
      this.#key('fail', 'addr', attempt.address),
      this.#key('fail', 'dev', attempt.device ?? '-'),
    ]
  }

  async checkLogin(attempt: LoginAttempt): Promise<LoginCheck> {
    const { limits } = attempt
    const [code, retryAfterMs] = await this.#guard(() =>
      this.#redis.loginCheck(
        ...this.#loginKeys(attempt),
        limits.account.max,
        limits.address.max,
        limits.device.max,
        attempt.device ? '1' : '0',
      ),
    )
    const kind = LOGIN_REFUSALS[code]
    if (!kind) throw new Error(`login-check script returned unknown code ${code}`)
    return kind === 'ok' ? { kind } : { kind, retryAfterMs }
  }

  async loginFailed(attempt: LoginAttempt): Promise<void> {
    const { limits } = attempt
    await this.#guard(() =>
      this.#redis.loginFailed(
        ...this.#loginKeys(attempt),
        limits.account.windowMs,
        limits.address.windowMs,
        limits.device.windowMs,
        attempt.device ? '1' : '0',
      ),
    )
  }

  async enqueue(input: EnqueueInput): Promise<EnqueueResult> {
    const { courseId, studentId, requestId } = input
    const reply = await this.#guard(() =>
      this.#redis.enqueue(
        this.#key('sess', input.sessionId),
        this.#rateKey(studentId),
        this.#key('live', courseId),
        this.#key('q', courseId),
        this.#key('seats', courseId),
        this.#key('seq'),
        this.#key('active'),
        this.#key('req', requestId),
        this.#key('cancelling', courseId),
        studentId,
        requestId,
        courseId,
        input.waitlist ? '1' : '0',
        this.#options.rateLimitMax,
        this.#options.rateLimitWindowMs,
        this.#p,
      ),
    )
    const code = Number(reply[0])
    switch (code) {
      case 0:
      case 1:
        return {
          kind: code === 0 ? 'created' : 'existing',
          requestId: String(reply[1]),
          status: reply[2] === 'waitlisted' ? 'waitlisted' : 'queued',
          position: Number(reply[3]),
          queueLength: Number(reply[4]),
        }
      case 2:
        return { kind: 'unauthenticated' }
      case 3:
        return { kind: 'rate-limited', retryAfterMs: Number(reply[5]) }
      case 4:
        return { kind: 'course-full' }
      case 5:
        return { kind: 'already-enrolled' }
      default:
        throw new Error(`enqueue script returned unknown code ${code}`)
    }
  }

  async getRequest(requestId: string): Promise<RequestRecord | null> {
    return this.#guard(async () => {
      const fields = await this.#redis.hgetall(this.#key('req', requestId))
      if (!fields.s || !fields.c || !fields.st || !STATUSES.has(fields.st)) return null
      const status = fields.st as RequestRecord['status']
      let position: number | null = null
      if (status === 'queued') {
        const rank = await this.#redis.zrank(this.#key('q', fields.c), requestId)
        position = rank === null ? null : rank + 1
      }
      return {
        requestId,
        studentId: fields.s,
        courseId: fields.c,
        status,
        reason: fields.r ? (fields.r as RejectReason) : null,
        position,
      }
    })
  }

  async queueLength(courseId: string): Promise<number> {
    return this.#guard(() => this.#redis.zcard(this.#key('q', courseId)))
  }

  async activeCourses(): Promise<string[]> {
    return this.#guard(() => this.#redis.smembers(this.#key('active')))
  }

  async acquireLease(courseId: string, token: string, ttlMs: number): Promise<LeaseResult> {
    const held = await this.#guard(() =>
      this.#redis.acquireLease(this.#key('lease', courseId), token, ttlMs),
    )
    return held === 2 ? 'taken' : held === 1 ? 'renewed' : 'held'
  }

  async releaseLease(courseId: string, token: string): Promise<void> {
    await this.#guard(() => this.#redis.releaseLease(this.#key('lease', courseId), token))
  }

  async acquireReconcilerLease(token: string, ttlMs: number): Promise<boolean> {
    const held = await this.#guard(() =>
      this.#redis.acquireLease(this.#key('lease-reconciler'), token, ttlMs),
    )
    return held !== 0
  }

  async peek(courseId: string, token: string, count: number): Promise<QueuedRequest[] | null> {
    const reply = await this.#guard(() =>
      this.#redis.peek(
        this.#key('lease', courseId),
        this.#key('q', courseId),
        this.#key('active'),
        token,
        count,
        this.#p,
        courseId,
      ),
    )
    if (!Array.isArray(reply)) return null
    const out: QueuedRequest[] = []
    for (let i = 0; i + 3 < reply.length; i += 4) {
      out.push({
        requestId: String(reply[i]),
        studentId: String(reply[i + 1]),
        waitlist: reply[i + 2] === '1',
        arrival: Number(reply[i + 3]),
      })
    }
    return out
  }

  async settle(
    courseId: string,
    token: string,
    decisions: readonly Decision[],
    seats: SeatState,
  ): Promise<number | null> {
    const args: Array<string | number> = []
    for (const d of decisions) {
      args.push(d.requestId, d.studentId, d.status, d.status === 'rejected' ? d.reason : '')
    }
    const left = await this.#guard(() =>
      this.#redis.settle(
        this.#key('lease', courseId),
        this.#key('q', courseId),
        this.#key('live', courseId),
        this.#key('seats', courseId),
        this.#key('active'),
        token,
        this.#p,
        this.#options.decidedTtlSeconds,
        courseId,
        seats.seatsLeft,
        seats.version,
        ...args,
      ),
    )
    return left < 0 ? null : left
  }

  async rejectFullHead(
    courseId: string,
    token: string,
    limit: number,
    decidedThrough: number,
  ): Promise<number | null> {
    const n = await this.#guard(() =>
      this.#redis.rejectFull(
        this.#key('lease', courseId),
        this.#key('q', courseId),
        this.#key('live', courseId),
        this.#key('seats', courseId),
        this.#key('cancelling', courseId),
        token,
        this.#p,
        this.#options.decidedTtlSeconds,
        limit,
        decidedThrough,
      ),
    )
    return n < 0 ? null : n
  }

  async beginCancel(courseId: string, cancellationId: string, ttlMs: number): Promise<void> {
    await this.#guard(() =>
      this.#redis.beginCancel(this.#key('cancelling', courseId), cancellationId, ttlMs),
    )
  }

  async abandonCancel(courseId: string, cancellationId: string): Promise<void> {
    await this.#guard(() => this.#redis.zrem(this.#key('cancelling', courseId), cancellationId))
  }

  async reflectCancel(
    studentId: string,
    courseId: string,
    cancellationId: string,
    result: Extract<CancelResult, { ok: true }>,
  ): Promise<void> {
    const promotedKey = result.promoted
      ? this.#key('req', result.promoted.requestId)
      : this.#key('req', '-')
    const dropped = result.dropped.flatMap((d) => [d.requestId, d.reason])
    await this.#guard(() =>
      this.#redis.reflectCancel(
        this.#key('live', courseId),
        this.#key('seats', courseId),
        promotedKey,
        this.#key('cancelling', courseId),
        studentId,
        result.seatsLeft,
        result.version,
        result.promoted?.studentId ?? '',
        this.#options.decidedTtlSeconds,
        this.#p,
        cancellationId,
        ...dropped,
      ),
    )
  }

  async seatCacheVersions(courseIds: readonly string[]): Promise<Map<string, number>> {
    const versions = new Map<string, number>()
    if (courseIds.length === 0) return versions
    const replies = await this.#guard(() => {
      const pipeline = this.#redis.pipeline()
      for (const id of courseIds) pipeline.hget(this.#key('seats', id), 'v')
      return pipeline.exec()
    })
    courseIds.forEach((id, i) => {
      const [err, value] = replies?.[i] ?? [null, null]
      if (err) throw new DependencyUnavailableError('redis', err)
      versions.set(id, value === null || value === undefined ? -1 : Number(value))
    })
    return versions
  }

  async repairCourse(courseId: string, snapshot: CourseSnapshot): Promise<boolean> {
    const repaired = await this.#guard(() =>
      this.#redis.reconcile(
        this.#key('live', courseId),
        this.#key('seats', courseId),
        this.#key('cancelling', courseId),
        snapshot.version,
        snapshot.seatsLeft,
        this.#p,
        ...snapshot.students,
      ),
    )
    return repaired === 1
  }

  async raiseArrivalCounter(least: number): Promise<void> {
    await this.#guard(() => this.#redis.raiseCounter(this.#key('seq'), least))
  }
}
