import { Redis } from 'ioredis'
import t from 'tap'
import { main } from '../rush/main.js'
import {
  compareRedis,
  cpuPerRequestUs,
  cpuSecondsOf,
  imbalance,
  primariesOfRanges,
  primaryOfSlot,
  REDIS_CLUSTER_NODES,
  redisPairs,
  redisSections,
  RedisProbe,
  shardCpu,
  slotRangesOf,
  spreadOver,
  type RedisShards,
  type ShardedResult,
} from '../rush/redis-shards.js'
import { benchKeys, REDIS_URL } from '../rush/targets.js'
import { courseId } from '../rush/workload.js'

// `--redis cluster`: the arithmetic of each primary's CPU over the window, which primary holds
// which course, and the comparison the report prints, on fixed inputs; then the probe against the
// real Redis node and the real local cluster (scripts/redis-cluster-up.sh), whose INFO, slots and
// nodes it reads.

/** A CLUSTER SLOTS reply as Redis 7 sends it: ranges in any order, nodes with id and metadata. */
const CLUSTER_SLOTS = [
  [5461, 10922, ['127.0.0.1', 7002, 'b'.repeat(40), []], ['127.0.0.1', 7005, 'e'.repeat(40), []]],
  [0, 5460, ['127.0.0.1', 7001, 'a'.repeat(40), []], ['127.0.0.1', 7004, 'd'.repeat(40), []]],
  [10923, 16383, ['127.0.0.1', 7003, 'c'.repeat(40), []], ['127.0.0.1', 7006, 'f'.repeat(40), []]],
]

t.test("INFO cpu: a server's CPU is its system and user time together", async (t) => {
  const info = [
    '# CPU',
    'used_cpu_sys:12.345678',
    'used_cpu_user:30.5',
    'used_cpu_sys_children:99.000000',
    'used_cpu_user_children:99.000000',
    'used_cpu_sys_main_thread:11.000000',
    'used_cpu_user_main_thread:29.000000',
    '',
  ].join('\r\n')
  t.equal(cpuSecondsOf(info), 12.345678 + 30.5, "children's and the main thread's apart")
  t.throws(() => cpuSecondsOf('# CPU\r\nused_cpu_sys:1.0\r\n'), {
    message: 'INFO cpu has no used_cpu_user',
  })
})

t.test('CLUSTER SLOTS: ranges by first slot, primary first, replicas after', async (t) => {
  const ranges = slotRangesOf(CLUSTER_SLOTS)
  t.same(ranges, [
    { start: 0, end: 5460, primary: '127.0.0.1:7001', replicas: ['127.0.0.1:7004'] },
    { start: 5461, end: 10922, primary: '127.0.0.1:7002', replicas: ['127.0.0.1:7005'] },
    { start: 10923, end: 16383, primary: '127.0.0.1:7003', replicas: ['127.0.0.1:7006'] },
  ])
  t.same(primariesOfRanges(ranges), ['127.0.0.1:7001', '127.0.0.1:7002', '127.0.0.1:7003'])
  // Both ends of a range are its own.
  t.equal(primaryOfSlot(ranges, 0), '127.0.0.1:7001')
  t.equal(primaryOfSlot(ranges, 5460), '127.0.0.1:7001')
  t.equal(primaryOfSlot(ranges, 5461), '127.0.0.1:7002')
  t.equal(primaryOfSlot(ranges, 16383), '127.0.0.1:7003')
  t.throws(() => primaryOfSlot(ranges.slice(0, 2), 16000), { message: /slot 16000/ })
  t.throws(() => slotRangesOf('ERR This instance has cluster support disabled'))
  // A primary that serves two ranges (after a resharding) is one shard.
  const resharded = slotRangesOf([
    [0, 99, ['127.0.0.1', 7001]],
    [100, 16383, ['127.0.0.1', 7002]],
    [200, 199, ['127.0.0.1', 7001]],
  ])
  t.same(primariesOfRanges(resharded), ['127.0.0.1:7001', '127.0.0.1:7002'])
})

t.test('spread: what each primary holds, counted by slot; an empty primary shows 0', async (t) => {
  const ranges = slotRangesOf(CLUSTER_SLOTS)
  const slots = new Map([
    ['C0001', 0],
    ['C0002', 5460],
    ['C0003', 5461],
    ['C0004', 16383],
  ])
  t.same(
    [...spreadOver(['C0001', 'C0002', 'C0003', 'C0004'], slots, ranges)],
    [
      ['127.0.0.1:7001', 2],
      ['127.0.0.1:7002', 1],
      ['127.0.0.1:7003', 1],
    ],
  )
  // Requests by their course: a course asked for three times counts three times.
  t.same(
    [...spreadOver(['C0003', 'C0003', 'C0003', 'C0001'], slots, ranges)],
    [
      ['127.0.0.1:7001', 1],
      ['127.0.0.1:7002', 3],
      ['127.0.0.1:7003', 0],
    ],
  )
  t.throws(() => spreadOver(['C0009'], slots, ranges), { message: 'no slot known for C0009' })
})

t.test("each primary's CPU over the window: seconds, and seconds per second", async (t) => {
  const before = new Map([
    ['a', 10],
    ['b', 20],
    ['c', 30],
  ])
  const after = new Map([
    ['c', 31],
    ['a', 14],
    ['b', 22.5],
  ])
  t.same(shardCpu(before, after, 8), [
    { shard: 'a', cpuSeconds: 4, cores: 0.5 },
    { shard: 'b', cpuSeconds: 2.5, cores: 0.313 },
    { shard: 'c', cpuSeconds: 1, cores: 0.125 },
  ])
  // A node that restarted in the window (its counter went back) or did not answer is unknown.
  t.same(shardCpu(before, new Map([['a', 3]]), 8), [
    { shard: 'a', cpuSeconds: null, cores: null },
    { shard: 'b', cpuSeconds: null, cores: null },
    { shard: 'c', cpuSeconds: null, cores: null },
  ])
  t.throws(() => shardCpu(before, after, 0), { message: 'the window must last some time' })
})

function sharded(mode: 'single' | 'cluster', cpu: number[], requests: number[]): RedisShards {
  return {
    mode,
    windowSeconds: 10,
    shards: cpu.map((cpuSeconds, i) => ({
      shard: `127.0.0.1:${mode === 'single' ? 6379 : 7001 + i}`,
      cpuSeconds,
      cores: cpuSeconds / 10,
      courses: 600 / cpu.length,
      requests: requests[i]!,
      commands: 1000,
      scriptCalls: 100,
    })),
    hottestCourse: { id: 'C0001', requests: 1_500 },
  }
}

function result(
  target: string,
  shards: RedisShards,
  fields: Partial<ShardedResult> = {},
): ShardedResult {
  return {
    target,
    instances: 1,
    requests: 12_000,
    answeredPerSecond: 4_000,
    enrollmentsPerSecond: 1_000,
    routes: { 'POST /courses/:id/enrollment-requests': { p50: 20, p99: 80 } },
    redis: { commands: 120_000, scriptCalls: 12_000 },
    redisShards: shards,
    ...fields,
  }
}

t.test('per request and per primary: CPU per request, busiest over mean', async (t) => {
  const cluster = sharded('cluster', [0.3, 0.6, 0.3], [3_000, 6_000, 3_000])
  // 1.2 s of CPU over 12,000 requests.
  t.equal(cpuPerRequestUs(cluster, 12_000), 100)
  t.equal(cpuPerRequestUs(cluster, 0), null)
  t.equal(imbalance(cluster), 1.5, '0.06 cores against a mean of 0.04')
  const unknown: RedisShards = {
    ...cluster,
    shards: [{ ...cluster.shards[0]!, cpuSeconds: null, cores: null }, ...cluster.shards.slice(1)],
  }
  t.equal(cpuPerRequestUs(unknown, 12_000), null)
  t.equal(imbalance(unknown), null)
})

t.test('the cluster against the one node of the same run: every ratio', async (t) => {
  const single = result('sugang, 1 Redis node', sharded('single', [0.9], [12_000]))
  const cluster = result(
    'sugang, Redis Cluster, 3 shards',
    sharded('cluster', [0.3, 0.6, 0.3], [3_000, 6_000, 3_000]),
    {
      answeredPerSecond: 3_000,
      enrollmentsPerSecond: 800,
      routes: { 'POST /courses/:id/enrollment-requests': { p50: 30, p99: 60 } },
      redis: { commands: 144_000, scriptCalls: 24_000 },
    },
  )
  const c = compareRedis(single, cluster)
  t.equal(c.answersPerSecond, 0.75)
  t.equal(c.enrollmentsPerSecond, 0.8)
  t.equal(c.enqueueP50, 1.5)
  t.equal(c.enqueueP99, 0.75)
  t.same(c.cpuPerRequestUs, [75, 100, 100 / 75])
  t.same(c.commandsPerRequest, [10, 12, 1.2])
  t.same(c.scriptCallsPerRequest, [1, 2, 2])
  t.same(c.busiestCores, [0.09, 0.06, 0.06 / 0.09])
  t.equal(c.imbalance, 1.5)
  t.throws(() => compareRedis(single, { ...cluster, redisShards: undefined }))

  // Each cluster run is set against the single-node run of as many instances before it.
  const two = { ...single, target: 'two', instances: 2 }
  const twoCluster = { ...cluster, target: 'two on the cluster', instances: 2 }
  const baseline: ShardedResult = { ...single, target: 'bare', redisShards: undefined }
  t.same(
    redisPairs([single, two, cluster, twoCluster, baseline]).map(([s, c]) => [s.target, c.target]),
    [
      ['sugang, 1 Redis node', 'sugang, Redis Cluster, 3 shards'],
      ['two', 'two on the cluster'],
    ],
  )

  const page = redisSections([single, cluster, baseline]).join('\n')
  t.match(page, '| sugang, 1 Redis node | 127.0.0.1:6379 | 600 | 12,000 | 0.90 | 0.090 | 75.0 |')
  t.match(
    page,
    '| sugang, Redis Cluster, 3 shards | 127.0.0.1:7002 | 200 | 6,000 | 0.60 | 0.060 | 100.0 |',
  )
  t.match(
    page,
    '| sugang, Redis Cluster, 3 shards | all 3 | 600 | 12,000 | 1.20 | 0.120 | 100.0 | 3,000 (300) |',
    'the sum of the primaries',
  )
  t.match(page, 'hottest course C0001 with 1,500 requests (12.5 %)')
  t.match(page, '- answers per second **0.75×**, enrollments per second **0.80×**')
  t.match(page, 'Redis CPU per request, all primaries: 100.0 µs against 75.0 µs, **1.33×**')
  t.notMatch(page, '| bare |', 'a target without its Redis by primary has no row')
  t.same(redisSections([baseline]), [], 'no section without --redis cluster')
})

t.test('the probe on the one node: its process, its CPU and its commands', async (t) => {
  const probe = await RedisProbe.open('single', REDIS_URL, [])
  t.teardown(() => probe.close())
  const host = new URL(REDIS_URL)
  const address = `${host.hostname}:${host.port || 6379}`
  t.same(probe.primaries, [address])
  const [redis] = await probe.processes()
  t.equal(redis?.name, 'redis', 'named as in every report before')
  t.ok(redis!.pid > 0)
  const slots = await probe.slots(new Map([['C0001', 'bench:course:{g0.0}:C0001:queue']]))
  t.same([...slots], [['C0001', 0]], 'one node serves every slot')

  const before = await probe.cpu()
  const statsBefore = await probe.commandStats()
  // Work only this server does, enough to show in its CPU counters (microseconds).
  const client = new Redis(REDIS_URL)
  t.teardown(() => client.disconnect())
  await client.eval('local n = 0 for i = 1, 3000000 do n = n + i end return n', 0)
  const after = await probe.cpu()
  const statsAfter = await probe.commandStats()
  const [cpu] = shardCpu(before.seconds, after.seconds, (after.at - before.at) / 1000)
  t.equal(cpu?.shard, address)
  t.ok(cpu!.cpuSeconds! > 0, `the script's CPU counted: ${cpu!.cpuSeconds} s`)
  t.ok((statsAfter.get('eval') ?? 0) > (statsBefore.get('eval') ?? 0), 'its call counted')
})

t.test(
  'the probe on the cluster: its nodes, the courses each primary serves, its own counters',
  async (t) => {
    const probe = await RedisProbe.open('cluster', REDIS_URL, REDIS_CLUSTER_NODES)
    t.teardown(() => probe.close())
    t.equal(probe.primaries.length, 3, 'three shards')
    const processes = await probe.processes()
    t.equal(processes.filter((p) => p.name.endsWith('(primary)')).length, 3)
    t.equal(processes.filter((p) => p.name.endsWith('(replica)')).length, 3)
    t.ok(processes.every((p) => p.pid > 0))

    // The opening's 600 courses under the key schema sugang runs with on a cluster.
    const keys = benchKeys('cluster')
    const ids = Array.from({ length: 600 }, (_, i) => courseId(i + 1))
    const queues = new Map(ids.map((id) => [id, keys.course(id).queue]))
    const spread = spreadOver(ids, await probe.slots(queues), probe.ranges)
    t.equal(
      [...spread.values()].reduce((a, b) => a + b, 0),
      600,
      'every course on one primary',
    )
    t.ok(
      [...spread.values()].every((n) => n > 0),
      `every primary holds some: ${[...spread.values()]}`,
    )
    // Each primary tells itself which keys it serves: any other answers MOVED.
    for (const primary of probe.primaries) {
      const [host, port] = primary.split(':')
      const node = new Redis({ host, port: Number(port) })
      try {
        const pipeline = node.pipeline()
        for (const key of queues.values()) pipeline.exists(key)
        const replies = (await pipeline.exec()) ?? []
        const served = replies.filter(([err]) => !err).length
        t.ok(
          replies.every(([err]) => !err || /^MOVED /.test(err.message)),
          'served or moved',
        )
        t.equal(
          served,
          spread.get(primary),
          `${primary} serves the ${served} courses counted on it`,
        )
      } finally {
        node.disconnect()
      }
    }

    // Each primary's counters are its own: commands sent to one show on that one.
    const [first, ...others] = probe.primaries
    const before = await probe.commandStatsByShard()
    const [host, port] = first!.split(':')
    const node = new Redis({ host, port: Number(port) })
    t.teardown(() => node.disconnect())
    for (let i = 0; i < 5; i += 1) await node.echo('counted')
    const after = await probe.commandStatsByShard()
    const echoes = (shard: string): number =>
      (after.get(shard)?.get('echo') ?? 0) - (before.get(shard)?.get('echo') ?? 0)
    t.equal(echoes(first!), 5, `${first} counted the echoes sent to it`)
    for (const shard of others) t.equal(echoes(shard), 0, `${shard} counted none`)
    const cpu = await probe.cpu()
    t.same([...cpu.seconds.keys()], probe.primaries, 'a CPU reading from every primary')
    t.ok([...cpu.seconds.values()].every((s) => s > 0))
  },
)

t.test('--redis other than single or cluster is refused before anything starts', async (t) => {
  await t.rejects(main(['--scenario', 'opening', '--small', '--redis', 'sentinel']), {
    message: '--redis must be single or cluster, got "sentinel"',
  })
  await t.rejects(main(['--scenario', 'login-storm', '--small', '--redis', 'cluster']), {
    message: '--redis cluster runs no control phase; login-storm has one',
  })
})
