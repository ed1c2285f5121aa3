import t, { type Test } from 'tap'
import { Cancellation } from '../../src/domain/cancellation.js'
import { embeddedStore, rushState } from './support/world.js'

async function world(t: Test) {
  const data = await embeddedStore(t, {
    students: ['S1', 'S2', 'S3', 'S4', 'S5', 'S6', 'S7', 'S8'],
    courses: [
      { id: 'C1', capacity: 2, credits: 3 },
      { id: 'BIG', capacity: 100, credits: 16 },
    ],
  })
  await data.place('C1', {
    enroll: [
      ['S1', 'a'],
      ['S2', 'b'],
    ],
    course: { enrolled: 2, version: 7, decidedThrough: 0 },
  })
  const { store } = data
  const { seats, memory } = rushState(t)
  const events: string[] = []
  const cancellation = new Cancellation(
    { store, seats },
    {
      reflectionFailed: (_err, _c, attempt) => events.push(`failed ${attempt}`),
      reflected: (_c, attempt) => events.push(`reflected ${attempt}`),
    },
  )
  t.teardown(() => cancellation.stop())
  return {
    data,
    store,
    seats,
    /** The seat cache of a course, as the rush state holds it. */
    cached: (courseId: string) => {
      const cached = memory.courses.get(courseId)?.seats
      return cached && { seatsLeft: cached.left, version: cached.version }
    },
    /** Cancellations of a course marked in flight. */
    marks: (courseId: string) => memory.courses.get(courseId)?.cancelling,
    enrolled: () => data.enrolled('C1'),
    waitlist: () => data.waitlist('C1'),
    /** Appends places to C1's waitlist, as [student, request]. */
    addToWaitlist: (...places: Array<readonly [string, string]>) =>
      data.place('C1', { waitlist: places }),
    cancellation,
    events,
  }
}

t.test('the freed seat goes to the waitlist head, in the same transaction', async (t) => {
  const w = await world(t)
  await w.addToWaitlist(['S3', 'w3'], ['S4', 'w4'])
  const result = await w.cancellation.cancel('S1', 'C1')
  t.same(result, {
    ok: true,
    promoted: { studentId: 'S3', requestId: 'w3' },
    dropped: [],
    seatsLeft: 0,
    versionBefore: 7,
    version: 8,
  })
  t.same((await w.enrolled()).sort(), ['S2', 'S3'])
  t.same(await w.waitlist(), [{ studentId: 'S4', requestId: 'w4' }], 'the next one moved up')
  t.equal(w.data.transactions, 1)
  t.same(w.cached('C1'), { seatsLeft: 0, version: 8 }, 'the seat cache heard of it')
  t.equal(w.marks('C1')?.size, 0, 'and the in-flight mark is gone')
})

t.test('heads the rules no longer allow are dropped, and the seat offered on', async (t) => {
  const w = await world(t)
  // S5 reached the credit limit meanwhile; S6 is enrolled already; S7's account is gone.
  await w.data.add({ students: [{ id: 'S5', maxCredits: 18 }] })
  await w.data.place('BIG', { enroll: [['S5', 'x']] })
  await w.data.place('C1', { enroll: [['S6', 'y']] })
  await w.addToWaitlist(['S5', 'w5'], ['S6', 'w6'], ['S7', 'w7'], ['S8', 'w8'])
  w.data.dropAccount('S7')
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
  t.same(await w.waitlist(), [])
})

t.test('without a waitlist the seat is simply free', async (t) => {
  const w = await world(t)
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
  const w = await world(t)
  t.same(await w.cancellation.cancel('S3', 'C1'), { ok: false })
  t.same(await w.cancellation.cancel('S1', 'NOPE'), { ok: false })
  t.equal(await w.data.version('C1'), 7)
  t.equal(w.marks('C1')?.size ?? 0, 0, 'the mark is taken back')
})

t.test('a refused mark refuses the cancellation before the store is touched', async (t) => {
  const w = await world(t)
  w.seats.markCancellation = async () => {
    throw new Error('cache away')
  }
  await t.rejects(w.cancellation.cancel('S1', 'C1'), /cache away/)
  t.equal(w.data.transactions, 0)
  t.ok((await w.enrolled()).includes('S1'))
})

t.test('a reflection that fails is retried until the cache hears of it', async (t) => {
  const w = await world(t)
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
  t.same(w.cached('C1'), { seatsLeft: 1, version: 8 })
})
