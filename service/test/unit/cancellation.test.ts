import t from 'tap'
import { Cancellation } from '../../src/domain/cancellation.js'
import { MemoryQueue, MemoryStore } from './support/memory.js'

function world() {
  const store = new MemoryStore()
  const seats = new MemoryQueue()
  store.addCourse('C1', 2, 3)
  store.addCourse('BIG', 100, 16)
  for (let i = 1; i <= 8; i += 1) store.addStudent(`S${i}`)
  const enrolled = store.enrollments.get('C1') as Map<string, string | null>
  enrolled.set('S1', 'a').set('S2', 'b')
  Object.assign(store.courses.get('C1') as object, { enrolled: 2, version: 7 })
  const waitlist = store.waitlists.get('C1') as Array<{ studentId: string; requestId: string }>
  const events: string[] = []
  const cancellation = new Cancellation(
    { store, seats },
    {
      reflectionFailed: (_err, _c, attempt) => events.push(`failed ${attempt}`),
      reflected: (_c, attempt) => events.push(`reflected ${attempt}`),
    },
  )
  t.teardown(() => cancellation.stop())
  return { store, seats, enrolled, waitlist, cancellation, events }
}

t.test('the freed seat goes to the waitlist head, in the same transaction', async (t) => {
  const w = world()
  w.waitlist.push({ studentId: 'S3', requestId: 'w3' }, { studentId: 'S4', requestId: 'w4' })
  const result = await w.cancellation.cancel('S1', 'C1')
  t.same(result, {
    ok: true,
    promoted: { studentId: 'S3', requestId: 'w3' },
    dropped: [],
    seatsLeft: 0,
    versionBefore: 7,
    version: 8,
  })
  t.same([...w.enrolled.keys()].sort(), ['S2', 'S3'])
  t.same(w.waitlist, [{ studentId: 'S4', requestId: 'w4' }], 'the next one moved up')
  t.equal(w.store.transactions, 1)
  t.same(w.seats.seats.get('C1'), { seatsLeft: 0, version: 8 }, 'the seat cache heard of it')
  t.equal(w.seats.cancelling.get('C1')?.size, 0, 'and the in-flight mark is gone')
})

t.test('heads the rules no longer allow are dropped, and the seat offered on', async (t) => {
  const w = world()
  // S5 reached the credit limit meanwhile; S6 is enrolled already; S7's account is gone.
  w.store.addStudent('S5', 18)
  w.store.enrollments.get('BIG')?.set('S5', 'x')
  w.enrolled.set('S6', 'y')
  w.store.maxCredits.delete('S7')
  w.waitlist.push(
    { studentId: 'S5', requestId: 'w5' },
    { studentId: 'S6', requestId: 'w6' },
    { studentId: 'S7', requestId: 'w7' },
    { studentId: 'S8', requestId: 'w8' },
  )
  const result = await w.cancellation.cancel('S1', 'C1')
  t.ok(result.ok)
  if (!result.ok) return
  t.same(result.promoted, { studentId: 'S8', requestId: 'w8' })
  t.same(
    result.dropped.map((d) => [d.studentId, d.reason]),
    [
      ['S5', 'CREDIT_LIMIT'],
      ['S6', 'ALREADY_ENROLLED'],
      ['S7', 'CREDIT_LIMIT'],
    ],
  )
  t.same(w.waitlist, [])
})

t.test('without a waitlist the seat is simply free', async (t) => {
  const w = world()
  const result = await w.cancellation.cancel('S2', 'C1')
  t.same(result, {
    ok: true,
    promoted: null,
    dropped: [],
    seatsLeft: 1,
    versionBefore: 7,
    version: 8,
  })
})

t.test('cancelling what one does not hold changes nothing', async (t) => {
  const w = world()
  t.same(await w.cancellation.cancel('S3', 'C1'), { ok: false })
  t.same(await w.cancellation.cancel('S1', 'NOPE'), { ok: false })
  t.equal(w.store.courses.get('C1')?.version, 7)
  t.equal(w.seats.cancelling.get('C1')?.size ?? 0, 0, 'the mark is taken back')
})

t.test('a refused mark refuses the cancellation before the store is touched', async (t) => {
  const w = world()
  w.seats.markCancellation = async () => {
    throw new Error('cache away')
  }
  await t.rejects(w.cancellation.cancel('S1', 'C1'), /cache away/)
  t.equal(w.store.transactions, 0)
  t.ok(w.enrolled.has('S1'))
})

t.test('a reflection that fails is retried until the cache hears of it', async (t) => {
  const w = world()
  const reflect = w.seats.reflectCancellation.bind(w.seats)
  let failuresLeft = 2
  w.seats.reflectCancellation = async (courseId, change) => {
    if (failuresLeft > 0) {
      failuresLeft -= 1
      throw new Error('cache away')
    }
    return reflect(courseId, change)
  }
  const result = await w.cancellation.cancel('S1', 'C1')
  t.ok(result.ok, 'the cancellation is committed and answered at once')
  for (;;) {
    if (w.events.includes('reflected 3')) break
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  t.same(w.events, ['failed 1', 'failed 2', 'reflected 3'])
  t.same(w.seats.seats.get('C1'), { seatsLeft: 1, version: 8 })
})
