// The server's clock, as estimated from GET /api/v1/me's serverTime, and time formatting.

let offsetMs = 0

/**
 * Corrects the local clock with the server's time: the server read its clock between sending
 * and receiving, so the midpoint is the best estimate of that moment here.
 */
export function syncClock(serverTime, sentAt, receivedAt) {
  const server = Date.parse(serverTime)
  if (Number.isNaN(server)) return
  offsetMs = server - (sentAt + receivedAt) / 2
}

/** Now, by the server's clock (ms since the epoch). */
export function serverNow() {
  return Date.now() + offsetMs
}

/** "2일 03:04:05", "03:04:05", "04:05" */
export function formatCountdown(ms) {
  const total = Math.max(0, Math.ceil(ms / 1000))
  const days = Math.floor(total / 86_400)
  const hours = Math.floor((total % 86_400) / 3600)
  const minutes = Math.floor((total % 3600) / 60)
  const seconds = total % 60
  const two = (n) => String(n).padStart(2, '0')
  const clock =
    hours > 0 || days > 0
      ? `${two(hours)}:${two(minutes)}:${two(seconds)}`
      : `${two(minutes)}:${two(seconds)}`
  return days > 0 ? `${days}일 ${clock}` : clock
}

/** Seconds to go, in words for a screen reader: "1시간 2분 3초". */
export function spokenCountdown(ms) {
  const total = Math.max(0, Math.ceil(ms / 1000))
  const days = Math.floor(total / 86_400)
  const hours = Math.floor((total % 86_400) / 3600)
  const minutes = Math.floor((total % 3600) / 60)
  const seconds = total % 60
  const parts = []
  if (days) parts.push(`${days}일`)
  if (hours) parts.push(`${hours}시간`)
  if (minutes) parts.push(`${minutes}분`)
  if (seconds || parts.length === 0) parts.push(`${seconds}초`)
  return parts.join(' ')
}

const TIME = new Intl.DateTimeFormat('ko-KR', {
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hourCycle: 'h23',
})

const DATE_TIME = new Intl.DateTimeFormat('ko-KR', {
  month: 'long',
  day: 'numeric',
  weekday: 'short',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hourCycle: 'h23',
})

/** "14:03:21" (local time) */
export function formatTime(ms) {
  return TIME.format(new Date(ms))
}

/** "2월 10일 (월) 10:00:00" (local time) */
export function formatDateTime(ms) {
  return DATE_TIME.format(new Date(ms))
}
