// The login storm: every student logs in during the window before registration opens, against a
// service at the production scrypt cost, and the opening's requests go out when the window ends
// while the storm's tail is still arriving. The seeded hashes are cheap (the seed's own cost), so
// every login here is a first login at its heaviest: the check at the seed's cost, a decoy at the
// configured cost (no login answers faster than the floor), then a rehash at that cost after the
// answer. That is what a cost raise, or the first semester on new hashes, costs the fleet.
import { cpus } from 'node:os'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import mysql from 'mysql2/promise'
import { Pool } from 'undici'
import { defaultCost } from '@sugang/service/passwords'
import { inParallel, percentile } from './client.js'
import { drive, poll, settle, trackedWish, type Tracked } from './driver.js'
import { ProcessMeter, round, type ProcessCost } from './probes.js'
import type { TargetResult } from './report.js'
import type { PhaseRun, RunContext } from './scenarios.js'
import { PASSWORD, SUGANG_DB, serverDecided, type SugangOptions, type Target } from './targets.js'
import { prng, shuffle, studentId, type Wish } from './workload.js'

/** The service as production configures it (config.ts' default cost), students not logged in. */
export const PRODUCTION_LOGINS: SugangOptions = {
  env: { PASSWORD_SCRYPT_N: String(defaultCost.N) },
  loginFirst: false,
}

/** How the service's hashes are spelled in MySQL (scrypt$N$r$p$salt$key, r and p the defaults). */
const SERVICE_COST = `scrypt$${defaultCost.N}$${defaultCost.r}$${defaultCost.p}`

/**
 * The student page gives up on an answer after this long (service/src/web/api.js), and its
 * student clicks again. The service lets a login wait for its check only as long as
 * LOGIN_CHECK_MAX_WAIT_MS (5 s) and answers 503 LOGIN_BUSY beyond, so a page that gives up is
 * the sign of a regression.
 */
export const PAGE_TIMEOUT_MS = 15_000
/** A student whose page timed out or lost the connection clicks again after about this long. */
const CLICK_AGAIN_MS = 1_000

/**
 * When each student arrives, ms into the window: the density rises with the square of the time
 * (the cumulative share is (t/W)³), so the last third of the window brings 70 % of the students
 * and the peak rate is 3× the average: most students log in during the last minutes, and it is
 * the peak, not the average, that the service must take. Deterministic quantiles, so that every
 * run offers the same curve; which student arrives when is shuffled (seeded).
 */
export function arrivals(students: number, windowMs: number, seed = 4242): number[] {
  const order = shuffle(
    Array.from({ length: students }, (_, i) => i + 1),
    prng(seed),
  )
  const at = new Array<number>(students + 1).fill(0)
  order.forEach((student, i) => {
    at[student] = windowMs * Math.cbrt((i + 0.5) / students)
  })
  return at
}

export interface Percentiles {
  readonly p50: number
  readonly p90: number
  readonly p99: number
  readonly max: number
}

function percentiles(samples: readonly number[], digits = 1): Percentiles {
  const sorted = Array.from(Float64Array.from(samples).sort())
  return {
    p50: round(percentile(sorted, 50), digits),
    p90: round(percentile(sorted, 90), digits),
    p99: round(percentile(sorted, 99), digits),
    max: round(sorted[sorted.length - 1] ?? NaN, digits),
  }
}

/** The enrollment requests of the first second after the opening, as their students saw them. */
export interface FirstSecond {
  /** Requests first sent in that second. */
  readonly sent: number
  /** Requests answered (202, or a final answer) in that second. */
  readonly answered: number
  /** Of those answered: ms from the first send to that answer (retries included). */
  readonly latencyMs: Percentiles
  /** Requests first sent in that second that were told to come back (429, 503) at least once. */
  readonly toldToRetry: number
}

export function firstSecond(tracked: readonly Tracked[], t0: number): FirstSecond {
  const end = t0 + 1000
  const sent = tracked.filter((r) => r.firstSentAt >= t0 && r.firstSentAt < end)
  const answered = tracked.filter((r) => r.ackStatus !== 0 && r.ackAt >= t0 && r.ackAt < end)
  return {
    sent: sent.length,
    answered: answered.length,
    latencyMs: percentiles(answered.map((r) => r.ackAt - r.firstSentAt)),
    toldToRetry: sent.filter((r) => r.retries > 0).length,
  }
}

export interface LoginStormResult {
  readonly students: number
  readonly windowSeconds: number
  /** When a page gave up on a login and its student clicked again (null: never). */
  readonly pageTimeoutSeconds: number | null
  /** The scrypt cost the service ran with. */
  readonly serviceCostN: number
  readonly loggedIn: number
  readonly loggedInBeforeOpening: number
  /** When the last student got in, seconds after the opening (negative: before it). */
  readonly lastLoginSeconds: number | null
  /** Login attempts by answer: HTTP status, `timeout` (the page gave up) or `error`. */
  readonly statuses: Record<string, number>
  /** Logins answered in the window ÷ its length; all logins ÷ the window's start to the last. */
  readonly loginsPerSecond: { readonly window: number; readonly overall: number | null }
  /** Logins answered in the window ÷ the service's CPU seconds in it: one core's capacity. */
  readonly loginsPerCoreSecond: number | null
  /** The service's CPU in cores (1.0 = one core busy throughout), and as a share of the machine. */
  readonly serviceCores: { readonly window: number; readonly storm: number }
  readonly serviceBusyShare: { readonly window: number; readonly storm: number }
  /** One attempt, sent to answered, for the attempts answered 200 (ms). */
  readonly latencyMs: Percentiles
  /** A student's arrival to their cookie, retries included (s). */
  readonly timeToLogInSeconds: Percentiles
  /** Students whose opening requests were all answered, none refused for want of a session. */
  readonly sessionsAccepted: number
  /** Stored password hashes by cost (`scrypt$N$r$p`), before the storm and after the run. */
  readonly storedCosts: {
    readonly before: Record<string, number>
    readonly after: Record<string, number>
  }
  /** The service processes over the window. */
  readonly windowProcesses: readonly ProcessCost[]
}

async function storedCosts(db: mysql.Connection): Promise<Record<string, number>> {
  const [rows] = await db.query<mysql.RowDataPacket[]>(
    `SELECT SUBSTRING_INDEX(password_hash, '$', 4) AS cost, COUNT(*) AS n
       FROM students GROUP BY cost ORDER BY cost`,
  )
  return Object.fromEntries(rows.map((r) => [String(r.cost), Number(r.n)]))
}

type Attempt =
  | {
      readonly kind: 'answer'
      readonly status: number
      readonly cookie: string | null
      readonly retryAfter: number | null
    }
  | { readonly kind: 'timeout' | 'error' }

/** One login as the page sends it: its own connection, given up on after `timeoutMs`. */
async function attemptLogin(pool: Pool, student: number, timeoutMs: number): Promise<Attempt> {
  const signal = AbortSignal.timeout(Math.max(1, Math.ceil(timeoutMs)))
  try {
    const res = await pool.request({
      path: '/api/v1/auth/login',
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ studentId: studentId(student), password: PASSWORD }),
      signal,
    })
    await res.body.dump()
    const set = res.headers['set-cookie']
    const cookies = (Array.isArray(set) ? set : set ? [set] : []).map((c) => c.split(';')[0]!)
    const retry = res.headers['retry-after']
    return {
      kind: 'answer',
      status: res.statusCode,
      cookie: cookies.join('; ') || null,
      retryAfter: typeof retry === 'string' ? Number(retry) : null,
    }
  } catch {
    return { kind: signal.aborted ? 'timeout' : 'error' }
  }
}

/** A request never sent: its student never got in (it counts as stuck). */
function unsent(wish: Wish, at: number): Tracked {
  return trackedWish(wish, at)
}

const sum = (costs: readonly ProcessCost[], key: 'cpuSeconds' | 'cores'): number =>
  costs.reduce((total, p) => total + p[key], 0)

/** The storm, then the opening of `wishes` at the window's end (the opening scenario's wishes). */
export async function loginStorm(ctx: RunContext, wishes: readonly Wish[]): Promise<PhaseRun> {
  const { size } = ctx
  const students = size.students
  const windowMs = size.loginWindowMs
  const cookies = new Array<string | undefined>(students + 1)
  // The opening's requests carry the cookies the storm got, not any from before.
  const target: Target = { ...ctx.target, cookie: (n) => cookies[n] ?? '' }
  const byStudent = new Map<number, Wish[]>()
  for (const w of wishes) byStudent.set(w.student, [...(byStudent.get(w.student) ?? []), w])
  const arrivalAt = arrivals(students, windowMs)
  // Each browser has its own connection: no login waits for another's in the load generator
  // (up to 4,096 at once, which no run here comes near).
  const logins = new Pool(ctx.target.base, {
    connections: Math.min(students, 4096),
    pipelining: 1,
    keepAliveTimeout: 60_000,
  })
  const service = ctx.target.processes.filter((p) => p.name !== 'haproxy')
  // A run that fails part-way must not leave students knocking until the deadline.
  let stopped = false
  const meters: ProcessMeter[] = []
  const db = await mysql.createConnection({ uri: SUGANG_DB })
  try {
    const costsBefore = await storedCosts(db)
    await ctx.measure()
    const start = performance.now()
    const opensAt = start + windowMs
    const deadline = opensAt + ctx.deadlineMs
    const windowMeter = new ProcessMeter(service)
    const stormMeter = new ProcessMeter(service)
    meters.push(windowMeter, stormMeter)
    windowMeter.start()
    stormMeter.start()

    const statuses: Record<string, number> = {}
    const count = (key: string): void => {
      statuses[key] = (statuses[key] ?? 0) + 1
    }
    const latencies: number[] = []
    const loggedInAt = new Array<number>(students + 1).fill(NaN)
    let opened = false
    let t0 = opensAt
    const late: Array<Promise<Tracked[]>> = []
    const lateAnswered: Array<Promise<void>> = []
    const sendLate = (student: number): void => {
      // A student who gets in after the opening clicks through their courses at once.
      let answered: () => void = () => {}
      lateAnswered.push(new Promise<void>((resolve) => (answered = resolve)))
      late.push(
        drive(
          ctx.client,
          target,
          byStudent.get(student) ?? [],
          { inFlight: 1, deadlineMs: ctx.deadlineMs, follow: ctx.follow, onAnswered: answered },
          t0,
        ),
      )
    }
    const logIn = async (student: number): Promise<void> => {
      await sleep(start + arrivalAt[student]! - performance.now())
      while (!stopped && performance.now() < deadline) {
        const sentAt = performance.now()
        const left = deadline - sentAt
        const answer = await attemptLogin(
          logins,
          student,
          size.loginTimeoutMs > 0 ? Math.min(size.loginTimeoutMs, left) : left,
        )
        if (answer.kind !== 'answer') {
          count(answer.kind)
          await sleep(CLICK_AGAIN_MS)
          continue
        }
        count(String(answer.status))
        if (answer.status === 200 && answer.cookie) {
          const now = performance.now()
          latencies.push(now - sentAt)
          cookies[student] = answer.cookie
          loggedInAt[student] = now
          if (opened) sendLate(student)
          return
        }
        // 429 and 503 say when to come back, as the page tells its student; anything else is
        // a failure of the run (every password here is right).
        if (answer.status !== 429 && answer.status !== 503) return
        await sleep(Math.max(0.1, answer.retryAfter ?? 1) * 1000)
      }
    }
    const storm = Promise.all(Array.from({ length: students }, (_, i) => logIn(i + 1)))
    const stormDone = storm.then(() => stormMeter.stop())

    await sleep(opensAt - performance.now())
    const windowProcesses = windowMeter.stop()
    const windowEnded = performance.now()
    opened = true
    t0 = performance.now()
    let onTimeAnswered: () => void = () => {}
    const answeredOnTime = new Promise<void>((resolve) => (onTimeAnswered = resolve))
    const onTime = drive(
      ctx.client,
      target,
      wishes.filter((w) => cookies[w.student] !== undefined),
      {
        inFlight: ctx.inFlight,
        deadlineMs: ctx.deadlineMs,
        follow: ctx.follow,
        onAnswered: onTimeAnswered,
      },
      t0,
    )
    const stormProcesses = await stormDone
    // Every late student's requests have been started by now (as their login succeeded).
    const decided = Promise.all([answeredOnTime, ...lateAnswered]).then(() =>
      serverDecided(target, t0 + ctx.deadlineMs, 25),
    )
    const sent = [...(await onTime), ...(await Promise.all(late)).flat()]
    const serverDecidedAt = await decided
    await ctx.measured()
    const never = wishes.filter((w) => cookies[w.student] === undefined).map((w) => unsent(w, t0))
    const tracked = [...sent, ...never]
    const answeredAt = tracked.reduce((latest, r) => Math.max(latest, r.ackAt), t0)
    // What nobody followed (the door alone, whose queued answers drive() marks decided when
    // answered): each student now asks once for the result, to be checked against MySQL. A
    // followed request still queued stays so: it is stuck.
    const queued = tracked.filter((r) => r.status === 'queued' && r.decidedAt !== null)
    await inParallel(queued.length, ctx.inFlight, async (i) => {
      const r = queued[i]!
      const answer = await poll(ctx.client, target, r)
      if (answer) settle(r, answer)
    })

    const inTimes = loggedInAt.filter((at) => Number.isFinite(at))
    // A rehash runs after its login's answer, behind the logins still waiting for the same
    // threads: the last ones may land after the opening is decided. The service is stopped after
    // this phase (and drops what it has not stored), so they are waited for, up to the deadline.
    let costsAfter = await storedCosts(db)
    while ((costsAfter[SERVICE_COST] ?? 0) < inTimes.length && performance.now() < deadline) {
      await sleep(100)
      costsAfter = await storedCosts(db)
    }
    const inWindow = inTimes.filter((at) => at < windowEnded).length
    const lastIn = inTimes.reduce((latest, at) => Math.max(latest, at), -Infinity)
    const windowCpu = sum(windowProcesses, 'cpuSeconds')
    const machineCores = cpus().length
    const refused = new Set(
      sent.filter((r) => r.ackStatus === 401 || r.ackStatus === 0).map((r) => r.wish.student),
    )
    const loginStorm: LoginStormResult = {
      students,
      windowSeconds: round(windowMs / 1000, 1),
      pageTimeoutSeconds: size.loginTimeoutMs > 0 ? round(size.loginTimeoutMs / 1000, 1) : null,
      serviceCostN: defaultCost.N,
      loggedIn: inTimes.length,
      loggedInBeforeOpening: inWindow,
      lastLoginSeconds: inTimes.length > 0 ? round((lastIn - t0) / 1000, 2) : null,
      statuses,
      loginsPerSecond: {
        window: round(inWindow / ((windowEnded - start) / 1000), 1),
        overall: inTimes.length > 0 ? round(inTimes.length / ((lastIn - start) / 1000), 1) : null,
      },
      loginsPerCoreSecond: windowCpu > 0 ? round(inWindow / windowCpu, 1) : null,
      serviceCores: {
        window: round(sum(windowProcesses, 'cores'), 2),
        storm: round(sum(stormProcesses, 'cores'), 2),
      },
      serviceBusyShare: {
        window: round(sum(windowProcesses, 'cores') / machineCores, 2),
        storm: round(sum(stormProcesses, 'cores') / machineCores, 2),
      },
      latencyMs: percentiles(latencies),
      timeToLogInSeconds: percentiles(
        loggedInAt.flatMap((at, n) =>
          Number.isFinite(at) ? [(at - start - arrivalAt[n]!) / 1000] : [],
        ),
        2,
      ),
      sessionsAccepted: [...byStudent.keys()].filter(
        (n) => cookies[n] !== undefined && !refused.has(n),
      ).length,
      storedCosts: { before: costsBefore, after: costsAfter },
      windowProcesses,
    }
    return {
      tracked,
      t0,
      answeredAt,
      serverDecidedAt,
      statusChecks: 0,
      cancels: 0,
      promoted: 0,
      firstSecond: firstSecond(tracked, t0),
      loginStorm,
    }
  } finally {
    stopped = true
    for (const meter of meters) meter.stop()
    await db.end()
    await logins.destroy()
  }
}

const n = (x: number | null | undefined, digits = 0): string =>
  x === null || x === undefined || Number.isNaN(x)
    ? '–'
    : x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })

/** The report's sections on the opening's first second and on the storm (none if neither ran). */
export function stormSections(results: readonly TargetResult[]): string[] {
  const lines: string[] = []
  const opened = results.filter((r) => r.firstSecond)
  if (opened.length > 0) {
    lines.push(
      "The opening's first second (enrollment requests; latency from the first send to the answer):",
      '',
      '| target | sent | answered | p50 / p90 / p99 / max ms | told to retry |',
      '| --- | --: | --: | --: | --: |',
    )
    for (const r of opened) {
      const f = r.firstSecond!
      const l = f.latencyMs
      lines.push(
        `| ${r.target} | ${n(f.sent)} | ${n(f.answered)} | ${n(l.p50, 1)} / ${n(l.p90, 1)} / ${n(l.p99, 1)} / ${n(l.max, 1)} | ${n(f.toldToRetry)} |`,
      )
    }
    lines.push('')
  }
  const stormed = results.filter((r) => r.loginStorm)
  if (stormed.length > 0) {
    const s0 = stormed[0]!.loginStorm!
    lines.push(
      `The login storm: ${n(s0.students)} students over the ${n(s0.windowSeconds, 0)} s before the opening ` +
        `(the last third of the window brings 70 %), the service at scrypt N=${n(s0.serviceCostN)}, ` +
        'the seeded hashes cheaper: every login checks, pays the decoy at the service’s cost, and rehashes. ' +
        (s0.pageTimeoutSeconds === null
          ? 'Pages wait for their answer as long as it takes.'
          : `A page gives up after ${n(s0.pageTimeoutSeconds, 0)} s and its student clicks again (answers: "timeout"); the service lets a login wait for its check at most LOGIN_CHECK_MAX_WAIT_MS (5 s) and answers 503 LOGIN_BUSY beyond, retried after Retry-After.`),
      '',
      '| target | logged in (before the opening) | last in | logins/s (window / overall) | logins per CPU-second | service cores busy (window / storm) | login p50 / p90 / p99 / max ms | arrival to cookie p50 / p99 s | answers |',
      '| --- | --: | --: | --: | --: | --: | --: | --: | --- |',
    )
    for (const r of stormed) {
      const s = r.loginStorm!
      const l = s.latencyMs
      const last =
        s.lastLoginSeconds === null
          ? '–'
          : s.lastLoginSeconds <= 0
            ? 'before the opening'
            : `${n(s.lastLoginSeconds, 1)} s after`
      const answers = Object.entries(s.statuses)
        .map(([k, v]) => `${k}: ${n(v)}`)
        .join(', ')
      lines.push(
        `| ${r.target} | ${n(s.loggedIn)} (${n(s.loggedInBeforeOpening)}) | ${last} | ${n(s.loginsPerSecond.window, 1)} / ${n(s.loginsPerSecond.overall, 1)} | ${n(s.loginsPerCoreSecond, 1)} | ${n(s.serviceCores.window, 2)} / ${n(s.serviceCores.storm, 2)} (${n(s.serviceBusyShare.window * 100)} % / ${n(s.serviceBusyShare.storm * 100)} % of the machine) | ${n(l.p50, 0)} / ${n(l.p90, 0)} / ${n(l.p99, 0)} / ${n(l.max, 0)} | ${n(s.timeToLogInSeconds.p50, 2)} / ${n(s.timeToLogInSeconds.p99, 2)} | ${answers} |`,
      )
    }
    lines.push('')
  }
  return lines
}
