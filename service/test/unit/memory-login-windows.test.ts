// The embedded store names a login counter's window by when it ends, as Redis's PEXPIRETIME
// does: read as stored, so that a clock that ticks between two reads cannot name one window
// two ways (a right password would then not be given back).
import t from 'tap'
import { createMemoryRushState } from '../../src/adapters/memory/index.js'

t.test('a released attempt is given back however the clock moves within its window', async (t) => {
  // The clock moves on at some reads and not at others, as a real one does at a millisecond's
  // edge (a busy machine crosses more of them).
  let now = 1_700_000_000_000
  let reads = 0
  const { logins } = createMemoryRushState({
    sessionTtlSeconds: 60,
    decidedTtlSeconds: 60,
    requestBudget: { max: 10, windowMs: 10_000 },
    clock: () => (now += reads++ % 3 === 0 ? 1 : 0),
    sweepIntervalMs: 3_600_000,
  })
  const account = { scope: 'account', id: 'S1', max: 1, windowMs: 60_000 } as const
  for (let round = 0; round < 20; round += 1) {
    const first = await logins.reserve([account])
    t.equal(first.kind, 'reserved', `round ${round}: reserved`)
    if (first.kind !== 'reserved') return
    t.equal((await logins.reserve([account])).kind, 'refused', 'at its max')
    await logins.release(first.reservation)
    const again = await logins.reserve([account])
    t.equal(again.kind, 'reserved', 'the released attempt made room')
    if (again.kind === 'reserved') await logins.release(again.reservation)
  }
})
