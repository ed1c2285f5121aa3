import type { Writable } from 'node:stream'

/** What the browser waits before it reconnects a stream that ended or broke (ms). */
export const RECONNECT_MS = 3_000
/**
 * How often a comment line keeps an idle stream open through proxies (ms): well within the load
 * balancer's idle timeout (infra/test/relations.test.ts holds the two together).
 */
export const HEARTBEAT_MS = 15_000
/** Written but not yet taken by the client: past this the stream is closed at once. */
const MAX_BUFFERED_BYTES = 256 * 1024

/**
 * One event as it goes on the wire, its data already JSON (which has no line breaks): built once
 * and written to every stream that is sent the same event.
 */
export function eventFrame(event: string, json: string): string {
  return `event: ${event}\ndata: ${json}\n\n`
}

export interface EventStreamSettings {
  /** The server ends the stream after this long (ms); the browser reconnects. */
  readonly lifetimeMs: number
  /** A client that has not taken what was written (the socket stays full) this long is dropped. */
  readonly stallMs: number
  /** How often a comment line keeps an idle stream open through proxies (ms). */
  readonly heartbeatMs: number
}

/**
 * One Server-Sent Events stream over a response that is already open. It never outlives its
 * lifetime, and it never buffers without bound for a client that stopped reading: a write the
 * socket cannot take starts a clock that only a drain stops, and too much unread output closes
 * it at once. `onEnd` runs once, however it ends (lifetime, stall, client gone, server closing).
 */
export class EventStream {
  readonly #out: Writable
  readonly #settings: EventStreamSettings
  readonly #onEnd: (why: 'lifetime' | 'stalled' | 'closed') => void
  readonly #heartbeat: NodeJS.Timeout
  readonly #lifetime: NodeJS.Timeout
  #stall: NodeJS.Timeout | null = null
  #ended = false

  constructor(
    out: Writable,
    settings: EventStreamSettings,
    onEnd: (why: 'lifetime' | 'stalled' | 'closed') => void,
  ) {
    this.#out = out
    this.#settings = settings
    this.#onEnd = onEnd
    this.#heartbeat = setInterval(() => this.#write(': keep-alive\n\n'), settings.heartbeatMs)
    this.#heartbeat.unref()
    // Streams opened together (a deploy, a rush) would all end together: spread them over the
    // last tenth of the lifetime.
    const lifetime = settings.lifetimeMs * (0.9 + Math.random() * 0.1)
    this.#lifetime = setTimeout(() => this.end('lifetime'), lifetime)
    this.#lifetime.unref()
    out.on('drain', () => this.#drained())
    out.on('close', () => this.end('closed'))
    this.#write(`retry: ${RECONNECT_MS}\n\n`)
  }

  get ended(): boolean {
    return this.#ended
  }

  send(event: string, data: unknown): void {
    this.#write(eventFrame(event, JSON.stringify(data)))
  }

  /** Sends an event built by eventFrame (the same one to many streams: serialized once). */
  sendFrame(frame: string): void {
    this.#write(frame)
  }

  /** Ends the stream (idempotent). */
  end(why: 'lifetime' | 'stalled' | 'closed'): void {
    if (this.#ended) return
    this.#ended = true
    clearInterval(this.#heartbeat)
    clearTimeout(this.#lifetime)
    if (this.#stall) clearTimeout(this.#stall)
    // A stalled client gets no goodbye: it would only sit in the same full buffer.
    if (why === 'stalled') this.#out.destroy()
    else if (!this.#out.writableEnded) this.#out.end()
    this.#onEnd(why)
  }

  #write(text: string): void {
    if (this.#ended) return
    if (this.#out.writableLength > MAX_BUFFERED_BYTES) {
      this.end('stalled')
      return
    }
    if (!this.#out.write(text) && !this.#stall) {
      this.#stall = setTimeout(() => this.end('stalled'), this.#settings.stallMs)
      this.#stall.unref()
    }
  }

  #drained(): void {
    if (this.#stall) clearTimeout(this.#stall)
    this.#stall = null
  }
}
