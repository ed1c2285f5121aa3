/**
 * The demo's crowd: simulated students who log in before the opening and ask for one course at
 * the opening, through the HTTP API as their pages would (the same retries and the same polling,
 * client-policy.ts), so that a visitor who asks for a seat too has a queue to wait in.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { FIRST_POLL_MS, nextPollMs, retryAfterMs } from '../client-policy.js'

export interface CrowdOptions {
  /** The service, e.g. http://127.0.0.1:3000 (no trailing slash). */
  readonly base: string
  readonly students: readonly string[]
  readonly password: string
  readonly courseId: string
  /** When the crowd asks (registration's opening); null or past: at once. */
  readonly opensAt: Date | null
  /**
   * Over how long after the opening the requests arrive (ms): the first at the opening, most
   * soon after it, the last this much later, as people's clicks do.
   */
  readonly spreadMs: number
  /** Logins at once: below the service's password checks at once (LOGIN_CHECKS_AT_ONCE). */
  readonly loginsAtOnce?: number
  readonly signal?: AbortSignal
  /** Where the crowd says what it does: a line per phase. */
  readonly report: (line: string) => void
}

/** How the crowd's requests ended, by outcome (`rejected:COURSE_FULL`, `enrolled`, ...). */
export type CrowdResult = ReadonlyMap<string, number>

interface Answer {
  readonly status: number
  readonly body: Record<string, unknown>
  readonly response: Response
}

/** The most attempts one call makes through 429s and 503s before it counts as failed. */
const MAX_ATTEMPTS = 20

export async function runCrowd(options: CrowdOptions): Promise<CrowdResult> {
  try {
    return await logInAndAsk(options)
  } catch (err) {
    // A stop ends a wait with Node's AbortError: the crowd rejects with the stop's own reason,
    // whichever wait or request noticed it.
    options.signal?.throwIfAborted()
    throw err
  }
}

async function logInAndAsk(options: CrowdOptions): Promise<CrowdResult> {
  const { students, signal, report } = options
  const cookies = new Map<string, string>()
  await inParallel(students, options.loginsAtOnce ?? 2, async (studentId) => {
    const cookie = await logIn(options, studentId)
    if (cookie) cookies.set(studentId, cookie)
  })
  signal?.throwIfAborted()
  const opensAt = options.opensAt?.getTime() ?? 0
  report(
    `crowd: ${cookies.size} of ${students.length} students logged in; ` +
      (opensAt > Date.now()
        ? `at the opening (${new Date(opensAt).toISOString()}) they ask for ${options.courseId}`
        : `they ask for ${options.courseId} now`),
  )
  // An opening already past: at once (Node warns about a negative delay).
  await sleep(Math.max(0, opensAt - Date.now()), undefined, { signal })

  const outcomes = new Map<string, number>()
  const count = (outcome: string) => outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1)
  const crowd = [...cookies]
  const queued: Array<{ cookie: string; requestId: string }> = []
  await Promise.all(
    crowd.map(async ([, cookie], i) => {
      // Front-loaded: half of the crowd arrives in the first quarter of the spread.
      await sleep(options.spreadMs * (i / Math.max(1, crowd.length)) ** 2, undefined, { signal })
      const answer = await ask(options, cookie)
      if (answer === null) count('failed')
      else if ('requestId' in answer) queued.push({ cookie, requestId: answer.requestId })
      else count(answer.outcome)
    }),
  )
  signal?.throwIfAborted()
  report(
    `crowd: ${crowd.length} requests sent for ${options.courseId}, ${queued.length} of them queued`,
  )

  await Promise.all(
    queued.map(async ({ cookie, requestId }) => count(await follow(options, cookie, requestId))),
  )
  signal?.throwIfAborted()
  report(`crowd: ${summary(outcomes)}`)
  return outcomes
}

/** `3 enrolled, 57 rejected (COURSE_FULL)` */
function summary(outcomes: ReadonlyMap<string, number>): string {
  const parts = [...outcomes].map(([outcome, n]) => {
    const [status, reason] = outcome.split(':')
    return reason ? `${n} ${status} (${reason})` : `${n} ${status}`
  })
  return parts.join(', ') || 'nobody asked'
}

async function logIn(options: CrowdOptions, studentId: string): Promise<string | null> {
  const answer = await call(options, 'POST', '/api/v1/auth/login', '', {
    studentId,
    password: options.password,
  })
  if (answer?.response.status !== 200) return null
  const cookie = answer.response.headers.getSetCookie().find((c) => c.startsWith('sugang_session='))
  return cookie ? (cookie.split(';')[0] as string) : null
}

/** Asks for the seat: queued (its request id), an outcome already, or null when it failed. */
async function ask(
  options: CrowdOptions,
  cookie: string,
): Promise<{ requestId: string } | { outcome: string } | null> {
  const path = `/api/v1/courses/${encodeURIComponent(options.courseId)}/enrollment-requests`
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt += 1) {
    const answer = await call(options, 'POST', path, cookie, {})
    if (answer === null) return null
    const { status, body } = answer
    const error = (body.error ?? {}) as { code?: string }
    // A click a moment early, by a clock a little ahead: again at once, as a student would.
    if (status === 403 && error.code === 'REGISTRATION_CLOSED') {
      await sleep(100, undefined, { signal: options.signal })
      continue
    }
    if (status === 202 && body.status === 'queued' && typeof body.requestId === 'string') {
      return { requestId: body.requestId }
    }
    return { outcome: outcomeOf(status, body) }
  }
  return null
}

/** Polls a queued request with the page's back-off until it is decided. */
async function follow(options: CrowdOptions, cookie: string, requestId: string): Promise<string> {
  let delay: number = FIRST_POLL_MS
  for (;;) {
    await sleep(delay, undefined, { signal: options.signal })
    const answer = await call(options, 'GET', `/api/v1/enrollment-requests/${requestId}`, cookie)
    if (answer === null) return 'failed'
    if (answer.status !== 200 || answer.body.status !== 'queued') {
      return outcomeOf(answer.status, answer.body)
    }
    delay = nextPollMs(delay)
  }
}

/** `enrolled`, `waitlisted`, `rejected:COURSE_FULL`, or the error code of a refusal. */
function outcomeOf(status: number, body: Record<string, unknown>): string {
  if (status === 200 || status === 202) {
    return body.reason ? `${String(body.status)}:${String(body.reason)}` : String(body.status)
  }
  const error = (body.error ?? {}) as { code?: string }
  return `rejected:${error.code ?? status}`
}

/**
 * One call, waited out through 429 and 503 as their Retry-After asks; null when it kept failing
 * or the network did. The answer with its response (the login needs the cookie).
 */
async function call(
  options: CrowdOptions,
  method: 'GET' | 'POST',
  path: string,
  cookie: string,
  body?: unknown,
): Promise<Answer | null> {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt += 1) {
    let response: Response
    try {
      response = await fetch(`${options.base}${path}`, {
        method,
        headers: {
          ...(cookie ? { cookie } : {}),
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: options.signal,
      })
    } catch {
      options.signal?.throwIfAborted()
      return null
    }
    const text = await response.text()
    const retryAfter = response.headers.get('retry-after')
    const wait = retryAfterMs(response.status, retryAfter === null ? null : Number(retryAfter))
    if (wait !== null) {
      await sleep(wait, undefined, { signal: options.signal })
      continue
    }
    let parsed: Record<string, unknown>
    try {
      parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {}
    } catch {
      return null
    }
    return { status: response.status, body: parsed, response }
  }
  return null
}

async function inParallel<T>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const item = items[next] as T
        next += 1
        await work(item)
      }
    }),
  )
}
