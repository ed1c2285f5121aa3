// Instances dying and freezing in the middle of a rush, while the other one carries on.
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { Cluster } from './cluster.js'
import {
  FAULT_MS,
  killAfterAdmissionCommit,
  runScenario,
  underWay,
  type Scenario,
} from './scenarios.js'

const scenarios: Scenario[] = [
  {
    name: 'no fault',
    fault: 'none (the baseline)',
    inject: async () => undefined,
  },
  {
    name: 'instance killed',
    fault: 'kill -9 of instance A mid-rush; restarted 1 s later',
    inject: async (world, rush) => {
      await underWay(rush)
      await world.instances[0].kill()
      await sleep(1_000)
    },
  },
  {
    name: 'killed after COMMIT, survivor batch smaller',
    fault:
      'kill -9 of A between the COMMIT of a 64-request batch and its Redis update; B admits 16 at a time',
    batches: [64, 16],
    inject: async (world, rush) => {
      await underWay(rush)
      await killAfterAdmissionCommit(world.instances[0])
      await sleep(1_000)
    },
  },
  {
    name: 'killed after COMMIT, survivor batch larger',
    fault:
      'kill -9 of A between the COMMIT of a 16-request batch and its Redis update; B admits 64 at a time',
    batches: [16, 64],
    inject: async (world, rush) => {
      await underWay(rush)
      await killAfterAdmissionCommit(world.instances[0])
      await sleep(1_000)
    },
  },
  {
    name: 'instance stopped gracefully',
    fault: 'SIGTERM of A mid-rush (a deploy); restarted',
    inject: async (world, rush) => {
      await underWay(rush)
      await world.instances[0].kill('SIGTERM')
    },
  },
  {
    name: 'instance frozen',
    fault: `SIGSTOP of A for ${FAULT_MS / 1000} s mid-rush (its leases expire; it wakes up as a zombie)`,
    inject: async (world, rush) => {
      await underWay(rush)
      world.instances[0].pause()
      await sleep(FAULT_MS)
      world.instances[0].resume()
    },
  },
]

t.test('instances fail in the rush; every answer stays true', async (t) => {
  const cluster = await Cluster.start()
  t.teardown(() => cluster.stop())
  for (const [i, scenario] of scenarios.entries()) {
    await t.test(scenario.name, async (t) => {
      await runScenario(t, cluster, scenario, 100 + i)
    })
  }
})
