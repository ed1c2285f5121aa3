import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { setTimeout as sleep } from 'node:timers/promises'
import { RedisKeys } from '@sugang/service/redis-keys'
import { freePort } from '@sugang/testkit/ports'
import { startRedis as startRedisServer, type RedisServer } from '@sugang/testkit/servers'
import { waitFor } from '@sugang/testkit/wait'
import { repoRoot } from '../../src/paths.js'
import { httpGet, startProcess, waitUntilReady, type ManagedProcess } from '../../src/processes.js'

const run = promisify(execFile)

/** MariaDB of the machine (CI starts it); each test file uses a database of its own in it. */
const MYSQL = { host: '127.0.0.1', port: 3306, user: 'root' }
const SERVICE_CLI = join(repoRoot, 'service', 'bin', 'sugang.js')
const SESSION_SECRET = 'monitoring-tests-session-secret-0123456789'
/** The operator token the tests' service accepts on its admin listener (ADMIN_TOKENS). */
const ADMIN_TOKEN = 'monitoring-tests-operator-token-0123456789'
const ADMIN_OPERATOR = 'monitoring'
/** The service's key schema under its default REDIS_PREFIX (the tests hold leases in it). */
const KEYS = new RedisKeys({ prefix: 'sugang:', sessionTtlSeconds: 60, decidedTtlSeconds: 60 })

export interface Redis extends RedisServer {
  /** Runs one command with redis-cli and returns its output. */
  command(...args: string[]): Promise<string>
}

/**
 * A redis-server of the test's own on a spare loopback port, so that stopping it (the
 * dependency-down case) never disturbs the shared Redis on 6379 that other tests use. Pass the
 * port of a stopped one to bring it back where the service expects it.
 */
export async function startRedis(wanted?: number): Promise<Redis> {
  const server = await startRedisServer({ port: wanted, startTimeoutMs: 10_000 })
  const { port } = server
  const command = async (...args: string[]): Promise<string> => {
    const { stdout } = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], {
      timeout: 5_000,
    })
    return stdout.trim()
  }
  return Object.assign(server, { command })
}

function mysqlClient(): string {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    for (const name of ['mariadb', 'mysql']) {
      if (existsSync(join(dir, name))) return join(dir, name)
    }
  }
  throw new Error('neither mariadb nor mysql (the client) is on PATH')
}

async function mysql(sql: string): Promise<void> {
  await run(
    mysqlClient(),
    ['-h', MYSQL.host, '-P', String(MYSQL.port), '-u', MYSQL.user, '-e', sql],
    { timeout: 15_000 },
  )
}

export interface Service {
  readonly httpUrl: string
  readonly metricsUrl: string
  /** The operators' admin listener (loopback), where the operator controls are set. */
  readonly adminUrl: string
  readonly process: ManagedProcess
  stop(): Promise<void>
}

export interface ServiceOptions {
  /** A database of the test's own; created if missing, reset by the seed. */
  readonly database: string
  readonly redis: Redis
}

/**
 * The real service as production runs it (`sugang serve`), with its own database and Redis,
 * seeded with 50 students and 3 courses of 5 seats. Resolves once /health/ready answers 200.
 */
export async function startService({ database, redis }: ServiceOptions): Promise<Service> {
  if (!existsSync(SERVICE_CLI)) {
    throw new Error(`${SERVICE_CLI} does not exist: the service is needed for this test`)
  }
  if (!/^[a-z0-9_]+$/.test(database)) throw new Error(`bad database name ${database}`)
  await mysql(`CREATE DATABASE IF NOT EXISTS \`${database}\``)
  const port = await freePort()
  const metricsPort = await freePort()
  const adminPort = await freePort()
  const env = {
    ...process.env,
    NODE_ENV: 'test',
    DATABASE_URL: `mysql://${MYSQL.user}@${MYSQL.host}:${MYSQL.port}/${database}`,
    REDIS_URL: redis.url,
    REDIS_PREFIX: KEYS.prefix,
    SESSION_SECRET,
    HOST: '127.0.0.1',
    PORT: String(port),
    METRICS_PORT: String(metricsPort),
    ADMIN_HOST: '127.0.0.1',
    ADMIN_PORT: String(adminPort),
    ADMIN_TOKENS: `${ADMIN_OPERATOR}:${createHash('sha256').update(ADMIN_TOKEN).digest('hex')}`,
    LOG_LEVEL: 'warn',
  }
  const seedArgs = ['seed', '--students', '50', '--courses', '3', '--capacity', '5']
  await run(process.execPath, [SERVICE_CLI, ...seedArgs, '--password', 'pw', '--reset'], {
    cwd: repoRoot,
    env,
    timeout: 60_000,
  })
  const proc = startProcess('sugang serve', process.execPath, [SERVICE_CLI, 'serve'], {
    cwd: repoRoot,
    env,
  })
  const httpUrl = `http://127.0.0.1:${port}`
  try {
    await waitUntilReady(`${httpUrl}/health/ready`, proc, 60_000)
  } catch (err) {
    await proc.stop()
    throw err
  }
  return {
    httpUrl,
    metricsUrl: `http://127.0.0.1:${metricsPort}/metrics`,
    adminUrl: `http://127.0.0.1:${adminPort}/admin/v1`,
    process: proc,
    stop: () => proc.stop(10_000),
  }
}

/** Drops a database that startService created. */
export async function dropDatabase(database: string): Promise<void> {
  if (!/^[a-z0-9_]+$/.test(database)) throw new Error(`bad database name ${database}`)
  await mysql(`DROP DATABASE IF EXISTS \`${database}\``)
}

export interface Student {
  readonly id: string
  readonly cookie: string
}

interface ApiResponse {
  readonly status: number
  readonly body: Record<string, unknown> | null
}

/** One JSON API call with a bounded time. */
export async function api(
  service: Service,
  method: string,
  path: string,
  { cookie, body }: { cookie?: string; body?: unknown } = {},
): Promise<ApiResponse & { setCookie: string | null }> {
  const headers: Record<string, string> = {}
  if (cookie) headers.cookie = cookie
  if (body !== undefined) headers['content-type'] = 'application/json'
  const send = () =>
    fetch(`${service.httpUrl}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    })
  // Like a client following the contract: a 503 (the service shedding load on a busy machine)
  // is sent again once its Retry-After has passed, a few times; other answers are final.
  let response = await send()
  for (let attempt = 1; response.status === 503 && attempt < 5; attempt += 1) {
    await response.body?.cancel()
    const seconds = Number(response.headers.get('retry-after') ?? '1')
    await sleep(Math.min(Number.isFinite(seconds) ? seconds : 1, 5) * 1000)
    response = await send()
  }
  const text = await response.text()
  let parsed: Record<string, unknown> | null
  try {
    parsed = text ? (JSON.parse(text) as Record<string, unknown>) : null
  } catch {
    parsed = null
  }
  return { status: response.status, body: parsed, setCookie: response.headers.get('set-cookie') }
}

export async function login(service: Service, n: number): Promise<Student> {
  const id = `S${String(n).padStart(6, '0')}`
  const response = await api(service, 'POST', '/api/v1/auth/login', {
    body: { studentId: id, password: 'pw' },
  })
  if (response.status !== 200 || !response.setCookie) {
    throw new Error(`login of ${id} answered ${response.status} ${JSON.stringify(response.body)}`)
  }
  return { id, cookie: response.setCookie.split(';')[0] ?? '' }
}

/**
 * Keeps the admission worker off a course by holding its lease, so that requests stay queued
 * long enough for a scrape to see the queue. The key comes from the service's key schema
 * (service/src/adapters/redis/keys.ts); the lease expires by itself after ttlMs, like one of a
 * crashed instance.
 */
export async function holdAdmission(redis: Redis, courseId: string, ttlMs: number): Promise<void> {
  const reply = await redis.command(
    'SET',
    KEYS.course(courseId).lease,
    'monitoring-test',
    'PX',
    String(ttlMs),
  )
  if (reply !== 'OK') throw new Error(`could not hold the lease of ${courseId}: ${reply}`)
}

export async function releaseAdmission(redis: Redis, courseId: string): Promise<void> {
  await redis.command('DEL', KEYS.course(courseId).lease)
}

/** Polls a request until the admission worker has decided it. */
export async function decided(service: Service, student: Student, requestId: string) {
  return waitFor(
    `request ${requestId} of ${student.id} to be decided`,
    async () => {
      const { status, body } = await api(
        service,
        'GET',
        `/api/v1/enrollment-requests/${requestId}`,
        {
          cookie: student.cookie,
        },
      )
      if (status === 429) return undefined
      if (status !== 200 || !body) throw new Error(`status ${status}`)
      return body.status === 'queued' ? undefined : (body.status as string)
    },
    // The service allows a student 60 requests in 10 seconds; polling stays well under that.
    { timeoutMs: 30_000, intervalMs: 400 },
  )
}

/** A scrape of the service's /metrics, bounded in time. */
export async function scrape(url: string): Promise<string> {
  const { status, body } = await httpGet(url, 5_000)
  if (status !== 200) throw new Error(`${url} answered ${status}`)
  return body
}

/**
 * One operator command on the service's admin listener (what `sugang admin` sends), e.g.
 * `operate(service, 'pause', { course: 'C0003', reason: '...' })`; fails unless answered 200.
 */
export async function operate(
  service: Service,
  command: string,
  body: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  const response = await fetch(`${service.adminUrl}/${command}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  })
  const text = await response.text()
  if (response.status !== 200)
    throw new Error(`admin ${command} answered ${response.status}: ${text}`)
  return JSON.parse(text) as Record<string, unknown>
}
