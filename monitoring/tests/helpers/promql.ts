import { parser } from '@prometheus-io/lezer-promql'

export interface Selector {
  /** The metric name, or null for a selector by labels only. */
  readonly metric: string | null
  /** Label names used in the selector's matchers. */
  readonly labels: readonly string[]
}

export interface Analysis {
  readonly selectors: readonly Selector[]
  /** Offsets of syntax errors; empty when the expression parses. */
  readonly errors: readonly number[]
}

/**
 * Reads a PromQL expression with the grammar of Prometheus's own web UI, to find the metric and
 * label names it selects. promtool stays the judge of validity; this only has to agree with it
 * on expressions that are valid.
 */
export function analysePromql(expr: string): Analysis {
  const tree = parser.parse(expr)
  const selectors: Selector[] = []
  const errors: number[] = []
  const text = (from: number, to: number): string => expr.slice(from, to)
  tree.iterate({
    enter(ref) {
      if (ref.type.isError) {
        errors.push(ref.from)
        return
      }
      if (ref.name !== 'VectorSelector') return
      const node = ref.node
      const identifier = node.getChild('Identifier')
      const matchers = node.getChild('LabelMatchers')
      const labels = (matchers ? matchers.getChildren('UnquotedLabelMatcher') : []).flatMap((m) => {
        const name = m.getChild('LabelName')
        return name ? [text(name.from, name.to)] : []
      })
      selectors.push({
        metric: identifier ? text(identifier.from, identifier.to) : null,
        labels,
      })
    },
  })
  return { selectors, errors }
}

/** Metric names an expression reads, without duplicates. */
export function metricNames(expr: string): string[] {
  const names = analysePromql(expr).selectors.flatMap((s) => (s.metric ? [s.metric] : []))
  return [...new Set(names)]
}
