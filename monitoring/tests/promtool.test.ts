import {
  copyFile,
  mkdir,
  mkdtemp,
  readFile,
  readdir,
  rm,
  symlink,
  writeFile,
} from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import t, { type Test } from 'tap'
import { renderAlertmanagerConfig, writePrometheusConfig } from '../src/local-stack.js'
import { prometheusDir, rulesDir } from '../src/paths.js'
import { schedulesDir } from '../src/schedule.js'
import { ruleFiles, ruleTestFiles } from './helpers/config-files.js'
import { runTool } from './helpers/tools.js'

async function tempDir(t: Test): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sugang-monitoring-test-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  return dir
}

t.test('prometheus.yml passes promtool check config, rule files included', async (t) => {
  // As on the monitoring host: beside it, the rules and the target files the host writes for the
  // Redis nodes and the MySQL servers (infra's monitoring-host.ts), here with one of each.
  const dir = await tempDir(t)
  await copyFile(join(prometheusDir, 'prometheus.yml'), join(dir, 'prometheus.yml'))
  await symlink(rulesDir, join(dir, 'rules'))
  await mkdir(join(dir, 'schedule'))
  await copyFile(join(schedulesDir, 'ha.yml'), join(dir, 'schedule', 'ha.yml'))
  await mkdir(join(dir, 'targets'))
  const redis = [
    {
      targets: ['rediss://sugang-redis-0001-001.example.internal:6379'],
      labels: { node: 'sugang-redis-0001-001', shard: '0001', role: 'primary' },
    },
  ]
  const mysql = [{ targets: ['127.0.0.1:9104'], labels: { instance: 'primary' } }]
  await writeFile(join(dir, 'targets', 'redis.json'), JSON.stringify(redis))
  await writeFile(join(dir, 'targets', 'mysql.json'), JSON.stringify(mysql))
  const { code, output } = await runTool('promtool', [
    'check',
    'config',
    join(dir, 'prometheus.yml'),
  ])
  t.equal(code, 0, 'exits 0', { output })
  t.match(output, /SUCCESS: 6 rule files found/, 'the rules and the schedule')
  t.notMatch(output, /WARNING/, 'no warning', { output })
})

t.test('the local variant passes promtool check config with its target files', async (t) => {
  const dir = await tempDir(t)
  const config = await writePrometheusConfig(dir, {
    sugang: ['127.0.0.1:9464'],
    node: ['127.0.0.1:9100'],
    alertmanager: ['127.0.0.1:9093'],
    prometheus: ['127.0.0.1:9090'],
  })
  const { code, output } = await runTool('promtool', ['check', 'config', config])
  t.equal(code, 0, 'exits 0', { output })
  t.match(output, /SUCCESS: 6 rule files found/, 'the rules and the schedule')
  t.notMatch(output, /WARNING/, 'no warning', { output })
})

t.test('every rule file passes promtool check rules, the schedules included', async (t) => {
  const schedules = (await readdir(schedulesDir)).map((f) => join(schedulesDir, f))
  t.equal(schedules.length, 2, "each profile's schedule")
  const files = [...(await ruleFiles()), ...schedules]
  t.ok(files.length >= 4, 'host and sugang rule files, and the schedules')
  const { code, output } = await runTool('promtool', ['check', 'rules', ...files])
  t.equal(code, 0, 'exits 0', { output })
})

t.test('the rule unit tests pass promtool test rules', async (t) => {
  const files = await ruleTestFiles()
  t.ok(files.length >= 2, 'a unit test file per rule file')
  // The SLO cases evaluate every rule every 15 s over an hour of synthetic rush: about 12 s of
  // CPU, a minute and more while the other suites share the cores. The limit only guards a hang,
  // under the file's own (tap's 300 s), so that a hang reports promtool's output.
  const { code, output } = await runTool('promtool', ['test', 'rules', ...files], {
    timeoutMs: 240_000,
  })
  t.equal(code, 0, 'exits 0', { output })
  t.equal(output.match(/SUCCESS/g)?.length, files.length, 'every file succeeds', { output })
})

t.test('promtool test rules does fail on a wrong expectation', async (t) => {
  // Guards the check above: a unit test run that could not fail would prove nothing.
  const dir = await tempDir(t)
  const [file] = await ruleTestFiles()
  if (!file) throw new Error('no rule test file')
  const broken = (await readFile(file, 'utf8'))
    .replace(/rule_files:\n {2}- \.\.\/rules\//, `rule_files:\n  - ${join(file, '../../rules')}/`)
    .replace(/severity: critical/, 'severity: none')
  const copy = join(dir, basename(file))
  await writeFile(copy, broken)
  const { code, output } = await runTool('promtool', ['test', 'rules', copy])
  t.not(code, 0, 'promtool must report the changed label')
  t.match(output, /FAILED/)
})

t.test('alertmanager.yml passes amtool check-config', async (t) => {
  const { code, output } = await runTool('amtool', [
    'check-config',
    'alertmanager/alertmanager.yml',
  ])
  t.equal(code, 0, 'exits 0', { output })
  t.match(output, /3 receivers/)
  t.match(output, /1 templates/)
})

t.test('the local Alertmanager config passes amtool check-config', async (t) => {
  const dir = await tempDir(t)
  const file = join(dir, 'alertmanager.yml')
  await writeFile(file, await renderAlertmanagerConfig(join(dir, 'slack-webhook-url')))
  const { code, output } = await runTool('amtool', ['check-config', file])
  t.equal(code, 0, 'exits 0', { output })
})

t.test('alerts route to Slack by severity', async (t) => {
  const route = async (...labels: string[]): Promise<string> => {
    const { code, output } = await runTool('amtool', [
      'config',
      'routes',
      'test',
      '--config.file=alertmanager/alertmanager.yml',
      ...labels,
    ])
    t.equal(code, 0, 'exits 0', { output })
    return output.split('\n').find((l) => /^(slack|watchdog)-/.test(l)) ?? output
  }
  t.equal(await route('alertname=SugangDependencyDown', 'severity=critical'), 'slack-critical')
  t.equal(await route('alertname=HostHighCpuLoad', 'severity=warning'), 'slack-warnings')
  t.equal(
    await route('alertname=SugangAdmissionThrottled', 'severity=info'),
    'slack-warnings',
    'informational alerts go to the team channel',
  )
  t.equal(await route('alertname=Unlabelled'), 'slack-warnings', 'nothing is dropped')
  t.equal(
    await route('alertname=Watchdog', 'severity=none'),
    'watchdog-heartbeat',
    'the Watchdog goes to the CloudWatch heartbeat relay, never to Slack',
  )
})
