import { parseArgs } from 'node:util'
import type { MysqlServer } from './exporters.js'
import { startLocalStack, type LocalStack, type Profile } from './local-stack.js'
import { formatSlackMessage, startSlackReceiver, type SlackReceiver } from './slack-receiver.js'

const USAGE = `Usage: scripts/monitoring-up [options]

Runs Prometheus and Alertmanager from Debian's packages on 127.0.0.1 against a locally running
sugang service, with the committed rules, routes and Slack templates, until interrupted (Ctrl-C).
Install the packages first: sh monitoring/install-deps.sh

Options:
  --sugang HOST:PORT            a sugang metrics listener to scrape; repeat for several
                                (default 127.0.0.1:9464, the service's METRICS_PORT default)
  --node-exporter               also run Debian's node exporter on 127.0.0.1 and scrape it
  --redis URL                   a Redis node to scrape through Debian's redis exporter, e.g.
                                redis://127.0.0.1:6379; repeat for several (a cluster's nodes)
  --mysql USER@HOST:PORT        a MySQL server to scrape through Debian's mysqld exporter, e.g.
                                root@127.0.0.1:3306 (its password, if any, from MYSQL_PWD);
                                repeat for several (a primary and its replica)
  --profile small|ha            whose opening schedule the opening-day board reads
                                (prometheus/schedules/<profile>.yml; default small)
  --prometheus-port N           default 9090 (0: any free port)
  --alertmanager-port N         default 9093 (0: any free port)
  --slack-webhook-url-file F    post alerts to the Slack webhook URL held in file F; without it,
                                a stand-in for Slack on 127.0.0.1 prints every message here
  --help                        show this text`

function port(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback
  const n = Number(value)
  if (!Number.isInteger(n) || n < 0 || n > 65_535) {
    throw new Error(`--${name} must be a port number, got "${value}"`)
  }
  return n
}

function profile(value: string): Profile {
  if (value !== 'small' && value !== 'ha') {
    throw new Error(`--profile must be small or ha, got "${value}"`)
  }
  return value
}

function redisUrl(value: string): string {
  if (!/^rediss?:\/\/[^/\s]+$/.test(value)) {
    throw new Error(`--redis must be redis://HOST:PORT, got "${value}"`)
  }
  return value
}

function mysqlServer(value: string): MysqlServer {
  const m = /^([^@\s]+)@([^:\s]+):(\d+)$/.exec(value)
  if (!m) throw new Error(`--mysql must be USER@HOST:PORT, got "${value}"`)
  const password = process.env.MYSQL_PWD
  return {
    user: m[1] as string,
    host: m[2] as string,
    port: port(m[3], 3306, 'mysql'),
    ...(password ? { password } : {}),
  }
}

export async function main(argv: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      sugang: { type: 'string', multiple: true },
      'node-exporter': { type: 'boolean', default: false },
      profile: { type: 'string', default: 'small' },
      redis: { type: 'string', multiple: true },
      mysql: { type: 'string', multiple: true },
      'prometheus-port': { type: 'string' },
      'alertmanager-port': { type: 'string' },
      'slack-webhook-url-file': { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  })
  if (values.help) {
    console.log(USAGE)
    return 0
  }

  let receiver: SlackReceiver | null = null
  let stack: LocalStack | null = null
  const shutdown = async (): Promise<void> => {
    await stack?.stop()
    await receiver?.close()
  }
  try {
    const urlFile = values['slack-webhook-url-file']
    if (!urlFile) {
      receiver = await startSlackReceiver({
        onMessage: (m) => console.log(`\n[slack] ${formatSlackMessage(m)}\n`),
      })
    }
    stack = await startLocalStack({
      sugangTargets: values.sugang ?? ['127.0.0.1:9464'],
      startNodeExporter: values['node-exporter'],
      profile: profile(values.profile),
      redis: (values.redis ?? []).map(redisUrl),
      mysql: (values.mysql ?? []).map(mysqlServer),
      prometheusPort: port(values['prometheus-port'], 9090, 'prometheus-port'),
      alertmanagerPort: port(values['alertmanager-port'], 9093, 'alertmanager-port'),
      slack: urlFile ? { urlFile } : { url: (receiver as SlackReceiver).url },
    })
  } catch (err) {
    await shutdown()
    console.error(`monitoring-up: ${(err as Error).message}`)
    return 1
  }

  console.log(`Prometheus    ${stack.prometheusUrl}  (alerts: ${stack.prometheusUrl}/alerts)`)
  console.log(`Alertmanager  ${stack.alertmanagerUrl}`)
  if (stack.nodeExporterUrl) console.log(`Node exporter ${stack.nodeExporterUrl}/metrics`)
  console.log(receiver ? `Slack stand-in ${receiver.url}` : 'Slack: the webhook in the given file')
  console.log('monitoring-up: ready; Ctrl-C stops everything')

  const running = stack
  return new Promise<number>((resolve) => {
    let exiting = false
    const stopAll = (why: string, code: number): void => {
      if (exiting) return
      exiting = true
      console.log(`monitoring-up: ${why}; stopping`)
      void shutdown().then(() => resolve(code))
    }
    process.once('SIGINT', () => stopAll('interrupted', 0))
    process.once('SIGTERM', () => stopAll('terminated', 0))
    for (const p of running.processes) {
      void p.exited.then((code) => stopAll(`${p.name} exited (${code}):\n${p.output()}`, 1))
    }
  })
}

process.exitCode = await main(process.argv.slice(2)).catch((err: unknown) => {
  console.error(`monitoring-up: ${(err as Error).message}\n\n${USAGE}`)
  return 2
})
