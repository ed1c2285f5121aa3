import fp from 'fastify-plugin'
import { Gauge } from 'prom-client'
import { MysqlStore } from '../../adapters/mysql/store.js'
import { RedisQueue } from '../../adapters/redis/queue.js'
import type { Config } from '../../config.js'
import { AdmissionWorker, type AdmissionHooks } from '../../domain/admission-worker.js'
import { Catalogue } from '../../domain/catalogue.js'
import { answers } from '../../domain/answers.js'
import type { RegistrationQueue, RegistrationStore } from '../../domain/ports.js'

export interface Registration {
  readonly config: Config
  readonly store: RegistrationStore
  readonly queue: RegistrationQueue
  readonly catalogue: Catalogue
  readonly worker: AdmissionWorker
  /** True once the schema is migrated and the admission worker runs. */
  readonly started: boolean
  /**
   * Migrates the schema (retrying while MySQL is away, so an outage never becomes a crash loop)
   * and starts the admission worker. Resolves once both are done, or when the app closes.
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

export default fp<RegistrationOptions>(
  async (app, { config, hooks, worker: runWorker = config.admissionWorker }) => {
    const store = new MysqlStore({
      url: config.databaseUrl,
      replicaUrl: config.databaseReplicaUrl,
      poolSize: config.mysqlPoolSize,
    })
    let lastRedisError = 0
    const queue = new RedisQueue({
      url: config.redisUrl,
      prefix: config.redisPrefix,
      sessionTtlSeconds: config.sessionTtlSeconds,
      decidedTtlSeconds: config.decidedTtlSeconds,
      rateLimitMax: config.rateLimit.max,
      rateLimitWindowMs: config.rateLimit.windowMs,
      onError: (err) => {
        // ioredis reports every reconnect attempt; one line a few seconds is enough.
        if (Date.now() - lastRedisError > 5_000) app.log.warn({ err }, 'redis connection error')
        lastRedisError = Date.now()
      },
    })
    const catalogue = new Catalogue(store)
    const metrics = app.metrics
    const worker = new AdmissionWorker(
      store,
      queue,
      config.admission,
      {
        batch: (_courseId, seconds, decisions) => {
          metrics.admissionBatch.observe(seconds)
          for (const d of decisions) metrics.admissions.inc({ outcome: d.status })
        },
        bulkRejected: (_courseId, count) => metrics.admissions.inc({ outcome: 'rejected' }, count),
        error: (err, courseId) => {
          metrics.admissionErrors.inc()
          app.log.warn({ err, courseId }, 'admission attempt failed; will retry')
        },
      },
      hooks,
    )

    // Gauges read at scrape time, so they show the queue as it is, whichever instance admits it.
    // Every course is reported (0 when idle) so that dashboards see a queue drain to zero.
    new Gauge({
      name: 'sugang_queue_length',
      help: 'Requests waiting in each course queue.',
      labelNames: ['course_id'],
      registers: [metrics.registry],
      async collect() {
        this.reset()
        const [courses, active] = await Promise.all([
          catalogue.list().catch(() => []),
          queue.activeCourses().catch(() => [] as string[]),
        ])
        const ids = new Set([...courses.map((c) => c.id), ...active])
        await Promise.all(
          [...ids].map(async (courseId) => {
            const length = await queue.queueLength(courseId).catch(() => 0)
            this.set({ course_id: courseId }, length)
          }),
        )
      },
    })
    new Gauge({
      name: 'sugang_seats_left',
      help: 'Seats left per course, from the catalogue (at most a second old) at scrape time.',
      labelNames: ['course_id'],
      registers: [metrics.registry],
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
      registers: [metrics.registry],
      async collect() {
        this.reset()
        const lag = await store.replicaLagSeconds()
        if (lag !== null) this.set(lag)
      },
    })
    new Gauge({
      name: 'sugang_enrolled_over_capacity',
      help: 'Courses with more enrollments than seats, or an enrolled count that disagrees with its rows. Must always be 0.',
      registers: [metrics.registry],
      async collect() {
        this.set(await store.countOverCapacity().catch(() => 0))
      },
    })

    // Checked at scrape time, so the metric is true whether or not a load balancer is probing.
    new Gauge({
      name: 'sugang_dependency_up',
      help: '1 when the dependency (mysql, redis) answered a check at scrape time, else 0.',
      labelNames: ['dependency'],
      registers: [metrics.registry],
      async collect() {
        const [mysql, redis] = await Promise.all([
          answers(() => store.ping()),
          answers(() => queue.ping()),
        ])
        this.set({ dependency: 'mysql' }, mysql ? 1 : 0)
        this.set({ dependency: 'redis' }, redis ? 1 : 0)
      },
    })

    let started = false
    let closing = false
    let startup: Promise<void> | null = null

    const registration: Registration = {
      config,
      store,
      queue,
      catalogue,
      worker,
      get started() {
        return started
      },
      startup() {
        startup ??= (async () => {
          for (let attempt = 1; !closing; attempt += 1) {
            try {
              await store.migrate()
              await queue.connect()
              break
            } catch (err) {
              app.log.warn({ err, attempt }, 'waiting for MySQL and Redis; retrying')
              await new Promise((resolve) => setTimeout(resolve, Math.min(attempt * 500, 5_000)))
            }
          }
          if (closing) return
          if (runWorker) worker.start()
          started = true
          app.log.info('schema ready; admission worker running')
        })()
        return startup
      },
    }
    app.decorate('sugang', registration)

    app.addHook('onClose', async () => {
      closing = true
      await startup
      await worker.stop()
      await queue.close()
      await store.close()
    })
  },
  { name: 'registration', dependencies: ['metrics'] },
)
