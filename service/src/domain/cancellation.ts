import { randomUUID } from 'node:crypto'
import { backoffMs } from './admission-worker.js'
import type { CancelResult, RegistrationQueue, RegistrationStore } from './ports.js'

export interface CancellationObserver {
  /** The cancellation committed but Redis did not hear of it yet; it will be retried. */
  reflectionFailed(err: unknown, courseId: string, attempt: number): void
  /** Redis heard of it after all. */
  reflected(courseId: string, attempt: number): void
}

type Committed = Extract<CancelResult, { ok: true }>

/** How long the in-flight mark of a cancellation lives: well past its transaction's deadline. */
const MARK_TTL_MS = 60_000
/** Retries of a failed reflection stop here; the reconciler repairs whatever is still stale. */
const RETRY_FOR_MS = 60_000

/**
 * Cancelling an enrollment: announce it to the queue, commit it in MySQL (the waitlist head takes
 * the seat in the same transaction), then tell the queue what happened. The announcement keeps
 * the door and bulk rejection from answering "full" from a seat cache that is about to change;
 * a failed report is retried in the background, and the reconciler is the backstop.
 */
export class Cancellation {
  readonly #store: RegistrationStore
  readonly #queue: RegistrationQueue
  readonly #observer: CancellationObserver
  readonly #retries = new Set<NodeJS.Timeout>()

  constructor(store: RegistrationStore, queue: RegistrationQueue, observer: CancellationObserver) {
    this.#store = store
    this.#queue = queue
    this.#observer = observer
  }

  async cancel(studentId: string, courseId: string): Promise<CancelResult> {
    const id = randomUUID()
    // If Redis cannot take the mark, the cancellation is refused (503) rather than risk a seat
    // freed behind the back of a bulk rejection.
    await this.#queue.beginCancel(courseId, id, MARK_TTL_MS)
    // If this fails it may or may not have committed: the mark then stays until it expires.
    const result = await this.#store.cancel(studentId, courseId)
    if (!result.ok) {
      await this.#queue.abandonCancel(courseId, id).catch(() => undefined)
      return result
    }
    await this.#reflect(studentId, courseId, id, result, 1, Date.now())
    return result
  }

  async #reflect(
    studentId: string,
    courseId: string,
    id: string,
    result: Committed,
    attempt: number,
    since: number,
  ): Promise<void> {
    try {
      await this.#queue.reflectCancel(studentId, courseId, id, result)
      if (attempt > 1) this.#observer.reflected(courseId, attempt)
    } catch (err) {
      this.#observer.reflectionFailed(err, courseId, attempt)
      if (Date.now() - since > RETRY_FOR_MS) return
      const timer = setTimeout(
        () => {
          this.#retries.delete(timer)
          void this.#reflect(studentId, courseId, id, result, attempt + 1, since)
        },
        backoffMs(attempt, 250, 5_000),
      )
      timer.unref()
      this.#retries.add(timer)
    }
  }

  /** Drops pending retries (at shutdown; the reconciler of another instance takes over). */
  stop(): void {
    for (const timer of this.#retries) clearTimeout(timer)
    this.#retries.clear()
  }
}
