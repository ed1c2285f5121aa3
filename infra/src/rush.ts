// Registration openings, as the autoscaling schedule, the deploy freeze and the load balancer's
// reservation see them. Pure: the caller says what "now" is.
import type {
  CapacityReservationConfig,
  ComputeConfig,
  RegistrationCalendar,
  RushConfig,
} from './config/types.js'
import { registrationOpenings } from './registration.js'

export interface RushWindow {
  /** The first opening of the window. */
  readonly opensAt: Date
  /** Every opening the window covers: openings whose windows would overlap share one. */
  readonly openings: readonly Date[]
  /** The scheduled scale-out. */
  readonly scaleOutAt: Date
  /** The scheduled return to the profile's minimum and desired capacity. */
  readonly scaleInAt: Date
  /** Deploys are refused from `freezeFrom` until `scaleInAt`. */
  readonly freezeFrom: Date
}

const minutes = (at: Date, delta: number) => new Date(at.getTime() + delta * 60_000)

/**
 * Every opening's window, in time order. Openings close enough for their windows to overlap
 * share one, from the first one's freeze to the last one's hold: otherwise the first one's
 * scale-in would drop the group to its off-peak size during the second one's rush.
 */
export function rushWindows(calendar: RegistrationCalendar, rush: RushConfig): RushWindow[] {
  const windows: RushWindow[] = []
  for (const opensAt of registrationOpenings(calendar)) {
    const next: RushWindow = {
      opensAt,
      openings: [opensAt],
      scaleOutAt: minutes(opensAt, -rush.leadMinutes),
      scaleInAt: minutes(opensAt, rush.holdMinutes),
      freezeFrom: minutes(opensAt, -rush.freezeBeforeMinutes),
    }
    const last = windows.at(-1)
    if (last && next.freezeFrom < last.scaleInAt) {
      windows[windows.length - 1] = {
        ...last,
        openings: [...last.openings, opensAt],
        scaleInAt: next.scaleInAt,
      }
    } else {
      windows.push(next)
    }
  }
  return windows
}

/** The window whose deploy freeze holds at `at`, if any. */
export function freezeAt(
  calendar: RegistrationCalendar,
  rush: RushConfig,
  at: Date,
): RushWindow | undefined {
  return rushWindows(calendar, rush).find((w) => w.freezeFrom <= at && at < w.scaleInAt)
}

/**
 * The group's minimum as the schedule means it at `at`: the rush capacity from a window's freeze
 * to its scale-in, the profile's minimum otherwise. An apply writes this, so one made during an
 * opening (by hand, or a deploy let through the freeze) keeps the scheduled minimum instead of
 * resetting it to the off-peak value; from the freeze on, so does one synthesized shortly before
 * the scale-out and applied after it.
 */
export function scheduledMinimum(
  calendar: RegistrationCalendar,
  compute: ComputeConfig,
  at: Date | undefined,
): number {
  if (at === undefined) return compute.minSize
  return freezeAt(calendar, compute.rush, at) ? compute.rush.instances : compute.minSize
}

/**
 * The load balancer capacity to reserve at `at`: while an opening lies less than `hoursBefore`
 * ahead, or its hold is running; otherwise none. Without a time, none.
 */
export function reservedCapacityAt(
  calendar: RegistrationCalendar,
  rush: RushConfig,
  reservation: CapacityReservationConfig | undefined,
  at: Date | undefined,
): number | undefined {
  if (reservation === undefined || at === undefined) return undefined
  const holds = rushWindows(calendar, rush).some(
    (w) => minutes(w.opensAt, -reservation.hoursBefore * 60) <= at && at < w.scaleInAt,
  )
  return holds ? reservation.capacityUnits : undefined
}

/** The moment synthesis plans for (RushConfig.scheduleAfter), if the entry point set one. */
export function plannedAt(rush: RushConfig): Date | undefined {
  return rush.scheduleAfter === undefined ? undefined : new Date(rush.scheduleAfter)
}

/** `2027-02-08T00:30:00Z`: the form the autoscaling schedule takes (UTC, whole seconds). */
export function utcSeconds(at: Date): string {
  return at.toISOString().replace(/\.\d{3}Z$/, 'Z')
}
