import t from 'tap'
import { SseParser, type SseEvent } from '../rush/sse.js'

// The wire format of GET /me/events as a browser's EventSource reads it: lines end with CRLF, LF
// or CR; a blank line ends an event; `:` starts a comment; several `data:` lines are joined.

/** Feeds `text` cut at the given offsets and returns what the parser saw. */
function parse(
  text: string,
  cuts: readonly number[] = [],
): { events: SseEvent[]; retry: number | null } {
  const events: SseEvent[] = []
  const parser = new SseParser((e) => events.push(e))
  let from = 0
  for (const at of [...cuts, text.length]) {
    parser.push(text.slice(from, at))
    from = at
  }
  return { events, retry: parser.retryMs }
}

/** Every way of cutting `text` in two, and in three around each CR/LF. */
function everyCut(text: string): number[][] {
  const cuts: number[][] = []
  for (let i = 0; i <= text.length; i += 1) cuts.push([i])
  for (let i = 0; i < text.length; i += 1) {
    if (text[i] === '\r' || text[i] === '\n') cuts.push([i, i + 1], [Math.max(0, i - 1), i + 1])
  }
  return cuts
}

const STREAM =
  'retry: 3000\r\n\r\n' +
  'event: request\r\ndata: {"requestId":"a","status":"queued","position":3}\r\n\r\n' +
  ': keep-alive\r\n\r\n' +
  'event: request\ndata: {"requestId":"a",\ndata: "status":"enrolled"}\n\n' +
  'event: unavailable\rdata: {}\r\r' +
  'data:no space\n\n'

const EXPECTED: SseEvent[] = [
  { event: 'request', data: '{"requestId":"a","status":"queued","position":3}', id: '' },
  { event: 'request', data: '{"requestId":"a",\n"status":"enrolled"}', id: '' },
  { event: 'unavailable', data: '{}', id: '' },
  { event: 'message', data: 'no space', id: '' },
]

t.test('reads a stream in one piece: events, comments, retry, every line ending', async (t) => {
  const { events, retry } = parse(STREAM)
  t.same(events, EXPECTED)
  t.equal(retry, 3000)
})

t.test('reads the same events however the stream is cut (mid-line, mid-CRLF)', async (t) => {
  for (const cuts of everyCut(STREAM)) {
    const { events, retry } = parse(STREAM, cuts)
    t.same(events, EXPECTED, `cut at ${cuts.join(', ')}`)
    t.equal(retry, 3000, `cut at ${cuts.join(', ')}: retry`)
  }
})

t.test('reads a stream fed one character at a time', async (t) => {
  const cuts = Array.from({ length: STREAM.length - 1 }, (_, i) => i + 1)
  t.same(parse(STREAM, cuts).events, EXPECTED)
})

t.test('a CR at the end of a chunk then a CR in the next is two line ends', async (t) => {
  // "data: x\r" + "\r": the second CR is a blank line, not the LF of a CRLF.
  t.same(parse('data: x\r\r', [8]).events, [{ event: 'message', data: 'x', id: '' }])
  // "data: x\r" + "\ndata: y\n\n": the LF belongs to the CRLF; one event of one line, then y.
  t.same(parse('data: x\r\n\r\n', [8]).events, [{ event: 'message', data: 'x', id: '' }])
})

t.test('follows the rules for fields, ids, retry and empty events', async (t) => {
  const { events, retry } = parse(
    '\uFEFFdata\n\n' + // a field with no colon: data with an empty value
      'event: only a name\n\n' + // no data: nothing is dispatched, the name is forgotten
      'id: 7\nevent:\ndata:  two spaces\nunknown: x\n\n' +
      'retry: soon\n' + // not digits: ignored
      'id: a\u0000b\ndata: after a bad id\n\n' +
      'data: unfinished',
  )
  t.same(events, [
    { event: 'message', data: '', id: '' },
    { event: 'message', data: ' two spaces', id: '7' },
    { event: 'message', data: 'after a bad id', id: '7' },
  ])
  t.equal(retry, null, 'no valid retry field')
})
