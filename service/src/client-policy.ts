/**
 * How a program follows the API as the student page does (web/watcher.js): the wait a 429 or a
 * 503 asks for, and the back-off of a request followed by polling. The demo's crowd and the rush
 * benchmark's students (scripts/rush) both behave this way, so that neither asks more of the
 * service than a page would.
 */

/** The first poll of a queued request, how each next one grows, and the longest gap. */
export const FIRST_POLL_MS = 1_000
export const POLL_GROWTH = 1.5
export const MAX_POLL_MS = 10_000

/**
 * How long a 429 or a 503 asks the client to wait (ms): its Retry-After in seconds, at least a
 * tenth of a second, a second when it has none; null for any other status.
 */
export function retryAfterMs(status: number, retryAfterSeconds: number | null): number | null {
  if (status !== 429 && status !== 503) return null
  return Math.max(0.1, retryAfterSeconds ?? 1) * 1000
}

/** The next gap between two polls of a request still queued. */
export function nextPollMs(previousMs: number): number {
  return Math.min(MAX_POLL_MS, previousMs * POLL_GROWTH)
}
