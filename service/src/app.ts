import { randomBytes } from 'node:crypto'
import type { Socket } from 'node:net'
import compress from '@fastify/compress'
import cookie from '@fastify/cookie'
import underPressure from '@fastify/under-pressure'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import Fastify, { LogController, type FastifyInstance, type FastifyServerOptions } from 'fastify'
import { ROLES, type Config } from './config.js'
import type { AdmissionHooks } from './domain/admission-worker.js'
import errors, { clientErrorHandlerFor, frameworkErrorHandler } from './plugins/app/errors.js'
import { LoopStalls } from './loop-stalls.js'
import bodies from './plugins/app/bodies.js'
import { COMPRESSION } from './plugins/app/compression.js'
import crossSite from './plugins/app/cross-site.js'
import metrics from './plugins/app/metrics.js'
import admin from './plugins/app/admin.js'
import openapiDocs from './plugins/app/openapi.js'
import registration from './plugins/app/registration.js'
import { addSecurityHeaders } from './plugins/app/security-headers.js'
import sessions from './plugins/app/sessions.js'
import web from './plugins/app/web.js'
import auth from './routes/api/auth.js'
import courses from './routes/api/courses.js'
import enrollments from './routes/api/enrollments.js'
import cart from './routes/api/cart.js'
import me from './routes/api/me.js'
import events from './routes/api/events.js'
import fairnessRecord from './routes/api/fairness-record.js'
import notices from './routes/api/notices.js'
import openapi from './routes/api/openapi.js'
import health from './routes/health/index.js'
import { ErrorResponse } from './schemas/common.js'
import { MeetingView } from './schemas/course.js'
import { RETRY_AFTER_SECONDS, errorBody } from './errors.js'

export interface AppOptions {
  readonly config: Config
  readonly logger?: FastifyServerOptions['logger']
  readonly hooks?: AdmissionHooks
  /** Set false to run an instance without its own admission worker, whatever its role. */
  readonly worker?: boolean
}

/** Every API route lives under this prefix; the WAF's per-session rule (infra) counts only these. */
export const API_PREFIX = '/api/v1'

/** How often Node looks for requests that have taken longer than the request timeout. */
const CONNECTIONS_CHECKED_EVERY_MS = 1_000

/** An answer slower than this is logged at info (ms). */
const SLOW_REQUEST_MS = 1_000
/** Log levels at which every answer is logged. */
const DEBUG_LEVELS = new Set(['debug', 'trace'])

/** A client's request id is echoed and logged only when it is short and harmless. */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/

/**
 * Builds the service as one Fastify instance, not yet listening: the API and the page unless the
 * role is admission alone, which answers the health checks and nothing else.
 */
export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const { config } = options
  const { deadlines } = config
  const stalls = new LoopStalls()
  const instanceId = randomBytes(6).toString('base64url')
  let requests = 0
  const app = Fastify({
    logger: options.logger ?? {
      level: config.logLevel,
      // Passwords never reach the logger (bodies are not logged); cookies are redacted.
      redact: {
        paths: ['req.headers.cookie', 'req.headers.authorization', 'res.headers["set-cookie"]'],
        censor: '[redacted]',
      },
    },
    bodyLimit: config.bodyLimitBytes,
    // Behind the ALB exactly one proxy hop is trusted: the client cannot spoof its address by
    // sending its own X-Forwarded-For (the login limits are keyed by it).
    trustProxy: config.trustProxy ? (_address: string, hop: number) => hop === 0 : false,
    // Not requestIdHeader: Fastify would take any header value as is. genReqId checks it.
    requestIdHeader: false,
    // An id of this instance's own otherwise: a random prefix per instance and a counter, unique
    // across a fleet without a random UUID per request.
    genReqId: (req) => {
      const incoming = req.headers['x-request-id']
      if (typeof incoming === 'string' && REQUEST_ID.test(incoming)) return incoming
      requests += 1
      return `${instanceId}-${requests.toString(36)}`
    },
    ajv: {
      // Unknown fields are rejected, never silently dropped; types are never coerced in bodies.
      customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false },
    },
    // Slow clients: the whole request (headers and body) must arrive within requestMs, checked
    // every second, so a body that never finishes cannot hold a socket for minutes. A timeout
    // that a freeze of this instance caused is answered 503, not 408 (clientErrorHandlerFor).
    requestTimeout: deadlines.requestMs,
    keepAliveTimeout: deadlines.keepAliveMs,
    http: {
      connectionsCheckingInterval: CONNECTIONS_CHECKED_EVERY_MS,
      headersTimeout: deadlines.requestMs,
    },
    // During shutdown the service answers 503 with Retry-After itself (see below).
    return503OnClosing: false,
    frameworkErrors: frameworkErrorHandler,
    clientErrorHandler: clientErrorHandlerFor(
      stalls,
      deadlines.requestMs,
      CONNECTIONS_CHECKED_EVERY_MS,
    ),
    // One access-log line per request (in onResponse below) instead of Fastify's two: at the
    // rush's request rate, logging is a measurable share of the CPU.
    logController: new LogController({ disableRequestLogging: true }),
  }).withTypeProvider<TypeBoxTypeProvider>()

  // When each connection's current request may have begun: connected, or its last one answered.
  app.server.on('connection', (socket: Socket) => stalls.track(socket))
  app.addHook('onClose', async () => stalls.stop())
  // JSON only: Fastify's default text/plain parser would let a non-JSON body reach validation.
  app.removeContentTypeParser('text/plain')
  app.addSchema(ErrorResponse)
  app.addSchema(MeetingView)
  app.addHook('onSend', (request, reply, payload, done) => {
    reply.header('x-request-id', request.id)
    addSecurityHeaders(reply)
    done(null, payload)
  })
  // The access log: the ALB logs every request (infra's edge), so an ordinary answer is logged
  // here at debug only, and at info what on-call looks for: a 5xx, or an answer that took longer
  // than SLOW_REQUEST_MS. At the rush's request rate a line per request is a measurable share of
  // the CPU, and no object is built for a line the level drops.
  app.addHook('onResponse', (request, reply, done) => {
    stalls.track(request.raw.socket)
    const ms = reply.elapsedTime
    const notable = reply.statusCode >= 500 || ms >= SLOW_REQUEST_MS
    if (notable || DEBUG_LEVELS.has(request.log.level)) {
      const line = {
        method: request.method,
        url: request.url,
        statusCode: reply.statusCode,
        ms: Math.round(ms * 10) / 10,
      }
      if (notable) request.log.info(line, 'request completed')
      else request.log.debug(line, 'request completed')
    }
    done()
  })

  // External plugins, then the app's own, then routes.
  await app.register(cookie, { secret: config.sessionSecret, hook: 'onRequest' })
  await app.register(errors)
  // Before every route: they refuse (and document on each route) what no route should take.
  await app.register(crossSite, { allowedOrigins: config.allowedOrigins })
  await app.register(bodies)
  await app.register(metrics, { host: config.metricsHost, port: config.metricsPort })
  await app.register(registration, {
    config,
    ...(options.hooks ? { hooks: options.hooks } : {}),
    ...(options.worker === false ? { worker: false } : {}),
  })
  await app.register(admin, { listener: config.admin })
  const door = ROLES[config.role].api
  if (door) {
    await app.register(sessions)
    // Before the routes: it documents every route registered after it (docs/openapi.json).
    await app.register(openapiDocs)
  }

  // Shutting down: every request but the health checks gets a 503 the client may retry
  // elsewhere (Fastify's own answer to this has no Retry-After). A callback hook: it runs on
  // every request.
  app.addHook('onRequest', (request, reply, done) => {
    if (!app.sugang.closing || request.routeOptions.url?.startsWith('/health/')) {
      done()
      return
    }
    reply
      .code(503)
      .header('retry-after', RETRY_AFTER_SECONDS)
      .header('connection', 'close')
      .send(errorBody('SHUTTING_DOWN', 'This instance is shutting down; retry.'))
  })

  // Before every route: it hooks each route as it is added.
  await app.register(compress, COMPRESSION)
  await app.register(health, { prefix: '/health' })
  // An admission process answers the health checks (and Prometheus, on its own listener) and
  // nothing else: no API route, no page.
  if (!door) return app
  await app.register(web)
  await app.register(
    async (api) => {
      // Everything here is in the API's own scope: load shedding and authentication apply to
      // the routes Fastify matched in it, however the URL was spelled, and to nothing else.
      await api.register(underPressure, {
        maxEventLoopDelay: config.maxEventLoopDelayMs,
        // Sample often: a rush overloads an instance within a second, and shedding must follow.
        sampleInterval: 100,
        retryAfter: Number(RETRY_AFTER_SECONDS),
      })
      api.addHook('onRequest', app.sessions.authenticate)
      await api.register(auth)
      await api.register(courses)
      await api.register(enrollments)
      await api.register(me)
      await api.register(cart)
      await api.register(events)
      await api.register(fairnessRecord)
      await api.register(notices)
      await api.register(openapi)
    },
    { prefix: API_PREFIX },
  )
  return app
}
