import type { EnrollmentRequests, RequestView } from './enrollment-requests.js'
import type { SeatCache, WaitingQueue } from './ports.js'

/** What a watching student is told: the request's answer, and a wait estimate while queued. */
export type WatchUpdate = RequestView & { readonly estimatedWaitSeconds?: number }

export interface WatchSettings {
  /** How often queued requests' places are recomputed (one queue read per tick, all courses). */
  readonly tickMs: number
  /** How often a queued request is re-read whole, to heal any drift of the computed place. */
  readonly resyncMs: number
  /**
   * How often a waitlisted request is re-read whatever happens (its place lives in the store). A
   * change of its course (a place given up, a seat handed over, on any instance) is seen sooner:
   * every round reads the versions of the courses that have waitlisted watchers.
   */
  readonly waitlistMs: number
  /** The span of a course's progress the wait estimate is measured over (ms). */
  readonly rateWindowMs: number
  /** The clock (ms); tests drive their own. */
  readonly now: () => number
}

export interface WatchObserver {
  round(seconds: number, updates: number): void
  error(err: unknown): void
}

/** Requests re-read at once in a round. */
const REREADS_AT_ONCE = 64
/** How long a request nobody listens to any more is kept for a stream that takes it over (ms). */
const IDLE_KEPT_MS = 5_000

const defaults: WatchSettings = {
  tickMs: 1_000,
  resyncMs: 30_000,
  waitlistMs: 10_000,
  rateWindowMs: 10_000,
  now: () => Date.now(),
}

/** One reading of a course's progress: how many requests its queue had let go of, and when. */
interface Sample {
  readonly at: number
  readonly progress: number
}

interface Watched {
  readonly studentId: string
  readonly requestId: string
  readonly courseId: string
  view: WatchUpdate
  /** For queued requests: where it joined, to compute its place from the course's progress. */
  joined: { position: number; removedBefore: number } | null
  nextReadAt: number
  /** Since when nobody listens (it is forgotten after IDLE_KEPT_MS), or null. */
  idleSince: number | null
  readonly listeners: Set<(update: WatchUpdate) => void>
}

/**
 * Live answers for students watching their requests (the page's event stream). A queue only lets
 * go of its head, so a waiting request's place is where it joined minus how many its course has
 * let go of since: one read of one number per course per tick serves every watcher of every
 * course, however many there are. A request whose computed place reaches the head is re-read
 * whole (it is being decided), and every request is re-read now and then to heal drift.
 * Waitlisted requests are re-read when their course's cache version moves (one read per round
 * for every course with waitlisted watchers), so a move up or a promotion made on any instance
 * reaches the student within a round.
 *
 * The wait estimate is the one rule of this service for "how long until my turn": the place
 * divided by the pace the course's queue kept over the last `rateWindowMs` (stalls included: an
 * admission worker serves a course in slices, and a pace measured only while it moves would
 * promise too much), from the moment it was first seen moving (before the worker reaches a
 * course its queue says nothing of its pace). A course nobody watched before is read when its
 * first request is watched, so its pace is known at the first round it moves. No estimate is
 * given until the queue has been seen moving: a number without a measurement behind it would be
 * a guess.
 */
export class RequestWatch {
  readonly #queue: WaitingQueue
  readonly #seats: Pick<SeatCache, 'versions'>
  readonly #requests: EnrollmentRequests
  readonly #settings: WatchSettings
  readonly #watched = new Map<string, Watched>()
  /** Per course with queued watchers: its progress readings over the rate window, oldest first. */
  readonly #courses = new Map<string, Sample[]>()
  /** Per course with waitlisted watchers: its cache version at the last round. */
  readonly #versions = new Map<string, number>()
  #timer: NodeJS.Timeout | null = null
  #ticking = false
  readonly #observer: WatchObserver

  constructor(
    ports: { readonly queue: WaitingQueue; readonly seats: Pick<SeatCache, 'versions'> },
    requests: EnrollmentRequests,
    observer: WatchObserver,
    settings: Partial<WatchSettings> = {},
  ) {
    this.#queue = ports.queue
    this.#seats = ports.seats
    this.#requests = requests
    this.#observer = observer
    this.#settings = { ...defaults, ...settings }
  }

  /** Requests being watched (each may have several listeners: tabs, devices). */
  get size(): number {
    let n = 0
    for (const w of this.#watched.values()) if (w.listeners.size > 0) n += 1
    return n
  }

  get listeners(): number {
    let n = 0
    for (const w of this.#watched.values()) n += w.listeners.size
    return n
  }

  start(): void {
    if (this.#timer) return
    this.#timer = setInterval(() => {
      if (this.#ticking) return
      this.#ticking = true
      this.tick()
        .catch((err: unknown) => this.#observer.error(err))
        .finally(() => {
          this.#ticking = false
        })
    }, this.#settings.tickMs)
    this.#timer.unref()
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer)
    this.#timer = null
    this.#watched.clear()
    this.#courses.clear()
    this.#versions.clear()
  }

  /**
   * Starts sending a student's requests' answers to `send`: the current one at once, then each
   * change. Requests that are not the student's are ignored. Returns what stops it.
   */
  async watch(
    studentId: string,
    requestIds: readonly string[],
    send: (update: WatchUpdate) => void,
  ): Promise<() => void> {
    const mine: string[] = []
    const ids = [...new Set(requestIds)]
    // What is not watched yet is read at once (the reads share round trips), not one by one.
    const reads = new Map(
      await Promise.all(
        ids
          .filter((id) => !this.#watched.has(id))
          .map(async (id) => [id, await this.#requests.watched(studentId, id)] as const),
      ),
    )
    // The first reading of a course's pace is taken now, not at the next round: by that round
    // the pace is known and the estimate can be given.
    const unseen = [...reads.values()]
      .filter((read) => read?.view.status === 'queued')
      .map((read) => read?.view.courseId as string)
      .filter((courseId, i, all) => !this.#courses.has(courseId) && all.indexOf(courseId) === i)
    if (unseen.length > 0) {
      const now = this.#settings.now()
      for (const [courseId, progress] of await this.#queue.progress(unseen)) {
        if (!this.#courses.has(courseId)) this.#courses.set(courseId, [{ at: now, progress }])
      }
    }
    for (const requestId of ids) {
      let watched = this.#watched.get(requestId)
      if (watched && watched.studentId !== studentId) continue
      if (!watched) {
        const read = reads.has(requestId)
          ? reads.get(requestId)
          : await this.#requests.watched(studentId, requestId)
        if (!read) continue
        watched = {
          studentId,
          requestId,
          courseId: read.view.courseId,
          view: read.view,
          joined: read.joined,
          nextReadAt: 0,
          idleSince: null,
          listeners: new Set(),
        }
        this.#schedule(watched)
        // Someone else may have started watching it meanwhile.
        watched = this.#watched.get(requestId) ?? watched
        this.#watched.set(requestId, watched)
      }
      watched.listeners.add(send)
      watched.idleSince = null
      mine.push(requestId)
      send(watched.view)
    }
    return () => {
      for (const requestId of mine) {
        const watched = this.#watched.get(requestId)
        if (!watched) continue
        watched.listeners.delete(send)
        // Kept a moment: the page reopens its stream when its set of requests changes, and the
        // new stream then takes the request over without reading it again.
        if (watched.listeners.size === 0) watched.idleSince = this.#settings.now()
      }
    }
  }

  /**
   * A course's waitlist changed here (a place was given up or a seat handed over): its watched
   * waitlisted requests are re-read at the next tick rather than at their next turn, even if the
   * queue's cache of the course has not taken the change yet. Watchers on other instances see
   * the course's version move at their next round.
   */
  courseChanged(courseId: string): void {
    for (const w of this.#watched.values()) {
      if (w.courseId === courseId && w.view.status === 'waitlisted') w.nextReadAt = 0
    }
  }

  #schedule(w: Watched): void {
    const { status } = w.view
    const every = status === 'waitlisted' ? this.#settings.waitlistMs : this.#settings.resyncMs
    w.nextReadAt = this.#settings.now() + every
  }

  #send(w: Watched, view: WatchUpdate): void {
    const before = w.view
    w.view = view
    const changed =
      before.status !== view.status ||
      ('position' in before ? before.position : undefined) !==
        ('position' in view ? view.position : undefined) ||
      before.estimatedWaitSeconds !== view.estimatedWaitSeconds
    if (!changed) return
    for (const listener of w.listeners) listener(view)
    this.#updates += w.listeners.size
    if (view.status === 'enrolled' || view.status === 'rejected') this.#watched.delete(w.requestId)
  }

  #updates = 0

  /** One round: public so tests can drive it without a timer. */
  async tick(): Promise<void> {
    const started = process.hrtime.bigint()
    this.#updates = 0
    await this.#round()
    this.#observer.round(Number(process.hrtime.bigint() - started) / 1e9, this.#updates)
  }

  async #round(): Promise<void> {
    const now = this.#settings.now()
    const watched = [...this.#watched.values()]
    const queuedCourses = new Set(
      watched.filter((w) => w.view.status === 'queued').map((w) => w.courseId),
    )
    const waitlistedCourses = new Set(
      watched.filter((w) => w.view.status === 'waitlisted').map((w) => w.courseId),
    )
    const courseIds = [...queuedCourses]
    const waitlisted = [...waitlistedCourses]
    const [progress, versions] = await Promise.all([
      courseIds.length > 0 ? this.#queue.progress(courseIds) : new Map<string, number>(),
      waitlisted.length > 0 ? this.#seats.versions(waitlisted) : new Map<string, number>(),
    ])
    // A course whose count went back (the queue's state was lost) has every place re-read.
    const reset = new Set<string>()
    for (const courseId of courseIds) {
      const current = progress.get(courseId) ?? 0
      const samples = this.#courses.get(courseId)
      const last = samples?.at(-1)
      if (!samples || !last || current < last.progress) {
        if (samples) reset.add(courseId)
        this.#courses.set(courseId, [{ at: now, progress: current }])
        continue
      }
      samples.push({ at: now, progress: current })
      // Keep one reading at or before the window's start, so the pace spans the whole window.
      while (samples.length > 2 && (samples[1] as Sample).at <= now - this.#settings.rateWindowMs) {
        samples.shift()
      }
    }
    // Sets, not the arrays: a rush watches thousands of courses, and this runs every round.
    for (const courseId of this.#courses.keys()) {
      if (!queuedCourses.has(courseId)) this.#courses.delete(courseId)
    }
    // A waitlisted request whose course changed since the last round is re-read in this one.
    const changed = new Set<string>()
    for (const courseId of waitlisted) {
      const version = versions.get(courseId)
      if (version === undefined) continue
      const before = this.#versions.get(courseId)
      if (before !== undefined && before !== version) changed.add(courseId)
      this.#versions.set(courseId, version)
    }
    for (const courseId of this.#versions.keys()) {
      if (!waitlistedCourses.has(courseId)) this.#versions.delete(courseId)
    }

    const reread: Watched[] = []
    for (const w of this.#watched.values()) {
      if (w.idleSince !== null && now - w.idleSince >= IDLE_KEPT_MS) {
        this.#watched.delete(w.requestId)
        continue
      }
      const moved = w.view.status === 'waitlisted' && changed.has(w.courseId)
      if (w.nextReadAt <= now || reset.has(w.courseId) || moved) {
        reread.push(w)
        continue
      }
      if (w.view.status !== 'queued' || !w.joined) continue
      const current = progress.get(w.courseId) ?? 0
      const position = w.joined.position - (current - w.joined.removedBefore)
      if (position < 1 || current < w.joined.removedBefore) {
        // At the head (being decided), or the queue's count was reset: ask.
        reread.push(w)
        continue
      }
      // A pace that dropped to nothing takes the old estimate away rather than keeping it.
      const { estimatedWaitSeconds: _before, ...view } = w.view
      this.#send(w, { ...view, position, ...this.#estimate(w.courseId, position) } as WatchUpdate)
    }
    // Re-read in parallel, a bounded number at a time: at the head of a big queue, thousands of
    // requests are decided in one round.
    let next = 0
    const reader = async (): Promise<void> => {
      while (next < reread.length) {
        await this.#reread(reread[next++] as Watched)
      }
    }
    await Promise.all(Array.from({ length: Math.min(REREADS_AT_ONCE, reread.length) }, reader))
  }

  async #reread(w: Watched): Promise<void> {
    const read = await this.#requests.watched(w.studentId, w.requestId)
    if (!read) {
      this.#watched.delete(w.requestId)
      return
    }
    const { view } = read
    if (view.status === 'queued') {
      w.joined = read.joined
      this.#send(w, { ...view, ...this.#estimate(w.courseId, view.position) })
    } else {
      this.#send(w, view)
    }
    this.#schedule(w)
  }

  #estimate(courseId: string, position: number): { estimatedWaitSeconds?: number } {
    const rate = paceOf(this.#courses.get(courseId))
    return rate > 0 ? { estimatedWaitSeconds: Math.ceil(position / rate) } : {}
  }
}

/**
 * Requests a course's queue let go of per second over its readings, from the reading before it
 * was first seen moving (a queue that has not been served yet says nothing about its pace once
 * it is); 0 before it was seen moving.
 */
export function paceOf(samples: readonly Sample[] | undefined): number {
  if (!samples) return 0
  let start = 0
  while (start < samples.length - 1 && samples[start + 1]?.progress === samples[start]?.progress) {
    start += 1
  }
  const first = samples[start]
  const last = samples.at(-1)
  if (!first || !last || last.at <= first.at || last.progress <= first.progress) return 0
  return ((last.progress - first.progress) * 1000) / (last.at - first.at)
}
