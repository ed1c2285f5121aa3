import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { parse } from 'yaml'
import { monitoringDir } from '../src/paths.js'
import { dashboardQueries, loadDashboards, loadRules } from './helpers/config-files.js'
import { exportedFamilies, familyOf } from './helpers/metric-families.js'
import { metricNames } from './helpers/promql.js'
import { dropDatabase, scrape, startRedis, startService } from './helpers/service-harness.js'

// The reverse of exported-metrics.test.ts: every metric the real service exports must be read by
// a dashboard or by a rule (any file of prometheus/rules/), or be listed in
// unwatched-metrics.yml with the reason nobody needs to watch it. A metric that is exported and
// watched by nobody is either a signal missing from on-call's view or one nobody should pay for.

const DATABASE = 'sugang_mon_reverse'
const ALLOW_LIST = join(monitoringDir, 'unwatched-metrics.yml')

interface Allowed {
  readonly metrics: string[]
  readonly reason: string
}

const redis = await startRedis()
t.teardown(() => redis.stop())
const service = await startService({ database: DATABASE, redis })
t.teardown(async () => {
  await service.stop()
  await dropDatabase(DATABASE)
})

// Families from the `# TYPE` lines: a labelled counter that has counted nothing yet (login
// refusals on a quiet day) is exported all the same.
const exported = exportedFamilies(await scrape(service.metricsUrl))
const allowList = parse(await readFile(ALLOW_LIST, 'utf8')) as Allowed[]
const allowed = new Map(allowList.flatMap((a) => a.metrics.map((m) => [m, a.reason] as const)))

/** Exported family → where it is read (a rule or a dashboard query). */
const watched = new Map<string, string[]>()
const readBy = (expr: string, where: string) => {
  for (const name of metricNames(expr)) {
    const family = familyOf(name, exported)
    if (family) watched.set(family, [...(watched.get(family) ?? []), where])
  }
}
for (const { file, rule } of await loadRules()) {
  readBy(rule.expr, `${file}: ${rule.alert ?? rule.record}`)
}
for (const { dashboard } of await loadDashboards()) {
  for (const q of dashboardQueries(dashboard)) readBy(q.expr, `${q.dashboard} ${q.where}`)
}

t.test('the service exports its metric families', async (t) => {
  t.ok(exported.size >= 30, `${exported.size} families`)
  for (const family of ['http_request_duration_seconds', 'sugang_login_refusals_total']) {
    t.ok(exported.has(family), `${family} is exported, with or without samples`)
  }
})

t.test(
  'every exported metric is on a dashboard, in a rule, or unwatched for a reason',
  async (t) => {
    for (const [family, type] of [...exported].sort()) {
      t.ok(
        watched.has(family) || allowed.has(family),
        `${family} (${type}) is read by a dashboard or a rule, or listed in unwatched-metrics.yml`,
      )
    }
  },
)

t.test('the allow-list holds only unwatched metrics, each with its reason', async (t) => {
  const names = allowList.flatMap((a) => a.metrics)
  t.equal(new Set(names).size, names.length, 'each metric listed once')
  for (const { metrics, reason } of allowList) {
    t.ok(metrics.length > 0, 'an entry names metrics')
    t.match(reason, /\S.{20,}/, `a reason for ${metrics.join(', ')}`)
  }
  for (const name of names) {
    t.ok(exported.has(name), `${name} is still exported`)
    t.notOk(watched.has(name), `${name} is not watched after all`, { readBy: watched.get(name) })
  }
})

t.test('the metrics the on-call issue found unwatched are watched', async (t) => {
  // Each on a dashboard or in a rule, never in the allow-list.
  for (const family of [
    'sugang_admission_batch_duration_seconds',
    'sugang_cache_repairs_total',
    'sugang_cancel_reflection_failures_total',
    'sugang_login_refusals_total',
    'sugang_watch_listeners',
    'sugang_watch_round_duration_seconds',
    'sugang_watch_updates_total',
    'sugang_confirmations',
    'sugang_confirmation_oldest_waiting_seconds',
  ]) {
    t.ok(exported.has(family), `${family} is exported`)
    t.ok(watched.has(family), `${family} is watched`, { readBy: watched.get(family) })
  }
})
