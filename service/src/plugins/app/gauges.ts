import { Gauge, type Registry } from 'prom-client'
import type { Catalogue } from '../../domain/catalogue.js'
import type { DependencyMonitor } from '../../domain/dependency-monitor.js'
import type { RequestWatch } from '../../domain/request-watch.js'
import type { ConsistencyReads, RushState } from '../../domain/ports.js'
import type { ConfirmationBacklog } from '../../domain/confirmations.js'

export interface GaugeSources {
  readonly store: ConsistencyReads
  readonly rush: RushState
  readonly catalogue: Catalogue
  readonly dependencies: DependencyMonitor
  readonly watch: RequestWatch
}

/**
 * Gauges read at scrape time, so they show the state as it is, whichever instance changed it.
 * A source that does not answer leaves its gauge empty rather than failing the scrape.
 */
export function registerGauges(registry: Registry, sources: GaugeSources): void {
  const { store, rush, catalogue, dependencies, watch } = sources
  new Gauge({
    name: 'sugang_watch_listeners',
    help: 'Open live streams of request answers, counted per watched request.',
    registers: [registry],
    collect() {
      this.set(watch.listeners)
    },
  })

  // Every course is reported (0 when idle) so that dashboards see a queue drain to zero.
  new Gauge({
    name: 'sugang_queue_length',
    help: 'Requests waiting in each course queue.',
    labelNames: ['course_id'],
    registers: [registry],
    async collect() {
      this.reset()
      const [courses, active] = await Promise.all([
        catalogue.list().catch(() => []),
        rush.queue.activeCourses().catch(() => [] as string[]),
      ])
      const ids = new Set([...courses.map((c) => c.id), ...active])
      await Promise.all(
        [...ids].map(async (courseId) => {
          const length = await rush.queue.length(courseId).catch(() => 0)
          this.set({ course_id: courseId }, length)
        }),
      )
    },
  })
  new Gauge({
    name: 'sugang_seats_left',
    help: 'Seats left per course, from the catalogue (at most a second old) at scrape time.',
    labelNames: ['course_id'],
    registers: [registry],
    async collect() {
      this.reset()
      for (const c of await catalogue.list().catch(() => [])) {
        this.set({ course_id: c.id }, Math.max(0, c.capacity - c.enrolled))
      }
    },
  })
  new Gauge({
    name: 'sugang_replica_lag_seconds',
    help: 'Seconds the read replica is behind the primary (0 without a replica, +Inf when replication has stopped).',
    registers: [registry],
    async collect() {
      this.reset()
      const lag = await store.replicaLagSeconds()
      if (lag !== null) this.set(lag)
    },
  })
  // Read together at each scrape: both gauges come from one query.
  let backlog: Promise<ConfirmationBacklog | null> | null = null
  const readBacklog = () => {
    backlog ??= store
      .confirmationBacklog()
      .catch(() => null)
      .finally(() => setImmediate(() => (backlog = null)))
    return backlog
  }
  new Gauge({
    name: 'sugang_confirmations',
    help: 'Confirmation e-mails by outbox state: pending and sending are still owed, dead ones were given up on.',
    labelNames: ['state'],
    registers: [registry],
    async collect() {
      this.reset()
      const b = await readBacklog()
      if (!b) return
      this.set({ state: 'pending' }, b.pending)
      this.set({ state: 'sending' }, b.sending)
      this.set({ state: 'dead' }, b.dead)
    },
  })
  new Gauge({
    name: 'sugang_confirmation_oldest_waiting_seconds',
    help: 'Age of the oldest confirmation e-mail not sent yet (0 when none is owed).',
    registers: [registry],
    async collect() {
      this.reset()
      const b = await readBacklog()
      if (!b) return
      this.set(b.oldestWaiting ? Math.max(0, (Date.now() - b.oldestWaiting.getTime()) / 1000) : 0)
    },
  })
  new Gauge({
    name: 'sugang_enrolled_over_capacity',
    help: 'Courses with more enrollments than seats, or an enrolled count that disagrees with its rows. Must always be 0.',
    registers: [registry],
    async collect() {
      this.set(await store.countOverCapacity().catch(() => 0))
    },
  })
  new Gauge({
    name: 'sugang_dependency_up',
    help: '1 while the dependency (mysql, redis) answers the background checks that readiness uses, else 0.',
    labelNames: ['dependency'],
    registers: [registry],
    collect() {
      this.set({ dependency: 'mysql' }, dependencies.up('mysql') ? 1 : 0)
      this.set({ dependency: 'redis' }, dependencies.up('redis') ? 1 : 0)
    },
  })
}
