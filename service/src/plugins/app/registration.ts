import fp from 'fastify-plugin'
import { MysqlStore } from '../../adapters/mysql/store.js'
import { RedisQueue } from '../../adapters/redis/queue.js'
import type { Config } from '../../config.js'
import { AdmissionWorker, backoffMs, type AdmissionHooks } from '../../domain/admission-worker.js'
import { Cancellation } from '../../domain/cancellation.js'
import { Catalogue } from '../../domain/catalogue.js'
import { DependencyMonitor } from '../../domain/dependency-monitor.js'
import type { RegistrationQueue, RegistrationStore } from '../../domain/ports.js'
import { Reconciler } from '../../domain/reconciler.js'
import { ThrottledLog } from '../../logging/throttled-log.js'
import { registerGauges } from './gauges.js'

export interface Registration {
  readonly config: Config
  readonly store: RegistrationStore
  readonly queue: RegistrationQueue
  readonly catalogue: Catalogue
  readonly worker: AdmissionWorker
  readonly reconciler: Reconciler
  readonly cancellation: Cancellation
  readonly dependencies: DependencyMonitor
  /** True once the schema is migrated and the admission worker runs. */
  readonly started: boolean
  /** True from the moment the instance starts shutting down. */
  readonly closing: boolean
  /**
   * Migrates the schema (retrying while MySQL is away, so an outage never becomes a crash loop)
   * and starts the admission worker and the reconciler. Resolves once both are done, or when the
   * app closes.
   */
  startup(): Promise<void>
}

declare module 'fastify' {
  interface FastifyInstance {
    sugang: Registration
  }
}

export interface RegistrationOptions {
  readonly config: Config
  readonly hooks?: AdmissionHooks
  /** Runs no admission worker in this instance (tests that drive admission by hand). */
  readonly worker?: boolean
}

/** The composition root: adapters, the domain services on top of them, and their lifecycle. */
export default fp<RegistrationOptions>(
  async (app, { config, hooks, worker: runWorker = config.admissionWorker }) => {
    const log = new ThrottledLog(app.log)
    const store = new MysqlStore({
      url: config.databaseUrl,
      replicaUrl: config.databaseReplicaUrl,
      poolSize: config.mysqlPoolSize,
      timeoutMs: config.deadlines.mysqlMs,
    })
    const queue = new RedisQueue({
      url: config.redisUrl,
      prefix: config.redisPrefix,
      sessionTtlSeconds: config.sessionTtlSeconds,
      decidedTtlSeconds: config.decidedTtlSeconds,
      rateLimitMax: config.rateLimit.max,
      rateLimitWindowMs: config.rateLimit.windowMs,
      commandTimeoutMs: config.deadlines.redisMs,
      maxInFlight: config.deadlines.redisMaxInFlight,
      // ioredis reports every reconnect attempt.
      onError: (err) => log.warn('redis connection error', err),
    })
    const catalogue = new Catalogue(store)
    const metrics = app.metrics
    const worker = new AdmissionWorker(
      store,
      queue,
      config.admission,
      { maxWaitlistPerStudent: config.maxWaitlistPerStudent },
      {
        batch: (_courseId, seconds, decisions) => {
          metrics.admissionBatch.observe(seconds)
          for (const d of decisions) metrics.admissions.inc({ outcome: d.status })
        },
        bulkRejected: (_courseId, count) => metrics.admissions.inc({ outcome: 'rejected' }, count),
        error: (err, courseId) => {
          metrics.admissionErrors.inc()
          log.warn('admission attempt failed; will retry', err, { courseId })
        },
      },
      hooks,
    )
    const reconciler = new Reconciler(store, queue, config.reconcileIntervalMs, {
      repaired: (courseId) => {
        metrics.cacheRepairs.inc()
        app.log.info({ courseId }, 'queue caches repaired from MySQL')
      },
      error: (err) => log.warn('reconciler sweep failed; will retry', err),
    })
    const cancellation = new Cancellation(store, queue, {
      reflectionFailed: (err, courseId, attempt) => {
        metrics.reflectionFailures.inc()
        log.warn('cancellation committed but not yet reflected in the queue; retrying', err, {
          courseId,
          attempt,
        })
      },
      reflected: (courseId, attempt) =>
        app.log.info({ courseId, attempt }, 'cancellation reflected in the queue after a retry'),
    })
    const dependencies = new DependencyMonitor({
      mysql: () => store.ping(),
      redis: () => queue.ping(),
    })
    registerGauges(metrics.registry, { store, queue, catalogue, dependencies })

    let started = false
    let closing = false
    let startup: Promise<void> | null = null

    const registration: Registration = {
      config,
      store,
      queue,
      catalogue,
      worker,
      reconciler,
      cancellation,
      dependencies,
      get started() {
        return started
      },
      get closing() {
        return closing
      },
      startup() {
        startup ??= (async () => {
          void dependencies.start()
          for (let attempt = 1; !closing; attempt += 1) {
            try {
              await store.migrate()
              await queue.connect()
              break
            } catch (err) {
              log.warn('waiting for MySQL and Redis; retrying', err, { attempt })
              await new Promise((resolve) => setTimeout(resolve, backoffMs(attempt, 250, 5_000)))
            }
          }
          // Readiness should not lag the start-up by a check interval.
          await dependencies.check()
          if (closing) return
          if (runWorker) {
            worker.start()
            reconciler.start()
          }
          started = true
          app.log.info('schema ready; admission worker running')
        })()
        return startup
      },
    }
    app.decorate('sugang', registration)

    // Readiness turns 503 as soon as shutdown begins, so the load balancer drains the instance.
    app.addHook('preClose', async () => {
      closing = true
    })
    app.addHook('onClose', async () => {
      closing = true
      await startup
      dependencies.stop()
      cancellation.stop()
      await reconciler.stop()
      await worker.stop()
      await queue.close()
      await store.close()
      log.close()
    })
  },
  { name: 'registration', dependencies: ['metrics'] },
)
