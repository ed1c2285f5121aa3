import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { waitFor } from '@sugang/testkit/wait'
import t from 'tap'
import { repoRoot } from '../src/paths.js'
import { httpGet, startProcess } from '../src/processes.js'
import { ha } from '../../infra/src/config/ha.js'
import { query } from './helpers/prometheus-api.js'

// scripts/monitoring-up as a person runs it: it comes up on loopback, scrapes what it was told to,
// and an interrupt stops everything it started.

const script = join(repoRoot, 'scripts', 'monitoring-up')

t.test('--help explains the options; an unknown option is refused', async (t) => {
  const help = spawnSync(script, ['--help'], { encoding: 'utf8', timeout: 30_000 })
  t.equal(help.status, 0)
  t.match(help.stdout, /Usage: scripts\/monitoring-up/)
  t.match(help.stdout, /--slack-webhook-url-file/)
  const wrong = spawnSync(script, ['--no-such-option'], { encoding: 'utf8', timeout: 30_000 })
  t.equal(wrong.status, 2)
  t.match(wrong.stderr, /Unknown option '--no-such-option'/)
})

t.test('it runs Prometheus and Alertmanager on loopback until interrupted', async (t) => {
  const target = '127.0.0.1:1'
  const proc = startProcess('monitoring-up', script, [
    '--sugang',
    target,
    // The machine's Redis and MariaDB, which CI starts: read through the exporters it runs.
    '--redis',
    'redis://127.0.0.1:6379',
    '--mysql',
    'root@127.0.0.1:3306',
    '--profile',
    'ha',
    '--prometheus-port',
    '0',
    '--alertmanager-port',
    '0',
  ])
  t.teardown(() => proc.stop())
  await waitFor(
    'monitoring-up to be ready',
    async () => {
      if (proc.child.exitCode !== null) throw new Error(`exited early:\n${proc.output()}`)
      return proc.output().includes('monitoring-up: ready') ? true : undefined
    },
    { timeoutMs: 60_000 },
  )
  const prometheus = /Prometheus\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(proc.output())?.[1]
  const alertmanager = /Alertmanager\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(proc.output())?.[1]
  if (!prometheus || !alertmanager) throw new Error(`no URLs in:\n${proc.output()}`)
  t.equal((await httpGet(`${alertmanager}/-/ready`)).status, 200, 'Alertmanager is ready')
  // File discovery runs after start-up: the target appears within a refresh or two.
  await waitFor('the given service to be a target of job sugang', async () => {
    const targets = JSON.parse((await httpGet(`${prometheus}/api/v1/targets`)).body) as {
      data: { activeTargets: Array<{ labels: Record<string, string> }> }
    }
    const found = targets.data.activeTargets.some(
      (a) => a.labels.job === 'sugang' && a.labels.instance === target,
    )
    return found ? true : undefined
  })
  t.pass('the given service is a target of job sugang')
  // Each exporter answers for what it reads: redis_up and mysql_up are 1 only when it got there.
  const read = await waitFor('Redis and MySQL to be read through their exporters', async () => {
    const found = await query(
      prometheus,
      'redis_up{job="redis"} == 1 or mysql_up{job="mysql"} == 1',
    )
    return found.length === 2 ? found : undefined
  })
  t.same(
    read.map((s) => [s.metric.job, s.metric.instance]).sort(),
    [
      ['mysql', '127.0.0.1:3306'],
      ['redis', '127.0.0.1:6379'],
    ],
    'the given Redis and MySQL, each under its own name',
  )
  const rules = JSON.parse((await httpGet(`${prometheus}/api/v1/rules`)).body) as {
    data: { groups: Array<{ name: string }> }
  }
  t.same(
    rules.data.groups.map((g) => g.name).sort(),
    ['host', 'schedule', 'slo', 'stores', 'sugang', 'watchdog'],
    'the committed rules and the schedule',
  )
  // The ha profile's: 6 instances for the opening (infra/src/config/ha.ts, compute.rush).
  const scheduled = await waitFor('the schedule to be recorded', async () => {
    const found = await query(prometheus, 'sugang:scheduled_minimum_instances')
    return found.length === 1 ? found : undefined
  })
  t.equal(scheduled[0]?.value[1], String(ha.compute.rush.instances), "the ha profile's schedule")

  proc.child.kill('SIGINT')
  t.equal(await proc.exited, 0, 'an interrupt ends it cleanly')
  await t.rejects(httpGet(`${prometheus}/-/ready`, 2_000), 'Prometheus is gone')
  await t.rejects(httpGet(`${alertmanager}/-/ready`, 2_000), 'Alertmanager is gone')
})
