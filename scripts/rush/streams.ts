// Follows queued requests as the student page does (service/src/web/watcher.js): one event
// stream per student, GET /api/v1/me/events?requests=<the student's undecided ids>, reopened
// 50 ms after that set changes and closed when it is empty; each `request` event is applied as
// an answer. A stream refused, broken or `unavailable` is reconnected after Retry-After (or its
// `retry`, 3 s) and the student polls meanwhile, so that no request is ever left unfollowed.
import { readFileSync } from 'node:fs'
import { Agent, type ClientRequest, get } from 'node:http'
import { performance } from 'node:perf_hooks'
import type { Answer, Client, FollowStats } from './client.js'
import { nextPollMs } from '@sugang/service/client-policy'
import { FIRST_POLL_MS, retryDelay, ROUTES, settle, type Tracked } from './driver.js'
import { PROXY_CONNECTIONS } from './processes.js'
import { SseParser } from './sse.js'
import type { Target } from './targets.js'

/** Several requests often arrive together (a whole cart): one reconnect for all of them. */
const SYNC_DELAY_MS = 50
/** The most requests one stream may watch (the server's limit); beyond it, the page polls. */
const MAX_IDS = 20
/** A stream that has not answered within this is failing (the page's own timeout). */
const OPEN_TIMEOUT_MS = 8000
/** Before a stream has said its `retry`, and after a refusal without Retry-After. */
const RECONNECT_MS = 3000
/** Descriptors kept for everything that is not a stream (pipes, MySQL, Redis, the pool's spare). */
const RESERVED_DESCRIPTORS = 1024

/**
 * Streams hold their connection for as long as they are open: they never take one of the pool's
 * (client.ts), and theirs are never reused.
 */
const agent = new Agent({ keepAlive: false })

interface Stream {
  readonly key: string
  readonly req: ClientRequest
  /** Answered 200: the events flow. */
  open: boolean
  /** Closed here (replaced, done, failed): whatever it still emits is ignored. */
  closed: boolean
  openTimer: NodeJS.Timeout | null
}

/** One student's side, kept small: 20,000 of them may be following at once. */
interface Student {
  readonly n: number
  /** Undecided requests, by id. */
  readonly watched: Map<string, Tracked>
  stream: Stream | null
  /** The next stream replaces a failed one (a reopen). */
  failed: boolean
  syncTimer: NodeJS.Timeout | null
  /** Set after a failure: no stream before it fires. */
  retryTimer: NodeJS.Timeout | null
  pollTimer: NodeJS.Timeout | null
  polling: boolean
  pollDelay: number
}

/** The soft limit of open files of this process (Node raises it to the hard one at start). */
export function openFilesLimit(): number {
  try {
    const limits = readFileSync('/proc/self/limits', 'utf8')
    const m = limits.match(/^Max open files\s+(\d+|unlimited)/m)
    return !m || m[1] === 'unlimited' ? Infinity : Number(m[1])
  } catch {
    return Infinity
  }
}

/**
 * Streams the load generator may hold at once: its descriptors less the pool's and a reserve.
 * The service on the same machine has the same limit and holds one descriptor per stream too, so
 * this keeps it within its own. Behind the proxy, each stream also holds one of the proxy's
 * connections to an instance, which the enrollment requests need as well.
 */
export function streamBudget(instances: number, inFlight: number): number {
  let budget = openFilesLimit() - inFlight - RESERVED_DESCRIPTORS
  if (instances > 1) {
    const proxy = Math.min(PROXY_CONNECTIONS.total, PROXY_CONNECTIONS.perInstance * instances)
    budget = Math.min(budget, proxy - inFlight)
  }
  return Math.max(0, budget)
}

export class StreamFollower {
  readonly #client: Client
  readonly #target: Target
  readonly #budget: number
  readonly #students = new Map<number, Student>()
  readonly #deadlineTimer: NodeJS.Timeout
  readonly #finished: Promise<void>
  #resolve: () => void = () => undefined
  /** Watched requests not decided yet, over every student. */
  #pending = 0
  #sending = true
  #stopped = false

  constructor(client: Client, target: Target, deadline: number, inFlight: number) {
    this.#client = client
    this.#target = target
    this.#budget = streamBudget(target.instances, inFlight)
    this.#finished = new Promise((resolve) => (this.#resolve = resolve))
    this.#deadlineTimer = setTimeout(() => this.#stop(), Math.max(0, deadline - performance.now()))
  }

  /** The phase's counters (read each time: a measured phase starts with new ones). */
  get #stats(): FollowStats {
    return this.#client.stats.follow
  }

  /** Follows a request answered `queued` until it is decided. */
  watch(r: Tracked): void {
    if (this.#stopped || !r.requestId) return
    let s = this.#students.get(r.wish.student)
    if (!s) {
      s = {
        n: r.wish.student,
        watched: new Map(),
        stream: null,
        failed: false,
        syncTimer: null,
        retryTimer: null,
        pollTimer: null,
        polling: false,
        pollDelay: FIRST_POLL_MS,
      }
      this.#students.set(s.n, s)
    }
    if (s.watched.has(r.requestId)) return
    s.watched.set(r.requestId, r)
    this.#pending += 1
    this.#scheduleSync(s)
  }

  /**
   * Every request has been sent: resolves once every watched one is decided (or the deadline
   * has passed), with every stream closed and every timer cleared.
   */
  finish(): Promise<void> {
    this.#sending = false
    if (this.#pending === 0) this.#stop()
    return this.#finished
  }

  #stop(): void {
    if (this.#stopped) return
    this.#stopped = true
    clearTimeout(this.#deadlineTimer)
    for (const s of this.#students.values()) this.#release(s)
    this.#students.clear()
    this.#resolve()
  }

  #live(s: Student): boolean {
    return !this.#stopped && this.#students.get(s.n) === s
  }

  #scheduleSync(s: Student): void {
    if (s.syncTimer) return
    s.syncTimer = setTimeout(() => {
      s.syncTimer = null
      this.#sync(s)
    }, SYNC_DELAY_MS)
  }

  /** Brings the student's stream in line with their undecided requests. */
  #sync(s: Student): void {
    if (!this.#live(s)) return
    // After a failure the stream waits for its retry; the student polls meanwhile.
    if (s.retryTimer) {
      this.#startPolling(s, false)
      return
    }
    if (s.watched.size > MAX_IDS) {
      this.#close(s)
      this.#startPolling(s, false)
      return
    }
    const key = [...s.watched.keys()].sort().join(',')
    if (s.stream?.key !== key) this.#open(s, key)
  }

  #open(s: Student, key: string): void {
    const stats = this.#stats
    const reopen = s.stream !== null || s.failed
    this.#close(s)
    if (stats.openStreams >= this.#budget) {
      // No descriptor to spare: poll, and try again later, as after a refusal.
      stats.streamsDeferred += 1
      this.#retryLater(s, RECONNECT_MS)
      return
    }
    stats.streamsOpened += 1
    if (reopen) stats.streamsReopened += 1
    stats.openStreams += 1
    stats.peakOpenStreams = Math.max(stats.peakOpenStreams, stats.openStreams)
    const req = get(new URL(`/api/v1/me/events?requests=${key}`, this.#target.base), {
      agent,
      headers: { cookie: this.#target.cookie(s.n), accept: 'text/event-stream' },
    })
    const stream: Stream = { key, req, open: false, closed: false, openTimer: null }
    s.stream = stream
    stream.openTimer = setTimeout(() => this.#failed(s, stream, RECONNECT_MS), OPEN_TIMEOUT_MS)
    req.on('error', () => this.#failed(s, stream, RECONNECT_MS))
    req.on('response', (res) => {
      if (stream.openTimer) clearTimeout(stream.openTimer)
      stream.openTimer = null
      if (stream.closed) {
        res.destroy()
        return
      }
      if (res.statusCode !== 200) {
        res.resume()
        this.#stats.streamsRefused += 1
        const retryAfter = Number(res.headers['retry-after'])
        const wait = retryAfter > 0 ? retryAfter * 1000 : RECONNECT_MS
        this.#failed(s, stream, wait)
        return
      }
      stream.open = true
      s.failed = false
      s.pollDelay = FIRST_POLL_MS
      this.#stopPolling(s)
      const parser = new SseParser((event) => {
        if (stream.closed) return
        if (event.event === 'unavailable') this.#failed(s, stream, RECONNECT_MS)
        else if (event.event === 'request') this.#event(s, event.data)
      })
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => parser.push(chunk))
      // An end the server chose (its lifetime, shutting down) or a break: both reconnect.
      res.on('close', () => this.#failed(s, stream, parser.retryMs ?? RECONNECT_MS))
    })
  }

  /** Closes the student's stream, if any (whatever it emits afterwards is ignored). */
  #close(s: Student): void {
    const stream = s.stream
    if (!stream) return
    s.stream = null
    stream.closed = true
    if (stream.openTimer) clearTimeout(stream.openTimer)
    stream.req.destroy()
    this.#stats.openStreams -= 1
  }

  /** The stream was refused, broke, or could not watch: poll, and reconnect after `waitMs`. */
  #failed(s: Student, stream: Stream, waitMs: number): void {
    if (stream.closed || s.stream !== stream || !this.#live(s)) return
    this.#stats.streamFailures += 1
    this.#close(s)
    s.failed = true
    this.#retryLater(s, waitMs)
  }

  #retryLater(s: Student, waitMs: number): void {
    if (s.retryTimer) clearTimeout(s.retryTimer)
    s.retryTimer = setTimeout(() => {
      s.retryTimer = null
      this.#sync(s)
    }, waitMs)
    this.#startPolling(s, true)
  }

  #event(s: Student, data: string): void {
    this.#stats.events += 1
    let body: unknown
    try {
      body = JSON.parse(data)
    } catch {
      return
    }
    if (typeof body !== 'object' || body === null) return
    const id = (body as { requestId?: unknown }).requestId
    const r = typeof id === 'string' ? s.watched.get(id) : undefined
    if (!r) return
    const answer: Answer = { status: 200, body: body as Record<string, unknown>, retryAfter: null }
    if (this.#settle(s, r, answer)) {
      this.#stats.decidedByStream += 1
      this.#stats.lastStreamDecisionAt = performance.now()
    }
  }

  /** Applies an answer about a watched request; true if it decided it. */
  #settle(s: Student, r: Tracked, answer: Answer): boolean {
    // A decided request stays decided, whatever a late answer says.
    if (r.status !== 'queued' || !r.requestId) return false
    settle(r, answer)
    if (r.status === 'queued') return false
    s.watched.delete(r.requestId)
    this.#pending -= 1
    if (s.watched.size === 0) {
      this.#release(s)
      this.#students.delete(s.n)
    } else {
      this.#scheduleSync(s)
    }
    if (this.#pending === 0 && !this.#sending) this.#stop()
    return true
  }

  #release(s: Student): void {
    if (s.syncTimer) clearTimeout(s.syncTimer)
    if (s.retryTimer) clearTimeout(s.retryTimer)
    s.syncTimer = null
    s.retryTimer = null
    this.#stopPolling(s)
    this.#close(s)
  }

  /** Polls soon (now, or after the current delay) unless a round is running or planned. */
  #startPolling(s: Student, now: boolean): void {
    if (s.polling || s.pollTimer || !this.#live(s)) return
    this.#schedulePoll(s, now ? 0 : s.pollDelay)
  }

  #schedulePoll(s: Student, delay: number): void {
    s.pollTimer = setTimeout(() => {
      s.pollTimer = null
      void this.#pollRound(s)
    }, delay)
  }

  #stopPolling(s: Student): void {
    if (s.pollTimer) clearTimeout(s.pollTimer)
    s.pollTimer = null
  }

  /** One GET per undecided request (stopping at a 429 or 503), then wait: 1 s growing to 10 s. */
  async #pollRound(s: Student): Promise<void> {
    if (!this.#live(s) || s.stream?.open) return
    s.polling = true
    const cookie = this.#target.cookie(s.n)
    let waitMs: number | null = null
    for (const [id, r] of [...s.watched]) {
      if (!this.#live(s) || s.stream?.open) break
      if (!s.watched.has(id)) continue
      this.#stats.polls += 1
      let answer: Answer
      try {
        answer = await this.#client.send(
          ROUTES.status,
          'GET',
          `/api/v1/enrollment-requests/${id}`,
          cookie,
        )
      } catch {
        r.errors += 1
        continue
      }
      const wait = retryDelay(answer)
      if (wait !== null) {
        r.retries += 1
        waitMs = wait
        break
      }
      if (this.#settle(s, r, answer)) this.#stats.decidedByPoll += 1
    }
    s.polling = false
    if (!this.#live(s) || s.stream?.open || s.watched.size === 0) return
    const delay = waitMs ?? s.pollDelay
    s.pollDelay = nextPollMs(s.pollDelay)
    this.#schedulePoll(s, delay)
  }
}
