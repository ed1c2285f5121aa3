import { randomUUID } from 'node:crypto'
import type { Decision } from './model.js'
import type { RegistrationQueue, RegistrationStore } from './ports.js'

export interface AdmissionSettings {
  /** How long a course's lease lives without renewal; a dead worker's courses wait this long. */
  readonly leaseMs: number
  readonly minBatch: number
  readonly maxBatch: number
  /** Batch size adapts so that one transaction takes about this long. */
  readonly targetBatchMs: number
  /** Pause between polls when no course has a queue. */
  readonly idleMs: number
  /** Courses this instance works on at once (each holds one MySQL connection while committing). */
  readonly concurrency: number
  /** How long one instance keeps a course before giving other instances a chance. */
  readonly sliceMs: number
  /** Most requests rejected in one bulk call once a course is full. */
  readonly bulkRejectLimit: number
}

export const defaultAdmissionSettings: Readonly<AdmissionSettings> = Object.freeze({
  leaseMs: 5_000,
  minBatch: 16,
  maxBatch: 1_000,
  targetBatchMs: 50,
  idleMs: 50,
  concurrency: 4,
  sliceMs: 2_000,
  bulkRejectLimit: 5_000,
})

export interface AdmissionObserver {
  batch(courseId: string, seconds: number, decisions: readonly Decision[], seatsLeft: number): void
  bulkRejected(courseId: string, count: number): void
  error(err: unknown, courseId: string | null): void
}

export interface AdmissionHooks {
  /** Runs between the MySQL COMMIT and the Redis update; fault tests crash the process here. */
  readonly afterCommit?: (courseId: string) => void | Promise<void>
}

/**
 * Moves requests from the Redis queues into MySQL. One runs in every instance; a per-course lease
 * makes sure only one of them decides a given course at a time, so decisions follow arrival order.
 */
export class AdmissionWorker {
  readonly #store: RegistrationStore
  readonly #queue: RegistrationQueue
  readonly #settings: AdmissionSettings
  readonly #observer: AdmissionObserver
  readonly #hooks: AdmissionHooks
  readonly #token = randomUUID()
  readonly #batchSize = new Map<string, number>()
  readonly #busy = new Set<string>()
  #running = false
  #loop: Promise<void> | null = null
  #wake: (() => void) | null = null

  constructor(
    store: RegistrationStore,
    queue: RegistrationQueue,
    settings: Partial<AdmissionSettings>,
    observer: AdmissionObserver,
    hooks: AdmissionHooks = {},
  ) {
    this.#store = store
    this.#queue = queue
    this.#settings = { ...defaultAdmissionSettings, ...settings }
    this.#observer = observer
    this.#hooks = hooks
  }

  start(): void {
    if (this.#running) return
    this.#running = true
    this.#loop = this.#run()
  }

  /** Stops polling, lets the batches in flight finish, and gives their leases back. */
  async stop(): Promise<void> {
    this.#running = false
    this.#wake?.()
    await this.#loop
    this.#loop = null
  }

  /** Nudges an idle worker (a request was just queued on this instance). */
  poke(): void {
    this.#wake?.()
  }

  async #sleep(ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms)
      function done(): void {
        clearTimeout(timer)
        resolve()
      }
      this.#wake = done
    })
    this.#wake = null
  }

  async #run(): Promise<void> {
    let failures = 0
    const inFlight = new Set<Promise<void>>()
    while (this.#running) {
      try {
        const courses = await this.#queue.activeCourses()
        failures = 0
        // Random order spreads instances over courses instead of all racing for the first one.
        for (let i = courses.length - 1; i > 0; i -= 1) {
          const j = Math.floor(Math.random() * (i + 1))
          ;[courses[i], courses[j]] = [courses[j] as string, courses[i] as string]
        }
        for (const courseId of courses) {
          if (!this.#running || inFlight.size >= this.#settings.concurrency) break
          if (this.#busy.has(courseId)) continue
          this.#busy.add(courseId)
          const work = this.drain(courseId)
            .catch((err: unknown) => this.#observer.error(err, courseId))
            .finally(() => {
              this.#busy.delete(courseId)
              inFlight.delete(work)
              this.#wake?.()
            })
          inFlight.add(work)
        }
        if (inFlight.size >= this.#settings.concurrency || courses.length === 0) {
          await this.#sleep(this.#settings.idleMs)
        } else {
          // Courses held by other instances: look again soon, their leases may be released.
          await this.#sleep(Math.min(10, this.#settings.idleMs))
        }
      } catch (err) {
        failures += 1
        this.#observer.error(err, null)
        await this.#sleep(Math.min(this.#settings.idleMs * 2 ** failures, 2_000))
      }
    }
    await Promise.allSettled([...inFlight])
  }

  /**
   * Decides one course's queue for up to one time slice, if this instance can take its lease.
   * Public so tests and the CLI can drive admission step by step.
   */
  async drain(courseId: string): Promise<void> {
    const s = this.#settings
    if (!(await this.#queue.acquireLease(courseId, this.#token, s.leaseMs))) return
    let released = false
    try {
      const until = Date.now() + s.sliceMs
      let full = false
      while (Date.now() < until) {
        if (!(await this.#queue.acquireLease(courseId, this.#token, s.leaseMs))) {
          released = true
          return
        }
        if (full) {
          const rejected = await this.#queue.rejectFullHead(
            courseId,
            this.#token,
            s.bulkRejectLimit,
          )
          if (rejected !== null && rejected > 0) {
            this.#observer.bulkRejected(courseId, rejected)
            if ((await this.#queue.queueLength(courseId)) === 0) break
            continue
          }
        }
        const size = this.#batchSize.get(courseId) ?? Math.min(s.maxBatch, s.minBatch * 4)
        const requests = await this.#queue.peek(courseId, this.#token, size)
        if (requests === null) {
          released = true
          return
        }
        if (requests.length === 0) break
        const started = process.hrtime.bigint()
        const result = await this.#store.admit(courseId, requests)
        const decided = result ?? {
          // The course was deleted: nothing can be admitted to it.
          decisions: requests.map((r) => ({
            requestId: r.requestId,
            studentId: r.studentId,
            status: 'rejected' as const,
            reason: 'COURSE_FULL' as const,
          })),
          seatsLeft: 0,
          version: 0,
        }
        const seconds = Number(process.hrtime.bigint() - started) / 1e9
        await this.#hooks.afterCommit?.(courseId)
        const left = await this.#queue.settle(courseId, this.#token, decided.decisions, decided)
        this.#observer.batch(courseId, seconds, decided.decisions, decided.seatsLeft)
        this.#adapt(courseId, size, seconds * 1000, requests.length)
        if (left === null) {
          released = true
          return
        }
        if (left === 0) break
        full = decided.seatsLeft <= 0
      }
    } finally {
      if (!released) await this.#queue.releaseLease(courseId, this.#token).catch(() => undefined)
    }
  }

  #adapt(courseId: string, size: number, ms: number, used: number): void {
    const s = this.#settings
    if (used < size) return
    let next = size
    if (ms < s.targetBatchMs / 2) next = size * 2
    else if (ms > s.targetBatchMs) next = Math.floor((size * s.targetBatchMs) / ms)
    this.#batchSize.set(courseId, Math.min(s.maxBatch, Math.max(s.minBatch, next)))
  }
}
