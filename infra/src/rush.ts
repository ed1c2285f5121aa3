// Registration openings, as the autoscaling schedule and the deploy freeze see them. Pure: the
// caller says what "now" is.
import type { RushConfig } from './config/types.js'

/** An ISO 8601 instant with an explicit offset; a bare local time would depend on the machine. */
const OPENING = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?(Z|[+-]\d{2}:\d{2})$/

export interface RushWindow {
  readonly opensAt: Date
  /** The scheduled scale-out. */
  readonly scaleOutAt: Date
  /** The scheduled return to the profile's minimum and desired capacity. */
  readonly scaleInAt: Date
  /** Deploys are refused from `freezeFrom` until `scaleInAt`. */
  readonly freezeFrom: Date
}

const minutes = (at: Date, delta: number) => new Date(at.getTime() + delta * 60_000)

/** Every opening's window, in time order; throws on an opening that is not an explicit instant. */
export function rushWindows(rush: RushConfig): RushWindow[] {
  return rush.openings
    .map((opening) => {
      if (!OPENING.test(opening)) {
        throw new Error(
          `rush opening "${opening}" must be ISO 8601 with an offset, e.g. 2027-02-08T10:00:00+09:00`,
        )
      }
      const opensAt = new Date(opening)
      return {
        opensAt,
        scaleOutAt: minutes(opensAt, -rush.leadMinutes),
        scaleInAt: minutes(opensAt, rush.holdMinutes),
        freezeFrom: minutes(opensAt, -rush.freezeBeforeMinutes),
      }
    })
    .sort((a, b) => a.opensAt.getTime() - b.opensAt.getTime())
}

/** The window whose deploy freeze holds at `at`, if any. */
export function freezeAt(rush: RushConfig, at: Date): RushWindow | undefined {
  return rushWindows(rush).find((w) => w.freezeFrom <= at && at < w.scaleInAt)
}

/** `2027-02-08T00:30:00Z`: the form the autoscaling schedule takes (UTC, whole seconds). */
export function utcSeconds(at: Date): string {
  return at.toISOString().replace(/\.\d{3}Z$/, 'Z')
}
