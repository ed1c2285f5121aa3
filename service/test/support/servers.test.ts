import { existsSync } from 'node:fs'
import { connect, createServer } from 'node:net'
import { Redis } from 'ioredis'
import mysql from 'mysql2/promise'
import t from 'tap'
import { freePort, startMariaDb, startRedis } from './servers.js'

// Every query and command below carries a timeout, so a server that never answers fails the
// test instead of hanging it until tap's own timeout.
const ANSWER_MS = 10_000
const NO_ANSWER_MS = 500

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** Whether a TCP connect to the port is refused: nothing, not even a frozen process, listens. */
function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    socket.once('connect', () => {
      socket.destroy()
      resolve(false)
    })
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'))
  })
}

async function mysqlConnection(t: Tap, url: string): Promise<mysql.Connection> {
  const conn = await mysql.createConnection({ uri: url, connectTimeout: ANSWER_MS })
  // A killed server makes the idle connection emit 'error'; that is what the test is doing.
  conn.on('error', () => {})
  t.teardown(() => conn.destroy())
  return conn
}

function redisClient(t: Tap, url: string, commandTimeout = ANSWER_MS): Redis {
  const redis = new Redis(url, {
    commandTimeout,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  })
  redis.on('error', () => {})
  t.teardown(() => redis.disconnect())
  return redis
}

interface Tap {
  teardown(fn: () => unknown): void
}

t.test('freePort gives a loopback port that can be listened on', async (t) => {
  const port = await freePort()
  t.ok(port > 0 && port < 65536)
  const server = createServer()
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', resolve)
  })
  await new Promise((resolve) => server.close(resolve))
})

t.test(
  'a MariaDB of its own can be paused, killed and restarted, and keeps its data',
  async (t) => {
    const db = await startMariaDb()
    t.teardown(() => db.stop())
    t.match(db.url, new RegExp(`^mysql://root@127\\.0\\.0\\.1:${db.port}$`))
    t.ok(alive(db.pid), 'the pid is the server process')

    const conn = await mysqlConnection(t, db.url)
    await conn.query('CREATE DATABASE scratch')
    await conn.query('CREATE TABLE scratch.rows_kept (id INT PRIMARY KEY) ENGINE=InnoDB')
    await conn.query('INSERT INTO scratch.rows_kept VALUES (1)')

    db.pause()
    await t.rejects(
      conn.query({ sql: 'SELECT 1', timeout: NO_ANSWER_MS }),
      { code: 'PROTOCOL_SEQUENCE_TIMEOUT' },
      'a paused server does not answer a query',
    )
    await t.rejects(
      mysql.createConnection({ uri: db.url, connectTimeout: NO_ANSWER_MS }),
      { code: 'ETIMEDOUT' },
      'nor greet a new connection, though the kernel still accepts it',
    )
    db.resume()
    const [rows] = await conn.query<mysql.RowDataPacket[]>({
      sql: 'SELECT 2 AS two',
      timeout: ANSWER_MS,
    })
    t.equal(rows[0]?.two, 2, 'once resumed it answers on the same connection')

    // A committed row must survive a SIGKILL (InnoDB recovery); an open transaction must not.
    await conn.query('BEGIN')
    await conn.query('INSERT INTO scratch.rows_kept VALUES (2)')
    await conn.query('COMMIT')
    await conn.query('BEGIN')
    await conn.query('INSERT INTO scratch.rows_kept VALUES (3)')
    const killedPid = db.pid
    await db.kill()
    t.notOk(alive(killedPid), 'kill() resolves once the process is gone')
    await db.restart()
    t.not(db.pid, killedPid, 'restart() runs a new process')
    const after = await mysqlConnection(t, db.url)
    const [kept] = await after.query<mysql.RowDataPacket[]>({
      sql: 'SELECT id FROM scratch.rows_kept ORDER BY id',
      timeout: ANSWER_MS,
    })
    t.same(
      kept.map((r) => r.id),
      [1, 2],
      'committed rows are kept, the uncommitted one is rolled back',
    )

    const { port, pid, dir } = db
    await db.stop()
    t.notOk(alive(pid), 'stop() ends the process')
    t.notOk(existsSync(dir), 'and removes the directory it created')
    t.ok(await refused(port), 'and the port is closed')
    await db.stop()
    t.pass('stop() twice is harmless, as a teardown after an explicit stop is')
  },
)

t.test('a Redis of its own can be paused and restarted, and restarts empty', async (t) => {
  const redis = await startRedis()
  t.teardown(() => redis.stop())
  t.equal(redis.url, `redis://127.0.0.1:${redis.port}`)
  const client = redisClient(t, redis.url)
  await client.set('kept', 'until restart')

  const impatient = redisClient(t, redis.url, NO_ANSWER_MS)
  await impatient.ping()

  redis.pause()
  const patient = client.ping()
  await t.rejects(impatient.ping(), /timed out/, 'a paused server does not answer')
  redis.resume()
  t.equal(await patient, 'PONG', 'once resumed it answers what it was sent meanwhile')
  t.equal(await client.get('kept'), 'until restart')

  const killedPid = redis.pid
  await redis.restart()
  t.notOk(alive(killedPid), 'restart() killed the old process')
  const fresh = redisClient(t, redis.url)
  t.equal(await fresh.get('kept'), null, 'it persists nothing, so the key is gone')

  const { port, pid } = redis
  await redis.stop()
  t.notOk(alive(pid), 'stop() ends the process')
  t.ok(await refused(port), 'and the port is closed')
})

t.test('a server that dies while starting rejects with the end of its log', async (t) => {
  // Hangs up at once on the probes that reach it, as no MariaDB or Redis would.
  const taken = createServer((socket) => socket.destroy())
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise((resolve) => taken.close(resolve)))
  const address = taken.address()
  const port = typeof address === 'object' && address ? address.port : 0

  await t.rejects(startRedis({ port }), /exited[\s\S]*Address already in use/, 'Redis')
  await t.rejects(startMariaDb({ port }), /exited[\s\S]*Address already in use/, 'MariaDB')
})
