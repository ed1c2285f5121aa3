// The fault suite's world: a MariaDB and a Redis of its own, and per scenario two service
// instances (real `sugang serve` processes) that reach them through fault proxies of their own,
// so that a fault can hit one instance's link, one instance, or a dependency as a whole.
import { spawn, type ChildProcess } from 'node:child_process'
import { createWriteStream } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import mysql from 'mysql2/promise'
import { MysqlStore } from '../../src/adapters/mysql/store.js'
import { seed } from '../../src/seed.js'
import { PASSWORD } from '../helper.js'
import { FaultProxy } from '../support/fault-proxy.js'
import {
  freePort,
  startMariaDb,
  startRedis,
  startRedisCluster,
  type MariaDbServer,
  type RedisClusterServer,
  type RedisServer,
} from '../support/servers.js'

const CLI = fileURLToPath(new URL('../../bin/sugang.js', import.meta.url))
const SERVICE_DIR = fileURLToPath(new URL('../..', import.meta.url))

export interface CourseSpec {
  readonly capacity: number
}

export interface ScenarioSetup {
  readonly name: string
  readonly students: number
  readonly courses: readonly CourseSpec[]
  /** Largest admission batch of each instance (the crash tests vary it). */
  readonly batches: readonly [number, number]
}

/** One `sugang serve` process and the proxies it reaches MySQL and Redis through. */
export class Instance {
  readonly name: string
  readonly mysqlLink: FaultProxy
  readonly redisLink: FaultProxy
  readonly #env: Record<string, string>
  readonly #logPath: string
  #child: ChildProcess | null = null
  #exited: Promise<void> = Promise.resolve()
  #port = 0
  /** Whether the load balancer sends it traffic (a paused instance fails its health checks). */
  inRotation = false
  /** When it was paused, for telling requests held by a frozen process from a hanging service. */
  readonly frozen: Array<{ from: number; to: number }> = []

  constructor(
    name: string,
    env: Record<string, string>,
    links: { mysql: FaultProxy; redis: FaultProxy },
    logPath: string,
  ) {
    this.name = name
    this.#env = env
    this.mysqlLink = links.mysql
    this.redisLink = links.redis
    this.#logPath = logPath
  }

  get base(): string {
    return `http://127.0.0.1:${this.#port}`
  }

  get alive(): boolean {
    return this.#child !== null && this.#child.exitCode === null && this.#child.signalCode === null
  }

  async start(): Promise<void> {
    this.#port = await freePort()
    const log = createWriteStream(this.#logPath, { flags: 'a' })
    const child = spawn(process.execPath, [CLI, 'serve'], {
      cwd: SERVICE_DIR,
      env: { ...process.env, ...this.#env, PORT: String(this.#port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    child.stdout?.pipe(log)
    child.stderr?.pipe(log)
    this.#child = child
    this.#exited = new Promise((resolve) => child.once('exit', () => resolve()))
    const deadline = Date.now() + 120_000
    for (;;) {
      if (!this.alive)
        throw new Error(`${this.name} exited during start-up:\n${await this.logTail()}`)
      const ready = await fetch(`${this.base}/health/ready`, { signal: AbortSignal.timeout(5_000) })
        .then((r) => r.ok)
        .catch(() => false)
      if (ready) break
      if (Date.now() > deadline) throw new Error(`${this.name} never became ready`)
      await sleep(50)
    }
    this.inRotation = true
  }

  /** kill -9 (or another signal); resolves when the process is gone. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    this.inRotation = false
    if (this.#child && this.alive) {
      if (signal === 'SIGKILL') this.#child.kill('SIGCONT')
      this.#child.kill(signal)
    }
    await this.#exited
  }

  pause(): void {
    this.inRotation = false
    this.frozen.push({ from: performance.now(), to: Infinity })
    this.#child?.kill('SIGSTOP')
  }

  resume(): void {
    this.#child?.kill('SIGCONT')
    const last = this.frozen[this.frozen.length - 1]
    if (last) last.to = performance.now()
    this.inRotation = true
  }

  async logTail(lines = 30): Promise<string> {
    const text = await readFile(this.#logPath, 'utf8').catch(() => '')
    return text.split('\n').slice(-lines).join('\n')
  }

  async stop(): Promise<void> {
    await this.kill('SIGTERM')
    await Promise.all([this.mysqlLink.close(), this.redisLink.close()]).catch(() => undefined)
  }
}

/** A scenario's database, key prefix and instances. */
export class ScenarioWorld {
  readonly name: string
  readonly database: string
  readonly prefix: string
  readonly instances: readonly [Instance, Instance]
  readonly cluster: Cluster

  constructor(
    cluster: Cluster,
    name: string,
    database: string,
    prefix: string,
    instances: [Instance, Instance],
  ) {
    this.cluster = cluster
    this.name = name
    this.database = database
    this.prefix = prefix
    this.instances = instances
  }

  /** A direct connection to the scenario's database (not through any proxy). */
  async connect(): Promise<mysql.Connection> {
    return mysql.createConnection({ uri: `${this.cluster.db.url}/${this.database}` })
  }

  async stop(): Promise<void> {
    await Promise.all(this.instances.map((i) => i.stop()))
  }
}

export class Cluster {
  readonly db: MariaDbServer
  readonly redis: RedisServer
  /** With `redisCluster`: the instances' rush state lives on this Redis Cluster, not on `redis`. */
  readonly redisCluster: RedisClusterServer | null
  readonly dir: string
  #scenarios = 0

  private constructor(
    db: MariaDbServer,
    redis: RedisServer,
    redisCluster: RedisClusterServer | null,
    dir: string,
  ) {
    this.db = db
    this.redis = redis
    this.redisCluster = redisCluster
    this.dir = dir
  }

  /**
   * `redisCluster`: the instances use a Redis Cluster of three shards (REDIS_CLUSTER_NODES),
   * reached directly (a cluster client follows the nodes' own addresses, so no proxy sits in
   * between: the network faults run on the single node).
   */
  static async start(options: { redisCluster?: boolean } = {}): Promise<Cluster> {
    const dir = await mkdtemp(join(tmpdir(), 'sugang-faults-'))
    const [db, redis, redisCluster] = await Promise.all([
      startMariaDb(),
      startRedis(),
      options.redisCluster ? startRedisCluster() : null,
    ])
    return new Cluster(db, redis, redisCluster, dir)
  }

  /** Where the instances' rush state lives: the single node's URL or the cluster's seeds. */
  get redisTarget(): string | readonly string[] {
    return this.redisCluster?.seeds ?? this.redis.url
  }

  /** A fresh database, seeded, and two instances running against it. */
  async scenario(setup: ScenarioSetup): Promise<ScenarioWorld> {
    this.#scenarios += 1
    const database = `faults_${this.#scenarios}`
    const prefix = `f${this.#scenarios}:`
    const root = await mysql.createConnection({ uri: this.db.url })
    await root.query(`CREATE DATABASE \`${database}\``)
    await root.end()
    const store = new MysqlStore({ url: `${this.db.url}/${database}`, poolSize: 2 })
    try {
      await store.migrate()
      await seed(store, {
        students: setup.students,
        courses: setup.courses.length,
        capacity: 1,
        password: PASSWORD,
        reset: false,
      })
      for (const [i, course] of setup.courses.entries()) {
        await store.primary.query('UPDATE courses SET capacity = ? WHERE id = ?', [
          course.capacity,
          `C${String(i + 1).padStart(4, '0')}`,
        ])
      }
    } finally {
      await store.close()
    }
    const instances = await Promise.all(
      setup.batches.map(async (batch, i) => {
        const name = ['A', 'B'][i] as string
        const [mysqlLink, redisLink] = await Promise.all([
          FaultProxy.start({ targetPort: this.db.port }),
          FaultProxy.start({ targetPort: this.redis.port }),
        ])
        const env = {
          NODE_ENV: 'test',
          DATABASE_URL: mysqlLink.url('mysql', database),
          ...(this.redisCluster
            ? { REDIS_CLUSTER_NODES: this.redisCluster.seeds.join(',') }
            : { REDIS_URL: redisLink.url('redis') }),
          REDIS_PREFIX: prefix,
          SESSION_SECRET: 'fault-suite-secret-fault-suite-secret-0',
          METRICS_PORT: '0',
          LOG_LEVEL: 'warn',
          PASSWORD_SCRYPT_N: '16',
          RATE_LIMIT_MAX: '100000',
          LOGIN_ADDRESS_FAILURES: '1000000',
          ADMISSION_MAX_BATCH: String(batch),
          // A dead instance's courses are taken over within a second.
          ADMISSION_LEASE_MS: '1000',
          RECONCILE_INTERVAL_MS: '500',
        }
        return new Instance(
          name,
          env,
          { mysql: mysqlLink, redis: redisLink },
          join(this.dir, `${database}-${name}.log`),
        )
      }),
    )
    const world = new ScenarioWorld(this, setup.name, database, prefix, [
      instances[0] as Instance,
      instances[1] as Instance,
    ])
    await Promise.all(world.instances.map((i) => i.start()))
    return world
  }

  async stop(): Promise<void> {
    await Promise.all([this.db.stop(), this.redis.stop(), this.redisCluster?.stop()])
    await rm(this.dir, { recursive: true, force: true })
  }
}
