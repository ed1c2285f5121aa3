// npm run schedules -w monitoring: writes prometheus/schedules/<profile>.yml for every infra
// profile (tests/grafana.test.ts fails while a committed file differs from what this writes).
import { readdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { profiles } from '../../infra/src/config/index.js'
import { renderScheduleRules, schedulesDir, type OpeningSchedule } from './schedule.js'

/** Each profile's schedule, from its configuration. */
export function profileSchedules(): OpeningSchedule[] {
  return Object.values(profiles).map((p) => ({
    profile: p.profile,
    minimumInstances: p.compute.rush.instances,
    requestsPerInstance: p.compute.requestsPerSecondPerInstance,
  }))
}

/** File name and text of every schedule file. */
export function scheduleFiles(): Map<string, string> {
  return new Map(profileSchedules().map((s) => [`${s.profile}.yml`, renderScheduleRules(s)]))
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const files = scheduleFiles()
  // A profile removed from infra loses its file, so no host loads a schedule nobody keeps.
  for (const name of await readdir(schedulesDir)) {
    if (name.endsWith('.yml') && !files.has(name)) await rm(join(schedulesDir, name))
  }
  for (const [name, text] of files) await writeFile(join(schedulesDir, name), text)
}
