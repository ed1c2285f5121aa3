import type * as dashboard from '@grafana/grafana-foundation-sdk/dashboard'
import { datasourceVariable, labelValuesVariable } from './datasource.js'
import { ne, node, nre, rate, re, up } from './metrics.js'
import { board, row, statPanel, thresholds, timeseriesPanel, type Cell } from './panels.js'

// "sugang / Hosts": the app instances as node exporter sees them. It reads node exporter only
// (and `up` of its job), so it works whatever the service is doing.

const instance = re('$instance')
/** Filesystems that are not disks. */
const realDisks = { instance, fstype: nre('tmpfs|ramfs|squashfs|overlay|nsfs') } as const

const busy = `1 - avg by (instance) (${rate(node.cpu.select({ instance, mode: 'idle' }))})`
const memoryAvailable = `${node.memAvailable.select({ instance })} / ${node.memTotal.select({ instance })}`

const stat = (panel: Cell['panel']): Cell => ({ panel, w: 8, h: 4 })
const half = (panel: Cell['panel']): Cell => ({ panel, w: 12, h: 8 })

export function hostsDashboard(): dashboard.Dashboard {
  return board({
    uid: 'sugang-hosts',
    title: 'sugang / Hosts',
    description: 'App instances from node exporter: CPU, memory, disk, network.',
    variables: [
      datasourceVariable(),
      labelValuesVariable('instance', 'Instance', up('node'), 'instance'),
    ],
    sections: [
      {
        row: row(1, 'Overview'),
        lines: [
          [
            stat(
              statPanel({
                id: 2,
                title: 'Hosts up',
                queries: [{ expr: `sum(${up('node')})` }],
                thresholds: thresholds('red', [1, 'green']),
              }),
            ),
            stat(
              statPanel({
                id: 3,
                title: 'Busiest CPU',
                unit: 'percentunit',
                queries: [{ expr: `max(${busy})` }],
                thresholds: thresholds('green', [0.8, 'orange']),
              }),
            ),
            stat(
              statPanel({
                id: 4,
                title: 'Lowest memory available',
                unit: 'percentunit',
                queries: [{ expr: `min(${memoryAvailable})` }],
                thresholds: thresholds('red', [0.1, 'orange'], [0.2, 'green']),
              }),
            ),
          ],
        ],
      },
      {
        row: row(5, 'CPU and memory'),
        lines: [
          [
            half(
              timeseriesPanel({
                id: 6,
                title: 'CPU busy',
                description: 'HostHighCpuLoad warns above 80% for 10 minutes.',
                unit: 'percentunit',
                min: 0,
                queries: [{ expr: busy, legend: '{{instance}}' }],
              }),
            ),
            half(
              timeseriesPanel({
                id: 7,
                title: 'Load average (1m) per CPU',
                unit: 'short',
                min: 0,
                queries: [
                  {
                    expr: `${node.load1.select({ instance })} / on (instance) count by (instance) (${node.cpu.select({ instance, mode: 'idle' })})`,
                    legend: '{{instance}}',
                  },
                ],
              }),
            ),
          ],
          [
            half(
              timeseriesPanel({
                id: 8,
                title: 'Memory available',
                description: 'HostOutOfMemory warns under 10%.',
                unit: 'percentunit',
                min: 0,
                queries: [{ expr: memoryAvailable, legend: '{{instance}}' }],
              }),
            ),
            half(
              timeseriesPanel({
                id: 9,
                title: 'Major page faults/s',
                description: 'HostMemoryUnderMemoryPressure warns above 1000/s.',
                unit: 'ops',
                queries: [
                  {
                    expr: rate(node.majorPageFaults.select({ instance })),
                    legend: '{{instance}}',
                  },
                ],
              }),
            ),
          ],
        ],
      },
      {
        row: row(10, 'Disk and network'),
        lines: [
          [
            half(
              timeseriesPanel({
                id: 11,
                title: 'Disk space available',
                description: 'HostOutOfDiskSpace warns under 10% and is critical under 5%.',
                unit: 'percentunit',
                min: 0,
                queries: [
                  {
                    expr: `${node.filesystemAvail.select(realDisks)} / ${node.filesystemSize.select(realDisks)}`,
                    legend: '{{instance}} {{mountpoint}}',
                  },
                ],
              }),
            ),
            half(
              timeseriesPanel({
                id: 12,
                title: 'Disk I/O',
                unit: 'Bps',
                queries: [
                  {
                    expr: `sum by (instance) (${rate(node.diskRead.select({ instance }))})`,
                    legend: 'read {{instance}}',
                  },
                  {
                    expr: `sum by (instance) (${rate(node.diskWritten.select({ instance }))})`,
                    legend: 'written {{instance}}',
                  },
                ],
              }),
            ),
          ],
          [
            half(
              timeseriesPanel({
                id: 13,
                title: 'Network traffic',
                unit: 'Bps',
                queries: [
                  {
                    expr: `sum by (instance) (${rate(node.networkReceive.select({ instance, device: ne('lo') }))})`,
                    legend: 'in {{instance}}',
                  },
                  {
                    expr: `sum by (instance) (${rate(node.networkTransmit.select({ instance, device: ne('lo') }))})`,
                    legend: 'out {{instance}}',
                  },
                ],
              }),
            ),
            half(
              timeseriesPanel({
                id: 14,
                title: 'TCP connections established',
                unit: 'short',
                queries: [
                  { expr: node.tcpEstablished.select({ instance }), legend: '{{instance}}' },
                ],
              }),
            ),
          ],
        ],
      },
    ],
  })
}
