// The systems a run compares, all on the same data: sugang (one instance, or several behind a
// round-robin proxy) and the baselines under ./baselines. Each is started fresh on freshly
// seeded data, measured, and stopped.
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { freePort } from '@sugang/testkit/ports'
import { Cluster, Redis } from 'ioredis'
import mysql from 'mysql2/promise'
import { openRedis } from '@sugang/service/redis-connection'
import { CLUSTER_COURSE_GROUPS, RedisKeys } from '@sugang/service/redis-keys'
import { Client, inParallel } from './client.js'
import type { Watched } from './probes.js'
import { ready, repoRoot, run, startProxy, sugangCli, type Running } from './processes.js'
import { REDIS_CLUSTER_NODES, type RedisMode } from './redis-shards.js'
import { studentId } from './workload.js'
import {
  clearRedisPrefix,
  prepareBaseline,
  readBaselineState,
  type BaselineData,
} from './baselines/schema.js'

export type TargetKind = 'sugang' | 'naive' | 'ten-per-second' | 'bare'

export const MYSQL_URL = process.env.BENCH_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306'
export const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379'
export const SUGANG_DB = `${MYSQL_URL}/sugang_bench`
const SUGANG_PREFIX = 'bench:'
/** Extra Node options for the service processes, e.g. BENCH_SERVICE_NODE_ARGS=--cpu-prof. */
const serviceNodeArgs = (process.env.BENCH_SERVICE_NODE_ARGS ?? '').split(' ').filter(Boolean)
/** Every seeded student's password. */
export const PASSWORD = 'bench-password'

/** The service's CLI the targets run: the sources (tests) or a production build (benchmark). */
let cli = sugangCli
export function useServiceCli(path: string): void {
  cli = path
}

/** What the database holds after a run: the truth the students' answers are checked against. */
export interface DbState {
  readonly courses: ReadonlyMap<string, { capacity: number; enrolled: number; rows: number }>
  readonly enrollments: ReadonlyArray<{ studentId: string; courseId: string }>
  /** Waitlist entries with their position (1 + entries ahead in that course). */
  readonly waitlist: ReadonlyArray<{ requestId: string; courseId: string; position: number }>
}

export interface Target {
  readonly name: string
  readonly kind: TargetKind
  readonly instances: number
  readonly base: string
  readonly processes: readonly Watched[]
  /** The Cookie header of a student (logged in beforehand where the target has logins). */
  cookie(student: number): string
  /** Requests the server holds undecided (queued), or null when it cannot tell. */
  pending(): Promise<number | null>
  /** The longest queue's length (the 10-per-second design, to project when it would finish). */
  longestQueue?(): Promise<number>
  state(): Promise<DbState>
  stop(): Promise<void>
}

/**
 * Polls the target every pollMs until it holds nothing undecided: the moment it did (run clock),
 * or null when it cannot tell or not before `until`.
 */
export async function serverDecided(
  target: Target,
  until: number,
  pollMs = 20,
): Promise<number | null> {
  while (performance.now() < until) {
    const pending = await target.pending()
    if (pending === null) return null
    if (pending === 0) return performance.now()
    await sleep(pollMs)
  }
  return null
}

export interface SeedSize {
  readonly students: number
  readonly courses: number
  readonly capacity: readonly [number, number]
}

function mysqlExec(sql: string): void {
  const u = new URL(MYSQL_URL)
  execFileSync('mariadb', [
    '--protocol=tcp',
    `-h${u.hostname}`,
    `-P${u.port || '3306'}`,
    `-u${decodeURIComponent(u.username)}`,
    ...(u.password ? [`-p${decodeURIComponent(u.password)}`] : []),
    '-e',
    sql,
  ])
}

/** Where sugang's queue lives: the one node (REDIS_URL), or the cluster (REDIS_CLUSTER_NODES). */
const redisEnv = (mode: RedisMode): Record<string, string> =>
  mode === 'single'
    ? { REDIS_URL }
    : {
        // Empty, not unset: an inherited REDIS_URL beside the cluster's nodes is refused.
        REDIS_URL: '',
        REDIS_CLUSTER_NODES: REDIS_CLUSTER_NODES.join(','),
        // Pinned, so that the keys the benchmark reads are the ones the service writes.
        REDIS_COURSE_GROUPS: String(CLUSTER_COURSE_GROUPS),
      }

/** The key schema sugang runs with on that Redis. */
export function benchKeys(mode: RedisMode = 'single'): RedisKeys {
  return new RedisKeys({
    prefix: SUGANG_PREFIX,
    sessionTtlSeconds: 60,
    decidedTtlSeconds: 60,
    courseGroups: mode === 'single' ? 1 : CLUSTER_COURSE_GROUPS,
  })
}

const sugangEnv = (mode: RedisMode = 'single'): Record<string, string | undefined> => ({
  // The service runs as production does: without the V8 coverage a test run of this workspace
  // collects for its own code (rush/, lib/). Inherited, it would instrument every service process
  // the run measures (tens of percent of their CPU) for reports nobody reads.
  NODE_V8_COVERAGE: undefined,
  DATABASE_URL: SUGANG_DB,
  ...redisEnv(mode),
  REDIS_PREFIX: SUGANG_PREFIX,
  SESSION_SECRET: 'bench-secret-bench-secret-bench-secret-0000',
  // Every student logs in from 127.0.0.1 here; the per-address failure limit would count them
  // as one network.
  LOGIN_ADDRESS_FAILURES: '1000000',
  // Seeded students have cheap hashes; demo and load-test data only.
  PASSWORD_SCRYPT_N: '16',
  // Production's level: an ordinary answer is not logged at info (the ALB logs every request).
  LOG_LEVEL: 'info',
})

/**
 * Seeds sugang's database through the CLI (which clears sugang's keys on the Redis it is given)
 * and returns the data the baselines get too.
 */
export function seedSugang(size: SeedSize, redis: RedisMode = 'single'): BaselineData {
  mysqlExec('CREATE DATABASE IF NOT EXISTS sugang_bench')
  const [min, max] = size.capacity
  execFileSync(
    process.execPath,
    [
      cli,
      'seed',
      '--students',
      String(size.students),
      '--courses',
      String(size.courses),
      '--capacity',
      min === max ? String(min) : `${min}-${max}`,
      '--password',
      PASSWORD,
      '--reset',
    ],
    { env: { ...process.env, ...sugangEnv(redis) }, stdio: ['ignore', 'ignore', 'inherit'] },
  )
  return readSeeded()
}

function readSeeded(): BaselineData {
  const out = execFileSync(
    'mariadb',
    [
      '--protocol=tcp',
      ...mysqlArgs(),
      '-N',
      '-B',
      '-e',
      `SELECT 'c', id, capacity, credits FROM sugang_bench.courses
     UNION ALL SELECT 's', id, max_credits, 0 FROM sugang_bench.students`,
    ],
    { maxBuffer: 256 * 2 ** 20 },
  ).toString()
  const data: {
    students: BaselineData['students'][number][]
    courses: BaselineData['courses'][number][]
  } = {
    students: [],
    courses: [],
  }
  for (const line of out.split('\n')) {
    const [kind, id, a, b] = line.split('\t')
    if (kind === 'c') data.courses.push({ id: id!, capacity: Number(a), credits: Number(b) })
    else if (kind === 's') data.students.push({ id: id!, maxCredits: Number(a) })
  }
  return data
}

function mysqlArgs(): string[] {
  const u = new URL(MYSQL_URL)
  return [
    `-h${u.hostname}`,
    `-P${u.port || '3306'}`,
    `-u${decodeURIComponent(u.username)}`,
    ...(u.password ? [`-p${decodeURIComponent(u.password)}`] : []),
  ]
}

async function sugangState(): Promise<DbState> {
  const db = await mysql.createConnection({ uri: SUGANG_DB })
  try {
    const [courses] = await db.query<mysql.RowDataPacket[]>(
      `SELECT c.id, c.capacity, c.enrolled,
              (SELECT COUNT(*) FROM enrollments e WHERE e.course_id = c.id) AS n
         FROM courses c`,
    )
    const [enrollments] = await db.query<mysql.RowDataPacket[]>(
      'SELECT student_id, course_id FROM enrollments',
    )
    const [waitlist] = await db.query<mysql.RowDataPacket[]>(
      `SELECT request_id, course_id,
              ROW_NUMBER() OVER (PARTITION BY course_id ORDER BY id) AS position
         FROM waitlist`,
    )
    return {
      courses: new Map(
        courses.map((c) => [
          String(c.id),
          { capacity: Number(c.capacity), enrolled: Number(c.enrolled), rows: Number(c.n) },
        ]),
      ),
      enrollments: enrollments.map((e) => ({
        studentId: String(e.student_id),
        courseId: String(e.course_id),
      })),
      waitlist: waitlist.map((w) => ({
        requestId: String(w.request_id),
        courseId: String(w.course_id),
        position: Number(w.position),
      })),
    }
  } finally {
    await db.end()
  }
}

/** Logs every student in (through the target, spread over its instances) and keeps the cookies. */
async function loginAll(bases: readonly string[], students: number): Promise<string[]> {
  const clients = bases.map((b) => new Client(b, 16))
  const cookies = new Array<string>(students + 1)
  try {
    await inParallel(students, 16 * bases.length, async (i) => {
      const n = i + 1
      const client = clients[i % clients.length]!
      let res = await client.sendRaw('/api/v1/auth/login', {
        studentId: studentId(n),
        password: PASSWORD,
      })
      // An instance that sheds load (503) or a throttle (429) asks us to come back: we do.
      for (
        let attempt = 0;
        (res.status === 503 || res.status === 429) && attempt < 20;
        attempt += 1
      ) {
        await sleep(1000)
        res = await client.sendRaw('/api/v1/auth/login', {
          studentId: studentId(n),
          password: PASSWORD,
        })
      }
      if (res.status !== 200 || !res.cookie) throw new Error(`login ${studentId(n)}: ${res.status}`)
      cookies[n] = res.cookie
    })
  } finally {
    await Promise.all(clients.map((c) => c.close()))
  }
  return cookies
}

/** What a scenario changes in how sugang is started. */
export interface SugangOptions {
  /** Settings over the benchmark's own (e.g. the production scrypt cost). */
  readonly env?: Readonly<Record<string, string>>
  /** Log every student in before the measured phase (default); false: the scenario does. */
  readonly loginFirst?: boolean
  /** How sugang's processes are laid out (default all). */
  readonly layout?: Layout
  /** Where its queue lives (default the single node). */
  readonly redis?: RedisMode
}

/**
 * all: every instance is one process that takes requests and admits them (SERVICE_ROLE=all).
 * split: the instances are doors (SERVICE_ROLE=door), and one process of its own admits
 * (SERVICE_ROLE=admission), so that deciding never competes with answering for an event loop.
 */
export type Layout = 'all' | 'split'
export const LAYOUTS: readonly Layout[] = ['all', 'split']

/** The split layout's admission process: no API, only its health on a port of its own. */
async function startAdmission(
  env: Readonly<Record<string, string>> = {},
  redis: RedisMode = 'single',
): Promise<Running> {
  const port = await freePort()
  const metrics = await freePort()
  const proc = run('sugang admission', process.execPath, [...serviceNodeArgs, cli, 'serve'], {
    ...sugangEnv(redis),
    ...env,
    SERVICE_ROLE: 'admission',
    PORT: String(port),
    METRICS_PORT: String(metrics),
  })
  await ready(proc, `http://127.0.0.1:${port}/health/ready`)
  return proc
}

/**
 * sugang with `instances` processes that take requests (and, in the split layout, one more that
 * admits); more than one sit behind the proxy.
 */
export async function startSugang(
  instances: number,
  students: number,
  options: SugangOptions = {},
): Promise<Target> {
  const procs: Running[] = []
  const ports: number[] = []
  const mode = options.redis ?? 'single'
  // A cluster client connects at once (lazyConnect is a node's option); it queues until ready.
  const redis = openRedis(mode === 'single' ? REDIS_URL : REDIS_CLUSTER_NODES, {
    lazyConnect: true,
  })
  const split = options.layout === 'split'
  try {
    for (let i = 0; i < instances; i += 1) {
      const port = await freePort()
      const metrics = await freePort()
      const name = split ? `sugang door ${i + 1}` : `sugang ${i + 1}`
      const proc = run(name, process.execPath, [...serviceNodeArgs, cli, 'serve'], {
        ...sugangEnv(mode),
        ...options.env,
        ...(split ? { SERVICE_ROLE: 'door' } : {}),
        PORT: String(port),
        METRICS_PORT: String(metrics),
      })
      procs.push(proc)
      ports.push(port)
      await ready(proc, `http://127.0.0.1:${port}/health/ready`)
    }
    if (split) procs.push(await startAdmission(options.env, mode))
    let base = `http://127.0.0.1:${ports[0]}`
    if (instances > 1) {
      const port = await freePort()
      procs.push(await startProxy(port, ports))
      base = `http://127.0.0.1:${port}`
    }
    // Log in on the instances directly: login is not part of the rush (unless the scenario's
    // own phase is the logins).
    const cookies =
      options.loginFirst === false
        ? []
        : await loginAll(
            ports.map((p) => `http://127.0.0.1:${p}`),
            students,
          )
    if (redis.status === 'wait') await redis.connect()
    const keys = benchKeys(mode)
    const groups = Array.from({ length: keys.courseGroups }, (_, g) => g)
    return {
      name:
        (instances === 1 ? 'sugang' : `sugang ×${instances} (proxy)`) +
        (split ? ', split: doors + 1 admission' : ''),
      kind: 'sugang',
      instances,
      base,
      processes: procs.map((p) => ({ name: p.name, pid: p.pid })),
      cookie: (n) => cookies[n] ?? '',
      // Each course group's active set lists its courses whose queue may be non-empty: only
      // those are counted, so that watching costs Redis little while the rush runs. On one node
      // in one pipeline; on a cluster one command per key (it refuses a pipeline whose keys lie
      // in several slots).
      pending: async () => {
        const active = (
          await Promise.all(groups.map((g) => redis.smembers(keys.activeCourses(g))))
        ).flat()
        if (active.length === 0) return 0
        const queues = active.map((id) => keys.course(id).queue)
        let sizes: number[]
        if (redis instanceof Cluster) {
          sizes = await Promise.all(queues.map((key) => redis.zcard(key)))
        } else {
          const pipeline = redis.pipeline()
          for (const key of queues) pipeline.zcard(key)
          sizes = ((await pipeline.exec()) ?? []).map(([, n]) => Number(n))
        }
        return sizes.reduce((sum, n) => sum + n, 0)
      },
      state: sugangState,
      stop: async () => {
        redis.disconnect()
        await Promise.all(procs.reverse().map((p) => p.stop()))
      },
    }
  } catch (err) {
    redis.disconnect()
    await Promise.all(procs.map((p) => p.stop()))
    throw err
  }
}

const BASELINE_FILES: Record<Exclude<TargetKind, 'sugang'>, string> = {
  naive: 'naive-for-update.ts',
  'ten-per-second': 'ten-per-second.ts',
  bare: 'bare.ts',
}
const BASELINE_NAMES: Record<Exclude<TargetKind, 'sugang'>, string> = {
  naive: 'naive: one transaction per request, SELECT … FOR UPDATE',
  'ten-per-second': 'queue drained 10 per second per course',
  bare: 'bare Fastify route (the ceiling)',
}

/** A baseline on its own database (same students and courses), started as its own process. */
export async function startBaseline(
  kind: Exclude<TargetKind, 'sugang'>,
  data: BaselineData,
): Promise<Target> {
  const database = `${MYSQL_URL}/sugang_bench_${kind.replace(/-/g, '_')}`
  const prefix = `bench-${kind}:`
  if (kind !== 'bare') await prepareBaseline(database, data)
  if (kind === 'ten-per-second') await clearRedisPrefix(REDIS_URL, prefix)
  const port = await freePort()
  const file = join(repoRoot, 'scripts/rush/baselines', BASELINE_FILES[kind])
  const proc = run(kind, process.execPath, ['--import', 'tsx', file], {
    PORT: String(port),
    HOST: '127.0.0.1',
    DATABASE_URL: database,
    REDIS_URL,
    REDIS_PREFIX: prefix,
  })
  await ready(proc, `http://127.0.0.1:${port}/health`)
  const redis = kind === 'ten-per-second' ? new Redis(REDIS_URL) : null
  return {
    name: BASELINE_NAMES[kind],
    kind,
    instances: 1,
    base: `http://127.0.0.1:${port}`,
    processes: [{ name: kind, pid: proc.pid }],
    // The baselines have no logins: the cookie names the student (which favours them).
    cookie: (n) => `student=${studentId(n)}`,
    pending: async () => {
      if (kind !== 'ten-per-second' || !redis) return kind === 'bare' ? null : 0
      return (await queuesUnder(redis, prefix)).total
    },
    longestQueue: async () => (redis ? (await queuesUnder(redis, prefix)).longest : 0),
    state: async () => {
      if (kind === 'bare') return { courses: new Map(), enrollments: [], waitlist: [] }
      const s = await readBaselineState(database)
      return {
        courses: new Map(
          s.courses.map((c) => [
            c.id,
            { capacity: c.capacity, enrolled: c.enrolled, rows: c.rows },
          ]),
        ),
        enrollments: s.enrollments,
        waitlist: [],
      }
    },
    stop: async () => {
      redis?.disconnect()
      await proc.stop()
    },
  }
}

/** The total and the largest size of the sorted sets under a prefix (the queue baseline's queues). */
async function queuesUnder(
  redis: Redis,
  prefix: string,
): Promise<{ total: number; longest: number }> {
  let cursor = '0'
  let total = 0
  let longest = 0
  do {
    const [next, keys] = await redis.scan(
      cursor,
      'MATCH',
      `${prefix}*`,
      'COUNT',
      1000,
      'TYPE',
      'zset',
    )
    cursor = next
    if (keys.length > 0) {
      const pipeline = redis.pipeline()
      for (const k of keys) pipeline.zcard(k)
      for (const [, n] of (await pipeline.exec()) ?? []) {
        total += Number(n)
        longest = Math.max(longest, Number(n))
      }
    }
  } while (cursor !== '0')
  return { total, longest }
}
