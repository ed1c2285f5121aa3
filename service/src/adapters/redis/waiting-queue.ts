import { DependencyUnavailableError } from '../../errors.js'
import type { Decision, RejectReason, SeatChange } from '../../domain/model.js'
import type {
  CachedStanding,
  EnqueueInput,
  EnqueueResult,
  HeadEntry,
  RequestRecord,
  SessionRef,
  StudentRead,
  WaitingQueue,
} from '../../domain/ports.js'
import type { ReadRequestReply } from './lua-scripts.js'
import type { RedisContext } from './context.js'
import { rateKey, type RequestBudget } from './sessions.js'

const STATUSES = new Set(['queued', 'waitlisted', 'enrolled', 'rejected'])

/** Results of a pipeline, failing as one command would. */
function results(replies: Array<[Error | null, unknown]> | null): unknown[] {
  return (replies ?? []).map(([err, value]) => {
    if (err) throw new DependencyUnavailableError('redis', err)
    return value
  })
}

export class RedisWaitingQueue implements WaitingQueue {
  readonly #r: RedisContext
  readonly #budget: RequestBudget

  constructor(context: RedisContext, budget: RequestBudget) {
    this.#r = context
    this.#budget = budget
  }

  async enqueue(input: EnqueueInput): Promise<EnqueueResult> {
    const { connection, keys, scripts } = this.#r
    const { courseId, studentId, requestId } = input
    const reply = await connection.run(() =>
      scripts.enqueueRequest(
        {
          session: keys.session(input.sessionId),
          rate: rateKey(this.#r, studentId, this.#budget),
          course: keys.course(courseId),
          arrivals: keys.arrivals,
          activeCourses: keys.activeCourses,
          request: keys.request(requestId),
          requestPrefix: keys.requestPrefix,
        },
        {
          studentId,
          requestId,
          courseId,
          waitlist: input.waitlist,
          refuseWhenFull: input.refuseWhenFull,
          max: this.#budget.max,
          windowMs: this.#budget.windowMs,
        },
      ),
    )
    switch (reply.code) {
      case 'created':
      case 'existing':
        return {
          kind: reply.code,
          requestId: reply.requestId,
          status: reply.status,
          position: reply.position,
          queueLength: reply.queueLength,
        }
      case 'rate-limited':
        return { kind: 'rate-limited', retryAfterMs: reply.retryAfterMs }
      default:
        return { kind: reply.code }
    }
  }

  async request(requestId: string): Promise<RequestRecord | null> {
    const { connection, keys, scripts } = this.#r
    const reply = await connection.run(() =>
      scripts.readRequest(
        { request: keys.request(requestId), course: keys.courseKeysAround() },
        requestId,
      ),
    )
    return recordOf(requestId, reply)
  }

  async studentRequest(session: SessionRef, requestId: string): Promise<StudentRead> {
    const { connection, keys, scripts } = this.#r
    const { studentId } = session
    const reply = await connection.run(() =>
      scripts.readRequest(
        { request: keys.request(requestId), course: keys.courseKeysAround() },
        requestId,
        {
          session: keys.session(session.sessionId),
          rate: rateKey(this.#r, studentId, this.#budget),
          studentId,
          max: this.#budget.max,
          windowMs: this.#budget.windowMs,
        },
      ),
    )
    if (reply.code === 'unauthenticated') return { kind: 'unauthenticated' }
    if (reply.code === 'rate-limited') {
      return { kind: 'rate-limited', retryAfterMs: reply.retryAfterMs }
    }
    return { kind: 'read', record: recordOf(requestId, reply) }
  }

  async length(courseId: string): Promise<number> {
    const { connection, keys } = this.#r
    return connection.run(() => connection.client.zcard(keys.course(courseId).queue))
  }

  async activeCourses(): Promise<string[]> {
    const { connection, keys } = this.#r
    return connection.run(() => connection.client.smembers(keys.activeCourses))
  }

  async head(courseId: string, count: number): Promise<HeadEntry[]> {
    const { connection, keys, scripts } = this.#r
    const { client } = connection
    const course = keys.course(courseId)
    return connection.run(async () => {
      const flat = await client.zrange(course.queue, 0, count - 1, 'WITHSCORES')
      if (flat.length === 0) {
        await scripts.forgetIdleCourse(course, keys.activeCourses, courseId)
        return []
      }
      const ids: string[] = []
      const arrivals: number[] = []
      for (let i = 0; i + 1 < flat.length; i += 2) {
        ids.push(flat[i] as string)
        arrivals.push(Number(flat[i + 1]))
      }
      const pipeline = client.pipeline()
      for (const id of ids) pipeline.hmget(keys.request(id), 's', 'w')
      const requests = results(await pipeline.exec()) as Array<[string | null, string | null]>
      const students = requests.map(([s]) => s).filter((s): s is string => s !== null)
      const markers =
        students.length > 0
          ? await client.hmget(course.live, ...students)
          : ([] as Array<string | null>)
      const markerOf = new Map(students.map((s, i) => [s, markers[i] ?? null]))

      const out: HeadEntry[] = []
      const gone: string[] = []
      ids.forEach((requestId, i) => {
        const [studentId, waitlist] = requests[i] ?? [null, null]
        // A queue entry whose request hash is gone cannot be decided: drop it.
        if (studentId === null) {
          gone.push(requestId)
          return
        }
        const marker = markerOf.get(studentId) ?? null
        const standing: CachedStanding =
          marker === requestId ? 'this-request' : marker === 'E' ? 'enrolled' : 'other'
        out.push({
          requestId,
          studentId,
          waitlist: waitlist === '1',
          arrival: arrivals[i] as number,
          standing,
        })
      })
      if (gone.length > 0) {
        const dropped = await client.zrem(course.queue, ...gone)
        if (dropped > 0) await client.incrby(course.removed, dropped)
      }
      return out
    })
  }

  async settle(
    courseId: string,
    leaseToken: string,
    decisions: readonly Decision[],
    seats: SeatChange,
  ): Promise<number | null> {
    const { connection, keys, scripts } = this.#r
    const left = await connection.run(() =>
      scripts.settleBatch(
        {
          course: keys.course(courseId),
          activeCourses: keys.activeCourses,
          requests: decisions.map((d) => keys.request(d.requestId)),
        },
        {
          token: leaseToken,
          ttlSeconds: keys.ttl.decidedSeconds,
          courseId,
          seatsLeft: seats.seatsLeft,
          version: seats.version,
          versionBefore: seats.versionBefore,
          decisions,
        },
      ),
    )
    return left === 'lease-lost' ? null : left
  }

  async rejectHead(
    courseId: string,
    leaseToken: string,
    rejections: ReadonlyArray<Extract<Decision, { status: 'rejected' }>>,
  ): Promise<number | 'lease-lost' | 'not-full'> {
    const { connection, keys, scripts } = this.#r
    return connection.run(() =>
      scripts.rejectHead(
        {
          course: keys.course(courseId),
          requests: rejections.map((r) => keys.request(r.requestId)),
        },
        { token: leaseToken, ttlSeconds: keys.ttl.decidedSeconds, rejections },
      ),
    )
  }

  async progress(courseIds: readonly string[]): Promise<Map<string, number>> {
    const { connection, keys } = this.#r
    const out = new Map<string, number>()
    if (courseIds.length === 0) return out
    const values = await connection.run(() =>
      connection.client.mget(...courseIds.map((id) => keys.course(id).removed)),
    )
    courseIds.forEach((id, i) => out.set(id, Number(values[i] ?? 0)))
    return out
  }

  async raiseArrivalCounter(least: number): Promise<void> {
    const { connection, keys, scripts } = this.#r
    await connection.run(() => scripts.raiseCounter(keys.arrivals, least))
  }
}

/** The request a read found, or null when it is missing or not a request's shape. */
function recordOf(requestId: string, reply: ReadRequestReply): RequestRecord | null {
  if (!('status' in reply) || !STATUSES.has(reply.status)) return null
  return {
    requestId,
    studentId: reply.studentId,
    courseId: reply.courseId,
    status: reply.status as RequestRecord['status'],
    reason: reply.reason ? (reply.reason as RejectReason) : null,
    position: reply.position,
    joined:
      reply.joinedPosition === ''
        ? null
        : {
            position: Number(reply.joinedPosition),
            removedBefore: Number(reply.joinedRemoved || 0),
          },
  }
}
