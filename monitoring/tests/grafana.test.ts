import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { parse } from 'yaml'
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
