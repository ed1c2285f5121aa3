import type * as dashboard from '@grafana/grafana-foundation-sdk/dashboard'
import { join } from 'node:path'
import { format, resolveConfig } from 'prettier'
import { grafanaDir } from '../paths.js'
import { hostsDashboard } from './hosts.js'
import { openingDayDashboard } from './opening-day.js'
import { serviceDashboard } from './service.js'

/** Where Grafana's provisioning reads the dashboards from (grafana/provisioning/dashboards). */
export const dashboardsDir = join(grafanaDir, 'dashboards')

/** Every dashboard, by the file it is written to. */
export const dashboards: ReadonlyArray<{ file: string; build: () => dashboard.Dashboard }> = [
  { file: 'sugang-service.json', build: serviceDashboard },
  { file: 'sugang-hosts.json', build: hostsDashboard },
  { file: 'sugang-opening-day.json', build: openingDayDashboard },
]

/** A dashboard as its file holds it: JSON, formatted as the repository formats JSON. */
export async function render(file: string, built: dashboard.Dashboard): Promise<string> {
  const path = join(dashboardsDir, file)
  const options = (await resolveConfig(path)) ?? {}
  return format(JSON.stringify(built), { ...options, filepath: path })
}

/** Every dashboard file's name and the text the generator writes to it. */
export async function renderAll(): Promise<Array<{ file: string; text: string }>> {
  return Promise.all(
    dashboards.map(async (d) => ({ file: d.file, text: await render(d.file, d.build()) })),
  )
}
