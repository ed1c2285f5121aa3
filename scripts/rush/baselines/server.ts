// What the three baselines share: the HTTP side of sugang's API they imitate (the same paths,
// request schemas, error body and validation answers, and /health), the cookie that names the
// student, a MySQL pool set up like the service's, and listening and stopping. Each baseline adds
// only its own design behind the routes. Strawmen to measure against: they live in scripts/ only,
// never in the service.
import type { AddressInfo } from 'node:net'
import Fastify from 'fastify'
import type { FastifyError, FastifyInstance } from 'fastify'
import mysql from 'mysql2/promise'
import type { Pool } from 'mysql2/promise'

export function required(name: string): string {
  const value = process.env[name]
  if (!value) throw new Error(`${name} is required`)
  return value
}

/** Where a baseline listens: PORT (3000 if unset) on HOST (127.0.0.1 if unset). */
const listenOn = {
  port: Number(process.env.PORT ?? 3000),
  host: process.env.HOST ?? '127.0.0.1',
}

/** A course id or a student id, as sugang accepts them. */
export const ID = '^[A-Za-z0-9_-]{1,16}$'
const STUDENT_ID = new RegExp(ID)
const UUID = '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'

export const errorBody = (code: string, message: string) => ({ error: { code, message } })

/**
 * There is no login: the cookie `student=<id>` names the student and is believed. This favours the
 * baseline, which skips the session lookup that sugang does on every request.
 */
export function studentOf(cookieHeader: string | undefined): string | null {
  for (const part of (cookieHeader ?? '').split(';')) {
    const eq = part.indexOf('=')
    if (eq === -1 || part.slice(0, eq).trim() !== 'student') continue
    const id = part.slice(eq + 1).trim()
    return STUDENT_ID.test(id) ? id : null
  }
  return null
}

export function createPool(databaseUrl: string, connectionLimit: number): Pool {
  const pool = mysql.createPool({
    uri: databaseUrl,
    connectionLimit,
    waitForConnections: true,
    timezone: 'Z',
    charset: 'utf8mb4',
  })
  // The same session as the service's pool: locking reads and plain reads alike see the latest
  // committed rows, and inserts take no gap locks.
  pool.pool.on('connection', (conn) => {
    conn.query('SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED', () => undefined)
  })
  return pool
}

const DEADLOCK = 1213
const LOCK_WAIT_TIMEOUT = 1205
/** How many times a transaction that hit a deadlock or a lock wait timeout is tried again. */
export const LOCK_RETRIES = 5

export function isLockConflict(err: unknown): boolean {
  const errno = (err as { errno?: unknown }).errno
  return errno === DEADLOCK || errno === LOCK_WAIT_TIMEOUT
}

export const ErrorResponse = {
  type: 'object',
  properties: {
    error: {
      type: 'object',
      properties: { code: { type: 'string' }, message: { type: 'string' } },
    },
  },
}

/** A request as sugang answers for it: its id, its course and its status. */
export const RequestResponse = {
  type: 'object',
  properties: {
    requestId: { type: 'string' },
    courseId: { type: 'string' },
    status: { type: 'string' },
  },
}

/** A queued answer to POST .../enrollment-requests, as sugang's. */
export const EnqueueResponse = {
  type: 'object',
  properties: {
    ...RequestResponse.properties,
    position: { type: 'integer' },
    queueLength: { type: 'integer' },
  },
}

/** POST /api/v1/courses/:courseId/enrollment-requests: its params and body, as sugang's. */
export const ENROLLMENT_REQUEST = '/api/v1/courses/:courseId/enrollment-requests'
export const enrollmentRequestSchema = {
  params: {
    type: 'object',
    properties: { courseId: { type: 'string', pattern: ID } },
    required: ['courseId'],
    additionalProperties: false,
  },
  // The waitlist flag is accepted for the same body as sugang's, and ignored.
  body: {
    type: 'object',
    properties: { waitlist: { type: 'boolean' } },
    additionalProperties: false,
  },
}

/** GET /api/v1/enrollment-requests/:requestId: its params, as sugang's. */
export const REQUEST_STATUS = '/api/v1/enrollment-requests/:requestId'
export const requestStatusParams = {
  type: 'object',
  properties: { requestId: { type: 'string', pattern: UUID } },
  required: ['requestId'],
  additionalProperties: false,
}

/**
 * Fastify as the service sets it up for these routes: bodies neither coerced nor stripped,
 * validation failures answered 400 in the service's error body, a bodyless POST taken as {},
 * and /health.
 */
export function baselineApp(): FastifyInstance {
  const app = Fastify({
    logger: false,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false } },
  })

  app.setErrorHandler((err: FastifyError, _request, reply) => {
    if (err.validation) return reply.code(400).send(errorBody('VALIDATION_FAILED', err.message))
    if (err.statusCode && err.statusCode < 500) {
      return reply.code(err.statusCode).send(errorBody('BAD_REQUEST', err.message))
    }
    console.error(err)
    return reply.code(500).send(errorBody('INTERNAL', 'Something went wrong.'))
  })

  // A bodyless POST means the same as {}, as in the service.
  app.addHook('preValidation', async (request) => {
    if (request.method === 'POST' && request.body === undefined) request.body = {}
  })

  app.get('/health', async () => ({ status: 'ok' }))
  return app
}

/**
 * Listens on PORT and HOST and says where; on SIGTERM or SIGINT closes the app, then what
 * `release` releases (pools, connections), and exits.
 */
export async function serve(
  app: FastifyInstance,
  release: () => Promise<void> = async () => {},
): Promise<void> {
  const onSignal = (): void => {
    app
      .close()
      .then(release)
      .then(
        () => process.exit(0),
        (err: unknown) => {
          console.error(err)
          process.exit(1)
        },
      )
  }
  await app.listen({ host: listenOn.host, port: listenOn.port })
  const { port } = app.server.address() as AddressInfo
  console.log(`listening on http://${listenOn.host}:${port}`)
  process.once('SIGTERM', onSignal)
  process.once('SIGINT', onSignal)
}
