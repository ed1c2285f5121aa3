import t from 'tap'
import { Carts, MAX_CART_ITEMS } from '../../src/domain/cart.js'
import { Catalogue } from '../../src/domain/catalogue.js'
import { EnrollmentRequests } from '../../src/domain/enrollment-requests.js'
import type { CartItem, Course } from '../../src/domain/model.js'
import type { CartStore } from '../../src/domain/ports.js'
import { StudentDirectory } from '../../src/domain/students.js'
import { MemoryQueue } from './support/memory.js'

const ids = Array.from({ length: 20 }, (_, i) => `C${i + 1}`)
const course = (id: string): Course => ({
  id,
  title: id,
  professor: 'P',
  credits: 3,
  capacity: 10,
  enrolled: 0,
  meetings: [],
})

function world(opensAt: Date | null = null) {
  const carts = new Map<string, CartItem[]>()
  const store: CartStore = {
    listCart: async (s) => [...(carts.get(s) ?? [])],
    // The stores' rule, pinned by the adapter contract test.
    addToCart: async (s, c, limit) => {
      if (!ids.includes(c)) return 'course-not-found'
      const list = carts.get(s) ?? []
      if (list.some((i) => i.courseId === c)) return 'added'
      if (list.length >= limit) return 'cart-full'
      list.push({ courseId: c, addedAt: new Date() })
      carts.set(s, list)
      return 'added'
    },
    removeFromCart: async (s, c) => {
      const list = carts.get(s) ?? []
      carts.set(
        s,
        list.filter((i) => i.courseId !== c),
      )
      return list.some((i) => i.courseId === c)
    },
    reorderCart: async (s, order) => {
      const list = carts.get(s) ?? []
      if (list.length !== order.length || !order.every((c) => list.some((i) => i.courseId === c)))
        return false
      carts.set(
        s,
        order.map((c) => list.find((i) => i.courseId === c) as CartItem),
      )
      return true
    },
  }
  const queue = new MemoryQueue()
  const catalogue = new Catalogue({
    listCourses: async () => ids.map(course),
    findCourse: async (id) => (ids.includes(id) ? course(id) : null),
  })
  const students = new StudentDirectory({
    findStudent: async (id) => ({ id, name: id, passwordHash: '', year: 1, maxCredits: 18 }),
    updatePasswordHash: async () => undefined,
  })
  const requests = new EnrollmentRequests(
    { queue, records: { listEnrollments: async () => [], findDurableRequest: async () => null } },
    catalogue,
    students,
    { opensAt, closesAt: null },
    () => undefined,
  )
  let n = 0
  return { carts: new Carts(store, requests), queue, nextId: () => `r${(n += 1)}` }
}

t.test(
  'a cart filled before opening is requested in its order, one queue entry each',
  async (t) => {
    const opensAt = new Date('2026-02-10T01:00:00Z')
    const w = world(opensAt)
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
    t.equal(w.queue.requests.size, 0)

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
    const arrival = (courseId: string) =>
      [...w.queue.requests.values()].find((r) => r.courseId === courseId)?.arrival ?? 0
    t.ok(
      arrival('C3') < arrival('C1') && arrival('C1') < arrival('C2'),
      'first choice, earliest arrival',
    )
  },
)

t.test('a cart holds a bounded number of real courses', async (t) => {
  const w = world()
  t.equal(await w.carts.add('S1', 'NOPE'), 'course-not-found')
  for (const c of ids.slice(0, MAX_CART_ITEMS)) t.equal(await w.carts.add('S1', c), 'added')
  t.equal(await w.carts.add('S1', ids[MAX_CART_ITEMS] as string), 'cart-full')
  t.equal(await w.carts.add('S1', 'C1'), 'added', 'a course already there is fine')
  t.equal(await w.carts.remove('S1', 'C1'), true)
  t.equal(await w.carts.remove('S1', 'C1'), false)
})

t.test('a cart put in a new order is asked for in that order', async (t) => {
  const opensAt = new Date('2026-02-10T01:00:00Z')
  const w = world(opensAt)
  for (const c of ['C1', 'C2', 'C3']) await w.carts.add('S1', c)
  t.match(await w.carts.reorder('S1', ['C2', 'C3', 'C1']), {
    kind: 'reordered',
    items: [{ courseId: 'C2' }, { courseId: 'C3' }, { courseId: 'C1' }],
  })
  t.same(await w.carts.reorder('S1', ['C2', 'C2', 'C1']), { kind: 'cart-changed' }, 'twice')
  t.same(await w.carts.reorder('S1', ['C2', 'C1']), { kind: 'cart-changed' }, 'one missing')
  await w.carts.requestAll({ sessionId: 's', studentId: 'S1' }, w.nextId, opensAt.getTime())
  const arrival = (courseId: string) =>
    [...w.queue.requests.values()].find((r) => r.courseId === courseId)?.arrival ?? 0
  t.ok(
    arrival('C2') < arrival('C3') && arrival('C3') < arrival('C1'),
    'the first of the new order gets the earliest place',
  )
})
