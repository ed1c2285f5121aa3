import type { FastifyBaseLogger } from 'fastify'

interface Tally {
  count: number
  last: unknown
  context: Record<string, unknown>
}

/**
 * Logs a repeating error once per interval with a count, not once per occurrence: a worker
 * retrying a course while MySQL is down must not write a stack trace 200 times a second. The
 * first occurrence of each message is logged in full at once; the rest are summed up when the
 * interval ends, with the last error's message.
 */
export class ThrottledLog {
  readonly #log: FastifyBaseLogger
  readonly #intervalMs: number
  readonly #tallies = new Map<string, Tally>()
  readonly #timer: NodeJS.Timeout

  constructor(log: FastifyBaseLogger, intervalMs = 10_000) {
    this.#log = log
    this.#intervalMs = intervalMs
    this.#timer = setInterval(() => this.flush(), intervalMs)
    this.#timer.unref()
  }

  /** Logs `message` with `err`, or counts it when the same message was logged this interval. */
  warn(message: string, err: unknown, context: Record<string, unknown> = {}): void {
    const tally = this.#tallies.get(message)
    if (tally) {
      tally.count += 1
      tally.last = err
      tally.context = context
      return
    }
    this.#log.warn({ err, ...context }, message)
    this.#tallies.set(message, { count: 0, last: err, context })
  }

  /** Writes the summaries of the interval that ended, and forgets messages that did not repeat. */
  flush(): void {
    for (const [message, tally] of this.#tallies) {
      if (tally.count === 0) {
        this.#tallies.delete(message)
        continue
      }
      this.#log.warn(
        {
          ...tally.context,
          repeated: tally.count,
          intervalSeconds: this.#intervalMs / 1000,
          lastError: tally.last instanceof Error ? tally.last.message : String(tally.last),
        },
        `${message}: repeated ${tally.count} more times`,
      )
      tally.count = 0
    }
  }

  close(): void {
    clearInterval(this.#timer)
    this.flush()
  }
}
