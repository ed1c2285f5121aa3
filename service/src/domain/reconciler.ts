import { randomUUID } from 'node:crypto'
import { backoffMs } from './admission-worker.js'
import type { ConsistencyReads, Leases, SeatCache, WaitingQueue } from './ports.js'

export interface ReconcilerObserver {
  repaired(courseId: string): void
  error(err: unknown): void
}

/**
 * Keeps the queue's caches (seat cache, live markers, the waitlist's mirror, arrival counter) from
 * staying wrong, and rebuilds them when Redis lost its data (the seat cache then no longer
 * vouches for the markers: see SeatCache.versions). Every Redis write after a MySQL COMMIT can fail or be lost with its instance, or
 * (for the waitlist's mirror, which takes changes only in order) arrive out of order; each such
 * write is versioned by the course's version, so a cache that is still older than what MySQL had
 * one sweep ago missed a write. That course is rebuilt from a consistent MySQL snapshot.
 *
 * One instance sweeps at a time (a lease it renews while it lives), so the course versions seen
 * in the previous sweep are at hand and a write that is merely in flight is not "repaired".
 */
export class Reconciler {
  readonly #store: ConsistencyReads
  readonly #queue: WaitingQueue
  readonly #seats: SeatCache
  readonly #leases: Leases
  readonly #intervalMs: number
  readonly #observer: ReconcilerObserver
  readonly #token = randomUUID()
  /** Course versions MySQL had at the previous sweep. */
  #previous = new Map<string, number>()
  #timer: NodeJS.Timeout | null = null
  #running: Promise<void> | null = null
  #failures = 0
  #stopped = false

  constructor(
    ports: {
      readonly store: ConsistencyReads
      readonly queue: WaitingQueue
      readonly seats: SeatCache
      readonly leases: Leases
    },
    intervalMs: number,
    observer: ReconcilerObserver,
  ) {
    this.#store = ports.store
    this.#queue = ports.queue
    this.#seats = ports.seats
    this.#leases = ports.leases
    this.#intervalMs = intervalMs
    this.#observer = observer
  }

  start(): void {
    this.#stopped = false
    this.#schedule(this.#intervalMs)
  }

  async stop(): Promise<void> {
    this.#stopped = true
    if (this.#timer) clearTimeout(this.#timer)
    this.#timer = null
    await this.#running
  }

  #schedule(ms: number): void {
    if (this.#stopped) return
    this.#timer = setTimeout(() => {
      this.#running = this.sweep()
        .then(
          () => {
            this.#failures = 0
            this.#schedule(this.#intervalMs)
          },
          (err: unknown) => {
            this.#failures += 1
            this.#observer.error(err)
            this.#schedule(
              Math.max(this.#intervalMs, backoffMs(this.#failures, this.#intervalMs, 30_000)),
            )
          },
        )
        .finally(() => {
          this.#running = null
        })
    }, ms)
    this.#timer.unref()
  }

  /** One pass; public so tests can drive it. Returns the courses it repaired. */
  async sweep(): Promise<string[]> {
    if (!(await this.#leases.acquireReconciler(this.#token, this.#intervalMs * 3))) {
      this.#previous.clear()
      return []
    }
    const courses = await this.#store.courseVersions()
    const through = new Map(
      courses.filter((c) => c.decidedThrough > 0).map((c) => [c.id, c.decidedThrough]),
    )
    if (through.size > 0) await this.#queue.raiseArrivalCounters(through)
    const cached = await this.#seats.versions(courses.map((c) => c.id))
    const repaired: string[] = []
    for (const course of courses) {
      const seen = this.#previous.get(course.id)
      const cache = cached.get(course.id) ?? -1
      // Behind what MySQL already had a whole interval ago: the write that should have brought
      // the cache there is not coming.
      // (A course at version 0 never had a seat or a waitlist place taken or freed: there is
      // nothing to be stale.)
      const behind = seen !== undefined && seen > 0 && cache < seen
      // No cache whose markers are known complete, for a course that has changed: Redis lost
      // data (a restart without it, a failover to a replica that missed writes). No write in
      // flight brings the markers back; only a rebuild does, so it need not wait an interval.
      const lost = cache === -1 && course.version > 0
      if (behind || lost) {
        const snapshot = await this.#store.courseSnapshot(course.id)
        if (snapshot && (await this.#seats.repair(course.id, snapshot))) {
          repaired.push(course.id)
          this.#observer.repaired(course.id)
        }
      }
    }
    this.#previous = new Map(courses.map((c) => [c.id, c.version]))
    return repaired
  }
}
