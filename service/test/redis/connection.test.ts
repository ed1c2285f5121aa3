import t from 'tap'
import { RedisConnection } from '../../src/adapters/redis/connection.js'
import { REDIS_URL } from '../helper.js'
import { startRedis } from '../support/servers.js'

const STOPPED = /stopped answering/

function connect(url: string) {
  const errors: string[] = []
  const connection = new RedisConnection({
    url,
    commandTimeoutMs: 200,
    onError: (err) => errors.push(err.message),
  })
  return { connection, errors }
}

/** Blocks this process's event loop, as a long GC pause or a starved CPU would. */
function blockEventLoop(ms: number): void {
  const until = Date.now() + ms
  while (Date.now() < until) {
    // busy
  }
}

t.test('a stall of this process does not drop a healthy connection', async (t) => {
  const { connection, errors } = connect(REDIS_URL)
  t.teardown(() => connection.close())
  await connection.connect()
  await connection.ping()
  for (let round = 0; round < 5; round += 1) {
    // A command whose answer comes 50 ms later: sent, then the process stalls meanwhile. The
    // answer waits unread in the socket, and the expired deadline timer runs first.
    const pending = connection.run(() => connection.client.blpop(`t:stall:${round}`, 0.05))
    await new Promise((resolve) => setImmediate(resolve))
    blockEventLoop(600)
    await pending.catch(() => undefined)
  }
  t.notMatch(errors.join('\n'), STOPPED, 'the connection was never dropped as stalled')
  t.equal(connection.client.status, 'ready')
  await connection.ping()
  t.pass('and it still answers')
})

t.test(
  'an answer that arrived while this process stalled is not reported as a timeout',
  async (t) => {
    const { connection, errors } = connect(REDIS_URL)
    t.teardown(() => connection.close())
    await connection.connect()
    await connection.ping()
    for (let round = 0; round < 10; round += 1) {
      // Sent, then the process stalls far past the deadline while Redis answers at once: a 503
      // here would tell a student to retry a request that was already queued.
      const key = `t:stall-answer:${process.pid}:${round}`
      await connection.client.del(key)
      const pending = connection.run(() => connection.client.incr(key))
      await new Promise((resolve) => setImmediate(resolve))
      blockEventLoop(600)
      t.equal(await pending, 1, `round ${round}: the answer is taken`)
      await connection.client.del(key)
    }
    t.notMatch(errors.join('\n'), STOPPED)
  },
)

t.test('a frozen server is dropped and reconnected', async (t) => {
  const server = await startRedis()
  t.teardown(() => server.stop())
  const { connection, errors } = connect(server.url)
  t.teardown(() => connection.close())
  await connection.connect()
  await connection.ping()
  server.pause()
  await t.rejects(connection.ping(), { name: 'DependencyUnavailableError' })
  await t.rejects(connection.ping())
  t.match(errors.join('\n'), STOPPED, 'the stalled connection was dropped')
  server.resume()
  for (;;) {
    if (
      await connection.ping().then(
        () => true,
        () => false,
      )
    )
      break
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  t.pass('and answers again once the server does')
})
