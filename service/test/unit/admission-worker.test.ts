import t, { type Test } from 'tap'
import {
  AdmissionWorker,
  backoffMs,
  type AdmissionSettings,
} from '../../src/domain/admission-worker.js'
import type { Decision } from '../../src/domain/model.js'
import { embeddedStore, logIn, rushState } from './support/world.js'

const rules = { maxWaitlistPerStudent: 5 }

async function world(t: Test, capacity: number, students: number, startsAt = 0) {
  const ids = Array.from({ length: students }, (_, i) => `S${i + 1}`)
  const data = await embeddedStore(t, { students: ids, courses: [{ id: 'C1', capacity }] })
  const { store } = data
  /** The rush state's time (ms): it moves only when the test moves it. */
  const clock = { now: startsAt }
  const rush = rushState(t, () => clock.now)
  const { queue, leases, memory } = rush
  await logIn(rush, ids)
  const decided: Decision[] = []
  const batches: number[] = []
  let bulk = 0
  const waits: Array<{ seconds: number; throughPause: boolean }> = []
  const errors: unknown[] = []
  const requestIds: string[] = []
  const worker = (settings: Partial<AdmissionSettings> = {}) =>
    new AdmissionWorker({ store, queue, leases }, settings, rules, {
      batch: (_c, _s, decisions) => {
        batches.push(decisions.length)
        decided.push(...decisions)
      },
      bulkRejected: (_c, n) => (bulk += n),
      waited: (seconds, throughPause) => waits.push({ seconds, throughPause }),
      error: (err) => errors.push(err),
    })
  const enqueue = (
    student: string,
    waitlist = false,
    requestId = `r-${student}-${memory.arrivals + 1}`,
  ) => {
    requestIds.push(requestId)
    return queue.enqueue({
      sessionId: student,
      studentId: student,
      courseId: 'C1',
      requestId,
      waitlist,
      refuseWhenFull: false,
    })
  }
  return {
    data,
    store,
    queue,
    leases,
    memory,
    clock,
    worker,
    enqueue,
    decided,
    batches,
    errors,
    bulk: () => bulk,
    waits,
    /** The records of every request enqueued so far. */
    records: () => requestIds.flatMap((id) => memory.requests.get(id) ?? []),
    status: (requestId: string) => {
      const r = memory.requests.get(requestId)
      return r?.status === 'rejected' ? r.reason : r?.status
    },
  }
}

t.test('admits in arrival order, then rejects the rest in bulk without the store', async (t) => {
  for (let round = 0; round < 20; round += 1) {
    const capacity = 1 + Math.floor(Math.random() * 10)
    const students = capacity + 5 + Math.floor(Math.random() * 200)
    const w = await world(t, capacity, students)
    const order = Array.from({ length: students }, (_, i) => `S${i + 1}`).sort(
      () => Math.random() - 0.5,
    )
    for (const s of order) await w.enqueue(s)
    await w.worker({ minBatch: 4, maxBatch: 4 }).drain('C1')

    t.same(
      (await w.data.enrolled('C1')).sort(),
      order.slice(0, capacity).sort(),
      'the first to arrive are enrolled',
    )
    const reasons = new Set(
      w
        .records()
        .filter((r) => r.status !== 'enrolled')
        .map((r) => r.reason),
    )
    t.same([...reasons], ['COURSE_FULL'], 'everyone else is told the course is full')
    t.equal(await w.queue.length('C1'), 0, 'the queue is drained')
    t.ok(w.bulk() > 0, 'most rejections were made in bulk')
    t.ok(w.data.transactions <= Math.ceil(capacity / 4) + 1, `${w.data.transactions} transactions`)
  }
})

t.test(
  'every request decided reports how long it waited, batched or rejected in bulk',
  async (t) => {
    for (let round = 0; round < 10; round += 1) {
      const capacity = 1 + Math.floor(Math.random() * 5)
      const students = capacity + 5 + Math.floor(Math.random() * 60)
      // The queue's clock says each request joined `ago` seconds before now, one every 10 ms.
      const ago = 30 + Math.floor(Math.random() * 60)
      const base = Date.now() - ago * 1000
      const w = await world(t, capacity, students, base)
      for (let i = 0; i < students; i += 1) {
        w.clock.now = base + i * 10
        await w.enqueue(`S${i + 1}`)
      }
      const before = Date.now()
      await w.worker({ minBatch: 2, maxBatch: 4 }).drain('C1')
      const after = Date.now()
      t.equal(await w.queue.length('C1'), 0, 'the queue is drained')
      t.ok(w.bulk() > 0, 'some were rejected in bulk')
      t.equal(w.waits.length, students, 'one wait per request, whichever way it was decided')
      const bad = w.waits.filter(
        (x, i) =>
          x.throughPause ||
          x.seconds * 1000 < before - (base + i * 10) - 1 ||
          x.seconds * 1000 > after - (base + i * 10) + 1,
      )
      t.same(bad, [], 'each from its own join until it was told, in arrival order, no pause')
    }
  },
)

t.test("a wait through an operator's pause says so", async (t) => {
  const w = await world(t, 3, 6, Date.now() - 5_000)
  for (let i = 1; i <= 6; i += 1) await w.enqueue(`S${i}`)
  const asked: number[] = []
  const waits: boolean[] = []
  const gate = {
    pausedFor: () => null,
    pausedSince: (_course: string, since: number) => {
      asked.push(since)
      return true
    },
    ceilingFor: () => 0,
    overallCeiling: () => 0,
  }
  const worker = new AdmissionWorker(
    { store: w.store, queue: w.queue, leases: w.leases, gate },
    {},
    rules,
    {
      batch: () => undefined,
      bulkRejected: () => undefined,
      waited: (_s, throughPause) => waits.push(throughPause),
      error: (err) => t.error(err),
    },
  )
  await worker.drain('C1')
  t.same(waits, [true, true, true, true, true, true], 'every wait is marked as through a pause')
  t.same(asked, Array<number>(6).fill(w.clock.now), 'asked from when each request joined')
})

t.test('batches are bounded by the batch size settings', async (t) => {
  const w = await world(t, 100, 30)
  for (let i = 1; i <= 30; i += 1) await w.enqueue(`S${i}`)
  await w.worker({ minBatch: 7, maxBatch: 7 }).drain('C1')
  t.same(w.batches, [7, 7, 7, 7, 2])
})

t.test('bulk rejection leaves a student the cache knows more of to a batch', async (t) => {
  const w = await world(t, 1, 10)
  // S2 holds a waitlist place through r-old; its request hash has expired, so S2 could ask again.
  await w.data.place('C1', {
    enroll: [['S1', 'seed']],
    waitlist: [['S2', 'r-old']],
    course: { enrolled: 1, version: 0, decidedThrough: 0 },
  })
  await w.enqueue('S3', false, 'first')
  await w.enqueue('S2', false, 'again')
  w.memory.course('C1').live.set('S2', 'r-old')
  await w.enqueue('S4', false, 'after')
  // S1 is enrolled, yet a request of theirs is queued (the cache lost its marker for a moment).
  await w.enqueue('S1', false, 'enrolled-again')
  w.memory.course('C1').live.set('S1', 'E')
  await w.enqueue('S5', false, 'last')

  await w.worker({ minBatch: 1, maxBatch: 1 }).drain('C1')
  t.equal(w.status('first'), 'COURSE_FULL', 'a batch finds the course full')
  t.equal(w.status('again'), 'waitlisted', 'the waitlist place answers to the new request')
  t.equal((await w.data.waitlist('C1'))[0]?.requestId, 'again', 'and the store agrees')
  t.equal(w.status('after'), 'COURSE_FULL')
  t.equal(w.status('enrolled-again'), 'ALREADY_ENROLLED', 'an enrolled student is not told full')
  t.equal(w.status('last'), 'COURSE_FULL')
  t.ok(w.bulk() >= 2, 'the others were rejected in bulk')
})

t.test('bulk rejection stops at the decided-through mark and at a waitlist request', async (t) => {
  const w = await world(t, 1, 10)
  for (const s of ['S2', 'S3']) await w.enqueue(s)
  await w.enqueue('S4', true)
  for (const s of ['S5', 'S6']) await w.enqueue(s)
  // The store may hold a decision for arrivals up to 2 (a worker died before telling the queue).
  await w.data.place('C1', {
    enroll: [['S1', 'seed']],
    course: { enrolled: 1, version: 0, decidedThrough: 2 },
  })
  const seen: string[][] = []
  const admit = w.store.admit.bind(w.store)
  w.store.admit = (courseId, fence, students, decide) => {
    seen.push([...students])
    return admit(courseId, fence, students, decide)
  }
  await w.worker({ minBatch: 1, maxBatch: 1 }).drain('C1')
  t.same(
    seen,
    [['S2'], ['S3'], ['S4']],
    'arrivals up to the mark and the waitlist request went through batches',
  )
  t.equal((await w.data.waitlist('C1'))[0]?.studentId, 'S4')
  t.equal(w.status('r-S5-4'), 'COURSE_FULL')
  t.equal(w.status('r-S6-5'), 'COURSE_FULL')
})

t.test('a worker that does not hold the lease decides nothing', async (t) => {
  const w = await world(t, 2, 3)
  await w.enqueue('S1')
  await w.leases.acquireCourse('C1', 'someone else', 60_000)
  await w.worker().drain('C1')
  t.equal(w.data.transactions, 0)
  t.equal(await w.queue.length('C1'), 1)
})

t.test('a worker whose lease lapsed and was taken stops without settling', async (t) => {
  const w = await world(t, 2, 3)
  for (const s of ['S1', 'S2', 'S3']) await w.enqueue(s)
  const admit = w.store.admit.bind(w.store)
  w.store.admit = async (courseId, fence, students, decide) => {
    const outcome = await admit(courseId, fence, students, decide)
    // While this transaction ran, the lease lapsed and another instance took the course.
    w.clock.now += 60_000
    await w.leases.acquireCourse('C1', 'successor', 60_000)
    return outcome
  }
  await w.worker({ minBatch: 1, maxBatch: 1 }).drain('C1')
  t.equal(w.data.transactions, 1, 'one batch, then it stopped')
  t.equal(await w.queue.length('C1'), 3, 'its decisions were not written to the queue')
  t.equal(w.memory.leases.get('course:C1'), 'successor', 'the successor keeps the lease')
})

t.test('a worker fenced by a successor stops and leaves the requests to it', async (t) => {
  const w = await world(t, 2, 3)
  for (const s of ['S1', 'S2']) await w.enqueue(s)
  const fence = w.store.fence.bind(w.store)
  w.store.fence = async (courseId) => {
    const mine = await fence(courseId)
    await fence(courseId) // a successor fenced right after
    return mine
  }
  await w.worker().drain('C1')
  t.equal((await w.data.enrolled('C1')).length, 0, 'nothing committed')
  t.equal(await w.queue.length('C1'), 2, 'nothing settled')
})

t.test('a lease taken anew (after a pause) fences the course again', async (t) => {
  const w = await world(t, 5, 5)
  for (const s of ['S1', 'S2', 'S3']) await w.enqueue(s)
  let fences = 0
  const fence = w.store.fence.bind(w.store)
  w.store.fence = async (courseId) => {
    fences += 1
    return fence(courseId)
  }
  const settle = w.queue.settle.bind(w.queue)
  w.queue.settle = async (courseId, token, decisions, seats) => {
    const left = await settle(courseId, token, decisions, seats)
    w.clock.now += 60_000 // then the lease lapsed (a long pause); nobody took it
    return left
  }
  await w.worker({ minBatch: 1, maxBatch: 1 }).drain('C1')
  t.equal((await w.data.enrolled('C1')).length, 3, 'every request decided')
  t.ok(fences >= 3, `fenced at the start and after each lapse (${fences})`)
})

t.test('a course that fails is retried with growing pauses', async (t) => {
  const w = await world(t, 5, 5)
  await w.enqueue('S1')
  const failures: number[] = []
  let done: () => void = () => undefined
  const enough = new Promise<void>((resolve) => (done = resolve))
  w.store.admit = async () => {
    failures.push(performance.now())
    if (failures.length === 5) done()
    throw new Error('store away')
  }
  const settings = { idleMs: 20, maxBackoffMs: 10_000 }
  const worker = w.worker(settings)
  worker.start()
  await enough
  await worker.stop()
  t.equal(w.errors.length >= 5, true, 'each failure is reported')
  for (let i = 1; i < failures.length; i += 1) {
    const least = Math.min(settings.maxBackoffMs, settings.idleMs * 2 ** i) / 2
    const gap = (failures[i] as number) - (failures[i - 1] as number)
    t.ok(gap >= least - 5, `pause after failure ${i}: ${Math.round(gap)} ms ≥ ${least} ms`)
  }
})

t.test('a running worker drains every active course and stops cleanly', async (t) => {
  const w = await world(t, 3, 12)
  await w.data.add({ courses: [{ id: 'C2', capacity: 3 }] })
  for (let i = 1; i <= 6; i += 1) {
    await w.enqueue(`S${i}`)
    await w.queue.enqueue({
      sessionId: `S${i + 6}`,
      studentId: `S${i + 6}`,
      courseId: 'C2',
      requestId: `c2-${i}`,
      waitlist: false,
      refuseWhenFull: true,
    })
  }
  const worker = w.worker({ idleMs: 5 })
  worker.start()
  for (;;) {
    if ((await w.queue.length('C1')) === 0 && (await w.queue.length('C2')) === 0) break
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
  await worker.stop()
  t.equal((await w.data.enrolled('C1')).length, 3)
  t.equal((await w.data.enrolled('C2')).length, 3)
  t.equal(w.memory.leases.size, 0, 'every lease was given back')
})

t.test('backoff stays within its bounds and varies', async (t) => {
  const samples = Array.from({ length: 200 }, () => backoffMs(3, 50, 5_000))
  t.ok(
    samples.every((ms) => ms >= 200 && ms <= 400),
    'within [ceiling / 2, ceiling]',
  )
  t.ok(new Set(samples).size > 100, 'jittered')
  t.ok(
    Array.from({ length: 50 }, () => backoffMs(30, 50, 5_000)).every((ms) => ms <= 5_000),
    'capped',
  )
})

t.test('a pace decides a course a tenth of a second’s worth at a time, in order', async (t) => {
  const w = await world(t, 3, 12)
  const order = Array.from({ length: 12 }, (_, i) => `S${i + 1}`)
  for (const s of order) await w.enqueue(s)
  const decided: number[] = []
  // Each step of a slice starts by renewing the course's lease: when the steps began.
  const starts: number[] = []
  const leases = {
    acquireCourse: (courseId: string, token: string, ttlMs: number) => {
      starts.push(Date.now())
      return w.leases.acquireCourse(courseId, token, ttlMs)
    },
    releaseCourse: (courseId: string, token: string) => w.leases.releaseCourse(courseId, token),
    acquireReconciler: (token: string, ttlMs: number) => w.leases.acquireReconciler(token, ttlMs),
    takeAdmissions: (count: number, perSecond: number) => w.leases.takeAdmissions(count, perSecond),
  }
  const pace = 20 // a step of 2 every 100 ms
  const worker = new AdmissionWorker(
    { store: w.store, queue: w.queue, leases },
    { pacePerSecond: pace, sliceMs: 60_000 },
    rules,
    {
      batch: (_c, _s, decisions) => decided.push(decisions.length),
      bulkRejected: (_c, n) => decided.push(n),
      waited: () => undefined,
      error: (err) => t.error(err),
    },
  )
  await worker.drain('C1')
  t.same(
    (await w.data.enrolled('C1')).sort(),
    order.slice(0, 3).sort(),
    'the first three are enrolled',
  )
  t.equal(await w.queue.length('C1'), 0, 'every request is decided')
  t.equal(
    decided.reduce((sum, n) => sum + n, 0),
    12,
  )
  t.ok(
    decided.every((n) => n <= 2),
    `no step decides more than 2: ${decided}`,
  )
  // starts[0] takes the lease for the slice; starts[k] begins the step that decided decided[k - 1].
  // Lower bounds only: a busy machine makes a step later, never sooner.
  for (let k = 1; k < decided.length; k += 1) {
    const gap = starts[k + 1]! - starts[k]!
    const owed = (decided[k - 1]! * 1000) / pace
    t.ok(gap >= owed - 2, `step ${k + 1} began ${gap} ms after step ${k}, which owed ${owed} ms`)
  }
})

t.test(
  'an overall ceiling: every step takes its share of the budget first, and no more',
  async (t) => {
    const w = await world(t, 4, 15)
    const order = Array.from({ length: 15 }, (_, i) => `S${i + 1}`)
    for (const s of order) await w.enqueue(s)
    const decided: number[] = []
    const granted: number[] = []
    const leases = {
      acquireCourse: (courseId: string, token: string, ttlMs: number) =>
        w.leases.acquireCourse(courseId, token, ttlMs),
      releaseCourse: (courseId: string, token: string) => w.leases.releaseCourse(courseId, token),
      acquireReconciler: (token: string, ttlMs: number) => w.leases.acquireReconciler(token, ttlMs),
      takeAdmissions: async (count: number, perSecond: number) => {
        const got = await w.leases.takeAdmissions(count, perSecond)
        granted.push(got)
        return got
      },
    }
    let paused = false
    const gate = {
      pausedFor: () => paused,
      pausedSince: () => false,
      ceilingFor: () => 0,
      overallCeiling: () => 4,
    }
    const worker = new AdmissionWorker(
      { store: w.store, queue: w.queue, leases, gate },
      { sliceMs: 60_000 },
      rules,
      {
        batch: (_c, _s, decisions) => decided.push(decisions.length),
        bulkRejected: (_c, n) => decided.push(n),
        waited: () => undefined,
        error: (err) => t.error(err),
      },
    )
    paused = true
    await worker.drain('C1')
    t.same(decided, [], 'a paused course is not decided')
    t.equal(await w.queue.length('C1'), 15, 'its requests keep their places')
    t.same(granted, [], 'and take nothing from the budget')

    paused = false
    await worker.drain('C1')
    t.equal(await w.queue.length('C1'), 0, 'every request is decided')
    t.same(
      (await w.data.enrolled('C1')).sort(),
      order.slice(0, 4).sort(),
      'the first four enrolled',
    )
    t.ok(
      decided.every((n) => n <= 4),
      `no step decides more than the ceiling: ${decided}`,
    )
    const taken = granted.reduce((a, b) => a + b, 0)
    t.ok(taken >= 15, `the budget granted ${taken} for 15 decisions`)
  },
)
