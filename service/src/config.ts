import { randomBytes } from 'node:crypto'
import { isIP } from 'node:net'
import { basename, dirname, extname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ConfigError } from './errors.js'
import { CLUSTER_COURSE_GROUPS, MAX_COURSE_GROUPS } from './adapters/redis/keys.js'
import { defaultAdmissionSettings, type AdmissionSettings } from './domain/admission-worker.js'
import { defaultCost, type ScryptCost } from './domain/passwords.js'
import { DEFAULT_CONFIRMATION_SETTINGS, type ConfirmationSettings } from './domain/confirmations.js'

export interface Config {
  readonly production: boolean
  readonly host: string
  readonly port: number
  readonly metricsPort: number
  /** Interface of the metrics listener: loopback unless deployed where a scraper must reach it. */
  readonly metricsHost: string
  /**
   * The admin listener (operator controls): its own port, loopback unless set otherwise, never
   * behind the public load balancer. Off (null) without ADMIN_TOKENS.
   */
  readonly admin: AdminListener | null
  readonly logLevel: string
  /** Where the truth and the rush state live: MySQL and Redis, or embedded in this process. */
  readonly storage: Storage
  /** MySQL only. */
  readonly databaseReplicaUrl: string | undefined
  /** MySQL only: TLS for the primary and the replica (DATABASE_TLS). */
  readonly databaseTls: DatabaseTls | undefined
  readonly mysqlPoolSize: number
  /** Redis only. */
  readonly redisPrefix: string
  /**
   * REDIS_CHECK_SLOTS=true: refuse any script call whose keys span hash slots, on a single node
   * too, as a Redis Cluster would (the tests run this way).
   */
  readonly redisCheckSlots: boolean
  /** Key material for signing session cookies. */
  readonly sessionSecret: string
  /** False when SESSION_SECRET is not set: the key is kept in sessionSecretFile, or random. */
  readonly sessionSecretProvided: boolean
  /**
   * Development on the embedded store without SESSION_SECRET: the file beside the database that
   * keeps the signing key (created on the first `serve`), so that a restart logs nobody out.
   * Null otherwise: production requires SESSION_SECRET, and without it MySQL and Redis get a
   * random key per process.
   */
  readonly sessionSecretFile: string | null
  readonly sessionTtlSeconds: number
  /** Secure cookies: on in production, where the ALB terminates HTTPS. */
  readonly cookieSecure: boolean
  readonly trustProxy: boolean
  /**
   * Origins, besides the service's own, whose pages may send state-changing requests
   * (ALLOWED_ORIGINS); every other site's are refused (403 CROSS_SITE_REQUEST).
   */
  readonly allowedOrigins: ReadonlySet<string>
  readonly bodyLimitBytes: number
  readonly rateLimit: Limit
  readonly login: LoginProtection
  /** The scrypt cost new hashes get, and the least every login verification costs. */
  readonly passwordCost: ScryptCost
  /** Most waitlist places one student may hold at once, over all courses. */
  readonly maxWaitlistPerStudent: number
  readonly registration: {
    readonly opensAt: Date | null
    readonly closesAt: Date | null
    /** Grade years that open at their own time (the others open at opensAt). */
    readonly opensAtByYear: ReadonlyMap<number, Date>
  }
  /** Seconds a decided request stays readable in Redis (MySQL keeps enrollments for good). */
  readonly decidedTtlSeconds: number
  readonly admission: AdmissionSettings
  /** What this process runs (SERVICE_ROLE): see ROLES. */
  readonly role: ServiceRole
  /** Event-loop delay (ms) above which API requests are shed with 503. 0 turns shedding off. */
  readonly maxEventLoopDelayMs: number
  readonly deadlines: Deadlines
  /** How often the queue's caches are compared with MySQL and repaired (ms). */
  readonly reconcileIntervalMs: number
  readonly streams: StreamLimits
}

export interface AdminListener {
  readonly host: string
  readonly port: number
  /** SHA-256 (hex) of each operator's token -> the operator's name, recorded with each action. */
  readonly operators: ReadonlyMap<string, string>
}

/**
 * What one process of the service runs. `all` is the door and admission in one process (one
 * event loop), for small deployments; a larger one runs doors behind the load balancer and
 * admission processes apart, so that deciding requests never competes with answering them.
 * - api: the HTTP API and the student page (the door), with its event streams.
 * - admission: the admission worker and the reconciler.
 * Every role serves /health/* on PORT and metrics on METRICS_PORT.
 */
export const ROLES = Object.freeze({
  all: { api: true, admission: true },
  door: { api: true, admission: false },
  admission: { api: false, admission: true },
} as const)

export type ServiceRole = keyof typeof ROLES

/** Bounds of the event streams (GET /me/events), per instance. */
export interface StreamLimits {
  /** Streams one student may hold open at once on one instance; one more is refused (429). */
  readonly perStudent: number
  /** A stream is ended after this long (ms); the browser reconnects and is told everything anew. */
  readonly lifetimeMs: number
  /** A stream whose client has not taken what was written for this long (ms) is closed. */
  readonly stallMs: number
}

/**
 * MySQL and Redis (DATABASE_URL and REDIS_URL), or, with neither set, the embedded pair: a SQLite
 * file and an in-process queue, for trying sugang on one machine (one instance only).
 */
export type Storage =
  | {
      readonly kind: 'mysql'
      readonly databaseUrl: string
      /** REDIS_URL, or on a cluster the first of REDIS_CLUSTER_NODES. */
      readonly redisUrl: string
      /** REDIS_CLUSTER_NODES: a Redis Cluster's seed nodes (absent for a single node). */
      readonly redisClusterNodes?: readonly string[]
      /**
       * REDIS_COURSE_GROUPS: the slot groups courses are spread over (1 on a single node; 64 by
       * default on a cluster: CLUSTER_COURSE_GROUPS). Changed only with a new Redis: request ids name their group.
       */
      readonly redisCourseGroups: number
    }
  | {
      readonly kind: 'embedded'
      /** Absolute path of the SQLite file (SQLITE_PATH, default service/data/sugang.sqlite). */
      readonly sqlitePath: string
    }

/**
 * TLS to MySQL, the server's certificate verified (chain and host name) against a CA bundle:
 * `DATABASE_TLS=rds` trusts the RDS CA bundle (every region) that ships with the MySQL driver,
 * `DATABASE_TLS=/path/ca.pem` the PEM file there. Unset: no TLS, for a MySQL on the same host.
 */
export type DatabaseTls =
  { readonly kind: 'rds' } | { readonly kind: 'ca-file'; readonly path: string }

function databaseTls(env: Env): DatabaseTls | undefined {
  const raw = env.DATABASE_TLS
  if (!raw) return undefined
  if (raw === 'rds') return { kind: 'rds' }
  if (raw.startsWith('/') || raw.startsWith('./')) return { kind: 'ca-file', path: resolve(raw) }
  throw new ConfigError(
    `DATABASE_TLS must be "rds" (the RDS CA bundle) or the path of a PEM CA file, got "${raw}"`,
  )
}

export interface Limit {
  readonly max: number
  readonly windowMs: number
}

export interface LoginProtection {
  /** Failed logins one account may take before it is locked for the rest of the window. */
  readonly accountFailures: Limit
  /** Failed logins one client address may make: counts failures only, so a campus fits. */
  readonly addressFailures: Limit
  /** Failed logins a browser that has logged in to the account before may make. */
  readonly deviceFailures: Limit
  /**
   * The campus's own egress addresses (CIDRs), each shared by many students: once one is over
   * its address limit, it is refused per account (campusAccountFailures), not as a whole.
   */
  readonly campusNetworks: readonly string[]
  /** Failed logins per account (in its window) a campus address over its limit may still make. */
  readonly campusAccountFailures: number
  /** How long a device cookie lasts (ms). */
  readonly deviceTtlMs: number
  /** Password checks (scrypt) one instance runs at once: at most Node's thread pool. */
  readonly checksAtOnce: number
  /**
   * The longest a login may expect to wait for its check (ms); beyond, 503 LOGIN_BUSY with
   * Retry-After at once.
   */
  readonly checkMaxWaitMs: number
}

/** How long the service waits before it gives up and answers 503 (all in milliseconds). */
export interface Deadlines {
  /** Every Redis command. */
  readonly redisMs: number
  /** Every MySQL statement, and every store operation as a whole (waiting for a connection too). */
  readonly mysqlMs: number
  /** Redis commands this instance may have waiting at once before it answers 503 at the door. */
  readonly redisMaxInFlight: number
  /** A client must send its whole request (headers and body) within this time. */
  readonly requestMs: number
  /** Idle keep-alive connections are closed after this (above the ALB's idle timeout of 60 s). */
  readonly keepAliveMs: number
}

type Env = Readonly<Record<string, string | undefined>>

function integer(env: Env, name: string, fallback: number, min = 0, max = 2 ** 31): number {
  const raw = env[name]
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be an integer between ${min} and ${max}, got "${raw}"`)
  }
  return value
}

function date(env: Env, name: string): Date | null {
  const raw = env[name]
  if (!raw) return null
  const value = new Date(raw)
  if (Number.isNaN(value.getTime())) {
    throw new ConfigError(`${name} must be an ISO 8601 date-time, got "${raw}"`)
  }
  return value
}

/**
 * REGISTRATION_OPENS_AT, or REGISTRATION_OPENS_IN (`90s`, `3m`, `1h`): that long after this
 * process read its configuration, for trying the countdown and the opening on one machine.
 * Instances started at different moments would open at different moments: not in production.
 */
function opening(env: Env, production: boolean): Date | null {
  const raw = env.REGISTRATION_OPENS_IN
  if (!raw) return date(env, 'REGISTRATION_OPENS_AT')
  if (env.REGISTRATION_OPENS_AT) {
    throw new ConfigError('set REGISTRATION_OPENS_AT or REGISTRATION_OPENS_IN, not both')
  }
  if (production) {
    throw new ConfigError(
      'REGISTRATION_OPENS_IN counts from when each instance starts; production sets REGISTRATION_OPENS_AT',
    )
  }
  const ms = duration(raw)
  if (ms === null) {
    throw new ConfigError(
      `REGISTRATION_OPENS_IN must be a duration such as 90s, 3m or 1h (at most 24h), got "${raw}"`,
    )
  }
  return new Date(Date.now() + ms)
}

/** `90s`, `3m`, `1h` (whole numbers, at most a day) in ms, or null. */
export function duration(raw: string): number | null {
  const match = /^\s*(\d{1,5})\s*(s|m|h)\s*$/.exec(raw)
  if (!match) return null
  const ms = Number(match[1]) * { s: 1_000, m: 60_000, h: 3_600_000 }[match[2] as 's' | 'm' | 'h']
  return ms <= 24 * 3_600_000 ? ms : null
}

/** `4=2026-02-09T10:00:00+09:00,3=2026-02-10T10:00:00+09:00`: an opening per grade year. */
function openingsByYear(env: Env, name: string): ReadonlyMap<number, Date> {
  const raw = env[name]
  const out = new Map<number, Date>()
  if (!raw) return out
  for (const part of raw.split(',')) {
    const match = /^\s*([1-9])\s*=\s*(\S+)\s*$/.exec(part)
    const at = match?.[2] ? new Date(match[2]) : null
    if (!match || !at || Number.isNaN(at.getTime()) || out.has(Number(match[1]))) {
      throw new ConfigError(
        `${name} must be a comma-separated list of year=ISO 8601 date-time, each year once, got "${raw}"`,
      )
    }
    out.set(Number(match[1]), at)
  }
  return out
}

/** `192.0.2.0/24, 2001:db8::/32`: networks in CIDR notation (a bare address is one host). */
function networks(env: Env, name: string): readonly string[] {
  const raw = env[name]
  if (!raw) return []
  return raw.split(',').map((part) => {
    const [address = '', prefix, extra] = part.trim().split('/')
    const family = isIP(address)
    const bits = family === 6 ? 128 : 32
    const length = prefix === undefined ? bits : /^\d{1,3}$/.test(prefix) ? Number(prefix) : NaN
    if (!family || extra !== undefined || !(length <= bits)) {
      throw new ConfigError(
        `${name} must be a comma-separated list of networks like 192.0.2.0/24 or 2001:db8::/32, got "${raw}"`,
      )
    }
    return `${address}/${length}`
  })
}

function url(env: Env, name: string, protocols: string[]): string | undefined {
  const raw = env[name]
  if (!raw) return undefined
  let parsed: URL
  try {
    parsed = new URL(raw)
  } catch {
    throw new ConfigError(`${name} is not a valid URL`)
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(`${name} must start with ${protocols.map((p) => `${p}//`).join(' or ')}`)
  }
  return raw
}

/**
 * REDIS_CLUSTER_NODES: `rediss://:token@host:port,...`, a Redis Cluster's seed nodes (one is
 * enough: ElastiCache's configuration endpoint). TLS and AUTH must be the same for every seed.
 */
function clusterNodesOf(env: Env): string[] | undefined {
  const raw = env.REDIS_CLUSTER_NODES
  if (!raw) return undefined
  const nodes = raw
    .split(',')
    .map((n) => n.trim())
    .filter((n) => n !== '')
  if (nodes.length === 0) throw new ConfigError('REDIS_CLUSTER_NODES names no node')
  const parsed = nodes.map((node, i) => {
    const u = url({ [`REDIS_CLUSTER_NODES[${i}]`]: node }, `REDIS_CLUSTER_NODES[${i}]`, [
      'redis:',
      'rediss:',
    ])
    return new URL(u as string)
  })
  const first = parsed[0] as URL
  if (parsed.some((u) => u.protocol !== first.protocol || u.password !== first.password)) {
    throw new ConfigError('REDIS_CLUSTER_NODES: every node needs the same scheme and password')
  }
  return nodes
}

/**
 * `https://portal.example.edu, http://localhost:5173`: origins (scheme, host, port; no path),
 * spelled as browsers send them in Origin.
 */
function origins(env: Env, name: string): ReadonlySet<string> {
  const raw = env[name]
  if (!raw) return new Set()
  const list = raw
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean)
  return new Set(
    list.map((part) => {
      const parsed = URL.canParse(part) ? new URL(part) : null
      const bare =
        parsed !== null &&
        (parsed.protocol === 'https:' || parsed.protocol === 'http:') &&
        !parsed.username &&
        !parsed.password &&
        parsed.pathname === '/' &&
        !parsed.search &&
        !parsed.hash &&
        !part.endsWith('?') &&
        !part.endsWith('#')
      if (!parsed || !bare) {
        throw new ConfigError(
          `${name} must be a comma-separated list of origins like https://portal.example.edu (no path), got "${raw}"`,
        )
      }
      return parsed.origin
    }),
  )
}

/** Parses and validates the environment once, at start-up. Nothing else reads process.env. */
export function loadConfig(env: Env = process.env): Config {
  const production = env.NODE_ENV === 'production'
  const storage = storageOf(env, production)
  const role = roleOf(env, storage)
  for (const [old, replacement] of RENAMED) {
    if (env[old] !== undefined) {
      throw new ConfigError(`${old} is no longer read: use ${replacement} (see the README)`)
    }
  }
  let sessionSecret = env.SESSION_SECRET ?? ''
  const sessionSecretProvided = sessionSecret !== ''
  if (!sessionSecretProvided) {
    // An admission process reads no session: it need not be given the key.
    if (production && ROLES[role].api) {
      throw new ConfigError('SESSION_SECRET is required in production (at least 32 bytes)')
    }
    sessionSecret = randomBytes(32).toString('base64url')
  }
  if (Buffer.byteLength(sessionSecret) < 32) {
    throw new ConfigError('SESSION_SECRET must be at least 32 bytes long')
  }
  const admission: AdmissionSettings = {
    ...defaultAdmissionSettings,
    leaseMs: integer(env, 'ADMISSION_LEASE_MS', defaultAdmissionSettings.leaseMs, 100),
    maxBatch: integer(env, 'ADMISSION_MAX_BATCH', defaultAdmissionSettings.maxBatch, 1, 10_000),
    concurrency: integer(env, 'ADMISSION_CONCURRENCY', defaultAdmissionSettings.concurrency, 1, 64),
    pacePerSecond: integer(env, 'ADMISSION_PACE', 0, 0, 100_000),
  }
  if (production && admission.pacePerSecond > 0) {
    throw new ConfigError(
      'ADMISSION_PACE slows admission down for the demo; production decides as fast as MySQL allows',
    )
  }
  const passwordCost: ScryptCost = {
    ...defaultCost,
    N: integer(env, 'PASSWORD_SCRYPT_N', defaultCost.N, 2, 2 ** 20),
  }
  if ((passwordCost.N & (passwordCost.N - 1)) !== 0) {
    throw new ConfigError('PASSWORD_SCRYPT_N must be a power of two')
  }
  if (production && passwordCost.N < MIN_PRODUCTION_SCRYPT_N) {
    throw new ConfigError(
      `PASSWORD_SCRYPT_N below ${MIN_PRODUCTION_SCRYPT_N} is for demo and load-test data only, not production`,
    )
  }
  const accountWindowMs = integer(env, 'LOGIN_ACCOUNT_WINDOW_SECONDS', 15 * 60, 1) * 1000
  const mysqlPoolSize = integer(env, 'MYSQL_POOL_SIZE', 10, 1, 500)
  if (storage.kind === 'mysql' && admission.concurrency >= mysqlPoolSize) {
    throw new ConfigError('ADMISSION_CONCURRENCY must be lower than MYSQL_POOL_SIZE')
  }
  return {
    production,
    host: env.HOST || '127.0.0.1',
    port: integer(env, 'PORT', 3000, 0, 65535),
    metricsPort: integer(env, 'METRICS_PORT', 9464, 0, 65535),
    metricsHost: env.METRICS_HOST || '127.0.0.1',
    admin: adminOf(env),
    logLevel: env.LOG_LEVEL || 'info',
    storage,
    databaseReplicaUrl: url(env, 'DATABASE_REPLICA_URL', ['mysql:']),
    databaseTls: databaseTls(env),
    mysqlPoolSize,
    redisPrefix: env.REDIS_PREFIX ?? 'sugang:',
    redisCheckSlots: env.REDIS_CHECK_SLOTS === 'true',
    sessionSecret,
    sessionSecretProvided,
    sessionSecretFile:
      !sessionSecretProvided && !production && storage.kind === 'embedded'
        ? sessionSecretFileOf(storage.sqlitePath)
        : null,
    sessionTtlSeconds: integer(env, 'SESSION_TTL_SECONDS', 8 * 3600, 60),
    cookieSecure: env.COOKIE_SECURE ? env.COOKIE_SECURE === 'true' : production,
    trustProxy: env.TRUST_PROXY ? env.TRUST_PROXY === 'true' : production,
    allowedOrigins: origins(env, 'ALLOWED_ORIGINS'),
    bodyLimitBytes: integer(env, 'BODY_LIMIT_BYTES', 16 * 1024, 256),
    rateLimit: {
      max: integer(env, 'RATE_LIMIT_MAX', 60, 1),
      windowMs: integer(env, 'RATE_LIMIT_WINDOW_SECONDS', 10, 1) * 1000,
    },
    login: {
      accountFailures: {
        max: integer(env, 'LOGIN_ACCOUNT_FAILURES', 10, 1),
        windowMs: accountWindowMs,
      },
      addressFailures: {
        max: integer(env, 'LOGIN_ADDRESS_FAILURES', 100, 1),
        windowMs: integer(env, 'LOGIN_ADDRESS_WINDOW_SECONDS', 60, 1) * 1000,
      },
      // A device's failures are counted over the same window as an account's.
      deviceFailures: {
        max: integer(env, 'LOGIN_DEVICE_FAILURES', 10, 1),
        windowMs: accountWindowMs,
      },
      deviceTtlMs: integer(env, 'LOGIN_DEVICE_TTL_DAYS', 180, 1, 3650) * 24 * 3600 * 1000,
      campusNetworks: networks(env, 'LOGIN_CAMPUS_NETWORKS'),
      campusAccountFailures: integer(env, 'LOGIN_CAMPUS_ACCOUNT_FAILURES', 3, 1),
      // Node's thread pool runs 4 by default (UV_THREADPOOL_SIZE). A check at the production cost
      // takes about 0.1 s of a core (a first login on an older, cheaper hash more). 5 s of
      // waiting leaves the page (which gives up at 15 s) time for a retry elsewhere.
      checksAtOnce: integer(env, 'LOGIN_CHECKS_AT_ONCE', 4, 1, 64),
      checkMaxWaitMs: integer(env, 'LOGIN_CHECK_MAX_WAIT_MS', 5_000, 0, 60_000),
    },
    passwordCost,
    maxWaitlistPerStudent: integer(env, 'MAX_WAITLIST_PER_STUDENT', 5, 0, 1000),
    registration: {
      opensAt: opening(env, production),
      closesAt: date(env, 'REGISTRATION_CLOSES_AT'),
      opensAtByYear: openingsByYear(env, 'REGISTRATION_OPENS_AT_BY_YEAR'),
    },
    decidedTtlSeconds: integer(env, 'DECIDED_TTL_SECONDS', 24 * 3600, 60),
    admission,
    role,
    maxEventLoopDelayMs: integer(env, 'MAX_EVENT_LOOP_DELAY_MS', 1000, 0),
    deadlines: {
      redisMs: integer(env, 'REDIS_TIMEOUT_MS', 1000, 50, 60_000),
      mysqlMs: integer(env, 'MYSQL_TIMEOUT_MS', 1500, 50, 60_000),
      redisMaxInFlight: integer(env, 'REDIS_MAX_IN_FLIGHT', 10_000, 1),
      requestMs: integer(env, 'REQUEST_TIMEOUT_MS', 10_000, 1000, 600_000),
      keepAliveMs: integer(env, 'KEEP_ALIVE_TIMEOUT_MS', 65_000, 1000, 600_000),
    },
    reconcileIntervalMs: integer(env, 'RECONCILE_INTERVAL_MS', 2000, 100, 600_000),
    streams: {
      perStudent: integer(env, 'MAX_STREAMS_PER_STUDENT', 4, 1, 100),
      lifetimeMs: integer(env, 'STREAM_LIFETIME_MS', 15 * 60_000, 1000, 24 * 3600_000),
      stallMs: integer(env, 'STREAM_STALL_MS', 30_000, 100, 600_000),
    },
  }
}

/**
 * MySQL and Redis when both URLs are set; the embedded pair when neither is (not in production).
 * One without the other is a mistake, never a reason to fall back to the embedded store.
 */
/**
 * ADMIN_TOKENS: `name:sha256hex` pairs, comma-separated (`sugang admin token NAME` makes one).
 * Only hashes are configured, so the configuration holds no credential.
 */
function adminOf(env: Env): AdminListener | null {
  const raw = env.ADMIN_TOKENS?.trim()
  if (!raw) return null
  const operators = new Map<string, string>()
  for (const pair of raw.split(',')) {
    const match = /^([A-Za-z0-9._@-]{1,64}):([0-9a-f]{64})$/.exec(pair.trim())
    if (!match) {
      throw new ConfigError(
        'ADMIN_TOKENS must be name:sha256hex pairs separated by commas (sugang admin token NAME prints one)',
      )
    }
    operators.set(match[2] as string, match[1] as string)
  }
  return {
    host: env.ADMIN_HOST || '127.0.0.1',
    port: integer(env, 'ADMIN_PORT', 9465, 0, 65535),
    operators,
  }
}

function storageOf(env: Env, production: boolean): Storage {
  const databaseUrl = url(env, 'DATABASE_URL', ['mysql:'])
  const clusterNodes = clusterNodesOf(env)
  if (clusterNodes && env.REDIS_URL) {
    throw new ConfigError(
      'REDIS_URL and REDIS_CLUSTER_NODES are both set: set REDIS_URL for one Redis node, or REDIS_CLUSTER_NODES for a Redis Cluster',
    )
  }
  const redisUrl = clusterNodes?.[0] ?? url(env, 'REDIS_URL', ['redis:', 'rediss:'])
  if (databaseUrl && redisUrl) {
    const groups = integer(
      env,
      'REDIS_COURSE_GROUPS',
      clusterNodes ? CLUSTER_COURSE_GROUPS : 1,
      1,
      MAX_COURSE_GROUPS,
    )
    return {
      kind: 'mysql',
      databaseUrl,
      redisUrl,
      ...(clusterNodes ? { redisClusterNodes: clusterNodes } : {}),
      redisCourseGroups: groups,
    }
  }
  if (!databaseUrl && redisUrl) {
    throw new ConfigError(
      `DATABASE_URL is not set but ${clusterNodes ? 'REDIS_CLUSTER_NODES' : 'REDIS_URL'} is. sugang needs MySQL with Redis, e.g. DATABASE_URL=mysql://root@127.0.0.1:3306/sugang (or neither, to try it on an embedded store)`,
    )
  }
  if (databaseUrl && !redisUrl) {
    throw new ConfigError(
      'REDIS_URL is not set but DATABASE_URL is. sugang needs Redis for its queue, e.g. REDIS_URL=redis://127.0.0.1:6379 (or neither, to try it on an embedded store)',
    )
  }
  if (production) {
    throw new ConfigError(
      'NODE_ENV=production needs DATABASE_URL and REDIS_URL; the embedded store is for trying sugang on one machine',
    )
  }
  if (env.DATABASE_REPLICA_URL) {
    throw new ConfigError('DATABASE_REPLICA_URL needs DATABASE_URL and REDIS_URL')
  }
  return { kind: 'embedded', sqlitePath: sqlitePathOf(env) }
}

/**
 * The embedded store's file: SQLITE_PATH (a relative one taken from where it was given), else
 * data/sugang.sqlite in the service package (src/ and dist/ are both one level down), so that
 * `npm start`, `npx sugang seed` from the repository root and `sugang serve` from service/ all
 * find the same database.
 */
function sqlitePathOf(env: Env): string {
  if (env.SQLITE_PATH) return resolve(env.SQLITE_PATH)
  return join(dataDirectory(), 'sugang.sqlite')
}

/** The service package's data directory (`service/data`), where local files live by default. */
export function dataDirectory(): string {
  return fileURLToPath(new URL('../data', import.meta.url))
}

/** `data/sugang.sqlite` keeps its signing key in `data/sugang.session-secret`. */
function sessionSecretFileOf(sqlitePath: string): string {
  const file = join(
    dirname(sqlitePath),
    `${basename(sqlitePath, extname(sqlitePath))}.session-secret`,
  )
  return file === sqlitePath ? `${sqlitePath}.session-secret` : file
}

/**
 * SERVICE_ROLE, or the older ADMISSION_WORKER (`false` is the door role). Both may be set only
 * when they agree: a deployment that says two things must not have one of them silently win.
 */
function roleOf(env: Env, storage: Storage): ServiceRole {
  const worker = env.ADMISSION_WORKER || undefined
  if (worker !== undefined && worker !== 'true' && worker !== 'false') {
    throw new ConfigError(
      `ADMISSION_WORKER must be "true" or "false", got "${worker}" (SERVICE_ROLE=door replaces it)`,
    )
  }
  const raw = env.SERVICE_ROLE || undefined
  if (raw !== undefined && !Object.hasOwn(ROLES, raw)) {
    throw new ConfigError(`SERVICE_ROLE must be all, door or admission, got "${raw}"`)
  }
  const role: ServiceRole =
    (raw as ServiceRole | undefined) ?? (worker === 'false' ? 'door' : 'all')
  if (raw !== undefined && worker !== undefined && ROLES[role].admission !== (worker === 'true')) {
    throw new ConfigError(
      `ADMISSION_WORKER=${worker} contradicts SERVICE_ROLE=${raw}: set SERVICE_ROLE only`,
    )
  }
  if (role !== 'all' && storage.kind === 'embedded') {
    const setting = raw === undefined ? `ADMISSION_WORKER=${worker}` : `SERVICE_ROLE=${raw}`
    throw new ConfigError(
      `${setting} needs DATABASE_URL and REDIS_URL: the embedded queue lives in this one process, so it both takes requests and admits them`,
    )
  }
  return role
}

/** Settings that changed meaning; a deployment still setting them would silently lose them. */
const RENAMED: ReadonlyArray<readonly [string, string]> = [
  ['LOGIN_RATE_LIMIT_MAX', 'LOGIN_ADDRESS_FAILURES and LOGIN_ACCOUNT_FAILURES'],
  ['LOGIN_RATE_LIMIT_WINDOW_SECONDS', 'LOGIN_ADDRESS_WINDOW_SECONDS'],
]

/**
 * Below this, scrypt is for demo and load-test data only. OWASP recommends N=2^17 with r=8; the
 * default 2^15 trades some of that for the login burst before registration opens (docs/security.md).
 */
const MIN_PRODUCTION_SCRYPT_N = 2 ** 14

/** Where the confirmation sender finds the outbox. */
export type NotifierDatabase =
  | { readonly kind: 'url'; readonly url: string }
  /** RDS: host and name from the environment, user and password from a Secrets Manager secret. */
  | {
      readonly kind: 'secret'
      readonly secretArn: string
      readonly host: string
      readonly port: number
      readonly name: string
    }
  | { readonly kind: 'embedded'; readonly sqlitePath: string }

/** Settings of the confirmation e-mail sender (`sugang notify` and the e-mail Lambda). */
export interface NotifierConfig {
  readonly production: boolean
  readonly logLevel: string
  readonly database: NotifierDatabase
  /** TLS to MySQL (DATABASE_TLS), as for the service. */
  readonly databaseTls: DatabaseTls | undefined
  /** The From address; its domain must be a verified SES identity. */
  readonly mailFrom: string
  readonly configurationSet: string | undefined
  /** The service's public URL, linked from the message. */
  readonly siteUrl: string | undefined
  readonly settings: ConfirmationSettings
}

/**
 * MySQL for the tools outside the service (the sender, database-users): a URL, or a Secrets
 * Manager secret with host and name (RDS); undefined when neither is set.
 */
function toolDatabase(env: Env): Exclude<NotifierDatabase, { kind: 'embedded' }> | undefined {
  const databaseUrl = url(env, 'DATABASE_URL', ['mysql:'])
  if (databaseUrl) return { kind: 'url', url: databaseUrl }
  if (!env.DATABASE_SECRET_ARN) return undefined
  if (!env.DATABASE_HOST || !env.DATABASE_NAME) {
    throw new ConfigError('DATABASE_SECRET_ARN needs DATABASE_HOST and DATABASE_NAME')
  }
  return {
    kind: 'secret',
    secretArn: env.DATABASE_SECRET_ARN,
    host: env.DATABASE_HOST,
    port: integer(env, 'DATABASE_PORT', 3306, 1, 65535),
    name: env.DATABASE_NAME,
  }
}

/** Parses the sender's environment once; the same names in the Lambda and on the command line. */
export function loadNotifierConfig(env: Env = process.env): NotifierConfig {
  const production = env.NODE_ENV === 'production'
  const mysqlDatabase = toolDatabase(env)
  if (!mysqlDatabase && production) {
    throw new ConfigError(
      'NODE_ENV=production needs DATABASE_URL or DATABASE_SECRET_ARN for the confirmation sender',
    )
  }
  const database: NotifierDatabase = mysqlDatabase ?? {
    kind: 'embedded',
    sqlitePath: sqlitePathOf(env),
  }
  const mailFrom = env.MAIL_FROM ?? ''
  if (!/^[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+$/.test(mailFrom)) {
    throw new ConfigError(
      'MAIL_FROM must be the sender address, e.g. sugang@example.ac.kr (its domain verified in SES)',
    )
  }
  const d = DEFAULT_CONFIRMATION_SETTINGS
  return {
    production,
    logLevel: env.LOG_LEVEL || 'info',
    database,
    databaseTls: databaseTls(env),
    mailFrom,
    configurationSet: env.SES_CONFIGURATION_SET || undefined,
    siteUrl: url(env, 'SITE_URL', ['https:', 'http:']),
    settings: {
      batchSize: integer(env, 'NOTIFY_BATCH_SIZE', d.batchSize, 1, 500),
      concurrency: integer(env, 'NOTIFY_CONCURRENCY', d.concurrency, 1, 50),
      leaseMs: integer(env, 'NOTIFY_LEASE_MS', d.leaseMs, 1_000, 3_600_000),
      maxAttempts: integer(env, 'NOTIFY_MAX_ATTEMPTS', d.maxAttempts, 1, 100),
      backoffBaseMs: integer(env, 'NOTIFY_BACKOFF_BASE_MS', d.backoffBaseMs, 0, 3_600_000),
      backoffMaxMs: integer(env, 'NOTIFY_BACKOFF_MAX_MS', d.backoffMaxMs, 0, 24 * 3_600_000),
    },
  }
}

/** Where a database user's password comes from: its Secrets Manager secret, or given directly. */
export type UserCredentials =
  | { readonly kind: 'secret'; readonly secretArn: string }
  | { readonly kind: 'password'; readonly username: string; readonly password: string }

/** Settings of `sugang database-users`: the master's connection and the users it keeps. */
export interface DatabaseUsersConfig {
  /** The master user's connection (a URL, or its secret with host and name). */
  readonly admin: Exclude<NotifierDatabase, { kind: 'embedded' }>
  readonly databaseTls: DatabaseTls | undefined
  readonly app: UserCredentials
  readonly notifier: UserCredentials
}

function userCredentials(env: Env, prefix: string, defaultUser: string): UserCredentials {
  const secretArn = env[`${prefix}_DATABASE_SECRET_ARN`]
  const password = env[`${prefix}_DATABASE_PASSWORD`]
  if (secretArn && password) {
    throw new ConfigError(
      `set ${prefix}_DATABASE_SECRET_ARN or ${prefix}_DATABASE_PASSWORD, not both`,
    )
  }
  if (secretArn) return { kind: 'secret', secretArn }
  if (password) {
    return { kind: 'password', username: env[`${prefix}_DATABASE_USER`] || defaultUser, password }
  }
  throw new ConfigError(
    `${prefix}_DATABASE_SECRET_ARN (or ${prefix}_DATABASE_PASSWORD) is required: the password of the user to create`,
  )
}

export function loadDatabaseUsersConfig(env: Env = process.env): DatabaseUsersConfig {
  const admin = toolDatabase(env)
  if (!admin) {
    throw new ConfigError(
      'sugang database-users needs the master user: DATABASE_URL, or DATABASE_SECRET_ARN with DATABASE_HOST and DATABASE_NAME',
    )
  }
  return {
    admin,
    databaseTls: databaseTls(env),
    app: userCredentials(env, 'APP', 'sugang_app'),
    notifier: userCredentials(env, 'NOTIFY', 'sugang_notify'),
  }
}
