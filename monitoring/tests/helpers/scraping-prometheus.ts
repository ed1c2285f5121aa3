import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from '@sugang/testkit/ports'
import { findTool } from '../../src/binaries.js'
import type { TargetGroup } from '../../src/exporters.js'
import { writePrometheusConfig } from '../../src/local-stack.js'
import { startProcess, waitUntilReady, type ManagedProcess } from '../../src/processes.js'

export interface ScrapingPrometheus {
  readonly url: string
  readonly process: ManagedProcess
  stop(): Promise<void>
}

/**
 * Prometheus alone (no Alertmanager): prometheus.local.yml with the committed rules, scraping the
 * given service, node exporter, Redis and MySQL targets every 5 s (and nothing else), on
 * 127.0.0.1, with its data in a temporary directory that stop() removes. For running the
 * dashboards' queries against real series.
 */
export async function startScrapingPrometheus(targets: {
  readonly sugang: readonly string[]
  readonly node: readonly string[]
  readonly redis?: readonly TargetGroup[]
  readonly mysql?: readonly TargetGroup[]
}): Promise<ScrapingPrometheus> {
  const bin = findTool('prometheus')
  const dir = await mkdtemp(join(tmpdir(), 'sugang-prometheus-'))
  const address = `127.0.0.1:${await freePort()}`
  await mkdir(join(dir, 'data'))
  await writePrometheusConfig(dir, { ...targets, alertmanager: [], prometheus: [] })
  const proc = startProcess('prometheus', bin, [
    `--config.file=${join(dir, 'prometheus.yml')}`,
    `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=${address}`,
    '--storage.tsdb.retention.time=1d',
  ])
  const stop = async (): Promise<void> => {
    await proc.stop()
    await rm(dir, { recursive: true, force: true })
  }
  try {
    await waitUntilReady(`http://${address}/-/ready`, proc)
  } catch (err) {
    await stop()
    throw err
  }
  return { url: `http://${address}`, process: proc, stop }
}
