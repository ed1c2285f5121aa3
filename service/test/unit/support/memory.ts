/**
 * In-memory implementations of the admission ports, for unit tests of the domain services: the
 * same contracts as the MySQL and Redis adapters, without servers. They model state, not
 * timing; a test that needs a failure wraps a method.
 */
import { randomUUID } from 'node:crypto'
import type { Decision, Meeting, QueuedRequest, SeatState } from '../../../src/domain/model.js'
import type {
  AdmissionFacts,
  AdmissionStore,
  AdmissionWrites,
  CancellationChange,
  CancellationTx,
  EnqueueInput,
  EnqueueResult,
  FencedOutcome,
  HeadEntry,
  LeaseResult,
  Leases,
  RequestRecord,
  SessionRef,
  StudentRead,
  SeatCache,
  WaitingQueue,
} from '../../../src/domain/ports.js'

interface CourseRow {
  meetings: Meeting[]
  credits: number
  capacity: number
  enrolled: number
  version: number
  decidedThrough: number
  fence: number
}

export class MemoryStore implements AdmissionStore {
  readonly courses = new Map<string, CourseRow>()
  readonly maxCredits = new Map<string, number>()
  /** course -> student -> request id (null for a seeded enrollment) */
  readonly enrollments = new Map<string, Map<string, string | null>>()
  /** course -> waitlist in order; a place is the order key the SQL stores' row id is */
  readonly waitlists = new Map<
    string,
    Array<{ studentId: string; requestId: string; place: number }>
  >()
  #places = 0
  transactions = 0

  addCourse(id: string, capacity: number, credits = 3, meetings: Meeting[] = []): void {
    this.courses.set(id, {
      meetings,
      credits,
      capacity,
      enrolled: 0,
      version: 0,
      decidedThrough: 0,
      fence: 0,
    })
    this.enrollments.set(id, new Map())
    this.waitlists.set(id, [])
  }

  addStudent(id: string, maxCredits = 18): void {
    this.maxCredits.set(id, maxCredits)
  }

  #meetings(courseId: string): Meeting[] {
    return this.courses.get(courseId)?.meetings ?? []
  }

  enrolledIn(courseId: string): string[] {
    return [...(this.enrollments.get(courseId)?.keys() ?? [])]
  }

  async fence(courseId: string): Promise<number | null> {
    const course = this.courses.get(courseId)
    if (!course) return null
    course.fence += 1
    return course.fence
  }

  async admit<T>(
    courseId: string,
    fence: number,
    studentIds: readonly string[],
    decide: (facts: AdmissionFacts) => { readonly writes: AdmissionWrites; readonly value: T },
  ): Promise<FencedOutcome<T>> {
    this.transactions += 1
    const course = this.courses.get(courseId)
    if (!course) return { kind: 'no-course' }
    if (course.fence !== fence) return { kind: 'fenced' }
    const creditsHeld = new Map<string, number>()
    const meetingsHeld = new Map<string, Meeting[]>()
    const enrolledBy = new Map<string, string | null>()
    const waitlistedBy = new Map<string, string>()
    const waitlistHeld = new Map<string, number>()
    for (const [cid, students] of this.enrollments) {
      const credits = this.courses.get(cid)?.credits ?? 0
      for (const [sid, rid] of students) {
        if (!studentIds.includes(sid)) continue
        creditsHeld.set(sid, (creditsHeld.get(sid) ?? 0) + credits)
        meetingsHeld.set(sid, [...(meetingsHeld.get(sid) ?? []), ...this.#meetings(cid)])
        if (cid === courseId) enrolledBy.set(sid, rid)
      }
    }
    for (const [cid, list] of this.waitlists) {
      for (const w of list) {
        if (!studentIds.includes(w.studentId)) continue
        waitlistHeld.set(w.studentId, (waitlistHeld.get(w.studentId) ?? 0) + 1)
        if (cid === courseId) waitlistedBy.set(w.studentId, w.requestId)
      }
    }
    const { writes, value } = decide({
      credits: course.credits,
      capacity: course.capacity,
      enrolled: course.enrolled,
      version: course.version,
      meetings: course.meetings,
      decidedThrough: course.decidedThrough,
      maxCredits: new Map(
        studentIds
          .filter((s) => this.maxCredits.has(s))
          .map((s) => [s, this.maxCredits.get(s) as number]),
      ),
      creditsHeld,
      meetingsHeld,
      enrolledBy,
      waitlistedBy,
      waitlistHeld,
    })
    const enrolled = this.enrollments.get(courseId) as Map<string, string | null>
    for (const r of writes.enroll) {
      if (enrolled.has(r.studentId)) throw new Error(`duplicate enrollment of ${r.studentId}`)
      enrolled.set(r.studentId, r.requestId)
    }
    const waitlist = this.waitlists.get(courseId) as Array<{
      studentId: string
      requestId: string
      place: number
    }>
    for (const r of writes.waitlist) {
      this.#places += 1
      waitlist.push({ studentId: r.studentId, requestId: r.requestId, place: this.#places })
    }
    for (const r of writes.rewaitlist) {
      const entry = waitlist.find((w) => w.studentId === r.studentId)
      if (entry) entry.requestId = r.requestId
    }
    if (writes.course) Object.assign(course, writes.course)
    if (enrolled.size > course.capacity) throw new Error(`oversold ${courseId}`)
    if (enrolled.size !== course.enrolled) throw new Error(`count of ${courseId} disagrees`)
    const waitlistPlaces = new Map(
      waitlist.filter((w) => studentIds.includes(w.studentId)).map((w) => [w.requestId, w.place]),
    )
    return { kind: 'done', value, waitlistPlaces }
  }

  async cancel<T>(
    studentId: string,
    courseId: string,
    work: (tx: CancellationTx) => Promise<T>,
  ): Promise<T | null> {
    this.transactions += 1
    const course = this.courses.get(courseId)
    if (!course) return null
    const enrolled = this.enrollments.get(courseId) as Map<string, string | null>
    const waitlist = this.waitlists.get(courseId) as Array<{ studentId: string; requestId: string }>
    const tx: CancellationTx = {
      course: { ...course },
      removeEnrollment: async () => enrolled.delete(studentId),
      removeWaitlistPlace: async () => {
        const at = waitlist.findIndex((w) => w.studentId === studentId)
        return at < 0 ? null : (waitlist.splice(at, 1)[0]?.requestId ?? null)
      },
      takeWaitlistHead: async () => {
        const head = waitlist.shift()
        if (!head) return null
        let held = 0
        const meetingsHeld: Meeting[] = []
        for (const [cid, students] of this.enrollments) {
          if (!students.has(head.studentId)) continue
          held += this.courses.get(cid)?.credits ?? 0
          meetingsHeld.push(...this.#meetings(cid))
        }
        return {
          ...head,
          meetingsHeld,
          maxCredits: this.maxCredits.get(head.studentId),
          creditsHeld: held,
          enrolledHere: enrolled.has(head.studentId),
        }
      },
      enroll: async (student, requestId) => {
        enrolled.set(student, requestId)
      },
      updateCourse: async (count, version) => {
        course.enrolled = count
        course.version = version
      },
    }
    return work(tx)
  }
}

interface RequestHash {
  studentId: string
  courseId: string
  arrival: number
  waitlist: boolean
  status: RequestRecord['status']
  reason: RequestRecord['reason']
  joined: { position: number; removedBefore: number }
}

/** The queue, leases and seat cache of one process, with a clock the test may move. */
export class MemoryQueue implements WaitingQueue, Leases, SeatCache {
  now = 0
  arrivals = 0
  readonly requests = new Map<string, RequestHash>()
  readonly queues = new Map<string, Array<{ requestId: string; arrival: number }>>()
  readonly live = new Map<string, Map<string, string>>()
  readonly seats = new Map<string, SeatState>()
  readonly cancelling = new Map<string, Map<string, number>>()
  readonly leases = new Map<string, { token: string; until: number }>()
  readonly active = new Set<string>()
  /** Requests each course's queue has let go of. */
  readonly removed = new Map<string, number>()

  #live(courseId: string): Map<string, string> {
    let live = this.live.get(courseId)
    if (!live) this.live.set(courseId, (live = new Map()))
    return live
  }

  #queue(courseId: string): Array<{ requestId: string; arrival: number }> {
    let queue = this.queues.get(courseId)
    if (!queue) this.queues.set(courseId, (queue = []))
    return queue
  }

  #inFlight(courseId: string): boolean {
    return [...(this.cancelling.get(courseId)?.values() ?? [])].some((until) => until > this.now)
  }

  async enqueue(input: EnqueueInput): Promise<EnqueueResult> {
    const live = this.#live(input.courseId)
    const queue = this.#queue(input.courseId)
    const marker = live.get(input.studentId)
    if (marker === 'E') return { kind: 'already-enrolled' }
    const existing = marker ? this.requests.get(marker) : undefined
    if (existing?.status === 'queued' || existing?.status === 'waitlisted') {
      const rank = queue.findIndex((e) => e.requestId === marker)
      return {
        kind: 'existing',
        requestId: marker as string,
        status: existing.status,
        position: existing.status === 'queued' ? rank + 1 : 0,
        queueLength: queue.length,
      }
    }
    if (
      input.refuseWhenFull &&
      this.seats.get(input.courseId)?.seatsLeft === 0 &&
      !this.#inFlight(input.courseId)
    ) {
      return { kind: 'course-full' }
    }
    this.arrivals += 1
    this.requests.set(input.requestId, {
      studentId: input.studentId,
      courseId: input.courseId,
      arrival: this.arrivals,
      waitlist: input.waitlist,
      status: 'queued',
      reason: null,
      joined: { position: queue.length + 1, removedBefore: this.removed.get(input.courseId) ?? 0 },
    })
    queue.push({ requestId: input.requestId, arrival: this.arrivals })
    live.set(input.studentId, input.requestId)
    this.active.add(input.courseId)
    return {
      kind: 'created',
      requestId: input.requestId,
      status: 'queued',
      position: queue.length,
      queueLength: queue.length,
    }
  }

  /** Sessions and rate limits are not this double's concern: every session is alive. */
  async studentRequest(_session: SessionRef, requestId: string): Promise<StudentRead> {
    return { kind: 'read', record: await this.request(requestId) }
  }

  async request(requestId: string): Promise<RequestRecord | null> {
    const r = this.requests.get(requestId)
    if (!r) return null
    const rank = this.#queue(r.courseId).findIndex((e) => e.requestId === requestId)
    return {
      requestId,
      studentId: r.studentId,
      courseId: r.courseId,
      status: r.status,
      reason: r.reason,
      position: r.status === 'queued' && rank >= 0 ? rank + 1 : null,
      joined: r.joined,
    }
  }

  async length(courseId: string): Promise<number> {
    return this.#queue(courseId).length
  }

  async activeCourses(): Promise<string[]> {
    return [...this.active]
  }

  async head(courseId: string, count: number): Promise<HeadEntry[]> {
    const queue = this.#queue(courseId)
    if (queue.length === 0) this.active.delete(courseId)
    const live = this.#live(courseId)
    return queue.slice(0, count).map(({ requestId, arrival }) => {
      const r = this.requests.get(requestId) as RequestHash
      const marker = live.get(r.studentId)
      return {
        requestId,
        studentId: r.studentId,
        waitlist: r.waitlist,
        arrival,
        standing: marker === requestId ? 'this-request' : marker === 'E' ? 'enrolled' : 'other',
      }
    })
  }

  #holds(courseId: string, token: string): boolean {
    const lease = this.leases.get(`course:${courseId}`)
    return lease !== undefined && lease.token === token && lease.until > this.now
  }

  #record(courseId: string, d: Decision): void {
    const r = this.requests.get(d.requestId)
    if (r) {
      r.status = d.status
      r.reason = d.status === 'rejected' ? d.reason : null
    }
    const live = this.#live(courseId)
    if (d.status === 'enrolled') live.set(d.studentId, 'E')
    else if (d.status === 'rejected' && live.get(d.studentId) === d.requestId) {
      live.delete(d.studentId)
    }
  }

  #writeSeats(courseId: string, seats: SeatState): boolean {
    const cached = this.seats.get(courseId)
    if (cached && cached.version > seats.version) return false
    this.seats.set(courseId, { seatsLeft: seats.seatsLeft, version: seats.version })
    return true
  }

  async settle(
    courseId: string,
    leaseToken: string,
    decisions: readonly Decision[],
    seats: SeatState,
  ): Promise<number | null> {
    if (!this.#holds(courseId, leaseToken)) return null
    const queue = this.#queue(courseId)
    for (const d of decisions) {
      const i = queue.findIndex((e) => e.requestId === d.requestId)
      if (i >= 0) {
        queue.splice(i, 1)
        this.#letGo(courseId, 1)
      }
      this.#record(courseId, d)
    }
    this.#writeSeats(courseId, seats)
    if (queue.length === 0) this.active.delete(courseId)
    return queue.length
  }

  async rejectHead(
    courseId: string,
    leaseToken: string,
    rejections: ReadonlyArray<Extract<Decision, { status: 'rejected' }>>,
  ): Promise<number | 'lease-lost' | 'not-full'> {
    if (!this.#holds(courseId, leaseToken)) return 'lease-lost'
    if (this.seats.get(courseId)?.seatsLeft !== 0 || this.#inFlight(courseId)) return 'not-full'
    const queue = this.#queue(courseId)
    const live = this.#live(courseId)
    let n = 0
    for (const d of rejections) {
      const i = queue.findIndex((e) => e.requestId === d.requestId)
      if (i < 0 || live.get(d.studentId) !== d.requestId) break
      queue.splice(i, 1)
      this.#letGo(courseId, 1)
      this.#record(courseId, d)
      n += 1
    }
    return n
  }

  #letGo(courseId: string, n: number): void {
    this.removed.set(courseId, (this.removed.get(courseId) ?? 0) + n)
  }

  async progress(courseIds: readonly string[]): Promise<Map<string, number>> {
    return new Map(courseIds.map((id) => [id, this.removed.get(id) ?? 0]))
  }

  async raiseArrivalCounters(least: ReadonlyMap<string, number>): Promise<void> {
    this.arrivals = Math.max(this.arrivals, ...least.values())
  }

  newRequestId(): string {
    return randomUUID()
  }

  #take(name: string, token: string, ttlMs: number): LeaseResult {
    const lease = this.leases.get(name)
    if (lease && lease.until > this.now) {
      if (lease.token !== token) return 'held'
      lease.until = this.now + ttlMs
      return 'renewed'
    }
    this.leases.set(name, { token, until: this.now + ttlMs })
    return 'taken'
  }

  async acquireCourse(courseId: string, token: string, ttlMs: number): Promise<LeaseResult> {
    return this.#take(`course:${courseId}`, token, ttlMs)
  }

  async releaseCourse(courseId: string, token: string): Promise<void> {
    if (this.leases.get(`course:${courseId}`)?.token === token)
      this.leases.delete(`course:${courseId}`)
  }

  async acquireReconciler(token: string, ttlMs: number): Promise<boolean> {
    return this.#take('reconciler', token, ttlMs) !== 'held'
  }

  async markCancellation(courseId: string, cancellationId: string, ttlMs: number): Promise<void> {
    let marks = this.cancelling.get(courseId)
    if (!marks) this.cancelling.set(courseId, (marks = new Map()))
    marks.set(cancellationId, this.now + ttlMs)
  }

  async unmarkCancellation(courseId: string, cancellationId: string): Promise<void> {
    this.cancelling.get(courseId)?.delete(cancellationId)
  }

  async reflectCancellation(courseId: string, change: CancellationChange): Promise<void> {
    const live = this.#live(courseId)
    if (this.#writeSeats(courseId, change) && live.get(change.studentId) === 'E') {
      live.delete(change.studentId)
    }
    if (change.promoted) {
      this.#record(courseId, { ...change.promoted, status: 'enrolled' })
    }
    for (const d of change.dropped) {
      if (this.requests.has(d.requestId)) this.#record(courseId, { ...d, status: 'rejected' })
    }
    this.cancelling.get(courseId)?.delete(change.cancellationId)
  }

  async versions(courseIds: readonly string[]): Promise<Map<string, number>> {
    return new Map(courseIds.map((id) => [id, this.seats.get(id)?.version ?? -1]))
  }

  async repair(): Promise<boolean> {
    throw new Error('not modelled')
  }
}

export const request = (n: number, student = `S${n}`, waitlist = false): QueuedRequest => ({
  requestId: `r${n}`,
  studentId: student,
  waitlist,
  arrival: n,
})
