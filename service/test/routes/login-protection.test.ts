import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { studentId } from '../../src/seed.js'
import {
  PASSWORD,
  configFrom,
  database,
  isolatedEnv,
  seedDatabase,
  startInstance,
  waitFor,
} from '../helper.js'

const bin = fileURLToPath(new URL('../../bin/sugang.js', import.meta.url))

interface Attempt {
  readonly student: string
  readonly password: string
  readonly address?: string
  readonly cookie?: string
}

async function attempt(app: FastifyInstance, a: Attempt) {
  const res = await app.inject({
    method: 'POST',
    url: '/api/v1/auth/login',
    payload: { studentId: a.student, password: a.password },
    // Behind the load balancer (TRUST_PROXY) the client's address is the last X-Forwarded-For hop.
    headers: {
      ...(a.address ? { 'x-forwarded-for': a.address } : {}),
      ...(a.cookie ? { cookie: a.cookie } : {}),
    },
    remoteAddress: '10.0.1.10',
  })
  const device = res.cookies.find((c) => c.name === 'sugang_device')
  return {
    status: res.statusCode,
    code: res.statusCode === 200 ? null : (res.json().error.code as string),
    retryAfter: res.headers['retry-after'],
    device: device ? `sugang_device=${device.value}` : null,
  }
}

t.test('login protection', async (t) => {
  const env = await isolatedEnv(t, 'login')
  // The defaults, as deployed: nothing overridden but the trusted proxy hop.
  const defaults = { LOGIN_ADDRESS_FAILURES: '', TRUST_PROXY: 'true' }
  await seedDatabase(configFrom(env), { students: 500 })
  const a = await startInstance(t, configFrom(env, defaults), { worker: false })
  const b = await startInstance(t, configFrom(env, defaults), { worker: false })

  t.test(
    '500 students behind one campus address log in within a minute, typos and all',
    async (t) => {
      const campus = '203.0.113.50'
      const results = await Promise.all(
        Array.from({ length: 500 }, async (_, i) => {
          const student = studentId(i + 1)
          // One in ten mistypes first, as people do.
          if (i % 10 === 0) {
            const typo = await attempt(i % 2 ? a : b, {
              student,
              password: 'typo',
              address: campus,
            })
            if (typo.status !== 401) return typo.status
          }
          return (await attempt(i % 2 ? b : a, { student, password: PASSWORD, address: campus }))
            .status
        }),
      )
      t.equal(results.filter((s) => s === 200).length, 500, 'every student is in')
    },
  )

  t.test('40 guesses at one account from rotating addresses are stopped after 10', async (t) => {
    const victim = studentId(7)
    const answers = []
    for (let i = 0; i < 40; i += 1) {
      const app = i % 2 ? a : b // the limit holds across instances
      answers.push(
        await attempt(app, { student: victim, password: `guess${i}`, address: `198.51.100.${i}` }),
      )
    }
    t.same(
      answers.slice(0, 10).map((r) => r.status),
      Array(10).fill(401),
      'wrong, wrong, ...',
    )
    t.same(
      answers.slice(10).map((r) => r.code),
      Array(30).fill('ACCOUNT_LOCKED'),
      'then the account is locked',
    )
    t.ok(
      answers.slice(10).every((r) => Number(r.retryAfter) >= 1),
      'with a Retry-After',
    )
    const right = await attempt(a, { student: victim, password: PASSWORD, address: '192.0.2.1' })
    t.equal(right.code, 'ACCOUNT_LOCKED', 'even the right password waits: guessing cannot go on')
    const other = await attempt(a, {
      student: studentId(8),
      password: PASSWORD,
      address: '198.51.100.3',
    })
    t.equal(other.status, 200, 'another student from the same addresses is not affected')

    // The registrar lifts the lock for a student who proved who they are.
    const unlock = spawnSync(process.execPath, [bin, 'unlock', victim], {
      env: { ...process.env, ...env },
      encoding: 'utf8',
    })
    t.equal(unlock.status, 0, `sugang unlock: ${unlock.stderr}`)
    const after = await attempt(b, { student: victim, password: PASSWORD, address: '192.0.2.1' })
    t.equal(after.status, 200, 'after `sugang unlock` the student logs in at once')
  })

  t.test(
    'a browser that logged in before keeps its access while its account is locked',
    async (t) => {
      const owner = studentId(9)
      const first = await attempt(a, { student: owner, password: PASSWORD, address: '192.0.2.9' })
      t.equal(first.status, 200)
      t.ok(first.device, 'a device cookie is issued at login')
      for (let i = 0; i < 12; i += 1) {
        await attempt(b, {
          student: owner,
          password: `attack${i}`,
          address: `198.51.100.${100 + i}`,
        })
      }
      const locked = await attempt(a, { student: owner, password: PASSWORD, address: '192.0.2.9' })
      t.equal(locked.code, 'ACCOUNT_LOCKED', 'without the cookie the account is locked')
      const known = await attempt(a, {
        student: owner,
        password: PASSWORD,
        address: '192.0.2.9',
        cookie: first.device ?? '',
      })
      t.equal(known.status, 200, 'with it the student logs in')

      const stranger = await attempt(a, { student: studentId(10), password: PASSWORD })
      const borrowed = await attempt(a, {
        student: owner,
        password: PASSWORD,
        cookie: stranger.device ?? '',
      })
      t.equal(borrowed.code, 'ACCOUNT_LOCKED', "another student's device cookie does not count")

      const guesses = []
      for (let i = 0; i < 12; i += 1) {
        guesses.push(
          (await attempt(b, { student: owner, password: `x${i}`, cookie: first.device ?? '' }))
            .code,
        )
      }
      t.same(guesses.slice(0, 10), Array(10).fill('INVALID_CREDENTIALS'))
      t.same(
        guesses.slice(10),
        ['LOGIN_RATE_LIMITED', 'LOGIN_RATE_LIMITED'],
        'guessing through a device cookie has a budget of its own',
      )
    },
  )

  t.test('one address that keeps failing is slowed down; its successes never count', async (t) => {
    const limited = await startInstance(
      t,
      configFrom(env, { LOGIN_ADDRESS_FAILURES: '5', TRUST_PROXY: 'true' }),
      { worker: false },
    )
    const lab = '203.0.113.77'
    for (let i = 0; i < 20; i += 1) {
      const ok = await attempt(limited, {
        student: studentId(100 + i),
        password: PASSWORD,
        address: lab,
      })
      t.equal(ok.status, 200, `success ${i + 1} from the lab`)
    }
    const codes = []
    for (let i = 0; i < 7; i += 1) {
      codes.push(
        (await attempt(limited, { student: studentId(200 + i), password: 'no', address: lab }))
          .code,
      )
    }
    t.same(codes, [
      'INVALID_CREDENTIALS',
      'INVALID_CREDENTIALS',
      'INVALID_CREDENTIALS',
      'INVALID_CREDENTIALS',
      'INVALID_CREDENTIALS',
      'LOGIN_RATE_LIMITED',
      'LOGIN_RATE_LIMITED',
    ])
    const elsewhere = await attempt(limited, {
      student: studentId(300),
      password: PASSWORD,
      address: '192.0.2.44',
    })
    t.equal(elsewhere.status, 200, 'other addresses are not affected')
  })

  t.test('a successful login upgrades a cheap seed hash to the configured cost', async (t) => {
    const upgrading = await startInstance(t, configFrom(env, { PASSWORD_SCRYPT_N: '32' }), {
      worker: false,
    })
    const conn = await database(t, configFrom(env))
    const student = studentId(400)
    const hashOf = async () => {
      const [rows] = await conn.query<import('mysql2').RowDataPacket[]>(
        'SELECT password_hash FROM students WHERE id = ?',
        [student],
      )
      return String(rows[0]?.password_hash)
    }
    t.match(await hashOf(), /^scrypt\$16\$/, 'seeded cheaply')
    t.equal((await attempt(upgrading, { student, password: PASSWORD })).status, 200)
    await waitFor('the rehash', async () => /^scrypt\$32\$/.test(await hashOf()))
    t.equal(
      (await attempt(upgrading, { student, password: PASSWORD })).status,
      200,
      'the new hash verifies',
    )
  })
})
