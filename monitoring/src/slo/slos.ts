// The service-level objectives of the registration rush, as data. src/slo/rules.ts turns them
// into prometheus/rules/slo.yml (recording rules for the error ratio over every window, and one
// burn-rate alert per objective); `npx tsx src/slo/generate.ts` in monitoring/ writes that file
// and tests/slo.test.ts checks that the committed file is what it writes. docs/slo.md explains
// the choices: what counts as good, the objectives, the windows.

/** A Prometheus duration as the windows use it. */
export type Window = `${number}${'m' | 'h'}`

/**
 * One pair of a multi-window, multi-burn-rate alert: it fires while the error ratio over both
 * windows is above `burn` times the error budget (1 − objective). The long window says the budget
 * is really being spent; the short one that it still is, so the alert resolves soon after the
 * burn stops.
 */
export interface BurnWindows {
  readonly long: Window
  readonly short: Window
  /** How many times faster than the objective allows the budget is spent. */
  readonly burn: number
}

/**
 * Pages (severity critical, #sugang-oncall): a rush lasts minutes, so the fast pair must see a
 * bad opening within its first two minutes, and stop paging a minute after it recovers.
 */
export const PAGE: readonly BurnWindows[] = [
  { long: '5m', short: '1m', burn: 14.4 },
  { long: '30m', short: '5m', burn: 6 },
]

/**
 * Tickets (severity warning, #sugang-alerts): the budget is being spent faster than the objective
 * allows, not fast enough to wake anyone; looked at the same day.
 */
export const TICKET: readonly BurnWindows[] = [{ long: '6h', short: '30m', burn: 1 }]

/** How long each kind of alert must hold before it fires. */
export const FOR = { page: '1m', ticket: '5m' } as const

/**
 * An event-based indicator: the share of bad events among all events of a window, from counters
 * (rates over the window, summed per job). Give either the bad events or the good ones.
 */
export interface EventIndicator {
  /** Every event: series selectors summed together. */
  readonly total: string
  /** The bad events, a subset of the total: series selectors summed together. */
  readonly bad?: readonly string[]
  /** The good events, a subset of the total: series selectors summed together. */
  readonly good?: readonly string[]
  /** Least events per second over an alert's short window for it to fire (quiet hours). */
  readonly floorPerSecond: number
}

export interface Slo {
  /** In record names: job:sugang_slo_<name>_errors:ratio_<window>. */
  readonly name: string
  /** What students feel, in a few words. */
  readonly title: string
  /** The share of good events over the registration period. */
  readonly objective: number
  readonly indicator: EventIndicator
  readonly alert: string
  readonly summary: string
  /** Templated; `{{ $value }}` is the burn rate over the long window of the pair that fired. */
  readonly description: string
}

const JOB = 'job="sugang"'
/** Every answer of the API: the door. Health probes, pages and unrouted requests are left out. */
const API = `${JOB}, route=~"/api/.*"`
const COURSE_REQUEST = '/api/v1/courses/:courseId/enrollment-requests'
const CART_REQUEST = '/api/v1/me/cart/enrollment-requests'
/** Both, as one regular expression. */
const LATENCY_ROUTES = '/api/v1/(courses/:courseId|me/cart)/enrollment-requests'
/** Answers that are not 5xx: a slow failure is counted by the availability objective. */
const ANSWERED = 'status_code!~"5.."'

/**
 * Seconds from joining a queue to the decision above which a decision is bad (a bucket bound of
 * sugang_decision_wait_seconds).
 */
export const DECISION_TARGET_SECONDS = 60
/** Waits that an operator's pause did not lengthen. */
const NOT_PAUSED = 'paused="false"'
/** Answer time targets of the latency objective, per route (the histogram's bucket bounds). */
export const LATENCY_TARGETS = [
  { route: COURSE_REQUEST, le: '0.25', what: 'a course' },
  // Up to 12 courses asked one after another (MAX_CART_ITEMS), after a read of the cart.
  { route: CART_REQUEST, le: '1', what: 'a cart' },
] as const

const AVAILABILITY = 0.995
const LATENCY = 0.99
const DECISION = 0.99

/** 0.25 as "250 ms", 1 as "1 s". */
const seconds = (s: number) => (s < 1 ? `${s * 1000} ms` : `${s} s`)

/** How every description ends: `{{ $value }}` is a burn rate. */
const burning = (objective: number, of: string) =>
  `spend its error budget, ${percent(budget({ objective }))} of ${of}, at ` +
  '{{ $value | printf "%.1f" }} times the rate that would spend it exactly over the ' +
  'registration period.'

export const SLOS: readonly Slo[] = [
  {
    name: 'availability',
    title: 'The door answers',
    objective: AVAILABILITY,
    indicator: {
      total: `http_request_duration_seconds_count{${API}}`,
      bad: [`http_request_duration_seconds_count{${API}, status_code=~"5.."}`],
      floorPerSecond: 1,
    },
    alert: 'SugangAvailabilityBudgetBurn',
    summary: 'Students are answered 5xx fast enough to miss the availability objective.',
    description:
      '{{ $labels.job }} answers 5xx (load shedding included) often enough to ' +
      burning(AVAILABILITY, 'API answers'),
  },
  {
    name: 'latency',
    title: "The door's latency",
    objective: LATENCY,
    indicator: {
      total: `http_request_duration_seconds_count{${JOB}, route=~"${LATENCY_ROUTES}", ${ANSWERED}}`,
      good: LATENCY_TARGETS.map(
        ({ route, le }) =>
          `http_request_duration_seconds_bucket{${JOB}, route="${route}", ${ANSWERED}, le="${le}"}`,
      ),
      floorPerSecond: 1,
    },
    alert: 'SugangLatencyBudgetBurn',
    summary: 'Enrollment requests are answered too slowly for the latency objective.',
    description:
      '{{ $labels.job }} answers enrollment requests later than their targets ' +
      `(${LATENCY_TARGETS.map((l) => `${seconds(Number(l.le))} for ${l.what}`).join(', ')}) ` +
      `often enough to ${burning(LATENCY, 'those answers')}`,
  },
  {
    name: 'decision',
    title: 'The time from a request to its decision',
    objective: DECISION,
    indicator: {
      // Each request decided and told, from its joining the queue; a wait through an operator's
      // pause (paused="true") is the operator's decision, not the admission's, and not counted.
      total: `sugang_decision_wait_seconds_count{${JOB}, ${NOT_PAUSED}}`,
      good: [
        `sugang_decision_wait_seconds_bucket{${JOB}, ${NOT_PAUSED}, le="${DECISION_TARGET_SECONDS}"}`,
      ],
      floorPerSecond: 1,
    },
    alert: 'SugangDecisionBudgetBurn',
    summary: 'Requests wait too long for their decisions for the decision-time objective.',
    description:
      `{{ $labels.job }} decides requests more than ${DECISION_TARGET_SECONDS} s after they ` +
      `joined their queues often enough to ${burning(DECISION, 'decisions')}`,
  },
]

/** 0.995 as "99.5 %". */
export function percent(ratio: number): string {
  return `${Number((ratio * 100).toPrecision(6))} %`
}

/** The error budget: the share of events that may be bad. */
export function budget(slo: Pick<Slo, 'objective'>): number {
  // 1 − 0.995 is 0.0050000000000000044 in binary floating point; the rules say 0.005.
  return Number((1 - slo.objective).toPrecision(6))
}
