// Students as real clients behave: log in, ask for their courses all at once, follow each request
// to its answer (polling with back-off), honour Retry-After, log in again when the session is
// gone, ask again when a request is lost, and cancel some enrollments. Every HTTP call and every
// final answer is recorded for the checker. A round-robin over the instances in rotation stands
// in for the load balancer.
import { setTimeout as sleep } from 'node:timers/promises'
import { prng } from '../../src/demo/random.js'
import { PASSWORD } from '../helper.js'
import type { Instance, ScenarioWorld } from './cluster.js'

/** What a student was last told about one course. */
export type Belief =
  | { readonly kind: 'enrolled'; readonly requestId: string | null }
  | { readonly kind: 'waitlisted'; readonly requestId: string }
  | { readonly kind: 'rejected'; readonly reason: string; readonly requestId: string | null }
  | { readonly kind: 'cancelled' }
  | { readonly kind: 'unknown'; readonly why: string }

export interface Call {
  readonly instance: string
  readonly method: string
  readonly route: string
  /** null when no HTTP answer came (connection refused or reset, or the client gave up). */
  readonly status: number | null
  readonly code: string | null
  readonly retryAfter: string | null
  readonly started: number
  readonly ms: number
  readonly error: string | null
}

export interface Wish {
  readonly student: string
  readonly course: string
  readonly waitlist: boolean
  /** Cancel the enrollment once it is confirmed (frees a seat for the waitlist). */
  readonly cancelAfter: boolean
}

/** A client gives up on one HTTP call after this long (far beyond any deadline of the service). */
export const CLIENT_TIMEOUT_MS = 30_000
/** A student gives up on a course after this long: whatever is not answered by then is stuck. */
const FLOW_DEADLINE_MS = 150_000

interface Answer {
  readonly status: number
  readonly body: Record<string, unknown> & { error?: { code?: string } }
  readonly retryAfterMs: number
  readonly cookies: string[]
}

function routeOf(path: string): string {
  return path
    .replace(/[0-9a-f]{8}-[0-9a-f-]{27}/, ':requestId')
    .replace(/\/courses\/C\d+/, '/courses/:courseId')
    .replace(/\/enrollments\/C\d+/, '/enrollments/:courseId')
}

export class Rush {
  readonly calls: Call[] = []
  readonly beliefs = new Map<string, Belief>()
  readonly #world: ScenarioWorld
  readonly #wishes: readonly Wish[]
  readonly #cookies = new Map<string, Promise<string>>()
  #next = 0
  #acks = 0
  #ackWaiters: Array<{ n: number; resolve: () => void }> = []
  /** Counters for the report. */
  readonly stats = { logins: 0, resubmits: 0, cancels: 0, askedAgain: 0 }

  constructor(world: ScenarioWorld, wishes: readonly Wish[]) {
    this.#world = world
    this.#wishes = wishes
  }

  get wishes(): readonly Wish[] {
    return this.#wishes
  }

  /** Resolves once `n` enrollment requests have been acknowledged (the rush is under way). */
  acked(n: number): Promise<void> {
    if (this.#acks >= n) return Promise.resolve()
    return new Promise((resolve) => this.#ackWaiters.push({ n, resolve }))
  }

  /** Logs every student in, before the rush (login is not part of it). */
  async loginAll(): Promise<void> {
    const students = [...new Set(this.#wishes.map((w) => w.student))]
    for (let i = 0; i < students.length; i += 20) {
      await Promise.all(students.slice(i, i + 20).map((s) => this.#cookie(s)))
    }
  }

  /** Every student works through their wishes at once; resolves when all have answers. */
  async run(): Promise<void> {
    await Promise.all(this.#wishes.map((wish) => this.#follow(wish)))
  }

  /**
   * Every student told enrolled (or already enrolled) or waitlisted asks for the course again,
   * without the waitlist,
   * as one unsure of their answer would; what they are told now is what the checker holds
   * against MySQL. Resolves when all have answers.
   */
  async askAgain(): Promise<void> {
    const holding = this.#wishes.filter((wish) => {
      const belief = this.beliefs.get(`${wish.student}|${wish.course}`)
      return (
        belief?.kind === 'enrolled' ||
        belief?.kind === 'waitlisted' ||
        (belief?.kind === 'rejected' && belief.reason === 'ALREADY_ENROLLED')
      )
    })
    this.stats.askedAgain = holding.length
    await Promise.all(
      holding.map((wish) => this.#follow({ ...wish, waitlist: false, cancelAfter: false })),
    )
  }

  #pick(): Instance | null {
    const up = this.#world.instances.filter((i) => i.inRotation && i.alive)
    if (up.length === 0) return null
    this.#next = (this.#next + 1) % up.length
    return up[this.#next] ?? null
  }

  async #send(
    method: string,
    path: string,
    cookie: string | null,
    body?: object,
  ): Promise<Answer | null> {
    const instance = this.#pick()
    if (!instance) {
      // No healthy target: the load balancer would answer 503 itself.
      await sleep(100)
      return null
    }
    const started = performance.now()
    const headers: Record<string, string> = {}
    if (cookie) headers.cookie = cookie
    if (body) headers['content-type'] = 'application/json'
    try {
      const res = await fetch(`${instance.base}${path}`, {
        method,
        headers,
        body: body ? JSON.stringify(body) : null,
        signal: AbortSignal.timeout(CLIENT_TIMEOUT_MS),
      })
      const text = await res.text()
      const parsed = (text ? JSON.parse(text) : {}) as Answer['body']
      const retryAfter = res.headers.get('retry-after')
      this.calls.push({
        instance: instance.name,
        method,
        route: routeOf(path),
        status: res.status,
        code: parsed.error?.code ?? null,
        retryAfter,
        started,
        ms: performance.now() - started,
        error: null,
      })
      return {
        status: res.status,
        body: parsed,
        retryAfterMs: retryAfter ? Number(retryAfter) * 1000 : 0,
        cookies: res.headers.getSetCookie().map((c) => c.split(';')[0] ?? ''),
      }
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause
      this.calls.push({
        instance: instance.name,
        method,
        route: routeOf(path),
        status: null,
        code: null,
        retryAfter: null,
        started,
        ms: performance.now() - started,
        error:
          (err as Error).name === 'TimeoutError'
            ? 'timeout'
            : (cause?.code ?? (err as Error).message),
      })
      // The instance died under the request, or is restarting: try again, elsewhere.
      await sleep(50)
      return null
    }
  }

  /** The student's session cookie, logging in (again) when asked to. */
  #cookie(student: string, renew = false): Promise<string> {
    const current = this.#cookies.get(student)
    if (current && !renew) return current
    const login = (async () => {
      for (;;) {
        const res = await this.#send('POST', '/api/v1/auth/login', null, {
          studentId: student,
          password: PASSWORD,
        })
        const session = res?.cookies.find((c) => c.startsWith('sugang_session='))
        if (res?.status === 200 && session) {
          this.stats.logins += 1
          return session
        }
        await sleep(res?.retryAfterMs || 200)
      }
    })()
    this.#cookies.set(student, login)
    return login
  }

  /**
   * What a client does with an answer that asks it to come back: log in again after a 401, wait
   * as long as Retry-After says after a 429 or a 503. True when it should try again.
   */
  async #recover(student: string, res: Answer): Promise<boolean> {
    if (res.status === 401) {
      await this.#cookie(student, true)
      return true
    }
    if (res.status === 429 || res.status === 503) {
      await sleep(res.retryAfterMs || 1000)
      return true
    }
    return false
  }

  #ack(): void {
    this.#acks += 1
    this.#ackWaiters = this.#ackWaiters.filter((w) => {
      if (this.#acks < w.n) return true
      w.resolve()
      return false
    })
  }

  async #follow(wish: Wish): Promise<void> {
    const key = `${wish.student}|${wish.course}`
    const until = performance.now() + FLOW_DEADLINE_MS
    let requestId: string | null = null
    let pollMs = 100
    let acked = false
    const expired = () => performance.now() > until
    while (!expired()) {
      const cookie = await this.#cookie(wish.student)
      if (requestId === null) {
        const res = await this.#send(
          'POST',
          `/api/v1/courses/${wish.course}/enrollment-requests`,
          cookie,
          wish.waitlist ? { waitlist: true } : {},
        )
        if (!res) continue
        if (res.status === 202 || res.status === 200) {
          requestId = String(res.body.requestId)
          if (!acked) {
            acked = true
            this.#ack()
          }
          continue
        }
        const code = res.body.error?.code
        if (res.status === 409 && code === 'ALREADY_ENROLLED') {
          this.beliefs.set(key, { kind: 'enrolled', requestId: null })
          break
        }
        if (res.status === 409 && code === 'COURSE_FULL') {
          this.beliefs.set(key, { kind: 'rejected', reason: 'COURSE_FULL', requestId: null })
          return
        }
        if (await this.#recover(wish.student, res)) continue
        this.beliefs.set(key, { kind: 'unknown', why: `enqueue answered ${res.status} ${code}` })
        return
      }
      await sleep(pollMs)
      pollMs = Math.min(pollMs * 1.5, 1_000)
      const res = await this.#send('GET', `/api/v1/enrollment-requests/${requestId}`, cookie)
      if (!res) continue
      if (res.status === 200) {
        const status = String(res.body.status)
        if (status === 'queued') continue
        if (status === 'enrolled') {
          this.beliefs.set(key, { kind: 'enrolled', requestId })
          break
        }
        if (status === 'waitlisted') {
          this.beliefs.set(key, { kind: 'waitlisted', requestId })
          return
        }
        this.beliefs.set(key, { kind: 'rejected', reason: String(res.body.reason), requestId })
        return
      }
      if (res.status === 404) {
        // Lost with Redis: neither Redis nor MySQL knows it. Ask again.
        this.stats.resubmits += 1
        requestId = null
        continue
      }
      if (await this.#recover(wish.student, res)) continue
      this.beliefs.set(key, { kind: 'unknown', why: `status answered ${res.status}` })
      return
    }
    if (expired()) {
      this.beliefs.set(key, { kind: 'unknown', why: 'no final answer in time' })
      return
    }
    if (wish.cancelAfter) await this.#cancel(wish, key, until)
  }

  async #cancel(wish: Wish, key: string, until: number): Promise<void> {
    while (performance.now() < until) {
      const cookie = await this.#cookie(wish.student)
      const res = await this.#send('DELETE', `/api/v1/me/enrollments/${wish.course}`, cookie)
      if (!res) continue
      // 404 after a 503 whose cancellation committed anyway: not enrolled either way.
      if (res.status === 204 || (res.status === 404 && res.body.error?.code === 'NOT_ENROLLED')) {
        this.stats.cancels += 1
        this.beliefs.set(key, { kind: 'cancelled' })
        return
      }
      if (await this.#recover(wish.student, res)) continue
      this.beliefs.set(key, { kind: 'unknown', why: `cancel answered ${res.status}` })
      return
    }
    this.beliefs.set(key, { kind: 'unknown', why: 'cancel not answered in time' })
  }
}

/**
 * Each student wants `perStudent` distinct courses, drawn with Zipf-like popularity so that the
 * first courses are oversubscribed; some ask for the waitlist, some cancel once enrolled.
 */
export function drawWishes(
  students: number,
  courses: number,
  perStudent: number,
  seed: number,
): Wish[] {
  // Seeded: the same scenario draws the same wishes every run.
  const next = prng(seed)
  const weights = Array.from({ length: courses }, (_, i) => 1 / (i + 1))
  const total = weights.reduce((a, b) => a + b, 0)
  const wishes: Wish[] = []
  for (let s = 1; s <= students; s += 1) {
    const chosen = new Set<number>()
    while (chosen.size < Math.min(perStudent, courses)) {
      let r = next() * total
      let c = 0
      while (r > (weights[c] as number) && c < courses - 1) {
        r -= weights[c] as number
        c += 1
      }
      chosen.add(c + 1)
    }
    for (const c of chosen) {
      wishes.push({
        student: `S${String(s).padStart(6, '0')}`,
        course: `C${String(c).padStart(4, '0')}`,
        waitlist: next() < 0.25,
        cancelAfter: next() < 0.08,
      })
    }
  }
  return wishes
}
