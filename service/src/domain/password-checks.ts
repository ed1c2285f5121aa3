import { performance } from 'node:perf_hooks'

export interface PasswordCheckLimits {
  /** Checks run at once (Node's thread pool runs 4 by default). */
  readonly atOnce: number
  /** A login whose expected wait for its turn is longer than this is refused at once (ms). */
  readonly maxWaitMs: number
  /** What a turn is taken to last before any has been measured (ms). */
  readonly firstEstimateMs?: number
  /** The clock (ms), for tests. */
  readonly now?: () => number
}

/** How much each measured turn moves the estimate of a turn's length. */
const SMOOTHING = 0.2
/** Background work that may wait for a turn (each holds a password in memory until it runs). */
const MAX_BACKGROUND = 1_000

/**
 * How many password checks one instance runs at once, and how long a login may wait for one. A
 * check is scrypt on Node's thread pool: its queue has no bound and waiting in it does not slow
 * the event loop, so without this gate a login storm beyond the instance's capacity queues
 * logins until they outlast the student's patience (the page gives up after 15 s, and the
 * abandoned check still runs, ahead of the student's retry). The wait is bounded in time, not in
 * count: from how long turns have been taking (the hash cost and the machine decide that), a
 * login that would wait longer than `maxWaitMs` is refused at once (503 with Retry-After) before
 * any work is spent on it, and the student retries, here or elsewhere.
 */
export class PasswordChecks {
  readonly #atOnce: number
  readonly #maxWaitMs: number
  readonly #now: () => number
  #turnMs: number
  #running = 0
  readonly #waiting: Array<() => void> = []
  /** Work nobody waits on (a rehash after a login): it runs only when no login waits. */
  readonly #background: Array<() => void> = []

  constructor(limits: PasswordCheckLimits) {
    if (!(limits.atOnce >= 1)) throw new Error('at least one password check must run at once')
    this.#atOnce = limits.atOnce
    this.#maxWaitMs = limits.maxWaitMs
    this.#turnMs = limits.firstEstimateMs ?? 100
    this.#now = limits.now ?? (() => performance.now())
  }

  /** Checks running now, waiting for their turn, and how long a turn is taken to last (ms). */
  get load(): {
    readonly running: number
    readonly waiting: number
    readonly background: number
    readonly turnMs: number
  } {
    return {
      running: this.#running,
      waiting: this.#waiting.length,
      background: this.#background.length,
      turnMs: this.#turnMs,
    }
  }

  /**
   * A turn for one check: resolves with the function that ends it (call it once the check is
   * done, whatever its outcome), or null at once when the wait for a turn would be too long.
   */
  enter(): Promise<() => void> | null {
    if (this.#running < this.#atOnce) {
      this.#running += 1
      return Promise.resolve(this.#turn())
    }
    // Everyone waiting goes first, and turns free up atOnce at a time.
    const expectedWaitMs = ((this.#waiting.length + 1) * this.#turnMs) / this.#atOnce
    if (expectedWaitMs > this.#maxWaitMs) return null
    return new Promise((resolve) => this.#waiting.push(() => resolve(this.#turn())))
  }

  /**
   * A turn for work nobody waits on, such as a rehash after a login: it never makes a login wait
   * longer (it goes after every login waiting, and is not counted in their expected wait), and
   * it is not refused for a long wait, so a storm delays it rather than losing it. Null when
   * `MAX_BACKGROUND` are already waiting (the next login does the work instead).
   */
  whenIdle(): Promise<() => void> | null {
    if (this.#running < this.#atOnce && this.#waiting.length === 0) {
      this.#running += 1
      return Promise.resolve(this.#turn())
    }
    if (this.#background.length >= MAX_BACKGROUND) return null
    return new Promise((resolve) => this.#background.push(() => resolve(this.#turn())))
  }

  /** A turn's end, effective once however often it is called. */
  #turn(): () => void {
    const startedAt = this.#now()
    let ended = false
    return () => {
      if (ended) return
      ended = true
      this.#turnMs += (this.#now() - startedAt - this.#turnMs) * SMOOTHING
      const next = this.#waiting.shift() ?? this.#background.shift()
      // The turn passes straight to the next in line, logins first: running stays the same.
      if (next) next()
      else this.#running -= 1
    }
  }
}
