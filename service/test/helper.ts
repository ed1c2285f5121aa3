import { randomBytes } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import mysql from 'mysql2/promise'
import { buildApp, type AppOptions } from '../src/app.js'
import { loadConfig, type Config } from '../src/config.js'
import { MysqlStore } from '../src/adapters/mysql/store.js'
import { RedisKeys } from '../src/adapters/redis/keys.js'
import { clearQueue, seed, type SeedOptions } from '../src/seed.js'

/** The MariaDB and Redis every test talks to; CI starts them, locally they are the defaults. */
export const MYSQL_ROOT = process.env.TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306'
export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'
export const PASSWORD = 'correct horse'

interface Tap {
  teardown(fn: () => unknown): void
}

/** A database and a Redis key prefix of the test's own, so test files never see each other. */
export async function isolatedEnv(t: Tap, name: string): Promise<Record<string, string>> {
  const database = `sugang_t_${name}_${randomBytes(3).toString('hex')}`
  const root = await mysql.createConnection({ uri: MYSQL_ROOT })
  await root.query(`CREATE DATABASE \`${database}\``)
  await root.end()
  const prefix = `t:${database}:`
  t.teardown(async () => {
    const conn = await mysql.createConnection({ uri: MYSQL_ROOT })
    await conn.query(`DROP DATABASE IF EXISTS \`${database}\``)
    await conn.end()
    await clearQueue(REDIS_URL, prefix)
  })
  return {
    DATABASE_URL: `${MYSQL_ROOT}/${database}`,
    REDIS_URL,
    REDIS_PREFIX: prefix,
    SESSION_SECRET: 'test-secret-that-is-at-least-32-bytes-long',
    METRICS_PORT: '0',
    PORT: '0',
    LOG_LEVEL: 'silent',
    RATE_LIMIT_MAX: '1000',
    LOGIN_ADDRESS_FAILURES: '100000',
    // Seeds hash with scrypt N=16; verifying at the production floor would make every one of
    // the thousands of test logins cost ~100 ms. The login tests set it where timing matters.
    PASSWORD_SCRYPT_N: '16',
    // Tests that push thousands of requests through several instances in one process would trip
    // load shedding and get 503s; shedding has a test of its own.
    MAX_EVENT_LOOP_DELAY_MS: '0',
  }
}

/** The service's Redis key names under a test's prefix, for tests that look at Redis directly. */
export function keysOf(env: Record<string, string | undefined>): RedisKeys {
  return new RedisKeys({
    prefix: env.REDIS_PREFIX ?? 'sugang:',
    sessionTtlSeconds: 60,
    decidedTtlSeconds: 60,
  })
}

export function configFrom(
  env: Record<string, string>,
  overrides: Record<string, string> = {},
): Config {
  return loadConfig({ ...env, ...overrides })
}

/** Builds, migrates and starts one service instance; closed when the test ends. */
export async function startInstance(
  t: Tap,
  config: Config,
  options: Omit<AppOptions, 'config'> = {},
): Promise<FastifyInstance> {
  const app = await buildApp({
    config,
    logger: process.env.TEST_LOG ? { level: process.env.TEST_LOG } : false,
    ...options,
  })
  t.teardown(() => app.close())
  await app.ready()
  await app.sugang.startup()
  return app
}

/** Seeds through the same code as `sugang seed`, after migrating. */
export async function seedDatabase(config: Config, options: Partial<SeedOptions>): Promise<void> {
  const store = new MysqlStore({ url: config.databaseUrl, poolSize: 2 })
  try {
    await store.migrate()
    await seed(store.primary, {
      students: 10,
      courses: 1,
      capacity: 30,
      password: PASSWORD,
      reset: false,
      ...options,
    })
  } finally {
    await store.close()
  }
}

/** Logs in through the API and returns the cookie header to send with later requests. */
export async function login(app: FastifyInstance, studentId: string): Promise<string> {
  const res = await app.inject({
    method: 'POST',
    url: '/api/v1/auth/login',
    payload: { studentId, password: PASSWORD },
  })
  if (res.statusCode !== 200) throw new Error(`login of ${studentId} failed: ${res.body}`)
  const cookie = res.cookies.find((c) => c.name === 'sugang_session')
  if (!cookie) throw new Error('login set no session cookie')
  return `sugang_session=${cookie.value}`
}

/** A direct connection for asserting on the state in MySQL. */
export async function database(t: Tap, config: Config): Promise<mysql.Connection> {
  const conn = await mysql.createConnection({ uri: config.databaseUrl })
  t.teardown(() => conn.end())
  return conn
}

export async function waitFor<T>(
  what: string,
  check: () => Promise<T | null | undefined | false>,
  timeoutMs = 30_000,
): Promise<T> {
  const until = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value) return value
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

/** Per course: the enrolled column, the number of rows, the capacity, and duplicate rows. */
export async function invariants(conn: mysql.Connection) {
  const [rows] = await conn.query<mysql.RowDataPacket[]>(
    `SELECT c.id, c.capacity, c.enrolled,
            (SELECT COUNT(*) FROM enrollments e WHERE e.course_id = c.id) AS row_count
       FROM courses c ORDER BY c.id`,
  )
  return rows.map((r) => ({
    id: String(r.id),
    capacity: Number(r.capacity),
    enrolled: Number(r.enrolled),
    rows: Number(r.row_count),
  }))
}
