import t from 'tap'
import { bench, main } from '../rush/main.js'
import { markdown } from '../rush/report.js'
import { scenarios } from '../rush/scenarios.js'

// The split layout: the sugang instances are doors (SERVICE_ROLE=door) and one process apart
// admits (SERVICE_ROLE=admission). Against real MariaDB, Redis and HAProxy, at the small size.

t.test(
  'split: two doors and one admission process fill the course, each process measured apart',
  async (t) => {
    const size = scenarios.seed.small
    const report = await bench({
      scenario: 'seed',
      size,
      instances: [2],
      layout: 'split',
      baselines: [],
      inFlight: 64,
      deadlineMs: 120_000,
      baselineWindowMs: 3_000,
      command: 'test seed --layout split',
      log: () => {},
    })
    t.equal(report.layout, 'split', 'the report says which layout ran')
    const [r] = report.results
    t.ok(r)
    t.same(r!.invariants.examples, [], 'no example of a violation')
    t.equal(r!.violations, 0, 'no invariant broken')
    t.equal(r!.outcomes.enrolled, size.capacity[0], 'every seat taken, no more')
    t.ok(r!.decidedSeconds !== null, 'every request decided')
    const cpu = new Map(r!.processes.map((p) => [p.name, p.cpuSeconds]))
    for (const name of ['sugang door 1', 'sugang door 2', 'sugang admission']) {
      t.ok((cpu.get(name) ?? 0) > 0, `${name}: its CPU measured`)
    }
    t.ok(cpu.has('haproxy'), 'the doors sit behind the proxy')
    const page = markdown(report)
    t.match(page.split('\n')[0], /layout: split/, 'the heading names the layout')
    t.match(page, /\| sugang admission \|/, 'the admission process has its own cost row')
  },
)

t.test('a layout other than all or split is refused before anything starts', async (t) => {
  await t.rejects(main(['--scenario', 'seed', '--small', '--layout', 'both']), {
    message: '--layout must be all or split, got "both"',
  })
})
