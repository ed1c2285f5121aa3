import { promotionsOf } from '../../domain/cancellation.js'
import type { CourseSnapshot } from '../../domain/model.js'
import type { CancellationChange, SeatCache } from '../../domain/ports.js'
import { ENROLLED, type RushMemory } from './state.js'

/**
 * Seats left per course, live markers and in-flight cancellations (mark-cancellation.lua,
 * reflect-cancellation.lua, repair-course.lua).
 */
export class MemorySeatCache implements SeatCache {
  readonly #m: RushMemory

  constructor(memory: RushMemory) {
    this.#m = memory
  }

  async markCancellation(courseId: string, cancellationId: string, ttlMs: number): Promise<void> {
    const m = this.#m
    const course = m.course(courseId)
    m.dropExpiredMarks(course)
    const now = m.clock()
    course.cancelling.set(cancellationId, now + ttlMs)
    // As the Redis set's PEXPIRE: the marks as a whole live as long as the latest one was told.
    course.cancellingExpiresAt = now + ttlMs
  }

  async unmarkCancellation(courseId: string, cancellationId: string): Promise<void> {
    const course = this.#m.courses.get(courseId)
    if (course) this.#m.marks(course).delete(cancellationId)
  }

  async reflectCancellation(courseId: string, change: CancellationChange): Promise<void> {
    const m = this.#m
    const course = m.course(courseId)
    // Only when this is the newest state: a later enrollment of the canceller keeps its marker.
    // A capacity change has no canceller.
    const canceller = change.studentId
    if (
      m.writeSeatCache(course, change.version, change.seatsLeft, change.versionBefore) &&
      canceller !== null &&
      course.live.get(canceller) === ENROLLED
    ) {
      course.live.delete(canceller)
    }
    for (const { studentId, requestId } of promotionsOf(change)) {
      if (m.requests.has(requestId)) {
        m.recordDecision(course, requestId, studentId, 'enrolled', null)
      } else {
        course.live.set(studentId, ENROLLED)
      }
    }
    for (const d of change.dropped) {
      // A request that has expired is not brought back to life.
      if (m.requests.has(d.requestId)) {
        m.recordDecision(course, d.requestId, d.studentId, 'rejected', d.reason)
      }
    }
    m.marks(course).delete(change.cancellationId)
  }

  async versions(courseIds: readonly string[]): Promise<Map<string, number>> {
    const m = this.#m
    return new Map(
      courseIds.map((id) => {
        const course = m.courses.get(id)
        // Markers not known complete (the state was lost) count as no cache at all.
        return [id, course?.built ? (course.seats?.version ?? -1) : -1]
      }),
    )
  }

  async repair(courseId: string, snapshot: CourseSnapshot): Promise<boolean> {
    const m = this.#m
    const course = m.course(courseId)
    const cached = course.seats?.version ?? -1
    // Markers not known complete are all suspect, not only the changes after the cache's version.
    const rebuild = !course.built
    if (rebuild ? cached > snapshot.version : cached >= snapshot.version) return false
    course.seats = { version: snapshot.version, left: snapshot.seatsLeft }
    course.built = true

    const enrolled = new Set(snapshot.students)
    // A marker saying "enrolled" for a student who is not: the cancellation was never reflected.
    for (const [studentId, marker] of course.live) {
      if (marker === ENROLLED && !enrolled.has(studentId)) course.live.delete(studentId)
    }
    const replaceable = (marker: string | undefined) =>
      marker === undefined || m.requests.get(marker)?.status !== 'queued'
    // An enrolled student whose marker is missing, or names a request that is no longer queued.
    // After a loss even a queued one is overruled: the store can only turn it down.
    for (const studentId of snapshot.students) {
      const marker = course.live.get(studentId)
      if (marker !== ENROLLED && (rebuild || replaceable(marker))) {
        course.live.set(studentId, ENROLLED)
      }
    }
    // A waitlisted student: their marker names their waitlisted request, which says so. After a
    // loss a queued request is overruled too: its batch gives it the place, and the marker.
    for (const { requestId, studentId } of snapshot.waitlist) {
      const marker = course.live.get(studentId)
      if (marker !== requestId && (rebuild || replaceable(marker))) {
        course.live.set(studentId, requestId)
      }
      if (!m.requests.has(requestId)) {
        m.requests.set(
          requestId,
          {
            studentId,
            courseId,
            arrival: null,
            waitlist: true,
            status: 'waitlisted',
            reason: null,
            joined: null,
          },
          m.decidedTtlMs,
        )
      }
    }
    m.dropExpiredMarks(course)
    return true
  }
}
