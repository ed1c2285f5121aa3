import { promotionsOf } from '../../domain/cancellation.js'
import type { CourseSnapshot } from '../../domain/model.js'
import type { CancellationChange, SeatCache } from '../../domain/ports.js'
import type { RedisContext } from './context.js'

export class RedisSeatCache implements SeatCache {
  readonly #r: RedisContext

  constructor(context: RedisContext) {
    this.#r = context
  }

  async markCancellation(courseId: string, cancellationId: string, ttlMs: number): Promise<void> {
    const { connection, keys, scripts } = this.#r
    await connection.run(() =>
      scripts.markCancellation(keys.course(courseId), cancellationId, ttlMs),
    )
  }

  async unmarkCancellation(courseId: string, cancellationId: string): Promise<void> {
    const { connection, keys } = this.#r
    await connection.run(() =>
      connection.client.zrem(keys.course(courseId).cancelling, cancellationId),
    )
  }

  async reflectCancellation(courseId: string, change: CancellationChange): Promise<void> {
    const { connection, keys, scripts } = this.#r
    const promoted = promotionsOf(change)
    await connection.run(() =>
      scripts.reflectCancellation(
        {
          course: keys.course(courseId),
          promoted: promoted.map((p) => keys.requestOf(courseId, p.requestId)),
          dropped: change.dropped.map((d) => keys.requestOf(courseId, d.requestId)),
        },
        { ...change, promoted, ttlSeconds: keys.ttl.decidedSeconds },
      ),
    )
  }

  async versions(courseIds: readonly string[]): Promise<Map<string, number>> {
    const { connection, keys } = this.#r
    const versions = new Map<string, number>()
    if (courseIds.length === 0) return versions
    // One command per course (courses sit in different slots on a cluster); they share round
    // trips, per node.
    const { client } = connection
    const replies = await connection.run(() =>
      Promise.all(courseIds.map((id) => client.hmget(keys.course(id).seats, 'v', 'wv', 'built'))),
    )
    const version = (value: string | null | undefined): number =>
      value === null || value === undefined ? -1 : Number(value)
    courseIds.forEach((id, i) => {
      const [seats, waitlist, built] = replies[i] ?? []
      // The waitlist mirror counts as much as the seats: a mirror left behind is repaired too.
      // Markers not known complete (Redis lost data) count as no cache at all.
      versions.set(id, built ? Math.min(version(seats), version(waitlist)) : -1)
    })
    return versions
  }

  async repair(courseId: string, snapshot: CourseSnapshot): Promise<boolean> {
    const { connection, keys, scripts } = this.#r
    const course = keys.course(courseId)
    return connection.run(async () => {
      // Which request each enrolled or waitlisted student's marker names now; the script
      // re-checks each one.
      const held = new Set([...snapshot.students, ...snapshot.waitlist.map((w) => w.studentId)])
      const live = await connection.client.hgetall(course.live)
      const markers = Object.entries(live)
        .filter(([studentId, marker]) => held.has(studentId) && marker !== 'E')
        .map(([studentId, requestId]) => ({ studentId, requestId }))
      return scripts.repairCourse(
        {
          course,
          waitlistedRequests: snapshot.waitlist.map((w) => keys.requestOf(courseId, w.requestId)),
          markedRequests: markers.map((m) => keys.requestOf(courseId, m.requestId)),
        },
        {
          courseId,
          version: snapshot.version,
          seatsLeft: snapshot.seatsLeft,
          ttlSeconds: keys.ttl.decidedSeconds,
          students: snapshot.students,
          waitlist: snapshot.waitlist,
          markers,
        },
      )
    })
  }
}
