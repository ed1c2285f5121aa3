import { freePort } from '@sugang/testkit/ports'
import { waitFor } from '@sugang/testkit/wait'
import t from 'tap'
import { findTool } from '../src/binaries.js'
import { allMetrics } from '../src/dashboards/metrics.js'
import { redisTarget, startMysqldExporter, startRedisExporter } from '../src/exporters.js'
import { SCHEDULE_SERIES } from '../src/schedule.js'
import { startProcess, waitUntilReady } from '../src/processes.js'
import { dashboardQueries, loadDashboards, loadRules } from './helpers/config-files.js'
import { watchRequests, type OpenStream } from './helpers/event-stream.js'
import { collectExposition, type Exported } from './helpers/exposition.js'
import { query, type Sample } from './helpers/prometheus-api.js'
import { analysePromql } from './helpers/promql.js'
import { startScrapingPrometheus } from './helpers/scraping-prometheus.js'
import {
  api,
  decided,
  dropDatabase,
  holdAdmission,
  login,
  operate,
  releaseAdmission,
  scrape,
  startRedis,
  startService,
} from './helpers/service-harness.js'

// Against the real service with real traffic, and real node, Redis and MySQL exporters reading
// the machine, the service's Redis and its MariaDB: every metric name that a rule or a dashboard
// reads must be one that is really exported (or recorded by a rule), and every label a selector
// matches on must exist on that metric. A real Prometheus scrapes them all during the rush, and
// every query of the opening-day board must return data from it.

const DATABASE = 'sugang_mon_metrics'
/** Labels that Prometheus's targets add (prometheus.yml relabeling), not the exporters. */
const TARGET_LABELS = new Set(['job', 'instance', 'name', 'az', 'env', 'shard', 'role'])
/** Series that Prometheus makes itself. */
const SYNTHETIC = new Set(['up', 'ALERTS', 'ALERTS_FOR_STATE'])

const redis = await startRedis()
t.teardown(() => redis.stop())
const service = await startService({ database: DATABASE, redis })
t.teardown(async () => {
  await service.stop()
  await dropDatabase(DATABASE)
})
const exporterAddress = `127.0.0.1:${await freePort()}`
const exporter = startProcess('node exporter', findTool('nodeExporter'), [
  `--web.listen-address=${exporterAddress}`,
])
t.teardown(() => exporter.stop())
await waitUntilReady(`http://${exporterAddress}/metrics`, exporter)
const redisExporter = await startRedisExporter()
t.teardown(() => redisExporter.process.stop())
const redisNode = `redis://127.0.0.1:${redis.port}`
const mysqldExporter = await startMysqldExporter({ host: '127.0.0.1', port: 3306, user: 'root' })
t.teardown(() => mysqldExporter.process.stop())
/** What each exporter job's metrics come from, scraped as Prometheus scrapes them. */
const exporterScrapes = {
  node: `http://${exporterAddress}/metrics`,
  redis: `http://${redisExporter.address}/scrape?target=${encodeURIComponent(redisNode)}`,
  mysql: `http://${mysqldExporter.address}/metrics`,
} as const
// A labelled counter's series appears at its first increment, and rate() needs a sample before
// it: one request decided before Prometheus starts gives the rush's counters their baseline, as
// the requests before an opening do in production.
const early = await login(service, 14)
const first = await api(service, 'POST', '/api/v1/courses/C0003/enrollment-requests', {
  cookie: early.cookie,
  body: {},
})
if (first.status !== 202) throw new Error(`the early request answered ${first.status}`)
await decided(service, early, String(first.body?.requestId))
const prometheus = await startScrapingPrometheus({
  sugang: [new URL(service.metricsUrl).host],
  node: [exporterAddress],
  redis: [
    redisTarget(redisExporter.address, {
      url: redisNode,
      name: 'redis-0001-001',
      shard: '0001',
      role: 'primary',
    }),
  ],
  mysql: [{ targets: [mysqldExporter.address], labels: { instance: 'primary' } }],
})
t.teardown(() => prometheus.stop())
// Scraped before the rush, so that rate() has samples on both sides of it. An exporter's scrape
// succeeds even when it cannot reach its server: redis_up and mysql_up say that it did.
await waitFor('Prometheus to scrape the service and every exporter, and them to read', async () => {
  const targets = await query(prometheus.url, 'up{job=~"sugang|node|redis|mysql"} == 1')
  const read = await query(prometheus.url, 'redis_up == 1 or mysql_up == 1')
  return targets.length === 4 && read.length === 2 ? true : undefined
})
/** A student's page watching a request that waits (its course held), until the board is read. */
let waiting: OpenStream | null = null
t.teardown(async () => {
  await waiting?.close()
  await releaseAdmission(redis, 'C0002')
})

const fromService: Exported = new Map()
const serviceScrape = async (): Promise<string> => {
  const text = await scrape(service.metricsUrl)
  collectExposition(text, fromService)
  return text
}

t.test('a small rush through the public API moves every sugang metric', async (t) => {
  await serviceScrape()
  const students = []
  for (let n = 1; n <= 12; n += 1) students.push(await login(service, n))

  // One more student asks for C0002, whose admission is held until the opening-day board has
  // been read, and keeps the page open: a stream listening through the rush.
  const patient = await login(service, 13)
  await holdAdmission(redis, 'C0002', 180_000)
  const held = await api(service, 'POST', '/api/v1/courses/C0002/enrollment-requests', {
    cookie: patient.cookie,
    body: {},
  })
  t.equal(held.status, 202, `${patient.id} is queued for C0002`)
  waiting = await watchRequests(service, patient, [String(held.body?.requestId)])

  // The worker is kept off C0001 while the rush arrives, so the queue is there to be scraped.
  await holdAdmission(redis, 'C0001', 20_000)
  const requests = await Promise.all(
    students.map(async (student, i) => {
      const body = i < 8 ? {} : { waitlist: true }
      const res = await api(service, 'POST', '/api/v1/courses/C0001/enrollment-requests', {
        cookie: student.cookie,
        body,
      })
      t.equal(res.status, 202, `${student.id} is queued`)
      return { student, requestId: String(res.body?.requestId) }
    }),
  )
  t.match(await serviceScrape(), /^sugang_queue_length\{course_id="C0001"\} 12$/m, 'queue seen')
  // The first student's page watches the request live, as the student page does.
  const watched = requests[0]
  if (!watched) throw new Error('no request')
  const stream = await watchRequests(service, watched.student, [watched.requestId])
  t.teardown(() => stream.close())
  t.match(await serviceScrape(), /^sugang_watch_listeners 2$/m, 'two streams listening')

  await releaseAdmission(redis, 'C0001')
  const outcomes = await Promise.all(requests.map((r) => decided(service, r.student, r.requestId)))
  t.equal(outcomes.filter((o) => o === 'enrolled').length, 5, 'five seats, five enrolled')
  t.ok(outcomes.includes('waitlisted'), 'the late ones wait')

  const enrolled = requests.find((_, i) => outcomes[i] === 'enrolled')
  if (!enrolled) throw new Error('nobody enrolled')
  const cancel = await api(service, 'DELETE', '/api/v1/me/enrollments/C0001', {
    cookie: enrolled.student.cookie,
  })
  t.equal(cancel.status, 204, 'a cancellation frees a seat for the waitlist')

  const other = students[0]
  if (!other) throw new Error('no student')
  t.equal((await api(service, 'GET', '/api/v1/courses', { cookie: other.cookie })).status, 200)
  t.equal(
    (await api(service, 'GET', '/api/v1/me/enrollments', { cookie: other.cookie })).status,
    200,
  )
  t.equal(
    (await api(service, 'GET', '/api/v1/courses/C9999', { cookie: other.cookie })).status,
    404,
  )
  t.equal((await api(service, 'GET', '/health/ready')).status, 200)

  // Someone guessing one student's password: after LOGIN_ACCOUNT_FAILURES (10) wrong ones, the
  // account is refused before any check.
  const guessed = { studentId: 'S000050', password: 'guess' }
  const answers: number[] = []
  let refused: Awaited<ReturnType<typeof api>> | null = null
  while (!refused && answers.length < 20) {
    const res = await api(service, 'POST', '/api/v1/auth/login', { body: guessed })
    answers.push(res.status)
    if (res.status === 429) refused = res
  }
  t.same(answers.slice(0, -1), Array<number>(answers.length - 1).fill(401), 'wrong passwords')
  t.match(refused?.body, { error: { code: 'ACCOUNT_LOCKED' } }, 'then refused by account')

  const text = await serviceScrape()
  t.match(text, /^sugang_login_refusals_total\{reason="account"\} [1-9]/m, 'the refusal counted')
  t.match(text, /^sugang_watch_updates_total [1-9]/m, 'the decision pushed to the stream')
  t.match(stream.text(), /^event: request\ndata: \{[^\n]*"status":"(enrolled|rejected)"/m)
  t.match(text, /^sugang_waitlist_promotions_total 1$/m, 'the waitlist head was promoted')
  t.match(text, /^sugang_admissions_total\{outcome="enrolled"\} [1-9]/m)
  t.match(text, /^sugang_dependency_up\{dependency="redis"\} 1$/m)
})

t.test('every query of the opening-day board returns data on a real Prometheus', async (t) => {
  const board = (await loadDashboards()).find((d) => d.dashboard.uid === 'sugang-opening-day')
  if (!board) throw new Error('no opening-day dashboard')
  const queries = dashboardQueries(board.dashboard)
  t.ok(queries.length >= 25, `${queries.length} queries`)
  /** A number (Inf included) in at least one series: NaN is what an empty rate() divides into. */
  const hasData = (samples: Sample[]) => samples.some((s) => s.value[1] !== 'NaN')
  type Results = Array<{ q: (typeof queries)[number]; samples: Sample[] }>
  const run = async (): Promise<Results> =>
    Promise.all(queries.map(async (q) => ({ q, samples: await query(prometheus.url, q.expr) })))
  // Panels where the rush must show, not only a series: traffic, decisions, batches, the stream.
  const rush: ReadonlyArray<readonly [string, string]> = [
    ['Requests/s at the door', 'A'],
    ['Queued/s and decided/s', 'A'],
    ['Queued/s and decided/s', 'B'],
    ['Decision wait p99', 'A'],
    ['Decision wait', 'B'],
    ['Admission batch duration', 'B'],
    ['Admission batch size', 'A'],
    ['Stream listeners by instance', 'A'],
    ['Stream round duration p99 by instance', 'A'],
  ]
  const largest = (results: Results, title: string, refId: string) => {
    const found = results.find((r) => r.q.where === `${whereOf(title)} target ${refId}`)
    return Math.max(...(found?.samples ?? []).map((s) => Number(s.value[1])))
  }
  const whereOf = (title: string) =>
    queries.find((q) => q.where.startsWith(`panel "${title}" (`))?.where.replace(/ target \w+$/, '')
  // Each scrape (every 5 s) adds what rate() needs; wait until Prometheus has seen the rush.
  const results = await waitFor(
    'every opening-day query to return data, with the rush in it',
    async () => {
      const all = await run()
      const complete =
        all.every((r) => hasData(r.samples)) &&
        rush.every(([title, refId]) => largest(all, title, refId) > 0)
      return complete ? all : undefined
    },
    { timeoutMs: 45_000, intervalMs: 1_000 },
  ).catch(async () => run())
  for (const { q, samples } of results) {
    t.ok(hasData(samples), `${q.where} returns data`, { expr: q.expr, samples })
  }
  for (const [title, refId] of rush) {
    const where = `${whereOf(title)} target ${refId}`
    const samples = results.find((r) => r.q.where === where)?.samples
    t.ok(largest(results, title, refId) > 0, `"${title}" ${refId} shows the rush`, { samples })
  }
  await waiting?.close()
  waiting = null
  await releaseAdmission(redis, 'C0002')
})

t.test(
  'operator controls set through the admin listener show as metrics until lifted',
  async (t) => {
    const reason = { reason: 'monitoring test' }
    await operate(service, 'pause', { course: 'C0003', ...reason })
    await operate(service, 'pause', reason)
    await operate(service, 'throttle', { course: 'C0002', perSecond: 40, ...reason })
    await operate(service, 'throttle', { perSecond: 300, ...reason })
    await operate(service, 'announcement', { ko: '점검', en: 'Maintenance', ...reason })
    await operate(service, 'window', { opensAt: '2030-03-02T01:00:00Z', ...reason })
    const text = await serviceScrape()
    for (const line of [
      /^sugang_admission_paused\{course_id="C0003"\} 1$/m,
      /^sugang_admission_paused\{course_id="\*"\} 1$/m,
      /^sugang_admission_paused_since_seconds\{course_id="C0003"\} \d{10}(\.\d+)?$/m,
      /^sugang_admission_ceiling_per_second\{course_id="C0002"\} 40$/m,
      /^sugang_admission_ceiling_per_second\{course_id="\*"\} 300$/m,
      /^sugang_announcement_active 1$/m,
      /^sugang_registration_window_moved 1$/m,
    ]) {
      t.match(text, line)
    }

    await operate(service, 'resume', { course: 'C0003', ...reason })
    await operate(service, 'resume', reason)
    await operate(service, 'unthrottle', { course: 'C0002', ...reason })
    await operate(service, 'unthrottle', reason)
    await operate(service, 'announcement/clear', reason)
    const after = await scrape(service.metricsUrl)
    t.notMatch(after, /^sugang_admission_(paused|ceiling)\w*\{/m, 'no pause or ceiling left')
    t.match(after, /^sugang_announcement_active 0$/m)
  },
)

t.test('the service exports what the contract and the dashboards need', async (t) => {
  for (const name of [
    'http_request_duration_seconds_bucket',
    'sugang_enrollment_requests_total',
    'sugang_queue_length',
    'sugang_admission_batch_duration_seconds_bucket',
    'sugang_decision_wait_seconds_bucket',
    'sugang_enrolled_over_capacity',
    'sugang_admissions_total',
    'sugang_seats_left',
    'sugang_waitlist_promotions_total',
    'sugang_dependency_up',
    'sugang_admission_paused',
    'sugang_admission_paused_since_seconds',
    'sugang_admission_ceiling_per_second',
    'sugang_announcement_active',
    'sugang_registration_window_moved',
    'nodejs_eventloop_lag_seconds',
    'nodejs_heap_size_used_bytes',
  ]) {
    t.ok(fromService.has(name), name)
  }
})

/** Each exporter job's metrics and their labels, from one scrape of each. */
async function exporterExpositions(): Promise<Record<keyof typeof exporterScrapes, Exported>> {
  const [node, redis, mysql] = await Promise.all(
    [exporterScrapes.node, exporterScrapes.redis, exporterScrapes.mysql].map(async (url) =>
      collectExposition(await scrape(url)),
    ),
  )
  if (!node || !redis || !mysql) throw new Error('an exporter was not scraped')
  return { node, redis, mysql }
}

/** The job whose exporter a metric's name belongs to: node_*, redis_*, mysql_*, else the service. */
function jobOf(metric: string): 'sugang' | keyof typeof exporterScrapes {
  const prefix = /^(node|redis|mysql)_/.exec(metric)?.[1]
  return (prefix as keyof typeof exporterScrapes | undefined) ?? 'sugang'
}

t.test('every metric read by a rule or a dashboard is exported or recorded', async (t) => {
  const exporters = await exporterExpositions()
  const rules = await loadRules()
  // The profile's schedule file records the opening's schedule (src/schedule.ts).
  const recorded = new Set([
    ...rules.flatMap((r) => (r.rule.record ? [r.rule.record] : [])),
    ...Object.values(SCHEDULE_SERIES),
  ])
  const exprs = [
    ...rules.map((r) => ({ where: `rule ${r.rule.alert ?? r.rule.record}`, expr: r.rule.expr })),
    ...(await loadDashboards()).flatMap(({ dashboard }) =>
      dashboardQueries(dashboard).map((q) => ({
        where: `${q.dashboard} ${q.where}`,
        expr: q.expr,
      })),
    ),
  ]
  const checked = new Set<string>()
  for (const { where, expr } of exprs) {
    for (const { metric, labels } of analysePromql(expr).selectors) {
      if (!metric || SYNTHETIC.has(metric) || recorded.has(metric)) continue
      const job = jobOf(metric)
      const exported = (job === 'sugang' ? fromService : exporters[job]).get(metric)
      t.ok(
        exported,
        `${metric} (${where}) is exported by ${job === 'sugang' ? 'the service' : `the ${job} exporter`}`,
      )
      for (const label of labels) {
        if (TARGET_LABELS.has(label)) continue
        t.ok(exported?.has(label), `${metric} has the label ${label} (${where})`)
      }
      checked.add(metric)
    }
  }
  t.ok(checked.size >= 20, `${checked.size} distinct metrics checked`)
})

t.test("the dashboards' typed table of metrics is what is exported", async (t) => {
  // src/dashboards/metrics.ts names each metric once, with its labels: it must agree with the
  // service and the exporters, label by label.
  const exporters = await exporterExpositions()
  for (const metric of allMetrics()) {
    const exported = metric.job === 'sugang' ? fromService : exporters[metric.job]
    const series = metric.kind === 'histogram' ? `${metric.name}_bucket` : metric.name
    const labels = exported.get(series)
    t.ok(labels, `${series} is exported (job ${metric.job})`)
    for (const label of Object.keys(metric.labels)) {
      t.ok(labels?.has(label), `${series} has the label ${label}`)
    }
  }
})
