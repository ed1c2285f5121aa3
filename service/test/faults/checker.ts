// After a scenario has healed: read MySQL, Redis and every answer the students got, and list
// everything that contradicts what the service promises. An empty list is a pass.
import { setTimeout as sleep } from 'node:timers/promises'
import type { Cluster, Redis } from 'ioredis'
import { openRedis } from '../../src/adapters/redis/connection.js'
import type { RowDataPacket } from 'mysql2/promise'
import { MysqlStore } from '../../src/adapters/mysql/store.js'
import { auditRecord } from '../../src/domain/fairness.js'
import { keysMatching, keysOf } from '../helper.js'
import type { ScenarioWorld } from './cluster.js'
import { CLIENT_TIMEOUT_MS, type Call, type Rush } from './students.js'

/** Statuses the contract allows, besides 2xx. */
const CONTRACT_ERRORS = new Set([400, 401, 403, 404, 409, 413, 415, 429, 503])

export interface Findings {
  readonly violations: string[]
  readonly summary: Summary
}

export interface Summary {
  readonly calls: number
  readonly statuses: Record<string, number>
  readonly noAnswer: number
  /** Slowest answer of a process that was not frozen, in ms. */
  readonly slowestMs: number
  readonly p99Ms: number
  readonly heldByFrozenInstance: number
  readonly enrolled: number
  readonly waitlisted: number
  readonly rejected: number
  readonly cancelled: number
  readonly logins: number
  readonly resubmits: number
  /** Entries of the fairness record the audit replayed (every course's, up to its head). */
  readonly fairnessEntries: number
}

function heldByFreeze(call: Call, world: ScenarioWorld): boolean {
  const instance = world.instances.find((i) => i.name === call.instance)
  const end = call.started + call.ms
  return (instance?.frozen ?? []).some((f) => call.started < f.to && end > f.from)
}

/** Waits (bounded) until every course queue of the scenario is empty: nothing stays queued. */
async function drained(world: ScenarioWorld, redis: Redis | Cluster): Promise<string[]> {
  const until = Date.now() + 60_000
  for (;;) {
    const keys = await keysMatching(redis, keysOf({ REDIS_PREFIX: world.prefix }).patterns.queues)
    const waiting: string[] = []
    for (const key of keys) {
      const n = await redis.zcard(key)
      if (n > 0) waiting.push(`${key.slice(world.prefix.length)} holds ${n}`)
    }
    if (waiting.length === 0 || Date.now() > until) return waiting
    await sleep(100)
  }
}

export async function check(world: ScenarioWorld, rush: Rush): Promise<Findings> {
  const violations: string[] = []
  const redis = openRedis(world.cluster.redisTarget)
  try {
    for (const left of await drained(world, redis)) violations.push(`still queued: ${left}`)
  } finally {
    redis.disconnect()
  }

  const conn = await world.connect()
  try {
    const [courses] = await conn.query<RowDataPacket[]>(
      `SELECT c.id, c.capacity, c.enrolled,
              (SELECT COUNT(*) FROM enrollments e WHERE e.course_id = c.id) AS taken,
              (SELECT COUNT(DISTINCT student_id) FROM enrollments e WHERE e.course_id = c.id) AS distinct_students
         FROM courses c`,
    )
    for (const c of courses) {
      if (Number(c.taken) > Number(c.capacity)) {
        violations.push(`${c.id} oversold: ${c.taken} rows for ${c.capacity} seats`)
      }
      if (Number(c.taken) !== Number(c.enrolled)) {
        violations.push(`${c.id}: enrolled column ${c.enrolled} but ${c.taken} rows`)
      }
      if (Number(c.taken) !== Number(c.distinct_students)) {
        violations.push(`${c.id}: a student holds more than one seat`)
      }
    }
    const [enrollments] = await conn.query<RowDataPacket[]>(
      'SELECT student_id, course_id, request_id FROM enrollments',
    )
    const [waitlist] = await conn.query<RowDataPacket[]>(
      'SELECT student_id, course_id, request_id FROM waitlist',
    )
    const seat = new Set(enrollments.map((r) => `${r.student_id}|${r.course_id}`))
    const waiting = new Map(
      waitlist.map((r) => [`${r.student_id}|${r.course_id}`, String(r.request_id)]),
    )
    for (const key of waiting.keys()) {
      if (seat.has(key)) violations.push(`${key}: both enrolled and on the waitlist`)
    }

    for (const wish of rush.wishes) {
      const key = `${wish.student}|${wish.course}`
      const belief = rush.beliefs.get(key) ?? { kind: 'unknown', why: 'never answered' }
      switch (belief.kind) {
        case 'enrolled':
          if (!seat.has(key)) violations.push(`${key}: told enrolled, but MySQL has no seat`)
          break
        case 'waitlisted':
          if (waiting.get(key) !== belief.requestId && !seat.has(key)) {
            violations.push(`${key}: told waitlisted, but MySQL has neither a place nor a seat`)
          }
          break
        case 'rejected':
          if (belief.reason === 'ALREADY_ENROLLED') {
            if (!seat.has(key)) violations.push(`${key}: told already enrolled, but has no seat`)
          } else if (seat.has(key) || waiting.has(key)) {
            violations.push(`${key}: told rejected (${belief.reason}), but MySQL holds it`)
          }
          break
        case 'cancelled':
          if (seat.has(key)) violations.push(`${key}: cancelled, but the seat is still held`)
          break
        case 'unknown':
          violations.push(`${key}: no answer (${belief.why})`)
          break
      }
    }
  } finally {
    await conn.end()
  }

  // The fairness record, audited by the service's own code from the database alone: every seat
  // and waitlist decision the fault left behind must be recorded, chained, first come first served,
  // and replay to the seats and waitlists MySQL holds.
  const store = new MysqlStore({
    url: `${world.cluster.db.url}/${world.database}`,
    poolSize: 1,
    // A deadline for a loaded machine, not the service's 1.5 s: a slow read is not a finding.
    timeoutMs: 30_000,
  })
  let fairnessEntries = 0
  try {
    for (const audit of await auditRecord(store)) {
      fairnessEntries += audit.entries
      for (const b of audit.breaks) violations.push(`fairness record: ${audit.courseId}: ${b}`)
    }
  } finally {
    await store.close()
  }

  const statuses: Record<string, number> = {}
  let slowestMs = 0
  let held = 0
  const latencies: number[] = []
  for (const call of rush.calls) {
    const label =
      call.status === null
        ? `no answer (${call.error})`
        : `${call.status}${call.code ? ` ${call.code}` : ''}`
    statuses[label] = (statuses[label] ?? 0) + 1
    if (heldByFreeze(call, world)) {
      held += 1
      continue
    }
    latencies.push(call.ms)
    slowestMs = Math.max(slowestMs, call.ms)
    if (call.error === 'timeout') {
      violations.push(
        `${call.method} ${call.route} on ${call.instance}: no answer in ${CLIENT_TIMEOUT_MS} ms`,
      )
    }
    if (call.status === null) continue
    if (call.status >= 500 && call.status !== 503) {
      violations.push(`${call.method} ${call.route}: ${call.status} ${call.code}`)
    }
    if (call.status >= 300 && call.status < 600 && !CONTRACT_ERRORS.has(call.status)) {
      violations.push(`${call.method} ${call.route}: status ${call.status} outside the contract`)
    }
    if ((call.status === 503 || call.status === 429) && !call.retryAfter) {
      violations.push(`${call.method} ${call.route}: ${call.status} without Retry-After`)
    }
  }
  latencies.sort((a, b) => a - b)
  const count = (kind: string) => [...rush.beliefs.values()].filter((b) => b.kind === kind).length
  return {
    violations,
    summary: {
      calls: rush.calls.length,
      statuses,
      noAnswer: rush.calls.filter((c) => c.status === null).length,
      slowestMs: Math.round(slowestMs),
      p99Ms: Math.round(latencies[Math.floor(latencies.length * 0.99)] ?? 0),
      heldByFrozenInstance: held,
      enrolled: count('enrolled'),
      waitlisted: count('waitlisted'),
      rejected: count('rejected'),
      cancelled: count('cancelled'),
      logins: rush.stats.logins,
      resubmits: rush.stats.resubmits,
      fairnessEntries,
    },
  }
}
