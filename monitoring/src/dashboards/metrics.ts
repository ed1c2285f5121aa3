import { SCHEDULE_SERIES } from '../schedule.js'

// The metrics the dashboards read, as one typed table. A query names a metric through it, never
// by a string of its own: the metric's name, the job that exports it and the labels a selector
// may match on (with their values, where the service has a fixed set) are written here once, so
// a panel cannot ask for a label the metric does not carry or a value it never takes.
// tests/exported-metrics.test.ts checks against the real service that what is written here is
// exported; tests/grafana.test.ts that no dashboard names a metric outside this table.

/**
 * Scrape jobs of prometheus.yml: the service's /metrics and node exporter, on each instance;
 * redis_exporter for each Redis node and mysqld_exporter for each MySQL server, on the
 * monitoring host.
 */
export type Job = 'sugang' | 'node' | 'redis' | 'mysql'

/**
 * Labels that Prometheus adds to every series of a target (prometheus.yml relabeling and the
 * target files): the instance everywhere; the Name tag and the zone of an app instance; the
 * shard and the role (primary, replica) of a Redis node.
 */
export type TargetLabel = 'instance' | 'name' | 'az' | 'shard' | 'role'

/** A label's values: a fixed set, or `any` for free text (course ids, routes, ...). */
type Values = readonly string[] | 'any'
type LabelSpec = Readonly<Record<string, Values>>
/** A metric without labels of its own (its targets' labels only). */
type NoLabels = Readonly<Record<never, Values>>

/** A matcher other than equality: made by re(), nre() and ne(). */
export interface Matcher {
  readonly op: '!=' | '=~' | '!~'
  readonly value: string
}
export const re = (value: string): Matcher => ({ op: '=~', value })
export const nre = (value: string): Matcher => ({ op: '!~', value })
export const ne = (value: string): Matcher => ({ op: '!=', value })

type ValueOf<V extends Values> = V extends readonly (infer T)[] ? T : string

/**
 * Label matchers of a selector, in the order they are written. Equality takes one of the label's
 * values; a regular expression or a negation takes any string (a Grafana variable, often).
 */
export type Matchers<L extends LabelSpec> = {
  readonly [K in keyof L]?: ValueOf<L[K]> | Matcher
} & { readonly [K in TargetLabel]?: string | Matcher }

function selector(name: string, job: Job, matchers: Readonly<Record<string, unknown>>): string {
  const parts = [`job="${job}"`]
  for (const [label, m] of Object.entries(matchers)) {
    if (m === undefined) continue
    const { op, value } = typeof m === 'string' ? { op: '=', value: m } : (m as Matcher)
    parts.push(`${label}${op}${JSON.stringify(value)}`)
  }
  return `${name}{${parts.join(', ')}}`
}

interface Spec<N extends string, L extends LabelSpec> {
  readonly kind: 'counter' | 'gauge' | 'histogram'
  readonly name: N
  readonly job: Job
  readonly labels: L
}

/** A counter or a gauge: one series name. */
export interface Simple<N extends string, L extends LabelSpec> extends Spec<N, L> {
  readonly kind: 'counter' | 'gauge'
  /** `name{job="...", matchers...}` */
  select(matchers?: Matchers<L>): string
}

/** A histogram: `_bucket` (with `le`), `_count` and `_sum` series. */
export interface Histogram<N extends string, L extends LabelSpec> extends Spec<N, L> {
  readonly kind: 'histogram'
  bucket(matchers?: Matchers<L & { readonly le: 'any' }>): string
  count(matchers?: Matchers<L>): string
  sum(matchers?: Matchers<L>): string
}

const noLabels = {} as const

function simple<const N extends string, const L extends LabelSpec>(
  kind: 'counter' | 'gauge',
  job: Job,
  name: N,
  labels: L,
): Simple<N, L> {
  return { kind, name, job, labels, select: (m = {}) => selector(name, job, m) }
}

export function counter<const N extends `${string}_total`, const L extends LabelSpec = NoLabels>(
  job: Job,
  name: N,
  labels: L = noLabels as L,
): Simple<N, L> {
  return simple('counter', job, name, labels)
}

export function gauge<const N extends string, const L extends LabelSpec = NoLabels>(
  job: Job,
  name: N,
  labels: L = noLabels as L,
): Simple<N, L> {
  return simple('gauge', job, name, labels)
}

export function histogram<const N extends string, const L extends LabelSpec = NoLabels>(
  job: Job,
  name: N,
  labels: L = noLabels as L,
): Histogram<N, L> {
  return {
    kind: 'histogram',
    name,
    job,
    labels,
    bucket: (m = {}) => selector(`${name}_bucket`, job, m),
    count: (m = {}) => selector(`${name}_count`, job, m),
    sum: (m = {}) => selector(`${name}_sum`, job, m),
  }
}

/** What the service exports on its metrics listener (service/src/plugins/app/metrics.ts, gauges.ts). */
export const sugang = {
  // The HTTP layer: every answer, by route template (`unmatched` for none) and status code.
  httpRequests: histogram('sugang', 'http_request_duration_seconds', {
    method: 'any',
    route: 'any',
    status_code: 'any',
  }),

  // The door and the admission worker.
  enrollmentRequests: counter('sugang', 'sugang_enrollment_requests_total', {
    outcome: [
      'queued',
      'existing',
      'closed',
      'not_found',
      'unauthenticated',
      'rate_limited',
      'course_full',
      'already_enrolled',
    ],
  }),
  admissions: counter('sugang', 'sugang_admissions_total', {
    outcome: ['enrolled', 'waitlisted', 'rejected'],
  }),
  admissionBatch: histogram('sugang', 'sugang_admission_batch_duration_seconds'),
  /** From joining a queue to the decision; paused="true" when an operator's pause lengthened it. */
  decisionWait: histogram('sugang', 'sugang_decision_wait_seconds', { paused: ['true', 'false'] }),
  admissionErrors: counter('sugang', 'sugang_admission_errors_total'),
  waitlistPromotions: counter('sugang', 'sugang_waitlist_promotions_total'),
  queueLength: gauge('sugang', 'sugang_queue_length', { course_id: 'any' }),
  seatsLeft: gauge('sugang', 'sugang_seats_left', { course_id: 'any' }),

  // Caches and cancellations: Redis losing writes, and the reconciler putting them back.
  cacheRepairs: counter('sugang', 'sugang_cache_repairs_total'),
  reflectionFailures: counter('sugang', 'sugang_cancel_reflection_failures_total'),

  // Logins refused before the password was checked.
  loginRefusals: counter('sugang', 'sugang_login_refusals_total', {
    reason: ['address', 'account', 'device', 'busy'],
  }),

  // Event streams (the request watch).
  watchListeners: gauge('sugang', 'sugang_watch_listeners'),
  watchRounds: histogram('sugang', 'sugang_watch_round_duration_seconds'),
  watchUpdates: counter('sugang', 'sugang_watch_updates_total'),

  // Read at scrape time.
  replicaLag: gauge('sugang', 'sugang_replica_lag_seconds'),
  confirmations: gauge('sugang', 'sugang_confirmations', {
    state: ['pending', 'sending', 'dead'],
  }),
  confirmationOldestWaiting: gauge('sugang', 'sugang_confirmation_oldest_waiting_seconds'),
  enrolledOverCapacity: gauge('sugang', 'sugang_enrolled_over_capacity'),
  dependencyUp: gauge('sugang', 'sugang_dependency_up', { dependency: ['mysql', 'redis'] }),

  // Operator controls in force (course_id "*" for every course).
  admissionPaused: gauge('sugang', 'sugang_admission_paused', { course_id: 'any' }),
  admissionPausedSince: gauge('sugang', 'sugang_admission_paused_since_seconds', {
    course_id: 'any',
  }),
  admissionCeiling: gauge('sugang', 'sugang_admission_ceiling_per_second', { course_id: 'any' }),
  announcementActive: gauge('sugang', 'sugang_announcement_active'),
  registrationWindowMoved: gauge('sugang', 'sugang_registration_window_moved'),

  // prom-client's default metrics of the Node.js process.
  eventLoopLag: gauge('sugang', 'nodejs_eventloop_lag_seconds'),
  eventLoopLagP99: gauge('sugang', 'nodejs_eventloop_lag_p99_seconds'),
  heapUsed: gauge('sugang', 'nodejs_heap_size_used_bytes'),
  heapTotal: gauge('sugang', 'nodejs_heap_size_total_bytes'),
  processCpu: counter('sugang', 'process_cpu_seconds_total'),
} as const

/** What node exporter exports on each instance (the collectors Debian's package enables). */
export const node = {
  cpu: counter('node', 'node_cpu_seconds_total', {
    cpu: 'any',
    mode: ['idle', 'user', 'system', 'iowait', 'irq', 'softirq', 'steal', 'nice'],
  }),
  load1: gauge('node', 'node_load1'),
  memAvailable: gauge('node', 'node_memory_MemAvailable_bytes'),
  memTotal: gauge('node', 'node_memory_MemTotal_bytes'),
  majorPageFaults: gauge('node', 'node_vmstat_pgmajfault'),
  filesystemAvail: gauge('node', 'node_filesystem_avail_bytes', {
    device: 'any',
    fstype: 'any',
    mountpoint: 'any',
  }),
  filesystemSize: gauge('node', 'node_filesystem_size_bytes', {
    device: 'any',
    fstype: 'any',
    mountpoint: 'any',
  }),
  diskRead: counter('node', 'node_disk_read_bytes_total', { device: 'any' }),
  diskWritten: counter('node', 'node_disk_written_bytes_total', { device: 'any' }),
  networkReceive: counter('node', 'node_network_receive_bytes_total', { device: 'any' }),
  networkTransmit: counter('node', 'node_network_transmit_bytes_total', { device: 'any' }),
  tcpEstablished: gauge('node', 'node_netstat_Tcp_CurrEstab'),
} as const

/**
 * What redis_exporter reports of each Redis node (INFO). Redis runs commands on one thread, so
 * the main thread's CPU is the node's saturation: near one second per second it can take no more.
 */
export const redis = {
  up: gauge('redis', 'redis_up'),
  cpuSysMainThread: counter('redis', 'redis_cpu_sys_main_thread_seconds_total'),
  cpuUserMainThread: counter('redis', 'redis_cpu_user_main_thread_seconds_total'),
  commandsProcessed: counter('redis', 'redis_commands_processed_total'),
  connectedClients: gauge('redis', 'redis_connected_clients'),
  memoryUsed: gauge('redis', 'redis_memory_used_bytes'),
} as const

/**
 * What mysqld_exporter reports of each MySQL server (SHOW GLOBAL STATUS). The InnoDB row lock
 * counters carry no `_total`: the exporter passes status variables through untyped, so they are
 * gauges here, and their rate() is what the board shows.
 */
export const mysql = {
  up: gauge('mysql', 'mysql_up'),
  commands: counter('mysql', 'mysql_global_status_commands_total', { command: 'any' }),
  /** Row lock waits begun, since the server started. */
  rowLockWaits: gauge('mysql', 'mysql_global_status_innodb_row_lock_waits'),
  /** Row lock waits under way now. */
  rowLockCurrentWaits: gauge('mysql', 'mysql_global_status_innodb_row_lock_current_waits'),
  /** Milliseconds spent waiting for row locks, since the server started. */
  rowLockTime: gauge('mysql', 'mysql_global_status_innodb_row_lock_time'),
  threadsRunning: gauge('mysql', 'mysql_global_status_threads_running'),
} as const

/** Every metric of the table, whichever job exports it. */
export function allMetrics(): AnyMetric[] {
  return [
    ...Object.values(sugang),
    ...Object.values(node),
    ...Object.values(redis),
    ...Object.values(mysql),
  ] as AnyMetric[]
}

/** Prometheus's own series of each target: 1 while its last scrape succeeded. */
export function up(job: Job, matchers: Matchers<NoLabels> = {}): string {
  return selector('up', job, matchers)
}

type AnyMetric = Simple<string, LabelSpec> | Histogram<string, LabelSpec>

/**
 * Every series name the table can select: a histogram's three, `up`, and the opening's schedule
 * that the profile's rule file records (src/schedule.ts).
 */
export function tableSeriesNames(): Set<string> {
  const names = new Set<string>(['up', ...Object.values(SCHEDULE_SERIES)])
  for (const metric of allMetrics()) {
    if (metric.kind === 'histogram') {
      for (const suffix of ['_bucket', '_count', '_sum']) names.add(`${metric.name}${suffix}`)
    } else {
      names.add(metric.name)
    }
  }
  return names
}

/** The range of a rate() in a panel: Grafana's, at least four scrape intervals. */
export const RATE = '$__rate_interval'

/** `rate(selector[$__rate_interval])` */
export function rate(selector: string, range: string = RATE): string {
  return `rate(${selector}[${range}])`
}

/** `increase(selector[range])` */
export function increase(selector: string, range: string): string {
  return `increase(${selector}[${range}])`
}
