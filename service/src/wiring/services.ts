import type { FastifyBaseLogger } from 'fastify'
import type { Config } from '../config.js'
import { AdmissionWorker, type AdmissionHooks } from '../domain/admission-worker.js'
import { Cancellation } from '../domain/cancellation.js'
import { Catalogue } from '../domain/catalogue.js'
import { DependencyMonitor } from '../domain/dependency-monitor.js'
import { EnrollmentRequests } from '../domain/enrollment-requests.js'
import { FairnessRecord } from '../domain/fairness-reads.js'
import { Logins } from '../domain/logins.js'
import { Carts } from '../domain/cart.js'
import { StudentDirectory } from '../domain/students.js'
import { RequestWatch } from '../domain/request-watch.js'
import { Reconciler } from '../domain/reconciler.js'
import { OperatorControls, Operations } from '../domain/operations.js'
import type { ThrottledLog } from '../logging/throttled-log.js'
import type { Adapters } from './adapters.js'
import type { ServiceMetrics } from './metrics.js'

export interface Services {
  readonly catalogue: Catalogue
  readonly worker: AdmissionWorker
  readonly reconciler: Reconciler
  readonly cancellation: Cancellation
  readonly requests: EnrollmentRequests
  /** The fairness record as students and the public read it. */
  readonly fairness: FairnessRecord
  readonly logins: Logins
  readonly students: StudentDirectory
  readonly carts: Carts
  readonly watch: RequestWatch
  readonly dependencies: DependencyMonitor
  /** The operator controls in force on this instance (refreshed every second). */
  readonly controls: OperatorControls
  /** The operators' commands (the admin listener). */
  readonly operations: Operations
}

export interface ServiceContext {
  readonly config: Config
  readonly metrics: ServiceMetrics
  /** For rare events, logged every time. */
  readonly log: FastifyBaseLogger
  /** For errors that repeat while a dependency is away. */
  readonly throttled: ThrottledLog
  readonly hooks?: AdmissionHooks | undefined
}

/** The domain services on top of the adapters, each reporting to the metrics and the log. */
export function createServices(adapters: Adapters, context: ServiceContext): Services {
  const { store, rush } = adapters
  const { config, metrics, log, throttled } = context
  const catalogue = new Catalogue(store)

  const controls = new OperatorControls(store, config.registration, CONTROLS_POLL_MS, {
    error: (err) => throttled.warn('reading the operator controls failed; will retry', err),
    badRow: (name, err) => throttled.warn('an operator control could not be read', err, { name }),
  })

  // The histogram's two children, looked up once rather than for every decision.
  const waited = metrics.decisionWait.labels({ paused: 'false' })
  const waitedThroughPause = metrics.decisionWait.labels({ paused: 'true' })
  const worker = new AdmissionWorker(
    { store, queue: rush.queue, leases: rush.leases, gate: controls },
    config.admission,
    { maxWaitlistPerStudent: config.maxWaitlistPerStudent },
    {
      batch: (_courseId, seconds, decisions) => {
        metrics.admissionBatch.observe(seconds)
        for (const d of decisions) metrics.admissions.inc({ outcome: d.status })
      },
      bulkRejected: (_courseId, count) => metrics.admissions.inc({ outcome: 'rejected' }, count),
      waited: (seconds, throughPause) =>
        (throughPause ? waitedThroughPause : waited).observe(seconds),
      error: (err, courseId) => {
        metrics.admissionErrors.inc()
        throttled.warn('admission attempt failed; will retry', err, { courseId })
      },
    },
    context.hooks,
  )

  const reconciler = new Reconciler(
    { store, queue: rush.queue, seats: rush.seats, leases: rush.leases },
    config.reconcileIntervalMs,
    {
      repaired: (courseId) => {
        metrics.cacheRepairs.inc()
        log.info({ courseId }, 'queue caches repaired from MySQL')
      },
      error: (err) => throttled.warn('reconciler sweep failed; will retry', err),
    },
  )

  const cancellation = new Cancellation(
    { store, seats: rush.seats },
    {
      reflectionFailed: (err, courseId, attempt) => {
        metrics.reflectionFailures.inc()
        throttled.warn('cancellation committed but not yet reflected in the queue; retrying', err, {
          courseId,
          attempt,
        })
      },
      reflected: (courseId, attempt) =>
        log.info({ courseId, attempt }, 'cancellation reflected in the queue after a retry'),
    },
  )

  const operations = new Operations(
    store,
    controls,
    async (courseId) => (await catalogue.find(courseId)) !== null,
    cancellation,
  )

  const students = new StudentDirectory(store)
  const requests = new EnrollmentRequests(
    { queue: rush.queue, records: store },
    catalogue,
    students,
    () => controls.window(),
    // Wakes this process's worker at once. A door runs none: a separate admission process
    // finds the request at its next look at the active courses (every idleMs, 50 ms).
    () => worker.poke(),
  )

  const fairness = new FairnessRecord(store, requests, catalogue)

  const dependencies = new DependencyMonitor({
    mysql: () => store.ping(),
    redis: () => rush.lifecycle.ping(),
  })

  const { login } = config
  const logins = new Logins({ throttle: rush.logins, accounts: store }, students, {
    limits: {
      account: login.accountFailures,
      address: login.addressFailures,
      device: login.deviceFailures,
      campusAccount: { max: login.campusAccountFailures },
    },
    campusNetworks: login.campusNetworks,
    checks: { atOnce: login.checksAtOnce, maxWaitMs: login.checkMaxWaitMs },
    passwordCost: config.passwordCost,
  })

  const carts = new Carts(store, requests)
  const watch = new RequestWatch({ queue: rush.queue, seats: rush.seats }, requests, {
    round: (seconds, updates) => {
      metrics.watchRounds.observe(seconds)
      metrics.watchUpdates.inc(updates)
    },
    error: (err) => throttled.warn('request watch round failed; will retry', err),
  })

  return {
    catalogue,
    worker,
    reconciler,
    cancellation,
    requests,
    fairness,
    logins,
    students,
    carts,
    watch,
    dependencies,
    controls,
    operations,
  }
}

/** How often each instance reads the operator controls in force (ms). */
const CONTROLS_POLL_MS = 1_000
