import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import fp from 'fastify-plugin'
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { ServiceMetrics } from '../../wiring/metrics.js'

/** The services' metrics and the HTTP layer's own. */
export interface Metrics extends ServiceMetrics {
  readonly registry: Registry
  readonly enrollmentRequests: Counter<'outcome'>
  readonly waitlistPromotions: Counter
  readonly loginRefusals: Counter<'reason'>
  /** The address the metrics listener is bound to, once listening. */
  address(): AddressInfo | null
}

declare module 'fastify' {
  interface FastifyInstance {
    metrics: Metrics
  }
}

export interface MetricsOptions {
  /** Interface of the metrics listener (METRICS_HOST): loopback unless a scraper must reach it. */
  readonly host: string
  readonly port: number
}

/**
 * Prometheus metrics on their own listener (METRICS_PORT), never routed through the ALB. Each app
 * instance has its own registry, so tests can run several instances in one process.
 */
export default fp<MetricsOptions>(
  async (app, options) => {
    const registry = new Registry()
    collectDefaultMetrics({ register: registry })

    const httpDuration = new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request duration in seconds, by method, route template and status code.',
      labelNames: ['method', 'route', 'status_code'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    })

    const metrics: Metrics = {
      registry,
      enrollmentRequests: new Counter({
        name: 'sugang_enrollment_requests_total',
        help: 'Enrollment requests received, by outcome at the door (queued, existing, course_full, ...).',
        labelNames: ['outcome'],
        registers: [registry],
      }),
      admissions: new Counter({
        name: 'sugang_admissions_total',
        help: 'Requests decided by the admission worker, by outcome (enrolled, waitlisted, rejected).',
        labelNames: ['outcome'],
        registers: [registry],
      }),
      admissionBatch: new Histogram({
        name: 'sugang_admission_batch_duration_seconds',
        help: 'Duration of one admission transaction (lock, rules, insert, commit).',
        buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
        registers: [registry],
      }),
      decisionWait: new Histogram({
        name: 'sugang_decision_wait_seconds',
        help: 'Seconds from a request joining its course queue to its decision being told, per decided request; paused="true" when an operator paused its course in between.',
        labelNames: ['paused'],
        buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30, 60, 120, 300, 600],
        registers: [registry],
      }),
      admissionErrors: new Counter({
        name: 'sugang_admission_errors_total',
        help: 'Admission attempts that failed and will be retried.',
        registers: [registry],
      }),
      waitlistPromotions: new Counter({
        name: 'sugang_waitlist_promotions_total',
        help: 'Waitlisted students who took a freed seat.',
        registers: [registry],
      }),
      cacheRepairs: new Counter({
        name: 'sugang_cache_repairs_total',
        help: 'Courses whose queue caches (seat cache, live markers) were rebuilt from MySQL because a write after a commit was lost.',
        registers: [registry],
      }),
      reflectionFailures: new Counter({
        name: 'sugang_cancel_reflection_failures_total',
        help: 'Committed cancellations whose update of the queue failed at first (retried, then repaired).',
        registers: [registry],
      }),
      loginRefusals: new Counter({
        name: 'sugang_login_refusals_total',
        help: 'Logins refused before the password was checked, by reason (address, account, device).',
        labelNames: ['reason'],
        registers: [registry],
      }),
      watchRounds: new Histogram({
        name: 'sugang_watch_round_duration_seconds',
        help: 'Duration of one round of recomputing the places of watched requests (one queue read for all).',
        buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
        registers: [registry],
      }),
      watchUpdates: new Counter({
        name: 'sugang_watch_updates_total',
        help: 'Live request updates pushed to watching students (event streams).',
        registers: [registry],
      }),
      address: () => {
        const address = server?.address()
        return address && typeof address === 'object' ? address : null
      },
    }
    app.decorate('metrics', metrics)

    app.addHook('onResponse', (request, reply, done) => {
      httpDuration.observe(
        {
          method: request.method,
          route: request.routeOptions.url ?? 'unmatched',
          status_code: String(reply.statusCode),
        },
        reply.elapsedTime / 1000,
      )
      done()
    })

    let server: Server | null = null
    app.addHook('onReady', async () => {
      server = createServer((req, res) => {
        if (req.method !== 'GET' || req.url?.split('?')[0] !== '/metrics') {
          res.writeHead(404).end()
          return
        }
        registry.metrics().then(
          (body) => res.writeHead(200, { 'content-type': registry.contentType }).end(body),
          (err: unknown) => {
            app.log.error({ err }, 'metrics collection failed')
            res.writeHead(500).end()
          },
        )
      })
      await new Promise<void>((resolve, reject) => {
        server?.once('error', reject)
        server?.listen(options.port, options.host, () => resolve())
      })
    })
    app.addHook('onClose', async () => {
      await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()))
    })
  },
  { name: 'metrics' },
)
