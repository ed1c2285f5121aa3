/**
 * An instance frozen (SIGSTOP, a stalled VM, a long GC) longer than the request timeout: requests
 * that had arrived whole are served or answered 503 with Retry-After, never 408, which is only
 * for a client too slow to send its request.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { connect, type Socket } from 'node:net'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import type { Test } from 'tap'
import { waitFor } from '../helper.js'
import { freePort } from '../support/servers.js'
import { rawRequest } from '../support/raw-http.js'

const SERVICE_DIR = fileURLToPath(new URL('../..', import.meta.url))
const CLI = join(SERVICE_DIR, 'bin', 'sugang.js')
const REQUEST_TIMEOUT_MS = 1_000
/** Longer than the request timeout and Node's check of it (every second), with room to spare. */
const FREEZE_MS = 3_000
const CONNECTIONS = 20
const ROUNDS = 3

interface Served {
  readonly port: number
  readonly child: ChildProcess
}

async function serve(t: Test): Promise<Served> {
  const port = await freePort()
  const dir = await mkdtemp(join(tmpdir(), 'sugang-freeze-'))
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    SQLITE_PATH: join(dir, 'sugang.db'),
    PORT: String(port),
    METRICS_PORT: '0',
    LOG_LEVEL: 'warn',
    SESSION_SECRET: 'freeze-test-secret-of-at-least-32-bytes!',
    REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
  }
  for (const name of ['DATABASE_URL', 'REDIS_URL', 'DATABASE_REPLICA_URL', 'NODE_ENV']) {
    delete env[name]
  }
  const child = spawn(process.execPath, [CLI, 'serve'], {
    cwd: SERVICE_DIR,
    env,
    stdio: ['ignore', 'ignore', 'inherit'],
  })
  t.teardown(async () => {
    child.kill('SIGCONT')
    child.kill('SIGKILL')
    await rm(dir, { recursive: true, force: true })
  })
  await waitFor(
    'the service to be ready',
    async () => {
      if (child.exitCode !== null) throw new Error('sugang serve exited early')
      return fetch(`http://127.0.0.1:${port}/health/ready`).then(
        (r) => r.ok,
        () => false,
      )
    },
    60_000,
  )
  return { port, child }
}

/** Bytes of the server side of a loopback connection that the server has not read yet. */
async function unread(serverPort: number, clientPort: number): Promise<number | null> {
  const hex = (n: number): string => n.toString(16).toUpperCase().padStart(4, '0')
  const table = await readFile('/proc/net/tcp', 'utf8')
  for (const line of table.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/)
    if (fields[1]?.endsWith(`:${hex(serverPort)}`) && fields[2]?.endsWith(`:${hex(clientPort)}`)) {
      return parseInt(fields[4]?.split(':')[1] ?? '', 16)
    }
  }
  return null
}

async function connectAll(port: number): Promise<Socket[]> {
  return Promise.all(
    Array.from(
      { length: CONNECTIONS },
      () =>
        new Promise<Socket>((resolve, reject) => {
          const socket = connect(port, '127.0.0.1', () => resolve(socket))
          socket.once('error', reject)
        }),
    ),
  )
}

interface Answer {
  readonly status: number
  readonly retryAfter: string | null
}

/** Collects the first response on a socket (or status 0 if it closed without one). */
function answerOf(socket: Socket): Promise<Answer> {
  return new Promise((resolve) => {
    let text = ''
    const done = (): void => {
      const head = text.split('\r\n\r\n')[0] ?? ''
      const status = Number(head.split(' ')[1] ?? 0) || 0
      const retry = /\r\nretry-after:\s*([^\r]+)/i.exec(head)
      resolve({ status, retryAfter: retry?.[1] ?? null })
    }
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('utf8')
      if (text.includes('\r\n\r\n')) {
        done()
        socket.destroy()
      }
    })
    socket.on('error', () => undefined)
    socket.on('close', done)
  })
}

t.test(
  'requests that arrived whole while the instance was frozen get no 408, and every 503 a Retry-After',
  async (t) => {
    const { port, child } = await serve(t)
    for (let round = 1; round <= ROUNDS; round += 1) {
      // The premise: the freeze strikes while each request is still within its timeout of
      // running time. On a machine so busy that the server took that long to read the first
      // parts, the clients were in fact slow (408 is then right): such a round starts again.
      let sockets: Socket[] = []
      for (let attempt = 1; ; attempt += 1) {
        const connectedAt = performance.now()
        sockets = await connectAll(port)
        for (const socket of sockets) {
          socket.write(`GET /health/live HTTP/1.1\r\nHost: sugang\r\n`)
        }
        await waitFor('the server to read every first part', async () => {
          const left = await Promise.all(sockets.map((s) => unread(port, s.localPort ?? 0)))
          return left.every((n) => n === 0)
        })
        if (performance.now() - connectedAt < REQUEST_TIMEOUT_MS / 2) break
        for (const socket of sockets) socket.destroy()
        if (attempt === 20) throw new Error('the server never read the first parts in time')
        t.comment(`round ${round}: the first parts took too long to be read; again`)
      }
      // The request's first part reached the server and was read before the freeze, the rest a
      // moment later: a client that sends at full speed, caught by the freeze between two packets.
      const answers = sockets.map(answerOf)
      child.kill('SIGSTOP')
      for (const socket of sockets) socket.write('Accept: application/json\r\n\r\n')
      // The freeze itself is the fault: it must outlast the request timeout.
      await new Promise((resolve) => setTimeout(resolve, FREEZE_MS))
      child.kill('SIGCONT')
      const got = await Promise.all(answers)
      const statuses = got.map((a) => a.status)
      t.notOk(statuses.includes(408), `round ${round}: no 408 (got ${statuses.join(' ')})`)
      t.ok(
        got.every((a) => a.status === 200 || a.status === 503),
        `round ${round}: each request is served or refused for now`,
      )
      t.ok(
        got.filter((a) => a.status === 503).every((a) => a.retryAfter !== null),
        `round ${round}: every 503 carries Retry-After`,
      )
    }
  },
)

t.test('a client too slow to send its request still gets 408', async (t) => {
  const { port } = await serve(t)
  // Right after start-up the instance may itself have stalled (migrations, compiling): a slow
  // request then gets 503 (retry) instead; once the instance runs smoothly it gets 408.
  const res = await waitFor('a slow request to be answered 408', async () => {
    const res = await rawRequest(port, [
      'POST /api/v1/auth/login HTTP/1.1\r\nHost: sugang\r\nContent-Type: application/json\r\nContent-Length: 40\r\n\r\n{"studentId":',
    ])
    if (res.status !== 408) t.equal(res.status, 503, 'not 408 only right after a stall')
    return res.status === 408 && res
  })
  t.equal(res.json?.error?.code, 'REQUEST_TIMEOUT')
  t.equal(res.headers['retry-after'], undefined, 'a slow client is not asked to retry')
})
