import { prometheusDir } from './paths.js'

// What an opening was scheduled with, as series Prometheus holds: the Auto Scaling group's
// minimum is in AWS, not in any metric, and the capacity it serves is a number of the profile.
// Each infra profile has a rule file of its own (prometheus/schedules/<profile>.yml, written by
// src/schedule-generate.ts from infra/src/config); the monitoring host loads its profile's one,
// and the opening-day board divides and compares by these series, never by constants of its own.

/** The scheduled capacity of one infra profile. */
export interface OpeningSchedule {
  readonly profile: string
  /** compute.rush.instances: minimum and desired from the scale-out to the end of the hold. */
  readonly minimumInstances: number
  /** compute.requestsPerSecondPerInstance: C of docs/benchmarks.md for the profile's instances. */
  readonly requestsPerInstance: number
}

/** The recorded series, each without labels of its own. */
export const SCHEDULE_SERIES = {
  minimumInstances: 'sugang:scheduled_minimum_instances',
  capacity: 'sugang:scheduled_capacity_requests_per_second',
} as const

/** Where each profile's rule file is; the monitoring host mounts its own as schedule/. */
export const schedulesDir = `${prometheusDir}/schedules`

/** The text of prometheus/schedules/<profile>.yml. */
export function renderScheduleRules(s: OpeningSchedule): string {
  for (const [name, n] of Object.entries({
    minimumInstances: s.minimumInstances,
    requestsPerInstance: s.requestsPerInstance,
  })) {
    if (!Number.isInteger(n) || n <= 0) {
      throw new Error(`${s.profile}: ${name} must be a positive integer, got ${n}`)
    }
  }
  const capacity = s.minimumInstances * s.requestsPerInstance
  return `# Generated from infra's ${s.profile} profile by \`npm run schedules -w monitoring\`: edit
# infra/src/config/${s.profile}.ts, never this file. What an opening is scheduled with, for the
# opening-day board: ${s.minimumInstances} instances of ${s.requestsPerInstance} requests/s.
groups:
  - name: schedule
    rules:
      - record: ${SCHEDULE_SERIES.minimumInstances}
        expr: vector(${s.minimumInstances})
      - record: ${SCHEDULE_SERIES.capacity}
        expr: vector(${capacity})
`
}
