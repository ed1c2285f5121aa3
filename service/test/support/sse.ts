/** One event of a text/event-stream: its `event`, `data` (lines joined) and `retry` fields. */
export interface SseEvent {
  readonly event?: string
  readonly data?: string
  readonly retry?: number
}

/**
 * Splits the complete events off the front of what a stream has sent so far (each ends with a
 * blank line): the events, and the rest to keep for the next chunk. Tests read the service's
 * event streams through it, as a browser's EventSource would.
 */
export function takeEvents(buffer: string): { events: SseEvent[]; rest: string } {
  const events: SseEvent[] = []
  let rest = buffer
  for (let end = rest.indexOf('\n\n'); end >= 0; end = rest.indexOf('\n\n')) {
    const fields: { event?: string; data?: string[]; retry?: number } = {}
    for (const line of rest.slice(0, end).split('\n')) {
      const colon = line.indexOf(':')
      if (colon <= 0) continue
      const name = line.slice(0, colon)
      const value = line.slice(colon + 1).replace(/^ /, '')
      if (name === 'event') fields.event = value
      else if (name === 'data') (fields.data ??= []).push(value)
      else if (name === 'retry' && /^\d+$/.test(value)) fields.retry = Number(value)
    }
    events.push({ event: fields.event, data: fields.data?.join('\n'), retry: fields.retry })
    rest = rest.slice(end + 2)
  }
  return { events, rest }
}
