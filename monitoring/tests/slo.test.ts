import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { repoRoot, rulesDir } from '../src/paths.js'
import { renderSloRules } from '../src/slo/rules.js'
import { PAGE, SLOS, TICKET, budget, percent } from '../src/slo/slos.js'
import { loadRuleGroups } from './helpers/config-files.js'

// The SLOs are data (src/slo/slos.ts); prometheus/rules/slo.yml is generated from them. Whether
// the rules fire and resolve as designed is proven by promtool on prometheus/tests/slo.test.yml
// (tests/promtool.test.ts runs every file there).

const ruleFile = join(rulesDir, 'slo.yml')

t.test('the committed rule file is what src/slo/generate.ts writes', async (t) => {
  const committed = await readFile(ruleFile, 'utf8')
  t.equal(committed, renderSloRules(), 'run `npx tsx src/slo/generate.ts` in monitoring/')
})

t.test('each objective has one alert: a page and a ticket, on its own error ratios', async (t) => {
  const [group] = await loadRuleGroups(ruleFile)
  const rules = group?.rules ?? []
  for (const slo of SLOS) {
    const mine = rules.filter((r) => r.alert === slo.alert)
    t.same(mine.map((r) => r.labels?.severity).sort(), ['critical', 'warning'], slo.alert)
    for (const rule of mine) {
      const pairs = rule.labels?.severity === 'critical' ? PAGE : TICKET
      const ratios = [...rule.expr.matchAll(/job:sugang_slo_(\w+)_errors:ratio_\w+/g)]
      t.ok(ratios.length >= pairs.length * 2, `${slo.alert}: two windows per pair`)
      t.ok(
        ratios.every((m) => m[1] === slo.name),
        `${slo.alert} reads the ratios of its own objective only`,
      )
    }
  }
})

t.test('every threshold can be reached, and pages burn faster than tickets', async (t) => {
  for (const slo of SLOS) {
    // An error ratio is at most 1: a burn rate above 1 / budget could never fire.
    for (const pair of [...PAGE, ...TICKET]) {
      t.ok(pair.burn * budget(slo) < 1, `${slo.name}: ${pair.long}/${pair.short} at ${pair.burn}x`)
    }
  }
  const slowestPage = Math.min(...PAGE.map((p) => p.burn))
  t.ok(
    TICKET.every((p) => p.burn < slowestPage),
    'a ticket fires below every page',
  )
  // A rush lasts minutes: the fastest page must see one within its first minutes.
  t.ok(
    PAGE.some((p) => p.long === '5m' && p.short === '1m'),
    'a 5m/1m pair pages a ten-minute opening',
  )
})

t.test('docs/slo.md states every objective, alert and pair of windows', async (t) => {
  const doc = await readFile(join(repoRoot, 'docs/slo.md'), 'utf8')
  for (const slo of SLOS) {
    t.ok(doc.includes(slo.alert), slo.alert)
    t.ok(doc.includes(percent(slo.objective)), `${slo.name}: ${percent(slo.objective)}`)
  }
  for (const pair of [...PAGE, ...TICKET]) {
    t.ok(doc.includes(`${pair.long} / ${pair.short}`), `${pair.long} / ${pair.short}`)
    t.ok(doc.includes(`${pair.burn}×`), `burn rate ${pair.burn}×`)
  }
})
