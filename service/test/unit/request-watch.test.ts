import t, { type Test } from 'tap'
import { Catalogue } from '../../src/domain/catalogue.js'
import { EnrollmentRequests } from '../../src/domain/enrollment-requests.js'
import type { Decision } from '../../src/domain/model.js'
import {
  RequestWatch,
  type WatchSettings,
  type WatchUpdate,
} from '../../src/domain/request-watch.js'
import { StudentDirectory } from '../../src/domain/students.js'
import { logIn, rushState } from './support/world.js'

function world(t: Test, students: number, settings: Partial<WatchSettings> = {}) {
  const rush = rushState(t)
  const { queue, seats, leases, memory } = rush
  /** Where the store has each waitlisted request (the queue keeps no places in this world). */
  const places = new Map<string, number>()
  const course = {
    id: 'C1',
    title: 'C1',
    professor: 'P',
    credits: 3,
    capacity: 9,
    enrolled: 0,
    meetings: [],
  }
  const requests = new EnrollmentRequests(
    {
      queue,
      records: {
        listEnrollments: async () => [],
        findDurableRequest: async (requestId) => {
          const position = places.get(requestId)
          const studentId = `S${requestId.slice(1)}`
          return position === undefined
            ? null
            : { status: 'waitlisted', courseId: 'C1', studentId, position }
        },
      },
    },
    new Catalogue({ listCourses: async () => [course], findCourse: async () => course }),
    new StudentDirectory({
      findStudent: async (id) => ({ id, name: id, passwordHash: '', year: 1, maxCredits: 18 }),
      updatePasswordHash: async () => undefined,
    }),
    { opensAt: null, closesAt: null },
    () => undefined,
  )
  const rounds: number[] = []
  const watch = new RequestWatch(
    { queue, seats },
    requests,
    {
      round: (_s, updates) => rounds.push(updates),
      error: (err) => {
        throw err
      },
    },
    settings,
  )
  const ids: string[] = []
  const ready = (async () => {
    await logIn(
      rush,
      Array.from({ length: students }, (_, i) => `S${i + 1}`),
    )
    for (let i = 1; i <= students; i += 1) {
      await requests.submit({
        sessionId: `S${i}`,
        studentId: `S${i}`,
        courseId: 'C1',
        requestId: `r${i}`,
        waitlist: false,
      })
      ids.push(`r${i}`)
    }
    await leases.acquireCourse('C1', 'w', 1_000_000)
  })()
  /** Lets go of the head of the queue, as a worker does. */
  const letGo = async (n: number, status: 'enrolled' | 'rejected' = 'rejected') => {
    const head = await queue.head('C1', n)
    const decisions: Decision[] = head.map((h) =>
      status === 'enrolled'
        ? { requestId: h.requestId, studentId: h.studentId, status }
        : { requestId: h.requestId, studentId: h.studentId, status, reason: 'COURSE_FULL' },
    )
    await queue.settle('C1', 'w', decisions, { seatsLeft: 0, versionBefore: 0, version: 1 })
  }
  /** Puts the head of the queue on the waitlist in its order, in the queue and in the store. */
  const waitlist = async (n: number) => {
    const head = await queue.head('C1', n)
    await queue.settle(
      'C1',
      'w',
      head.map((h, i) => ({
        requestId: h.requestId,
        studentId: h.studentId,
        status: 'waitlisted' as const,
        place: i + 1,
      })),
      { seatsLeft: 0, versionBefore: 0, version: 1 },
    )
    head.forEach((h, i) => places.set(h.requestId, i + 1))
  }
  return { queue, seats, memory, watch, ids, ready, letGo, waitlist, rounds, places }
}

t.test('one read per round tells every watcher its place, however many watch', async (t) => {
  const w = world(t, 200)
  await w.ready
  const seen = new Map<string, WatchUpdate[]>()
  for (let i = 1; i <= 200; i += 1) {
    await w.watch.watch(`S${i}`, [`r${i}`], (u) =>
      seen.set(`r${i}`, [...(seen.get(`r${i}`) ?? []), u]),
    )
  }
  t.equal(w.watch.size, 200)
  let reads = 0
  let progressReads = 0
  const request = w.queue.request.bind(w.queue)
  w.queue.request = async (id) => {
    reads += 1
    return request(id)
  }
  const progress = w.queue.progress.bind(w.queue)
  w.queue.progress = async (courses) => {
    progressReads += 1
    return progress(courses)
  }
  await w.letGo(10)
  await w.watch.tick()
  await w.letGo(30)
  await w.watch.tick()
  t.equal(progressReads, 2, 'one progress read per round')
  t.equal(reads, 40, 'request reads only for the 40 that were decided (once each)')
  t.same(
    seen
      .get('r200')
      ?.map((u) => (u.status === 'queued' ? u.position : u.status))
      .slice(0, 2),
    [200, 190],
  )
  t.match(seen.get('r200')?.at(-1), { status: 'queued', position: 160 })
  t.ok((seen.get('r200')?.at(-1)?.estimatedWaitSeconds ?? 0) > 0, 'with an estimated wait')
  t.match(seen.get('r5')?.at(-1), { status: 'rejected', reason: 'COURSE_FULL' })
  t.equal(w.watch.size, 160, 'decided requests are no longer watched')
})

t.test('a student only ever watches their own requests; several listeners share one', async (t) => {
  const w = world(t, 3)
  await w.ready
  const mine: WatchUpdate[] = []
  const other: WatchUpdate[] = []
  const stopMine = await w.watch.watch('S3', ['r3', 'r1'], (u) => mine.push(u))
  const stopTab = await w.watch.watch('S3', ['r3'], (u) => other.push(u))
  t.same(
    mine.map((u) => u.requestId),
    ['r3'],
    "another student's request is ignored",
  )
  t.equal(w.watch.listeners, 2)
  stopMine()
  t.equal(w.watch.size, 1, 'still watched by the other tab')
  stopTab()
  t.equal(w.watch.size, 0)
})

t.test('a place that drifted (its queue lost its count) is read again, not guessed', async (t) => {
  const w = world(t, 5)
  await w.ready
  const seen: WatchUpdate[] = []
  await w.watch.watch('S5', ['r5'], (u) => seen.push(u))
  await w.letGo(2)
  await w.watch.tick()
  t.match(seen.at(-1), { status: 'queued', position: 3 })
  w.memory.course('C1').removed = 0 // as after losing the count
  await w.letGo(1)
  await w.watch.tick()
  t.match(seen.at(-1), { status: 'queued', position: 2 }, 'the true place, from the queue itself')
})

t.test(
  "a change of a course's waitlist on this instance is pushed at the next round, not the next re-read",
  async (t) => {
    const w = world(t, 3)
    await w.ready
    await w.waitlist(3)
    const seen: WatchUpdate[] = []
    await w.watch.watch('S3', ['r3'], (u) => seen.push(u))
    t.match(seen, [{ status: 'waitlisted', position: 3 }])

    // S2 leaves: the store moves S3 up. A plain round does not re-read a waitlisted request
    // before its turn (every 10 s)...
    w.places.delete('r2')
    w.places.set('r3', 2)
    await w.watch.tick()
    t.equal(seen.length, 1, 'not re-read by a plain round')
    // ...but the instance that took the leave says the course changed, and the next round does.
    w.watch.courseChanged('C1')
    await w.watch.tick()
    t.match(seen, [{ position: 3 }, { status: 'waitlisted', position: 2 }])
  },
)

t.test('a stream reopened with one more request reads only that one', async (t) => {
  const w = world(t, 3)
  await w.ready
  let reads = 0
  const request = w.queue.request.bind(w.queue)
  w.queue.request = async (id) => {
    reads += 1
    return request(id)
  }
  const first: WatchUpdate[] = []
  const stop = await w.watch.watch('S1', ['r1'], (u) => first.push(u))
  t.equal(reads, 1, 'a queued request is read once: its answer and where it joined')
  // The page closes its stream and opens one for its new set of requests.
  stop()
  const second: WatchUpdate[] = []
  const stopSecond = await w.watch.watch('S1', ['r1', 'r2', 'r3'], (u) => second.push(u))
  t.equal(reads, 3, 'only the requests not watched before are read (r2, r3: not the student’s)')
  t.same(
    second.map((u) => u.requestId),
    ['r1'],
    'the request the old stream watched is answered at once, from what is known',
  )
  t.equal(w.watch.size, 1)
  await w.letGo(1, 'enrolled')
  await w.watch.tick()
  t.match(second.at(-1), { requestId: 'r1', status: 'enrolled' }, 'and followed on')
  stopSecond()
  t.equal(w.watch.size, 0, 'nobody listens any more')
})

t.test(
  "a waitlist change made on another instance is pushed at the next round: the course's version moved",
  async (t) => {
    const w = world(t, 3)
    await w.ready
    await w.waitlist(3)
    const seen: WatchUpdate[] = []
    await w.watch.watch('S3', ['r3'], (u) => seen.push(u))
    await w.watch.tick()
    t.equal(seen.length, 1, 'nothing changed, nothing sent')

    // S2 leaves through another instance: the store moves S3 up and the queue's cache of the
    // course takes the new version. Nobody calls courseChanged here.
    w.places.delete('r2')
    w.places.set('r3', 2)
    await w.seats.reflectCancellation('C1', {
      cancellationId: 'x',
      studentId: 'S2',
      seatsLeft: 0,
      versionBefore: 1,
      version: 2,
      promoted: null,
      dropped: [],
    })
    await w.watch.tick()
    t.match(seen, [{ position: 3 }, { status: 'waitlisted', position: 2 }], 'moved up at once')

    // A seat is handed to S3 on another instance: the promotion comes at the next round too.
    w.places.delete('r3')
    await w.seats.reflectCancellation('C1', {
      cancellationId: 'y',
      studentId: 'S9',
      seatsLeft: 0,
      versionBefore: 2,
      version: 3,
      promoted: { studentId: 'S3', requestId: 'r3' },
      dropped: [],
    })
    await w.watch.tick()
    t.match(seen.at(-1), { requestId: 'r3', status: 'enrolled' }, 'the promotion, pushed')
  },
)

t.test(
  'the wait estimate is there at the first round after joining, once the queue moved',
  async (t) => {
    let now = 1_000_000
    const w = world(t, 100, { now: () => now })
    await w.ready
    const seen: WatchUpdate[] = []
    await w.watch.watch('S100', ['r100'], (u) => seen.push(u))
    t.match(seen, [{ status: 'queued', position: 100 }])
    t.equal(seen[0]?.estimatedWaitSeconds, undefined, 'no pace measured yet: no number')
    now += 1000
    await w.letGo(10)
    await w.watch.tick()
    t.match(seen.at(-1), { position: 90, estimatedWaitSeconds: 9 }, '10 a second, 90 ahead')
  },
)

t.test(
  'a queue that stalls slows the estimate down instead of keeping its best pace',
  async (t) => {
    let now = 1_000_000
    const w = world(t, 200, { now: () => now, rateWindowMs: 10_000 })
    await w.ready
    const seen: WatchUpdate[] = []
    await w.watch.watch('S200', ['r200'], (u) => seen.push(u))
    // 20 a second for 2 s ...
    for (let i = 0; i < 2; i += 1) {
      now += 1000
      await w.letGo(20)
      await w.watch.tick()
    }
    t.match(seen.at(-1), { position: 160, estimatedWaitSeconds: 8 })
    // ... then the worker serves other courses for 2 s: 40 in 4 s is 10 a second.
    for (let i = 0; i < 2; i += 1) {
      now += 1000
      await w.watch.tick()
    }
    t.match(seen.at(-1), { position: 160, estimatedWaitSeconds: 16 }, 'the stall counts')
    // Still for longer than the window: no pace, so no number rather than an old one.
    now += 11_000
    await w.watch.tick()
    t.match(seen.at(-1), { status: 'queued', position: 160 })
    t.equal(seen.at(-1)?.estimatedWaitSeconds, undefined, 'the estimate is withdrawn')
  },
)

t.test(
  'the wait before the worker first reaches a course says nothing of its pace once it does',
  async (t) => {
    let now = 1_000_000
    const w = world(t, 100, { now: () => now })
    await w.ready
    const seen: WatchUpdate[] = []
    await w.watch.watch('S100', ['r100'], (u) => seen.push(u))
    // The worker serves other courses for 5 s ...
    for (let i = 0; i < 5; i += 1) {
      now += 1000
      await w.watch.tick()
    }
    t.equal(seen.length, 1, 'no pace, no number')
    // ... then takes this one: 30 in its first second.
    now += 1000
    await w.letGo(30)
    await w.watch.tick()
    t.match(seen.at(-1), { position: 70, estimatedWaitSeconds: 3 }, 'the pace since it moved')
  },
)
