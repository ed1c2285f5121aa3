import { freePort } from '@sugang/testkit/ports'
import { findTool } from './binaries.js'
import { startProcess, waitUntilReady, type ManagedProcess } from './processes.js'

/**
 * The exporters that read Redis and MySQL for Prometheus, from Debian's packages, on 127.0.0.1.
 * In production the monitoring host runs the same two (infra/src/constructs/monitoring-host.ts)
 * and writes the same target files; here the local stack and the tests start them.
 */

/** One file_sd target group: the targets (host:port) and the labels every one of them gets. */
export interface TargetGroup {
  readonly targets: readonly string[]
  readonly labels?: Readonly<Record<string, string>>
}

export interface Exporter {
  /** host:port of its HTTP listener. */
  readonly address: string
  readonly process: ManagedProcess
}

async function ready(process: ManagedProcess, url: string): Promise<void> {
  try {
    await waitUntilReady(url, process)
  } catch (err) {
    await process.stop()
    throw err
  }
}

/**
 * redis_exporter in multi-target mode: it scrapes whichever Redis node a scrape names
 * (`/scrape?target=redis://host:port`), so one exporter serves every node and shard.
 */
export async function startRedisExporter(
  options: { readonly port?: number; readonly echo?: NodeJS.WritableStream } = {},
): Promise<Exporter> {
  const address = `127.0.0.1:${options.port || (await freePort())}`
  const proc = startProcess(
    'redis exporter',
    findTool('redisExporter'),
    // No Go runtime metrics: only what the Redis nodes report.
    [`-web.listen-address=${address}`, '-redis-only-metrics', '-set-client-name=true'],
    { echo: options.echo },
  )
  await ready(proc, `http://${address}/health`)
  return { address, process: proc }
}

/**
 * The target group through which Prometheus's `redis` job scrapes one Redis node: the exporter's
 * address, the node as the scrape's `target` parameter, and the node's name, shard and role.
 */
export function redisTarget(
  exporter: string,
  node: {
    readonly url: string
    readonly name: string
    readonly shard: string
    readonly role: string
  },
): TargetGroup {
  return {
    targets: [exporter],
    labels: {
      __param_target: node.url,
      instance: node.name,
      shard: node.shard,
      role: node.role,
    },
  }
}

export interface MysqlServer {
  readonly host: string
  readonly port: number
  readonly user: string
  readonly password?: string
}

/**
 * mysqld_exporter for one MySQL server. Its credentials go in its environment (DATA_SOURCE_NAME,
 * which Debian's 0.14 reads), never on the command line, where `ps` shows them; its option file
 * would refuse an account without a password, as the machine's root is.
 */
export async function startMysqldExporter(
  server: MysqlServer,
  options: { readonly port?: number; readonly echo?: NodeJS.WritableStream } = {},
): Promise<Exporter> {
  const address = `127.0.0.1:${options.port || (await freePort())}`
  const credentials = server.password ? `${server.user}:${server.password}` : server.user
  const env = {
    ...process.env,
    DATA_SOURCE_NAME: `${credentials}@tcp(${server.host}:${server.port})/`,
  }
  const proc = startProcess(
    'mysqld exporter',
    findTool('mysqldExporter'),
    [`--web.listen-address=${address}`],
    { env, echo: options.echo },
  )
  await ready(proc, `http://${address}/metrics`)
  return { address, process: proc }
}
