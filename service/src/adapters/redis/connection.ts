import { Cluster, Redis, type ClusterNode, type RedisOptions } from 'ioredis'
import { DependencyUnavailableError } from '../../errors.js'
import { scriptNames } from './lua-scripts.js'

export interface RedisConnectionOptions {
  /** One Redis node. */
  readonly url?: string
  /**
   * A Redis Cluster instead: seed nodes as URLs (`rediss://:token@host:port`: TLS from the
   * scheme, AUTH from the password, both taken from the first). ElastiCache's configuration
   * endpoint is one seed.
   */
  readonly clusterNodes?: readonly string[]
  /** Deadline of every command (ms). */
  readonly commandTimeoutMs?: number
  /** Commands that may wait for an answer at once; above it calls fail at once (503). */
  readonly maxInFlight?: number
  readonly onError?: (err: Error) => void
}

/** How often the event loop is probed for stalls (ms). */
const LOOP_PROBE_MS = 100

/** A command's answer did not arrive within its deadline. */
class CommandTimedOut extends Error {
  constructor(ms: number) {
    super(`Redis command timed out after ${ms} ms`)
    this.name = 'CommandTimedOut'
  }
}

/** The connection was asked to do more at once than it may: shed, do not queue in memory. */
class TooManyInFlight extends Error {
  constructor() {
    super('too many Redis commands waiting for an answer')
    this.name = 'TooManyInFlight'
  }
}

/**
 * One ioredis client with the service's failure policy: every command has a deadline, nothing
 * is queued while Redis is away or re-sent behind a caller's back, a stalled connection is
 * dropped, and every failure becomes a DependencyUnavailableError (503) except a script error,
 * which is a bug.
 */
export class RedisConnection {
  readonly client: Redis | Cluster
  /** Whether the client is a Redis Cluster's: a script's keys must then share one slot. */
  readonly cluster: boolean
  readonly #onError: ((err: Error) => void) | undefined
  readonly #timeoutMs: number
  readonly #maxInFlight: number
  #inFlight = 0
  #lastAnswerAt = Date.now()
  #lastReconnectAt = 0
  /** When this process's own event loop was last seen stalled (see #onTimeout). */
  #lastLoopStallAt = 0
  #previousTick = Date.now()
  readonly #loopProbe: NodeJS.Timeout

  constructor(options: RedisConnectionOptions) {
    this.#onError = options.onError
    this.#timeoutMs = options.commandTimeoutMs ?? 1_000
    this.#maxInFlight = options.maxInFlight ?? 10_000
    const policy: RedisOptions = {
      // Fail fast while Redis is away (the route answers 503 with Retry-After) instead of
      // queueing requests in memory until the process falls over; a command that was sent but
      // not answered when the connection dropped fails too, and is never sent again behind the
      // back of a caller that has already answered its client.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      // The deadline callers see is run()'s; this one only frees commands that never get an
      // answer, long after run() has given up on them.
      commandTimeout: Math.max(this.#timeoutMs * 10, 10_000),
      connectTimeout: Math.max(this.#timeoutMs, 1_000),
      retryStrategy: (times) => Math.min(times * 200, 2_000),
      lazyConnect: false,
    }
    if (options.clusterNodes && options.clusterNodes.length > 0) {
      this.client = new Cluster(options.clusterNodes.map(seedOf), {
        // Concurrent requests share round trips, grouped per node. Not the scripts: ioredis
        // groups a command by its first argument, which for a script is its number of keys, and
        // a batch whose keys turn out to live on several nodes fails as a whole.
        enableAutoPipelining: true,
        autoPipeliningIgnoredCommands: scriptNames(),
        enableOfflineQueue: false,
        redisOptions: { ...policy, ...credentialsOf(options.clusterNodes[0] as string) },
        // ElastiCache's TLS certificates name the nodes' host names, not their addresses.
        dnsLookup: (address, callback) => callback(null, address),
        clusterRetryStrategy: (times) => Math.min(times * 200, 2_000),
        // A shard's failover: its commands fail (503 with Retry-After) until the replica is
        // promoted and the slot map is read again; other shards' courses go on.
        retryDelayOnFailover: 100,
        retryDelayOnClusterDown: 100,
        retryDelayOnTryAgain: 100,
        maxRedirections: 4,
        slotsRefreshTimeout: Math.max(this.#timeoutMs, 1_000),
        slotsRefreshInterval: 5_000,
        scaleReads: 'master',
      })
    } else if (options.url) {
      // Concurrent requests share round trips: the rush is thousands of tiny scripts at once.
      this.client = new Redis(options.url, { ...policy, enableAutoPipelining: true })
    } else {
      throw new Error('RedisConnection needs a url or cluster nodes')
    }
    this.cluster = this.client instanceof Cluster
    this.client.on('error', (err: Error) => this.#onError?.(err))
    // A timer that fires late means the event loop was blocked. Its due time is earlier than any
    // command deadline that expired during the same stall, so it runs first when the loop frees.
    this.#loopProbe = setInterval(() => {
      const now = Date.now()
      if (now - this.#previousTick > LOOP_PROBE_MS + this.#timeoutMs / 2)
        this.#lastLoopStallAt = now
      this.#previousTick = now
    }, LOOP_PROBE_MS)
    this.#loopProbe.unref()
  }

  /**
   * Resolves once Redis can be used. On a cluster, once every primary's own connection is ready
   * too: ioredis opens them after reading the slot map, and a command for a node still connecting
   * would fail (no offline queue), so an instance that took traffic at once would answer its
   * first requests 503.
   */
  async connect(timeoutMs = 10_000): Promise<void> {
    const until = Date.now() + timeoutMs
    const timedOut = () =>
      new DependencyUnavailableError('redis', new Error('timed out connecting'))
    if (this.client.status !== 'ready') {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          this.client.off('ready', onReady)
          reject(timedOut())
        }, timeoutMs)
        const onReady = (): void => {
          clearTimeout(timer)
          resolve()
        }
        this.client.once('ready', onReady)
      })
    }
    const { client } = this
    if (!(client instanceof Cluster)) return
    for (;;) {
      const primaries = client.nodes('master')
      if (primaries.length > 0 && primaries.every((node) => node.status === 'ready')) return
      if (Date.now() > until) throw timedOut()
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }

  /**
   * Whether Redis answers. On a cluster, whether any primary does: a shard that fails over costs
   * only its own courses (their commands fail with 503), and the instance stays ready for the
   * others.
   */
  async ping(): Promise<void> {
    const { client } = this
    if (!(client instanceof Cluster)) {
      await this.run(() => client.ping())
      return
    }
    const primaries = client.nodes('master')
    if (primaries.length === 0) await this.run(() => client.ping())
    else await this.run(() => Promise.any(primaries.map((node) => node.ping())))
  }

  async close(): Promise<void> {
    clearInterval(this.#loopProbe)
    await this.client.quit().catch(() => this.client.disconnect())
  }

  /** Runs commands under the in-flight bound, turning outages into DependencyUnavailableError. */
  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.#inFlight >= this.#maxInFlight) {
      throw new DependencyUnavailableError('redis', new TooManyInFlight())
    }
    this.#inFlight += 1
    let timer: NodeJS.Timeout | undefined
    try {
      const result = await Promise.race([
        work(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            // Timers run before the loop reads its sockets: after a stall of this process the
            // answer may be waiting unread. It is read before setImmediate's turn and then wins
            // the race: an answer that has arrived is not reported as a timeout (which would
            // tell a student to retry something that has already been done).
            setImmediate(() => reject(new CommandTimedOut(this.#timeoutMs)))
          }, this.#timeoutMs)
        }),
      ])
      this.#lastAnswerAt = Date.now()
      return result
    } catch (err) {
      // A ReplyError is Redis telling us a script or command is wrong: that is a bug, not an outage.
      if ((err as Error | null)?.name === 'ReplyError') throw err
      if (/timed out/i.test((err as Error | null)?.message ?? '')) this.#onTimeout()
      throw new DependencyUnavailableError('redis', err)
    } finally {
      clearTimeout(timer)
      this.#inFlight -= 1
    }
  }

  /**
   * A command timed out. If nothing at all has answered for a whole deadline, the connection is
   * stalled (a frozen server keeps its socket open): drop it, which fails every command still
   * waiting on it at once, and reconnect. Until Redis answers again, calls fail fast.
   *
   * Not when this process itself just stalled (a long GC pause, a CPU-starved host): then the
   * answers may be waiting unread in the socket, and dropping a healthy connection would turn
   * one slow moment into a burst of failures.
   */
  #onTimeout(): void {
    const now = Date.now()
    if (now - this.#lastAnswerAt < this.#timeoutMs) return
    if (now - this.#lastLoopStallAt < this.#timeoutMs) return
    if (now - this.#lastReconnectAt < this.#timeoutMs) return
    this.#lastReconnectAt = now
    this.#onError?.(new Error('redis stopped answering: reconnecting'))
    this.client.disconnect(true)
  }
}

/**
 * A plain client for tools and tests: one node from its URL, or a Redis Cluster from its seed
 * nodes' URLs (an array), with their TLS and AUTH.
 */
export function openRedis(
  target: string | readonly string[],
  options: RedisOptions = {},
): Redis | Cluster {
  if (typeof target === 'string') return new Redis(target, options)
  return new Cluster(target.map(seedOf), {
    redisOptions: { ...options, ...credentialsOf(target[0] as string) },
    dnsLookup: (address, callback) => callback(null, address),
  })
}

/** The primaries to look at one by one (SCAN covers one node): the client itself on one node. */
export async function primariesOf(client: Redis | Cluster): Promise<Redis[]> {
  if (!(client instanceof Cluster)) return [client]
  if (client.status !== 'ready') await new Promise((resolve) => client.once('ready', resolve))
  return client.nodes('master')
}

/** A cluster seed node from its URL. */
function seedOf(url: string): ClusterNode {
  const u = new URL(url)
  return { host: u.hostname, port: Number(u.port || 6379) }
}

/** TLS and AUTH of a cluster, from a seed's URL. */
function credentialsOf(url: string): Pick<RedisOptions, 'username' | 'password' | 'tls'> {
  const u = new URL(url)
  return {
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
  }
}
