import { backoffMs } from '../domain/admission-worker.js'
import type { ThrottledLog } from '../logging/throttled-log.js'
import type { Adapters } from './adapters.js'
import type { Services } from './services.js'

export interface Startup {
  /** Resolves once started, or when the instance began closing first. */
  run(): Promise<void>
  readonly started: boolean
}

/**
 * Start-up: migrate the schema and connect to Redis, retrying while either is away (an outage
 * must never become a crash loop), then start the request watch (a door's event streams), the
 * admission worker and the reconciler, as the role asks. The dependency checks start first, so
 * readiness says what is missing meanwhile.
 */
export function createStartup(
  adapters: Adapters,
  services: Services,
  options: {
    readonly runWorker: boolean
    readonly runWatch: boolean
    readonly closing: () => boolean
    readonly log: ThrottledLog
    readonly onStarted: () => void
  },
): Startup {
  const { store, rush } = adapters
  const { dependencies, worker, reconciler, watch, controls } = services
  let started = false
  let running: Promise<void> | null = null

  const start = async (): Promise<void> => {
    void dependencies.start()
    for (let attempt = 1; !options.closing(); attempt += 1) {
      try {
        await store.migrate()
        await rush.lifecycle.connect()
        break
      } catch (err) {
        options.log.warn('waiting for MySQL and Redis; retrying', err, { attempt })
        await new Promise((resolve) => setTimeout(resolve, backoffMs(attempt, 250, 5_000)))
      }
    }
    // Readiness should not lag the start-up by a check interval.
    await dependencies.check()
    if (options.closing()) return
    // The controls in force before anything that obeys them starts (a pause set before a
    // restart holds from the first batch); a failed read is retried every second.
    await controls.refresh().catch((err: unknown) => {
      options.log.warn('reading the operator controls failed; will retry', err)
    })
    controls.start()
    if (options.runWatch) watch.start()
    if (options.runWorker) {
      worker.start()
      reconciler.start()
    }
    started = true
    options.onStarted()
  }

  return {
    run: () => (running ??= start()),
    get started() {
      return started
    },
  }
}
