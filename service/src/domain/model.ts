/** Reasons a request can be turned down, as the contract names them. */
export type RejectReason =
  | 'COURSE_FULL'
  | 'ALREADY_ENROLLED'
  | 'CREDIT_LIMIT'
  | 'TIME_CONFLICT'
  | 'WAITLIST_LIMIT'
  /** The student gave the waitlist place up (DELETE /me/waitlist/{courseId}). */
  | 'LEFT_WAITLIST'

/** A request waiting in a course's queue, as the admission worker reads it. */
export interface QueuedRequest {
  readonly requestId: string
  readonly studentId: string
  readonly waitlist: boolean
  /** Global arrival number: the queue's order, never a wall clock. */
  readonly arrival: number
  /**
   * When it joined, on the queue's clock (ms since the epoch), where the queue knows: only the
   * fairness record reads it, to order requests numbered again after the queue lost its counter.
   */
  readonly queuedAt?: number
}

export type Decision =
  | { readonly requestId: string; readonly studentId: string; readonly status: 'enrolled' }
  | {
      readonly requestId: string
      readonly studentId: string
      readonly status: 'waitlisted'
      /**
       * Its place on the course's waitlist (the store's order key: the places ahead are those
       * with a smaller one), once the store has said; the queue mirrors the order with it.
       */
      readonly place?: number
    }
  | {
      readonly requestId: string
      readonly studentId: string
      readonly status: 'rejected'
      readonly reason: RejectReason
    }

export const DAYS = ['MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'] as const
export type Day = (typeof DAYS)[number]

/** One weekly meeting of a course: a day, a range of periods (1-based, inclusive), a room. */
export interface Meeting {
  readonly day: Day
  readonly start: number
  readonly end: number
  readonly room: string
}

export interface Course {
  readonly id: string
  readonly title: string
  readonly professor: string
  readonly credits: number
  readonly capacity: number
  readonly enrolled: number
  readonly meetings: readonly Meeting[]
}

export interface Enrollment {
  readonly courseId: string
  readonly title: string
  readonly professor: string
  readonly credits: number
  readonly meetings: readonly Meeting[]
  readonly enrolledAt: Date
}

export interface StudentAccount {
  readonly id: string
  readonly name: string
  readonly passwordHash: string
  /** Grade year (1-4): the registration window may open earlier for later years. */
  readonly year: number
  readonly maxCredits: number
}

/** A course saved to a student's cart (장바구니) before registration opens. */
export interface CartItem {
  readonly courseId: string
  readonly addedAt: Date
}

/** What MySQL says about a request id, when Redis no longer knows it or holds a stale status. */
export type DurableRequest =
  | { readonly status: 'enrolled'; readonly courseId: string; readonly studentId: string }
  | {
      readonly status: 'waitlisted'
      readonly courseId: string
      readonly studentId: string
      readonly position: number
    }

/** Seat count after a commit, with the course version that orders cache updates. */
export interface SeatState {
  readonly seatsLeft: number
  readonly version: number
}

/**
 * A committed change of a course as the queue's caches learn it: the seats left after it and the
 * versions it leads from and to. The waitlist's mirror applies changes only in that order.
 */
export interface SeatChange extends SeatState {
  /** The course version the change started from (equal to `version` when it changed nothing). */
  readonly versionBefore: number
}

/** One place on a course's waitlist, in the store's order. */
export interface WaitlistPlace {
  readonly requestId: string
  /** The store's order key (its waitlist row id). */
  readonly place: number
}

/** A course as MySQL has it, for comparing the queue's caches with the truth. */
export interface CourseVersion {
  readonly id: string
  readonly version: number
  /** Highest arrival number whose decision MySQL may hold (see rules.bulkRejections). */
  readonly decidedThrough: number
}

/** One consistent read of a course: its seats, who holds them, and who waits, in order. */
export interface CourseSnapshot extends SeatState {
  readonly students: string[]
  /** With each place's student: a rebuild of the queue's caches gives them their place again. */
  readonly waitlist: ReadonlyArray<WaitlistPlace & { readonly studentId: string }>
}
