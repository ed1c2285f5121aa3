import t from 'tap'
import { PasswordChecks } from '../../src/domain/password-checks.js'

/** Lets every settled promise's reactions run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve))

t.test('at most atOnce run; a login waits only while its expected wait is short', async (t) => {
  let now = 0
  // Turns taken to last 100 ms until measured; two at once; at most 100 ms of waiting.
  const checks = new PasswordChecks({ atOnce: 2, maxWaitMs: 100, now: () => now })
  const first = await checks.enter()
  t.ok(await checks.enter(), 'the second runs at once too')
  let third: (() => void) | null = null
  const waiting = checks.enter()
  t.ok(waiting, 'the third waits: 50 ms expected')
  void waiting!.then((end) => (third = end))
  t.ok(checks.enter(), 'the fourth too: 100 ms expected')
  t.equal(checks.enter(), null, 'the fifth is refused: 150 ms expected')
  await settle()
  t.equal(third, null, 'still waiting')

  now = 10
  first!()
  first!() // a second end of the same turn frees nothing more, and measures nothing
  await settle()
  t.type(third, 'function', 'the turn passed to the first one waiting')
  t.equal(checks.load.running, 2)
  t.equal(checks.load.waiting, 1)
  t.equal(checks.load.turnMs, 82, 'a 10 ms turn moved the estimate from 100 ms')
})

t.test('the wait bound follows how long turns take', async (t) => {
  let now = 0
  const checks = new PasswordChecks({ atOnce: 1, maxWaitMs: 50, now: () => now })
  const end = await checks.enter()
  t.equal(checks.enter(), null, 'refused while a turn is taken to last 100 ms')
  now = 1
  end!()
  // Quick turns (a cheap hash, a fast machine) make room for more to wait.
  for (let i = 0; i < 30; i += 1) {
    const turn = await checks.enter()
    now += 1
    turn!()
  }
  t.ok(checks.load.turnMs < 2, `turns now take ${checks.load.turnMs.toFixed(2)} ms`)
  const held = await checks.enter()
  const queued = Array.from({ length: 20 }, () => checks.enter())
  t.ok(
    queued.every((q) => q !== null),
    '20 wait where none could before',
  )
  now += 1
  held!()
  for (const q of queued) (await q!)()
  t.same({ running: checks.load.running, waiting: checks.load.waiting }, { running: 0, waiting: 0 })
})

t.test('many at once: never more running than allowed, none lost', async (t) => {
  for (let round = 0; round < 20; round += 1) {
    const atOnce = 1 + (round % 4)
    const checks = new PasswordChecks({ atOnce, maxWaitMs: (round % 5) * 100 })
    let running = 0
    let most = 0
    let served = 0
    let refused = 0
    await Promise.all(
      Array.from({ length: 40 }, async (_, i) => {
        const turn = checks.enter()
        if (!turn) {
          refused += 1
          return
        }
        const end = await turn
        running += 1
        most = Math.max(most, running)
        // Work that ends in a later turn of the loop, in varying order.
        for (let k = 0; k < i % 3; k += 1) await settle()
        running -= 1
        served += 1
        end()
      }),
    )
    t.ok(most <= atOnce, `round ${round}: ${most} at once, ${atOnce} allowed`)
    t.ok(served >= atOnce, 'the first ones in were served')
    t.equal(served + refused, 40, 'every one served or refused')
    t.same(
      { running: checks.load.running, waiting: checks.load.waiting },
      { running: 0, waiting: 0 },
    )
  }
})

t.test('it needs at least one turn', async (t) => {
  t.throws(() => new PasswordChecks({ atOnce: 0, maxWaitMs: 10 }))
})

t.test(
  'background work goes after every login waiting and never lengthens their wait',
  async (t) => {
    let now = 0
    const checks = new PasswordChecks({ atOnce: 1, maxWaitMs: 100, now: () => now })
    const order: string[] = []
    const running = await checks.enter()
    const rehashes = [checks.whenIdle(), checks.whenIdle(), checks.whenIdle()]
    t.ok(
      rehashes.every((r) => r !== null),
      'background work waits however long the wait',
    )
    const login = checks.enter()
    t.ok(login, 'a login still waits: background work is not counted in its expected wait')
    void login!.then((end) => {
      order.push('login')
      end()
    })
    rehashes.forEach(
      (r, i) =>
        void r!.then((end) => {
          order.push(`rehash ${i}`)
          end()
        }),
    )
    t.same(checks.load, { running: 1, waiting: 1, background: 3, turnMs: 100 })
    now = 10
    running!()
    await settle()
    await settle()
    t.same(order, ['login', 'rehash 0', 'rehash 1', 'rehash 2'], 'the login first')
    t.equal(checks.load.running, 0)
    const idle = await checks.whenIdle()
    t.equal(checks.load.running, 1, 'an idle turn is taken at once')
    idle!()
  },
)
