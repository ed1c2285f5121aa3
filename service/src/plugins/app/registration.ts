import fp from 'fastify-plugin'
import { ROLES, type Config } from '../../config.js'
import type { AdmissionHooks } from '../../domain/admission-worker.js'
import { ThrottledLog } from '../../logging/throttled-log.js'
import { createAdapters, type Adapters } from '../../wiring/adapters.js'
import { createServices, type Services } from '../../wiring/services.js'
import { createStartup } from '../../wiring/startup.js'
import { registerGauges } from './gauges.js'

export interface Registration extends Adapters, Services {
  readonly config: Config
  /** True once the schema is migrated and what the role runs has started. */
  readonly started: boolean
  /** True from the moment the instance starts shutting down. */
  readonly closing: boolean
  /**
   * Migrates the schema (retrying while MySQL is away) and starts what the role runs: the
   * request watch (door), the admission worker and the reconciler (admission). Resolves once
   * started, or when the app closes.
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
  /** false: no admission worker, whatever the role (tests that drive admission by hand). */
  readonly worker?: boolean
}

/** Puts the adapters and domain services on the app and ties their lifecycle to it. */
export default fp<RegistrationOptions>(
  async (app, { config, hooks, worker }) => {
    const role = ROLES[config.role]
    const runWorker = role.admission && worker !== false
    const throttled = new ThrottledLog(app.log)
    const adapters = await createAdapters(config, throttled)
    const services = createServices(adapters, {
      config,
      metrics: app.metrics,
      log: app.log,
      throttled,
      hooks,
    })
    registerGauges(app.metrics.registry, { ...adapters, ...services })

    let closing = false
    const startup = createStartup(adapters, services, {
      runWorker,
      runWatch: role.api,
      closing: () => closing,
      log: throttled,
      onStarted: () =>
        app.log.info(
          { role: config.role },
          runWorker
            ? 'schema ready; admission worker running'
            : 'schema ready; no admission worker',
        ),
    })
    let began: Promise<void> | null = null

    app.decorate('sugang', {
      config,
      ...adapters,
      ...services,
      get started() {
        return startup.started
      },
      get closing() {
        return closing
      },
      startup: () => (began = startup.run()),
    } satisfies Registration)

    // Readiness turns 503 as soon as shutdown begins, so the load balancer drains the instance.
    app.addHook('preClose', async () => {
      closing = true
    })
    app.addHook('onClose', async () => {
      closing = true
      await began
      services.dependencies.stop()
      services.controls.stop()
      services.watch.stop()
      services.cancellation.stop()
      await services.reconciler.stop()
      await services.worker.stop()
      await adapters.rush.lifecycle.close()
      await adapters.store.close()
      throttled.close()
    })
  },
  { name: 'registration', dependencies: ['metrics'] },
)
