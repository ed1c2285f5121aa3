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
import type { ReadRequestReply, StudentCheck } from './lua-scripts.js'
import type { RedisContext } from './context.js'
import { authorizeStudent, studentCheck, type RequestBudget } from './sessions.js'

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
    // On a cluster the student's session and counter sit in another slot than the course: they
    // are checked first, in their own round trip; on one node, in the same one.
    const combined = !connection.cluster
    if (!combined) {
      const allowed = await authorizeStudent(this.#r, this.#budget, input)
      if (allowed.code === 'rate-limited') {
        return { kind: 'rate-limited', retryAfterMs: allowed.retryAfterMs }
      }
      if (allowed.code === 'unauthenticated') return { kind: 'unauthenticated' }
    }
    const reply = await connection.run(() =>
      scripts.enqueueRequest(
        {
          course: keys.course(courseId),
          activeCourses: keys.activeCoursesOf(courseId),
          request: keys.requestOf(courseId, requestId),
          requestPrefix: keys.requestPrefix(courseId),
        },
        {
          studentId,
          requestId,
          courseId,
          waitlist: input.waitlist,
          refuseWhenFull: input.refuseWhenFull,
        },
        combined ? studentCheck(this.#r, this.#budget, input) : undefined,
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

  newRequestId(courseId: string): string {
    return this.#r.keys.newRequestId(courseId)
  }

  async request(requestId: string): Promise<RequestRecord | null> {
    return recordOf(requestId, await this.#read(requestId))
  }

  #read(
    requestId: string,
    auth?: StudentCheck & { readonly studentId: string },
  ): Promise<ReadRequestReply> {
    const { connection, keys, scripts } = this.#r
    return connection.run(() =>
      scripts.readRequest(
        { request: keys.request(requestId), course: keys.courseKeysAround(requestId) },
        requestId,
        auth,
      ),
    )
  }

  async studentRequest(session: SessionRef, requestId: string): Promise<StudentRead> {
    // On one node the session and rate limit are checked in the read's own round trip; on a
    // cluster they sit in the student's slot, checked alongside the read (which writes nothing)
    // and the read's answer is used only if they pass.
    const [allowed, reply] = this.#r.connection.cluster
      ? await Promise.all([authorizeStudent(this.#r, this.#budget, session), this.#read(requestId)])
      : [null, await this.#read(requestId, studentCheck(this.#r, this.#budget, session))]
    const refusal = allowed && allowed.code !== 'ok' ? allowed : reply
    if (refusal.code === 'unauthenticated') return { kind: 'unauthenticated' }
    if (refusal.code === 'rate-limited') {
      return { kind: 'rate-limited', retryAfterMs: refusal.retryAfterMs }
    }
    return { kind: 'read', record: recordOf(requestId, reply) }
  }

  async length(courseId: string): Promise<number> {
    const { connection, keys } = this.#r
    return connection.run(() => connection.client.zcard(keys.course(courseId).queue))
  }

  async activeCourses(): Promise<string[]> {
    const { connection, keys } = this.#r
    const { client } = connection
    const groups = Array.from({ length: keys.courseGroups }, (_, g) => keys.activeCourses(g))
    const sets = await connection.run(() => Promise.all(groups.map((k) => client.smembers(k))))
    return sets.flat()
  }

  async head(courseId: string, count: number): Promise<HeadEntry[]> {
    const { connection, keys, scripts } = this.#r
    const { client } = connection
    const course = keys.course(courseId)
    return connection.run(async () => {
      const flat = await client.zrange(course.queue, 0, count - 1, 'WITHSCORES')
      if (flat.length === 0) {
        await scripts.forgetIdleCourse(course, keys.activeCoursesOf(courseId), courseId)
        return []
      }
      const ids: string[] = []
      const arrivals: number[] = []
      for (let i = 0; i + 1 < flat.length; i += 2) {
        ids.push(flat[i] as string)
        arrivals.push(Number(flat[i + 1]))
      }
      const pipeline = client.pipeline()
      for (const id of ids) pipeline.hmget(keys.requestOf(courseId, id), 's', 'w', 't')
      const requests = results(await pipeline.exec()) as Array<
        [string | null, string | null, string | null]
      >
      const students = requests.map(([s]) => s).filter((s): s is string => s !== null)
      const markers =
        students.length > 0
          ? await client.hmget(course.live, ...students)
          : ([] as Array<string | null>)
      const markerOf = new Map(students.map((s, i) => [s, markers[i] ?? null]))

      const out: HeadEntry[] = []
      const gone: string[] = []
      ids.forEach((requestId, i) => {
        const [studentId, waitlist, joinedAt] = requests[i] ?? [null, null, null]
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
          ...(joinedAt === null ? {} : { queuedAt: Number(joinedAt) }),
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
          activeCourses: keys.activeCoursesOf(courseId),
          requests: decisions.map((d) => keys.requestOf(courseId, d.requestId)),
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
          requests: rejections.map((r) => keys.requestOf(courseId, r.requestId)),
        },
        { token: leaseToken, ttlSeconds: keys.ttl.decidedSeconds, rejections },
      ),
    )
  }

  async progress(courseIds: readonly string[]): Promise<Map<string, number>> {
    const { connection, keys } = this.#r
    const out = new Map<string, number>()
    if (courseIds.length === 0) return out
    // One GET per course (courses sit in different slots on a cluster); they share round trips.
    const { client } = connection
    const values = await connection.run(() =>
      Promise.all(courseIds.map((id) => client.get(keys.course(id).removed))),
    )
    courseIds.forEach((id, i) => out.set(id, Number(values[i] ?? 0)))
    return out
  }

  async raiseArrivalCounters(least: ReadonlyMap<string, number>): Promise<void> {
    const { connection, keys, scripts } = this.#r
    const byGroup = new Map<number, Array<{ key: string; least: number }>>()
    for (const [courseId, value] of least) {
      const group = keys.courseGroup(courseId)
      const counters = byGroup.get(group) ?? []
      counters.push({ key: keys.course(courseId).arrivals, least: value })
      byGroup.set(group, counters)
    }
    await connection.run(() =>
      Promise.all([...byGroup.values()].map((counters) => scripts.raiseCounters(counters))),
    )
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
