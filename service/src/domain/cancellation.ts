import { randomUUID } from 'node:crypto'
import { backoffMs } from './admission-worker.js'
import type { RejectReason, SeatChange } from './model.js'
import type { OperatorAction } from './operations.js'
import type {
  AdmissionStore,
  CancellationChange,
  CancellationTx,
  Promotion,
  SeatCache,
} from './ports.js'
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

export type CapacityResult =
  | { readonly ok: false; readonly refused: 'no-course' }
  /** The new capacity is below the seats taken: nothing changed (no enrollment is ever removed). */
  | {
      readonly ok: false
      readonly refused: 'below-enrolled'
      readonly capacity: number
      readonly enrolled: number
    }
  | (SeatChange & {
      readonly ok: true
      /** The capacity before and after. */
      readonly from: number
      readonly capacity: number
      readonly enrolled: number
      /** The waitlist heads that took the new seats, in the waitlist's order. */
      readonly promoted: readonly Promotion[]
      /** Heads passed over because the rules no longer allow them a seat. */
      readonly dropped: CancellationChange['dropped']
    })

/** What an operator's capacity change did, for its audit row. */
export interface CapacityChanged {
  readonly from: number
  readonly to: number
  readonly promoted: readonly Promotion[]
}

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
    return this.#commit<CancelResult>(
      studentId,
      courseId,
      cancelAndPromote,
      notEnrolled,
      (done) => ({
        promoted: done.promoted,
        dropped: done.dropped,
      }),
    )
  }

  /**
   * Changing a course's capacity during registration (증원/감원): the same steps as a
   * cancellation, and the same guarantees. A raise gives each new seat to the waitlist's head in
   * order, passing over those the rules no longer allow, in the transaction that raises it; a
   * lowering never removes an enrollment, so a capacity below the seats taken is refused and
   * nothing changes. `audit` names the operator's action, which commits with the change. A
   * capacity equal to the current one changes nothing but the audit row.
   */
  async changeCapacity(
    courseId: string,
    capacity: number,
    audit: (changed: CapacityChanged) => OperatorAction,
  ): Promise<CapacityResult> {
    return this.#commit<CapacityResult>(
      null,
      courseId,
      (tx) => changeCapacity(tx, capacity, audit),
      noCourse,
      (done) => ({ promoted: done.promoted, dropped: done.dropped }),
      // Every head a raise may seat is locked up front, with the others, in id order.
      (course) => capacity - course.enrolled,
    )
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
    return this.#commit<LeaveResult>(studentId, courseId, leaveWaitlist, notWaitlisted, (done) => ({
      promoted: null,
      dropped: [{ requestId: done.requestId, studentId, reason: 'LEFT_WAITLIST' }],
    }))
  }

  /**
   * The steps every change of a course's seats or waitlist outside admission takes: mark it in
   * flight, commit it in the store, then tell the queue (retried in the background if that fails).
   */
  async #commit<R extends { readonly ok: false } | (SeatChange & { readonly ok: true })>(
    studentId: string | null,
    courseId: string,
    work: (tx: CancellationTx) => Promise<R>,
    none: R,
    report: (
      done: Extract<R, { readonly ok: true }>,
    ) => Pick<CancellationChange, 'promoted' | 'dropped'>,
    heads?: (course: CancellationTx['course']) => number,
  ): Promise<R> {
    const id = randomUUID()
    // If the cache cannot take the mark, the change is refused (503) rather than risk a seat
    // freed behind the back of a bulk rejection.
    await this.#seats.markCancellation(courseId, id, MARK_TTL_MS)
    // If this fails it may or may not have committed: the mark then stays until it expires.
    const result = (await this.#store.cancel(studentId, courseId, work, heads)) ?? none
    // A change refused, or one that changed nothing (its version did not move), has nothing to
    // tell the cache.
    if (!result.ok || result.version === result.versionBefore) {
      await this.#seats.unmarkCancellation(courseId, id).catch(() => undefined)
      return result
    }
    const change: CancellationChange = {
      cancellationId: id,
      studentId,
      ...report(result as Extract<R, { readonly ok: true }>),
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

/** The heads a change promoted, in order, however its report names them. */
export function promotionsOf(change: Pick<CancellationChange, 'promoted'>): readonly Promotion[] {
  const { promoted } = change
  if (promoted === null) return []
  return isPromotionList(promoted) ? promoted : [promoted]
}

function isPromotionList(p: Promotion | readonly Promotion[]): p is readonly Promotion[] {
  return Array.isArray(p)
}

const notEnrolled = { ok: false } as const
const notWaitlisted = { ok: false } as const
const noCourse = { ok: false, refused: 'no-course' } as const

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
 * waitlist in order (promoteHeads).
 */
async function cancelAndPromote(tx: CancellationTx): Promise<CancelResult> {
  if (!(await tx.removeEnrollment())) return notEnrolled
  const { course } = tx
  const { promoted, dropped } = await promoteHeads(tx, 1)
  const enrolled = course.enrolled - 1 + promoted.length
  const version = course.version + 1
  await tx.updateCourse(enrolled, version)
  return {
    ok: true,
    promoted: promoted[0] ?? null,
    dropped,
    seatsLeft: course.capacity - enrolled,
    versionBefore: course.version,
    version,
  }
}

/**
 * The capacity change itself, inside the store's transaction: the capacity is recorded first,
 * then each new seat is offered to the waitlist in order, as a cancellation offers its seat.
 */
async function changeCapacity(
  tx: CancellationTx,
  capacity: number,
  audit: (changed: CapacityChanged) => OperatorAction,
): Promise<CapacityResult> {
  const { course } = tx
  if (capacity < course.enrolled) {
    return { ok: false, refused: 'below-enrolled', capacity, enrolled: course.enrolled }
  }
  if (capacity === course.capacity) {
    await tx.recordAction(audit({ from: capacity, to: capacity, promoted: [] }))
    return {
      ok: true,
      from: capacity,
      capacity,
      enrolled: course.enrolled,
      promoted: [],
      dropped: [],
      seatsLeft: capacity - course.enrolled,
      versionBefore: course.version,
      version: course.version,
    }
  }
  await tx.changeCapacity(capacity)
  const { promoted, dropped } = await promoteHeads(tx, capacity - course.enrolled)
  const enrolled = course.enrolled + promoted.length
  const version = course.version + 1
  await tx.updateCourse(enrolled, version)
  await tx.recordAction(audit({ from: course.capacity, to: capacity, promoted }))
  return {
    ok: true,
    from: course.capacity,
    capacity,
    enrolled,
    promoted,
    dropped,
    seatsLeft: capacity - enrolled,
    versionBefore: course.version,
    version,
  }
}

/**
 * Offers up to `seats` free seats to the waitlist in order. A head the rules no longer allow
 * (credit limit reached, enrolled meanwhile, account gone) is passed over and the next one is
 * offered the seat, until the seats are taken or the waitlist is empty.
 */
async function promoteHeads(
  tx: CancellationTx,
  seats: number,
): Promise<{ promoted: Promotion[]; dropped: Array<CancellationChange['dropped'][number]> }> {
  const promoted: Promotion[] = []
  const dropped: Array<{ requestId: string; studentId: string; reason: RejectReason }> = []
  while (promoted.length < seats) {
    const head = await tx.takeWaitlistHead()
    if (!head) break
    const reason = mayPromote(tx.course, head)
    if (reason) {
      tx.passOver(head.studentId, head.requestId, reason)
      dropped.push({ requestId: head.requestId, studentId: head.studentId, reason })
      continue
    }
    await tx.enroll(head.studentId, head.requestId)
    promoted.push({ studentId: head.studentId, requestId: head.requestId })
  }
  return { promoted, dropped }
}
