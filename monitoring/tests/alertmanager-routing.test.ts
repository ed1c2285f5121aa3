import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { waitFor } from '@sugang/testkit/wait'
import t from 'tap'
import { startAlertmanager } from '../src/local-stack.js'
import { startSlackReceiver, type ReceivedMessage } from '../src/slack-receiver.js'

// The committed alertmanager.yml in a real Alertmanager, fed alerts through its API as Prometheus
// would send them: critical and warning reach their channels, alerts of one name and job make one
// message, and inhibited warnings never reach Slack.

const RUNBOOK = 'https://github.com/sugang/sugang/blob/main/monitoring/runbook.md'

const dir = await mkdtemp(join(tmpdir(), 'sugang-alertmanager-'))
t.teardown(() => rm(dir, { recursive: true, force: true }))
const receiver = await startSlackReceiver()
t.teardown(() => receiver.close())
const alertmanager = await startAlertmanager({ dir, slack: { url: receiver.url } })
t.teardown(() => alertmanager.process.stop())

interface Alert {
  labels: Record<string, string>
  annotations: Record<string, string>
}

function alert(labels: Record<string, string>, summary: string, description: string): Alert {
  const name = labels.alertname ?? ''
  return {
    labels,
    annotations: { summary, description, runbook_url: `${RUNBOOK}#${name.toLowerCase()}` },
  }
}

const disk = { alertname: 'HostOutOfDiskSpace', job: 'node', instance: 'i-0a1', mountpoint: '/' }
const sent: Alert[] = [
  alert({ ...disk, severity: 'warning' }, 'Host disk is almost full.', '/ on i-0a1 has 4.0% left.'),
  alert(
    { ...disk, severity: 'critical' },
    'Host disk is almost full.',
    '/ on i-0a1 has 4.0% left.',
  ),
  alert(
    { alertname: 'HostHighCpuLoad', job: 'node', instance: 'i-0a2', severity: 'warning' },
    'Host CPU has been busy for 10 minutes.',
    'CPU on i-0a2 is 93% busy.',
  ),
  alert(
    { alertname: 'SugangDependencyDown', job: 'sugang', instance: 'i-0a1', severity: 'critical' },
    'The service cannot reach a dependency.',
    'i-0a1 cannot reach redis.',
  ),
  alert(
    { alertname: 'SugangHighErrorRate', job: 'sugang', severity: 'warning' },
    'The service answers too many requests with a 5xx.',
    '12% of requests to sugang failed with a 5xx over the last minute.',
  ),
  alert(
    { alertname: 'SugangAvailabilityBudgetBurn', job: 'sugang', severity: 'critical' },
    'Students are answered 5xx fast enough to miss the availability objective.',
    'sugang spends its error budget at 40 times the sustainable rate.',
  ),
  alert(
    { alertname: 'InstanceDown', job: 'sugang', instance: 'i-0b1', severity: 'critical' },
    'A scrape target is down.',
    'sugang on i-0b1 has not answered Prometheus for more than 3 minutes.',
  ),
  alert(
    { alertname: 'InstanceDown', job: 'sugang', instance: 'i-0b2', severity: 'critical' },
    'A scrape target is down.',
    'sugang on i-0b2 has not answered Prometheus for more than 3 minutes.',
  ),
]

const titles = (): string[] =>
  receiver.received.flatMap(
    (r: ReceivedMessage) => r.message.attachments?.map((a) => a.title ?? '') ?? [],
  )
const find = (title: string): ReceivedMessage | undefined =>
  receiver.received.find((r) => r.message.attachments?.some((a) => a.title === title))

t.test(
  'alerts reach the channel of their severity, grouped, with inhibited ones held back',
  async (t) => {
    const now = Date.now()
    const response = await fetch(`${alertmanager.url}/api/v2/alerts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(
        sent.map((a) => ({
          ...a,
          startsAt: new Date(now).toISOString(),
          endsAt: new Date(now + 10 * 60_000).toISOString(),
          generatorURL: 'http://127.0.0.1:9090/graph',
        })),
      ),
      signal: AbortSignal.timeout(5_000),
    })
    t.equal(response.status, 200, 'Alertmanager takes the alerts')

    // Warnings wait 30s (group_wait) to be batched; critical alerts 10s.
    await waitFor(
      'the warning message',
      async () => (find('[FIRING:1] HostHighCpuLoad (warning)') ? true : undefined),
      { timeoutMs: 60_000, intervalMs: 500 },
    )
    await sleep(3_000)

    t.same(
      titles().sort(),
      [
        '[FIRING:1] HostHighCpuLoad (warning)',
        '[FIRING:1] HostOutOfDiskSpace (critical)',
        '[FIRING:1] SugangDependencyDown (critical)',
        '[FIRING:2] InstanceDown (critical)',
      ],
      'one message per group; the inhibited warnings sent nothing',
    )
    t.equal(find('[FIRING:1] HostHighCpuLoad (warning)')?.message.channel, '#sugang-alerts')
    t.equal(find('[FIRING:1] HostOutOfDiskSpace (critical)')?.message.channel, '#sugang-oncall')

    const warning = find('[FIRING:1] HostHighCpuLoad (warning)')?.message.attachments?.[0]
    t.equal(warning?.color, 'warning')
    t.match(warning?.text, '*Host CPU has been busy for 10 minutes.*\nCPU on i-0a2 is 93% busy.')
    t.match(warning?.text, `*Runbook:* <${RUNBOOK}#hosthighcpuload|HostHighCpuLoad>`)

    const down = find('[FIRING:2] InstanceDown (critical)')?.message.attachments?.[0]?.text ?? ''
    t.match(down, '*Instance:* `i-0b1`')
    t.match(down, '*Instance:* `i-0b2`', 'both instances in the one message')

    const response2 = await fetch(`${alertmanager.url}/api/v2/alerts?inhibited=true`, {
      signal: AbortSignal.timeout(5_000),
    })
    const held = (
      (await response2.json()) as Array<{
        labels: Record<string, string>
        status: { state: string; inhibitedBy: string[] }
      }>
    ).filter((a) => a.status.state === 'suppressed')
    t.same(
      held.map((a) => `${a.labels.alertname} ${a.labels.severity}`).sort(),
      [
        'HostOutOfDiskSpace warning',
        'SugangAvailabilityBudgetBurn critical',
        'SugangHighErrorRate warning',
      ],
      'the warning under its critical twin, and the errors and the budget under the lost dependency',
    )
    for (const a of held) t.equal(a.status.inhibitedBy.length, 1)
  },
)
