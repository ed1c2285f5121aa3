// MariaDB and Redis failing as a whole in the middle of a rush.
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import t from 'tap'
import { Cluster, type ScenarioWorld } from './cluster.js'
import { FAULT_MS, runScenario, underWay, type Scenario } from './scenarios.js'

/** Redis loses every key and goes on answering, as after a failover to an empty replica. */
async function flushAll(world: ScenarioWorld): Promise<void> {
  const redis = new Redis(world.cluster.redis.url)
  try {
    await redis.flushall()
  } finally {
    redis.disconnect()
  }
}

const scenarios: Scenario[] = [
  {
    name: 'Redis restarted',
    fault: 'Redis killed and restarted empty mid-rush (sessions and queued requests lost)',
    inject: async (world, rush) => {
      await underWay(rush)
      await world.cluster.redis.restart()
    },
  },
  {
    name: 'Redis data lost',
    fault:
      'FLUSHALL mid-rush, and again once every request is answered (no restart: no connection notices); then every student told enrolled or waitlisted asks again, twice',
    inject: async (world, rush) => {
      await underWay(rush)
      await flushAll(world)
    },
    // Once the courses are quiet, no later change of theirs makes the reconciler look at them.
    afterRush: async (world, rush) => {
      await flushAll(world)
      await rush.askAgain()
      await rush.askAgain()
    },
  },
  {
    name: 'MariaDB restarted',
    fault: 'MariaDB killed (kill -9) mid-rush and restarted 1 s later',
    inject: async (world, rush) => {
      await underWay(rush)
      await world.cluster.db.kill()
      await sleep(1_000)
      await world.cluster.db.restart()
    },
  },
  {
    name: 'Redis frozen',
    fault: `Redis stopped (SIGSTOP) for ${FAULT_MS / 1000} s mid-rush`,
    inject: async (world, rush) => {
      await underWay(rush)
      world.cluster.redis.pause()
      await sleep(FAULT_MS)
      world.cluster.redis.resume()
    },
  },
  {
    name: 'MariaDB frozen',
    fault: `MariaDB stopped (SIGSTOP) for ${FAULT_MS / 1000} s mid-rush`,
    inject: async (world, rush) => {
      await underWay(rush)
      world.cluster.db.pause()
      await sleep(FAULT_MS)
      world.cluster.db.resume()
    },
  },
]

t.test('MariaDB and Redis fail in the rush; every answer stays true', async (t) => {
  const cluster = await Cluster.start()
  t.teardown(() => cluster.stop())
  for (const [i, scenario] of scenarios.entries()) {
    await t.test(scenario.name, async (t) => {
      await runScenario(t, cluster, scenario, 200 + i)
    })
  }
})
