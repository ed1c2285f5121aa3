/** Metric family name → its type (counter, gauge, histogram, summary, untyped). */
export type Families = Map<string, string>

const TYPE = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (\w+)$/

/**
 * The metric families of a scrape, from its `# TYPE` lines: a labelled counter that has not
 * counted anything yet has no sample, but is exported all the same.
 */
export function exportedFamilies(text: string, into: Families = new Map()): Families {
  for (const line of text.split('\n')) {
    const match = TYPE.exec(line)
    if (match?.[1] && match[2]) into.set(match[1], match[2])
  }
  return into
}

const SUFFIXES: Record<string, readonly string[]> = {
  histogram: ['_bucket', '_count', '_sum'],
  summary: ['_count', '_sum'],
}

/** The family a series name selects (`x_bucket` of histogram `x` is x), if it is one of them. */
export function familyOf(series: string, families: Families): string | undefined {
  if (families.has(series)) return series
  for (const [family, type] of families) {
    for (const suffix of SUFFIXES[type] ?? []) {
      if (series === `${family}${suffix}`) return family
    }
  }
  return undefined
}
