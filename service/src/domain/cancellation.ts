import { randomUUID } from 'node:crypto'
import { backoffMs } from './admission-worker.js'
import type { RejectReason, SeatChange } from './model.js'
import type { AdmissionStore, CancellationChange, CancellationTx, SeatCache } from './ports.js'
import { mayPromote } from './rules.js'

export type CancelResult =
  | { readonly ok: false }
  | (SeatChange & {
      readonly ok: true
      readonly promoted: { readonly studentId: string; readonly requestId: string } | null
      /** Waitlisted requests dropped because the rules no longer allow them. */
      readonly dropped: CancellationChange['dropped']
    })

export type LeaveResult =
  | { readonly ok: false }
  | (SeatChange & {
      readonly ok: true
      /** The request that held the place. */
      readonly requestId: string
    })

export interface CancellationObserver {
  /** The cancellation committed but Redis did not hear of it yet; it will be retried. */
  reflectionFailed(err: unknown, courseId: string, attempt: number): void
  /** Redis heard of it after all. */
  reflected(courseId: string, attempt: number): void
}

/** How long the in-flight mark of a cancellation lives: well past its transaction's deadline. */
const MARK_TTL_MS = 60_000
/** Retries of a failed reflection stop here; the reconciler repairs whatever is still stale. */
const RETRY_FOR_MS = 60_000

/**
 * Cancelling an enrollment: announce it to the seat cache, commit it in the store (the waitlist
 * head takes the seat in the same transaction, if the rules still allow it), then tell the cache
 * what happened. The announcement keeps
 * the door and bulk rejection from answering "full" from a seat cache that is about to change;
 * a failed report is retried in the background, and the reconciler is the backstop.
 */
export class Cancellation {
  readonly #store: AdmissionStore
  readonly #seats: SeatCache
  readonly #observer: CancellationObserver
  readonly #retries = new Set<NodeJS.Timeout>()

  constructor(
    ports: { readonly store: AdmissionStore; readonly seats: SeatCache },
    observer: CancellationObserver,
  ) {
    this.#store = ports.store
    this.#seats = ports.seats
    this.#observer = observer
  }

  async cancel(studentId: string, courseId: string): Promise<CancelResult> {
    return this.#commit(studentId, courseId, cancelAndPromote, notEnrolled, (done) => ({
      promoted: done.promoted,
      dropped: done.dropped,
    }))
  }

  /**
   * Leaving a course's waitlist: the same steps as a cancellation, and the same guarantees. The
   * place is deleted under the course's row lock, so a cancellation promoting the waitlist head
   * runs wholly before or after it: the seat never goes to a student whose leave committed, and
   * one who was promoted first is told they have no place (they hold the seat). The course's
   * version rises, so the queue's mirror of the waitlist takes the change in order (everyone
   * behind moves up) and the reconciler repairs it if the report never arrives; until then the
   * in-flight mark sends reads of the course's places to the store.
   */
  async leaveWaitlist(studentId: string, courseId: string): Promise<LeaveResult> {
    return this.#commit(studentId, courseId, leaveWaitlist, notWaitlisted, (done) => ({
      promoted: null,
      dropped: [{ requestId: done.requestId, studentId, reason: 'LEFT_WAITLIST' }],
    }))
  }

  /**
   * The steps every change of a course's seats or waitlist outside admission takes: mark it in
   * flight, commit it in the store, then tell the queue (retried in the background if that fails).
   */
  async #commit<Done extends SeatChange & { readonly ok: true }>(
    studentId: string,
    courseId: string,
    work: (tx: CancellationTx) => Promise<Done | { readonly ok: false }>,
    none: { readonly ok: false },
    report: (done: Done) => Pick<CancellationChange, 'promoted' | 'dropped'>,
  ): Promise<Done | { readonly ok: false }> {
    const id = randomUUID()
    // If the cache cannot take the mark, the change is refused (503) rather than risk a seat
    // freed behind the back of a bulk rejection.
    await this.#seats.markCancellation(courseId, id, MARK_TTL_MS)
    // If this fails it may or may not have committed: the mark then stays until it expires.
    const result = (await this.#store.cancel(studentId, courseId, work)) ?? none
    if (!result.ok) {
      await this.#seats.unmarkCancellation(courseId, id).catch(() => undefined)
      return result
    }
    const change: CancellationChange = {
      cancellationId: id,
      studentId,
      ...report(result),
      seatsLeft: result.seatsLeft,
      versionBefore: result.versionBefore,
      version: result.version,
    }
    await this.#reflect(courseId, change, 1, Date.now())
    return result
  }

  async #reflect(
    courseId: string,
    change: CancellationChange,
    attempt: number,
    since: number,
  ): Promise<void> {
    try {
      await this.#seats.reflectCancellation(courseId, change)
      if (attempt > 1) this.#observer.reflected(courseId, attempt)
    } catch (err) {
      this.#observer.reflectionFailed(err, courseId, attempt)
      if (Date.now() - since > RETRY_FOR_MS) return
      const timer = setTimeout(
        () => {
          this.#retries.delete(timer)
          void this.#reflect(courseId, change, attempt + 1, since)
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

const notEnrolled = { ok: false } as const
const notWaitlisted = { ok: false } as const

/** The leave itself, inside the store's transaction: the place goes, the version rises. */
async function leaveWaitlist(tx: CancellationTx): Promise<LeaveResult> {
  const requestId = await tx.removeWaitlistPlace()
  if (!requestId) return notWaitlisted
  const { course } = tx
  const version = course.version + 1
  await tx.updateCourse(course.enrolled, version)
  return {
    ok: true,
    requestId,
    seatsLeft: course.capacity - course.enrolled,
    versionBefore: course.version,
    version,
  }
}

/**
 * The cancellation itself, inside the store's transaction: the seat is freed and offered to the
 * waitlist in order. A head the rules no longer allow (credit limit reached, enrolled meanwhile,
 * account gone) is dropped and the next one is offered the seat.
 */
async function cancelAndPromote(tx: CancellationTx): Promise<CancelResult> {
  if (!(await tx.removeEnrollment())) return notEnrolled
  const { course } = tx
  let enrolled = course.enrolled - 1
  let promoted: { studentId: string; requestId: string } | null = null
  const dropped: Array<{ requestId: string; studentId: string; reason: RejectReason }> = []
  for (let head = await tx.takeWaitlistHead(); head; head = await tx.takeWaitlistHead()) {
    const reason = mayPromote(course, head)
    if (reason) {
      tx.passOver(head.studentId, head.requestId, reason)
      dropped.push({ requestId: head.requestId, studentId: head.studentId, reason })
      continue
    }
    await tx.enroll(head.studentId, head.requestId)
    enrolled += 1
    promoted = { studentId: head.studentId, requestId: head.requestId }
    break
  }
  const version = course.version + 1
  await tx.updateCourse(enrolled, version)
  return {
    ok: true,
    promoted,
    dropped,
    seatsLeft: course.capacity - enrolled,
    versionBefore: course.version,
    version,
  }
}
