/** How often the meter expects to run; it is one timer for the whole process. */
const EVERY_MS = 100
/** A gap in the loop longer than this is the instance's own stall, not a client's slowness. */
const STALL_MS = 500

/**
 * Remembers when the event loop could not run (a freeze: SIGSTOP, a paused VM, a long pause of
 * the garbage collector). Node's request timeout counts wall-clock time, so after a freeze it
 * blames clients whose requests had arrived whole and were only waiting for the process to read
 * them; the client error handler asks this meter before it answers 408.
 */
export class LoopStalls {
  #last = performance.now()
  /** When each recent stall ended, oldest first. */
  readonly #stalls: number[] = []
  readonly #timer: NodeJS.Timeout

  constructor() {
    this.#timer = setInterval(() => this.#note(performance.now()), EVERY_MS)
    this.#timer.unref()
  }

  /** Whether the loop stalled within the last `windowMs`, the stall it may be waking from included. */
  stalledWithin(windowMs: number): boolean {
    const now = performance.now()
    this.#note(now)
    while (this.#stalls.length > 0 && (this.#stalls[0] ?? now) < now - windowMs) {
      this.#stalls.shift()
    }
    return this.#stalls.length > 0
  }

  stop(): void {
    clearInterval(this.#timer)
  }

  #note(now: number): void {
    const gap = now - this.#last - EVERY_MS
    this.#last = now
    if (gap > STALL_MS) {
      this.#stalls.push(now)
      if (this.#stalls.length > 100) this.#stalls.shift()
    }
  }
}
