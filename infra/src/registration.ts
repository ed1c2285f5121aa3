// The registration calendar (PlatformConfig.registration), read two ways: as the service's own
// window (the environment its instances get) and as the openings everything else is planned
// around. Pure: nothing here reads the clock.
import type { RegistrationCalendar } from './config/types.js'

/** An ISO 8601 instant with an explicit offset; a bare local time would depend on the machine. */
const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?(Z|[+-]\d{2}:\d{2})$/
/** The grade years REGISTRATION_OPENS_AT_BY_YEAR accepts (service/src/config.ts). */
const YEAR = /^[1-9]$/

function instant(field: string, value: string): Date {
  const at = new Date(value)
  if (!INSTANT.test(value) || Number.isNaN(at.getTime())) {
    throw new Error(
      `${field} "${value}" must be ISO 8601 with an offset, e.g. 2027-02-08T10:00:00+09:00`,
    )
  }
  return at
}

/** The calendar checked: every instant explicit, every year 1-9, the close after every opening. */
export function checkCalendar(calendar: RegistrationCalendar): void {
  instant('registration.opensAt', calendar.opensAt)
  for (const [year, at] of Object.entries(calendar.opensAtByYear ?? {})) {
    if (!YEAR.test(year)) {
      throw new Error(`registration.opensAtByYear: "${year}" is not a grade year from 1 to 9`)
    }
    instant(`registration.opensAtByYear[${year}]`, at)
  }
  if (calendar.closesAt !== undefined) {
    const closesAt = instant('registration.closesAt', calendar.closesAt)
    const last = registrationOpenings(calendar).at(-1)!
    if (closesAt <= last) {
      throw new Error(
        `registration.closesAt (${calendar.closesAt}) must be after the last opening (${last.toISOString()})`,
      )
    }
  }
}

/**
 * Every distinct instant at which registration opens for someone, in time order: the general
 * opening and each year's own. Two years opening at the same instant are one opening.
 */
export function registrationOpenings(calendar: RegistrationCalendar): Date[] {
  const all = [
    instant('registration.opensAt', calendar.opensAt),
    ...Object.entries(calendar.opensAtByYear ?? {}).map(([year, at]) =>
      instant(`registration.opensAtByYear[${year}]`, at),
    ),
  ]
  const distinct = new Map(all.map((at) => [at.getTime(), at]))
  return [...distinct.values()].sort((a, b) => a.getTime() - b.getTime())
}

/**
 * The service's window as its environment (README.md, "Configuration"), the instants written as
 * the calendar has them. Without this the service is open for registration all the time.
 */
export function registrationEnvironment(calendar: RegistrationCalendar): Record<string, string> {
  checkCalendar(calendar)
  const env: Record<string, string> = { REGISTRATION_OPENS_AT: calendar.opensAt }
  const byYear = Object.entries(calendar.opensAtByYear ?? {}).sort(
    ([a], [b]) => Number(a) - Number(b),
  )
  if (byYear.length > 0) {
    env.REGISTRATION_OPENS_AT_BY_YEAR = byYear.map(([year, at]) => `${year}=${at}`).join(',')
  }
  if (calendar.closesAt !== undefined) env.REGISTRATION_CLOSES_AT = calendar.closesAt
  return env
}
