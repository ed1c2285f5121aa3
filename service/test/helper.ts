import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify'
import mysql from 'mysql2/promise'
import { waitFor as poll } from '@sugang/testkit/wait'
import { buildApp, type AppOptions } from '../src/app.js'
import { loadConfig, type Config } from '../src/config.js'
import { MysqlStore } from '../src/adapters/mysql/store.js'
import type { Cluster, Redis } from 'ioredis'
import { openRedis, primariesOf } from '../src/adapters/redis/connection.js'
import { CLUSTER_COURSE_GROUPS, RedisKeys } from '../src/adapters/redis/keys.js'
import { SqliteStore } from '../src/adapters/sqlite/store.js'
import { clearQueue } from '../src/adapters/redis/clear-queue.js'
import { seed, type SeedOptions } from '../src/seed.js'

/** The MariaDB and Redis every test talks to; CI starts them, locally they are the defaults. */
export const MYSQL_ROOT = process.env.TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306'
export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'
/**
 * TEST_REDIS_CLUSTER_NODES (`redis://127.0.0.1:7001,...`, see scripts/redis-cluster-up.sh): the
 * service's tests run on a Redis Cluster instead of the single node.
 */
export const REDIS_CLUSTER_NODES = process.env.TEST_REDIS_CLUSTER_NODES
  ? process.env.TEST_REDIS_CLUSTER_NODES.split(',')
  : null
/** Where the tests' rush state lives: the single node's URL, or the cluster's seeds. */
export const REDIS_TARGET: string | readonly string[] = REDIS_CLUSTER_NODES ?? REDIS_URL

/** Every key matching a pattern, on one node or on every primary of a cluster. */
export async function keysMatching(redis: Redis | Cluster, pattern: string): Promise<string[]> {
  const nodes = await primariesOf(redis)
  return (await Promise.all(nodes.map((node) => node.keys(pattern)))).flat()
}

/** Deletes keys one command each: a cluster refuses a DEL of keys in different slots. */
export async function deleteKeys(redis: Redis | Cluster, keys: readonly string[]): Promise<void> {
  await Promise.all(keys.map((key) => redis.del(key)))
}

/** A plain client of the tests' Redis (a Cluster client on the cluster); closed with the test. */
export function redisClient(t: Tap): Redis | Cluster {
  const client = openRedis(REDIS_TARGET)
  t.teardown(() => client.disconnect())
  return client
}
export const PASSWORD = 'correct horse'

interface Tap {
  teardown(fn: () => unknown): void
}

const ALL_STORAGES = ['mysql-redis', 'embedded'] as const
export type Storage = (typeof ALL_STORAGES)[number]

/**
 * The adapter pairs the behaviour tests run against: both, unless TEST_STORAGES names some
 * (`TEST_STORAGES=embedded` is the fast tier, which needs no server at all).
 */
export const STORAGES: readonly Storage[] = selectStorages(process.env.TEST_STORAGES)

function selectStorages(names: string | undefined): readonly Storage[] {
  if (!names) return ALL_STORAGES
  const wanted = names.split(',').map((name) => name.trim())
  const unknown = wanted.filter((name) => !(ALL_STORAGES as readonly string[]).includes(name))
  if (unknown.length) {
    throw new Error(
      `TEST_STORAGES names ${unknown.join(', ')}; it takes ${ALL_STORAGES.join(', ')}`,
    )
  }
  return ALL_STORAGES.filter((storage) => wanted.includes(storage))
}

/**
 * The environment of a test of its own: a MySQL database and a Redis key prefix, or (embedded) a
 * SQLite file in a temporary directory and no URLs at all. Without a storage named, the first of
 * STORAGES: MySQL and Redis, or the embedded pair in the fast tier.
 */
export async function isolatedEnv(
  t: Tap,
  name: string,
  storage: Storage = STORAGES[0] ?? 'mysql-redis',
): Promise<Record<string, string>> {
  if (storage === 'embedded') {
    const dir = mkdtempSync(join(tmpdir(), `sugang-t-${name}-`))
    t.teardown(() => rmSync(dir, { recursive: true, force: true }))
    const {
      DATABASE_URL: _d,
      REDIS_URL: _r,
      REDIS_CLUSTER_NODES: _c,
      REDIS_PREFIX: _p,
      REDIS_CHECK_SLOTS: _s,
      ...common
    } = testSettings('', '')
    return { ...common, SQLITE_PATH: join(dir, 'sugang.sqlite') }
  }
  return mysqlEnv(t, name)
}

async function mysqlEnv(t: Tap, name: string): Promise<Record<string, string>> {
  const database = `sugang_t_${name}_${randomBytes(3).toString('hex')}`
  const root = await mysql.createConnection({ uri: MYSQL_ROOT })
  await root.query(`CREATE DATABASE \`${database}\``)
  await root.end()
  const prefix = `t:${database}:`
  t.teardown(async () => {
    const conn = await mysql.createConnection({ uri: MYSQL_ROOT })
    await conn.query(`DROP DATABASE IF EXISTS \`${database}\``)
    await conn.end()
    await clearQueue(REDIS_TARGET, prefix)
  })
  return testSettings(`${MYSQL_ROOT}/${database}`, prefix)
}

function testSettings(databaseUrl: string, prefix: string): Record<string, string> {
  return {
    DATABASE_URL: databaseUrl,
    ...(REDIS_CLUSTER_NODES
      ? { REDIS_CLUSTER_NODES: REDIS_CLUSTER_NODES.join(',') }
      : { REDIS_URL }),
    REDIS_PREFIX: prefix,
    // Every script call's keys must share a slot, as on a cluster, also on the single node.
    REDIS_CHECK_SLOTS: 'true',
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
    courseGroups: Number(
      env.REDIS_COURSE_GROUPS ?? (env.REDIS_CLUSTER_NODES ? CLUSTER_COURSE_GROUPS : 1),
    ),
  })
}

/** The MySQL URL of a configuration (tests of the MySQL and Redis pair only). */
export function databaseUrlOf(config: Config): string {
  if (config.storage.kind !== 'mysql') throw new Error('this test needs DATABASE_URL and REDIS_URL')
  return config.storage.databaseUrl
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
  const seedOptions: SeedOptions = {
    students: 10,
    courses: 1,
    capacity: 30,
    password: PASSWORD,
    reset: false,
    ...options,
  }
  const store =
    config.storage.kind === 'embedded'
      ? new SqliteStore({ path: config.storage.sqlitePath })
      : new MysqlStore({ url: databaseUrlOf(config), poolSize: 2 })
  try {
    await store.migrate()
    await seed(store, seedOptions)
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

/** A direct connection for setting up and asserting on the stored state. */
export interface Sql {
  /** Runs one statement with `?` placeholders; rows for a query, [] otherwise. */
  query<R extends unknown[] = Array<Record<string, unknown>>>(
    sql: string,
    values?: unknown[],
  ): Promise<[R]>
}

/**
 * MySQL through mysql2, or the embedded store's SQLite file through a connection of its own.
 * Tests keep to SQL both understand (plain SELECT, UPDATE, DELETE, COUNT(*)).
 */
export async function database(t: Tap, config: Config): Promise<Sql> {
  if (config.storage.kind === 'embedded') {
    const db = new Database(config.storage.sqlitePath)
    db.pragma('busy_timeout = 5000')
    t.teardown(() => db.close())
    return {
      query: async <R extends unknown[]>(sql: string, values: unknown[] = []) => {
        // mysql2 expands an array bound to `IN (?)`; SQLite needs one placeholder per value.
        let n = 0
        const params: unknown[] = []
        const expanded = sql.replace(/\?/g, () => {
          const v = values[n++]
          if (!Array.isArray(v)) {
            params.push(typeof v === 'boolean' ? Number(v) : v)
            return '?'
          }
          params.push(...(v as unknown[]))
          return v.map(() => '?').join(', ')
        })
        const statement = db.prepare(expanded)
        if (statement.reader) return [statement.all(...params) as R] as [R]
        statement.run(...params)
        return [[] as unknown as R] as [R]
      },
    }
  }
  const conn = await mysql.createConnection({ uri: databaseUrlOf(config) })
  t.teardown(() => conn.end())
  return {
    query: async <R extends unknown[]>(sql: string, values?: unknown[]) => {
      const [rows] = await conn.query(sql, values)
      return [(Array.isArray(rows) ? rows : []) as unknown as R] as [R]
    },
  }
}

/** Polls `check` every 25 ms until it returns a truthy value; a check that throws fails at once. */
export function waitFor<T>(
  what: string,
  check: () => Promise<T | null | undefined | false>,
  timeoutMs = 30_000,
): Promise<T> {
  return poll(what, check, { timeoutMs, intervalMs: 25, stopOnError: true })
}

/** Per course: the enrolled column, the number of rows, the capacity, and duplicate rows. */
export async function invariants(conn: Sql) {
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

/**
 * Sends again after a 503, like a client following the contract, once its Retry-After has passed
 * (at most five times). For tests whose claim is what every request is finally told, not that
 * nothing is ever shed on a busy machine: three instances and thousands of requests share one
 * test process on a busy machine.
 */
export async function retrying503(send: () => Promise<Response>): Promise<Response> {
  for (let attempt = 1; ; attempt += 1) {
    const res = await send()
    if (res.status !== 503 || attempt === 5) return res
    await res.body?.cancel()
    await afterRetryAfter(res.headers.get('retry-after'))
  }
}

/** retrying503 for app.inject. */
export async function injectRetrying503(
  app: FastifyInstance,
  options: InjectOptions,
): Promise<LightMyRequestResponse> {
  for (let attempt = 1; ; attempt += 1) {
    const res = await app.inject(options)
    if (res.statusCode !== 503 || attempt === 5) return res
    await afterRetryAfter(res.headers['retry-after'])
  }
}

async function afterRetryAfter(header: unknown): Promise<void> {
  const seconds = Number(typeof header === 'string' ? header : '1')
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000))
}
