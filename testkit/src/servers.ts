// MariaDB and Redis servers of a test's own, for tests that pause, kill, restart or stop a
// dependency: doing that to the shared servers would break every other test running meanwhile.
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import mysql from 'mysql2/promise'
import { freePort, portIsFree } from './ports.js'

/** What a fault test can do to a dependency server. */
export interface DependencyServer {
  readonly port: number
  readonly url: string
  /** The current process: a new one after restart(). */
  readonly pid: number
  /** Freezes the process (SIGSTOP): connections stay open, nothing answers. */
  pause(): void
  /** Lets a paused process run again (SIGCONT). */
  resume(): void
  /** SIGKILL, as a crash or an OOM kill would; resolves once the process has exited. */
  kill(): Promise<void>
  /** Kills the process if it runs, starts it again on the same port, resolves once it answers. */
  restart(): Promise<void>
  /** Shuts down gracefully (SIGKILL if that takes too long) and removes what it created. */
  stop(): Promise<void>
}

export interface MariaDbServer extends DependencyServer {
  /** Holds the datadir (`data/`), the socket, the pid file and `error.log`. */
  readonly dir: string
}

export type RedisServer = DependencyServer

export async function startMariaDb(
  /** `args`: more server options, e.g. `--ssl-cert=...` for a test of TLS. */
  options: { port?: number; dir?: string; args?: readonly string[] } = {},
): Promise<MariaDbServer> {
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'sugang-mariadb-')))
  const dataDir = join(dir, 'data')
  const errorLog = join(dir, 'error.log')
  try {
    await mkdir(dir, { recursive: true })
    // A given dir that already holds a datadir is reused, as scripts/mariadb-replica-up.sh does.
    if (!existsSync(join(dataDir, 'mysql'))) await installDataDir(dir, dataDir)
    const server = new ChildServer({
      name: 'mariadbd',
      command: 'mariadbd',
      args: (port) => [
        '--no-defaults',
        '--user=root',
        `--datadir=${dataDir}`,
        `--port=${port}`,
        '--bind-address=127.0.0.1',
        `--socket=${join(dir, 'mariadbd.sock')}`,
        `--pid-file=${join(dir, 'mariadbd.pid')}`,
        `--log-error=${errorLog}`,
        '--innodb-buffer-pool-size=64M',
        '--skip-name-resolve',
        ...(options.args ?? []),
      ],
      url: (port) => `mysql://root@127.0.0.1:${port}`,
      answers: (port) => mariaDbAnswers(port, dataDir),
      logTail: async () => tail(await readFile(errorLog, 'utf8').catch(() => '')),
      // Recovery after a SIGKILL and a clean shutdown both take a few seconds at most; the
      // bound only keeps a wedged server from hanging the test until tap's own timeout.
      startTimeoutMs: 60_000,
      stopTimeoutMs: 20_000,
      cleanup: options.dir ? undefined : () => rm(dir, { recursive: true, force: true }),
    })
    await server.start(options.port)
    return Object.assign(server, { dir })
  } catch (err) {
    if (!options.dir) await rm(dir, { recursive: true, force: true })
    throw err
  }
}

export interface RedisOptions {
  /** Where it listens: a free port if unset; the port of a stopped one brings that one back. */
  readonly port?: number
  /** How long it may take to answer PING before the start fails (default 15 s). */
  readonly startTimeoutMs?: number
}

/**
 * A loopback redis-server that persists nothing, so a restart starts empty; --dir keeps any stray
 * file (a cluster's nodes.conf among them) out of the working directory.
 */
function redisArgs(port: number, dir: string): string[] {
  return [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
    '--dir',
    dir,
  ]
}

export async function startRedis(options: RedisOptions = {}): Promise<RedisServer> {
  const dir = await mkdtemp(join(tmpdir(), 'sugang-redis-'))
  try {
    const server = new ChildServer({
      name: 'redis-server',
      command: 'redis-server',
      args: (port) => redisArgs(port, dir),
      url: (port) => `redis://127.0.0.1:${port}`,
      answers: (port, pid) => redisAnswers(port, pid),
      // Redis logs to stdout: ChildServer keeps the tail of that.
      logTail: async () => '',
      startTimeoutMs: options.startTimeoutMs ?? 15_000,
      stopTimeoutMs: 10_000,
      cleanup: () => rm(dir, { recursive: true, force: true }),
    })
    await server.start(options.port)
    return server
  } catch (err) {
    await rm(dir, { recursive: true, force: true })
    throw err
  }
}

async function installDataDir(dir: string, dataDir: string): Promise<void> {
  const output: string[] = []
  const install = spawn(
    'mariadb-install-db',
    [
      '--no-defaults',
      '--user=root',
      `--datadir=${dataDir}`,
      '--auth-root-authentication-method=normal',
      '--skip-test-db',
    ],
    { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
  )
  install.stdout.on('data', (chunk: Buffer) => output.push(chunk.toString()))
  install.stderr.on('data', (chunk: Buffer) => output.push(chunk.toString()))
  const code = await new Promise<number | null>((resolve, reject) => {
    install.once('error', reject)
    install.once('close', resolve)
  })
  if (code !== 0) {
    throw new Error(`mariadb-install-db exited with ${code}:\n${tail(output.join(''))}`)
  }
}

/**
 * SELECT 1 over TCP, and from our server: if someone else grabbed the port between freePort()
 * and the bind, our mariadbd dies, but their server could answer the probe first.
 */
async function mariaDbAnswers(port: number, dataDir: string): Promise<boolean> {
  let conn: mysql.Connection | undefined
  try {
    conn = await mysql.createConnection({
      host: '127.0.0.1',
      port,
      user: 'root',
      connectTimeout: 2_000,
    })
    conn.on('error', () => {})
    const [rows] = await conn.query<mysql.RowDataPacket[]>({
      sql: 'SELECT 1 AS one, @@datadir AS datadir',
      timeout: 2_000,
    })
    const ours = rows[0]?.one === 1 && resolve(String(rows[0]?.datadir)) === resolve(dataDir)
    // A polite COM_QUIT: a dropped connection is logged as "Aborted connection" in error.log.
    await conn.end()
    return ours
  } catch {
    conn?.destroy()
    return false
  }
}

/** PING, and from our process (see mariaDbAnswers for why). */
async function redisAnswers(port: number, pid: number): Promise<boolean> {
  const redis = new Redis({
    host: '127.0.0.1',
    port,
    lazyConnect: true,
    enableOfflineQueue: false,
    enableReadyCheck: false,
    disableClientInfo: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 2_000,
    commandTimeout: 2_000,
  })
  redis.on('error', () => {})
  try {
    await redis.connect()
    if ((await redis.ping()) !== 'PONG') return false
    return new RegExp(`^process_id:${pid}\\r?$`, 'm').test(await redis.info('server'))
  } catch {
    return false
  } finally {
    redis.disconnect()
  }
}

function tail(text: string, lines = 20): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n')
}

interface ChildServerSpec {
  name: string
  command: string
  args(port: number): string[]
  url(port: number): string
  /** One probe: true when the server on `port` is ours (`pid`) and answers. */
  answers(port: number, pid: number): Promise<boolean>
  /** The end of the server's own log, for errors when it dies during start. */
  logTail(): Promise<string>
  startTimeoutMs: number
  stopTimeoutMs: number
  cleanup: (() => Promise<void>) | undefined
}

const PROBE_INTERVAL_MS = 50

// Killed when the test process exits, so a test that forgets stop() (or fails before its
// teardown) leaves no server behind holding a port and memory.
const running = new Set<ChildProcess>()
let exitHookInstalled = false
function track(child: ChildProcess): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true
    process.once('exit', () => {
      for (const c of running) c.kill('SIGKILL')
    })
  }
  running.add(child)
}

class ChildServer implements DependencyServer {
  readonly #spec: ChildServerSpec
  #port = 0
  #child: ChildProcess | undefined
  #exited: Promise<void> = Promise.resolve()
  #running = false
  #stopped = false
  // Our own stdout/stderr capture: Redis logs only there, MariaDB before it opens error.log.
  #output = ''

  constructor(spec: ChildServerSpec) {
    this.#spec = spec
  }

  get port(): number {
    return this.#port
  }

  get url(): string {
    return this.#spec.url(this.#port)
  }

  get pid(): number {
    return this.#child?.pid ?? 0
  }

  /** Starts on `port`, or on a free one, retried if another process takes it before we bind. */
  async start(port: number | undefined): Promise<void> {
    for (let attempt = 1; ; attempt += 1) {
      this.#port = port ?? (await freePort())
      try {
        await this.#launch()
        return
      } catch (err) {
        const lostRace = port === undefined && /address already in use/i.test(String(err))
        if (!lostRace || attempt === 3) throw err
      }
    }
  }

  pause(): void {
    this.#signal('SIGSTOP')
    // The signal is queued, not yet acted on: a thread already running on another core may
    // still answer one more query. Return only once every thread of the server has stopped.
    waitUntilStopped(this.#child?.pid)
  }

  resume(): void {
    this.#signal('SIGCONT')
  }

  async kill(): Promise<void> {
    if (this.#running) this.#child?.kill('SIGKILL')
    await this.#exited
  }

  async restart(): Promise<void> {
    if (this.#stopped) throw new Error(`${this.#spec.name} was stopped; start a new one`)
    await this.kill()
    // The old process's listening socket is gone once it has exited, but wait for the port to
    // be bindable anyway: starting into EADDRINUSE would make the server exit at once.
    await this.#waitForPortFree()
    await this.#launch()
  }

  async stop(): Promise<void> {
    if (this.#stopped) return
    this.#stopped = true
    if (this.#running && this.#child) {
      const child = this.#child
      // A stopped process only acts on SIGTERM once it runs again.
      child.kill('SIGCONT')
      child.kill('SIGTERM')
      let timer: NodeJS.Timeout | undefined
      const gaveUp = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          child.kill('SIGKILL')
          resolve()
        }, this.#spec.stopTimeoutMs)
      })
      await Promise.race([this.#exited, gaveUp])
      clearTimeout(timer)
      await this.#exited
    }
    await this.#spec.cleanup?.()
  }

  #signal(signal: NodeJS.Signals): void {
    if (!this.#running || !this.#child) throw new Error(`${this.#spec.name} is not running`)
    this.#child.kill(signal)
  }

  async #launch(): Promise<void> {
    const { name, command, startTimeoutMs } = this.#spec
    this.#output = ''
    // Spawned directly, not through a shell, so that child.pid is the server and the signals
    // reach it; in our process group, so a ^C on the test run stops it too.
    const child = spawn(command, this.#spec.args(this.#port), {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    this.#child = child
    this.#running = true
    track(child)
    const keep = (chunk: Buffer) => {
      this.#output = (this.#output + chunk.toString()).slice(-16_384)
    }
    child.stdout?.on('data', keep)
    child.stderr?.on('data', keep)
    let failure: Error | undefined
    this.#exited = new Promise<void>((resolve) => {
      const done = () => {
        this.#running = false
        running.delete(child)
        resolve()
      }
      child.once('exit', (code, signal) => {
        failure = new Error(`${name} exited (${signal ?? `code ${code}`})`)
        done()
      })
      // Spawning failed (not installed?): no 'exit' follows.
      child.once('error', (err) => {
        failure = err
        done()
      })
    })

    const until = Date.now() + startTimeoutMs
    for (;;) {
      if (!this.#running) throw await this.#startFailure(failure)
      // A probe can take its whole timeout when something else holds the port; the exit of
      // our process settles it sooner.
      const probe = child.pid ? this.#spec.answers(this.#port, child.pid) : false
      if (await Promise.race([probe, this.#exited.then(() => false)])) return
      if (!this.#running) throw await this.#startFailure(failure)
      if (Date.now() > until) {
        await this.kill()
        throw await this.#startFailure(
          new Error(`${name} did not answer on port ${this.#port} within ${startTimeoutMs} ms`),
        )
      }
      await sleep(PROBE_INTERVAL_MS)
    }
  }

  async #startFailure(cause: Error | undefined): Promise<Error> {
    const log = [await this.#spec.logTail(), tail(this.#output)].filter(Boolean).join('\n')
    const what = cause?.message ?? `${this.#spec.name} exited`
    return new Error(`${what} while starting on port ${this.#port}:\n${log}`, { cause })
  }

  async #waitForPortFree(): Promise<void> {
    const until = Date.now() + 10_000
    while (!(await portIsFree(this.#port))) {
      if (Date.now() > until) throw new Error(`port ${this.#port} is still in use`)
      await sleep(PROBE_INTERVAL_MS)
    }
  }
}

/** Spins (briefly) until every thread of the process is in the stopped state, per /proc. */
function waitUntilStopped(pid: number | undefined): void {
  if (pid === undefined || !existsSync(`/proc/${pid}/task`)) return
  const until = Date.now() + 2_000
  while (Date.now() < until) {
    let running = false
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        // Field 3 of stat, after the parenthesised command name: T = stopped, t = traced.
        const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')
        const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3)
        if (state !== 'T' && state !== 't') running = true
      } catch {
        // The thread ended meanwhile.
      }
    }
    if (!running) return
  }
}

/** A Redis Cluster of a test's own: three primaries, each with one replica, on loopback. */
export interface RedisClusterServer {
  /** Every node, primaries first as created (a failover changes who is primary). */
  readonly nodes: readonly RedisServer[]
  /** The seeds' URLs, as REDIS_CLUSTER_NODES takes them. */
  readonly seeds: readonly string[]
  /** The node serving a slot now, per the cluster's own view. */
  primaryOf(slot: number): Promise<RedisServer>
  /** Resolves once every slot is served and every primary has a connected replica. */
  healthy(timeoutMs?: number): Promise<void>
  stop(): Promise<void>
}

/** A port whose cluster bus port (port + 10000) is free and valid too. */
async function clusterPort(taken: ReadonlySet<number>): Promise<number> {
  for (;;) {
    const port = await freePort()
    if (port + 10_000 > 65_535 || taken.has(port)) continue
    if (await portIsFree(port + 10_000)) return port
  }
}

async function redisCli(args: readonly string[]): Promise<string> {
  const child = spawn('redis-cli', args, { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()))
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
  if (code !== 0) throw new Error(`redis-cli ${args.join(' ')} failed:\n${out}`)
  return out
}

export async function startRedisCluster(): Promise<RedisClusterServer> {
  const dir = await mkdtemp(join(tmpdir(), 'sugang-redis-cluster-'))
  const nodes: RedisServer[] = []
  const stopAll = async () => {
    await Promise.all(nodes.map((n) => n.stop()))
    await rm(dir, { recursive: true, force: true })
  }
  try {
    const taken = new Set<number>()
    for (let i = 0; i < 6; i += 1) {
      const port = await clusterPort(taken)
      taken.add(port)
      const nodeDir = join(dir, String(i))
      await mkdir(nodeDir)
      const server = new ChildServer({
        name: 'redis-server',
        command: 'redis-server',
        // Nothing persisted but the cluster's own view (nodes.conf), so a restarted node rejoins
        // empty. A short node timeout makes a failover take a couple of seconds.
        args: (p) => [
          ...redisArgs(p, nodeDir),
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          'nodes.conf',
          '--cluster-node-timeout',
          '1000',
          // One shard down leaves the others' slots served (ElastiCache's default too).
          '--cluster-require-full-coverage',
          'no',
        ],
        url: (p) => `redis://127.0.0.1:${p}`,
        answers: (p, pid) => redisAnswers(p, pid),
        logTail: async () => '',
        startTimeoutMs: 15_000,
        stopTimeoutMs: 10_000,
        cleanup: undefined,
      })
      await server.start(port)
      nodes.push(server)
    }
    await redisCli([
      '--cluster',
      'create',
      ...nodes.map((n) => `127.0.0.1:${n.port}`),
      '--cluster-replicas',
      '1',
      '--cluster-yes',
    ])
  } catch (err) {
    await stopAll()
    throw err
  }
  const byPort = new Map(nodes.map((n) => [n.port, n]))
  const clusterNodes = async (): Promise<string[][]> => {
    for (const node of nodes) {
      try {
        const out = await redisCli(['-p', String(node.port), 'cluster', 'nodes'])
        return out
          .trim()
          .split('\n')
          .map((line) => line.split(' '))
      } catch {
        // that node is down: ask another
      }
    }
    throw new Error('no node of the cluster answers')
  }
  const cluster: RedisClusterServer = {
    nodes,
    seeds: nodes.slice(0, 3).map((n) => n.url),
    async primaryOf(slot) {
      for (const fields of await clusterNodes()) {
        const [, address = '', flags = '', , , , , link = '', ...ranges] = fields
        if (!flags.includes('master') || flags.includes('fail') || link !== 'connected') continue
        for (const range of ranges) {
          const [from, to = from] = range.split('-').map(Number)
          if (from !== undefined && to !== undefined && slot >= from && slot <= to) {
            const port = Number(address.split('@')[0]?.split(':')[1])
            const node = byPort.get(port)
            if (node) return node
          }
        }
      }
      throw new Error(`no primary serves slot ${slot}`)
    },
    async healthy(timeoutMs = 30_000) {
      const until = Date.now() + timeoutMs
      for (;;) {
        try {
          const lines = await clusterNodes()
          const primaries = lines.filter(
            ([, , flags = '', , , , , link, ...ranges]) =>
              flags.includes('master') &&
              !flags.includes('fail') &&
              link === 'connected' &&
              ranges.length > 0,
          )
          const replicas = lines.filter(
            ([, , flags = '', , , , , link]) =>
              flags.includes('slave') && !flags.includes('fail') && link === 'connected',
          )
          let covered = 0
          for (const [, , , , , , , , ...ranges] of primaries) {
            for (const range of ranges) {
              const [from, to = from] = range.split('-').map(Number)
              if (from !== undefined && to !== undefined) covered += to - from + 1
            }
          }
          if (primaries.length === 3 && replicas.length === 3 && covered === 16_384) {
            return
          }
        } catch {
          // a node is still starting
        }
        if (Date.now() > until) throw new Error('the Redis Cluster did not become healthy')
        await sleep(100)
      }
    },
    stop: stopAll,
  }
  await cluster.healthy()
  return cluster
}
