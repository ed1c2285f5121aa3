import { chmod, copyFile, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from '@sugang/testkit/ports'
import { parse, stringify } from 'yaml'
import { findTool } from './binaries.js'
import {
  redisTarget,
  startMysqldExporter,
  startRedisExporter,
  type MysqlServer,
  type TargetGroup,
} from './exporters.js'
import { alertmanagerDir, prometheusDir, rulesDir } from './paths.js'
import { schedulesDir } from './schedule.js'
import { startProcess, waitUntilReady, type ManagedProcess } from './processes.js'

/** Where Slack messages go: a URL (written to a private file) or a file that holds one. */
export type SlackTarget = { readonly url: string } | { readonly urlFile: string }

export interface LocalStackOptions {
  /** host:port of each sugang metrics listener to scrape (job "sugang"). */
  readonly sugangTargets: readonly string[]
  /** host:port of node exporters to scrape (job "node"), besides the one startNodeExporter runs. */
  readonly nodeTargets?: readonly string[]
  /** Runs Debian's node exporter on 127.0.0.1 and scrapes it. */
  readonly startNodeExporter?: boolean
  /** Whose opening schedule the rules hold (prometheus/schedules/<profile>.yml); small unset. */
  readonly profile?: Profile
  /** Redis nodes (redis://host:port) to scrape through a redis_exporter run on 127.0.0.1. */
  readonly redis?: readonly string[]
  /** MySQL servers to scrape, each through a mysqld_exporter of its own on 127.0.0.1. */
  readonly mysql?: readonly MysqlServer[]
  /** 0 or unset: a free port. */
  readonly prometheusPort?: number
  readonly alertmanagerPort?: number
  readonly nodeExporterPort?: number
  readonly slack: SlackTarget
  /** Copy the tools' logs to this stream. */
  readonly echo?: NodeJS.WritableStream
}

export interface LocalStack {
  readonly prometheusUrl: string
  readonly alertmanagerUrl: string
  readonly nodeExporterUrl: string | null
  /** Temporary directory with the rendered configs and the data of both tools. */
  readonly workDir: string
  readonly processes: readonly ManagedProcess[]
  stop(): Promise<void>
}

interface SlackConfig {
  api_url?: string
  api_url_file?: string
}
interface AlertmanagerConfig {
  templates?: string[]
  receivers?: Array<{ name: string; slack_configs?: SlackConfig[] }>
}

/**
 * The committed alertmanager.yml with only what a local run must change: every Slack receiver
 * posts to the given webhook file, and templates are found from wherever the copy is written.
 * Routes, grouping, inhibition and message templates stay exactly as in production.
 */
export async function renderAlertmanagerConfig(webhookUrlFile: string): Promise<string> {
  const source = await readFile(join(alertmanagerDir, 'alertmanager.yml'), 'utf8')
  const config = parse(source) as AlertmanagerConfig
  config.templates = (config.templates ?? []).map((glob) => join(alertmanagerDir, glob))
  for (const receiver of config.receivers ?? []) {
    for (const slack of receiver.slack_configs ?? []) {
      delete slack.api_url
      slack.api_url_file = webhookUrlFile
    }
  }
  return stringify(config)
}

function targetsFile(targets: readonly string[] | readonly TargetGroup[]): string {
  const groups = targets.map((t) => (typeof t === 'string' ? { targets: [t], labels: {} } : t))
  return `${JSON.stringify(groups, null, 2)}\n`
}

export interface AlertmanagerOptions {
  /** Directory for the rendered config, the webhook file and the data; it must exist. */
  readonly dir: string
  /** 0 or unset: a free port. */
  readonly port?: number
  readonly slack: SlackTarget
  readonly echo?: NodeJS.WritableStream
}

/** Alertmanager with the committed config on 127.0.0.1, ready to take alerts. */
export async function startAlertmanager(
  options: AlertmanagerOptions,
): Promise<{ url: string; process: ManagedProcess }> {
  const bin = findTool('alertmanager')
  const address = `127.0.0.1:${options.port || (await freePort())}`
  await mkdir(join(options.dir, 'data'), { recursive: true })
  let webhookUrlFile: string
  if ('url' in options.slack) {
    webhookUrlFile = join(options.dir, 'slack-webhook-url')
    await writeFile(webhookUrlFile, `${options.slack.url}\n`, { mode: 0o600 })
    await chmod(webhookUrlFile, 0o600)
  } else {
    webhookUrlFile = options.slack.urlFile
  }
  const configFile = join(options.dir, 'alertmanager.yml')
  await writeFile(configFile, await renderAlertmanagerConfig(webhookUrlFile))
  const proc = startProcess(
    'alertmanager',
    bin,
    [
      `--config.file=${configFile}`,
      `--storage.path=${join(options.dir, 'data')}`,
      `--web.listen-address=${address}`,
      `--web.external-url=http://${address}/`,
      // An empty address turns gossip off; otherwise it listens on 0.0.0.0:9094.
      '--cluster.listen-address=',
    ],
    { echo: options.echo },
  )
  try {
    await waitUntilReady(`http://${address}/-/ready`, proc)
  } catch (err) {
    await proc.stop()
    throw err
  }
  return { url: `http://${address}`, process: proc }
}

/**
 * Scrape targets of the local variant, by job (the jobs of prometheus.local.yml): host:port, or
 * for the exporters' jobs the target groups that name what each scrape reads.
 */
export type LocalTargets = Record<
  'sugang' | 'node' | 'alertmanager' | 'prometheus',
  readonly string[]
> &
  Partial<Record<'redis' | 'mysql', readonly TargetGroup[]>>

/** Infra's profiles, whose opening schedules prometheus/schedules/ holds. */
export type Profile = 'small' | 'ha'

/**
 * Writes prometheus.local.yml as dir/prometheus.yml, next to a link to the committed rules, the
 * profile's opening schedule and the target files it reads (dir/targets/<job>.json).
 */
export async function writePrometheusConfig(
  dir: string,
  targets: LocalTargets,
  profile: Profile = 'small',
): Promise<string> {
  await mkdir(join(dir, 'targets'), { recursive: true })
  await mkdir(join(dir, 'schedule'))
  const configFile = join(dir, 'prometheus.yml')
  await copyFile(join(prometheusDir, 'prometheus.local.yml'), configFile)
  // A link, not a copy: during a demo, edited rules take effect on a reload (POST /-/reload).
  await symlink(rulesDir, join(dir, 'rules'))
  await symlink(join(schedulesDir, `${profile}.yml`), join(dir, 'schedule', `${profile}.yml`))
  for (const [job, list] of Object.entries({ redis: [], mysql: [], ...targets })) {
    await writeFile(join(dir, 'targets', `${job}.json`), targetsFile(list))
  }
  return configFile
}

/**
 * Runs Prometheus (prometheus.local.yml and the committed rules) and Alertmanager (the committed
 * alertmanager.yml) from Debian's packages, on 127.0.0.1 only, with data in a temporary directory
 * that stop() removes.
 */
export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const prometheusBin = findTool('prometheus')
  findTool('alertmanager') // fail before anything starts when a tool is missing
  const nodeExporterBin = options.startNodeExporter ? findTool('nodeExporter') : null

  const workDir = await mkdtemp(join(tmpdir(), 'sugang-monitoring-'))
  const processes: ManagedProcess[] = []
  const stop = async (): Promise<void> => {
    await Promise.all(processes.map((p) => p.stop()))
    await rm(workDir, { recursive: true, force: true })
  }

  try {
    const prometheusPort = options.prometheusPort || (await freePort())
    const alertmanagerPort = options.alertmanagerPort || (await freePort())
    const nodeExporterPort = nodeExporterBin ? options.nodeExporterPort || (await freePort()) : 0
    const prometheusAddress = `127.0.0.1:${prometheusPort}`
    const alertmanagerAddress = `127.0.0.1:${alertmanagerPort}`
    const nodeExporterAddress = nodeExporterBin ? `127.0.0.1:${nodeExporterPort}` : null

    const promDir = join(workDir, 'prometheus')
    const amDir = join(workDir, 'alertmanager')
    await mkdir(join(promDir, 'data'), { recursive: true })

    const nodeTargets = [...(options.nodeTargets ?? [])]
    if (nodeExporterAddress) nodeTargets.push(nodeExporterAddress)

    const redisTargets: TargetGroup[] = []
    if ((options.redis ?? []).length > 0) {
      const exporter = await startRedisExporter({ echo: options.echo })
      processes.push(exporter.process)
      for (const [i, url] of (options.redis ?? []).entries()) {
        const name = new URL(url).host
        redisTargets.push(
          redisTarget(exporter.address, { url, name, shard: String(i), role: 'primary' }),
        )
      }
    }
    const mysqlTargets: TargetGroup[] = []
    for (const server of options.mysql ?? []) {
      const exporter = await startMysqldExporter(server, { echo: options.echo })
      processes.push(exporter.process)
      mysqlTargets.push({
        targets: [exporter.address],
        labels: { instance: `${server.host}:${server.port}` },
      })
    }

    await writePrometheusConfig(
      promDir,
      {
        sugang: options.sugangTargets,
        node: nodeTargets,
        alertmanager: [alertmanagerAddress],
        prometheus: [prometheusAddress],
        redis: redisTargets,
        mysql: mysqlTargets,
      },
      options.profile,
    )

    if (nodeExporterBin && nodeExporterAddress) {
      const exporter = startProcess(
        'node exporter',
        nodeExporterBin,
        [`--web.listen-address=${nodeExporterAddress}`],
        { echo: options.echo },
      )
      processes.push(exporter)
      await waitUntilReady(`http://${nodeExporterAddress}/metrics`, exporter)
    }

    const alertmanager = await startAlertmanager({
      dir: amDir,
      port: alertmanagerPort,
      slack: options.slack,
      echo: options.echo,
    })
    processes.push(alertmanager.process)

    const prometheus = startProcess(
      'prometheus',
      prometheusBin,
      [
        `--config.file=${join(promDir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(promDir, 'data')}`,
        `--web.listen-address=${prometheusAddress}`,
        `--web.external-url=http://${prometheusAddress}/`,
        '--web.enable-lifecycle',
        '--storage.tsdb.retention.time=1d',
      ],
      { echo: options.echo },
    )
    processes.push(prometheus)

    await waitUntilReady(`http://${prometheusAddress}/-/ready`, prometheus)

    return {
      prometheusUrl: `http://${prometheusAddress}`,
      alertmanagerUrl: `http://${alertmanagerAddress}`,
      nodeExporterUrl: nodeExporterAddress ? `http://${nodeExporterAddress}` : null,
      workDir,
      processes,
      stop,
    }
  } catch (err) {
    await stop()
    throw err
  }
}
