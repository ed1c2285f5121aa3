#!/usr/bin/env node
// Live positions at scale: how many students one instance can keep informed over event streams,
// what each costs in memory, what one round of updates costs, and how many Redis commands that
// takes. N students queue for 10 courses on instance A (no admission worker, so they wait), each
// opens GET /api/v1/me/events on A; then instance B drains the queues and A pushes every move.
//
//   node scripts/bench-watchers.mjs [--students 10000] [--courses 10] [--capacity 30]
//
// Needs MariaDB on 127.0.0.1:3306 and Redis on 127.0.0.1:6379; uses the database sugang_watch.
import http from 'node:http'
import { readFileSync } from 'node:fs'
import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import { Redis } from 'ioredis'
import { loginAll, mysqlExec, pool, serviceModule, startService, sugang } from './lib/harness.mjs'

const { values } = parseArgs({
  options: {
    students: { type: 'string', default: '10000' },
    courses: { type: 'string', default: '10' },
    capacity: { type: 'string', default: '30' },
  },
})
const students = Number(values.students)
const courses = Number(values.courses)
const capacity = Number(values.capacity)

const env = {
  DATABASE_URL: 'mysql://root@127.0.0.1:3306/sugang_watch',
  REDIS_URL: 'redis://127.0.0.1:6379',
  REDIS_PREFIX: 'watch:',
  SESSION_SECRET: 'watch-bench-secret-watch-bench-secret-00',
  RATE_LIMIT_MAX: '1000000',
  LOGIN_ADDRESS_FAILURES: '1000000',
  PASSWORD_SCRYPT_N: '16',
  // Capacity is what is measured: no load shedding while ten thousand streams open at once.
  MAX_EVENT_LOOP_DELAY_MS: '0',
}
const redis = new Redis(env.REDIS_URL)
for (let cursor = '0'; ;) {
  const [next, keys] = await redis.scan(cursor, 'MATCH', 'watch:*', 'COUNT', 1000)
  if (keys.length > 0) await redis.del(...keys)
  cursor = next
  if (cursor === '0') break
}
mysqlExec('CREATE DATABASE IF NOT EXISTS sugang_watch')
sugang(
  [
    'seed',
    '--students',
    String(students),
    '--courses',
    String(courses),
    '--capacity',
    String(capacity),
    '--password',
    'watch',
    '--reset',
  ],
  env,
)

const holder = await startService({
  ...env,
  PORT: '3500',
  METRICS_PORT: '9500',
  ADMISSION_WORKER: 'false',
})
const rssKiB = () =>
  Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${holder.child.pid}/status`, 'utf8'))?.[1])
const metric = async (name) => {
  const text = await (await fetch('http://127.0.0.1:9500/metrics')).text()
  return Number(new RegExp(`^${name} ([0-9.e+-]+)$`, 'm').exec(text)?.[1] ?? NaN)
}
const commandCalls = async (command) => {
  const info = await redis.info('commandstats')
  return Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(info)?.[1] ?? 0)
}

try {
  const cookies = await loginAll([holder.base], students, 'watch')
  const requestIds = await pool(students, 64, async (i) => {
    const course = `C${String((i % courses) + 1).padStart(4, '0')}`
    const res = await fetch(`${holder.base}/api/v1/courses/${course}/enrollment-requests`, {
      method: 'POST',
      headers: { cookie: cookies[i], 'content-type': 'application/json' },
      body: '{}',
    })
    if (res.status !== 202) throw new Error(`enqueue ${i}: ${res.status}`)
    return (await res.json()).requestId
  })
  const rssBefore = rssKiB()

  // Open every stream; each resolves once its first event (the current place) arrived.
  const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity })
  const streams = []
  let updates = 0
  let finals = 0
  let allDone
  const everyoneDecided = new Promise((resolve) => (allDone = resolve))
  const opened = performance.now()
  await pool(students, 500, (i) => {
    return new Promise((resolve, reject) => {
      const req = http.get(
        `${holder.base}/api/v1/me/events?requests=${requestIds[i]}`,
        { agent, headers: { cookie: cookies[i] } },
        (res) => {
          if (res.statusCode !== 200) return reject(new Error(`stream ${i}: ${res.statusCode}`))
          let first = true
          res.setEncoding('utf8')
          res.on('data', (chunk) => {
            for (const line of chunk.split('\n')) {
              if (!line.startsWith('data: ')) continue
              if (first) {
                first = false
                resolve()
                continue
              }
              updates += 1
              const status = JSON.parse(line.slice(6)).status
              if (status === 'enrolled' || status === 'rejected') {
                finals += 1
                if (finals === students) allDone()
              }
            }
          })
        },
      )
      req.on('error', reject)
      streams.push(req)
    })
  })
  const openSeconds = (performance.now() - opened) / 1000
  const rssWith = rssKiB()
  const listeners = await metric('sugang_watch_listeners')

  // Idle: nothing moves; count the queue reads the rounds make.
  const mgetBefore = await commandCalls('mget')
  const idleFrom = performance.now()
  await new Promise((resolve) => setTimeout(resolve, 10_000))
  const idleSeconds = (performance.now() - idleFrom) / 1000
  const mgetPerSecond = ((await commandCalls('mget')) - mgetBefore) / idleSeconds

  // Moving: the head of every queue is let go of, 100 requests a step, a step every 1.5 s: each
  // step moves every other watcher up. Rounds and pushes are read from the holder's metrics.
  const { createRedisRushState } = await serviceModule('redis')
  const rush = createRedisRushState({
    url: env.REDIS_URL,
    prefix: env.REDIS_PREFIX,
    sessionTtlSeconds: 3600,
    decidedTtlSeconds: 3600,
    requestBudget: { max: 1_000_000, windowMs: 10_000 },
  })
  await rush.lifecycle.connect()
  const movingFrom = {
    sum: await metric('sugang_watch_round_duration_seconds_sum'),
    count: await metric('sugang_watch_round_duration_seconds_count'),
    pushed: await metric('sugang_watch_updates_total'),
    received: updates,
  }
  const STEPS = 5
  for (let step = 0; step < STEPS; step += 1) {
    for (let c = 1; c <= courses; c += 1) {
      const course = `C${String(c).padStart(4, '0')}`
      if ((await rush.leases.acquireCourse(course, 'bench', 60_000)) === 'held') continue
      const head = await rush.queue.head(course, 100)
      await rush.queue.settle(
        course,
        'bench',
        head.map((h) => ({
          requestId: h.requestId,
          studentId: h.studentId,
          status: 'rejected',
          reason: 'COURSE_FULL',
        })),
        { seatsLeft: capacity, versionBefore: 0, version: 0 },
      )
      await rush.leases.releaseCourse(course, 'bench')
    }
    await new Promise((resolve) => setTimeout(resolve, 1_500))
  }
  await rush.lifecycle.close()
  const moving = {
    rounds: (await metric('sugang_watch_round_duration_seconds_count')) - movingFrom.count,
    seconds: (await metric('sugang_watch_round_duration_seconds_sum')) - movingFrom.sum,
    pushed: (await metric('sugang_watch_updates_total')) - movingFrom.pushed,
    received: updates - movingFrom.received,
  }

  // Draining: a second instance admits everyone; every watcher gets its result.
  const roundsBefore = {
    sum: await metric('sugang_watch_round_duration_seconds_sum'),
    count: await metric('sugang_watch_round_duration_seconds_count'),
  }
  const drainFrom = performance.now()
  const worker = await startService({ ...env, PORT: '3501', METRICS_PORT: '9501' })
  await everyoneDecided
  const drainSeconds = (performance.now() - drainFrom) / 1000
  await worker.stop()
  const rounds = {
    sum: (await metric('sugang_watch_round_duration_seconds_sum')) - roundsBefore.sum,
    count: (await metric('sugang_watch_round_duration_seconds_count')) - roundsBefore.count,
  }
  for (const s of streams) s.destroy()

  const report = {
    students,
    courses,
    streamsOpen: listeners,
    openSeconds: Number(openSeconds.toFixed(1)),
    memoryPerStreamKiB: Number(((rssWith - rssBefore) / students).toFixed(1)),
    rssMiB: {
      beforeStreams: Math.round(rssBefore / 1024),
      withStreams: Math.round(rssWith / 1024),
    },
    idleQueueReadsPerSecond: Number(mgetPerSecond.toFixed(1)),
    moving: {
      stepsOf100PerCourse: STEPS,
      rounds: moving.rounds,
      updatesPushed: moving.pushed,
      updatesReceived: moving.received,
      meanRoundMs: Number(((moving.seconds / moving.rounds) * 1000).toFixed(1)),
      microsecondsPerUpdate: Number(
        ((moving.seconds * 1e6) / Math.max(1, moving.pushed)).toFixed(1),
      ),
    },
    draining: {
      seconds: Number(drainSeconds.toFixed(1)),
      rounds: rounds.count,
      meanRoundMs: Number(((rounds.sum / rounds.count) * 1000).toFixed(1)),
      resultsReceived: finals,
    },
  }
  console.log(JSON.stringify(report, null, 2))
} finally {
  await holder.stop()
  redis.disconnect()
}
