// The Server-Sent Events wire format, read as a browser's EventSource reads it (the HTML
// standard's "event stream interpretation"): the load generator follows GET /me/events with it.

const LF = 10
const CR = 13
const BOM = '\uFEFF'

export interface SseEvent {
  /** The `event:` field, or "message" when none was given. */
  readonly event: string
  /** The `data:` lines, joined with LF. */
  readonly data: string
  /** The last `id:` seen on this stream ("" before any). */
  readonly id: string
}

/**
 * Takes the text of a stream in whatever pieces it arrives (a line, or a CRLF, may be cut
 * anywhere) and calls `onEvent` for each event a blank line completes. The text must already be
 * decoded (a response with setEncoding('utf8') keeps multi-byte characters whole). An event the
 * stream ends in the middle of is never dispatched, as in a browser.
 */
export class SseParser {
  /** The last valid `retry:` (ms), or null. */
  retryMs: number | null = null
  readonly #onEvent: (event: SseEvent) => void
  /** The start of a line whose end has not arrived yet. */
  #partial = ''
  /** The last chunk ended with a CR: an LF that starts the next one belongs to it. */
  #afterCr = false
  #started = false
  #event = ''
  #data = ''
  #id = ''

  constructor(onEvent: (event: SseEvent) => void) {
    this.#onEvent = onEvent
  }

  push(chunk: string): void {
    let i = 0
    if (!this.#started && chunk.length > 0) {
      this.#started = true
      if (chunk.startsWith(BOM)) i = 1
    }
    if (this.#afterCr && chunk.length > 0) {
      this.#afterCr = false
      if (chunk.charCodeAt(i) === LF) i += 1
    }
    let lineStart = i
    for (; i < chunk.length; i += 1) {
      const c = chunk.charCodeAt(i)
      if (c !== LF && c !== CR) continue
      const line = this.#partial + chunk.slice(lineStart, i)
      this.#partial = ''
      if (c === CR) {
        if (i + 1 === chunk.length) this.#afterCr = true
        else if (chunk.charCodeAt(i + 1) === LF) i += 1
      }
      lineStart = i + 1
      this.#line(line)
    }
    this.#partial += chunk.slice(lineStart)
  }

  #line(line: string): void {
    if (line === '') {
      this.#dispatch()
      return
    }
    if (line.startsWith(':')) return
    const colon = line.indexOf(':')
    const field = colon === -1 ? line : line.slice(0, colon)
    let value = colon === -1 ? '' : line.slice(colon + 1)
    if (value.startsWith(' ')) value = value.slice(1)
    switch (field) {
      case 'event':
        this.#event = value
        break
      case 'data':
        this.#data += `${value}\n`
        break
      case 'id':
        if (!value.includes('\u0000')) this.#id = value
        break
      case 'retry':
        if (/^[0-9]+$/.test(value)) this.retryMs = Number(value)
        break
    }
  }

  #dispatch(): void {
    const data = this.#data
    const event = this.#event || 'message'
    this.#data = ''
    this.#event = ''
    if (data === '') return
    this.#onEvent({ event, data: data.slice(0, -1), id: this.#id })
  }
}
