// The scenarios: who wants what, in which order, and what else happens during the rush. Each has
// a full size (the benchmark) and a small one (the test suite); both run the same code.
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { type Client, inParallel } from './client.js'
import {
  drive,
  type FollowMode,
  followModeOf,
  poll,
  ROUTES,
  settle,
  type Tracked,
} from './driver.js'
import {
  firstSecond,
  loginStorm,
  PAGE_TIMEOUT_MS,
  PRODUCTION_LOGINS,
  type FirstSecond,
  type LoginStormResult,
} from './login-storm.js'
import { serverDecided, type SugangOptions, type Target } from './targets.js'
import { courseId, interleave, prng, shuffle, type Wish, zipfChooser } from './workload.js'

export type ScenarioName = 'seed' | 'opening' | 'cancel-storm' | 'status-storm' | 'login-storm'
export const SCENARIOS: readonly ScenarioName[] = [
  'seed',
  'opening',
  'cancel-storm',
  'status-storm',
  'login-storm',
]

export interface ScenarioSize {
  readonly students: number
  readonly courses: number
  readonly capacity: readonly [number, number]
  /** Courses each student asks for. */
  readonly perStudent: number
  /** Students who only arrive during the storm (cancel-storm). */
  readonly joiners: number
  /** How long every waiting student watches (status-storm), ms. */
  readonly watchMs: number
  /** Cancellations per second while they watch (status-storm). */
  readonly cancelsPerSecond: number
  /** The window before the opening in which every student logs in (login-storm), ms. */
  readonly loginWindowMs: number
  /** When a student's page gives up on a login and they click again (login-storm); 0: never. */
  readonly loginTimeoutMs: number
}

export interface Scenario {
  readonly name: ScenarioName
  readonly summary: string
  readonly full: ScenarioSize
  readonly small: ScenarioSize
  /** Whether the baselines (which have no waitlist) run it too. */
  readonly baselines: boolean
  /** How sugang is started for it, when not as for the others. */
  readonly sugang?: SugangOptions
  /** A scenario run first on the same size and data, without what this one adds. */
  readonly control?: ScenarioName
}

const none = { joiners: 0, watchMs: 0, cancelsPerSecond: 0, loginWindowMs: 0, loginTimeoutMs: 0 }

export const scenarios: Record<ScenarioName, Scenario> = {
  seed: {
    name: 'seed',
    summary: 'every student asks for the same course at the same moment',
    full: { students: 15_000, courses: 1, capacity: [30, 30], perStudent: 1, ...none },
    small: { students: 1_500, courses: 1, capacity: [30, 30], perStudent: 1, ...none },
    baselines: true,
  },
  opening: {
    name: 'opening',
    summary:
      'a semester opens: every student asks for 6 courses, Zipf-popular, so popular courses are over-subscribed',
    full: { students: 20_000, courses: 600, capacity: [30, 200], perStudent: 6, ...none },
    small: { students: 1_000, courses: 40, capacity: [5, 30], perStudent: 6, ...none },
    baselines: true,
  },
  'cancel-storm': {
    name: 'cancel-storm',
    summary:
      'after the opening, a third of the enrolled students each give a seat back while newcomers join the waitlists',
    full: {
      students: 10_000,
      courses: 100,
      capacity: [30, 200],
      perStudent: 3,
      joiners: 5_000,
      watchMs: 0,
      cancelsPerSecond: 0,
      loginWindowMs: 0,
      loginTimeoutMs: 0,
    },
    small: {
      students: 600,
      courses: 12,
      capacity: [5, 20],
      perStudent: 3,
      joiners: 300,
      watchMs: 0,
      cancelsPerSecond: 0,
      loginWindowMs: 0,
      loginTimeoutMs: 0,
    },
    baselines: false,
  },
  'status-storm': {
    name: 'status-storm',
    summary:
      'every waiting student checks their place once a second while cancellations move the waitlists',
    full: {
      students: 20_000,
      courses: 20,
      capacity: [30, 200],
      perStudent: 1,
      joiners: 0,
      watchMs: 20_000,
      cancelsPerSecond: 20,
      loginWindowMs: 0,
      loginTimeoutMs: 0,
    },
    small: {
      students: 800,
      courses: 4,
      capacity: [10, 40],
      perStudent: 1,
      joiners: 0,
      watchMs: 3_000,
      cancelsPerSecond: 10,
      loginWindowMs: 0,
      loginTimeoutMs: 0,
    },
    baselines: false,
  },
  'login-storm': {
    name: 'login-storm',
    summary:
      'every student logs in, at the production scrypt cost, in the window before the opening; the opening follows while late logins still arrive',
    // A first login costs two derivations at the production cost, ~0.3 s of CPU on the
    // benchmark's machine: two cores log in ~5 students a second beside the rest, so the full
    // size is what they take in 90 s, its peak (8 a second) a little above that, with as many
    // students per course as the opening; not the opening's 20,000 (an hour of logins here).
    // The small size has late students too.
    full: {
      students: 240,
      courses: 8,
      capacity: [30, 200],
      perStudent: 6,
      ...none,
      loginWindowMs: 90_000,
      loginTimeoutMs: PAGE_TIMEOUT_MS,
    },
    small: {
      students: 60,
      courses: 10,
      capacity: [3, 12],
      perStudent: 6,
      ...none,
      loginWindowMs: 5_000,
      loginTimeoutMs: PAGE_TIMEOUT_MS,
    },
    baselines: false,
    sugang: PRODUCTION_LOGINS,
    control: 'opening',
  },
}

/** Everything a phase is measured over. */
export interface PhaseRun {
  readonly tracked: Tracked[]
  /** ms on the run's clock */
  readonly t0: number
  /** When the last request of the phase was answered. */
  readonly answeredAt: number
  /** When the server held nothing undecided any more (null: unknown or never). */
  readonly serverDecidedAt: number | null
  /** Status checks sent while watching (status-storm). */
  readonly statusChecks: number
  readonly cancels: number
  readonly promoted: number
  /** The opening's first second (seed, opening, login-storm). */
  readonly firstSecond?: FirstSecond
  readonly loginStorm?: LoginStormResult
}

export interface RunContext {
  readonly target: Target
  readonly client: Client
  readonly size: ScenarioSize
  readonly inFlight: number
  readonly deadlineMs: number
  /**
   * How students follow their queued requests: by the page's event stream (the default), by
   * polling (the page without its stream), or not at all ('none': decisions are timed on the
   * server only and the answers are the door's).
   */
  readonly follow: FollowMode
  /** Called once the set-up is done, right before the measured phase starts. */
  readonly measure: () => Promise<void>
  /** Called when the measured phase is over (the final checks that follow cost nothing). */
  readonly measured: () => Promise<void>
}

/** How a phase that needs every decision (a set-up, the cancel storm) follows: never 'none'. */
function following(ctx: RunContext): FollowMode {
  return ctx.follow === 'none' ? 'poll' : ctx.follow
}

/** The scenario's wishes, the same for every target of a run. */
export function wishesOf(name: ScenarioName, size: ScenarioSize, seed = 20261129): Wish[] {
  const random = prng(seed)
  const choose = zipfChooser(size.courses, 1, random)
  const choices = Array.from({ length: size.students }, () => choose(size.perStudent))
  const waitlist = name === 'cancel-storm' || name === 'status-storm'
  return interleave(choices, 1, waitlist, random)
}

/**
 * Watches the server from now on: resolves with the moment it held nothing undecided once every
 * request had been answered (null: it cannot tell, or not before `until`).
 */
function watchServer(
  target: Target,
  until: number,
): { answered: () => void; decided: Promise<number | null> } {
  // Nothing is decided before it is answered: the queues are only watched from then on, so that
  // watching costs the rush nothing.
  let answered: () => void = () => {}
  const allAnswered = new Promise<void>((resolve) => (answered = resolve))
  const decided = allAnswered.then(() => serverDecided(target, until, 25))
  return { answered, decided }
}

/** seed and opening: everyone at once, each followed to the decision. */
async function rush(ctx: RunContext, wishes: readonly Wish[]): Promise<PhaseRun> {
  await ctx.measure()
  const t0 = performance.now()
  const server = watchServer(ctx.target, t0 + ctx.deadlineMs)
  const tracked = await drive(
    ctx.client,
    ctx.target,
    wishes,
    {
      inFlight: ctx.inFlight,
      deadlineMs: ctx.deadlineMs,
      follow: followModeOf(ctx.target.kind, ctx.follow),
      onAnswered: server.answered,
    },
    t0,
  )
  const answeredAt = tracked.reduce((latest, r) => Math.max(latest, r.ackAt), 0)
  const serverDecidedAt = await server.decided
  await ctx.measured()
  if (ctx.follow === 'none' && ctx.target.kind !== 'bare') {
    // Nobody polled: each student now asks once for the result, to be checked against MySQL.
    const queued = tracked.filter((r) => r.status === 'queued')
    await inParallel(queued.length, ctx.inFlight, async (i) => {
      const r = queued[i]!
      const answer = await poll(ctx.client, ctx.target, r)
      if (answer) settle(r, answer)
    })
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
  }
}

/** A few enrolled requests whose students give the seat back: DELETE, then mark it. */
async function cancel(ctx: RunContext, r: Tracked): Promise<boolean> {
  const path = `/api/v1/me/enrollments/${courseId(r.wish.course)}`
  let unsure = false
  for (let attempt = 0; attempt < 20; attempt += 1) {
    const answer = await ctx.client.send(
      ROUTES.cancel,
      'DELETE',
      path,
      ctx.target.cookie(r.wish.student),
    )
    // 404 after a 503: the first attempt committed though its answer was lost (a commit whose
    // acknowledgement timed out), and the student is not enrolled, which is what they asked.
    if (answer.status === 204 || (answer.status === 404 && unsure)) {
      r.cancelled = true
      return true
    }
    if (answer.status !== 429 && answer.status !== 503) {
      r.errors += 1
      return false
    }
    unsure = answer.status === 503
    await sleep(Math.max(0.1, answer.retryAfter ?? 1) * 1000)
  }
  r.errors += 1
  return false
}

/** Asks again for every waitlisted request: the final word each student has. */
async function recheckWaitlisted(ctx: RunContext, tracked: readonly Tracked[]): Promise<number> {
  const waiting = tracked.filter((r) => r.status === 'waitlisted' && !r.cancelled)
  let promoted = 0
  await inParallel(waiting.length, ctx.inFlight, async (i) => {
    const r = waiting[i]!
    const answer = await poll(ctx.client, ctx.target, r)
    if (!answer) return
    settle(r, answer)
    if (r.status === 'enrolled') promoted += 1
  })
  return promoted
}

async function cancelStorm(ctx: RunContext, name: ScenarioName): Promise<PhaseRun> {
  const size = ctx.size
  // Set-up (not measured): the opening, with waitlists.
  const setup = await drive(ctx.client, ctx.target, wishesOf(name, size), {
    inFlight: ctx.inFlight,
    deadlineMs: ctx.deadlineMs,
    follow: following(ctx),
  })
  await serverDecided(ctx.target, performance.now() + ctx.deadlineMs)

  const random = prng(7)
  const enrolled = setup.filter((r) => r.status === 'enrolled')
  const byStudent = new Map<number, Tracked[]>()
  for (const r of enrolled)
    byStudent.set(r.wish.student, [...(byStudent.get(r.wish.student) ?? []), r])
  const leaving = [...byStudent.values()]
    .filter(() => random() < 1 / 3)
    .map((own) => own[Math.floor(random() * own.length)]!)
  // Newcomers ask for the popular courses, which all have waitlists by now.
  const choose = zipfChooser(size.courses, 1, prng(20261129))
  const joinChoices = Array.from({ length: size.joiners }, () => choose(2))
  const joins = interleave(joinChoices, size.students + 1, true, random)

  await ctx.measure()
  const t0 = performance.now()
  let cancels = 0
  const [joined] = await Promise.all([
    drive(
      ctx.client,
      ctx.target,
      joins,
      {
        inFlight: Math.ceil(ctx.inFlight / 2),
        deadlineMs: ctx.deadlineMs,
        follow: following(ctx),
      },
      t0,
    ),
    inParallel(leaving.length, Math.ceil(ctx.inFlight / 2), async (i) => {
      if (await cancel(ctx, leaving[i]!)) cancels += 1
    }),
  ])
  const answeredAt = performance.now()
  const serverDecidedAt = await serverDecided(ctx.target, t0 + ctx.deadlineMs)
  await ctx.measured()
  const tracked = [...setup, ...joined]
  const promoted = await recheckWaitlisted(ctx, tracked)
  return { tracked, t0, answeredAt, serverDecidedAt, statusChecks: 0, cancels, promoted }
}

async function statusStorm(ctx: RunContext, name: ScenarioName): Promise<PhaseRun> {
  const size = ctx.size
  const intake = await drive(ctx.client, ctx.target, wishesOf(name, size), {
    inFlight: ctx.inFlight,
    deadlineMs: ctx.deadlineMs,
    follow: following(ctx),
  })
  await serverDecided(ctx.target, performance.now() + ctx.deadlineMs)

  const watchers = intake.filter((r) => r.status === 'waitlisted' || r.status === 'queued')
  const enrolled = intake.filter((r) => r.status === 'enrolled')
  shuffle(enrolled, prng(11))

  await ctx.measure()
  const t0 = performance.now()
  const end = t0 + size.watchMs
  let statusChecks = 0
  let cancels = 0
  const watching = Promise.all(
    watchers.map(async (r, i) => {
      // Spread over the first second, as page loads are.
      await sleep((i / watchers.length) * 1000)
      while (performance.now() < end) {
        const started = performance.now()
        const answer = await poll(ctx.client, ctx.target, r)
        statusChecks += 1
        if (answer) settle(r, answer)
        if (r.status === 'enrolled' || r.status === 'rejected') return
        await sleep(Math.max(0, 1000 - (performance.now() - started)))
      }
    }),
  )
  const cancelling = (async () => {
    // At a steady rate, whatever each one takes: a cancellation does not wait for the last.
    const every = 1000 / Math.max(1, size.cancelsPerSecond)
    const sent: Promise<void>[] = []
    let k = 0
    while (performance.now() < end && k < enrolled.length) {
      const r = enrolled[k]!
      k += 1
      sent.push(
        cancel(ctx, r).then((ok) => {
          if (ok) cancels += 1
        }),
      )
      await sleep(every)
    }
    await Promise.all(sent)
  })()
  await Promise.all([watching, cancelling])
  const answeredAt = performance.now()
  const serverDecidedAt = await serverDecided(ctx.target, answeredAt + ctx.deadlineMs)
  await ctx.measured()
  const promoted = await recheckWaitlisted(ctx, intake)
  return { tracked: intake, t0, answeredAt, serverDecidedAt, statusChecks, cancels, promoted }
}

export function runScenario(name: ScenarioName, ctx: RunContext): Promise<PhaseRun> {
  switch (name) {
    case 'seed':
    case 'opening':
      return rush(ctx, wishesOf(name, ctx.size))
    case 'cancel-storm':
      return cancelStorm(ctx, name)
    case 'status-storm':
      return statusStorm(ctx, name)
    case 'login-storm':
      // The opening's own wishes, in its order, sent as their students get in.
      return loginStorm(ctx, wishesOf('opening', ctx.size))
  }
}
