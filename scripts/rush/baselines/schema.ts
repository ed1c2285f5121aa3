// The baselines' own tables and Redis keys, set up fresh for every run of the rush benchmark and
// read back afterwards for the invariant check. The baselines are strawmen to measure sugang
// against: they live in scripts/ only, never in the service.
import { Redis } from 'ioredis'
import mysql from 'mysql2/promise'
import type { Connection, RowDataPacket } from 'mysql2/promise'

export interface BaselineData {
  students: { id: string; maxCredits: number }[]
  courses: { id: string; capacity: number; credits: number }[]
}

export interface BaselineState {
  courses: { id: string; capacity: number; enrolled: number; rows: number }[]
  enrollments: { studentId: string; courseId: string; requestId: string }[]
}

const CHUNK_ROWS = 1_000
const DATABASE_NAME = /^[A-Za-z0-9_]{1,64}$/

/** The database a URL names; it is spliced into SQL, so only plain names are accepted. */
function databaseOf(databaseUrl: string): string {
  const name = decodeURIComponent(new URL(databaseUrl).pathname.slice(1))
  if (!DATABASE_NAME.test(name)) throw new Error(`not a plain database name: "${name}"`)
  return name
}

async function withConnection<T>(uri: string, work: (conn: Connection) => Promise<T>): Promise<T> {
  const conn = await mysql.createConnection({ uri, timezone: 'Z', charset: 'utf8mb4' })
  try {
    return await work(conn)
  } finally {
    await conn.end()
  }
}

/** Creates the database if missing, then replaces its three tables with `data`. */
export async function prepareBaseline(databaseUrl: string, data: BaselineData): Promise<void> {
  const database = databaseOf(databaseUrl)
  const server = new URL(databaseUrl)
  server.pathname = '/'
  await withConnection(server.href, (conn) =>
    conn.query(`CREATE DATABASE IF NOT EXISTS \`${database}\``),
  )
  await withConnection(databaseUrl, async (conn) => {
    await conn.query('DROP TABLE IF EXISTS enrollments, courses, students')
    await conn.query(
      `CREATE TABLE students (
         id VARCHAR(16) PRIMARY KEY,
         max_credits INT NOT NULL
       ) ENGINE=InnoDB`,
    )
    await conn.query(
      `CREATE TABLE courses (
         id VARCHAR(16) PRIMARY KEY,
         capacity INT NOT NULL,
         enrolled INT NOT NULL DEFAULT 0,
         credits INT NOT NULL
       ) ENGINE=InnoDB`,
    )
    await conn.query(
      `CREATE TABLE enrollments (
         student_id VARCHAR(16) NOT NULL,
         course_id VARCHAR(16) NOT NULL,
         request_id VARCHAR(36) NOT NULL,
         created_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
         PRIMARY KEY (student_id, course_id),
         KEY (course_id)
       ) ENGINE=InnoDB`,
    )
    for (let i = 0; i < data.students.length; i += CHUNK_ROWS) {
      const rows = data.students.slice(i, i + CHUNK_ROWS).map((s) => [s.id, s.maxCredits])
      await conn.query('INSERT INTO students (id, max_credits) VALUES ?', [rows])
    }
    for (let i = 0; i < data.courses.length; i += CHUNK_ROWS) {
      const rows = data.courses.slice(i, i + CHUNK_ROWS).map((c) => [c.id, c.capacity, c.credits])
      await conn.query('INSERT INTO courses (id, capacity, credits) VALUES ?', [rows])
    }
  })
}

/** Every course with its counter and its actual number of rows, and every enrollment. */
export async function readBaselineState(databaseUrl: string): Promise<BaselineState> {
  return withConnection(databaseUrl, async (conn) => {
    const [courses] = await conn.query<RowDataPacket[]>(
      `SELECT c.id, c.capacity, c.enrolled, COUNT(e.student_id) AS \`rows\`
         FROM courses c LEFT JOIN enrollments e ON e.course_id = c.id
        GROUP BY c.id, c.capacity, c.enrolled
        ORDER BY c.id`,
    )
    const [enrollments] = await conn.query<RowDataPacket[]>(
      'SELECT student_id, course_id, request_id FROM enrollments ORDER BY course_id, created_at',
    )
    return {
      courses: courses.map((c) => ({
        id: String(c.id),
        capacity: Number(c.capacity),
        enrolled: Number(c.enrolled),
        rows: Number(c.rows),
      })),
      enrollments: enrollments.map((e) => ({
        studentId: String(e.student_id),
        courseId: String(e.course_id),
        requestId: String(e.request_id),
      })),
    }
  })
}

/** Deletes every Redis key under `prefix` (SCAN, never KEYS); returns how many were deleted. */
export async function clearRedisPrefix(redisUrl: string, prefix: string): Promise<number> {
  // An empty prefix would match every key on the server.
  if (prefix === '') throw new Error('refusing to clear Redis without a key prefix')
  const redis = new Redis(redisUrl, { lazyConnect: true })
  try {
    await redis.connect()
    let deleted = 0
    const pattern = `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`
    let cursor = '0'
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1_000)
      cursor = next
      if (keys.length > 0) deleted += await redis.del(...keys)
    } while (cursor !== '0')
    return deleted
  } finally {
    await redis.quit()
  }
}
