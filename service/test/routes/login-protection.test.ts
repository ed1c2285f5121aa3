import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { studentId } from '../../src/seed.js'
import {
  PASSWORD,
  STORAGES,
  configFrom,
  database,
  injectRetrying503,
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
  // A 503 (a deadline missed on a busy machine) is retried after its Retry-After, as clients do:
  // the claims here are about the limits, not about how fast this machine is.
  const res = await injectRetrying503(app, {
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
  // The defaults, as deployed at a university: the trusted proxy hop and the campus's egress
  // address. The address window is longer than any run of this file, so that none ends mid-test.
  const campus = '203.0.113.50'
  const defaults = {
    LOGIN_ADDRESS_FAILURES: '',
    LOGIN_ADDRESS_WINDOW_SECONDS: '3600',
    LOGIN_CAMPUS_NETWORKS: '203.0.113.48/30, 2001:db8:cafe::/48',
    TRUST_PROXY: 'true',
  }
  await seedDatabase(configFrom(env), { students: 520 })
  const a = await startInstance(t, configFrom(env, defaults), { worker: false })
  const b = await startInstance(t, configFrom(env, defaults), { worker: false })

  t.test(
    '500 students behind one campus address log in within a minute, typos and all, while a classmate sprays wrong passwords from it',
    async (t) => {
      // The classmate's targets: ids that do not exist, and students who are not logging in now.
      const targets = Array.from({ length: 40 }, (_, i) =>
        i % 2 ? `Z${String(i).padStart(5, '0')}` : studentId(501 + i / 2),
      )
      const spray = (from: number, count: number) =>
        Promise.all(
          Array.from({ length: count }, (_, i) =>
            attempt(i % 2 ? a : b, {
              student: targets[(from + i) % targets.length]!,
              password: `spray${from + i}`,
              address: campus,
            }),
          ),
        )
      // First the campus address is driven past its limit of 100 failures a minute ...
      const before = []
      for (let i = 0; i < 150; i += 10) before.push(...(await spray(i, 10)))
      t.ok(
        before.some((r) => r.code === 'LOGIN_RATE_LIMITED'),
        'the address has reached its limit',
      )
      // ... then the spray goes on while the students arrive.
      const [during, results] = await Promise.all([
        spray(150, 450),
        Promise.all(
          Array.from({ length: 500 }, async (_, i) => {
            const student = studentId(i + 1)
            // One in ten mistypes first, as people do.
            if (i % 10 === 0) {
              const typo = await attempt(i % 2 ? a : b, {
                student,
                password: 'typo',
                address: campus,
              })
              if (typo.status !== 401) return `typo: ${typo.code}`
            }
            const right = await attempt(i % 2 ? b : a, {
              student,
              password: PASSWORD,
              address: campus,
            })
            return right.code ?? 'in'
          }),
        ),
      ])
      t.same(
        results.filter((r) => r !== 'in'),
        [],
        'every student is in, none of them has a device cookie',
      )
      const evaluated = [...before, ...during].filter((r) => r.status === 401).length
      // 100 failures for the address, then 3 per id for a campus address over its limit.
      t.ok(evaluated <= 100 + 3 * targets.length, `the spray was stopped: ${evaluated} evaluated`)
      const after = await spray(600, targets.length)
      t.same(
        [...new Set(after.map((r) => r.code))],
        ['LOGIN_RATE_LIMITED'],
        'and each of its targets is refused from that address now',
      )
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

const ROUNDS = 5

for (const storage of STORAGES) {
  t.test(
    `hundreds of concurrent guesses get no more evaluations than the limits allow, ${ROUNDS} rounds (${storage})`,
    async (t) => {
      const env = await isolatedEnv(t, 'loginrace', storage)
      // The limits as deployed, with windows long enough that none ends while a round runs.
      const settings = {
        LOGIN_ADDRESS_FAILURES: '',
        LOGIN_ADDRESS_WINDOW_SECONDS: '3600',
        LOGIN_ACCOUNT_WINDOW_SECONDS: '3600',
        TRUST_PROXY: 'true',
      }
      await seedDatabase(configFrom(env), { students: 2 * ROUNDS })
      // MySQL and Redis serve many instances, so the guesses arrive through two; the embedded
      // pair serves one.
      const apps: FastifyInstance[] = [
        await startInstance(t, configFrom(env, settings), { worker: false }),
      ]
      if (storage === 'mysql-redis') {
        apps.push(await startInstance(t, configFrom(env, settings), { worker: false }))
      }
      const through = (i: number) => apps[i % apps.length]!
      const tally = (answers: Array<{ code: string | null }>) => {
        const counts: Record<string, number> = {}
        for (const { code } of answers) counts[code ?? 'OK'] = (counts[code ?? 'OK'] ?? 0) + 1
        return counts
      }

      for (let round = 1; round <= ROUNDS; round += 1) {
        // One account, from one address: the account's 10 failures bound the evaluations.
        const victim = studentId(2 * round - 1)
        const oneAddress = `198.18.${round}.1`
        const atOnce = await Promise.all(
          Array.from({ length: 60 }, (_, i) =>
            attempt(through(i), { student: victim, password: `guess${i}`, address: oneAddress }),
          ),
        )
        const once = tally(atOnce)
        t.ok((once.INVALID_CREDENTIALS ?? 0) <= 10, `round ${round}: ${JSON.stringify(once)}`)
        t.equal(
          (once.INVALID_CREDENTIALS ?? 0) + (once.ACCOUNT_LOCKED ?? 0),
          60,
          'every other guess is refused as locked',
        )

        // The same account from 200 addresses at once, mixed with the right password.
        const other = studentId(2 * round)
        const spread = await Promise.all(
          Array.from({ length: 200 }, (_, i) =>
            attempt(through(i), {
              student: other,
              password: `guess${i}`,
              address: `198.19.${round}.${i + 1}`,
            }),
          ),
        )
        const wide = tally(spread)
        t.ok(
          (wide.INVALID_CREDENTIALS ?? 0) <= 10,
          `round ${round}, rotating addresses: ${JSON.stringify(wide)}`,
        )
        for (const account of [victim, other]) {
          const right = await attempt(through(round), {
            student: account,
            password: PASSWORD,
            address: `192.0.2.${round}`,
          })
          t.equal(right.code, 'ACCOUNT_LOCKED', `round ${round}: the right password waits too`)
        }

        // One address, 250 guesses at as many ids: the address's 100 failures bound them.
        const sweeper = `198.20.${round}.1`
        const sweep = await Promise.all(
          Array.from({ length: 250 }, (_, i) =>
            attempt(through(i), {
              student: `X${round}${String(i).padStart(4, '0')}`,
              password: 'guess',
              address: sweeper,
            }),
          ),
        )
        const swept = tally(sweep)
        t.ok((swept.INVALID_CREDENTIALS ?? 0) <= 100, `round ${round}: ${JSON.stringify(swept)}`)
        t.equal(
          (swept.INVALID_CREDENTIALS ?? 0) + (swept.LOGIN_RATE_LIMITED ?? 0),
          250,
          'every other guess is refused for the address',
        )
      }
    },
  )
}
