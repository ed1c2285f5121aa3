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
import type { PoolConnection, RowDataPacket } from 'mysql2/promise'
import {
  ENROLLMENT_REQUEST,
  ErrorResponse,
  LOCK_RETRIES,
  RequestResponse,
  baselineApp,
  createPool,
  enrollmentRequestSchema,
  errorBody,
  isLockConflict,
  required,
  serve,
  studentOf,
} from './server.js'

const config = {
  databaseUrl: required('DATABASE_URL'),
  poolSize: Number(process.env.POOL_SIZE ?? 32),
}

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

const pool = createPool(config.databaseUrl, config.poolSize)

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
      if (!isLockConflict(err)) throw err
      if (attempt >= LOCK_RETRIES) return REFUSED.busy
    } finally {
      conn.release()
    }
  }
}

const app = baselineApp()

app.post<{ Params: { courseId: string } }>(
  ENROLLMENT_REQUEST,
  {
    schema: {
      ...enrollmentRequestSchema,
      response: {
        201: RequestResponse,
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

// Listening only once MySQL answers, so /health is 200 exactly when the baseline is ready.
await pool.query('SELECT 1')
await serve(app, () => pool.end())
