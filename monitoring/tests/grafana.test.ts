import { readFile, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { parse } from 'yaml'
import { ha } from '../../infra/src/config/ha.js'
import { small } from '../../infra/src/config/small.js'
import { dashboardsDir, renderAll } from '../src/dashboards/index.js'
import { tableSeriesNames } from '../src/dashboards/metrics.js'
import { schedulesDir } from '../src/schedule.js'
import { profileSchedules, scheduleFiles } from '../src/schedule-generate.js'
import { grafanaDir } from '../src/paths.js'
import {
  allPanels,
  dashboardQueries,
  loadDashboards,
  type Dashboard,
} from './helpers/config-files.js'
import { metricNames } from './helpers/promql.js'

const dashboards = await loadDashboards()

function byUid(uid: string): Dashboard {
  const found = dashboards.find((d) => d.dashboard.uid === uid)
  if (!found) throw new Error(`no dashboard ${uid}`)
  return found.dashboard
}

/** The metric names that a panel's queries read. */
function panelMetrics(dashboard: Dashboard, title: string): string[] {
  const panel = allPanels(dashboard).find((p) => p.title === title)
  if (!panel) return []
  return (panel.targets ?? []).flatMap((target) => metricNames(target.expr ?? ''))
}

t.test('the data source is provisioned with the uid the dashboards can name', async (t) => {
  const file = join(grafanaDir, 'provisioning', 'datasources', 'prometheus.yml')
  const doc = parse(await readFile(file, 'utf8')) as {
    apiVersion: number
    datasources: Array<{ uid: string; type: string; url: string; isDefault: boolean }>
  }
  t.equal(doc.apiVersion, 1)
  t.equal(doc.datasources.length, 1)
  t.match(doc.datasources[0], { uid: 'prometheus', type: 'prometheus', isDefault: true })
  t.match(doc.datasources[0]?.url, /^http:\/\/127\.0\.0\.1:9090$/)
})

t.test('dashboards are provisioned from files into the sugang folder, read-only', async (t) => {
  const file = join(grafanaDir, 'provisioning', 'dashboards', 'sugang.yml')
  const doc = parse(await readFile(file, 'utf8')) as {
    providers: Array<{
      folder: string
      type: string
      allowUiUpdates: boolean
      options: { path: string }
    }>
  }
  t.equal(doc.providers.length, 1)
  t.match(doc.providers[0], { folder: 'sugang', type: 'file', allowUiUpdates: false })
  t.match(doc.providers[0]?.options.path, /^\//, 'an absolute path on the Grafana host')
})

t.test('dashboards are well-formed', async (t) => {
  const uids = dashboards.map((d) => d.dashboard.uid)
  t.equal(new Set(uids).size, uids.length, 'unique uids')
  for (const { file, dashboard } of dashboards) {
    t.test(file, async (t) => {
      t.match(dashboard.uid, /^[a-z0-9-]{1,40}$/, 'uid')
      t.match(dashboard.title, /^sugang \/ /, 'title')
      const variables = dashboard.templating.list.map((v) => v.name)
      t.ok(variables.includes('datasource'), 'a datasource variable')
      const panels = allPanels(dashboard)
      const ids = panels.map((p) => p.id)
      t.equal(new Set(ids).size, ids.length, 'unique panel ids')
      const cells = new Set<string>()
      for (const panel of panels) {
        const { x, y, w, h } = panel.gridPos
        t.ok(x >= 0 && w > 0 && x + w <= 24, `${panel.title} fits the 24-column grid`)
        const overlaps: string[] = []
        for (let i = x; i < x + w; i += 1) {
          for (let j = y; j < y + h; j += 1) {
            if (cells.has(`${i},${j}`)) overlaps.push(`${i},${j}`)
            cells.add(`${i},${j}`)
          }
        }
        t.same(overlaps, [], `${panel.title} overlaps no other panel`)
        if (panel.type === 'row') continue
        t.equal(panel.datasource?.uid, '${datasource}', `${panel.title} uses the chosen source`)
        t.ok((panel.targets ?? []).length > 0, `${panel.title} has queries`)
        for (const target of panel.targets ?? []) t.ok(target.expr, `${panel.title} query`)
      }
      t.ok(dashboardQueries(dashboard).length > 0)
    })
  }
})

t.test('the service dashboard shows the rush as the issue lists it', async (t) => {
  const service = byUid('sugang-service')
  const wanted: Array<[string, string]> = [
    ['Requests/s by route', 'http_request_duration_seconds_count'],
    ['Error rate (5xx)', 'http_request_duration_seconds_count'],
    ['Latency p50 by route', 'http_request_duration_seconds_bucket'],
    ['Latency p99 by route', 'http_request_duration_seconds_bucket'],
    ['Queue length by course', 'sugang_queue_length'],
    ['Admissions/s by outcome', 'sugang_admissions_total'],
    ['Seats left by course', 'sugang_seats_left'],
    ['Waitlist promotions/s', 'sugang_waitlist_promotions_total'],
    ['Event loop lag', 'nodejs_eventloop_lag_seconds'],
    ['Heap used', 'nodejs_heap_size_used_bytes'],
    ['Enrollment requests/s by outcome', 'sugang_enrollment_requests_total'],
    ['Enrolled over capacity', 'sugang_enrolled_over_capacity'],
  ]
  for (const [title, metric] of wanted) {
    t.ok(panelMetrics(service, title).includes(metric), `"${title}" reads ${metric}`)
  }
})

t.test(
  'the service dashboard shows the operator controls in force, whatever is selected',
  async (t) => {
    const service = byUid('sugang-service')
    const wanted: Array<[string, string]> = [
      ['Pauses in force', 'sugang_admission_paused_since_seconds'],
      ['Ceilings in force (decisions/s)', 'sugang_admission_ceiling_per_second'],
      ['Announcement shown', 'sugang_announcement_active'],
      ['Opening moved', 'sugang_registration_window_moved'],
    ]
    const row = allPanels(service).find((p) => p.type === 'row' && p.title === 'Operator controls')
    t.ok(row, 'an "Operator controls" row')
    for (const [title, metric] of wanted) {
      t.ok(panelMetrics(service, title).includes(metric), `"${title}" reads ${metric}`)
      const panel = allPanels(service).find((p) => p.title === title)
      t.ok(panel && row && panel.gridPos.y > row.gridPos.y, `"${title}" is under the row`)
      // A pause of every course is labelled course_id="*", which no choice of the course or
      // instance variables may hide.
      for (const target of panel?.targets ?? []) {
        t.notMatch(target.expr ?? '', /\$(course|instance)\b/, `"${title}" is not filtered`)
      }
    }
  },
)

t.test('the hosts dashboard reads node exporter only', async (t) => {
  const hosts = byUid('sugang-hosts')
  const names = dashboardQueries(hosts).flatMap((q) => metricNames(q.expr))
  t.ok(names.length > 0)
  for (const name of names) t.match(name, /^(node_|up$)/, name)
  for (const metric of [
    'node_cpu_seconds_total',
    'node_memory_MemAvailable_bytes',
    'node_filesystem_avail_bytes',
    'node_vmstat_pgmajfault',
  ]) {
    t.ok(names.includes(metric), `shows ${metric}, which a host alert watches`)
  }
})

t.test('the committed dashboards are exactly what the generator writes', async (t) => {
  // The JSON is generated from src/dashboards/ (npm run dashboards -w monitoring): an edit by
  // hand, or a change of the TypeScript that was not generated, fails here.
  const rendered = await renderAll()
  const committed = (await readdir(dashboardsDir)).filter((f) => f.endsWith('.json')).sort()
  t.same(committed, rendered.map((r) => r.file).sort(), 'one file per generated dashboard')
  for (const { file, text } of rendered) {
    const onDisk = await readFile(join(dashboardsDir, file), 'utf8').catch(() => '')
    t.ok(onDisk === text, `${file} is what npm run dashboards -w monitoring writes`)
  }
})

t.test('every metric a dashboard reads is named through the typed table', async (t) => {
  const known = tableSeriesNames()
  for (const { dashboard } of dashboards) {
    for (const q of dashboardQueries(dashboard)) {
      for (const name of metricNames(q.expr)) {
        t.ok(known.has(name), `${name} (${q.dashboard} ${q.where}) is in src/dashboards/metrics.ts`)
      }
    }
  }
})

t.test('the opening-day board answers "are we keeping up, and if not, where"', async (t) => {
  const board = byUid('sugang-opening-day')
  t.equal(board.title, 'sugang / Opening day')
  const wanted: Array<[string, string]> = [
    ['Requests/s at the door', 'http_request_duration_seconds_count'],
    ['Share of the scheduled capacity', 'http_request_duration_seconds_count'],
    ['Top courses by queue length', 'sugang_queue_length'],
    ['Queued/s and decided/s', 'sugang_admissions_total'],
    ['Queued/s and decided/s', 'sugang_enrollment_requests_total'],
    ['Decision wait p99', 'sugang_decision_wait_seconds_bucket'],
    ['Decision wait', 'sugang_decision_wait_seconds_bucket'],
    ['Decision wait', 'sugang_queue_length'],
    ['Decision wait', 'sugang_admissions_total'],
    ['Admission batch duration', 'sugang_admission_batch_duration_seconds_bucket'],
    ['Admission batch size', 'sugang_admission_batch_duration_seconds_count'],
    ['Logins/s by status', 'http_request_duration_seconds_count'],
    ['Login refusals/s by reason', 'sugang_login_refusals_total'],
    ['Stream listeners by instance', 'sugang_watch_listeners'],
    ['Stream round duration p99 by instance', 'sugang_watch_round_duration_seconds_bucket'],
    ['Stream updates/s by instance', 'sugang_watch_updates_total'],
    [
      'MySQL: admission commits/s and failed attempts/s',
      'sugang_admission_batch_duration_seconds_count',
    ],
    ['MySQL: admission commits/s and failed attempts/s', 'sugang_admission_errors_total'],
    ['Redis: cache repairs and reflection failures', 'sugang_cache_repairs_total'],
    ['Redis: cache repairs and reflection failures', 'sugang_cancel_reflection_failures_total'],
    ['Redis CPU per shard (main thread)', 'redis_cpu_sys_main_thread_seconds_total'],
    ['Redis CPU per shard (main thread)', 'redis_cpu_user_main_thread_seconds_total'],
    ['MySQL commits/s and row lock waits', 'mysql_global_status_commands_total'],
    ['MySQL commits/s and row lock waits', 'mysql_global_status_innodb_row_lock_waits'],
    ['MySQL commits/s and row lock waits', 'mysql_global_status_innodb_row_lock_current_waits'],
    ['Healthy instances against the scheduled minimum', 'sugang_dependency_up'],
    ['Healthy instances against the scheduled minimum', 'up'],
    ['E-mail backlog', 'sugang_confirmations'],
    ['E-mail backlog', 'sugang_confirmation_oldest_waiting_seconds'],
  ]
  for (const [title, metric] of wanted) {
    t.ok(panelMetrics(board, title).includes(metric), `"${title}" reads ${metric}`)
  }
  // The top row is the one look: the door against the capacity, the queues, the lag, the
  // instances and the e-mails, as stats.
  const top = allPanels(board).filter((p) => p.gridPos.y === 1)
  t.ok(top.length >= 5, 'a row of stats at the top')
  for (const panel of top) t.equal(panel.type, 'stat', `${panel.title} is a stat`)
  // Every instance and course is shown: no variable but the data source narrows the board.
  t.same(
    board.templating.list.map((v) => v.name),
    ['datasource'],
  )
  for (const panel of allPanels(board)) {
    for (const target of panel.targets ?? []) {
      t.notMatch(target.expr ?? '', /\$(?!__)/, `"${panel.title}" uses no variable of its own`)
    }
  }
})

t.test("the opening-day board reads the schedule from the profile's series", async (t) => {
  const board = byUid('sugang-opening-day')
  const share = allPanels(board).find((p) => p.title === 'Share of the scheduled capacity')
  t.match(share?.targets?.[0]?.expr, / \/ scalar\(sugang:scheduled_capacity_requests_per_second\)$/)
  const healthy = allPanels(board).find((p) => p.title === 'Healthy instances of the scheduled')
  t.match(healthy?.targets?.[0]?.expr, / \/ scalar\(sugang:scheduled_minimum_instances\)$/)
  // No number of a profile is written into the board: every threshold is a share or a fixed
  // bound, and each limit line is a series.
  const text = JSON.stringify(board)
  for (const profile of [ha, small]) {
    const capacity = profile.compute.rush.instances * profile.compute.requestsPerSecondPerInstance
    t.notMatch(
      text,
      new RegExp(`\\b${capacity}\\b`),
      `${profile.profile}'s capacity is no constant`,
    )
  }
})

t.test("each profile's schedule file is what its configuration says", async (t) => {
  const files = scheduleFiles()
  t.same([...files.keys()].sort(), ['ha.yml', 'small.yml'], 'one file per profile')
  for (const [name, text] of files) {
    t.equal(
      await readFile(join(schedulesDir, name), 'utf8'),
      text,
      `${name}: npm run schedules -w monitoring`,
    )
  }
  t.same(
    profileSchedules().find((s) => s.profile === 'ha'),
    {
      profile: 'ha',
      minimumInstances: ha.compute.rush.instances,
      requestsPerInstance: ha.compute.requestsPerSecondPerInstance,
    },
  )
})
