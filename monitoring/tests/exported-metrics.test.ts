import { freePort } from '@sugang/testkit/ports'
import t from 'tap'
import { findTool } from '../src/binaries.js'
import { startProcess, waitUntilReady } from '../src/processes.js'
import { dashboardQueries, loadDashboards, loadRules } from './helpers/config-files.js'
import { collectExposition, type Exported } from './helpers/exposition.js'
import { analysePromql } from './helpers/promql.js'
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

// Against the real service with real traffic, and a real node exporter: every metric name that a
// rule or a dashboard reads must be one that is really exported (or recorded by a rule), and
// every label a selector matches on must exist on that metric.

const DATABASE = 'sugang_mon_metrics'
/** Labels that Prometheus's targets add (prometheus.yml relabeling), not the exporters. */
const TARGET_LABELS = new Set(['job', 'instance', 'name', 'az', 'env'])
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
  const text = await serviceScrape()
  t.match(text, /^sugang_waitlist_promotions_total 1$/m, 'the waitlist head was promoted')
  t.match(text, /^sugang_admissions_total\{outcome="enrolled"\} [1-9]/m)
  t.match(text, /^sugang_dependency_up\{dependency="redis"\} 1$/m)
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

t.test('every metric read by a rule or a dashboard is exported or recorded', async (t) => {
  const fromNode = collectExposition(await scrape(`http://${exporterAddress}/metrics`))
  const rules = await loadRules()
  const recorded = new Set(rules.flatMap((r) => (r.rule.record ? [r.rule.record] : [])))
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
      const exported = fromService.get(metric) ?? fromNode.get(metric)
      if (metric.startsWith('node_')) {
        t.ok(fromNode.has(metric), `${metric} (${where}) is exported by node exporter`)
      } else {
        t.ok(fromService.has(metric), `${metric} (${where}) is exported by the service`)
      }
      for (const label of labels) {
        if (TARGET_LABELS.has(label)) continue
        t.ok(exported?.has(label), `${metric} has the label ${label} (${where})`)
      }
      checked.add(metric)
    }
  }
  t.ok(checked.size >= 20, `${checked.size} distinct metrics checked`)
})
