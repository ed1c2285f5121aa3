import type { Catalogue } from './catalogue.js'
import type { Enrollment, RejectReason } from './model.js'
import type {
  EnqueueInput,
  EnqueueResult,
  RequestRecord,
  SessionRef,
  StudentRead,
  StudentRecords,
  WaitingQueue,
} from './ports.js'

/** A request to submit; its id is minted by the queue unless given (tests name theirs). */
export type SubmitInput = Omit<EnqueueInput, 'refuseWhenFull' | 'requestId'> & {
  readonly requestId?: string
}
import { opensAtFor, registrationOpen, type RegistrationWindow } from './rules.js'
import type { StudentDirectory } from './students.js'

/** What a student is told about one of their requests. */
export type RequestView =
  | {
      readonly requestId: string
      readonly courseId: string
      readonly status: 'queued'
      readonly position: number
    }
  | {
      readonly requestId: string
      readonly courseId: string
      readonly status: 'waitlisted'
      readonly position: number
    }
  | { readonly requestId: string; readonly courseId: string; readonly status: 'enrolled' }
  | {
      readonly requestId: string
      readonly courseId: string
      readonly status: 'rejected'
      readonly reason: RejectReason
    }

/** A status check: refused (session, rate limit), or what the student is told (null: 404). */
export type StatusCheck =
  | Exclude<StudentRead, { kind: 'read' }>
  | { readonly kind: 'view'; readonly view: RequestView | null }

/**
 * What the queue answered (a waitlisted request's position is its place on the store's waitlist),
 * or why the queue was not asked.
 */
export type SubmitResult =
  | EnqueueResult
  /** Not open for this student now; opensAt is their opening when it is still ahead. */
  | { readonly kind: 'closed'; readonly opensAt: Date | null }
  | { readonly kind: 'course-not-found' }

/**
 * Asking for a seat and asking where a request stands. The queue answers the rush; the store is
 * the truth. A request's answer combines them so that it never contradicts the store: what the
 * queue alone can say (queued with a place, decided, waitlisted with a place its mirror of the
 * waitlist vouches for) comes from the queue, and everything else (a waitlist place the mirror
 * cannot vouch for, a decision the queue has not heard of, a request the queue forgot) from the
 * store. Waitlisted students poll for days; while the mirror holds, their polls cost the store
 * nothing.
 */
export class EnrollmentRequests {
  readonly #queue: WaitingQueue
  readonly #records: StudentRecords
  readonly #catalogue: Catalogue
  readonly #students: StudentDirectory
  readonly #window: () => RegistrationWindow
  readonly #onQueued: () => void

  constructor(
    ports: { readonly queue: WaitingQueue; readonly records: StudentRecords },
    catalogue: Catalogue,
    students: StudentDirectory,
    /** The window, or where to read the one in force (an operator may move it). */
    window: RegistrationWindow | (() => RegistrationWindow),
    /** Called when a request joined a queue (the local admission worker may be idle). */
    onQueued: () => void,
  ) {
    this.#queue = ports.queue
    this.#records = ports.records
    this.#catalogue = catalogue
    this.#students = students
    this.#window = typeof window === 'function' ? window : () => window
    this.#onQueued = onQueued
  }

  /** Where registration stands for this student (their own opening time). */
  async window(
    studentId: string,
    now = Date.now(),
  ): Promise<{ opensAt: Date | null; closesAt: Date | null; open: boolean }> {
    // The year matters only when openings differ by year; otherwise the rush's requests need no
    // look-up of the student at all (a cache miss would be a query on every instance).
    const window = this.#window()
    const byYear = (window.opensAtByYear?.size ?? 0) > 0
    const year = byYear ? ((await this.#students.profile(studentId))?.year ?? 1) : 1
    return {
      opensAt: opensAtFor(window, year),
      closesAt: window.closesAt,
      open: registrationOpen(window, year, now),
    }
  }

  /** The courses the student is enrolled in, read on the primary: their own writes show at once. */
  enrollments(studentId: string): Promise<Enrollment[]> {
    return this.#records.listEnrollments(studentId)
  }

  async submit(input: SubmitInput, now = Date.now()): Promise<SubmitResult> {
    const window = await this.window(input.studentId, now)
    if (!window.open) {
      const ahead = window.opensAt && window.opensAt.getTime() > now ? window.opensAt : null
      return { kind: 'closed', opensAt: ahead }
    }
    if (!(await this.#catalogue.exists(input.courseId))) return { kind: 'course-not-found' }
    // A student who would not take a waitlist place can only be rejected once the course is
    // full: they are told at once, and the queue stays short for those who can still be served.
    const requestId = input.requestId ?? this.#queue.newRequestId(input.courseId)
    const result = await this.#queue.enqueue({
      ...input,
      requestId,
      refuseWhenFull: !input.waitlist,
    })
    if (result.kind === 'created') this.#onQueued()
    if (result.kind === 'existing' && result.status === 'waitlisted') {
      // How far the place has moved up: the queue's mirror of the waitlist, or else the store.
      const record = await this.#queue.request(result.requestId)
      if (record?.status === 'waitlisted' && record.position !== null) {
        return { ...result, position: record.position }
      }
      const durable = await this.#records.findDurableRequest(result.requestId)
      return { ...result, position: durable?.status === 'waitlisted' ? durable.position : 1 }
    }
    return result
  }

  /**
   * A student's status check: the session and the rate limit are checked in the same step as the
   * first read of the request (one round trip on Redis).
   */
  async check(session: SessionRef, requestId: string): Promise<StatusCheck> {
    const read = await this.#queue.studentRequest(session, requestId)
    if (read.kind !== 'read') return read
    return { kind: 'view', view: await this.#viewOf(session.studentId, requestId, read.record) }
  }

  /** A student's own request, or null (another student's request is answered like a missing one). */
  async status(studentId: string, requestId: string): Promise<RequestView | null> {
    return this.#viewOf(studentId, requestId, await this.#queue.request(requestId))
  }

  /**
   * What a watcher needs of a request, from one read of the queue: its answer, and while it is
   * queued where it joined (its place is computed from that and its course's progress).
   */
  async watched(
    studentId: string,
    requestId: string,
  ): Promise<{ readonly view: RequestView; readonly joined: RequestRecord['joined'] } | null> {
    const record = await this.#queue.request(requestId)
    const view = await this.#viewOf(studentId, requestId, record)
    if (!view) return null
    return { view, joined: view.status === 'queued' ? (record?.joined ?? null) : null }
  }

  async #viewOf(
    studentId: string,
    requestId: string,
    record: RequestRecord | null,
  ): Promise<RequestView | null> {
    if (record && record.studentId !== studentId) return null
    const decided = record && queueView(record)
    if (decided) return decided
    // Waitlisted where the queue cannot vouch for the place, decided a moment ago, or no longer
    // queued.
    const durable = await this.#records.findDurableRequest(requestId)
    if (durable && durable.studentId === studentId) {
      return durable.status === 'waitlisted'
        ? {
            requestId,
            courseId: durable.courseId,
            status: 'waitlisted',
            position: durable.position,
          }
        : { requestId, courseId: durable.courseId, status: 'enrolled' }
    }
    // The store has nothing: read the queue again, in case it was decided in between.
    const fresh = record && (await this.#queue.request(requestId))
    const view = fresh && queueView(fresh)
    if (view) return view
    if (fresh?.status === 'waitlisted') {
      // The waitlist place is gone without a promotion: the rules turned it down.
      return {
        requestId,
        courseId: fresh.courseId,
        status: 'rejected',
        reason: fresh.reason ?? 'COURSE_FULL',
      }
    }
    return null
  }
}

/**
 * The answer the queue alone can give: queued or waitlisted with a place, or decided. Null when
 * the store must say.
 */
function queueView(record: RequestRecord): RequestView | null {
  const { requestId, courseId } = record
  if (record.status === 'queued' && record.position !== null) {
    return { requestId, courseId, status: 'queued', position: record.position }
  }
  if (record.status === 'waitlisted' && record.position !== null) {
    return { requestId, courseId, status: 'waitlisted', position: record.position }
  }
  if (record.status === 'enrolled') return { requestId, courseId, status: 'enrolled' }
  if (record.status === 'rejected') {
    return { requestId, courseId, status: 'rejected', reason: record.reason ?? 'COURSE_FULL' }
  }
  return null
}
