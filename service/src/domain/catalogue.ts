import type { Course } from './model.js'
import type { RegistrationStore } from './ports.js'

/**
 * The course list kept in memory for a moment. During the rush every student reloads the list and
 * every enqueue must know the course exists; neither should cost a query each time.
 */
export class Catalogue {
  readonly #store: RegistrationStore
  readonly #ttlMs: number
  #courses: Course[] = []
  #byId = new Map<string, Course>()
  #loadedAt = 0
  #loading: Promise<Course[]> | null = null
  readonly #missing = new Map<string, number>()

  constructor(store: RegistrationStore, ttlMs = 1_000) {
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

  /** Whether a course exists, answered from memory whenever the list has been loaded once. */
  async exists(courseId: string): Promise<boolean> {
    if (this.#byId.has(courseId)) return true
    const missingSince = this.#missing.get(courseId)
    if (missingSince !== undefined && Date.now() - missingSince < this.#ttlMs) return false
    const course = await this.#store.findCourse(courseId)
    if (course) {
      this.#byId.set(courseId, course)
      return true
    }
    if (this.#missing.size > 10_000) this.#missing.clear()
    this.#missing.set(courseId, Date.now())
    return false
  }
}
