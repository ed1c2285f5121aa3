// Sends a scenario's requests as students would and follows each one to its decision, as the
// student page does (service/src/web/watcher.js): by its event stream (streams.ts), or by polling
// with the page's back-off (1 s, ×1.5, at most 10 s) until it is enrolled, rejected or
// waitlisted; 429 and 503 are retried after Retry-After, as the page does.
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { FIRST_POLL_MS, nextPollMs, retryAfterMs } from '@sugang/service/client-policy'
import type { Answer, Client } from './client.js'
import { StreamFollower } from './streams.js'
import type { Target, TargetKind } from './targets.js'
import { courseId, type Wish } from './workload.js'

export type FinalStatus = 'enrolled' | 'rejected' | 'waitlisted'

/** One request as its student saw it. Times are ms on the run's clock (performance.now()). */
export interface Tracked {
  readonly wish: Wish
  /** When it was first sent, and when the send that was answered went out. */
  firstSentAt: number
  sentAt: number
  /** When the first 2xx or final answer came back, and its HTTP status. */
  ackAt: number
  ackStatus: number
  requestId: string | null
  status: FinalStatus | 'queued' | null
  reason: string | null
  position: number | null
  decidedAt: number | null
  /** Answers the client could not use (a 5xx without Retry-After, a network error). */
  errors: number
  retries: number
  /** The student gave the seat back later in the scenario. */
  cancelled: boolean
}

export const ROUTES = {
  enqueue: 'POST /courses/:id/enrollment-requests',
  status: 'GET /enrollment-requests/:id',
  cancel: 'DELETE /me/enrollments/:id',
} as const

export { FIRST_POLL_MS, MAX_POLL_MS } from '@sugang/service/client-policy'
const MAX_ATTEMPTS = 20

/**
 * How students follow a queued request: `stream`, one event stream per student as the page does;
 * `poll`, GET /enrollment-requests/:id with back-off (the page without its stream); `none`, the
 * answer is all (the door alone; decisions are timed on the server).
 */
export type FollowMode = 'stream' | 'poll' | 'none'
export const FOLLOW_MODES: readonly FollowMode[] = ['stream', 'poll', 'none']

/**
 * How students follow a target's requests: only sugang has event streams (the naive baseline
 * decides in its answer, so it is polled if ever); the 10-per-second design and the bare route
 * are never followed.
 */
export function followModeOf(kind: TargetKind, requested: FollowMode): FollowMode {
  if (kind === 'sugang') return requested
  if (kind === 'naive') return requested === 'stream' ? 'poll' : requested
  return 'none'
}

export interface DriveOptions {
  /** Requests in flight at most (the load generator's connections). */
  readonly inFlight: number
  /** Stop following requests after this many ms from the start (they count as stuck). */
  readonly deadlineMs: number
  /** How queued requests are followed until decided ('none': the answer is all). */
  readonly follow: FollowMode
  /** Called when the last request has been answered (followers may still be polling). */
  readonly onAnswered?: () => void
}

/** What a 429 or 503 asks the client to wait (ms), or null for any other answer. */
export function retryDelay(answer: Answer): number | null {
  return retryAfterMs(answer.status, answer.retryAfter)
}

/** A wish not answered yet; `at` is when it was (or would have been) first sent. */
export function trackedWish(wish: Wish, at = 0): Tracked {
  return {
    wish,
    firstSentAt: at,
    sentAt: at,
    ackAt: 0,
    ackStatus: 0,
    requestId: null,
    status: null,
    reason: null,
    position: null,
    decidedAt: null,
    errors: 0,
    retries: 0,
    cancelled: false,
  }
}

/** Sends every wish (at most inFlight at once) and follows each; resolves when all are done. */
export async function drive(
  client: Client,
  target: Target,
  wishes: readonly Wish[],
  options: DriveOptions,
  t0 = performance.now(),
): Promise<Tracked[]> {
  const tracked: Tracked[] = wishes.map((wish) => trackedWish(wish))
  const deadline = t0 + options.deadlineMs
  const mode = followModeOf(target.kind, options.follow)
  const followers: Promise<void>[] = []
  const streams =
    mode === 'stream' ? new StreamFollower(client, target, deadline, options.inFlight) : null
  let next = 0
  const sendOne = async (r: Tracked): Promise<void> => {
    const path = `/api/v1/courses/${courseId(r.wish.course)}/enrollment-requests`
    const cookie = target.cookie(r.wish.student)
    const body = r.wish.waitlist ? { waitlist: true } : {}
    r.firstSentAt = performance.now()
    for (let attempt = 0; attempt < MAX_ATTEMPTS && performance.now() < deadline; attempt += 1) {
      r.sentAt = performance.now()
      let answer: Answer
      try {
        answer = await client.send(ROUTES.enqueue, 'POST', path, cookie, body)
      } catch {
        r.errors += 1
        return
      }
      const wait = retryDelay(answer)
      if (wait !== null) {
        r.retries += 1
        await sleep(wait)
        continue
      }
      r.ackAt = performance.now()
      r.ackStatus = answer.status
      settle(r, answer)
      if (r.status !== 'queued') return
      if (streams) streams.watch(r)
      else if (mode === 'poll') followers.push(follow(client, target, r, deadline))
      else r.decidedAt = r.ackAt
      return
    }
  }
  await Promise.all(
    Array.from({ length: Math.min(options.inFlight, tracked.length) }, async () => {
      while (next < tracked.length) {
        const r = tracked[next]!
        next += 1
        await sendOne(r)
      }
    }),
  )
  options.onAnswered?.()
  // Followers are added while sending; by now every one has been pushed.
  await Promise.all([...followers, streams?.finish()])
  return tracked
}

/** Reads what an answer says about a request (enqueue or status). */
export function settle(r: Tracked, answer: Answer): void {
  const body = answer.body ?? {}
  if (answer.status === 200 || answer.status === 201 || answer.status === 202) {
    r.requestId = typeof body.requestId === 'string' ? body.requestId : r.requestId
    const status = body.status
    r.position = typeof body.position === 'number' ? body.position : null
    if (status === 'enrolled' || status === 'rejected' || status === 'waitlisted') {
      r.status = status
      r.reason = typeof body.reason === 'string' ? body.reason : null
      r.decidedAt ??= performance.now()
    } else if (status === 'queued') {
      r.status = 'queued'
    }
    return
  }
  if (answer.status === 409 || answer.status === 404 || answer.status === 403) {
    const error = (body.error ?? {}) as { code?: string }
    r.status = 'rejected'
    r.reason = error.code ?? String(answer.status)
    r.decidedAt ??= performance.now()
    return
  }
  r.errors += 1
}

/** Polls a queued request with back-off until it is decided (or the deadline passes). */
async function follow(client: Client, target: Target, r: Tracked, deadline: number): Promise<void> {
  let delay: number = FIRST_POLL_MS
  const cookie = target.cookie(r.wish.student)
  while (r.status === 'queued' && performance.now() < deadline) {
    await sleep(delay)
    let answer: Answer
    client.stats.follow.polls += 1
    try {
      answer = await client.send(
        ROUTES.status,
        'GET',
        `/api/v1/enrollment-requests/${r.requestId}`,
        cookie,
      )
    } catch {
      r.errors += 1
      return
    }
    const wait = retryDelay(answer)
    if (wait !== null) {
      r.retries += 1
      delay = wait
      continue
    }
    settle(r, answer)
    if (answer.status !== 200) return
    delay = nextPollMs(delay)
  }
}

/** Asks once more for a request's status (the watchers of the status storm, the final check). */
export async function poll(client: Client, target: Target, r: Tracked): Promise<Answer | null> {
  if (!r.requestId) return null
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt += 1) {
    let answer: Answer
    try {
      answer = await client.send(
        ROUTES.status,
        'GET',
        `/api/v1/enrollment-requests/${r.requestId}`,
        target.cookie(r.wish.student),
      )
    } catch {
      r.errors += 1
      return null
    }
    const wait = retryDelay(answer)
    if (wait === null) return answer
    r.retries += 1
    await sleep(wait)
  }
  return null
}
