// When RDS and ElastiCache may take a backup or patch and restart: weekly and daily windows in
// UTC, checked against each other and against the registration calendar. Pure.
import type { PlatformConfig } from './config/types.js'
import { rushWindows } from './rush.js'

/**
 * No maintenance from this many hours before an opening until its hold ends: a patch that goes
 * wrong, or a failover it causes, leaves a working day to recover before the rush.
 */
export const MAINTENANCE_CLEARANCE_HOURS = 24

const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const
const DAY_MINUTES = 24 * 60
const WEEK_MINUTES = 7 * DAY_MINUTES
const WEEK_MS = WEEK_MINUTES * 60_000

/** Minutes after Sunday 00:00 UTC; `end` is past `start`, beyond a week when the span wraps. */
export interface WeeklySpan {
  readonly start: number
  readonly end: number
}

function clock(field: string, text: string, hh: string, mm: string): number {
  const minutes = Number(hh) * 60 + Number(mm)
  if (Number(hh) > 23 || Number(mm) > 59) throw new Error(`${field} "${text}" is not a time of day`)
  return minutes
}

/** `thu:18:00-thu:19:00` (RDS's and ElastiCache's maintenance window) as one weekly span. */
export function weeklyWindow(field: string, text: string): WeeklySpan {
  const match =
    /^(sun|mon|tue|wed|thu|fri|sat):(\d{2}):(\d{2})-(sun|mon|tue|wed|thu|fri|sat):(\d{2}):(\d{2})$/.exec(
      text,
    )
  if (!match) throw new Error(`${field} "${text}" must be ddd:hh:mm-ddd:hh:mm in UTC`)
  const [, d1, h1, m1, d2, h2, m2] = match as unknown as [string, ...string[]]
  const start =
    DAYS.indexOf(d1 as (typeof DAYS)[number]) * DAY_MINUTES + clock(field, text, h1!, m1!)
  let end = DAYS.indexOf(d2 as (typeof DAYS)[number]) * DAY_MINUTES + clock(field, text, h2!, m2!)
  if (end <= start) end += WEEK_MINUTES
  return { start, end }
}

/** `17:00-18:00` (a daily backup or snapshot window) as its seven weekly spans. */
export function dailyWindow(field: string, text: string): WeeklySpan[] {
  const match = /^(\d{2}):(\d{2})-(\d{2}):(\d{2})$/.exec(text)
  if (!match) throw new Error(`${field} "${text}" must be hh:mm-hh:mm in UTC`)
  const [, h1, m1, h2, m2] = match as unknown as [string, ...string[]]
  const start = clock(field, text, h1!, m1!)
  let end = clock(field, text, h2!, m2!)
  if (end <= start) end += DAY_MINUTES
  return DAYS.map((_, day) => ({ start: day * DAY_MINUTES + start, end: day * DAY_MINUTES + end }))
}

function spansOverlap(a: WeeklySpan, b: WeeklySpan): boolean {
  return [-WEEK_MINUTES, 0, WEEK_MINUTES].some(
    (shift) => a.start < b.end + shift && b.start + shift < a.end,
  )
}

/** Whether any weekly occurrence of the span falls in [from, to). */
function occursWithin(span: WeeklySpan, from: Date, to: Date): boolean {
  const sunday = new Date(from)
  sunday.setUTCHours(0, 0, 0, 0)
  sunday.setUTCDate(sunday.getUTCDate() - sunday.getUTCDay())
  for (let week = sunday.getTime() - WEEK_MS; week < to.getTime(); week += WEEK_MS) {
    const start = week + span.start * 60_000
    const end = week + span.end * 60_000
    if (start < to.getTime() && from.getTime() < end) return true
  }
  return false
}

const hours = (at: Date, delta: number) => new Date(at.getTime() + delta * 3_600_000)

/**
 * What is wrong with the profile's windows, one sentence each; none when nothing is. The rules:
 * a maintenance window never overlaps its engine's backup window, nor any span from
 * MAINTENANCE_CLEARANCE_HOURS before an opening to the end of its hold; a daily backup or
 * snapshot window never overlaps a rush window (from the freeze to the scale-in).
 */
export function maintenanceConflicts(config: PlatformConfig): string[] {
  const { database, cache, registration, compute } = config
  const engines = [
    {
      name: 'database',
      maintenance: database.maintenanceWindow,
      backupField: 'backupWindow',
      backup: database.backupWindow,
    },
    {
      name: 'cache',
      maintenance: cache.maintenanceWindow,
      backupField: 'snapshotWindow',
      backup: cache.snapshotWindow,
    },
  ]
  const windows = rushWindows(registration, compute.rush)
  const out: string[] = []
  for (const engine of engines) {
    const maintenance = weeklyWindow(`${engine.name}.maintenanceWindow`, engine.maintenance)
    const backups = dailyWindow(`${engine.name}.${engine.backupField}`, engine.backup)
    if (backups.some((b) => spansOverlap(maintenance, b))) {
      out.push(
        `${engine.name}.maintenanceWindow (${engine.maintenance}) overlaps ${engine.name}.${engine.backupField} (${engine.backup})`,
      )
    }
    for (const window of windows) {
      for (const opensAt of window.openings) {
        const from = hours(opensAt, -MAINTENANCE_CLEARANCE_HOURS)
        if (occursWithin(maintenance, from, window.scaleInAt)) {
          out.push(
            `${engine.name}.maintenanceWindow (${engine.maintenance}, UTC) falls within ${MAINTENANCE_CLEARANCE_HOURS} hours before the opening at ${opensAt.toISOString()} or its hold`,
          )
        }
      }
      if (backups.some((b) => occursWithin(b, window.freezeFrom, window.scaleInAt))) {
        out.push(
          `${engine.name}.${engine.backupField} (${engine.backup}, UTC) falls within the rush around ${window.opensAt.toISOString()}`,
        )
      }
    }
  }
  return out
}
