#!/usr/bin/env node
// Throughput and latency of the enqueue route against Fastify baselines, measured in one run:
// a bare route, a route making one trivial Redis Lua call, a route making the real enqueue Lua
// call, and the sugang service itself (see bare-server.mjs).
//
//   node scripts/bench-enqueue.mjs [--seconds 10] [--connections 100] [--students 20000]
//
// Each server runs in its own process, one at a time, loaded by wrk (Debian package) with the
// same request script, so the load generator costs the same in every run.
// The sugang instance runs without its admission worker so the number is the route's own cost:
// session check, rate limit and queue join in one Redis round trip. Students rotate per request
// over many courses, so almost every request is a new queue entry (the 202 path).
import { execFileSync, spawn } from 'node:child_process'
import { writeFileSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { Redis } from 'ioredis'
import { loginAll, mysqlExec, redisKeys, startService, sugang } from './lib/harness.mjs'

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    connections: { type: 'string', default: '100' },
    students: { type: 'string', default: '20000' },
  },
})
const seconds = Number(values.seconds)
const connections = Number(values.connections)
const students = Number(values.students)
const COURSES = 50
const wrkScript = fileURLToPath(new URL('./wrk/enqueue.lua', import.meta.url))
const cookieFile = join(mkdtempSync(join(tmpdir(), 'sugang-bench-')), 'cookies.txt')

/** Loads `base` with wrk (C, one thread, so the server keeps the other core). */
function load(base, cookieFile) {
  const out = execFileSync(
    'wrk',
    ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency', '-s', wrkScript, base],
    { env: { ...process.env, COOKIES: cookieFile, COURSES: String(COURSES) }, encoding: 'utf8' },
  )
  const number = (re) => {
    const m = re.exec(out)
    if (!m) throw new Error(`unexpected wrk output:\n${out}`)
    return m[2] === 's' ? Number(m[1]) * 1000 : m[2] === 'us' ? Number(m[1]) / 1000 : Number(m[1])
  }
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out)
  return {
    requestsPerSecond: Math.round(Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1])),
    latencyMs: { p50: number(/50%\s+([\d.]+)(us|ms|s)/), p99: number(/99%\s+([\d.]+)(us|ms|s)/) },
    non2xx: non2xx ? Number(non2xx[1]) : 0,
    socketErrors: /Socket errors: (.*)/.exec(out)?.[1] ?? 'none',
  }
}

async function baseline(mode, env) {
  const child = spawn(
    process.execPath,
    [fileURLToPath(new URL('./bare-server.mjs', import.meta.url))],
    {
      env: { ...process.env, ...env, MODE: mode, PORT: '3390' },
      stdio: 'inherit',
    },
  )
  try {
    for (let i = 0; i < 100; i += 1) {
      const up = await fetch('http://127.0.0.1:3390/').then(
        () => true,
        () => false,
      )
      if (up) break
      await new Promise((r) => setTimeout(r, 100))
    }
    await clearQueues(env)
    execFileSync('wrk', ['-t1', '-c10', '-d2s', '-s', wrkScript, 'http://127.0.0.1:3390'], {
      env: { ...process.env, COOKIES: cookieFile, COURSES: String(COURSES) },
    })
    return load('http://127.0.0.1:3390', cookieFile)
  } finally {
    child.kill('SIGTERM')
    await new Promise((resolve) => child.once('exit', resolve))
  }
}

/** Empties the queues (keeping the sessions) so every run starts from the same state. */
async function clearQueues(env) {
  const redis = new Redis(env.REDIS_URL)
  const keys = await redisKeys(env.REDIS_PREFIX)
  const sessions = keys.session('')
  let cursor = '0'
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', keys.patterns.all, 'COUNT', 1000)
    cursor = next
    const queueKeys = found.filter((k) => !k.startsWith(sessions))
    if (queueKeys.length > 0) await redis.del(...queueKeys)
  } while (cursor !== '0')
  redis.disconnect()
}

const env = {
  DATABASE_URL: 'mysql://root@127.0.0.1:3306/sugang_bench',
  REDIS_URL: 'redis://127.0.0.1:6379',
  REDIS_PREFIX: 'bench:',
  SESSION_SECRET: 'bench-secret-bench-secret-bench-secret',
  RATE_LIMIT_MAX: '1000000',
  LOGIN_ADDRESS_FAILURES: '1000000',
  // Seeded students have cheap hashes; verifying them at the production floor would make
  // logging everyone in take minutes. Demo and load-test data only.
  PASSWORD_SCRYPT_N: '16',
  ADMISSION_WORKER: 'false',
  PORT: '3391',
  METRICS_PORT: '9491',
}

async function enqueue() {
  mysqlExec('CREATE DATABASE IF NOT EXISTS sugang_bench')
  sugang(
    [
      'seed',
      '--students',
      String(students),
      '--courses',
      String(COURSES),
      '--capacity',
      '100000',
      '--password',
      'bench',
      '--reset',
    ],
    env,
  )
  const service = await startService(env)
  try {
    const cookies = await loginAll([service.base], students, 'bench')
    writeFileSync(cookieFile, cookies.join('\n') + '\n')
    // A short warm-up for the JIT, on a queue state that the measured run then builds on.
    execFileSync('wrk', ['-t1', '-c10', '-d2s', '-s', wrkScript, service.base], {
      env: { ...process.env, COOKIES: cookieFile, COURSES: String(COURSES) },
    })
    return load(service.base, cookieFile)
  } finally {
    await service.stop()
  }
}

// The service run logs everyone in first; its cookies then feed every baseline, so each run's
// generator does the same work.
const route = await enqueue()
const results = {
  bareFastify: await baseline('bare', env),
  fastifyTrivialLua: await baseline('lua-trivial', env),
  fastifyEnqueueLua: await baseline('lua-enqueue', env),
  sugangEnqueue: route,
}
const ratio = (r) => +(r.requestsPerSecond / results.bareFastify.requestsPerSecond).toFixed(2)
console.log(
  JSON.stringify(
    {
      seconds,
      connections,
      ...results,
      ratioToBareFastify: Object.fromEntries(
        Object.entries(results).map(([k, v]) => [k, ratio(v)]),
      ),
    },
    null,
    2,
  ),
)
