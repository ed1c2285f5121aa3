// Baseline "naive": the design a team would write first. Every request is one MySQL transaction
// that locks the course row (SELECT … FOR UPDATE), checks the rules, inserts the enrollment and
// commits before answering. It is in the rush benchmark because it is the obvious alternative to
// sugang's queue: correct, simple, and every request for a popular course waits in line for the
// same row lock while holding a pooled connection. A strawman to measure against: it lives in
// scripts/ only, never in the service.
//
//   DATABASE_URL=mysql://root@127.0.0.1:3306/<db> PORT=3401 [HOST] [POOL_SIZE=32] \
//     node --import tsx scripts/rush/baselines/naive-for-update.ts
//
// The tables come from prepareBaseline in ./schema.ts.
import { randomUUID } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import Fastify from 'fastify'
import type { FastifyError } from 'fastify'
import mysql from 'mysql2/promise'
import type { PoolConnection, RowDataPacket } from 'mysql2/promise'

function required(name: string): string {
  const value = process.env[name]
  if (!value) throw new Error(`${name} is required`)
  return value
}

const config = {
  port: Number(process.env.PORT ?? 3000),
  host: process.env.HOST ?? '127.0.0.1',
  databaseUrl: required('DATABASE_URL'),
  poolSize: Number(process.env.POOL_SIZE ?? 32),
}

const DEADLOCK = 1213
const LOCK_WAIT_TIMEOUT = 1205
const LOCK_RETRIES = 5
const ID = '^[A-Za-z0-9_-]{1,16}$'
const STUDENT_ID = new RegExp(ID)

type Refusal = { status: 401 | 404 | 409 | 503; code: string; message: string }
const REFUSED = {
  unknownStudent: { status: 401, code: 'UNAUTHENTICATED', message: 'Log in first.' },
  noCourse: { status: 404, code: 'COURSE_NOT_FOUND', message: 'There is no such course.' },
  enrolled: { status: 409, code: 'ALREADY_ENROLLED', message: 'You are already enrolled.' },
  credits: { status: 409, code: 'CREDIT_LIMIT', message: 'This would exceed your credit limit.' },
  full: { status: 409, code: 'COURSE_FULL', message: 'The course is full.' },
  busy: {
    status: 503,
    code: 'SERVICE_UNAVAILABLE',
    message: 'The service is busy; please retry shortly.',
  },
} as const satisfies Record<string, Refusal>

const errorBody = (code: string, message: string) => ({ error: { code, message } })

/**
 * There is no login: the cookie `student=<id>` names the student and is believed. This favours the
 * baseline, which skips the session lookup that sugang does on every request.
 */
function studentOf(cookieHeader: string | undefined): string | null {
  for (const part of (cookieHeader ?? '').split(';')) {
    const eq = part.indexOf('=')
    if (eq === -1 || part.slice(0, eq).trim() !== 'student') continue
    const id = part.slice(eq + 1).trim()
    return STUDENT_ID.test(id) ? id : null
  }
  return null
}

const pool = mysql.createPool({
  uri: config.databaseUrl,
  connectionLimit: config.poolSize,
  waitForConnections: true,
  timezone: 'Z',
  charset: 'utf8mb4',
})
// The same session as the service's pool: locking reads and plain reads alike see the latest
// committed rows, and inserts take no gap locks.
pool.pool.on('connection', (conn) => {
  conn.query('SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED', () => undefined)
})

async function one(conn: PoolConnection, sql: string, values: unknown[]) {
  const [rows] = await conn.query<RowDataPacket[]>(sql, values)
  return rows[0]
}

/** The rules, checked while holding the course row's lock (then the student's). */
async function decide(
  conn: PoolConnection,
  studentId: string,
  courseId: string,
): Promise<Refusal | { requestId: string }> {
  const course = await one(
    conn,
    'SELECT capacity, enrolled, credits FROM courses WHERE id = ? FOR UPDATE',
    [courseId],
  )
  if (!course) return REFUSED.noCourse
  const mine = await one(conn, 'SELECT 1 FROM enrollments WHERE student_id = ? AND course_id = ?', [
    studentId,
    courseId,
  ])
  if (mine) return REFUSED.enrolled
  const student = await one(conn, 'SELECT max_credits FROM students WHERE id = ? FOR UPDATE', [
    studentId,
  ])
  if (!student) return REFUSED.unknownStudent
  const taken = await one(
    conn,
    `SELECT COALESCE(SUM(c.credits), 0) AS credits
       FROM enrollments e JOIN courses c ON c.id = e.course_id
      WHERE e.student_id = ?`,
    [studentId],
  )
  if (Number(taken?.credits) + Number(course.credits) > Number(student.max_credits)) {
    return REFUSED.credits
  }
  if (Number(course.enrolled) >= Number(course.capacity)) return REFUSED.full
  const requestId = randomUUID()
  await conn.query('INSERT INTO enrollments (student_id, course_id, request_id) VALUES (?, ?, ?)', [
    studentId,
    courseId,
    requestId,
  ])
  await conn.query('UPDATE courses SET enrolled = enrolled + 1 WHERE id = ?', [courseId])
  return { requestId }
}

/** One transaction per request; a deadlock or a lock wait timeout is retried a few times. */
async function enroll(
  studentId: string,
  courseId: string,
): Promise<Refusal | { requestId: string }> {
  for (let attempt = 0; ; attempt += 1) {
    const conn = await pool.getConnection()
    try {
      await conn.beginTransaction()
      const outcome = await decide(conn, studentId, courseId)
      if ('requestId' in outcome) await conn.commit()
      else await conn.rollback()
      return outcome
    } catch (err) {
      await conn.rollback().catch(() => undefined)
      const errno = (err as { errno?: unknown }).errno
      if (errno !== DEADLOCK && errno !== LOCK_WAIT_TIMEOUT) throw err
      if (attempt >= LOCK_RETRIES) return REFUSED.busy
    } finally {
      conn.release()
    }
  }
}

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

const ErrorResponse = {
  type: 'object',
  properties: {
    error: {
      type: 'object',
      properties: { code: { type: 'string' }, message: { type: 'string' } },
    },
  },
}

app.post<{ Params: { courseId: string } }>(
  '/api/v1/courses/:courseId/enrollment-requests',
  {
    schema: {
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
      response: {
        201: {
          type: 'object',
          properties: {
            requestId: { type: 'string' },
            courseId: { type: 'string' },
            status: { type: 'string' },
          },
        },
        '4xx': ErrorResponse,
        '5xx': ErrorResponse,
      },
    },
  },
  async (request, reply) => {
    const studentId = studentOf(request.headers.cookie)
    const { courseId } = request.params
    const outcome = studentId ? await enroll(studentId, courseId) : REFUSED.unknownStudent
    if ('requestId' in outcome) {
      return reply.code(201).send({ requestId: outcome.requestId, courseId, status: 'enrolled' })
    }
    if (outcome.status === 503) reply.header('retry-after', '1')
    return reply.code(outcome.status).send(errorBody(outcome.code, outcome.message))
  },
)

async function shutdown(): Promise<void> {
  await app.close()
  await pool.end()
}

function onSignal(): void {
  shutdown().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err)
      process.exit(1)
    },
  )
}

// Listening only once MySQL answers, so /health is 200 exactly when the baseline is ready.
await pool.query('SELECT 1')
await app.listen({ host: config.host, port: config.port })
const { port } = app.server.address() as AddressInfo
console.log(`listening on http://${config.host}:${port}`)
process.once('SIGTERM', onSignal)
process.once('SIGINT', onSignal)
