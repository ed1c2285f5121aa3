import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { stringify } from 'yaml'
import { dashboardQueries, loadDashboards, loadRules } from './helpers/config-files.js'
import { analysePromql } from './helpers/promql.js'
import { runTool } from './helpers/tools.js'

const rules = await loadRules()
const dashboards = await loadDashboards()
const dashboardExprs = dashboards.flatMap(({ dashboard }) => dashboardQueries(dashboard))
const everyExpr = [
  ...rules.map((r) => ({
    where: `${r.file}: ${r.rule.alert ?? r.rule.record}`,
    expr: r.rule.expr,
  })),
  ...dashboardExprs.map((q) => ({ where: `${q.dashboard}: ${q.where}`, expr: q.expr })),
]

t.test('dashboards have queries, with every Grafana variable filled in', async (t) => {
  t.ok(dashboardExprs.length >= 30, `${dashboardExprs.length} dashboard queries`)
  for (const { where, expr } of dashboardExprs) t.notMatch(expr, /\$|\[\[/, where)
})

t.test('every dashboard expression parses with promtool', async (t) => {
  // promtool has no bare "parse this expression" command; it parses every expression of a rule
  // file, so the dashboards' queries become recording rules of a throwaway file.
  const dir = await mkdtemp(join(tmpdir(), 'sugang-promql-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const file = join(dir, 'dashboards.yml')
  const records = dashboardExprs.map((q, i) => ({ record: `dashboard:query:n${i}`, expr: q.expr }))
  await writeFile(file, stringify({ groups: [{ name: 'dashboards', rules: records }] }))
  const { code, output } = await runTool('promtool', ['check', 'rules', file])
  const failed = [...output.matchAll(/rule (\d+),/g)].map((m) => dashboardExprs[Number(m[1]) - 1])
  t.equal(code, 0, 'promtool check rules exits 0', { output, failed })
  t.match(output, new RegExp(`SUCCESS: ${records.length} rules found`))
})

t.test("the PromQL grammar of Prometheus's UI reads every expression without error", async (t) => {
  for (const { where, expr } of everyExpr) {
    const { errors, selectors } = analysePromql(expr)
    t.same(errors, [], where, { expr })
    // The Watchdog's constant is the one expression that is meant to select nothing.
    if (where !== 'watchdog.yml: Watchdog') t.ok(selectors.length > 0, `${where} selects series`)
    else t.equal(expr, 'vector(1)', 'the Watchdog always fires')
  }
})

t.test('the grammar check does catch a broken expression', async (t) => {
  t.not(analysePromql('sum(rate(http_request_duration_seconds_count[1m])').errors.length, 0)
  t.not(analysePromql('rate(x{job="a"}[1m]) by (job)').errors.length, 0)
})
