// The Redis a sugang target keeps its queue on, and what it costs there: the single node
// (REDIS_URL) or the local Redis Cluster (`--redis cluster`), read primary by primary. Each
// primary's CPU comes from its own `INFO cpu` (used_cpu_sys + used_cpu_user) before and after the
// measured window, its commands from `INFO commandstats`, and the courses it holds from each
// course queue key's slot (CLUSTER KEYSLOT) in the slot ranges the cluster reports
// (CLUSTER SLOTS).
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { Redis } from 'ioredis'
import { redisCommandStats, redisPid, round } from './probes.js'
import { repoRoot } from './processes.js'

/** Where sugang keeps its queue in a run: the one node, or the cluster. */
export type RedisMode = 'single' | 'cluster'
export const REDIS_MODES: readonly RedisMode[] = ['single', 'cluster']

/** The local cluster of scripts/redis-cluster-up.sh: its primaries' first addresses. */
export const LOCAL_CLUSTER_NODES = [
  'redis://127.0.0.1:7001',
  'redis://127.0.0.1:7002',
  'redis://127.0.0.1:7003',
] as const

/** The cluster's seed nodes (BENCH_REDIS_CLUSTER_NODES, comma-separated, or the local cluster). */
export const REDIS_CLUSTER_NODES: readonly string[] = process.env.BENCH_REDIS_CLUSTER_NODES
  ? process.env.BENCH_REDIS_CLUSTER_NODES.split(',')
      .map((s) => s.trim())
      .filter(Boolean)
  : LOCAL_CLUSTER_NODES

/** Starts the local cluster if it is down (the script leaves a healthy one alone). */
export function ensureLocalCluster(): void {
  if (process.env.BENCH_REDIS_CLUSTER_NODES) return
  execFileSync('bash', [join(repoRoot, 'scripts/redis-cluster-up.sh')], {
    stdio: ['ignore', 'ignore', 'inherit'],
  })
}

/** A Redis server's CPU seconds so far, from its `INFO cpu`: used_cpu_sys + used_cpu_user. */
export function cpuSecondsOf(info: string): number {
  const field = (name: string): number => {
    const m = new RegExp(`^${name}:([0-9.]+)\\s*$`, 'm').exec(info)
    if (!m) throw new Error(`INFO cpu has no ${name}`)
    return Number(m[1])
  }
  return field('used_cpu_sys') + field('used_cpu_user')
}

/** A range of hash slots and the nodes that serve it (host:port), its primary first. */
export interface SlotRange {
  readonly start: number
  readonly end: number
  readonly primary: string
  readonly replicas: readonly string[]
}

/** CLUSTER SLOTS' reply as ranges, by their first slot. */
export function slotRangesOf(reply: unknown): SlotRange[] {
  if (!Array.isArray(reply)) throw new Error('CLUSTER SLOTS: not an array')
  const address = (node: unknown): string => {
    if (!Array.isArray(node) || node.length < 2) throw new Error('CLUSTER SLOTS: a node entry')
    return `${String(node[0])}:${Number(node[1])}`
  }
  return reply
    .map((entry: unknown): SlotRange => {
      if (!Array.isArray(entry) || entry.length < 3) throw new Error('CLUSTER SLOTS: a range')
      const [start, end, primary, ...replicas] = entry as unknown[]
      return {
        start: Number(start),
        end: Number(end),
        primary: address(primary),
        replicas: replicas.map(address),
      }
    })
    .sort((a, b) => a.start - b.start)
}

/** The primaries of the ranges, in the order of their first slot. */
export function primariesOfRanges(ranges: readonly SlotRange[]): string[] {
  return [...new Set(ranges.map((r) => r.primary))]
}

/** The primary that serves a slot (ranges are inclusive at both ends). */
export function primaryOfSlot(ranges: readonly SlotRange[], slot: number): string {
  const range = ranges.find((r) => r.start <= slot && slot <= r.end)
  if (!range) throw new Error(`slot ${slot} is served by no node`)
  return range.primary
}

/**
 * How many of `ids` each primary holds, given each id's slot: every primary is listed, with 0 if
 * it holds none. An id listed twice counts twice (requests by their course).
 */
export function spreadOver(
  ids: Iterable<string>,
  slotOf: ReadonlyMap<string, number>,
  ranges: readonly SlotRange[],
): Map<string, number> {
  const counts = new Map(primariesOfRanges(ranges).map((p) => [p, 0]))
  for (const id of ids) {
    const slot = slotOf.get(id)
    if (slot === undefined) throw new Error(`no slot known for ${id}`)
    const primary = primaryOfSlot(ranges, slot)
    counts.set(primary, (counts.get(primary) ?? 0) + 1)
  }
  return counts
}

/** One primary's CPU over the measured window. */
export interface ShardCpu {
  readonly shard: string
  /** CPU seconds in the window; null when the node restarted in it or did not answer. */
  readonly cpuSeconds: number | null
  /** CPU seconds per second of the window (1.0 = one core busy throughout). */
  readonly cores: number | null
}

/** Each primary's CPU between two readings `windowSeconds` apart, in the order of `before`. */
export function shardCpu(
  before: ReadonlyMap<string, number>,
  after: ReadonlyMap<string, number>,
  windowSeconds: number,
): ShardCpu[] {
  if (!(windowSeconds > 0)) throw new Error('the window must last some time')
  return [...before].map(([shard, then]) => {
    const now = after.get(shard)
    // A counter that went back is a node that restarted: its window is not known.
    if (now === undefined || now < then) return { shard, cpuSeconds: null, cores: null }
    const cpu = now - then
    return { shard, cpuSeconds: round(cpu, 2), cores: round(cpu / windowSeconds, 3) }
  })
}

/** What one primary took in the measured window, and what it holds. */
export interface ShardCost extends ShardCpu {
  /** Courses whose keys live in its slots. */
  readonly courses: number
  /** Enrollment requests of the window sent to those courses. */
  readonly requests: number
  /** Commands it ran (scripts' inner commands included, script calls apart; INFO not counted). */
  readonly commands: number
  readonly scriptCalls: number
}

/** A target's Redis, primary by primary, over its measured window. */
export interface RedisShards {
  readonly mode: RedisMode
  /** Seconds between the two INFO readings. */
  readonly windowSeconds: number
  readonly shards: readonly ShardCost[]
  /** The course with the most requests, and how many: the load no number of shards divides. */
  readonly hottestCourse: { readonly id: string; readonly requests: number }
}

/** The Redis CPU of all primaries per enrollment request, in µs (null if a shard is unknown). */
export function cpuPerRequestUs(shards: RedisShards, requests: number): number | null {
  let cpu = 0
  for (const s of shards.shards) {
    if (s.cpuSeconds === null) return null
    cpu += s.cpuSeconds
  }
  return requests > 0 ? round((cpu * 1e6) / requests, 1) : null
}

/** The busiest primary's CPU over the mean of all of them (1.0: perfectly even). */
export function imbalance(shards: RedisShards): number | null {
  const cores = shards.shards.map((s) => s.cores)
  if (cores.length === 0 || cores.some((c) => c === null)) return null
  const known = cores as number[]
  const mean = known.reduce((a, b) => a + b, 0) / known.length
  return mean > 0 ? round(Math.max(...known) / mean, 2) : null
}

/** The host and port of a node's address (host:port) or URL. */
function nodeOf(address: string): { host: string; port: number } {
  const u = new URL(address.includes('://') ? address : `redis://${address}`)
  return { host: u.hostname, port: Number(u.port || 6379) }
}

const addressOf = (url: string): string => {
  const { host, port } = nodeOf(url)
  return `${host}:${port}`
}

/**
 * One connection to every primary (and, to watch their processes, every replica) of the Redis a
 * target runs on: the node itself when single.
 */
export class RedisProbe {
  readonly mode: RedisMode
  readonly ranges: readonly SlotRange[]
  readonly #primaries: ReadonlyMap<string, Redis>
  readonly #replicas: readonly string[]

  private constructor(
    mode: RedisMode,
    ranges: readonly SlotRange[],
    primaries: ReadonlyMap<string, Redis>,
    replicas: readonly string[],
  ) {
    this.mode = mode
    this.ranges = ranges
    this.#primaries = primaries
    this.#replicas = replicas
  }

  /** The single node at `url`, or the cluster that `seeds` belong to. */
  static async open(mode: RedisMode, url: string, seeds: readonly string[]): Promise<RedisProbe> {
    if (mode === 'single') {
      const redis = new Redis(url)
      return new RedisProbe(
        mode,
        [{ start: 0, end: 16_383, primary: addressOf(url), replicas: [] }],
        new Map([[addressOf(url), redis]]),
        [],
      )
    }
    const seed = new Redis({ ...nodeOf(seeds[0]!), lazyConnect: true })
    let ranges: SlotRange[]
    try {
      await seed.connect()
      ranges = slotRangesOf(await seed.call('CLUSTER', 'SLOTS'))
    } finally {
      seed.disconnect()
    }
    const primaries = new Map(primariesOfRanges(ranges).map((p) => [p, new Redis(nodeOf(p))]))
    const replicas = [...new Set(ranges.flatMap((r) => r.replicas))]
    return new RedisProbe(mode, ranges, primaries, replicas)
  }

  /** The primaries' addresses, in the order of their first slot. */
  get primaries(): string[] {
    return [...this.#primaries.keys()]
  }

  /** Every Redis process to watch: 'redis' for the single node, each node by port on a cluster. */
  async processes(): Promise<{ name: string; pid: number }[]> {
    if (this.mode === 'single') {
      return [{ name: 'redis', pid: await redisPid(this.#primaries.values().next().value!) }]
    }
    const out = []
    for (const [address, redis] of this.#primaries) {
      out.push({ name: `redis ${address} (primary)`, pid: await redisPid(redis) })
    }
    for (const address of this.#replicas) {
      const redis = new Redis({ ...nodeOf(address), lazyConnect: true })
      try {
        await redis.connect()
        out.push({ name: `redis ${address} (replica)`, pid: await redisPid(redis) })
      } finally {
        redis.disconnect()
      }
    }
    return out
  }

  /** Every primary's command counts, summed by name (as one node's INFO commandstats). */
  async commandStats(): Promise<Map<string, number>> {
    const total = new Map<string, number>()
    for (const stats of (await this.commandStatsByShard()).values()) {
      for (const [name, calls] of stats) total.set(name, (total.get(name) ?? 0) + calls)
    }
    return total
  }

  /** Each primary's command counts. */
  async commandStatsByShard(): Promise<Map<string, Map<string, number>>> {
    const out = new Map<string, Map<string, number>>()
    await Promise.all(
      [...this.#primaries].map(async ([address, redis]) => {
        out.set(address, await redisCommandStats(redis))
      }),
    )
    return new Map(this.primaries.map((p) => [p, out.get(p)!]))
  }

  /** Each primary's CPU seconds so far, and when they were read (run clock, ms). */
  async cpu(): Promise<{ at: number; seconds: Map<string, number> }> {
    const seconds = new Map<string, number>()
    const readings = await Promise.all(
      this.primaries.map(async (p) => cpuSecondsOf(await this.#primaries.get(p)!.info('cpu'))),
    )
    const at = performance.now()
    this.primaries.forEach((p, i) => seconds.set(p, readings[i]!))
    return { at, seconds }
  }

  /** The slot of each key, as the cluster computes it (every key in slot 0 on a single node). */
  async slots(keys: ReadonlyMap<string, string>): Promise<Map<string, number>> {
    const out = new Map<string, number>()
    if (this.mode === 'single') {
      for (const id of keys.keys()) out.set(id, 0)
      return out
    }
    const redis = this.#primaries.values().next().value!
    const pipeline = redis.pipeline()
    for (const key of keys.values()) pipeline.call('CLUSTER', 'KEYSLOT', key)
    const replies = (await pipeline.exec()) ?? []
    ;[...keys.keys()].forEach((id, i) => {
      const [err, slot] = replies[i] ?? [new Error('no reply'), null]
      if (err) throw err
      out.set(id, Number(slot))
    })
    return out
  }

  close(): void {
    for (const redis of this.#primaries.values()) redis.disconnect()
  }
}

/** What the Redis section of a report reads from a target's result. */
export interface ShardedResult {
  readonly target: string
  readonly instances: number
  /** Enrollment requests of the measured window. */
  readonly requests: number
  readonly answeredPerSecond: number
  readonly enrollmentsPerSecond: number | null
  readonly routes: Readonly<Record<string, { readonly p50: number; readonly p99: number }>>
  readonly redis: { readonly commands: number; readonly scriptCalls: number }
  readonly redisShards?: RedisShards
}

/** The cluster's figure over the single node's, of one run (null when either is unknown). */
const over = (cluster: number | null, single: number | null): number | null =>
  cluster !== null && single !== null && single > 0 ? cluster / single : null

const enqueueOf = (r: ShardedResult): { p50: number; p99: number } | undefined =>
  Object.entries(r.routes).find(([route]) => route.startsWith('POST'))?.[1]

/** The busiest primary's cores over the window (null if a primary's CPU is unknown). */
function busiestCores(shards: RedisShards): number | null {
  const cores = shards.shards.map((s) => s.cores)
  return cores.some((c) => c === null) ? null : Math.max(...(cores as number[]))
}

/** The cluster side of a run against its single-node side: each figure and their ratio. */
export interface RedisComparison {
  readonly single: string
  readonly cluster: string
  readonly answersPerSecond: number | null
  readonly enrollmentsPerSecond: number | null
  readonly enqueueP50: number | null
  readonly enqueueP99: number | null
  /** All primaries' CPU per enrollment request, µs: the one node's, the cluster's, the ratio. */
  readonly cpuPerRequestUs: readonly [number | null, number | null, number | null]
  /** Commands (scripts' inner ones included) and script calls per enrollment request. */
  readonly commandsPerRequest: readonly [number, number, number | null]
  readonly scriptCallsPerRequest: readonly [number, number, number | null]
  /** The busiest primary's cores: the one node's, the cluster's, the ratio. */
  readonly busiestCores: readonly [number | null, number | null, number | null]
  /** The cluster's busiest primary over the mean of its primaries. */
  readonly imbalance: number | null
}

export function compareRedis(single: ShardedResult, cluster: ShardedResult): RedisComparison {
  const s = single.redisShards
  const c = cluster.redisShards
  if (!s || !c) throw new Error('both sides need their Redis measured by primary')
  const perRequest = (r: ShardedResult, count: number): number =>
    r.requests > 0 ? count / r.requests : 0
  const commandsS = perRequest(single, single.redis.commands)
  const commandsC = perRequest(cluster, cluster.redis.commands)
  const callsS = perRequest(single, single.redis.scriptCalls)
  const callsC = perRequest(cluster, cluster.redis.scriptCalls)
  const cpuS = cpuPerRequestUs(s, single.requests)
  const cpuC = cpuPerRequestUs(c, cluster.requests)
  const coresS = busiestCores(s)
  const coresC = busiestCores(c)
  return {
    single: single.target,
    cluster: cluster.target,
    answersPerSecond: over(cluster.answeredPerSecond, single.answeredPerSecond),
    enrollmentsPerSecond: over(cluster.enrollmentsPerSecond, single.enrollmentsPerSecond),
    enqueueP50: over(enqueueOf(cluster)?.p50 ?? null, enqueueOf(single)?.p50 ?? null),
    enqueueP99: over(enqueueOf(cluster)?.p99 ?? null, enqueueOf(single)?.p99 ?? null),
    cpuPerRequestUs: [cpuS, cpuC, over(cpuC, cpuS)],
    commandsPerRequest: [commandsS, commandsC, over(commandsC, commandsS)],
    scriptCallsPerRequest: [callsS, callsC, over(callsC, callsS)],
    busiestCores: [coresS, coresC, over(coresC, coresS)],
    imbalance: imbalance(c),
  }
}

/** Each cluster result with the single-node result of the same instances just before it. */
export function redisPairs(results: readonly ShardedResult[]): [ShardedResult, ShardedResult][] {
  const pairs: [ShardedResult, ShardedResult][] = []
  results.forEach((r, i) => {
    if (r.redisShards?.mode !== 'cluster') return
    const single = results
      .slice(0, i)
      .reverse()
      .find((x) => x.redisShards?.mode === 'single' && x.instances === r.instances)
    if (single) pairs.push([single, r])
  })
  return pairs
}

const n = (x: number | null | undefined, digits = 0): string =>
  x === null || x === undefined || Number.isNaN(x)
    ? '–'
    : x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })

const times = (x: number | null): string => (x === null ? '–' : `${x.toFixed(2)}×`)

/** The report's section on Redis primary by primary, and the ratios (none without --redis cluster). */
export function redisSections(results: readonly ShardedResult[]): string[] {
  const measured = results.filter((r) => r.redisShards)
  if (measured.length === 0) return []
  const lines = [
    "Redis, primary by primary (CPU: each primary's `used_cpu_sys + used_cpu_user` from `INFO cpu` before and after the measured window; cores: CPU seconds per second of the window; courses and requests: those whose keys lie in its slots):",
    '',
    '| target | primary | courses | requests | Redis CPU s | cores | µs per request of its courses | commands (script calls) |',
    '| --- | --- | --: | --: | --: | --: | --: | --: |',
  ]
  for (const r of measured) {
    const shards = r.redisShards!
    for (const s of shards.shards) {
      const perRequest =
        s.cpuSeconds !== null && s.requests > 0 ? (s.cpuSeconds * 1e6) / s.requests : null
      lines.push(
        `| ${r.target} | ${s.shard} | ${n(s.courses)} | ${n(s.requests)} | ${n(s.cpuSeconds, 2)} | ${n(s.cores, 3)} | ${n(perRequest, 1)} | ${n(s.commands)} (${n(s.scriptCalls)}) |`,
      )
    }
    if (shards.shards.length > 1) {
      const sum = (pick: (s: ShardCost) => number | null): number | null =>
        shards.shards.some((s) => pick(s) === null)
          ? null
          : shards.shards.reduce((a, s) => a + (pick(s) as number), 0)
      lines.push(
        `| ${r.target} | all ${shards.shards.length} | ${n(sum((s) => s.courses))} | ${n(sum((s) => s.requests))} | ${n(
          sum((s) => s.cpuSeconds),
          2,
        )} | ${n(
          sum((s) => s.cores),
          3,
        )} | ${n(cpuPerRequestUs(shards, r.requests), 1)} | ${n(sum((s) => s.commands))} (${n(sum((s) => s.scriptCalls))}) |`,
      )
    }
  }
  lines.push('')
  const windows = measured.map(
    (r) =>
      `${r.target}: ${n(r.redisShards!.windowSeconds, 2)} s, hottest course ${r.redisShards!.hottestCourse.id} with ${n(r.redisShards!.hottestCourse.requests)} requests (${n((100 * r.redisShards!.hottestCourse.requests) / Math.max(1, r.requests), 1)} %)`,
  )
  lines.push(`Measured windows: ${windows.join('; ')}.`, '')
  for (const [single, cluster] of redisPairs(measured)) {
    const c = compareRedis(single, cluster)
    lines.push(
      `${c.cluster} ÷ ${c.single} (same run):`,
      '',
      `- answers per second **${times(c.answersPerSecond)}**, enrollments per second **${times(c.enrollmentsPerSecond)}**`,
      `- enqueue latency p50 **${times(c.enqueueP50)}**, p99 **${times(c.enqueueP99)}**`,
      `- Redis CPU per request, all primaries: ${n(c.cpuPerRequestUs[1], 1)} µs against ${n(c.cpuPerRequestUs[0], 1)} µs, **${times(c.cpuPerRequestUs[2])}**`,
      `- Redis commands per request: ${n(c.commandsPerRequest[1], 1)} against ${n(c.commandsPerRequest[0], 1)}, **${times(c.commandsPerRequest[2])}**; script calls per request: ${n(c.scriptCallsPerRequest[1], 2)} against ${n(c.scriptCallsPerRequest[0], 2)}, **${times(c.scriptCallsPerRequest[2])}**`,
      `- the busiest primary's cores: ${n(c.busiestCores[1], 3)} against ${n(c.busiestCores[0], 3)}, **${times(c.busiestCores[2])}**; busiest ÷ mean primary on the cluster: **${times(c.imbalance)}**`,
      '',
    )
  }
  return lines
}
