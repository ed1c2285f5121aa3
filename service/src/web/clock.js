// @ts-check
// The server's clock, as estimated from GET /api/v1/me's serverTime, and time formatting.

import { m } from './text.js'

let offsetMs = 0

/**
 * Corrects the local clock with the server's time: the server read its clock between sending
 * and receiving, so the midpoint is the best estimate of that moment here.
 * @param {unknown} serverTime @param {number} sentAt @param {number} receivedAt
 */
export function syncClock(serverTime, sentAt, receivedAt) {
  const server = typeof serverTime === 'string' ? Date.parse(serverTime) : NaN
  if (Number.isNaN(server)) return
  offsetMs = server - (sentAt + receivedAt) / 2
}

/** Now, by the server's clock (ms since the epoch). */
export function serverNow() {
  return Date.now() + offsetMs
}

/** @param {number} n */
const two = (n) => String(n).padStart(2, '0')

/** @param {number} ms */
function parts(ms) {
  const total = Math.max(0, Math.ceil(ms / 1000))
  return {
    days: Math.floor(total / 86_400),
    hours: Math.floor((total % 86_400) / 3600),
    minutes: Math.floor((total % 3600) / 60),
    seconds: total % 60,
  }
}

/** "2일 03:04:05", "03:04:05", "04:05" @param {number} ms */
export function formatCountdown(ms) {
  const { days, hours, minutes, seconds } = parts(ms)
  const clock =
    hours > 0 || days > 0
      ? `${two(hours)}:${two(minutes)}:${two(seconds)}`
      : `${two(minutes)}:${two(seconds)}`
  return days > 0 ? m().countdownDays(days, clock) : clock
}

/** Time to go, in words for a screen reader: "1시간 2분 3초". @param {number} ms */
export function spokenCountdown(ms) {
  const { days, hours, minutes, seconds } = parts(ms)
  return m().spokenDuration(days, hours, minutes, seconds)
}

/** @type {Map<string, { time: Intl.DateTimeFormat, dateTime: Intl.DateTimeFormat }>} */
const formats = new Map()

function format() {
  const locale = m().locale
  let found = formats.get(locale)
  if (!found) {
    found = {
      time: new Intl.DateTimeFormat(locale, {
        hour: '2-digit',
        minute: '2-digit',
        second: '2-digit',
        hourCycle: 'h23',
      }),
      dateTime: new Intl.DateTimeFormat(locale, {
        month: 'long',
        day: 'numeric',
        weekday: 'short',
        hour: '2-digit',
        minute: '2-digit',
        second: '2-digit',
        hourCycle: 'h23',
      }),
    }
    formats.set(locale, found)
  }
  return found
}

/** "14:03:21" (local time) @param {number} ms */
export function formatTime(ms) {
  return format().time.format(new Date(ms))
}

/** "2월 10일 (월) 10:00:00" (local time) @param {number} ms */
export function formatDateTime(ms) {
  return format().dateTime.format(new Date(ms))
}
