import { readFile } from 'node:fs/promises'
import { basename } from 'node:path'
import t from 'tap'
import { runbookFile } from '../src/paths.js'
import { loadRuleGroups, loadRuleTests, loadRules, ruleFiles } from './helpers/config-files.js'

const REQUIRED_ALERTS = [
  'InstanceDown',
  'HostOutOfMemory',
  'HostMemoryUnderMemoryPressure',
  'HostOutOfDiskSpace',
  'HostHighCpuLoad',
  'SugangHighErrorRate',
  'SugangHighLatency',
  'SugangQueueBacklogGrowing',
  'SugangAdmissionStalled',
  'SugangEnrolledOverCapacity',
  'SugangDependencyDown',
  'SugangAdmissionPausedTooLong',
  'SugangAdmissionThrottled',
  'SugangLoginRefusalsSurge',
  'SugangCacheRepairsAboveBaseline',
  'SugangCancellationReflectionFailing',
  'SugangWatchRoundsSlow',
  // Redis and MySQL as their exporters see them (rules/stores.yml).
  'RedisShardSaturated',
  'StoreExporterCannotRead',
  'Watchdog',
  // The SLOs' burn-rate alerts (rules/slo.yml, generated from src/slo/slos.ts).
  'SugangAvailabilityBudgetBurn',
  'SugangLatencyBudgetBurn',
  'SugangDecisionBudgetBurn',
]
/** Alerts that only inform: an operator's own decision kept in view (severity info). */
const INFORMATIONAL = new Set(['SugangAdmissionThrottled'])
const RUNBOOK_BASE = 'https://github.com/sugang/sugang/blob/main/monitoring/runbook.md#'

const rules = await loadRules()
const alerts = rules.filter((r) => r.rule.alert)
const alertNames = [...new Set(alerts.map((r) => r.rule.alert as string))]

/** GitHub's anchor for a Markdown heading. */
function anchor(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\w\- ]/g, '')
    .replace(/ /g, '-')
}

t.test('every alert the issue asks for exists', async (t) => {
  for (const name of REQUIRED_ALERTS) t.ok(alertNames.includes(name), name)
})

t.test('each rule file holds one group, named after its component file', async (t) => {
  for (const file of await ruleFiles()) {
    const groups = await loadRuleGroups(file)
    t.equal(groups.length, 1, `${basename(file)} has one group`)
    t.equal(groups[0]?.name, basename(file, '.yml'), `${basename(file)} group name`)
  }
})

t.test(
  'alerts carry for, severity, a fixed summary, a templated description, a runbook link',
  async (t) => {
    const runbook = await readFile(runbookFile, 'utf8')
    const anchors = new Set([...runbook.matchAll(/^## (.+)$/gm)].map((m) => anchor(m[1] ?? '')))
    for (const { rule } of alerts) {
      const name = rule.alert as string
      t.test(name, async (t) => {
        t.match(rule.for, /^\d+[smh]$/, 'has a for duration')
        // Watchdog pages by its absence, through CloudWatch: its severity routes it nowhere.
        const severities =
          name === 'Watchdog'
            ? ['none']
            : INFORMATIONAL.has(name)
              ? ['info']
              : ['warning', 'critical']
        t.ok(severities.includes(rule.labels?.severity ?? ''), 'severity')
        const { summary, description, runbook_url: runbookUrl } = rule.annotations ?? {}
        t.ok(summary && !summary.includes('{{'), 'summary is fixed text')
        t.ok(description?.includes('{{'), 'description is templated')
        t.equal(runbookUrl, `${RUNBOOK_BASE}${name.toLowerCase()}`, 'runbook_url')
        t.ok(anchors.has(name.toLowerCase()), `runbook.md has a "## ${name}" section`)
        t.match(rule.alert, /^[A-Z][A-Za-z]+$/, 'named <Component><Condition>')
      })
    }
  },
)

t.test('an alert name with two rules differs only in severity and threshold', async (t) => {
  for (const name of alertNames) {
    const same = alerts.filter((r) => r.rule.alert === name)
    if (same.length < 2) continue
    const severities = same.map((r) => r.rule.labels?.severity).sort()
    t.same(severities, ['critical', 'warning'], `${name}: one warning, one critical`)
    const annotations = same.map((r) => JSON.stringify(r.rule.annotations))
    t.equal(new Set(annotations).size, 1, `${name}: the same annotations`)
  }
})

t.test('recording rules are named level:metric:operation', async (t) => {
  const records = rules.filter((r) => r.rule.record)
  t.ok(records.length > 0, 'there are recording rules')
  for (const { rule } of records) {
    t.match(rule.record, /^[a-z][a-z0-9_]*:[a-z][a-z0-9_]*:[a-z][a-z0-9_]*$/, String(rule.record))
  }
})

t.test('every alert has promtool cases: quiet before it fires, then firing in full', async (t) => {
  const testFiles = await loadRuleTests()
  const cases = testFiles.flatMap((f) => f.tests.flatMap((test) => test.alert_rule_test ?? []))
  for (const name of alertNames) {
    const mine = cases.filter((c) => c.alertname === name)
    t.ok(
      mine.some((c) => (c.exp_alerts ?? []).length === 0),
      `${name}: a case where it does not fire (yet)`,
    )
    const fired = mine.flatMap((c) => c.exp_alerts ?? [])
    const severities = new Set(
      alerts.filter((r) => r.rule.alert === name).map((r) => r.rule.labels?.severity),
    )
    for (const severity of severities) {
      const full = fired.find((a) => a.exp_labels?.severity === severity)
      t.ok(full, `${name}: fires as ${severity}`)
      const keys = Object.keys(full?.exp_annotations ?? {}).sort()
      t.same(keys, ['description', 'runbook_url', 'summary'], `${name}: all annotations checked`)
    }
  }
})

t.test('every rule file has a unit test file that loads it', async (t) => {
  const testFiles = await loadRuleTests()
  const loaded = new Set(testFiles.flatMap((f) => f.rule_files.map((r) => basename(r))))
  for (const file of await ruleFiles()) t.ok(loaded.has(basename(file)), basename(file))
})
