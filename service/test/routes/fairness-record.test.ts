// The fairness record over HTTP: a student's own request with its entries and its course's
// digest, and the public digest of any course. Admission is driven by hand (worker.drain), so
// every request is decided exactly when the test says.
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { GENESIS_HASH, entryHash, type RecordKind } from '../../src/domain/fairness.js'
import {
  configFrom,
  database,
  isolatedEnv,
  login,
  seedDatabase,
  startInstance,
  STORAGES,
  waitFor,
} from '../helper.js'

interface EntryView {
  seq: number
  batch: number
  kind: RecordKind
  reason: string | null
  enrolled: number
  capacity: number
  decidedAt: string
  queuedAt: string | null
  hash: string
  prevHash: string
}
interface Digest {
  courseId: string
  entries: number
  head: string
}
interface RecordView {
  requestId: string
  courseId: string
  arrival: number | null
  arrivedBefore: number | null
  entries: EntryView[]
  digest: Digest
}
interface ErrorBody {
  error: { code: string; message: string }
}

const UNKNOWN = '00000000-0000-4000-8000-000000000000'

async function get(app: FastifyInstance, url: string, cookie?: string) {
  const res = await app.inject({
    method: 'GET',
    url: `/api/v1${url}`,
    headers: cookie ? { cookie } : {},
  })
  return { status: res.statusCode, body: res.json<unknown>() }
}

async function ask(
  app: FastifyInstance,
  cookie: string,
  courseId: string,
  waitlist = false,
): Promise<string> {
  const res = await app.inject({
    method: 'POST',
    url: `/api/v1/courses/${courseId}/enrollment-requests`,
    headers: { cookie },
    payload: waitlist ? { waitlist: true } : {},
  })
  if (res.statusCode !== 202) throw new Error(`enqueue answered ${res.statusCode}: ${res.body}`)
  return res.json<{ requestId: string }>().requestId
}

for (const storage of STORAGES) {
  t.test(`a student's record, and a course's public digest (${storage})`, async (t) => {
    const env = await isolatedEnv(t, 'fairrecord', storage)
    const config = configFrom(env)
    await seedDatabase(config, { students: 4, courses: 2, capacity: 5 })
    const db = await database(t, config)
    await db.query("UPDATE courses SET capacity = 1 WHERE id = 'C0001'")
    const app = await startInstance(t, config, { worker: false })
    const [first, second, third] = await Promise.all(
      ['S000001', 'S000002', 'S000003'].map((s) => login(app, s)),
    )
    if (!first || !second || !third) throw new Error('three logins')

    // Any other answer fails the test where it is read.
    const record = async (cookie: string, requestId: string): Promise<RecordView> => {
      const res = await get(app, `/enrollment-requests/${requestId}/record`, cookie)
      if (res.status !== 200) throw new Error(`record: ${res.status} ${JSON.stringify(res.body)}`)
      return res.body as RecordView
    }
    const digest = async (courseId: string): Promise<Digest> => {
      const res = await get(app, `/courses/${courseId}/record`)
      if (res.status !== 200) throw new Error(`digest: ${res.status} ${JSON.stringify(res.body)}`)
      return res.body as Digest
    }
    // The public digest is read at most once a second per course: it catches up with the record.
    const digestOf = (courseId: string, entries: number): Promise<Digest> =>
      waitFor(`the digest of ${courseId} to name entry ${entries}`, async () => {
        const d = await digest(courseId)
        return d.entries === entries ? d : null
      })

    t.same(
      await digest('C0001'),
      { courseId: 'C0001', entries: 0, head: GENESIS_HASH },
      'a course without decisions: no entries, the genesis hash, and no session needed',
    )

    const firstRequest = await ask(app, first, 'C0001')
    await t.test('a queued request not decided yet: 404 NOT_DECIDED_YET', async (t) => {
      const res = await get(app, `/enrollment-requests/${firstRequest}/record`, first)
      t.equal(res.status, 404)
      t.equal((res.body as ErrorBody).error.code, 'NOT_DECIDED_YET')
      t.match((res.body as ErrorBody).error.message, /not been decided yet/)
      const status = await get(app, `/enrollment-requests/${firstRequest}`, first)
      t.match(status.body, { status: 'queued' }, 'the status route says queued')
      t.equal((await digest('C0001')).entries, 0, 'and the course has no entry yet')
    })

    await app.sugang.worker.drain('C0001')
    const enrolled = await record(first, firstRequest)
    await t.test(
      'the seat: its arrival, an enrolled entry, and the digest it is the head of',
      async (t) => {
        t.equal(enrolled.requestId, firstRequest)
        t.equal(enrolled.courseId, 'C0001')
        t.equal(enrolled.arrival, 1, 'the first arrival')
        t.equal(enrolled.arrivedBefore, 0, 'nobody arrived before it')
        t.equal(enrolled.entries.length, 1)
        const [entry] = enrolled.entries
        t.match(entry, {
          seq: 1,
          batch: 1,
          kind: 'enrolled',
          reason: null,
          enrolled: 1,
          capacity: 1,
          prevHash: GENESIS_HASH,
        })
        t.equal(
          entry?.decidedAt,
          new Date(Date.parse(entry?.decidedAt ?? '')).toISOString(),
          'decidedAt is an ISO 8601 date',
        )
        // The answer carries what anyone needs to recompute the hash the chain holds.
        t.equal(
          entry &&
            entryHash({
              ...entry,
              courseId: 'C0001',
              studentId: 'S000001',
              requestId: firstRequest,
              arrival: enrolled.arrival,
              queuedAt: entry.queuedAt === null ? null : Date.parse(entry.queuedAt),
              reason: null,
              decidedAt: Date.parse(entry.decidedAt),
            }),
          entry?.hash,
          'the hash is the hash of the fields shown',
        )
        t.same(enrolled.digest, { courseId: 'C0001', entries: 1, head: entry?.hash })
        t.same(await digestOf('C0001', 1), enrolled.digest, 'the public digest is the same')
      },
    )

    await t.test(
      "another student's request and an unknown one: 404 as the status route",
      async (t) => {
        for (const id of [firstRequest, UNKNOWN]) {
          const res = await get(app, `/enrollment-requests/${id}/record`, second)
          const status = await get(app, `/enrollment-requests/${id}`, second)
          t.equal(res.status, 404)
          t.equal(status.status, 404)
          t.same(res.body, status.body, 'the same answer as the status route')
          t.equal((res.body as ErrorBody).error.code, 'REQUEST_NOT_FOUND')
        }
      },
    )

    await t.test('without a session: 401', async (t) => {
      const res = await get(app, `/enrollment-requests/${firstRequest}/record`)
      t.equal(res.status, 401)
      t.equal((res.body as ErrorBody).error.code, 'UNAUTHENTICATED')
    })

    await t.test('the digest moves with each decision, and chains to the one before', async (t) => {
      const waiting = await ask(app, second, 'C0001', true)
      await app.sugang.worker.drain('C0001')
      const placed = await record(second, waiting)
      t.equal(placed.arrival, 2)
      t.equal(placed.arrivedBefore, 1, 'one request arrived before it')
      t.match(placed.entries, [{ seq: 2, kind: 'waitlisted', enrolled: 1, capacity: 1 }])
      t.equal(placed.entries[0]?.prevHash, enrolled.digest.head, 'chained to the seat')
      t.same(placed.digest, { courseId: 'C0001', entries: 2, head: placed.entries[0]?.hash })
      t.same(await digestOf('C0001', 2), placed.digest)

      // The seat is given up, and the waitlist's head takes it in the same transaction.
      const cancel = await app.inject({
        method: 'DELETE',
        url: '/api/v1/me/enrollments/C0001',
        headers: { cookie: first },
      })
      t.equal(cancel.statusCode, 204)
      const gaveUp = await record(first, firstRequest)
      t.match(gaveUp.entries, [
        { seq: 1, kind: 'enrolled' },
        { seq: 3, batch: 3, kind: 'cancelled', enrolled: 0 },
      ])
      const promoted = await record(second, waiting)
      t.match(promoted.entries, [
        { seq: 2, kind: 'waitlisted' },
        { seq: 4, batch: 3, kind: 'promoted', enrolled: 1 },
      ])
      t.equal(promoted.entries[1]?.prevHash, gaveUp.entries[1]?.hash)
      const now = await digestOf('C0001', 4)
      t.same(now, { courseId: 'C0001', entries: 4, head: promoted.entries[1]?.hash })
      t.same(gaveUp.digest, now, "the cancelled request's record carries the same digest")
      t.not(now.head, placed.digest.head, 'the head moved')
    })

    await t.test('a decided request without an entry: 404 NOT_RECORDED', async (t) => {
      const requestId = await ask(app, third, 'C0002')
      await app.sugang.worker.drain('C0002')
      t.match((await get(app, `/enrollment-requests/${requestId}`, third)).body, {
        status: 'enrolled',
      })
      // As if it had been decided before the record was kept.
      await db.query('DELETE FROM fairness_record WHERE request_id = ?', [requestId])
      const res = await get(app, `/enrollment-requests/${requestId}/record`, third)
      t.equal(res.status, 404)
      t.equal((res.body as ErrorBody).error.code, 'NOT_RECORDED')
    })

    await t.test('an unknown course: 404 COURSE_NOT_FOUND', async (t) => {
      const res = await get(app, '/courses/C9999/record')
      t.equal(res.status, 404)
      t.equal((res.body as ErrorBody).error.code, 'COURSE_NOT_FOUND')
    })

    await t.test('malformed ids: 400 VALIDATION_FAILED, as elsewhere', async (t) => {
      for (const id of ['not-a-uuid', UNKNOWN.replace('0', 'G'), `${UNKNOWN}0`]) {
        const res = await get(app, `/enrollment-requests/${id}/record`, first)
        t.equal(res.status, 400, id)
        t.equal((res.body as ErrorBody).error.code, 'VALIDATION_FAILED')
      }
      for (const id of ['C0001!', 'C'.repeat(17)]) {
        const res = await get(app, `/courses/${encodeURIComponent(id)}/record`)
        t.equal(res.status, 400, id)
        t.equal((res.body as ErrorBody).error.code, 'VALIDATION_FAILED')
      }
    })
  })
}
