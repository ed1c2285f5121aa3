#!/usr/bin/env node
// The rush: N students press "enroll" on one course at the same moment, through several service
// processes. Measures how long until every request is decided, and checks the invariants.
//
//   node scripts/rush.mjs [--students 15000] [--capacity 30] [--instances 2] [--in-flight 1000]
//
// Needs MariaDB on 127.0.0.1:3306 and Redis on 127.0.0.1:6379; uses the database sugang_rush.
import http from 'node:http'
import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import { Redis } from 'ioredis'
import mysql from 'mysql2/promise'
import {
  loginAll,
  mysqlExec,
  percentile,
  pool,
  redisKeys,
  startService,
  sugang,
} from './lib/harness.mjs'

const { values } = parseArgs({
  options: {
    students: { type: 'string', default: '15000' },
    capacity: { type: 'string', default: '30' },
    instances: { type: 'string', default: '2' },
    'in-flight': { type: 'string', default: '1000' },
  },
})
const students = Number(values.students)
const capacity = Number(values.capacity)
const instances = Number(values.instances)
const inFlight = Number(values['in-flight'])

const env = {
  DATABASE_URL: 'mysql://root@127.0.0.1:3306/sugang_rush',
  REDIS_URL: 'redis://127.0.0.1:6379',
  REDIS_PREFIX: 'rush:',
  SESSION_SECRET: 'rush-test-secret-rush-test-secret-000',
  RATE_LIMIT_MAX: '1000000',
  LOGIN_ADDRESS_FAILURES: '1000000',
  // Seeded students have cheap hashes; verifying them at the production floor would make
  // logging everyone in take minutes. Demo and load-test data only.
  PASSWORD_SCRYPT_N: '16',
}
mysqlExec('CREATE DATABASE IF NOT EXISTS sugang_rush')
sugang(
  [
    'seed',
    '--students',
    String(students),
    '--courses',
    '1',
    '--capacity',
    String(capacity),
    '--password',
    'rush',
    '--reset',
  ],
  env,
)

const services = []
for (let i = 0; i < instances; i += 1) {
  services.push(
    await startService({ ...env, PORT: String(3400 + i), METRICS_PORT: String(9480 + i) }),
  )
}
const bases = services.map((s) => s.base)
// node:http with keep-alive: far cheaper per request than fetch, so the generator keeps up.
const agent = new http.Agent({ keepAlive: true, maxSockets: Math.ceil(inFlight / instances) })
function post(base, path, cookie) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${base}${path}`,
      {
        method: 'POST',
        agent,
        headers: { cookie, 'content-type': 'application/json', 'content-length': 2 },
      },
      (res) => {
        res.resume()
        res.on('end', () => resolve(res.statusCode))
      },
    )
    req.on('error', reject)
    req.end('{}')
  })
}
const redis = new Redis(env.REDIS_URL)
try {
  const cookies = await loginAll(bases, students, 'rush')
  console.log(`${students} students logged in on ${instances} instance(s)`)

  const latencies = []
  const statuses = {}
  const t0 = performance.now()
  await pool(students, inFlight, async (i) => {
    const started = performance.now()
    const status = await post(
      bases[i % bases.length],
      '/api/v1/courses/C0001/enrollment-requests',
      cookies[i],
    )
    latencies.push(performance.now() - started)
    statuses[status] = (statuses[status] ?? 0) + 1
  })
  const acked = performance.now() - t0
  const queue = (await redisKeys(env.REDIS_PREFIX)).course('C0001').queue
  while ((await redis.zcard(queue)) > 0) await new Promise((r) => setTimeout(r, 5))
  const decided = performance.now() - t0

  const db = await mysql.createConnection({ uri: env.DATABASE_URL })
  const [[course]] = await db.query(
    'SELECT capacity, enrolled, (SELECT COUNT(*) FROM enrollments) AS n FROM courses',
  )
  const [[dups]] = await db.query(
    'SELECT COUNT(*) - COUNT(DISTINCT student_id) AS d FROM enrollments',
  )
  await db.end()
  latencies.sort((a, b) => a - b)
  const report = {
    students,
    capacity,
    instances,
    inFlight,
    statuses,
    allAcknowledgedSeconds: +(acked / 1000).toFixed(2),
    allDecidedSeconds: +(decided / 1000).toFixed(2),
    enqueueLatencyMs: {
      p50: +percentile(latencies, 50).toFixed(1),
      p99: +percentile(latencies, 99).toFixed(1),
      max: +latencies[latencies.length - 1].toFixed(1),
    },
    enrolledColumn: Number(course.enrolled),
    enrollmentRows: Number(course.n),
    duplicateStudents: Number(dups.d),
  }
  console.log(JSON.stringify(report, null, 2))
  const ok =
    report.enrollmentRows === capacity &&
    report.enrolledColumn === capacity &&
    report.duplicateStudents === 0
  if (!ok) {
    console.error('INVARIANT BROKEN: enrolled must equal rows, equal capacity, no duplicates')
    process.exitCode = 1
  }
} finally {
  agent.destroy()
  redis.disconnect()
  await Promise.all(services.map((s) => s.stop()))
}
