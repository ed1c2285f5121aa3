import { DependencyUnavailableError } from '../../errors.js'
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
    await connection.run(() =>
      scripts.reflectCancellation(
        {
          course: keys.course(courseId),
          promoted: change.promoted ? keys.request(change.promoted.requestId) : null,
          dropped: change.dropped.map((d) => keys.request(d.requestId)),
        },
        { ...change, ttlSeconds: keys.ttl.decidedSeconds },
      ),
    )
  }

  async versions(courseIds: readonly string[]): Promise<Map<string, number>> {
    const { connection, keys } = this.#r
    const versions = new Map<string, number>()
    if (courseIds.length === 0) return versions
    const replies = await connection.run(() => {
      const pipeline = connection.client.pipeline()
      for (const id of courseIds) pipeline.hmget(keys.course(id).seats, 'v', 'wv', 'built')
      return pipeline.exec()
    })
    const version = (value: string | null | undefined): number =>
      value === null || value === undefined ? -1 : Number(value)
    courseIds.forEach((id, i) => {
      const [err, value] = replies?.[i] ?? [null, null]
      if (err) throw new DependencyUnavailableError('redis', err)
      const [seats, waitlist, built] = (value ?? []) as Array<string | null>
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
          waitlistedRequests: snapshot.waitlist.map((w) => keys.request(w.requestId)),
          markedRequests: markers.map((m) => keys.request(m.requestId)),
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
