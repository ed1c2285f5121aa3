import { setTimeout as sleep } from 'node:timers/promises'
import { waitFor } from '@sugang/testkit/wait'
import t from 'tap'
import { startLocalStack } from '../src/local-stack.js'
import { httpGet } from '../src/processes.js'
import { startSlackReceiver, type ReceivedMessage } from '../src/slack-receiver.js'
import { dashboardQueries, loadDashboards } from './helpers/config-files.js'
import { activeAlertmanagers, alerts, query } from './helpers/prometheus-api.js'
import {
  api,
  decided,
  dropDatabase,
  login,
  startRedis,
  startService,
} from './helpers/service-harness.js'

// End to end: the real service, scraped by a real Prometheus that evaluates the committed rules,
// which sends to a real Alertmanager with the committed routes and Slack template, which posts to
// a stand-in for Slack's webhook on 127.0.0.1. Stopping the service's Redis must reach "Slack"
// as SugangDependencyDown, and nothing else.

const DATABASE = 'sugang_mon_alerts'
const RUNBOOK = 'https://github.com/sugang/sugang/blob/main/monitoring/runbook.md'

const redis = await startRedis()
let redisRunning = true
t.teardown(async () => {
  if (redisRunning) await redis.stop()
})
const service = await startService({ database: DATABASE, redis })
let stopping = false
t.teardown(async () => {
  stopping = true
  await service.stop()
  await dropDatabase(DATABASE)
})
const metricsTarget = new URL(service.metricsUrl).host
// A service that dies mid-test would otherwise only show up as timeouts.
void service.process.exited.then((code) => {
  if (!stopping) t.comment(`sugang serve exited (${code}):\n${service.process.output()}`)
})

const receiver = await startSlackReceiver()
t.teardown(() => receiver.close())
const stack = await startLocalStack({
  sugangTargets: [metricsTarget],
  slack: { url: receiver.url },
})
t.teardown(() => stack.stop())

// The load balancer's health check, as in production: the test reads from it when the service
// has noticed a dependency going or coming back.
const probes: number[] = []
let probing = true
const prober = (async () => {
  while (probing) {
    const status = await httpGet(`${service.httpUrl}/health/ready`, 3_000).then(
      (r) => r.status,
      () => 0,
    )
    probes.push(status)
    await sleep(2_000)
  }
})()
t.teardown(async () => {
  probing = false
  await prober
})

/** What Prometheus, Alertmanager and the probe saw, for the message of a failed wait. */
async function diagnose(): Promise<string> {
  const seen = await Promise.all([
    query(stack.prometheusUrl, 'up{job="sugang"} or sugang_dependency_up').catch(String),
    alerts(stack.prometheusUrl).catch(String),
    httpGet(`${stack.alertmanagerUrl}/api/v2/alerts`).then((r) => r.body, String),
  ])
  return JSON.stringify({
    prometheus: seen[0],
    alerts: seen[1],
    alertmanager: seen[2],
    probes: probes.slice(-10),
    slack: receiver.received.length,
  })
}

const value = async (expr: string): Promise<string | undefined> =>
  (await query(stack.prometheusUrl, expr))[0]?.value[1]

t.test('Prometheus scrapes the service and talks to Alertmanager', async (t) => {
  await waitFor('the sugang target to be up', async () =>
    (await value(`up{job="sugang", instance="${metricsTarget}"}`)) === '1' ? true : undefined,
  )
  await waitFor('Prometheus to see Redis answering', async () =>
    (await value('sugang_dependency_up{job="sugang", dependency="redis"}')) === '1'
      ? true
      : undefined,
  )
  t.same(
    await waitFor('an Alertmanager', async () => {
      const list = await activeAlertmanagers(stack.prometheusUrl)
      return list.length > 0 ? list : undefined
    }),
    [`${stack.alertmanagerUrl}/api/v2/alerts`],
  )
  // Until the first scrape, SugangTargetsMissing is pending (it has a for of 5m): that clears.
  // The Watchdog alone is always active: it is the proof that rules are evaluated at all.
  const active = await waitFor('no alert but the Watchdog pending or firing', async () => {
    const list = await alerts(stack.prometheusUrl)
    return list.every((a) => a.labels.alertname === 'Watchdog') && list.length > 0
      ? list
      : undefined
  })
  t.same(
    active.map((a) => a.labels.alertname),
    ['Watchdog'],
    'nothing fires while all is well, but the Watchdog',
  )
})

t.test(
  'every dashboard query runs on the real Prometheus, the rush panels with data',
  async (t) => {
    const students = await Promise.all([1, 2, 3, 4, 5, 6, 7].map((n) => login(service, n)))
    const requests = await Promise.all(
      students.map(async (student) => {
        const res = await api(service, 'POST', '/api/v1/courses/C0002/enrollment-requests', {
          cookie: student.cookie,
          body: {},
        })
        t.equal(res.status, 202)
        return decided(service, student, String(res.body?.requestId))
      }),
    )
    t.equal(requests.filter((s) => s === 'enrolled').length, 5)
    // Two scrapes after the traffic, so that rate() has samples on both sides of it.
    await sleep(11_000)
    const withData = new Set<string>()
    for (const { dashboard } of await loadDashboards()) {
      for (const q of dashboardQueries(dashboard)) {
        const result = await query(stack.prometheusUrl, q.expr)
        t.pass(`${q.dashboard} ${q.where} runs`)
        if (result.length > 0) withData.add(q.where.replace(/ \(\d+\) target [A-Z]$/, ''))
      }
    }
    for (const panel of [
      'Requests/s by route',
      'Latency p99 by route',
      'Enrollment requests/s by outcome',
      'Admissions/s by outcome',
      'Seats left by course',
      'Event loop lag',
      'Heap used',
      'Redis answering',
    ]) {
      t.ok(withData.has(`panel "${panel}"`), `"${panel}" shows data`)
    }
  },
)

t.test(
  'Redis going away reaches Slack as SugangDependencyDown, after its for, alone',
  async (t) => {
    const stoppedAt = Date.now()
    await redis.stop()
    redisRunning = false

    await waitFor(
      'the ready probe to fail',
      async () => (probes.at(-1) === 503 ? true : undefined),
      {
        timeoutMs: 20_000,
      },
    )
    const pending = await waitFor(
      'the alert to be pending',
      async () =>
        (await alerts(stack.prometheusUrl)).find(
          (a) => a.labels.alertname === 'SugangDependencyDown',
        ),
      { timeoutMs: 30_000 },
    )
    t.equal(pending.state, 'pending', 'first pending: it waits for its for duration')
    t.same(receiver.received, [], 'no message while pending')

    const delivered = await waitFor(
      'the Slack message',
      async () =>
        receiver.received.find((r: ReceivedMessage) =>
          r.message.attachments?.some((a) => a.title?.includes('SugangDependencyDown')),
        ),
      { timeoutMs: 150_000, intervalMs: 500 },
    ).catch(async (err: unknown) => {
      throw new Error(`${(err as Error).message}\n${await diagnose()}`)
    })
    const elapsed = delivered.receivedAt.getTime() - stoppedAt
    t.ok(elapsed >= 60_000, `delivered after the 1m for (${Math.round(elapsed / 1000)}s)`)

    t.equal(delivered.path, '/services/LOCAL/WEBHOOK', 'posted to the webhook from the file')
    t.equal(delivered.message.channel, '#sugang-oncall', 'critical goes to the on-call channel')
    const attachment = delivered.message.attachments?.[0]
    t.equal(attachment?.title, '[FIRING:1] SugangDependencyDown (critical)')
    t.equal(attachment?.color, 'danger')
    const text = attachment?.text ?? ''
    t.match(text, '*The service cannot reach a dependency.*', 'summary')
    t.match(
      text,
      `${metricsTarget} cannot reach redis: /health/ready answers 503 and the load balancer stops` +
        ' sending it traffic.',
      'description, with the instance and the dependency',
    )
    t.match(text, `*Runbook:* <${RUNBOOK}#sugangdependencydown|SugangDependencyDown>`, 'runbook')
    t.match(text, `*Instance:* \`${metricsTarget}\``, 'instance')

    const others = receiver.received.filter((r) => r !== delivered)
    t.same(
      others.map((r) => r.message.attachments?.[0]?.title),
      [],
      'no other alert reached Slack: MySQL and the service itself stayed fine',
    )
  },
)

t.test('Redis coming back reaches Slack as resolved', async (t) => {
  const restarted = await startRedis(redis.port)
  t.teardown(() => restarted.stop())
  await waitFor('the ready probe to pass', async () => (probes.at(-1) === 200 ? true : undefined), {
    timeoutMs: 30_000,
  }).catch(async (err: unknown) => {
    throw new Error(`${(err as Error).message}\n${await diagnose()}`)
  })
  const resolved = await waitFor(
    'the resolved message',
    async () =>
      receiver.received.find((r) =>
        r.message.attachments?.some((a) => a.title?.startsWith('[RESOLVED] SugangDependencyDown')),
      ),
    // The critical route's group_interval (1m) paces follow-up messages of a group.
    { timeoutMs: 120_000, intervalMs: 500 },
  ).catch(async (err: unknown) => {
    throw new Error(`${(err as Error).message}\n${await diagnose()}`)
  })
  const attachment = resolved.message.attachments?.[0]
  t.equal(attachment?.title, '[RESOLVED] SugangDependencyDown (critical)')
  t.equal(attachment?.color, 'good')
  t.match(attachment?.text, '*Resolved: The service cannot reach a dependency.*')
  t.equal(resolved.message.channel, '#sugang-oncall')
})
