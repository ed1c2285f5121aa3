import { Gauge, type Registry } from 'prom-client'
import type { Catalogue } from '../../domain/catalogue.js'
import type { DependencyMonitor } from '../../domain/dependency-monitor.js'
import type { RequestWatch } from '../../domain/request-watch.js'
import type { ConsistencyReads, RushState } from '../../domain/ports.js'
import type { ConfirmationBacklog } from '../../domain/confirmations.js'
import { EVERY_COURSE, type OperatorControls } from '../../domain/operations.js'

export interface GaugeSources {
  readonly store: ConsistencyReads
  readonly rush: RushState
  readonly catalogue: Catalogue
  readonly dependencies: DependencyMonitor
  readonly watch: RequestWatch
  /** This instance's copy of the operator controls in force. */
  readonly controls: Pick<OperatorControls, 'state'>
}

/** Unix seconds of a control's ISO 8601 start, or null when it cannot be read. */
function unixSeconds(iso: string): number | null {
  const ms = Date.parse(iso)
  return Number.isFinite(ms) ? ms / 1000 : null
}

/**
 * Gauges read at scrape time, so they show the state as it is, whichever instance changed it.
 * A source that does not answer leaves its gauge empty rather than failing the scrape.
 */
export function registerGauges(registry: Registry, sources: GaugeSources): void {
  const { store, rush, catalogue, dependencies, watch, controls } = sources
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

  registerControlGauges(registry, controls)
}

/**
 * The operator controls in force, from this instance's copy (at most a second old), so that a
 * dashboard and the alerts see every pause and ceiling. Only controlled courses have series:
 * their number is bounded by the courses an operator named, and a series disappears when its
 * control is lifted. Every instance reports the same controls; rules take max() over instances.
 */
function registerControlGauges(
  registry: Registry,
  controls: Pick<OperatorControls, 'state'>,
): void {
  // A control of every course is labelled course_id="*": what the admin API and `sugang admin`
  // take for it, and never a course id (their pattern has no `*`).
  const every = `"${EVERY_COURSE}" for every course`
  new Gauge({
    name: 'sugang_admission_paused',
    help: `1 for each course whose admission an operator paused (course_id ${every}); no series when none is.`,
    labelNames: ['course_id'],
    registers: [registry],
    collect() {
      this.reset()
      for (const course of controls.state.pauses.keys()) this.set({ course_id: course }, 1)
    },
  })
  new Gauge({
    name: 'sugang_admission_paused_since_seconds',
    help: `When each pause in force began, in Unix seconds (course_id ${every}): time() minus it is how long admission has been paused.`,
    labelNames: ['course_id'],
    registers: [registry],
    collect() {
      this.reset()
      for (const [course, pause] of controls.state.pauses) {
        const since = unixSeconds(pause.since)
        if (since !== null) this.set({ course_id: course }, since)
      }
    },
  })
  new Gauge({
    name: 'sugang_admission_ceiling_per_second',
    help: `Each ceiling an operator set on admission decisions per second (course_id ${every}, a ceiling over all courses together); no series when none is set.`,
    labelNames: ['course_id'],
    registers: [registry],
    collect() {
      this.reset()
      for (const [course, throttle] of controls.state.throttles) {
        this.set({ course_id: course }, throttle.perSecond)
      }
    },
  })
  new Gauge({
    name: 'sugang_announcement_active',
    help: '1 while an operator announcement is shown on every page, else 0.',
    registers: [registry],
    collect() {
      this.set(controls.state.announcement ? 1 : 0)
    },
  })
  new Gauge({
    name: 'sugang_registration_window_moved',
    help: '1 while an operator has moved the registration window away from the configured one, else 0.',
    registers: [registry],
    collect() {
      this.set(controls.state.window ? 1 : 0)
    },
  })
}
