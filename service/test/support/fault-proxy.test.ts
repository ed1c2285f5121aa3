import { once } from 'node:events'
import { connect, createServer, type Socket } from 'node:net'
import { performance } from 'node:perf_hooks'
import { Redis } from 'ioredis'
import mysql from 'mysql2/promise'
import t from 'tap'
import { MYSQL_ROOT, REDIS_URL, isolatedEnv, waitFor } from '../helper.js'
import { FaultProxy, MysqlPacketParser, isMysqlCommit } from './fault-proxy.js'

// The shared servers are only used through the proxy (and directly to check on it); the faults
// are all the proxy's, so nothing here disturbs other tests.
const MYSQL_PORT = Number(new URL(MYSQL_ROOT).port || 3306)
const REDIS_PORT = Number(new URL(REDIS_URL).port || 6379)
const ANSWER_MS = 10_000
const NO_ANSWER_MS = 300

interface Tap {
  teardown(fn: () => unknown): void
}

/** Resolves after the event loop has been through its I/O poll at least once more. */
async function afterNextPoll(): Promise<void> {
  // An immediate runs after the current poll; one set from it runs after the next.
  await new Promise((resolve) => setImmediate(() => setImmediate(resolve)))
}

/** What a promise rejects with; mysql2 marks connection errors, unlike SQL ones, fatal. */
function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => 'no error',
    (err: unknown) => err,
  )
}

/** A MySQL packet as a client sends it. */
function packet(sequenceId: number, payload: Buffer | string): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload) : payload
  const header = Buffer.alloc(4)
  header.writeUIntLE(body.length, 0, 3)
  header[3] = sequenceId
  return Buffer.concat([header, body])
}

function query(sql: string, sequenceId = 0): Buffer {
  return packet(sequenceId, Buffer.concat([Buffer.from([0x03]), Buffer.from(sql)]))
}

async function startProxy(t: Tap, targetPort: number): Promise<FaultProxy> {
  const proxy = await FaultProxy.start({ targetPort })
  t.teardown(() => proxy.close())
  return proxy
}

function redisThrough(t: Tap, proxy: FaultProxy, commandTimeout = ANSWER_MS): Redis {
  // No retries: a test about a failing connection must see the failure, not a reconnect.
  const redis = new Redis(proxy.url('redis'), {
    commandTimeout,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  })
  redis.on('error', () => {})
  t.teardown(() => redis.disconnect())
  return redis
}

async function mysqlThrough(t: Tap, url: string): Promise<mysql.Connection> {
  const conn = await mysql.createConnection({ uri: url, connectTimeout: ANSWER_MS })
  // Resets are the point of these tests; an idle connection reports them as 'error' events.
  conn.on('error', () => {})
  t.teardown(() => conn.destroy())
  return conn
}

/** A target that answers each MySQL packet with one byte: the last digit of its count so far. */
async function packetCounter(t: Tap): Promise<{ port: number; bytes(): number }> {
  let received = 0
  const server = createServer((socket) => {
    const parser = new MysqlPacketParser()
    let count = 0
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length
      for (const _ of parser.push(chunk)) socket.write(String(++count % 10))
    })
    socket.on('error', () => {})
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise((resolve) => server.close(resolve)))
  const address = server.address()
  const port = typeof address === 'object' && address ? address.port : 0
  return { port, bytes: () => received }
}

/** A target that sends back whatever it receives. */
async function echo(t: Tap): Promise<{ port: number }> {
  const server = createServer((socket) => {
    socket.on('error', () => {})
    socket.pipe(socket)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise((resolve) => server.close(resolve)))
  const address = server.address()
  return { port: typeof address === 'object' && address ? address.port : 0 }
}

/** A raw client that collects what it is sent. */
async function rawClient(t: Tap, port: number): Promise<{ socket: Socket; received(): string }> {
  const socket = connect(port, '127.0.0.1')
  let text = ''
  socket.on('data', (chunk: Buffer) => (text += chunk.toString()))
  socket.on('error', () => {})
  t.teardown(() => socket.destroy())
  await once(socket, 'connect')
  return { socket, received: () => text }
}

t.test('the packet parser', async (t) => {
  t.test('finds a COMMIT however its packet is split into chunks', async (t) => {
    const commit = query('COMMIT')
    for (let cut = 1; cut < commit.length; cut += 1) {
      const parser = new MysqlPacketParser()
      const packets = [
        ...parser.push(commit.subarray(0, cut)),
        ...parser.push(commit.subarray(cut)),
      ]
      t.equal(packets.length, 1, `cut at byte ${cut}`)
      t.ok(packets[0] && isMysqlCommit(packets[0]), `cut at byte ${cut} is a COMMIT`)
    }
    const parser = new MysqlPacketParser()
    const packets = [...commit].flatMap((byte) => parser.push(Buffer.from([byte])))
    t.ok(packets.length === 1 && packets[0] && isMysqlCommit(packets[0]), 'byte by byte too')
  })

  t.test('splits several packets sharing a chunk, empty ones included', async (t) => {
    const parser = new MysqlPacketParser()
    const packets = parser.push(
      Buffer.concat([
        query("SELECT 'COMMIT'"),
        query(' commit\n'),
        packet(0, ''),
        query('COMMIT;'),
      ]),
    )
    t.same(
      packets.map((p) => [p.sequenceId, p.length, isMysqlCommit(p)]),
      [
        [0, 16, false],
        [0, 9, true],
        [0, 0, false],
        [0, 8, false],
      ],
      'only the query that is COMMIT, trimmed and in any case, counts',
    )
  })

  t.test('never takes a handshake packet for a COMMIT', async (t) => {
    const parser = new MysqlPacketParser()
    const [handshakeResponse] = parser.push(query('COMMIT', 1))
    t.ok(handshakeResponse)
    t.notOk(handshakeResponse && isMysqlCommit(handshakeResponse), 'sequence id 1 is no command')
  })

  t.test('survives a packet of 16 MB and stays in step after it', async (t) => {
    const parser = new MysqlPacketParser()
    const large = Buffer.alloc(0xffffff + 4, 'x')
    large.writeUIntLE(0xffffff, 0, 3)
    large[3] = 0
    large[4] = 0x03
    const packets = []
    for (let offset = 0; offset < large.length; offset += 65_536) {
      packets.push(...parser.push(large.subarray(offset, offset + 65_536)))
    }
    // The rest of that statement comes in a continuation packet, then the next command.
    packets.push(...parser.push(Buffer.concat([packet(1, 'tail'), query('COMMIT')])))
    t.same(
      packets.map((p) => [p.sequenceId, p.length, isMysqlCommit(p)]),
      [
        [0, 0xffffff, false],
        [1, 4, false],
        [0, 7, true],
      ],
    )
    t.equal(packets[0]?.head.length, MysqlPacketParser.HEAD_BYTES, 'only its start is kept')
  })
})

t.test('onMysqlCommit holds the reply to a COMMIT split across two TCP writes', async (t) => {
  const target = await packetCounter(t)
  const proxy = await startProxy(t, target.port)
  const client = await rawClient(t, proxy.port)
  const events: string[] = []
  proxy.onMysqlCommit(async () => {
    events.push('callback')
    // Nothing is let through while the callback runs, however long it takes.
    await new Promise((resolve) => setImmediate(resolve))
    events.push(`client has ${JSON.stringify(client.received())}`)
  })

  client.socket.write(query('COMMIT', 1))
  await waitFor('the handshake-like packet to be answered', async () => client.received() === '1')
  client.socket.write(query("SELECT 'COMMIT'"))
  await waitFor('the SELECT to be answered', async () => client.received() === '12')
  t.same(events, [], 'neither a handshake packet nor a SELECT fires it')

  const commit = query('COMMIT')
  const before = target.bytes()
  client.socket.write(commit.subarray(0, 5))
  await waitFor('the first half to reach the target', async () => target.bytes() === before + 5)
  client.socket.write(commit.subarray(5))
  await waitFor('the reply to the COMMIT', async () => client.received() === '123')
  t.same(events, ['callback', 'client has "12"'], 'it fired once, before the reply was let through')

  client.socket.write(query('COMMIT'))
  await waitFor('the reply to a second COMMIT', async () => client.received() === '1234')
  t.equal(events.length, 2, 'it is one-shot: the second COMMIT goes through untouched')
})

t.test('a failing commit callback still lets the reply through, and fails close()', async (t) => {
  const target = await packetCounter(t)
  const proxy = await FaultProxy.start({ targetPort: target.port })
  // Closed below, where its rejection is the point; this only covers an earlier failure.
  t.teardown(() => proxy.close().catch(() => {}))
  const client = await rawClient(t, proxy.port)
  proxy.onMysqlCommit(() => {
    throw new Error('the kill did not work')
  })
  client.socket.write(query('COMMIT'))
  await waitFor('the reply to the COMMIT', async () => client.received() === '1')
  await t.rejects(proxy.close(), /the kill did not work/, 'the test hears of it at teardown')
})

t.test('lowering the delay never lets later bytes overtake held ones', async (t) => {
  const target = await echo(t)
  const proxy = await startProxy(t, target.port)
  const client = await rawClient(t, proxy.port)
  proxy.delay(300)
  const started = performance.now()
  client.socket.write('a')
  // The proxy runs in this process: once the loop has polled for I/O, it has read 'a' on its own.
  await afterNextPoll()
  proxy.delay(0)
  client.socket.write('b')
  await waitFor('both bytes to come back', async () => client.received().length === 2)
  t.ok(performance.now() - started >= 250, "'a' was held, so 'b' had the chance to overtake it")
  t.equal(client.received(), 'ab', 'but did not')
})

t.test('close() ends every connection and leaves no timer behind', async (t) => {
  const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length
  const before = timers()
  const target = await packetCounter(t)
  const proxy = await FaultProxy.start({ targetPort: target.port })
  const client = await rawClient(t, proxy.port)
  proxy.delay(60_000)
  client.socket.write(query('SELECT 1'))
  await waitFor('the connection to be counted', async () => proxy.connections() === 1)
  await waitFor('the held packet to arm a timer', async () => timers() > before)
  // Not events.once: it would reject on the 'error' (ECONNRESET) that precedes the close.
  const closed = new Promise((resolve) => client.socket.once('close', resolve))
  await proxy.close()
  await closed
  t.equal(proxy.connections(), 0)
  t.equal(timers(), before, 'no timer is left')
  t.equal(client.received(), '', 'the held packet was dropped')
})

t.test('through the proxy, the shared Redis and MariaDB work as usual', async (t) => {
  const env = await isolatedEnv(t, 'proxy')
  const redisProxy = await startProxy(t, REDIS_PORT)
  const mysqlProxy = await startProxy(t, MYSQL_PORT)
  t.equal(redisProxy.url('redis'), `redis://127.0.0.1:${redisProxy.port}`)
  t.equal(mysqlProxy.url('mysql', 'db'), `mysql://root@127.0.0.1:${mysqlProxy.port}/db`)

  const redis = redisThrough(t, redisProxy)
  await redis.set(`${env.REDIS_PREFIX}greeting`, 'hello')
  t.equal(await redis.get(`${env.REDIS_PREFIX}greeting`), 'hello')
  const conn = await mysqlThrough(t, mysqlProxy.url('mysql'))
  const [rows] = await conn.query<mysql.RowDataPacket[]>('SELECT 1 + 1 AS two')
  t.equal(rows[0]?.two, 2)
  t.equal(redisProxy.connections(), 1)
  t.equal(mysqlProxy.connections(), 1)

  await conn.end()
  await waitFor('the closed connection to be forgotten', async () => mysqlProxy.connections() === 0)
})

t.test('delay(300) makes a Redis PING take at least that long', async (t) => {
  const proxy = await startProxy(t, REDIS_PORT)
  const redis = redisThrough(t, proxy)
  await redis.ping()
  proxy.delay(300)
  const started = performance.now()
  t.equal(await redis.ping(), 'PONG')
  const elapsed = performance.now() - started
  // A lower bound only: the proxy guarantees it, while a busy machine may add any amount.
  t.ok(elapsed >= 250, `took ${Math.round(elapsed)} ms`)
  proxy.delay(0)
})

t.test('a blackhole swallows a PING until it is lifted', async (t) => {
  const proxy = await startProxy(t, REDIS_PORT)
  const patient = redisThrough(t, proxy)
  const impatient = redisThrough(t, proxy, NO_ANSWER_MS)
  await Promise.all([patient.ping(), impatient.ping()])

  proxy.blackhole(true)
  const held = patient.ping()
  const latecomer = redisThrough(t, proxy)
  await t.rejects(impatient.ping(), /timed out/, 'no answer within the client timeout')
  // By now the latecomer has waited as long as the impatient client did; it is connected, but
  // ioredis's ready check (an INFO) has no answer either.
  await waitFor('the new connection to be accepted', async () => proxy.connections() === 3)
  t.equal(latecomer.status, 'connect', 'a new connection is accepted and held too')

  proxy.blackhole(false)
  t.equal(await held, 'PONG', 'lifted, the held PING is answered')
  t.equal(await latecomer.ping(), 'PONG', 'and the new connection works')
})

t.test('resetAll() breaks open connections while new ones work', async (t) => {
  const proxy = await startProxy(t, MYSQL_PORT)
  const conn = await mysqlThrough(t, proxy.url('mysql'))
  await conn.query('SELECT 1')
  proxy.resetAll()
  t.match(await rejection(conn.query('SELECT 1')), { fatal: true }, 'fails: a connection error')
  const fresh = await mysqlThrough(t, proxy.url('mysql'))
  const [rows] = await fresh.query<mysql.RowDataPacket[]>('SELECT 1 AS one')
  t.equal(rows[0]?.one, 1)
})

t.test('refuse(true) makes new connections fail and leaves open ones alone', async (t) => {
  const proxy = await startProxy(t, MYSQL_PORT)
  const open = await mysqlThrough(t, proxy.url('mysql'))
  proxy.refuse(true)
  await t.rejects(
    mysql.createConnection({ uri: proxy.url('mysql'), connectTimeout: ANSWER_MS }),
    'a new connection fails',
  )
  await open.query('SELECT 1')
  t.pass('the open one still works')
  proxy.refuse(false)
  await mysqlThrough(t, proxy.url('mysql'))
  t.pass('and new ones work again once it is off')
})

t.test('onMysqlCommit runs once a transaction is durable, before the client hears', async (t) => {
  const env = await isolatedEnv(t, 'proxy')
  const database = new URL(env.DATABASE_URL ?? '').pathname.slice(1)
  const direct = await mysqlThrough(t, `${MYSQL_ROOT}/${database}`)
  await direct.query('CREATE TABLE scratch (id INT PRIMARY KEY) ENGINE=InnoDB')
  const committed = async () => {
    const [rows] = await direct.query<mysql.RowDataPacket[]>('SELECT id FROM scratch ORDER BY id')
    return rows.map((r) => Number(r.id))
  }
  const proxy = await startProxy(t, MYSQL_PORT)
  const conn = await mysqlThrough(t, proxy.url('mysql', database))
  const events: string[] = []
  proxy.onMysqlCommit(async () => {
    events.push(`callback sees ${JSON.stringify(await committed())}`)
  })

  await conn.query("SELECT 'COMMIT'")
  t.same(events, [], "SELECT 'COMMIT' does not fire it")
  await conn.query('BEGIN')
  await conn.query('INSERT INTO scratch VALUES (1)')
  await conn.query('COMMIT')
  events.push('client got its reply')
  t.same(events, ['callback sees [1]', 'client got its reply'], 'fired once, the row committed')

  await conn.query('BEGIN')
  await conn.query('INSERT INTO scratch VALUES (2)')
  await conn.query('COMMIT')
  t.equal(events.length, 2, 'not re-armed, the next COMMIT does not fire it')

  // The crash the callback is for: the client is gone before it learns of the commit.
  proxy.onMysqlCommit(() => proxy.resetAll())
  await conn.beginTransaction()
  await conn.query('INSERT INTO scratch VALUES (3)')
  t.match(await rejection(conn.commit()), { fatal: true }, 'the client never gets the reply')
  t.same(await committed(), [1, 2, 3], 'yet the transaction is committed')
})

t.test('onMysqlCommit can wait for the COMMIT of a particular kind of transaction', async (t) => {
  const env = await isolatedEnv(t, 'proxyfilter')
  const database = new URL(env.DATABASE_URL ?? '').pathname.slice(1)
  const direct = await mysqlThrough(t, `${MYSQL_ROOT}/${database}`)
  await direct.query('CREATE TABLE scratch (id INT PRIMARY KEY) ENGINE=InnoDB')
  await direct.query('CREATE TABLE target (id INT PRIMARY KEY) ENGINE=InnoDB')
  const proxy = await startProxy(t, MYSQL_PORT)
  const conn = await mysqlThrough(t, proxy.url('mysql', database))
  const fired: number[] = []
  proxy.onMysqlCommit(() => void fired.push(1), { after: /^INSERT INTO target/ })

  await conn.query('START TRANSACTION')
  await conn.query('INSERT INTO scratch VALUES (1)')
  await conn.query('COMMIT')
  t.same(fired, [], 'another transaction does not fire it')
  await conn.query('START TRANSACTION')
  await conn.query('INSERT INTO target VALUES (1)')
  await conn.query('ROLLBACK')
  await conn.query('START TRANSACTION')
  await conn.query('SELECT 1')
  await conn.query('COMMIT')
  t.same(fired, [], 'nor one after a rolled back match')
  await conn.query('START TRANSACTION')
  await conn.query('INSERT INTO target VALUES (2)')
  await conn.query('COMMIT')
  t.same(fired, [1], 'the matching one does')
})
