// A run's report: one JSON document (everything) and one Markdown page (what a reader compares).
import { execFileSync } from 'node:child_process'
import { cpus, totalmem } from 'node:os'
import type { RouteStats } from './client.js'
import { percentile } from './client.js'
import type { FollowMode } from './driver.js'
import { followLabel, followOf, followSections, type FollowSummary } from './follow-report.js'
import type { FairnessAudit, InvariantReport } from './invariants.js'
import { stormSections, type FirstSecond, type LoginStormResult } from './login-storm.js'
import type { MysqlCounters, ProcessCost, RedisCost } from './probes.js'
import { round } from './probes.js'
import { redisSections, type RedisMode, type RedisShards } from './redis-shards.js'
import type { Layout, TargetKind } from './targets.js'

export interface RouteSummary {
  readonly count: number
  readonly p50: number
  readonly p90: number
  readonly p99: number
  readonly max: number
  readonly statuses: Record<string, number>
}

export interface TargetResult {
  readonly target: string
  readonly kind: TargetKind
  readonly instances: number
  /** Requests sent in the measured phase (enrollment requests; cancellations apart). */
  readonly requests: number
  /** Seconds from the first request to the last answer, and requests answered per second. */
  readonly answeredSeconds: number
  readonly answeredPerSecond: number
  /** Seconds from the first request until every student knew their result (as polled). */
  readonly decidedSeconds: number | null
  /** Seconds from the first request until the server held nothing undecided. */
  readonly serverDecidedSeconds: number | null
  readonly outcomes: Record<string, number>
  /** Enrollments committed in the measured phase. */
  readonly enrollments: number
  /** Enrollments ÷ seconds until every request was decided. */
  readonly enrollmentsPerSecond: number | null
  readonly routes: Record<string, RouteSummary>
  readonly processes: readonly ProcessCost[]
  /** How its requests were followed, and what that took (absent from reports before it was). */
  readonly following: FollowSummary
  /** The opening's first second (seed, opening, login-storm). */
  readonly firstSecond?: FirstSecond
  readonly loginStorm?: LoginStormResult
  /** --redis cluster: its Redis primary by primary over the measured window. */
  readonly redisShards?: RedisShards
  readonly redis: RedisCost & { readonly perEnrollment: number | null; readonly perRequest: number }
  readonly mysql: MysqlCounters & { readonly statementsPerEnrollment: number | null }
  readonly statusChecks: number
  readonly cancels: number
  readonly promoted: number
  /** For a design that does not decide within the window: when it would, at its own pace. */
  readonly projectedDecidedSeconds: number | null
  readonly invariants: InvariantReport
  readonly violations: number
}

export interface RunReport {
  readonly scenario: string
  readonly summary: string
  readonly size: unknown
  readonly command: string
  /** How the students followed their requests (absent from reports before it was recorded). */
  readonly follow?: FollowMode
  /** How sugang's processes were laid out (absent from reports before it was: all). */
  readonly layout?: Layout
  /** 'cluster' when sugang ran on the one Redis node and on the cluster (absent: the one node). */
  readonly redis?: RedisMode
  readonly startedAt: string
  readonly commit: string
  readonly machine: Record<string, string | number>
  readonly inFlight: number
  readonly results: TargetResult[]
}

export function summarizeRoutes(stats: RouteStats): Record<string, RouteSummary> {
  const out: Record<string, RouteSummary> = {}
  for (const [route, samples] of stats.latencies) {
    const sorted = Float64Array.from(samples).sort()
    const list = Array.from(sorted)
    out[route] = {
      count: list.length,
      p50: round(percentile(list, 50), 1),
      p90: round(percentile(list, 90), 1),
      p99: round(percentile(list, 99), 1),
      max: round(list[list.length - 1] ?? NaN, 1),
      statuses: Object.fromEntries(stats.statuses.get(route) ?? []),
    }
  }
  return out
}

function version(command: string, args: string[]): string {
  try {
    return execFileSync(command, args, { stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim()
      .split('\n')[0]!
  } catch {
    return 'unknown'
  }
}

export function machine(): Record<string, string | number> {
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGiB: round(totalmem() / 2 ** 30, 1),
    node: process.version,
    redis: version('redis-server', ['--version']),
    mariadb: version('mariadb', ['--version']),
    haproxy: version('haproxy', ['-v']),
  }
}

export function commit(): string {
  const sha = version('git', ['rev-parse', '--short=12', 'HEAD'])
  const dirty = version('git', ['status', '--porcelain', '--untracked-files=no'])
  return dirty && dirty !== 'unknown' ? `${sha} (with uncommitted changes)` : sha
}

const n = (x: number | null | undefined, digits = 0): string =>
  x === null || x === undefined || Number.isNaN(x)
    ? '–'
    : x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })

const ratio = (a: number | null, b: number | null): string =>
  a && b ? `${a / b >= 100 ? Math.round(a / b).toLocaleString('en-US') : (a / b).toFixed(2)}×` : '–'

/** Enrollments per second until every request was decided (or would be, projected). */
function eps(r: TargetResult): number | null {
  const seconds = r.projectedDecidedSeconds ?? r.decidedSeconds
  return seconds ? r.enrollments / seconds : null
}

/** The fairness record's audit in a cell: what it covered, and whether it holds. */
function fairnessCell(audit: FairnessAudit | undefined): string {
  if (!audit) return '–'
  if (audit.error !== undefined) return '**not audited**'
  const courses = (k: number) => `${n(k)} course${k === 1 ? '' : 's'}`
  const covered = `${courses(audit.courses)}, ${n(audit.entries)} entries`
  return audit.holds
    ? `holds (${covered})`
    : `**broken in ${courses(audit.brokenCourses)}** (${covered})`
}

/** Rates below 10 keep two decimals (the 10-per-second design's enrollments per second). */
const rate = (x: number | null): string => (x !== null && x < 10 ? n(x, 2) : n(x))

const LAYOUT_LABELS: Record<Layout, string> = {
  all: 'Layout all: each sugang instance is one process that takes requests and admits them.',
  split:
    'Layout split: the sugang instances take requests only (SERVICE_ROLE=door); one more process admits (SERVICE_ROLE=admission).',
}

export function markdown(report: RunReport): string {
  const lines: string[] = []
  const r0 = report.results
  const layout = report.layout ?? 'all'
  const follow = followOf(report)
  lines.push(
    `## ${report.scenario}: ${report.summary} (follow: ${follow}, layout: ${layout})`,
    '',
    LAYOUT_LABELS[layout],
    '',
  )
  lines.push(
    `Run of ${report.startedAt.slice(0, 16).replace('T', ' ')} UTC, commit ${report.commit}, ` +
      `${report.machine.cores} × ${report.machine.cpu}, Node ${report.machine.node}, ` +
      `${report.inFlight} connections from the load generator on the same machine; ` +
      `${followLabel(follow)}.`,
    '',
    '```sh',
    report.command,
    '```',
    '',
  )
  lines.push(
    '| target | requests | answered in | answers/s | decided in (students / server) | enrolled | enrollments/s | enqueue p50 / p99 ms | status p50 / p99 ms | violations |',
    '| --- | --: | --: | --: | --: | --: | --: | --: | --: | --: |',
  )
  for (const r of r0) {
    const enqueue = Object.entries(r.routes).find(([k]) => k.startsWith('POST'))?.[1]
    const status = Object.entries(r.routes).find(([k]) => k.startsWith('GET'))?.[1]
    const decided =
      r.projectedDecidedSeconds !== null
        ? `≈ ${n(r.projectedDecidedSeconds, 0)} s (projected)`
        : `${n(r.decidedSeconds, 2)} / ${n(r.serverDecidedSeconds, 2)} s`
    lines.push(
      `| ${r.target} | ${n(r.requests)} | ${n(r.answeredSeconds, 2)} s | ${n(r.answeredPerSecond)} | ${decided} | ${n(r.enrollments)} | ${r.kind === 'bare' ? '–' : rate(eps(r))} | ${enqueue ? `${n(enqueue.p50, 1)} / ${n(enqueue.p99, 1)}` : '–'} | ${status ? `${n(status.p50, 1)} / ${n(status.p99, 1)}` : '–'} | ${r.violations} |`,
    )
  }
  lines.push('')
  const sugang = r0.find((r) => r.kind === 'sugang' && r.instances === 1)
  if (sugang) {
    const ratios: string[] = []
    for (const other of r0) {
      if (other === sugang) continue
      if (other.kind === 'bare') {
        ratios.push(
          `- answers per second, ${sugang.target} ÷ ${other.target}: **${ratio(sugang.answeredPerSecond, other.answeredPerSecond)}**`,
        )
      } else if (other.kind === 'sugang') {
        ratios.push(
          `- ${other.target} ÷ ${sugang.target}: answers per second **${ratio(other.answeredPerSecond, sugang.answeredPerSecond)}**, enrollments per second **${ratio(eps(other), eps(sugang))}**`,
        )
      } else {
        ratios.push(
          `- enrollments per second until all decided, ${sugang.target} ÷ ${other.target}: **${ratio(eps(sugang), eps(other))}**`,
        )
      }
    }
    if (ratios.length > 0) lines.push('Ratios (same run):', '', ...ratios, '')
  }
  lines.push(...stormSections(r0))
  lines.push(...redisSections(r0))
  lines.push(...followSections(r0))
  lines.push(
    'Cost of the measured phase, per process (CPU in cores busy on average; RSS at its highest):',
    '',
    '| target | ' + 'process | CPU s | cores | max RSS MiB |',
    '| --- | --- | --: | --: | --: |',
  )
  for (const r of r0) {
    for (const p of r.processes) {
      lines.push(
        `| ${r.target} | ${p.name} | ${n(p.cpuSeconds, 1)} | ${n(p.cores, 2)} | ${n(p.maxRssMiB, 0)} |`,
      )
    }
  }
  lines.push(
    '',
    '| target | Redis commands / enrollment (script calls) | Redis commands / request | MySQL statements / enrollment | commits | row-lock waits | status checks | cancels | promoted |',
    '| --- | --: | --: | --: | --: | --: | --: | --: | --: |',
  )
  for (const r of r0) {
    lines.push(
      `| ${r.target} | ${n(r.redis.perEnrollment, 1)} (${n(r.redis.scriptCalls)}) | ${n(r.redis.perRequest, 1)} | ${n(r.mysql.statementsPerEnrollment, 1)} | ${n(r.mysql.Com_commit)} | ${n(r.mysql.Innodb_row_lock_waits)} | ${n(r.statusChecks)} | ${n(r.cancels)} | ${n(r.promoted)} |`,
    )
  }
  lines.push(
    '',
    '| target | oversold | `enrolled` ≠ rows | duplicates | lost | rows told otherwise | forgotten | unfair | wrong positions | idle seats | stuck | errors | fairness record (sugang audit fairness) |',
    '| --- | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: | --- |',
  )
  for (const r of r0) {
    const i = r.invariants
    lines.push(
      `| ${r.target} | ${i.oversold} | ${i.enrolledColumnOff} | ${i.duplicates} | ${i.lostEnrollments} | ${i.untoldEnrollments} | ${i.forgotten} | ${i.unfair} | ${i.wrongPositions} | ${i.idleSeats} | ${i.stuck} | ${i.errors} | ${fairnessCell(i.fairness)} |`,
    )
  }
  const examples = r0.flatMap((r) => r.invariants.examples.map((e) => `- ${r.target}: ${e}`))
  if (examples.length > 0) lines.push('', 'Violations found:', '', ...examples)
  lines.push('')
  return lines.join('\n')
}
