import { randomUUID } from 'node:crypto'
import type { Decision, QueuedRequest } from './model.js'
import type {
  AdmissionRules,
  AdmissionStore,
  FencedOutcome,
  Leases,
  WaitingQueue,
} from './ports.js'
import { bulkRejections, planAdmission, type AdmissionPlan } from './rules.js'

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
  /** Longest pause before a course that failed is tried again (it doubles from idleMs). */
  readonly maxBackoffMs: number
  /**
   * Most requests of one course decided per second; 0: as fast as the store allows. For the
   * demo only (ADMISSION_PACE): its crowd of a few hundred is decided in milliseconds, too fast
   * to watch a place in the queue move, where a real rush keeps the store busy for a while.
   */
  readonly pacePerSecond: number
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
  maxBackoffMs: 5_000,
  pacePerSecond: 0,
})

export interface AdmissionObserver {
  batch(courseId: string, seconds: number, decisions: readonly Decision[], seatsLeft: number): void
  bulkRejected(courseId: string, count: number): void
  /**
   * One request decided and told: seconds from joining its queue (on the queue's clock) until
   * now, and whether its course's admission was paused by an operator at any time in between.
   */
  waited(seconds: number, throughPause: boolean): void
  error(err: unknown, courseId: string | null): void
}

/**
 * What operators decide about admission (domain/operations.ts): a paused course is not decided
 * (its requests keep their places in the queue), and a ceiling paces a course's decisions.
 */
export interface AdmissionGate {
  pausedFor(courseId: string): unknown
  /** Whether admission of this course was paused at any time since `since` (ms since the epoch). */
  pausedSince(courseId: string, since: number): boolean
  /** Most decisions per second for this course; 0 for no ceiling. */
  ceilingFor(courseId: string): number
  /** Most decisions per second over every course and every instance together; 0 for none. */
  overallCeiling(): number
}

const openGate: AdmissionGate = {
  pausedFor: () => null,
  pausedSince: () => false,
  ceilingFor: () => 0,
  overallCeiling: () => 0,
}

export interface AdmissionHooks {
  /** Runs between the MySQL COMMIT and the Redis update; fault tests crash the process here. */
  readonly afterCommit?: (courseId: string) => void | Promise<void>
}

/** Exponential backoff with full jitter: retries of many instances do not fall in step. */
export function backoffMs(failures: number, baseMs: number, maxMs: number): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(failures, 20))
  return ceiling / 2 + Math.random() * (ceiling / 2)
}

/**
 * Moves requests from the Redis queues into MySQL. One runs in every instance; a per-course lease
 * makes sure only one of them decides a given course at a time, so decisions follow arrival order,
 * and a fence in MySQL makes sure a holder that lost its lease without knowing (paused, cut off)
 * can never commit after its successor started.
 */
export class AdmissionWorker {
  readonly #store: AdmissionStore
  readonly #queue: WaitingQueue
  readonly #leases: Leases
  readonly #settings: AdmissionSettings
  readonly #rules: AdmissionRules
  readonly #observer: AdmissionObserver
  readonly #hooks: AdmissionHooks
  readonly #gate: AdmissionGate
  readonly #token = randomUUID()
  readonly #batchSize = new Map<string, number>()
  readonly #busy = new Set<string>()
  /** Courses whose last attempt failed: how often in a row, and when to try again. */
  readonly #failing = new Map<string, { failures: number; retryAt: number }>()
  /** Paced only: per course, when its next step may start (ms since the epoch). */
  readonly #turns = new Map<string, number>()
  #running = false
  #loop: Promise<void> | null = null
  #wake: (() => void) | null = null

  constructor(
    ports: {
      readonly store: AdmissionStore
      readonly queue: WaitingQueue
      readonly leases: Leases
      readonly gate?: AdmissionGate
    },
    settings: Partial<AdmissionSettings>,
    rules: AdmissionRules,
    observer: AdmissionObserver,
    hooks: AdmissionHooks = {},
  ) {
    this.#store = ports.store
    this.#queue = ports.queue
    this.#leases = ports.leases
    this.#gate = ports.gate ?? openGate
    this.#settings = { ...defaultAdmissionSettings, ...settings }
    this.#rules = rules
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
        const now = Date.now()
        let waiting = 0
        for (const courseId of courses) {
          if (!this.#running || inFlight.size >= this.#settings.concurrency) break
          if (this.#busy.has(courseId)) continue
          if (this.#gate.pausedFor(courseId)) {
            waiting += 1
            continue
          }
          const failing = this.#failing.get(courseId)
          if (failing && failing.retryAt > now) {
            waiting += 1
            continue
          }
          this.#busy.add(courseId)
          const work = this.drain(courseId)
            .then(
              () => {
                this.#failing.delete(courseId)
              },
              (err: unknown) => {
                const count = (this.#failing.get(courseId)?.failures ?? 0) + 1
                const s = this.#settings
                this.#failing.set(courseId, {
                  failures: count,
                  retryAt: Date.now() + backoffMs(count, s.idleMs, s.maxBackoffMs),
                })
                this.#observer.error(err, courseId)
              },
            )
            .finally(() => {
              this.#busy.delete(courseId)
              inFlight.delete(work)
              this.#wake?.()
            })
          inFlight.add(work)
        }
        if (inFlight.size >= this.#settings.concurrency || courses.length === waiting) {
          await this.#sleep(this.#settings.idleMs)
        } else {
          // Courses held by other instances: look again soon, their leases may be released.
          await this.#sleep(Math.min(10, this.#settings.idleMs))
        }
        for (const courseId of this.#failing.keys()) {
          if (!courses.includes(courseId)) this.#failing.delete(courseId)
        }
      } catch (err) {
        failures += 1
        this.#observer.error(err, null)
        await this.#sleep(backoffMs(failures, this.#settings.idleMs, this.#settings.maxBackoffMs))
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
    if ((await this.#leases.acquireCourse(courseId, this.#token, s.leaseMs)) === 'held') return
    let released = false
    try {
      // Whatever this worker knew of the course before is void: fence it anew.
      let fence = await this.#store.fence(courseId)
      const until = Date.now() + s.sliceMs
      // Known after the first batch of this slice: whether the course is full, and up to which
      // arrival number the store may hold decisions that the queue has not heard of.
      let full = false
      let decidedThrough = 0
      while (Date.now() < until) {
        // An operator's pause holds from the next batch: the lease goes back, the queue waits.
        if (this.#gate.pausedFor(courseId)) break
        // Paced, each step decides a tenth of a second's worth at most, when its turn comes.
        const pace = this.#pace(courseId)
        const step = pace > 0 ? Math.ceil(pace / 10) : Infinity
        if (step !== Infinity) await this.#turn(courseId)
        const lease = await this.#leases.acquireCourse(courseId, this.#token, s.leaseMs)
        if (lease === 'held') {
          released = true
          return
        }
        if (lease === 'taken') {
          // The lease expired under us (a long pause): someone may have worked in between.
          fence = await this.#store.fence(courseId)
          full = false
        }
        // Under an overall ceiling, every step first takes its share of the fleet's budget for
        // this second; with none left, it waits for the next second, lease in hand.
        let most = step
        const overall = this.#gate.overallCeiling()
        if (overall > 0) {
          const want = Math.min(
            step,
            full ? s.bulkRejectLimit : (this.#batchSize.get(courseId) ?? s.minBatch * 4),
          )
          most = await this.#leases.takeAdmissions(want, overall)
          if (most === 0) {
            await new Promise((resolve) => setTimeout(resolve, 1_000 - (Date.now() % 1_000)))
            continue
          }
        }
        if (full && fence !== null) {
          const rejected = await this.#rejectFullHead(courseId, fence, decidedThrough, most)
          if (rejected === 'lease-lost') {
            released = true
            return
          }
          if (rejected > 0) {
            this.#spend(courseId, rejected)
            this.#observer.bulkRejected(courseId, rejected)
            if ((await this.#queue.length(courseId)) === 0) break
            continue
          }
        }
        const size = Math.min(
          most,
          this.#batchSize.get(courseId) ?? Math.min(s.maxBatch, s.minBatch * 4),
        )
        const requests = await this.#queue.head(courseId, size)
        if (requests.length === 0) break
        this.#spend(courseId, requests.length)
        const started = process.hrtime.bigint()
        const outcome = fence === null ? noCourse : await this.#admit(courseId, fence, requests)
        if (outcome.kind === 'fenced') {
          // Another worker took the course over; it decides these requests now.
          return
        }
        const plan = outcome.kind === 'done' ? outcome.value : courseGone(requests)
        const decisions =
          outcome.kind === 'done'
            ? withPlaces(plan.decisions, outcome.waitlistPlaces)
            : plan.decisions
        const seconds = Number(process.hrtime.bigint() - started) / 1e9
        await this.#hooks.afterCommit?.(courseId)
        const left = await this.#queue.settle(courseId, this.#token, decisions, plan)
        this.#observer.batch(courseId, seconds, plan.decisions, plan.seatsLeft)
        if (left !== null) this.#waited(courseId, requests, requests.length)
        this.#adapt(courseId, size, seconds * 1000, requests.length)
        if (left === null) {
          released = true
          return
        }
        if (left === 0) break
        full = plan.seatsLeft <= 0 && outcome.kind === 'done'
        decidedThrough = plan.decidedThrough
      }
    } finally {
      if (!released) {
        await this.#leases.releaseCourse(courseId, this.#token).catch(() => undefined)
      }
    }
  }

  /** One batch in one store transaction: the rules decide between the reads and the writes. */
  async #admit(
    courseId: string,
    fence: number,
    requests: readonly QueuedRequest[],
  ): Promise<FencedOutcome<AdmissionPlan>> {
    const students = [...new Set(requests.map((r) => r.studentId))].sort()
    return this.#store.admit(courseId, fence, students, (facts) => {
      const plan = planAdmission(requests, facts, this.#rules)
      return { writes: plan.writes, value: plan }
    })
  }

  /** Decisions per second this course may take (0: as fast as the store allows). */
  #pace(courseId: string): number {
    const a = this.#settings.pacePerSecond
    const b = this.#gate.ceilingFor(courseId)
    return a > 0 && b > 0 ? Math.min(a, b) : Math.max(a, b)
  }

  /** Paced: waits until the course's next step may start. */
  async #turn(courseId: string): Promise<void> {
    const wait = (this.#turns.get(courseId) ?? 0) - Date.now()
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
  }

  /** Paced: a step of `decided` requests puts the course's next step that much later. */
  #spend(courseId: string, decided: number): void {
    const pace = this.#pace(courseId)
    if (pace <= 0) return
    const from = Math.max(Date.now(), this.#turns.get(courseId) ?? 0)
    this.#turns.set(courseId, from + (decided * 1000) / pace)
  }

  /**
   * Rejects what the rules allow at the head of a full course without a batch: recorded in the
   * fairness record first (one short transaction that finds the course still full), then told.
   * Rejections recorded and then not told (the queue refused them) stay queued and are decided
   * again by a batch, whose entries come later in the record.
   */
  async #rejectFullHead(
    courseId: string,
    fence: number,
    decidedThrough: number,
    most: number,
  ): Promise<number | 'lease-lost'> {
    const head = await this.#queue.head(courseId, Math.min(most, this.#settings.bulkRejectLimit))
    const rejections = bulkRejections(head, decidedThrough)
    if (rejections.length === 0) return 0
    // The rejections are the head's first entries, in its order.
    const recorded = await this.#store.recordRejections(
      courseId,
      fence,
      rejections.map((r, i) => ({
        kind: 'rejected',
        studentId: r.studentId,
        requestId: r.requestId,
        arrival: head[i]?.arrival ?? null,
        queuedAt: head[i]?.queuedAt ?? null,
        reason: r.reason,
      })),
    )
    if (recorded === 'fenced') return 'lease-lost'
    if (recorded !== 'recorded') return 0
    const result = await this.#queue.rejectHead(courseId, this.#token, rejections)
    if (typeof result === 'number') this.#waited(courseId, head, result)
    return result === 'not-full' ? 0 : result
  }

  /**
   * Reports how long each of the first `count` requests waited, now that it is decided and told.
   * A batch decides every request it read: each gets its decision, or is rejected with its course.
   */
  #waited(courseId: string, requests: readonly QueuedRequest[], count: number): void {
    const now = Date.now()
    for (let i = 0; i < count; i += 1) {
      const at = requests[i]?.queuedAt
      if (at === undefined) continue
      // The queue's clock and this instance's may differ by a little: never a negative wait.
      this.#observer.waited(Math.max(0, now - at) / 1000, this.#gate.pausedSince(courseId, at))
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

const noCourse = { kind: 'no-course' } as const

/** The batch's waitlisted decisions with the places the store gave them. */
function withPlaces(
  decisions: readonly Decision[],
  places: ReadonlyMap<string, number>,
): Decision[] {
  return decisions.map((d) => {
    if (d.status !== 'waitlisted') return d
    const place = places.get(d.requestId)
    return place === undefined ? d : { ...d, place }
  })
}

/** A course deleted while requests waited for it: nothing can be admitted to it. */
function courseGone(requests: readonly QueuedRequest[]): AdmissionPlan {
  return {
    decisions: requests.map((r) => ({
      requestId: r.requestId,
      studentId: r.studentId,
      status: 'rejected' as const,
      reason: 'COURSE_FULL' as const,
    })),
    writes: { enroll: [], waitlist: [], rewaitlist: [], record: [], course: null },
    seatsLeft: 0,
    versionBefore: 0,
    version: 0,
    decidedThrough: Number.MAX_SAFE_INTEGER,
  }
}
