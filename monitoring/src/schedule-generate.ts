// Writes prometheus/schedules/<profile>.yml for every infra profile: `npm run schedules -w
// monitoring`. With --check it writes nothing and exits 1 when a committed file differs.
import { readFile, readdir, rm, writeFile } from 'node:fs/promises'
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

async function main(argv: readonly string[]): Promise<number> {
  const files = scheduleFiles()
  const committed = (await readdir(schedulesDir).catch(() => [])).filter((f) => f.endsWith('.yml'))
  if (argv.includes('--check')) {
    let same = committed.length === files.size
    for (const [name, text] of files) {
      same &&= (await readFile(join(schedulesDir, name), 'utf8').catch(() => '')) === text
    }
    if (same) return 0
    process.stderr.write(
      "prometheus/schedules/ differs from infra's profiles: npm run schedules -w monitoring\n",
    )
    return 1
  }
  for (const name of committed) if (!files.has(name)) await rm(join(schedulesDir, name))
  for (const [name, text] of files) await writeFile(join(schedulesDir, name), text)
  return 0
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.exitCode = await main(process.argv.slice(2))
}
