import { randomUUID } from 'node:crypto'
import type { Decision, SeatChange } from '../../domain/model.js'
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
import { ENROLLED, type RushMemory } from './state.js'

/**
 * The per-course waiting queues in this process: the semantics of RedisWaitingQueue and its
 * scripts (enqueue-request, forget-idle-course, settle-batch, reject-head, raise-counter).
 */
export class MemoryWaitingQueue implements WaitingQueue {
  readonly #m: RushMemory

  constructor(memory: RushMemory) {
    this.#m = memory
  }

  async enqueue(input: EnqueueInput): Promise<EnqueueResult> {
    const m = this.#m
    const { studentId, courseId, requestId } = input
    if (!m.sessionNames(input.sessionId, studentId)) return { kind: 'unauthenticated' }
    const wait = m.overLimit(m.rateKey(studentId), m.budget.max, m.budget.windowMs)
    if (wait !== null) return { kind: 'rate-limited', retryAfterMs: wait }

    const known = m.courses.get(courseId)
    const live = known?.live.get(studentId)
    if (live === ENROLLED) return { kind: 'already-enrolled' }
    if (known && live !== undefined) {
      const status = m.requests.get(live)?.status
      if (status === 'queued') {
        const rank = known.queue.rank(live)
        if (rank !== null) {
          return {
            kind: 'existing',
            requestId: live,
            status,
            position: rank + 1,
            queueLength: known.queue.size,
          }
        }
      } else if (status === 'waitlisted') {
        return {
          kind: 'existing',
          requestId: live,
          status,
          position: 0,
          queueLength: known.queue.size,
        }
      }
      // The request it pointed at was decided or has expired: the student may ask again.
    }
    // A marker whose request has expired (a waitlist place outlives it): a batch asks the store.
    const unsure = live !== undefined && !m.requests.has(live)

    // Known full, and no cancellation in flight that may be freeing a seat: refuse at the door.
    if (input.refuseWhenFull && !unsure && m.knownFull(known) && !m.cancellationInFlight(known)) {
      return { kind: 'course-full' }
    }

    const course = known ?? m.course(courseId)
    m.arrivals += 1
    const arrival = m.arrivals
    // The arrival number is the largest so far, so this request is last in its queue.
    course.queue.add(requestId, arrival)
    const length = course.queue.size
    m.requests.set(
      requestId,
      {
        studentId,
        courseId,
        arrival,
        waitlist: input.waitlist,
        status: 'queued',
        reason: null,
        // Its place later is position - (let go of then - removedBefore).
        joined: { position: length, removedBefore: course.removed },
        queuedAt: this.#m.clock(),
      },
      null,
    )
    course.live.set(studentId, requestId)
    // The queue was empty: make it visible to the workers (they drop it once it drains).
    if (length === 1) m.active.add(courseId)
    return { kind: 'created', requestId, status: 'queued', position: length, queueLength: length }
  }

  async request(requestId: string): Promise<RequestRecord | null> {
    const m = this.#m
    const record = m.requests.get(requestId)
    if (!record || record.studentId === null || record.courseId === null) return null
    // Only a queued request has a place here: no mirror of the waitlist is kept in this
    // process, so a waitlisted request's place comes from the store (the embedded store is a
    // local file, not a primary shared by a fleet).
    let position: number | null = null
    if (record.status === 'queued') {
      const rank = m.courses.get(record.courseId)?.queue.rank(requestId) ?? null
      position = rank === null ? null : rank + 1
    }
    return {
      requestId,
      studentId: record.studentId,
      courseId: record.courseId,
      status: record.status,
      reason: record.reason,
      position,
      joined: record.joined,
    }
  }

  async studentRequest(session: SessionRef, requestId: string): Promise<StudentRead> {
    const m = this.#m
    const { studentId } = session
    if (!m.sessionNames(session.sessionId, studentId)) return { kind: 'unauthenticated' }
    const wait = m.overLimit(m.rateKey(studentId), m.budget.max, m.budget.windowMs)
    if (wait !== null) return { kind: 'rate-limited', retryAfterMs: wait }
    return { kind: 'read', record: await this.request(requestId) }
  }

  async length(courseId: string): Promise<number> {
    return this.#m.courses.get(courseId)?.queue.size ?? 0
  }

  async activeCourses(): Promise<string[]> {
    return [...this.#m.active]
  }

  async head(courseId: string, count: number): Promise<HeadEntry[]> {
    const m = this.#m
    const course = m.courses.get(courseId)
    if (!course || course.queue.size === 0) {
      m.active.delete(courseId)
      return []
    }
    const out: HeadEntry[] = []
    const gone: string[] = []
    for (const { requestId, arrival } of course.queue.head(count)) {
      const record = m.requests.get(requestId)
      // A queue entry whose request is gone cannot be decided: drop it.
      if (!record || record.studentId === null) {
        gone.push(requestId)
        continue
      }
      const marker = course.live.get(record.studentId)
      const standing: CachedStanding =
        marker === requestId ? 'this-request' : marker === ENROLLED ? 'enrolled' : 'other'
      out.push({
        requestId,
        studentId: record.studentId,
        waitlist: record.waitlist,
        arrival,
        ...(record.queuedAt === undefined ? {} : { queuedAt: record.queuedAt }),
        standing,
      })
    }
    course.removed += course.queue.remove(gone)
    return out
  }

  #holdsLease(courseId: string, token: string): boolean {
    return this.#m.leases.get(this.#m.courseLease(courseId)) === token
  }

  async settle(
    courseId: string,
    leaseToken: string,
    decisions: readonly Decision[],
    seats: SeatChange,
  ): Promise<number | null> {
    const m = this.#m
    if (!this.#holdsLease(courseId, leaseToken)) return null
    const course = m.course(courseId)
    course.removed += course.queue.remove(decisions.map((d) => d.requestId))
    for (const d of decisions) {
      m.recordDecision(
        course,
        d.requestId,
        d.studentId,
        d.status,
        d.status === 'rejected' ? d.reason : null,
      )
    }
    m.writeSeatCache(course, seats.version, seats.seatsLeft, seats.versionBefore)
    const left = course.queue.size
    if (left === 0) m.active.delete(courseId)
    return left
  }

  async rejectHead(
    courseId: string,
    leaseToken: string,
    rejections: ReadonlyArray<Extract<Decision, { status: 'rejected' }>>,
  ): Promise<number | 'lease-lost' | 'not-full'> {
    const m = this.#m
    if (!this.#holdsLease(courseId, leaseToken)) return 'lease-lost'
    const course = m.courses.get(courseId)
    if (!course || !m.knownFull(course) || m.cancellationInFlight(course)) return 'not-full'
    let rejected = 0
    for (const r of rejections) {
      // The markers were read earlier: a rebuild may since have learned the student holds more.
      if (course.live.get(r.studentId) !== r.requestId) break
      if (course.queue.remove([r.requestId]) === 0) break
      m.recordDecision(course, r.requestId, r.studentId, 'rejected', r.reason)
      rejected += 1
    }
    course.removed += rejected
    return rejected
  }

  async progress(courseIds: readonly string[]): Promise<Map<string, number>> {
    const m = this.#m
    return new Map(courseIds.map((id) => [id, m.courses.get(id)?.removed ?? 0]))
  }

  /** One counter numbers every course here: it is raised above the highest of them. */
  async raiseArrivalCounters(least: ReadonlyMap<string, number>): Promise<void> {
    const highest = Math.max(0, ...least.values())
    if (this.#m.arrivals < highest) this.#m.arrivals = highest
  }

  newRequestId(_courseId: string): string {
    return randomUUID()
  }
}
