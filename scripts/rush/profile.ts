// Reads a V8 CPU profile (`node --cpu-prof`, e.g. BENCH_SERVICE_NODE_ARGS=--cpu-prof) and says
// where the time went: the functions with the most self time, and the same time by area (the
// service's own code, each dependency, Node itself, the collector). This is the table the rush
// reports in docs/benchmarks.md carry before and after a change.
//
//   node --import tsx scripts/rush/profile.ts <file.cpuprofile> [--top 25]
import { readFileSync } from 'node:fs'
import { pathToFileURL } from 'node:url'

interface CallFrame {
  readonly functionName: string
  readonly url: string
  readonly lineNumber: number
}

interface ProfileNode {
  readonly id: number
  readonly callFrame: CallFrame
}

/** The parts of a `.cpuprofile` this reads. */
export interface CpuProfile {
  readonly nodes: readonly ProfileNode[]
  readonly samples?: readonly number[]
  readonly timeDeltas?: readonly number[]
  readonly startTime: number
  readonly endTime: number
}

export interface Entry {
  readonly name: string
  /** Self time in milliseconds, and as a share of all sampled time (idle included). */
  readonly ms: number
  readonly share: number
}

export interface ProfileSummary {
  readonly totalMs: number
  readonly idleMs: number
  readonly functions: readonly Entry[]
  readonly areas: readonly Entry[]
}

/** Which part of the program a frame belongs to: a dependency by its package, or ours, or Node. */
export function areaOf(frame: CallFrame): string {
  const { url, functionName } = frame
  if (functionName === '(garbage collector)') return 'garbage collector'
  if (functionName === '(idle)') return 'idle'
  if (functionName === '(program)') return 'V8 and native code'
  if (url === '') return 'native'
  if (url.startsWith('node:')) return 'Node'
  const pkg = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)
  if (pkg) return pkg[1] as string
  // The sources (tests), the image's build (dist) or the benchmark's own build of them.
  const ours = /\/service\/(?:src|dist|\.bench-build)\/(.*?)(?:\.[jt]s)?$/.exec(url)
  if (ours) return `sugang ${(ours[1] as string).split('/').slice(0, -1).join('/') || '.'}`
  return 'other'
}

function frameName(frame: CallFrame): string {
  const file = frame.url.replace(/^.*\/node_modules\//, '').replace(/^.*\/service\//, 'service/')
  const where = file ? ` ${file.replace(/^file:\/\//, '')}:${frame.lineNumber + 1}` : ''
  return `${frame.functionName || '(anonymous)'}${where}`
}

function top(totals: Map<string, number>, totalMs: number, n: number): Entry[] {
  return [...totals.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([name, ms]) => ({ name, ms: Math.round(ms), share: totalMs > 0 ? ms / totalMs : 0 }))
}

/** Self time per function and per area; each sample is charged the time until the next one. */
export function summarize(profile: CpuProfile, n = 25): ProfileSummary {
  const byId = new Map(profile.nodes.map((node) => [node.id, node.callFrame]))
  const samples = profile.samples ?? []
  const deltas = profile.timeDeltas ?? []
  const functions = new Map<string, number>()
  const areas = new Map<string, number>()
  let totalUs = 0
  let idleUs = 0
  for (let i = 0; i < samples.length; i += 1) {
    const frame = byId.get(samples[i] as number)
    // timeDeltas[i] is the time before sample i; the time a sample stands for is the next delta.
    const us = Math.max(0, deltas[i + 1] ?? 0)
    if (!frame) continue
    totalUs += us
    const area = areaOf(frame)
    if (area === 'idle') {
      idleUs += us
      continue
    }
    const name = frameName(frame)
    functions.set(name, (functions.get(name) ?? 0) + us / 1000)
    areas.set(area, (areas.get(area) ?? 0) + us / 1000)
  }
  const totalMs = totalUs / 1000
  return {
    totalMs: Math.round(totalMs),
    idleMs: Math.round(idleUs / 1000),
    functions: top(functions, totalMs, n),
    areas: top(areas, totalMs, n),
  }
}

function pct(share: number): string {
  return `${(share * 100).toFixed(1)} %`
}

/** The summary as two Markdown tables. */
export function renderSummary(summary: ProfileSummary): string {
  const busy = summary.totalMs - summary.idleMs
  const lines = [
    `Sampled ${summary.totalMs} ms, of which ${busy} ms busy (${pct(busy / Math.max(1, summary.totalMs))}).`,
    '',
    '| area | self ms | share |',
    '| --- | ---: | ---: |',
    ...summary.areas.map((e) => `| ${e.name} | ${e.ms} | ${pct(e.share)} |`),
    '',
    '| function | self ms | share |',
    '| --- | ---: | ---: |',
    ...summary.functions.map((e) => `| \`${e.name}\` | ${e.ms} | ${pct(e.share)} |`),
  ]
  return `${lines.join('\n')}\n`
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [file, flag, count] = process.argv.slice(2)
  if (!file) {
    console.error('usage: node --import tsx scripts/rush/profile.ts <file.cpuprofile> [--top N]')
    process.exit(2)
  }
  const n = flag === '--top' ? Number(count) : 25
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile
  process.stdout.write(renderSummary(summarize(profile, n)))
}
