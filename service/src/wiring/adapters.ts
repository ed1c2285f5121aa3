import { pino } from 'pino'
import { createMemoryRushState } from '../adapters/memory/index.js'
import { MysqlStore } from '../adapters/mysql/store.js'
import { clearQueue } from '../adapters/redis/clear-queue.js'
import { createRedisRushState } from '../adapters/redis/index.js'
import { DurableSessions } from '../adapters/sqlite/sessions.js'
import type { SqliteStore, SqliteStoreOptions } from '../adapters/sqlite/store.js'
import type { Config, DatabaseTls } from '../config.js'
import { DEMO_LOGIN, DEMO_PASSWORD, seedDemoSemester } from '../demo/semester.js'
import type { RegistrationStore, RushState } from '../domain/ports.js'
import { ConfigError } from '../errors.js'
import type { ThrottledLog } from '../logging/throttled-log.js'
import type { SeedStore } from '../seed.js'

export interface Adapters {
  readonly store: RegistrationStore
  readonly rush: RushState
}

/**
 * The adapters the configuration names: MySQL (primary and replica) for the truth and Redis for
 * the rush in production; with neither configured, the embedded pair (a SQLite file and an
 * in-process queue) that seeds a demo semester into a new database.
 */
export async function createAdapters(config: Config, log: ThrottledLog): Promise<Adapters> {
  const { storage } = config
  if (storage.kind === 'embedded') return createEmbeddedAdapters(config, storage.sqlitePath)
  const store = new MysqlStore({
    url: storage.databaseUrl,
    replicaUrl: config.databaseReplicaUrl,
    tls: config.databaseTls,
    poolSize: config.mysqlPoolSize,
    timeoutMs: config.deadlines.mysqlMs,
  })
  const rush = createRedisRushState({
    ...(storage.redisClusterNodes
      ? { clusterNodes: storage.redisClusterNodes }
      : { url: storage.redisUrl }),
    courseGroups: storage.redisCourseGroups,
    checkSlots: config.redisCheckSlots,
    prefix: config.redisPrefix,
    sessionTtlSeconds: config.sessionTtlSeconds,
    decidedTtlSeconds: config.decidedTtlSeconds,
    requestBudget: config.rateLimit,
    commandTimeoutMs: config.deadlines.redisMs,
    maxInFlight: config.deadlines.redisMaxInFlight,
    // ioredis reports every reconnect attempt.
    onError: (err) => log.warn('redis connection error', err),
  })
  return { store, rush }
}

/** Where a command's store lives: the configuration's storage, or a MySQL URL of its own. */
export type StoreLocation =
  | { readonly kind: 'embedded'; readonly sqlitePath: string }
  | { readonly kind: 'mysql'; readonly databaseUrl: string }

/**
 * The store alone, for a command that migrates or seeds rather than serves: the MySQL primary
 * with a pool of its own size (no replica, no Redis), or the embedded file.
 */
export async function openStore(
  location: StoreLocation,
  options: {
    readonly tls: DatabaseTls | undefined
    readonly poolSize: number
    /** Each operation's deadline (ms), for tools that read much at once; the service's default otherwise. */
    readonly timeoutMs?: number
  },
): Promise<RegistrationStore & SeedStore> {
  if (location.kind === 'embedded') return openSqliteStore({ path: location.sqlitePath })
  return new MysqlStore({
    url: location.databaseUrl,
    tls: options.tls,
    poolSize: options.poolSize,
    ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
  })
}

/**
 * Forgets the rush state after the store was reset (`sugang seed --reset`): every Redis key under
 * the prefix. The embedded queue lives in the memory of its `sugang serve`, which a restart clears.
 */
export async function clearRushState(config: Config): Promise<void> {
  const { storage } = config
  if (storage.kind === 'embedded') return
  await clearQueue(storage.redisClusterNodes ?? storage.redisUrl, config.redisPrefix)
}

/**
 * Opens the embedded store, loading its module only now that the embedded storage was chosen:
 * better-sqlite3 is a native, optional dependency that the container image leaves out (it runs
 * on MySQL and Redis only, and NODE_ENV=production refuses the embedded store anyway).
 */
export async function openSqliteStore(options: SqliteStoreOptions): Promise<SqliteStore> {
  let sqlite: typeof import('../adapters/sqlite/store.js')
  try {
    sqlite = await import('../adapters/sqlite/store.js')
  } catch (err) {
    if (!isMissingPackage(err, 'better-sqlite3')) throw err
    throw new ConfigError(
      'the embedded store needs better-sqlite3, an optional dependency that is not installed here (the container image leaves it out): set DATABASE_URL and REDIS_URL, or install with optional dependencies (npm ci)',
    )
  }
  return new sqlite.SqliteStore(options)
}

function isMissingPackage(err: unknown, name: string): boolean {
  const { code, message } = (err ?? {}) as { code?: unknown; message?: unknown }
  return (
    (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') &&
    typeof message === 'string' &&
    message.includes(`'${name}'`)
  )
}

/**
 * One process holds everything: the store in a SQLite file, the queue and leases in memory, and
 * sessions in memory written through to the file (a restart keeps them). A new (empty) database
 * gets the demo semester when the schema is first migrated, and the console says where to open
 * the page and how to log in.
 */
async function createEmbeddedAdapters(config: Config, sqlitePath: string): Promise<Adapters> {
  const log = pino({ level: config.logLevel }).child({ storage: 'embedded' })
  let announced = false
  const store = await openSqliteStore({
    path: sqlitePath,
    // Waiting for the one write connection; MySQL's statements get the same deadline.
    timeoutMs: Math.max(config.deadlines.mysqlMs, 5_000),
    afterMigrate: async (migrated) => {
      const seeded = await seedDemoSemester(migrated)
      await sessions.restore()
      if (seeded) {
        log.info(
          { ...seeded, sqlitePath, password: DEMO_PASSWORD },
          'new database: seeded the demo semester',
        )
      }
      if (announced) return
      announced = true
      const url = pageUrl(config)
      log.info(
        { url, sqlitePath, login: DEMO_LOGIN, password: DEMO_PASSWORD },
        `embedded mode: open ${url} and log in as ${DEMO_LOGIN} / ${DEMO_PASSWORD}`,
      )
      if (config.logLevel !== 'silent') process.stdout.write(banner(url, sqlitePath))
    },
  })
  const memory = createMemoryRushState({
    sessionTtlSeconds: config.sessionTtlSeconds,
    decidedTtlSeconds: config.decidedTtlSeconds,
    requestBudget: config.rateLimit,
  })
  const sessions = new DurableSessions(memory.sessions, memory.memory, store)
  return { store, rush: { ...memory, sessions } }
}

/** The page's address as a browser on this machine reaches it. */
export function pageUrl(config: Config): string {
  const wildcard = ['0.0.0.0', '::', '[::]', ''].includes(config.host)
  const host = wildcard ? '127.0.0.1' : config.host.includes(':') ? `[${config.host}]` : config.host
  return `http://${host}:${config.port}/`
}

function banner(url: string, sqlitePath: string): string {
  return [
    '',
    '  sugang is running on its embedded store (no MySQL or Redis configured).',
    '',
    `    Open        ${url}`,
    `    Log in as   ${DEMO_LOGIN} (or any student up to S002000), password ${DEMO_PASSWORD}`,
    `    Data        ${sqlitePath}  (stop sugang and delete it to start the demo over)`,
    '',
    '  For trying sugang on one machine only: set DATABASE_URL and REDIS_URL to deploy it.',
    '',
    '',
  ].join('\n')
}
