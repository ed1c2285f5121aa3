// Turns the results the fault suite appends to FAULT_REPORT (one JSON object a line) into the
// Markdown table of docs/reliability.md:
//   FAULT_REPORT=/tmp/faults.jsonl npm run test:faults
//   npx tsx service/test/faults/report.ts /tmp/faults.jsonl
import { readFileSync } from 'node:fs'
import type { ScenarioResult } from './scenarios.js'

const file = process.argv[2]
if (!file) {
  console.error('usage: report.ts <results.jsonl>')
  process.exit(2)
}
const results = readFileSync(file, 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((line) => JSON.parse(line) as ScenarioResult)

/** The answers other than plain successes, most frequent first. */
function unusual(statuses: Record<string, number>): string {
  const parts = Object.entries(statuses)
    .filter(([label]) => !/^20[024]$/.test(label))
    .sort((a, b) => b[1] - a[1])
    .map(([label, n]) => `${n} × ${label}`)
  return parts.length ? parts.join('; ') : 'only 200/202/204'
}

/** The invariants' column: what was audited when everything holds, else the first breaks. */
function verdict(violations: readonly string[], fairnessEntries: number | undefined): string {
  if (violations.length > 0) {
    return `**${violations.length} broken**: ${violations.slice(0, 3).join('; ')}`
  }
  // Results written before the fairness record was audited have no count.
  return fairnessEntries === undefined
    ? 'all hold'
    : `all hold (fairness record: ${fairnessEntries} entries)`
}

const rows = results.map(({ fault, findings: { summary: s, violations } }) =>
  [
    fault,
    String(s.calls),
    unusual(s.statuses),
    `${s.slowestMs} ms`,
    String(s.heldByFrozenInstance),
    `${s.logins} / ${s.resubmits}`,
    `${s.enrolled} / ${s.waitlisted} / ${s.rejected} / ${s.cancelled}`,
    verdict(violations, s.fairnessEntries as number | undefined),
  ].join(' | '),
)
console.log(
  [
    '| fault | HTTP calls | what clients saw besides 2xx | slowest answer | held by a frozen instance | logins / lost requests re-sent | told enrolled / waitlisted / rejected / cancelled | invariants |',
    '|---|---|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r} |`),
  ].join('\n'),
)
