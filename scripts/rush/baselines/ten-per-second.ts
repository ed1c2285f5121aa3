// Baseline "ten per second": the original design of the registration queue. Each course has a
// Redis queue; a request joins it and is answered 202 at once, and a loop drains every course at
// a fixed 10 requests per second, deciding each batch in one MySQL transaction. It is in the rush
// benchmark because it is the design a team picks to protect the database: fair and cheap to
// enqueue, but the last student of a popular course waits (queue length / 10) seconds whatever
// the machine could do. A strawman to measure against: it lives in scripts/ only, never in the
// service.
//
//   DATABASE_URL=mysql://root@127.0.0.1:3306/<db> REDIS_URL=redis://127.0.0.1:6379 PORT=3402 \
//     [HOST] [REDIS_PREFIX=bench-tps:] [POOL_SIZE=32] node --import tsx scripts/rush/baselines/ten-per-second.ts
//
// The tables come from prepareBaseline in ./schema.ts; clear the prefix with clearRedisPrefix.
import { randomUUID } from 'node:crypto'
import { Redis } from 'ioredis'
import type { PoolConnection, RowDataPacket } from 'mysql2/promise'
import {
  ENROLLMENT_REQUEST,
  EnqueueResponse,
  ErrorResponse,
  LOCK_RETRIES,
  REQUEST_STATUS,
  RequestResponse,
  baselineApp,
  createPool,
  enrollmentRequestSchema,
  errorBody,
  isLockConflict,
  requestStatusParams,
  required,
  serve,
  studentOf,
} from './server.js'

const config = {
  databaseUrl: required('DATABASE_URL'),
  redisUrl: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  prefix: process.env.REDIS_PREFIX ?? 'bench-tps:',
  poolSize: Number(process.env.POOL_SIZE ?? 32),
}

/** The design's defining numbers: at most BATCH requests per course every DRAIN_MS. */
const BATCH = 10
const DRAIN_MS = 1_000

const keys = {
  /** Global arrival counter: the queues' scores, so earlier means smaller. */
  arrivals: `${config.prefix}arrivals`,
  /** Courses whose queue may be non-empty. */
  active: `${config.prefix}active`,
  /** Sorted set of queued request ids by arrival. */
  queue: (courseId: string) => `${config.prefix}queue:${courseId}`,
  /** Hash student id → their queued request for the course. */
  live: (courseId: string) => `${config.prefix}live:${courseId}`,
  /** Hash: student, course, status, arrival, reason. */
  request: (requestId: string) => `${config.prefix}request:${requestId}`,
}

// KEYS: arrivals, queue, live, active, request. ARGV: request id, student id, course id.
// Returns {created (1|0), request id, position, queue length}: the student's queued request for
// the course if there is one, else a new one at the back of the queue.
const ENQUEUE = `
local rcall = redis.call
local existing = rcall('HGET', KEYS[3], ARGV[2])
if existing then
  local rank = rcall('ZRANK', KEYS[2], existing)
  if rank then return {0, existing, rank + 1, rcall('ZCARD', KEYS[2])} end
end
local arrival = rcall('INCR', KEYS[1])
rcall('ZADD', KEYS[2], arrival, ARGV[1])
rcall('HSET', KEYS[5], 'student', ARGV[2], 'course', ARGV[3], 'status', 'queued', 'arrival', arrival)
rcall('HSET', KEYS[3], ARGV[2], ARGV[1])
rcall('SADD', KEYS[4], ARGV[3])
local length = rcall('ZCARD', KEYS[2])
return {1, ARGV[1], length, length}
`

// KEYS: queue, live, active, then one request hash per decision. ARGV: course id, then per
// decision: request id, student id, status, reason ('' for none). Records the decisions, takes
// them out of the queue, and the course out of the active set once its queue is empty.
// Returns the queue's length.
const RECORD = `
local rcall = redis.call
for i = 4, #KEYS do
  local a = (i - 4) * 4 + 2
  local id, student, status, reason = ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3]
  if reason == '' then
    rcall('HSET', KEYS[i], 'status', status)
  else
    rcall('HSET', KEYS[i], 'status', status, 'reason', reason)
  end
  rcall('ZREM', KEYS[1], id)
  if rcall('HGET', KEYS[2], student) == id then rcall('HDEL', KEYS[2], student) end
end
local left = rcall('ZCARD', KEYS[1])
if left == 0 then rcall('SREM', KEYS[3], ARGV[1]) end
return left
`

type Commands = {
  enqueue(...keysAndArgs: string[]): Promise<[number, string, number, number]>
  record(numKeys: number, ...keysAndArgs: string[]): Promise<number>
}

const redis = new Redis(config.redisUrl, { enableAutoPipelining: true }) as Redis & Commands
redis.defineCommand('enqueue', { numberOfKeys: 5, lua: ENQUEUE })
redis.defineCommand('record', { lua: RECORD })

const pool = createPool(config.databaseUrl, config.poolSize)

interface Queued {
  requestId: string
  studentId: string
}
interface Decision extends Queued {
  status: 'enrolled' | 'rejected'
  reason: string
}

/**
 * The same rules as the naive design, for a batch in arrival order: the course row locked first,
 * then the batch's students (in id order, so two courses' batches cannot deadlock on them).
 */
async function decideBatch(
  conn: PoolConnection,
  courseId: string,
  batch: Queued[],
): Promise<Decision[]> {
  const [[course]] = await conn.query<RowDataPacket[]>(
    'SELECT capacity, enrolled, credits FROM courses WHERE id = ? FOR UPDATE',
    [courseId],
  )
  const studentIds = [...new Set(batch.map((q) => q.studentId))]
  const [students] = await conn.query<RowDataPacket[]>(
    'SELECT id, max_credits FROM students WHERE id IN (?) ORDER BY id FOR UPDATE',
    [studentIds],
  )
  const [existing] = await conn.query<RowDataPacket[]>(
    'SELECT student_id, request_id FROM enrollments WHERE course_id = ? AND student_id IN (?)',
    [courseId, studentIds],
  )
  const [taken] = await conn.query<RowDataPacket[]>(
    `SELECT e.student_id, SUM(c.credits) AS credits
       FROM enrollments e JOIN courses c ON c.id = e.course_id
      WHERE e.student_id IN (?) GROUP BY e.student_id`,
    [studentIds],
  )
  const maxCredits = new Map(students.map((s) => [String(s.id), Number(s.max_credits)]))
  const enrolledBy = new Map(existing.map((e) => [String(e.student_id), String(e.request_id)]))
  const credits = new Map(taken.map((t) => [String(t.student_id), Number(t.credits)]))
  const capacity = Number(course?.capacity ?? 0)
  const courseCredits = Number(course?.credits ?? 0)
  let enrolled = Number(course?.enrolled ?? 0)

  const decisions: Decision[] = []
  const rows: string[][] = []
  for (const q of batch) {
    const reject = (reason: string) => decisions.push({ ...q, status: 'rejected', reason })
    const prior = enrolledBy.get(q.studentId)
    const max = maxCredits.get(q.studentId)
    // Enrolled by an earlier drain whose answer never reached Redis: the same decision again.
    if (prior === q.requestId) decisions.push({ ...q, status: 'enrolled', reason: '' })
    else if (prior !== undefined) reject('ALREADY_ENROLLED')
    else if (!course) reject('COURSE_NOT_FOUND')
    else if (max === undefined) reject('UNKNOWN_STUDENT')
    else if ((credits.get(q.studentId) ?? 0) + courseCredits > max) reject('CREDIT_LIMIT')
    else if (enrolled >= capacity) reject('COURSE_FULL')
    else {
      enrolled += 1
      enrolledBy.set(q.studentId, q.requestId)
      credits.set(q.studentId, (credits.get(q.studentId) ?? 0) + courseCredits)
      rows.push([q.studentId, courseId, q.requestId])
      decisions.push({ ...q, status: 'enrolled', reason: '' })
    }
  }
  if (rows.length > 0) {
    await conn.query('INSERT INTO enrollments (student_id, course_id, request_id) VALUES ?', [rows])
    await conn.query('UPDATE courses SET enrolled = enrolled + ? WHERE id = ?', [
      rows.length,
      courseId,
    ])
  }
  return decisions
}

async function inTransaction<T>(work: (conn: PoolConnection) => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt += 1) {
    const conn = await pool.getConnection()
    try {
      await conn.beginTransaction()
      const result = await work(conn)
      await conn.commit()
      return result
    } catch (err) {
      await conn.rollback().catch(() => undefined)
      if (!isLockConflict(err) || attempt >= LOCK_RETRIES) throw err
    } finally {
      conn.release()
    }
  }
}

/** Decides the first BATCH requests of one course's queue, then records them in Redis. */
async function drainCourse(courseId: string): Promise<void> {
  const ids = await redis.zrange(keys.queue(courseId), 0, BATCH - 1)
  const students = await Promise.all(ids.map((id) => redis.hget(keys.request(id), 'student')))
  // A request whose hash is gone has no student, and is rejected rather than left at the head.
  const batch = ids.map((requestId, i) => ({ requestId, studentId: students[i] ?? '' }))
  const decisions =
    batch.length > 0 ? await inTransaction((c) => decideBatch(c, courseId, batch)) : []
  await redis.record(
    3 + decisions.length,
    keys.queue(courseId),
    keys.live(courseId),
    keys.active,
    ...decisions.map((d) => keys.request(d.requestId)),
    courseId,
    ...decisions.flatMap((d) => [d.requestId, d.studentId, d.status, d.reason]),
  )
}

let stopping = false
let drainTimer: NodeJS.Timeout | undefined
let draining: Promise<void> = Promise.resolve()

/** Every DRAIN_MS, every active course; a round that overruns starts the next one at once. */
function drainRound(): void {
  const started = Date.now()
  draining = redis
    .smembers(keys.active)
    .then((courses) =>
      Promise.all(
        courses.map((courseId) =>
          drainCourse(courseId).catch((err: unknown) => console.error(courseId, err)),
        ),
      ),
    )
    .then(
      () => undefined,
      (err: unknown) => console.error(err),
    )
    .finally(() => {
      if (!stopping) drainTimer = setTimeout(drainRound, DRAIN_MS - (Date.now() - started))
    })
}

const app = baselineApp()

const courseIds = new Set<string>()

app.post<{ Params: { courseId: string } }>(
  ENROLLMENT_REQUEST,
  {
    schema: {
      ...enrollmentRequestSchema,
      response: { 200: EnqueueResponse, 202: EnqueueResponse, '4xx': ErrorResponse },
    },
  },
  async (request, reply) => {
    const studentId = studentOf(request.headers.cookie)
    if (!studentId) return reply.code(401).send(errorBody('UNAUTHENTICATED', 'Log in first.'))
    const { courseId } = request.params
    if (!courseIds.has(courseId)) {
      return reply.code(404).send(errorBody('COURSE_NOT_FOUND', 'There is no such course.'))
    }
    const newId = randomUUID()
    const [created, requestId, position, queueLength] = await redis.enqueue(
      keys.arrivals,
      keys.queue(courseId),
      keys.live(courseId),
      keys.active,
      keys.request(newId),
      newId,
      studentId,
      courseId,
    )
    return reply
      .code(created === 1 ? 202 : 200)
      .send({ requestId, courseId, status: 'queued', position, queueLength })
  },
)

app.get<{ Params: { requestId: string } }>(
  REQUEST_STATUS,
  {
    schema: {
      params: requestStatusParams,
      response: {
        200: {
          type: 'object',
          properties: {
            ...RequestResponse.properties,
            position: { type: 'integer' },
            reason: { type: 'string' },
          },
        },
        '4xx': ErrorResponse,
      },
    },
  },
  async (request, reply) => {
    const studentId = studentOf(request.headers.cookie)
    if (!studentId) return reply.code(401).send(errorBody('UNAUTHENTICATED', 'Log in first.'))
    const { requestId } = request.params
    const key = keys.request(requestId)
    const [student, courseId, status] = await redis.hmget(key, 'student', 'course', 'status')
    // Another student's request is answered exactly like a missing one.
    if (student !== studentId || !courseId || !status) {
      return reply.code(404).send(errorBody('REQUEST_NOT_FOUND', 'There is no such request.'))
    }
    if (status === 'queued') {
      const rank = await redis.zrank(keys.queue(courseId), requestId)
      if (rank !== null) return { requestId, courseId, status, position: rank + 1 }
    }
    // Decided, possibly between the two reads above: read the outcome again.
    const [decided, reason] = await redis.hmget(key, 'status', 'reason')
    return { requestId, courseId, status: decided, ...(reason ? { reason } : {}) }
  },
)

// Listening only once MySQL and Redis answer, so /health is 200 exactly when the baseline is ready.
const [courseRows] = await pool.query<RowDataPacket[]>('SELECT id FROM courses')
for (const row of courseRows) courseIds.add(String(row.id))
await redis.ping()
drainRound()
await serve(app, async () => {
  stopping = true
  clearTimeout(drainTimer)
  await draining
  await pool.end()
  await redis.quit()
})
