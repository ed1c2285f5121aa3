// The faults, each injected once the rush is a quarter acknowledged and healed a few seconds
// later, and the run of one scenario: seed, rush, fault, heal, check.
import { appendFile } from 'node:fs/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Test } from 'tap'
import { check, type Findings } from './checker.js'
import type { Cluster, CourseSpec, Instance, ScenarioWorld } from './cluster.js'
import { Rush, drawWishes } from './students.js'

export interface Scenario {
  readonly name: string
  /** What is done, for the report's table. */
  readonly fault: string
  readonly batches?: readonly [number, number]
  /** Waits for its moment in the rush, breaks something, heals it; resolves once healed. */
  inject(world: ScenarioWorld, rush: Rush): Promise<void>
  /** Runs once every request of the rush has its answer, before the check. */
  afterRush?(world: ScenarioWorld, rush: Rush): Promise<void>
}

/** How long a fault lasts before it heals. */
export const FAULT_MS = 3_000
const STUDENTS = 200
const WISHES_PER_STUDENT = 3
/** Oversubscribed at the top (Zipf-like demand), room at the bottom. */
const COURSES: readonly CourseSpec[] = [
  { capacity: 15 },
  { capacity: 20 },
  { capacity: 25 },
  { capacity: 30 },
  { capacity: 40 },
  { capacity: 60 },
]

/** The moment faults strike: a quarter of the requests acknowledged, the rush in full swing. */
export function underWay(rush: Rush): Promise<void> {
  return rush.acked(Math.floor(rush.wishes.length / 4))
}

/** Resolves when `condition` holds, or rejects after `ms` (a fault that never happened). */
export async function until(what: string, condition: () => boolean, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`)
    await sleep(20)
  }
}

/** Kills the instance right after the MySQL COMMIT of an admission batch, before Redis hears. */
export async function killAfterAdmissionCommit(instance: Instance): Promise<void> {
  instance.mysqlLink.onMysqlCommit(() => instance.kill('SIGKILL'), {
    after: /^\s*INSERT INTO enrollments/i,
  })
  await until(`${instance.name} to die after a commit`, () => !instance.alive)
}

export interface ScenarioResult {
  readonly scenario: string
  readonly fault: string
  readonly findings: Findings
}

/** Runs one scenario in a world of its own and asserts that the checker found nothing. */
export async function runScenario(
  t: Test,
  cluster: Cluster,
  scenario: Scenario,
  seed: number,
): Promise<ScenarioResult> {
  const world = await cluster.scenario({
    name: scenario.name,
    students: STUDENTS,
    courses: COURSES,
    batches: scenario.batches ?? [64, 64],
  })
  let findings: Findings
  try {
    const rush = new Rush(world, drawWishes(STUDENTS, COURSES.length, WISHES_PER_STUDENT, seed))
    await rush.loginAll()
    const running = rush.run()
    await scenario.inject(world, rush)
    // Whatever the fault stopped is running again: the load balancer sees both instances.
    for (const instance of world.instances) {
      if (!instance.alive) await instance.start()
    }
    await running
    await scenario.afterRush?.(world, rush)
    findings = await check(world, rush)
  } catch (err) {
    for (const instance of world.instances) {
      t.comment(`${instance.name} log:\n${await instance.logTail()}`)
    }
    throw err
  } finally {
    await world.stop()
  }
  const { summary } = findings
  t.comment(
    `${scenario.name}: ${summary.calls} calls, slowest ${summary.slowestMs} ms, ` +
      `${summary.fairnessEntries} fairness record entries audited, ` +
      `${JSON.stringify(summary.statuses)}`,
  )
  t.same(findings.violations, [], `${scenario.name}: every answer agrees with MySQL, nothing hangs`)
  t.ok(summary.enrolled + summary.cancelled > 0, 'students were enrolled')
  t.ok(summary.fairnessEntries > 0, 'and their decisions are in the audited fairness record')
  t.ok(summary.rejected > 0, 'and some were turned away: the courses filled up')
  const result = { scenario: scenario.name, fault: scenario.fault, findings }
  if (process.env.FAULT_REPORT) {
    await appendFile(process.env.FAULT_REPORT, JSON.stringify(result) + '\n')
  }
  return result
}
