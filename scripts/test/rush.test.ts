import t, { type Test } from 'tap'
import { bench, type BenchOptions } from '../rush/main.js'
import type { TargetResult } from '../rush/report.js'
import { scenarios, type ScenarioName } from '../rush/scenarios.js'

// The benchmark's scenarios at a small size, against real MariaDB, Redis and HAProxy: every
// invariant must hold for sugang (one instance and several behind the proxy) and the baselines,
// and each scenario must have done what it is there to do.

function small(
  scenario: ScenarioName,
  options: Partial<BenchOptions> = {},
): Promise<Awaited<ReturnType<typeof bench>>> {
  return bench({
    scenario,
    size: scenarios[scenario].small,
    instances: [1],
    baselines: [],
    inFlight: 64,
    deadlineMs: 120_000,
    baselineWindowMs: 3_000,
    command: `test ${scenario}`,
    log: () => {},
    ...options,
  })
}

function noViolations(t: Test, results: readonly TargetResult[]): void {
  for (const r of results) {
    t.same(r.invariants.examples, [], `${r.target}: no example of a violation`)
    t.equal(r.violations, 0, `${r.target}: no invariant broken`)
  }
}

const seats = (r: TargetResult): number => r.outcomes.enrolled ?? 0

t.test(
  'seed: one course, many students; 1 and 2 instances, twice, and the naive design',
  async (t) => {
    const size = scenarios.seed.small
    const report = await small('seed', { instances: [1, 2], repeat: 2, baselines: ['naive'] })
    t.equal(report.results.length, 5)
    noViolations(t, report.results)
    for (const r of report.results) {
      t.equal(seats(r), size.capacity[0], `${r.target}: every seat taken, no more`)
      t.equal(
        r.outcomes['rejected COURSE_FULL'],
        size.students - size.capacity[0],
        `${r.target}: everyone else told the course is full`,
      )
      t.ok(r.decidedSeconds !== null, `${r.target}: every request decided`)
    }
    t.ok(report.results.some((r) => r.instances === 2))
  },
)

t.test(
  'opening: many over-subscribed courses; sugang, naive and 10 per second agree',
  async (t) => {
    const report = await small('opening', {
      instances: [1, 3],
      baselines: ['naive', 'ten-per-second', 'bare'],
      follow: 'poll',
    })
    noViolations(t, report.results)
    const [one, three, naive, tps, bare] = report.results
    t.ok(one && three && naive && tps && bare)
    // The same requests against the same seats: every design that decides fills the same seats.
    t.equal(seats(three!), seats(one!), 'three instances seat as many as one')
    t.equal(seats(naive!), seats(one!), 'the naive design seats as many as sugang')
    t.ok(
      seats(one!) > 0 && (one!.outcomes['rejected COURSE_FULL'] ?? 0) > 0,
      'courses over-subscribed',
    )
    // How far it got in its window depends on the machine's speed: only what it seated is asserted.
    t.ok(tps!.enrollments <= seats(one!), 'the 10-per-second design seats no more than the others')
    t.ok(tps!.projectedDecidedSeconds !== null, 'its finish is projected from its own pace')
    t.equal(bare!.enrollments, 0)
    for (const r of [one!, three!]) {
      t.ok(r.redis.scriptCalls > 0 && r.mysql.Com_commit > 0, `${r.target}: costs measured`)
      t.ok(r.processes.some((p) => p.name.startsWith('sugang') && p.cpuSeconds > 0))
    }
    t.ok(
      three!.processes.some((p) => p.name === 'haproxy'),
      'three instances sit behind the proxy',
    )
    t.equal(report.follow, 'poll')
    t.ok(one!.following.polls > 0 && one!.following.streamsOpened === 0, 'students polled')
  },
)

t.test('opening, followed by the event stream: every decision arrives on a stream', async (t) => {
  const report = await small('opening', { instances: [1, 2], follow: 'stream' })
  t.equal(report.follow, 'stream')
  noViolations(t, report.results)
  for (const r of report.results) {
    const f = r.following
    t.ok(r.decidedSeconds !== null, `${r.target}: every request decided`)
    t.equal(r.outcomes.queued, undefined, `${r.target}: none left queued`)
    t.equal(f.mode, 'stream')
    t.ok(f.streamsOpened > 0, `${r.target}: ${f.streamsOpened} streams opened`)
    t.ok(f.events > 0, `${r.target}: ${f.events} events received`)
    t.ok(f.decidedByStream > 0, `${r.target}: ${f.decidedByStream} decisions came on a stream`)
    t.ok(f.lastStreamDecisionSeconds !== null, `${r.target}: the last decision on a stream timed`)
    // A stream may fail on a busy machine (refused with 503 and Retry-After, or not open within
    // the page's 8 s): its student then polls until the stream is back, as the page does, and
    // every request is still decided (above). A run where none failed polls nothing.
    if (f.streamFailures === 0 && f.streamsDeferred === 0) {
      t.equal(f.polls, 0, `${r.target}: a healthy run polls nothing`)
      t.equal(f.decidedByPoll, 0)
      t.equal(r.routes['GET /enrollment-requests/:id'], undefined, `${r.target}: no status asked`)
    } else {
      t.comment(
        `${r.target}: ${f.streamFailures} streams failed (${f.streamsRefused} refused), ` +
          `${f.streamsDeferred} deferred; ` +
          `${f.polls} polls decided ${f.decidedByPoll}`,
      )
    }
  }
})

t.test('cancel-storm: seats given back go down the waitlists, in order', async (t) => {
  for (let round = 1; round <= 2; round += 1) {
    const report = await small('cancel-storm', { instances: [1, 2] })
    noViolations(t, report.results)
    for (const r of report.results) {
      t.ok(r.cancels > 0, `round ${round}, ${r.target}: ${r.cancels} seats given back`)
      t.ok(
        r.promoted > 0,
        `round ${round}, ${r.target}: ${r.promoted} waitlisted students promoted`,
      )
      t.ok((r.outcomes.waitlisted ?? 0) > 0, `${r.target}: newcomers waitlisted`)
    }
  }
})

t.test('status-storm: every waiting student is told their true place', async (t) => {
  const report = await small('status-storm', { instances: [1, 2] })
  noViolations(t, report.results)
  for (const r of report.results) {
    t.ok(r.statusChecks > 0, `${r.target}: ${r.statusChecks} status checks`)
    t.ok(r.cancels > 0, `${r.target}: waitlists moved by ${r.cancels} cancellations`)
    t.ok(r.routes['GET /enrollment-requests/:id']?.statuses['200'], 'status checks answered')
  }
})
