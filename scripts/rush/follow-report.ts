// How the students followed their requests to a decision, in a run's report: by event stream, by
// polling, or not at all; what the streams cost the load generator and the service.
import type { FollowStats } from './client.js'
import type { FollowMode } from './driver.js'
import type { ProcessCost } from './probes.js'
import { round } from './probes.js'

export interface FollowSummary {
  /** How this target's requests were followed (only sugang has streams: naive is polled). */
  readonly mode: FollowMode
  readonly streamsOpened: number
  /** Streams that replaced the student's previous one (its requests changed, or it failed). */
  readonly streamsReopened: number
  /** Refused (429, 503), broken, not answered within 8 s, or `unavailable`. */
  readonly streamFailures: number
  /** Of those, refused: answered with something else than 200. */
  readonly streamsRefused: number
  /** Not opened: the load generator had no descriptor (or proxy connection) to spare; polled. */
  readonly streamsDeferred: number
  readonly peakOpenStreams: number
  /** `request` events received. */
  readonly events: number
  /** Status polls sent to follow requests (in `stream` mode: the fallback's). */
  readonly polls: number
  /** In `stream` mode: requests whose decision a stream delivered, and the fallback's polls. */
  readonly decidedByStream: number
  readonly decidedByPoll: number
  /** Seconds from the first request to the last decision that arrived on a stream. */
  readonly lastStreamDecisionSeconds: number | null
  /** The service's processes' highest RSS in the measured phase, summed: with its streams open. */
  readonly serviceMaxRssMiB: number
}

export function summarizeFollowing(
  mode: FollowMode,
  stats: FollowStats,
  t0: number,
  service: readonly ProcessCost[],
): FollowSummary {
  return {
    mode,
    streamsOpened: stats.streamsOpened,
    streamsReopened: stats.streamsReopened,
    streamFailures: stats.streamFailures,
    streamsRefused: stats.streamsRefused,
    streamsDeferred: stats.streamsDeferred,
    peakOpenStreams: stats.peakOpenStreams,
    events: stats.events,
    polls: stats.polls,
    decidedByStream: stats.decidedByStream,
    decidedByPoll: stats.decidedByPoll,
    lastStreamDecisionSeconds:
      stats.lastStreamDecisionAt === null
        ? null
        : round((stats.lastStreamDecisionAt - t0) / 1000, 3),
    serviceMaxRssMiB: round(
      service.reduce((sum, p) => sum + p.maxRssMiB, 0),
      1,
    ),
  }
}

const LABELS: Record<FollowMode, string> = {
  stream: 'students follow their requests by event stream (GET /me/events), as the page does',
  poll: 'students follow their requests by polling (1 s, ×1.5, at most 10 s), as the page does without its stream',
  none: 'nobody follows their requests (the door alone): decisions are timed on the server',
}

export function followLabel(mode: FollowMode): string {
  return LABELS[mode]
}

/** The mode of a report written before the mode was recorded: polling, unless --no-follow. */
export function followOf(report: {
  readonly follow?: FollowMode
  readonly command: string
}): FollowMode {
  return report.follow ?? (report.command.includes('--no-follow') ? 'none' : 'poll')
}

const n = (x: number | null | undefined, digits = 0): string =>
  x === null || x === undefined || Number.isNaN(x)
    ? '–'
    : x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })

/** A table of how each target's requests were followed (none when nobody followed any). */
export function followSections(
  results: ReadonlyArray<{ readonly target: string; readonly following?: FollowSummary }>,
): string[] {
  const followed = results.filter((r) => r.following && r.following.mode !== 'none')
  if (followed.length === 0) return []
  const lines = [
    'How the students followed their requests (the last decision is the last one a stream delivered; RSS of the service at its highest, its streams open):',
    '',
    '| target | follow | streams opened (reopened) | failed (refused) | deferred | most open at once | events | polls | decided by stream / by poll | last decision on a stream | service max RSS MiB |',
    '| --- | --- | --: | --: | --: | --: | --: | --: | --: | --: | --: |',
  ]
  for (const r of followed) {
    const f = r.following!
    const stream = f.mode === 'stream' ? `${n(f.decidedByStream)} / ${n(f.decidedByPoll)}` : '–'
    const last =
      f.lastStreamDecisionSeconds === null ? '–' : `${n(f.lastStreamDecisionSeconds, 2)} s`
    lines.push(
      `| ${r.target} | ${f.mode} | ${n(f.streamsOpened)} (${n(f.streamsReopened)}) | ${n(f.streamFailures)} (${n(f.streamsRefused)}) | ${n(f.streamsDeferred)} | ${n(f.peakOpenStreams)} | ${n(f.events)} | ${n(f.polls)} | ${stream} | ${last} | ${n(f.serviceMaxRssMiB)} |`,
    )
  }
  lines.push('')
  return lines
}
