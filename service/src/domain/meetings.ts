import { DAYS, type Day, type Meeting } from './model.js'

const DAY_SET = new Set<string>(DAYS)

/** The periods of a day a timetable has (1-based). */
export const PERIODS_PER_DAY = 15

/**
 * Reads meetings stored as JSON (`[{"day":"MON","start":3,"end":4,"room":"..."}]`). Storage is
 * the truth: anything malformed is an error, not silently dropped, so a bad row is noticed.
 */
export function parseMeetings(raw: unknown): Meeting[] {
  const value: unknown = typeof raw === 'string' ? JSON.parse(raw) : raw
  if (!Array.isArray(value)) throw new Error('meetings must be a JSON array')
  return value.map((m: unknown) => {
    const { day, start, end, room } = (m ?? {}) as Record<string, unknown>
    if (
      typeof day !== 'string' ||
      !DAY_SET.has(day) ||
      !Number.isInteger(start) ||
      !Number.isInteger(end) ||
      (start as number) < 1 ||
      (end as number) < (start as number) ||
      (end as number) > PERIODS_PER_DAY ||
      typeof room !== 'string'
    ) {
      throw new Error(`malformed meeting ${JSON.stringify(m)}`)
    }
    return { day: day as Day, start: start as number, end: end as number, room }
  })
}

export function formatMeetings(meetings: readonly Meeting[]): string {
  return JSON.stringify(meetings.map(({ day, start, end, room }) => ({ day, start, end, room })))
}
