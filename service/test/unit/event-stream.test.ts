import { PassThrough, Writable } from 'node:stream'
import t from 'tap'
import { EventStream, type EventStreamSettings } from '../../src/routes/api/event-stream.js'
import { waitFor } from '../helper.js'

const HOUR = 3_600_000

/** A stream over a real Writable that nobody reads until the test says so. */
function open(settings: Partial<EventStreamSettings>, highWaterMark = 1024) {
  const out = new PassThrough({ highWaterMark })
  const ends: string[] = []
  const stream = new EventStream(
    out,
    { lifetimeMs: HOUR, stallMs: HOUR, heartbeatMs: HOUR, ...settings },
    (why) => ends.push(why),
  )
  return { out, ends, stream }
}

/** Sends events until the Writable says it is full. */
function fill(stream: EventStream, out: PassThrough): void {
  for (let i = 0; out.writableLength < out.writableHighWaterMark; i += 1) {
    stream.send('request', { requestId: String(i), status: 'queued', position: i })
  }
}

t.test(
  'a stream whose client stopped reading is closed once it stayed full for stallMs',
  async (t) => {
    for (let round = 1; round <= 10; round += 1) {
      const { out, ends, stream } = open({ stallMs: 20 })
      fill(stream, out)
      await waitFor('the stream to be closed', async () => ends.length > 0)
      t.same(ends, ['stalled'], `round ${round}: closed as stalled, once`)
      t.ok(out.destroyed, 'without waiting for the client to take a goodbye')
    }
  },
)

t.test(
  'a slow client that catches up is not closed; the stream ends at its lifetime',
  async (t) => {
    const { out, ends, stream } = open({ stallMs: 200, lifetimeMs: 1000 })
    fill(stream, out)
    out.resume() // the client reads again: the socket drains
    await waitFor('the stream to end', async () => ends.length > 0)
    t.same(ends, ['lifetime'])
    t.ok(out.writableEnded, 'ended cleanly, so the browser reconnects')
  },
)

t.test('too much unread output closes the stream at once', async (t) => {
  // A socket that takes nothing (its kernel buffer is full) and lets Node queue without a cap.
  const out = new Writable({ highWaterMark: 16 * 1024 * 1024, write: () => undefined })
  const ends: string[] = []
  const stream = new EventStream(
    out,
    { lifetimeMs: HOUR, stallMs: HOUR, heartbeatMs: HOUR },
    (why) => ends.push(why),
  )
  const big = 'x'.repeat(1024)
  for (let i = 0; i < 300 && ends.length === 0; i += 1) stream.send('request', { big })
  t.same(ends, ['stalled'])
  t.ok(out.writableLength < 300 * 1024, 'before the buffer grew without bound')
})

t.test('a stream starts with how long to wait before reconnecting', async (t) => {
  const { out, stream } = open({})
  stream.end('closed')
  const text = (out.read() as Buffer | null)?.toString('utf8') ?? ''
  t.match(text, /^retry: \d+\n\n/)
})
