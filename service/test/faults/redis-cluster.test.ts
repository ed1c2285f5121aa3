// The rush on a Redis Cluster of three shards while one shard fails: its primary killed (the
// replica takes over), or the shard coming back empty. Only that shard's courses may answer 503
// for a few seconds; no acknowledged enrollment is lost and no student is told anything MySQL
// contradicts.
import { setTimeout as sleep } from 'node:timers/promises'
import calculateSlot from 'cluster-key-slot'
import t from 'tap'
import { openRedis } from '../../src/adapters/redis/connection.js'
import { keysOf } from '../helper.js'
import type { RedisClusterServer, RedisServer } from '../support/servers.js'
import { Cluster, type ScenarioWorld } from './cluster.js'
import { FAULT_MS, runScenario, underWay, type Scenario } from './scenarios.js'

/** The primary serving the first course's slot group, and that slot. */
async function shardOfFirstCourse(
  world: ScenarioWorld,
): Promise<{ cluster: RedisClusterServer; primary: RedisServer; slot: number }> {
  const cluster = world.cluster.redisCluster
  if (!cluster) throw new Error('this scenario needs the Redis Cluster')
  const keys = keysOf({ REDIS_PREFIX: world.prefix, REDIS_CLUSTER_NODES: cluster.seeds.join(',') })
  const slot = calculateSlot(keys.course('C0001').queue)
  return { cluster, primary: await cluster.primaryOf(slot), slot }
}

/** Waits until another node than `old` serves the slot: the replica was promoted. */
async function promoted(cluster: RedisClusterServer, slot: number, old: RedisServer) {
  const until = Date.now() + 30_000
  for (;;) {
    const now = await cluster.primaryOf(slot).catch(() => old)
    if (now !== old) return now
    if (Date.now() > until) throw new Error(`no replica took over slot ${slot}`)
    await sleep(50)
  }
}

const scenarios: Scenario[] = [
  {
    name: 'Redis Cluster: a primary killed',
    fault:
      'kill -9 of the primary holding the first course mid-rush (its replica takes over); the old primary restarts and rejoins as a replica',
    inject: async (world, rush) => {
      await underWay(rush)
      const { cluster, primary, slot } = await shardOfFirstCourse(world)
      await primary.kill()
      await promoted(cluster, slot, primary)
      await primary.restart()
      await cluster.healthy()
    },
  },
  {
    name: 'Redis Cluster: a shard restarted empty',
    fault: `the shard holding the first course loses its primary and comes back empty (its promoted replica flushed), ${FAULT_MS / 1000} s after the kill`,
    inject: async (world, rush) => {
      await underWay(rush)
      const { cluster, primary, slot } = await shardOfFirstCourse(world)
      await primary.kill()
      const successor = await promoted(cluster, slot, primary)
      // As if the replica had missed every write: the shard's sessions, queues and caches gone.
      const client = openRedis(successor.url)
      try {
        await client.flushall()
      } finally {
        client.disconnect()
      }
      await primary.restart()
      await cluster.healthy()
    },
  },
  {
    name: 'Redis Cluster: a primary frozen',
    fault: `the primary holding the first course stopped (SIGSTOP) for ${FAULT_MS / 1000} s mid-rush: its replica takes over meanwhile, and it wakes up demoted`,
    inject: async (world, rush) => {
      await underWay(rush)
      const { cluster, primary } = await shardOfFirstCourse(world)
      primary.pause()
      await sleep(FAULT_MS)
      primary.resume()
      await cluster.healthy()
    },
  },
]

t.test('a Redis Cluster shard fails in the rush; every answer stays true', async (t) => {
  const cluster = await Cluster.start({ redisCluster: true })
  t.teardown(() => cluster.stop())
  for (const [i, scenario] of scenarios.entries()) {
    await t.test(scenario.name, async (t) => {
      await runScenario(t, cluster, scenario, 400 + i)
    })
  }
})
