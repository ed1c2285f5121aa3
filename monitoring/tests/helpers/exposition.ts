/** Sample name → the label names seen on its samples, from Prometheus text exposition. */
export type Exported = Map<string, Set<string>>

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+\S+/
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="(?:[^"\\]|\\.)*"/g

/** Adds the samples of one scrape to `into` (a union over several scrapes). */
export function collectExposition(text: string, into: Exported = new Map()): Exported {
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line.trim() === '') continue
    const match = SAMPLE.exec(line)
    if (!match?.[1]) throw new Error(`not a sample line: ${line}`)
    const labels = into.get(match[1]) ?? new Set<string>()
    for (const label of (match[3] ?? '').matchAll(LABEL)) if (label[1]) labels.add(label[1])
    into.set(match[1], labels)
  }
  return into
}
