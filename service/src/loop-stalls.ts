/** How often the meter expects to run; it is one timer for the whole process. */
const EVERY_MS = 100
/** A gap in the loop longer than this counts as time the instance did not run. */
const STALL_MS = 200
/** Stalls remembered (older ones cannot matter to a request still arriving). */
const KEPT = 100

/**
 * Remembers when the event loop could not run (a freeze: SIGSTOP, a paused VM, a long pause of
 * the garbage collector) and when each connection's current request may have begun. Node's
 * request timeout counts wall-clock time, so after a freeze it blames clients whose requests had
 * arrived whole and were only waiting for the process to read them; the client error handler asks
 * this meter how long the instance really ran while the client was sending.
 */
export class LoopStalls {
  #last = performance.now()
  /** End and length of each recent stall, oldest first. */
  readonly #stalls: Array<{ readonly end: number; readonly ms: number }> = []
  readonly #since = new WeakMap<object, number>()
  readonly #timer: NodeJS.Timeout

  constructor() {
    this.#timer = setInterval(() => this.#note(performance.now()), EVERY_MS)
    this.#timer.unref()
  }

  /** A socket's next request begins no earlier than now (it connected, or was just answered). */
  track(socket: object): void {
    this.#since.set(socket, performance.now())
  }

  /**
   * How long the instance ran since the socket's current request may have begun (`fallbackMs`
   * ago for a socket it does not know), the stall it may be waking from included.
   */
  ranFor(socket: object, fallbackMs: number): number {
    const now = performance.now()
    this.#note(now)
    const since = this.#since.get(socket) ?? now - fallbackMs
    let stalled = 0
    for (const s of this.#stalls) {
      if (s.end > since) stalled += Math.min(s.ms, s.end - since)
    }
    return now - since - stalled
  }

  stop(): void {
    clearInterval(this.#timer)
  }

  #note(now: number): void {
    const gap = now - this.#last - EVERY_MS
    this.#last = now
    if (gap > STALL_MS) {
      this.#stalls.push({ end: now, ms: gap })
      if (this.#stalls.length > KEPT) this.#stalls.shift()
    }
  }
}
