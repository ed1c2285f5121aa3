// The network between the instances and their dependencies failing: slow, reset, silent.
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { Cluster } from './cluster.js'
import { FAULT_MS, runScenario, underWay, until, type Scenario } from './scenarios.js'

const scenarios: Scenario[] = [
  {
    name: 'slow Redis',
    fault: `200 ms added each way between both instances and Redis for ${FAULT_MS / 1000} s`,
    inject: async (world, rush) => {
      await underWay(rush)
      for (const i of world.instances) i.redisLink.delay(200)
      await sleep(FAULT_MS)
      for (const i of world.instances) i.redisLink.delay(0)
    },
  },
  {
    name: 'slow MySQL',
    fault: `200 ms added each way between both instances and MariaDB for ${FAULT_MS / 1000} s`,
    inject: async (world, rush) => {
      await underWay(rush)
      for (const i of world.instances) i.mysqlLink.delay(200)
      await sleep(FAULT_MS)
      for (const i of world.instances) i.mysqlLink.delay(0)
    },
  },
  {
    name: 'Redis connections reset',
    fault: 'every Redis connection reset, and new ones refused for 1 s',
    inject: async (world, rush) => {
      await underWay(rush)
      for (const i of world.instances) {
        i.redisLink.refuse(true)
        i.redisLink.resetAll()
      }
      await sleep(1_000)
      for (const i of world.instances) i.redisLink.refuse(false)
    },
  },
  {
    name: 'MySQL connections reset',
    fault: 'every MySQL connection reset, and new ones refused for 1 s',
    inject: async (world, rush) => {
      await underWay(rush)
      for (const i of world.instances) {
        i.mysqlLink.refuse(true)
        i.mysqlLink.resetAll()
      }
      await sleep(1_000)
      for (const i of world.instances) i.mysqlLink.refuse(false)
    },
  },
  {
    name: 'one instance cut off from Redis',
    fault: `A's Redis traffic silently dropped (held, nothing answers) for ${FAULT_MS / 1000} s`,
    inject: async (world, rush) => {
      await underWay(rush)
      world.instances[0].redisLink.blackhole(true)
      await sleep(FAULT_MS)
      world.instances[0].redisLink.blackhole(false)
    },
  },
  {
    name: 'Redis cut after a cancellation commits',
    fault: 'the instance that commits a cancellation loses Redis for 2 s before it can tell it',
    inject: async (world) => {
      let fired = false
      for (const instance of world.instances) {
        instance.mysqlLink.onMysqlCommit(
          () => {
            if (fired) return
            fired = true
            instance.redisLink.blackhole(true)
            setTimeout(() => instance.redisLink.blackhole(false), 2_000)
          },
          { after: /^\s*DELETE FROM enrollments/i },
        )
      }
      await until('a cancellation to commit', () => fired)
      await sleep(2_000)
    },
  },
]

t.test('the network to MariaDB and Redis fails in the rush; every answer stays true', async (t) => {
  const cluster = await Cluster.start()
  t.teardown(() => cluster.stop())
  for (const [i, scenario] of scenarios.entries()) {
    await t.test(scenario.name, async (t) => {
      await runScenario(t, cluster, scenario, 300 + i)
    })
  }
})
