import type { Course } from './model.js'
import type { CourseReader } from './ports.js'

/**
 * The course list kept in memory for a moment. During the rush every student reloads the list and
 * every enqueue must know the course exists; neither should cost a query each time.
 */
export class Catalogue {
  readonly #store: CourseReader
  readonly #ttlMs: number
  #courses: Course[] = []
  #byId = new Map<string, Course>()
  #loadedAt = 0
  #loading: Promise<Course[]> | null = null

  constructor(store: CourseReader, ttlMs = 1_000) {
    this.#store = store
    this.#ttlMs = ttlMs
  }

  async list(): Promise<Course[]> {
    if (Date.now() - this.#loadedAt < this.#ttlMs) return this.#courses
    // One query in flight however many requests ask at once.
    this.#loading ??= this.#store
      .listCourses()
      .then((courses) => {
        this.#courses = courses
        this.#byId = new Map(courses.map((c) => [c.id, c]))
        this.#loadedAt = Date.now()
        return courses
      })
      .finally(() => {
        this.#loading = null
      })
    return this.#loading
  }

  /** One course, read from the store each time rather than from the list kept in memory. */
  find(courseId: string): Promise<Course | null> {
    return this.#store.findCourse(courseId)
  }

  /**
   * Whether a course exists, answered from memory. A miss reloads the list at most once per TTL,
   * shared by every request asking at that moment, rather than one query per request.
   */
  async exists(courseId: string): Promise<boolean> {
    if (this.#byId.has(courseId)) return true
    await this.list()
    return this.#byId.has(courseId)
  }
}
