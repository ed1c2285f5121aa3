import type { Meeting } from './domain/model.js'
import { hashPassword, seedCost } from './domain/passwords.js'

/** A student row written by a seed (the demo semester, `sugang seed`). */
export interface SeedStudentRow {
  readonly id: string
  readonly name: string
  readonly email: string
  readonly passwordHash: string
  readonly year: number
  readonly maxCredits: number
}

/** A course row written by a seed. */
export interface SeedCourseRow {
  readonly id: string
  readonly title: string
  readonly professor: string
  readonly credits: number
  readonly capacity: number
  readonly meetings: readonly Meeting[]
}

export interface SeedRows {
  readonly students?: readonly SeedStudentRow[]
  readonly courses?: readonly SeedCourseRow[]
}

/**
 * What a seed writes to: MySQL or the embedded store, the same rows and the same rules (not part
 * of the ports: no request of the service seeds).
 */
export interface SeedStore {
  /** Whether the store holds neither students nor courses. */
  isEmpty(): Promise<boolean>
  /** Deletes every student, course, enrollment, waitlist place and cart item. */
  deleteAll(): Promise<void>
  /**
   * Writes students and courses. Existing students get the new password hash and credit limit;
   * existing courses keep their enrollments and never shrink below them.
   */
  insertSeed(rows: SeedRows): Promise<void>
}

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

/** Rows written per call: one statement per table on MySQL, well within its packet size. */
const CHUNK = 1_000

/**
 * Load-test and demo data by number: students S000001.. and courses C0001.. (no meeting times),
 * one password for all, hashed at the cheap seed cost recorded in the hash.
 */
export async function seed(store: SeedStore, options: SeedOptions): Promise<void> {
  if (options.reset) await store.deleteAll()
  const maxCredits = options.maxCredits ?? 18
  for (let start = 1; start <= options.students; start += CHUNK) {
    const students: SeedStudentRow[] = []
    for (let i = start; i < Math.min(start + CHUNK, options.students + 1); i += 1) {
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
  const courses: SeedCourseRow[] = []
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
  for (let start = 0; start < courses.length; start += CHUNK) {
    await store.insertSeed({ courses: courses.slice(start, start + CHUNK) })
  }
}
