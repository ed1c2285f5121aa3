import { Writable } from 'node:stream'
import pino from 'pino'
import t from 'tap'
import { ThrottledLog } from '../../src/logging/throttled-log.js'

function capture() {
  const lines: Array<Record<string, unknown>> = []
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>)
      callback()
    },
  })
  return { lines, logger: pino({ level: 'warn' }, stream) }
}

t.test(
  'a repeating error is logged once in full, then once per interval with a count',
  async (t) => {
    const { lines, logger } = capture()
    // A long interval: the test flushes by hand, so no timing is involved.
    const log = new ThrottledLog(logger, 3_600_000)
    t.teardown(() => log.close())
    for (let i = 0; i < 597; i += 1) {
      log.warn('admission failed', new Error(`connect ECONNREFUSED #${i}`), { courseId: 'C0001' })
    }
    await new Promise((resolve) => setImmediate(resolve))
    t.equal(lines.length, 1, 'the first occurrence at once')
    t.match(lines[0], {
      msg: 'admission failed',
      courseId: 'C0001',
      err: { stack: /ECONNREFUSED #0/ },
    })
    log.flush()
    await new Promise((resolve) => setImmediate(resolve))
    t.equal(lines.length, 2, 'then one summary')
    t.match(lines[1], { repeated: 596, lastError: 'connect ECONNREFUSED #596', courseId: 'C0001' })
    t.notOk('err' in (lines[1] ?? {}), 'without a stack')

    log.flush()
    log.warn('admission failed', new Error('again'))
    await new Promise((resolve) => setImmediate(resolve))
    t.equal(lines.length, 3, 'after a quiet interval the next occurrence is logged in full again')
    t.match(lines[2], { err: { message: 'again' } })
  },
)
