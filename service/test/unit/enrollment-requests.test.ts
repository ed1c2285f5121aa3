import t, { type Test } from 'tap'
import { Catalogue } from '../../src/domain/catalogue.js'
import { EnrollmentRequests } from '../../src/domain/enrollment-requests.js'
import type { RegistrationWindow } from '../../src/domain/rules.js'
import { StudentDirectory } from '../../src/domain/students.js'
import type { Course, DurableRequest } from '../../src/domain/model.js'
import type { StudentRecords } from '../../src/domain/ports.js'
import { logIn, rushState } from './support/world.js'

const course = (id: string): Course => ({
  id,
  title: id,
  professor: 'P',
  credits: 3,
  capacity: 10,
  enrolled: 0,
  meetings: [],
})

async function world(t: Test, window: RegistrationWindow = { opensAt: null, closesAt: null }) {
  const rush = rushState(t)
  const { queue, memory } = rush
  await logIn(rush, ['S1', 'S2', 'Y4S1'])
  const durable = new Map<string, DurableRequest>()
  let durableReads = 0
  const records: StudentRecords = {
    listEnrollments: async () => [],
    findDurableRequest: async (id) => {
      durableReads += 1
      return durable.get(id) ?? null
    },
  }
  const catalogue = new Catalogue({
    listCourses: async () => [course('C1')],
    findCourse: async (id) => (id === 'C1' ? course(id) : null),
  })
  let pokes = 0
  let studentReads = 0
  const students = new StudentDirectory({
    findStudent: async (id) => {
      studentReads += 1
      return {
        id,
        name: id,
        passwordHash: '',
        year: id.startsWith('Y4') ? 4 : 1,
        maxCredits: 18,
      }
    },
    updatePasswordHash: async () => undefined,
  })
  const requests = new EnrollmentRequests(
    { queue, records },
    catalogue,
    students,
    window,
    () => (pokes += 1),
  )
  const submit = (studentId: string, requestId: string, courseId = 'C1', waitlist = false) =>
    requests.submit({ sessionId: studentId, studentId, courseId, requestId, waitlist })
  /** Records a batch's decision that puts a queued request on the waitlist. */
  const waitlisted = async (requestId: string, studentId: string) => {
    await rush.leases.acquireCourse('C1', 'worker', 60_000)
    await queue.settle('C1', 'worker', [{ requestId, studentId, status: 'waitlisted', place: 1 }], {
      seatsLeft: 0,
      versionBefore: 0,
      version: 1,
    })
  }
  return {
    queue,
    memory,
    waitlisted,
    durable,
    requests,
    submit,
    pokes: () => pokes,
    durableReads: () => durableReads,
    studentReads: () => studentReads,
  }
}

t.test('requests are taken only while registration is open', async (t) => {
  const opensAt = new Date('2026-03-02T09:00:00Z')
  const closesAt = new Date('2026-03-02T18:00:00Z')
  const w = await world(t, { opensAt, closesAt })
  const input = {
    sessionId: 'S1',
    studentId: 'S1',
    courseId: 'C1',
    requestId: 'r',
    waitlist: false,
  }
  t.same(await w.requests.submit(input, opensAt.getTime() - 1), { kind: 'closed', opensAt })
  t.same(await w.requests.submit(input, closesAt.getTime()), { kind: 'closed', opensAt: null })
  t.equal((await w.requests.submit(input, opensAt.getTime())).kind, 'created')
  t.equal(w.pokes(), 1, 'the admission worker is woken for a new request')
})

t.test('a course that does not exist is refused before the queue', async (t) => {
  const w = await world(t)
  t.same(await w.submit('S1', 'r', 'C9'), { kind: 'course-not-found' })
  t.equal(w.memory.requests.size, 0)
})

t.test('asking again answers with the live request; a waitlist place with its place', async (t) => {
  const w = await world(t)
  await w.submit('S1', 'first')
  const again = await w.submit('S1', 'second')
  t.same(again, {
    kind: 'existing',
    requestId: 'first',
    status: 'queued',
    position: 1,
    queueLength: 1,
  })
  await w.waitlisted('first', 'S1')
  w.durable.set('first', { status: 'waitlisted', courseId: 'C1', studentId: 'S1', position: 4 })
  const waiting = await w.submit('S1', 'third')
  t.same(waiting, {
    kind: 'existing',
    requestId: 'first',
    status: 'waitlisted',
    position: 4,
    queueLength: 0,
  })
})

t.test("a request's status never contradicts the store", async (t) => {
  const w = await world(t)
  await w.submit('S1', 'mine')
  t.same(await w.requests.status('S1', 'mine'), {
    requestId: 'mine',
    courseId: 'C1',
    status: 'queued',
    position: 1,
  })
  t.equal(await w.requests.status('S2', 'mine'), null, "another student's request is not found")

  // Decided in the store; the queue has not heard (its worker died after COMMIT).
  w.durable.set('mine', { status: 'enrolled', courseId: 'C1', studentId: 'S1' })
  await w.waitlisted('mine', 'S1')
  t.same(await w.requests.status('S1', 'mine'), {
    requestId: 'mine',
    courseId: 'C1',
    status: 'enrolled',
  })

  // Waitlisted in the queue, gone from the store without a promotion: the rules dropped it.
  w.durable.delete('mine')
  t.same(await w.requests.status('S1', 'mine'), {
    requestId: 'mine',
    courseId: 'C1',
    status: 'rejected',
    reason: 'COURSE_FULL',
  })

  // Forgotten by the queue (Redis lost it), still in the store.
  w.memory.requests.delete('mine')
  w.durable.set('mine', { status: 'waitlisted', courseId: 'C1', studentId: 'S1', position: 2 })
  t.same(await w.requests.status('S1', 'mine'), {
    requestId: 'mine',
    courseId: 'C1',
    status: 'waitlisted',
    position: 2,
  })
  t.equal(await w.requests.status('S2', 'mine'), null, 'the store is checked for the owner too')
  t.equal(await w.requests.status('S1', 'unknown'), null)
})

t.test('a waitlist place the queue vouches for is answered without the store', async (t) => {
  const w = await world(t)
  await w.submit('S1', 'mine', 'C1', true)
  await w.waitlisted('mine', 'S1')
  // The store is further along than the queue's mirror would be: it must not be asked.
  w.durable.set('mine', { status: 'waitlisted', courseId: 'C1', studentId: 'S1', position: 9 })
  const read = w.queue.request.bind(w.queue)
  let place: number | null = 3
  w.queue.request = async (id) => {
    const record = await read(id)
    return record && { ...record, position: record.status === 'waitlisted' ? place : null }
  }

  t.same(await w.requests.status('S1', 'mine'), {
    requestId: 'mine',
    courseId: 'C1',
    status: 'waitlisted',
    position: 3,
  })
  t.equal(await w.requests.status('S2', 'mine'), null, "another student's is still not found")
  t.same(await w.submit('S1', 'again', 'C1', true), {
    kind: 'existing',
    requestId: 'mine',
    status: 'waitlisted',
    position: 3,
    queueLength: 0,
  })
  t.equal(w.durableReads(), 0, 'the store was not read')

  // The queue cannot vouch (a cancellation in flight, a mirror behind): the store answers.
  place = null
  t.same(await w.requests.status('S1', 'mine'), {
    requestId: 'mine',
    courseId: 'C1',
    status: 'waitlisted',
    position: 9,
  })
  t.equal((await w.submit('S1', 'again', 'C1', true)).kind, 'existing')
  t.equal(w.durableReads(), 2)
})

t.test('year-4 students open first; everyone else at the general opening', async (t) => {
  const year4 = new Date('2026-02-09T01:00:00Z')
  const everyone = new Date('2026-02-10T01:00:00Z')
  const w = await world(t, {
    opensAt: everyone,
    closesAt: null,
    opensAtByYear: new Map([[4, year4]]),
  })
  const ask = (studentId: string, now: number) =>
    w.requests.submit(
      {
        sessionId: studentId,
        studentId,
        courseId: 'C1',
        requestId: `${studentId}-${now}`,
        waitlist: false,
      },
      now,
    )
  t.same(await ask('S1', year4.getTime()), { kind: 'closed', opensAt: everyone }, 'year 1 waits')
  t.equal((await ask('Y4S1', year4.getTime())).kind, 'created', 'year 4 is in')
  t.equal((await ask('S1', everyone.getTime())).kind, 'created', 'then everyone')
  t.same(await w.requests.window('Y4S1', year4.getTime() - 1), {
    opensAt: year4,
    closesAt: null,
    open: false,
  })
  t.ok(w.studentReads() > 0, 'the year is looked up')
})

t.test('with one opening for every year, a request costs no look-up of the student', async (t) => {
  const opensAt = new Date('2026-02-10T01:00:00Z')
  const w = await world(t, { opensAt, closesAt: null, opensAtByYear: new Map() })
  t.same(await w.submit('Y4S1', 'r1').then((r) => r.kind), 'created')
  t.same(await w.requests.window('S2', opensAt.getTime() - 1), {
    opensAt,
    closesAt: null,
    open: false,
  })
  t.equal(w.studentReads(), 0)
})
