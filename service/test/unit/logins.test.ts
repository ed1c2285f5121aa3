import t from 'tap'
import { LoginGuard, loginCounters } from '../../src/domain/logins.js'
import type { FailureCounter, LoginAttempt, LoginThrottle } from '../../src/domain/ports.js'

const limits = {
  account: { max: 10, windowMs: 900_000 },
  address: { max: 100, windowMs: 60_000 },
  device: { max: 10, windowMs: 900_000 },
}
const attempt = (device: string | null): LoginAttempt => ({
  studentId: 'S1',
  address: '10.0.0.1',
  device,
  limits,
})

/** Counters in memory: the rule is under test, not the storage. */
function memoryThrottle(): LoginThrottle & { counts: Map<string, number> } {
  const counts = new Map<string, number>()
  const key = (c: FailureCounter) => `${c.scope}:${c.id}`
  return {
    counts,
    async firstOverLimit(counters) {
      const index = counters.findIndex((c) => (counts.get(key(c)) ?? 0) >= c.max)
      return index < 0 ? null : { index, retryAfterMs: 1_000 }
    },
    async clear(scope, id) {
      counts.delete(`${scope}:${id}`)
    },
    async countFailures(counters) {
      for (const c of counters) counts.set(key(c), (counts.get(key(c)) ?? 0) + 1)
    },
  }
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
    const throttle = memoryThrottle()
    const guard = new LoginGuard(throttle)
    for (let i = 0; i < 10; i += 1) await guard.failed(attempt(null))
    t.same(await guard.check(attempt(null)), { kind: 'account-locked', retryAfterMs: 1_000 })
    t.same(await guard.check(attempt('dev1')), { kind: 'ok' }, 'the student on their own browser')
    for (let i = 0; i < 10; i += 1) await guard.failed(attempt('dev1'))
    t.same(await guard.check(attempt('dev1')), { kind: 'device-limited', retryAfterMs: 1_000 })
    t.equal(
      throttle.counts.get('account:S1'),
      10,
      'device failures do not count against the account',
    )
    await guard.unlock('S1')
    t.same(await guard.check(attempt(null)), { kind: 'ok' }, 'an unlocked account may try again')
  },
)

t.test('an address over its limit is refused before the account is looked at', async (t) => {
  const throttle = memoryThrottle()
  throttle.counts.set('address:10.0.0.1', 100)
  throttle.counts.set('account:S1', 10)
  t.same(await new LoginGuard(throttle).check(attempt(null)), {
    kind: 'address-limited',
    retryAfterMs: 1_000,
  })
})
