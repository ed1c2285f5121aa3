#!/usr/bin/env node
// Can an outsider tell from a login's timing whether a student id exists? Sends wrong passwords
// for existing students (seeded with cheap hashes, the worst case) and for ids that do not exist,
// interleaved, against one `sugang serve` at the production password cost, then classifies every
// answer by the best single time threshold. 50 % is a coin toss; 100 % is a perfect oracle.
//
//   node scripts/login-timing.mjs [--attempts 100]
//
// Needs MariaDB on 127.0.0.1:3306 and Redis on 127.0.0.1:6379; uses the database sugang_timing.
import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import { mysqlExec, startService, studentId, sugang } from './lib/harness.mjs'

const { values } = parseArgs({ options: { attempts: { type: 'string', default: '100' } } })
const attempts = Number(values.attempts)
const env = {
  DATABASE_URL: 'mysql://root@127.0.0.1:3306/sugang_timing',
  REDIS_URL: 'redis://127.0.0.1:6379',
  REDIS_PREFIX: 'timing:',
  SESSION_SECRET: 'timing-test-secret-timing-test-secret-0',
  // Every wrong guess here is meant: do not let the failure limits answer instead.
  LOGIN_ADDRESS_FAILURES: '1000000',
  LOGIN_ACCOUNT_FAILURES: '1000000',
}
mysqlExec('CREATE DATABASE IF NOT EXISTS sugang_timing')
sugang(
  [
    'seed',
    '--students',
    String(attempts),
    '--courses',
    '1',
    '--capacity',
    '1',
    '--password',
    'x',
    '--reset',
  ],
  env,
)
const service = await startService({ ...env, PORT: '3490', METRICS_PORT: '0' })
try {
  const time = async (id) => {
    const started = performance.now()
    const res = await fetch(`${service.base}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ studentId: id, password: 'wrong guess' }),
    })
    await res.text()
    if (res.status !== 401) throw new Error(`expected 401, got ${res.status}`)
    return performance.now() - started
  }
  // Warm up the JIT and the connection pools first.
  for (let i = 0; i < 10; i += 1) await time(`U${i}`)
  const known = []
  const unknown = []
  for (let i = 1; i <= attempts; i += 1) {
    known.push(await time(studentId(i)))
    unknown.push(await time(`U${String(i).padStart(6, '0')}`))
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
  // The best threshold an attacker could pick with hindsight, in either direction.
  let best = 0
  for (const threshold of [...known, ...unknown]) {
    const knownBelow = known.filter((ms) => ms <= threshold).length
    const unknownAbove = unknown.filter((ms) => ms > threshold).length
    const correct = Math.max(knownBelow + unknownAbove, 2 * attempts - knownBelow - unknownAbove)
    best = Math.max(best, correct)
  }
  console.log(
    JSON.stringify(
      {
        attempts,
        medianMs: { existing: +median(known).toFixed(1), unknown: +median(unknown).toFixed(1) },
        bestThresholdAccuracy: +((100 * best) / (2 * attempts)).toFixed(1),
      },
      null,
      2,
    ),
  )
} finally {
  await service.stop()
}
