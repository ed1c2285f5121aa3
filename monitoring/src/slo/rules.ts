import {
  FOR,
  PAGE,
  SLOS,
  TICKET,
  budget,
  percent,
  type BurnWindows,
  type Slo,
  type Window,
} from './slos.js'

/** Where every alert's runbook section is (tests/rules.test.ts checks the base). */
export const RUNBOOK_BASE = 'https://github.com/sugang/sugang/blob/main/monitoring/runbook.md#'

/** The windows some alert reads, shortest first. */
export function windows(): Window[] {
  const seconds = (w: Window) => Number.parseFloat(w) * (w.endsWith('h') ? 3600 : 60)
  const all = new Set([...PAGE, ...TICKET].flatMap((p) => [p.long, p.short]))
  return [...all].sort((a, b) => seconds(a) - seconds(b))
}

/** The recorded error ratio of an objective over a window. */
export function errorRatio(slo: Slo, window: Window): string {
  return `job:sugang_slo_${slo.name}_errors:ratio_rate${window}`
}

/** The recorded event rate of an event-based objective over a window. */
export function eventRate(slo: Slo, window: Window): string {
  return `job:sugang_slo_${slo.name}_events:rate${window}`
}

interface RuleText {
  readonly comment?: string
  readonly fields: ReadonlyArray<readonly [string, string | Readonly<Record<string, string>>]>
}

/** Selectors summed together per job over a window; `or` keeps what one of them lacks. */
function sumOfRates(selectors: readonly string[], window: Window): string {
  const rates = selectors.map((s) => `rate(${s}[${window}])`)
  if (rates.length === 1) return `sum by (job) (${rates[0]})`
  return `sum by (job) (\n  ${rates.join('\n  or\n  ')}\n)`
}

function eventRules(slo: Slo): RuleText[] {
  const { indicator } = slo
  const out: RuleText[] = []
  for (const window of windows()) {
    out.push({
      fields: [
        ['record', eventRate(slo, window)],
        ['expr', `sum by (job) (rate(${indicator.total}[${window}]))`],
      ],
    })
    const ratio = indicator.bad
      ? `${sumOfRates(indicator.bad, window)}\n/ on (job) ${eventRate(slo, window)}`
      : `1 - (\n${indent(sumOfRates(indicator.good ?? [], window))}\n  / on (job) ${eventRate(slo, window)}\n)`
    out.push({
      fields: [
        ['record', errorRatio(slo, window)],
        ['expr', ratio],
      ],
    })
  }
  return out
}

function indent(text: string, by = '  '): string {
  return text
    .split('\n')
    .map((l) => by + l)
    .join('\n')
}

/** One pair's condition: both windows over the threshold, with enough traffic to mean it. */
function pairCondition(slo: Slo, pair: BurnWindows): string {
  const b = budget(slo)
  const lines = [
    `${errorRatio(slo, pair.long)} / ${b} > ${pair.burn}`,
    `and on (job) ${errorRatio(slo, pair.short)} / ${b} > ${pair.burn}`,
  ]
  lines.push(`and on (job) ${eventRate(slo, pair.short)} >= ${slo.indicator.floorPerSecond}`)
  return lines.join('\n')
}

function alertRule(slo: Slo, severity: 'critical' | 'warning'): RuleText {
  const pairs = severity === 'critical' ? PAGE : TICKET
  const expr =
    pairs.length === 1
      ? pairCondition(slo, pairs[0] as BurnWindows)
      : pairs.map((p) => `(\n${indent(pairCondition(slo, p))}\n)`).join('\nor\n')
  const described = pairs.map((p) => `${p.long}/${p.short} at ${p.burn}x`).join(', or ')
  return {
    comment: `${severity === 'critical' ? 'Page' : 'Ticket'}: the budget burns over ${described}.`,
    fields: [
      ['alert', slo.alert],
      ['expr', expr],
      ['for', severity === 'critical' ? FOR.page : FOR.ticket],
      ['labels', { severity }],
      [
        'annotations',
        {
          summary: slo.summary,
          description: slo.description,
          runbook_url: `${RUNBOOK_BASE}${slo.alert.toLowerCase()}`,
        },
      ],
    ],
  }
}

/** A YAML scalar: plain where it can be, a literal block for PromQL, a folded one for prose. */
function scalar(key: string, value: string, depth: number): string {
  const pad = ' '.repeat(depth)
  const width = 100 - depth - 2
  if (key === 'expr' && (value.includes('\n') || value.length > width - 6)) {
    const lines = value.split('\n').flatMap((l) => wrapPromql(l, width))
    return `${pad}${key}: |-\n${indent(lines.join('\n'), `${pad}  `)}`
  }
  if (key === 'description') {
    return `${pad}${key}: >-\n${fold(value, width)
      .map((l) => `${pad}  ${l}`)
      .join('\n')}`
  }
  const plain = /^[\w$][^'"]*$/.test(value) && !/: | #|^\d+$|^(true|false|null)$/.test(value)
  return `${pad}${key}: ${plain ? value : `'${value.replaceAll("'", "''")}'`}`
}

/**
 * A line of PromQL longer than `width` broken after the commas between label matchers, each
 * continuation two spaces deeper (PromQL does not mind where the spaces are).
 */
function wrapPromql(line: string, width: number): string[] {
  if (line.length <= width) return [line]
  const deeper = `${/^ */.exec(line)?.[0] ?? ''}  `
  const out: string[] = []
  let rest = line
  while (rest.length > width) {
    const cut = rest.lastIndexOf(', ', width - 1)
    if (cut <= deeper.length) break
    out.push(rest.slice(0, cut + 1))
    rest = deeper + rest.slice(cut + 2)
  }
  out.push(rest)
  return out
}

/**
 * Words into lines of at most `width` characters (a longer word gets a line of its own); a
 * template action (`{{ ... }}`) is kept on one line.
 */
function fold(text: string, width: number): string[] {
  const words = text.match(/\{\{.*?\}\}|[^ ]+/g) ?? []
  const lines: string[] = []
  let line = ''
  for (const word of words) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line)
      line = word
    } else {
      line = line ? `${line} ${word}` : word
    }
  }
  if (line) lines.push(line)
  return lines
}

function renderRule(rule: RuleText): string {
  const out: string[] = []
  if (rule.comment) out.push(...rule.comment.split('\n').map((l) => `      # ${l}`))
  rule.fields.forEach(([key, value], i) => {
    const first = i === 0 ? '      - ' : '        '
    if (typeof value === 'string') {
      out.push(first + scalar(key, value, 8).trimStart())
    } else {
      out.push(`${first}${key}:`)
      for (const [k, v] of Object.entries(value)) out.push(scalar(k, v, 10))
    }
  })
  return out.join('\n')
}

const HEADER = `# Generated from src/slo/slos.ts by \`npx tsx src/slo/generate.ts\` (in monitoring/): edit
# those, never this file; tests/slo.test.ts checks that the two agree. docs/slo.md explains the
# objectives, what counts as good, and the windows.
#
# For each objective: the error ratio over every window (job:sugang_slo_<name>_errors:ratio_*),
# then one alert that pages (severity critical) while the budget burns fast over a short pair of
# windows and opens a ticket (severity warning) while it burns over a long pair. Recording rules
# come first: a group evaluates its rules in order, so the alerts see this evaluation's ratios.`

/** The text of prometheus/rules/slo.yml. */
export function renderSloRules(slos: readonly Slo[] = SLOS): string {
  const sections: string[] = []
  for (const slo of slos) {
    const b = budget(slo)
    const title = `${slo.title}: ${percent(slo.objective)} good, a budget of ${percent(b)}.`
    const rules = eventRules(slo)
    sections.push(
      [
        `      # ${title}\n${renderRule(rules[0] as RuleText)}`,
        ...rules.slice(1).map(renderRule),
        renderRule(alertRule(slo, 'critical')),
        renderRule(alertRule(slo, 'warning')),
      ].join('\n\n'),
    )
  }
  return `${HEADER}\ngroups:\n  - name: slo\n    rules:\n${sections.join('\n\n')}\n`
}
