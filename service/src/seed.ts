import { Redis } from 'ioredis'
import type { Pool } from 'mysql2/promise'
import type { SqliteStore } from './adapters/sqlite/store.js'
import { hashPassword, seedCost } from './domain/passwords.js'

export interface SeedOptions {
  readonly students: number
  readonly courses: number
  /** One capacity for every course, or a range [min, max] spread evenly over the courses. */
  readonly capacity: number | readonly [number, number]
  readonly password: string
  readonly reset: boolean
  /** Credits of every seeded course (3 unless told). */
  readonly credits?: number
  /** Credit limit of every seeded student (18 unless told). */
  readonly maxCredits?: number
}

export const studentId = (n: number): string => `S${String(n).padStart(6, '0')}`
export const courseId = (n: number): string => `C${String(n).padStart(4, '0')}`

/**
 * The capacity of course n: with a range, the golden-ratio sequence spreads the capacities
 * evenly over [min, max] without following the course number, so that a load test's popular
 * courses (chosen by number) are not also the largest or the smallest.
 */
export function capacityOf(n: number, capacity: SeedOptions['capacity']): number {
  if (typeof capacity === 'number') return capacity
  const [min, max] = capacity
  const spread = ((n - 1) * 0.6180339887498949) % 1
  return min + Math.round(spread * (max - min))
}

/** Deletes every queue key under the prefix (used with --reset so Redis matches MySQL again). */
export async function clearQueue(redisUrl: string, prefix: string): Promise<void> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 })
  try {
    let cursor = '0'
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)
      cursor = next
      if (keys.length > 0) await redis.del(...keys)
    } while (cursor !== '0')
  } finally {
    redis.disconnect()
  }
}

/** Demo and load-test data: students S000001.., courses C0001.., one password for all. */
export async function seed(db: Pool, options: SeedOptions): Promise<void> {
  if (options.reset) {
    for (const table of ['waitlist', 'enrollments', 'courses', 'students']) {
      await db.query(`DELETE FROM ${table}`)
    }
  }
  const maxCredits = options.maxCredits ?? 18
  const chunk = 1_000
  for (let start = 1; start <= options.students; start += chunk) {
    const rows: Array<[string, string, string, string, number]> = []
    for (let i = start; i < Math.min(start + chunk, options.students + 1); i += 1) {
      const id = studentId(i)
      const hash = await hashPassword(options.password, seedCost)
      rows.push([id, `Student ${i}`, `${id.toLowerCase()}@students.example.edu`, hash, maxCredits])
    }
    await db.query(
      `INSERT INTO students (id, name, email, password_hash, max_credits) VALUES ?
       ON DUPLICATE KEY UPDATE password_hash = VALUES(password_hash), max_credits = VALUES(max_credits)`,
      [rows],
    )
  }
  const rows: Array<[string, string, string, number, number]> = []
  for (let i = 1; i <= options.courses; i += 1) {
    const professor = `Professor ${((i - 1) % 40) + 1}`
    rows.push([
      courseId(i),
      `Course ${i}`,
      professor,
      options.credits ?? 3,
      capacityOf(i, options.capacity),
    ])
  }
  if (rows.length > 0) {
    await db.query(
      `INSERT INTO courses (id, title, professor, credits, capacity) VALUES ?
       ON DUPLICATE KEY UPDATE capacity = GREATEST(VALUES(capacity), enrolled)`,
      [rows],
    )
  }
}

/** The same students and courses as seed(), written to the embedded store. */
export async function seedEmbedded(store: SqliteStore, options: SeedOptions): Promise<void> {
  if (options.reset) await store.deleteAll()
  const maxCredits = options.maxCredits ?? 18
  const chunk = 1_000
  for (let start = 1; start <= options.students; start += chunk) {
    const students = []
    for (let i = start; i < Math.min(start + chunk, options.students + 1); i += 1) {
      const id = studentId(i)
      students.push({
        id,
        name: `Student ${i}`,
        email: `${id.toLowerCase()}@students.example.edu`,
        passwordHash: await hashPassword(options.password, seedCost),
        year: 1,
        maxCredits,
      })
    }
    await store.insertSeed({ students })
  }
  const courses = []
  for (let i = 1; i <= options.courses; i += 1) {
    courses.push({
      id: courseId(i),
      title: `Course ${i}`,
      professor: `Professor ${((i - 1) % 40) + 1}`,
      credits: options.credits ?? 3,
      capacity: capacityOf(i, options.capacity),
      meetings: [],
    })
  }
  await store.insertSeed({ courses })
}
