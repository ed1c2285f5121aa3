/**
 * POST /admin/v1/courses/{courseId}/capacity on the admin listener: an operator's token is
 * required, and the input is checked before anything is done.
 */
import t from 'tap'
import {
  configFrom,
  database,
  invariants,
  isolatedEnv,
  seedDatabase,
  startInstance,
} from '../helper.js'
import type { FastifyInstance } from 'fastify'
import { ADMIN_SETTINGS, OPERATORS, type ErrorBody } from '../operations/admin-support.js'

/** A POST to the admin listener as it arrives: any token or none, any body. */
async function post(app: FastifyInstance, token: string | null, path: string, body: unknown) {
  const address = app.adminAddress()
  if (!address) throw new Error('the admin listener is not listening')
  const res = await fetch(`http://127.0.0.1:${address.port}/admin/v1${path}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(token === null ? {} : { authorization: `Bearer ${token}` }),
    },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  })
  return { status: res.status, body: (await res.json()) as Partial<ErrorBody> & object }
}

t.test('changing a capacity needs a token and a valid request', async (t) => {
  const env = await isolatedEnv(t, 'admcap')
  const config = configFrom(env, ADMIN_SETTINGS)
  await seedDatabase(config, { students: 1, courses: 1, capacity: 30 })
  const app = await startInstance(t, config)
  const sql = await database(t, config)
  const token = OPERATORS.registrar
  const path = '/courses/C0001/capacity'
  const valid = { capacity: 40, reason: 'a bigger hall' }

  const anonymous = await post(app, null, path, valid)
  t.equal(anonymous.status, 401)
  t.equal(anonymous.body.error?.code, 'UNAUTHENTICATED')
  t.equal((await post(app, 'not-an-operator-token', path, valid)).status, 401, 'an unknown token')

  const invalid: Array<[string, string, unknown]> = [
    ['no capacity', path, { reason: 'a bigger hall' }],
    ['no reason', path, { capacity: 40 }],
    ['a reason too short', path, { capacity: 40, reason: 'x' }],
    ['a capacity of 0', path, { capacity: 0, reason: 'a bigger hall' }],
    ['a negative capacity', path, { capacity: -5, reason: 'a bigger hall' }],
    ['a fractional capacity', path, { capacity: 40.5, reason: 'a bigger hall' }],
    ['a capacity as text', path, { capacity: 'forty', reason: 'a bigger hall' }],
    ['a capacity too large', path, { capacity: 1_000_000, reason: 'a bigger hall' }],
    ['a malformed course id', '/courses/C%2F1/capacity', valid],
    ['a body that is not JSON', path, '{capacity: 40'],
  ]
  for (const [what, at, body] of invalid) {
    const res = await post(app, token, at, body)
    t.equal(res.status, 400, what)
  }
  t.same(
    (await invariants(sql)).map((c) => c.capacity),
    [30],
    'nothing changed',
  )
  const [rows] = await sql.query<Array<{ n: number }>>('SELECT COUNT(*) AS n FROM operator_actions')
  t.equal(Number(rows[0]?.n), 0, 'and nothing was recorded')

  const unknown = await post(app, token, '/courses/C9999/capacity', valid)
  t.equal(unknown.status, 404)
  t.equal(unknown.body.error?.code, 'COURSE_NOT_FOUND')

  t.same(await post(app, token, path, valid), {
    status: 200,
    body: { courseId: 'C0001', capacity: 40, enrolled: 0, promoted: [] },
  })
  t.same(
    (await invariants(sql)).map((c) => c.capacity),
    [40],
  )
  const head = await app.sugang.store.recordHead('C0001')
  t.equal(head?.seq, 1, 'one capacity entry')

  // The capacity it has already: nothing changes, and the operator's request is still recorded.
  t.same(await post(app, token, path, { capacity: 40, reason: 'asked twice' }), {
    status: 200,
    body: { courseId: 'C0001', capacity: 40, enrolled: 0, promoted: [] },
  })
  t.same(await app.sugang.store.recordHead('C0001'), head, 'no entry for no change')
  const [actions] = await sql.query<Array<{ reason: string; details: string }>>(
    "SELECT reason, details FROM operator_actions WHERE action = 'capacity' ORDER BY id",
  )
  t.same(
    actions.map((a) => [a.reason, JSON.parse(a.details)]),
    [
      ['a bigger hall', { from: 30, to: 40, promoted: [] }],
      ['asked twice', { from: 40, to: 40, promoted: [] }],
    ],
  )
})
