import t from 'tap'
import { LoginGuard, loginCounters } from '../../src/domain/logins.js'
import type { LoginAttempt, LoginCheck, LoginReservation } from '../../src/domain/ports.js'
import { createMemoryRushState } from '../../src/adapters/memory/index.js'

const limits = {
  account: { max: 10, windowMs: 900_000 },
  address: { max: 100, windowMs: 60_000 },
  device: { max: 10, windowMs: 900_000 },
  campusAccount: { max: 3 },
}
const attempt = (
  device: string | null,
  more: Partial<Pick<LoginAttempt, 'studentId' | 'address' | 'campus'>> = {},
): LoginAttempt => ({
  studentId: 'S1',
  address: '10.0.0.1',
  device,
  campus: false,
  limits,
  ...more,
})

/** The embedded adapter's counters, on a clock of the test's own: the rule is under test. */
function setup(t: { teardown(fn: () => unknown): void }) {
  let now = 1_000_000
  const rush = createMemoryRushState({
    sessionTtlSeconds: 60,
    decidedTtlSeconds: 60,
    requestBudget: { max: 100, windowMs: 1_000 },
    clock: () => now,
  })
  t.teardown(() => rush.lifecycle.close())
  const guard = new LoginGuard(rush.logins)
  return {
    guard,
    count: (scope: string, id: string) => rush.memory.counters.get(`login-failures:${scope}:${id}`),
    later: (ms: number) => (now += ms),
    /** n failed attempts: each reserved and kept. */
    fail: async (n: number, a: LoginAttempt) => {
      for (let i = 0; i < n; i += 1) {
        const check = await guard.reserve(a)
        if (check.kind !== 'ok') throw new Error(`attempt ${i + 1} refused: ${check.kind}`)
      }
    },
  }
}

const refusal = (check: LoginCheck) => (check.kind === 'ok' ? 'ok' : check.kind)
const reservation = (check: LoginCheck): LoginReservation => {
  if (check.kind !== 'ok') throw new Error(`refused: ${check.kind}`)
  return check.reservation
}

t.test('a browser known to the account is judged by its own budget only', async (t) => {
  t.same(
    loginCounters(attempt('dev1')).map((c) => c.scope),
    ['device'],
  )
  t.same(
    loginCounters(attempt(null)).map((c) => [c.scope, c.id]),
    [
      ['address', '10.0.0.1'],
      ['account', 'S1'],
    ],
    'anyone else by the address first, then the account',
  )
})

t.test(
  'an account flooded with failures is locked for others, not for its own browser',
  async (t) => {
    const { guard, count, fail } = setup(t)
    await fail(10, attempt(null))
    const locked = await guard.reserve(attempt(null))
    t.equal(refusal(locked), 'account-locked')
    t.ok(locked.kind !== 'ok' && locked.retryAfterMs > 0 && locked.retryAfterMs <= 900_000)
    t.equal(refusal(await guard.reserve(attempt('dev1'))), 'ok', 'the student on their own browser')
    await fail(9, attempt('dev1'))
    t.equal(refusal(await guard.reserve(attempt('dev1'))), 'device-limited')
    t.equal(count('account', 'S1'), 10, 'device failures do not count against the account')
    await guard.unlock('S1')
    t.equal(refusal(await guard.reserve(attempt(null))), 'ok', 'an unlocked account may try again')
  },
)

t.test('an address over its limit is refused before the account is looked at', async (t) => {
  const { guard, count, fail } = setup(t)
  for (let i = 0; i < 100; i += 1) await fail(1, attempt(null, { studentId: `S${100 + i}` }))
  t.equal(refusal(await guard.reserve(attempt(null))), 'address-limited')
  t.equal(count('account', 'S1'), undefined, 'a refused attempt counts nowhere')
})

t.test('attempts in flight count: the limit holds however many arrive at once', async (t) => {
  const { guard, count } = setup(t)
  const checks = await Promise.all(Array.from({ length: 50 }, () => guard.reserve(attempt(null))))
  t.equal(checks.filter((c) => c.kind === 'ok').length, 10, 'the account allows 10')
  t.equal(checks.filter((c) => c.kind === 'account-locked').length, 40)
  t.equal(count('address', '10.0.0.1'), 10, 'the refused ones were not counted')
})

t.test('a success gives its attempt back, in its own window only', async (t) => {
  const { guard, count, fail, later } = setup(t)
  const right = reservation(await guard.reserve(attempt(null)))
  await fail(2, attempt(null))
  await guard.release(right)
  t.equal(count('account', 'S1'), 2, 'only the failures stay counted')
  t.equal(count('address', '10.0.0.1'), 2)

  const slow = reservation(await guard.reserve(attempt(null, { studentId: 'S2' })))
  later(900_001) // the account's window ends while the password is checked ...
  await fail(1, attempt(null, { studentId: 'S2', address: '10.0.0.2' }))
  await guard.release(slow)
  t.equal(count('account', 'S2'), 1, '... and the next window does not pay for it')
})

t.test('a campus address over its limit is judged per account: a few failures each', async (t) => {
  const { guard, count, fail } = setup(t)
  const campus = (studentId: string) => attempt(null, { studentId, campus: true })
  for (let i = 0; i < 100; i += 1) await fail(1, campus(`X${i}`))
  t.equal(
    refusal(await guard.reserve(attempt(null, { studentId: 'S9' }))),
    'address-limited',
    'another address over its limit is refused as a whole',
  )

  const student = reservation(await guard.reserve(campus('S1')))
  await guard.release(student)
  t.equal(count('account', 'S1'), 0, 'a student with the right password gets in')

  await fail(3, campus('S2'))
  const fourth = await guard.reserve(campus('S2'))
  t.equal(refusal(fourth), 'address-limited', 'a guess at one id stops after 3')
  t.ok(fourth.kind !== 'ok' && fourth.retryAfterMs <= 60_000, 'until the address window ends')
  t.equal(
    refusal(await guard.reserve(attempt(null, { studentId: 'S2', address: '192.0.2.1' }))),
    'ok',
    'from elsewhere the account has its own 10',
  )
  const flood = await Promise.all(Array.from({ length: 30 }, () => guard.reserve(campus('S3'))))
  t.equal(flood.filter((c) => c.kind === 'ok').length, 3, 'also when they arrive at once')
})
