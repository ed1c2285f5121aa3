// The students' side: a pool of keep-alive connections (undici) that sends each request as a
// browser would, and polls a request with back-off when it is followed by polling (the event
// streams have connections of their own, streams.ts). Every answer is timed per route.
import { performance } from 'node:perf_hooks'
import { Pool } from 'undici'

export interface Answer {
  readonly status: number
  readonly body: Record<string, unknown> | null
  /** Seconds the server asked us to wait (429, 503). */
  readonly retryAfter: number | null
}

/** How the students followed their queued requests to a decision (counts of the phase). */
export class FollowStats {
  /** Event streams asked for (every connection, first or not). */
  streamsOpened = 0
  /** Of those, the ones that replaced a student's stream (its requests changed, or it failed). */
  streamsReopened = 0
  /** Streams refused (429, 503, not 200), broken, timed out before opening, or `unavailable`. */
  streamFailures = 0
  /** Of those, the ones answered with something else than 200 (a 503 of an overloaded instance). */
  streamsRefused = 0
  /** Streams not opened because the load generator had no descriptor (or proxy slot) to spare. */
  streamsDeferred = 0
  openStreams = 0
  peakOpenStreams = 0
  /** `request` events received. */
  events = 0
  /** GET /enrollment-requests/:id sent to follow a request (polling, or a stream's fallback). */
  polls = 0
  /** Requests whose decision arrived on a stream, and by a stream's fallback poll. */
  decidedByStream = 0
  decidedByPoll = 0
  /** When the last decision delivered by a stream arrived (run clock, ms). */
  lastStreamDecisionAt: number | null = null
}

/** Latency samples (ms) and answer counts per route. */
export class RouteStats {
  readonly latencies = new Map<string, number[]>()
  readonly statuses = new Map<string, Map<number, number>>()
  readonly follow = new FollowStats()
  errors = 0

  record(route: string, ms: number, status: number): void {
    let l = this.latencies.get(route)
    if (!l) this.latencies.set(route, (l = []))
    l.push(ms)
    let s = this.statuses.get(route)
    if (!s) this.statuses.set(route, (s = new Map()))
    s.set(status, (s.get(status) ?? 0) + 1)
  }

  count(route: string): number {
    return this.latencies.get(route)?.length ?? 0
  }
}

export class Client {
  readonly #pool: Pool
  stats = new RouteStats()

  constructor(base: string, connections: number) {
    this.#pool = new Pool(base, {
      connections,
      pipelining: 1,
      keepAliveTimeout: 60_000,
      headersTimeout: 30_000,
      bodyTimeout: 30_000,
    })
  }

  async send(
    route: string,
    method: 'GET' | 'POST' | 'DELETE',
    path: string,
    cookie: string,
    body?: unknown,
  ): Promise<Answer> {
    const started = performance.now()
    const headers: Record<string, string> = { cookie }
    let payload: string | undefined
    if (body !== undefined) {
      payload = JSON.stringify(body)
      headers['content-type'] = 'application/json'
    }
    try {
      const res = await this.#pool.request({ path, method, headers, body: payload })
      const text = await res.body.text()
      this.stats.record(route, performance.now() - started, res.statusCode)
      const retry = res.headers['retry-after']
      // The proxy's own answers (HAProxy's 503 page while no instance passes its health check)
      // are HTML: their status counts, their body is nobody's JSON.
      const json = String(res.headers['content-type'] ?? '').includes('json')
      return {
        status: res.statusCode,
        body: text && json ? (JSON.parse(text) as Record<string, unknown>) : null,
        retryAfter: typeof retry === 'string' ? Number(retry) : null,
      }
    } catch (err) {
      this.stats.errors += 1
      throw err
    }
  }

  /** A POST whose session cookie we keep (the login). */
  async sendRaw(path: string, body: unknown): Promise<{ status: number; cookie: string | null }> {
    const res = await this.#pool.request({
      path,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })
    await res.body.dump()
    const set = res.headers['set-cookie']
    const cookies = (Array.isArray(set) ? set : set ? [set] : []).map((c) => c.split(';')[0]!)
    return { status: res.statusCode, cookie: cookies.join('; ') || null }
  }

  close(): Promise<void> {
    return this.#pool.close()
  }
}

/** Runs `work(i)` for i in [0, n) with at most `limit` in flight. */
export async function inParallel(
  n: number,
  limit: number,
  work: (i: number) => Promise<void>,
): Promise<void> {
  let next = 0
  await Promise.all(
    Array.from({ length: Math.min(limit, n) }, async () => {
      while (next < n) {
        const i = next
        next += 1
        await work(i)
      }
    }),
  )
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
}
