import t, { type Test } from 'tap'
import { Carts, MAX_CART_ITEMS } from '../../src/domain/cart.js'
import { Catalogue } from '../../src/domain/catalogue.js'
import { EnrollmentRequests } from '../../src/domain/enrollment-requests.js'
import { StudentDirectory } from '../../src/domain/students.js'
import { embeddedStore, rushState } from './support/world.js'

const ids = Array.from({ length: 20 }, (_, i) => `C${i + 1}`)

async function world(t: Test, opensAt: Date | null = null) {
  const { store } = await embeddedStore(t, {
    students: ['S1'],
    courses: ids.map((id) => ({ id, capacity: 10 })),
  })
  const rush = rushState(t)
  const { queue, memory } = rush
  await rush.sessions.create('s', 'S1')
  const requests = new EnrollmentRequests(
    { queue, records: store },
    new Catalogue(store),
    new StudentDirectory(store),
    { opensAt, closesAt: null },
    () => undefined,
  )
  let n = 0
  return { carts: new Carts(store, requests), queue, memory, nextId: () => `r${(n += 1)}` }
}

/**
 * When a course's first queued request arrived: the in-process queue numbers every course from
 * one counter, so arrivals compare across courses.
 */
async function arrival(w: Awaited<ReturnType<typeof world>>, courseId: string) {
  return (await w.queue.head(courseId, 1))[0]?.arrival ?? 0
}

t.test(
  'a cart filled before opening is requested in its order, one queue entry each',
  async (t) => {
    const opensAt = new Date('2026-02-10T01:00:00Z')
    const w = await world(t, opensAt)
    for (const c of ['C3', 'C1', 'C2', 'C1']) t.equal(await w.carts.add('S1', c), 'added')
    t.same(
      (await w.carts.list('S1')).map((i) => i.courseId),
      ['C3', 'C1', 'C2'],
      'in the order added, once each',
    )
    const early = await w.carts.requestAll(
      { sessionId: 's', studentId: 'S1' },
      w.nextId,
      opensAt.getTime() - 1,
    )
    t.same(
      early.map((r) => r.result.kind),
      ['closed'],
      'before opening: closed, and nothing queued',
    )
    t.equal(w.memory.requests.size, 0)

    const results = await w.carts.requestAll(
      { sessionId: 's', studentId: 'S1' },
      w.nextId,
      opensAt.getTime(),
    )
    t.same(
      results.map((r) => [r.courseId, r.result.kind]),
      [
        ['C3', 'created'],
        ['C1', 'created'],
        ['C2', 'created'],
      ],
    )
    t.ok(
      (await arrival(w, 'C3')) < (await arrival(w, 'C1')) &&
        (await arrival(w, 'C1')) < (await arrival(w, 'C2')),
      'first choice, earliest arrival',
    )
  },
)

t.test('a cart holds a bounded number of real courses', async (t) => {
  const w = await world(t)
  t.equal(await w.carts.add('S1', 'NOPE'), 'course-not-found')
  for (const c of ids.slice(0, MAX_CART_ITEMS)) t.equal(await w.carts.add('S1', c), 'added')
  t.equal(await w.carts.add('S1', ids[MAX_CART_ITEMS] as string), 'cart-full')
  t.equal(await w.carts.add('S1', 'C1'), 'added', 'a course already there is fine')
  t.equal(await w.carts.remove('S1', 'C1'), true)
  t.equal(await w.carts.remove('S1', 'C1'), false)
})

t.test('a cart put in a new order is asked for in that order', async (t) => {
  const opensAt = new Date('2026-02-10T01:00:00Z')
  const w = await world(t, opensAt)
  for (const c of ['C1', 'C2', 'C3']) await w.carts.add('S1', c)
  t.match(await w.carts.reorder('S1', ['C2', 'C3', 'C1']), {
    kind: 'reordered',
    items: [{ courseId: 'C2' }, { courseId: 'C3' }, { courseId: 'C1' }],
  })
  t.same(await w.carts.reorder('S1', ['C2', 'C2', 'C1']), { kind: 'cart-changed' }, 'twice')
  t.same(await w.carts.reorder('S1', ['C2', 'C1']), { kind: 'cart-changed' }, 'one missing')
  await w.carts.requestAll({ sessionId: 's', studentId: 'S1' }, w.nextId, opensAt.getTime())
  t.ok(
    (await arrival(w, 'C2')) < (await arrival(w, 'C3')) &&
      (await arrival(w, 'C3')) < (await arrival(w, 'C1')),
    'the first of the new order gets the earliest place',
  )
})
