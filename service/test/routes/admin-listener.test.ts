// The admin listener: its own port, an operator's token on every request (or 401, and nothing
// done), none of its routes on the public listener, and no listener at all without ADMIN_TOKENS.
import { createHash } from 'node:crypto'
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import {
  configFrom,
  database,
  isolatedEnv,
  seedDatabase,
  startInstance,
  STORAGES,
} from '../helper.js'

const TOKEN = 'registrar-token-for-the-admin-tests'
const OTHER = 'a-token-nobody-was-given-for-these-tests'
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex')

/** Every route of the admin API, each with a body the route would accept. */
const ROUTES: ReadonlyArray<{ method: 'GET' | 'POST'; url: string; body?: object }> = [
  { method: 'GET', url: '/admin/v1/controls' },
  { method: 'GET', url: '/admin/v1/actions' },
  { method: 'POST', url: '/admin/v1/pause', body: { reason: 'a test pause' } },
  { method: 'POST', url: '/admin/v1/resume', body: { reason: 'a test resume' } },
  {
    method: 'POST',
    url: '/admin/v1/throttle',
    body: { course: 'C0001', perSecond: 5, reason: 'a test ceiling' },
  },
  { method: 'POST', url: '/admin/v1/unthrottle', body: { course: 'C0001', reason: 'lift it' } },
  {
    method: 'POST',
    url: '/admin/v1/window',
    body: { opensAt: '2030-01-01T00:00:00Z', reason: 'a test move' },
  },
  {
    method: 'POST',
    url: '/admin/v1/announcement',
    body: { ko: '점검 중입니다', en: 'Under maintenance', reason: 'a test banner' },
  },
  { method: 'POST', url: '/admin/v1/announcement/clear', body: { reason: 'take it down' } },
]

function adminUrl(app: FastifyInstance, path: string): string {
  const address = app.adminAddress()
  if (!address) throw new Error('the admin listener is not listening')
  return `http://127.0.0.1:${address.port}${path}`
}

for (const storage of STORAGES) {
  t.test(`the admin listener wants an operator's token on every route (${storage})`, async (t) => {
    const env = await isolatedEnv(t, 'adminauth', storage)
    const config = configFrom(env, {
      ADMIN_TOKENS: `registrar:${sha256(TOKEN)}`,
      ADMIN_PORT: '0',
    })
    await seedDatabase(config, { students: 1, courses: 1 })
    const app = await startInstance(t, config, { worker: false })
    const db = await database(t, config)

    const send = (route: (typeof ROUTES)[number], authorization?: string, path = route.url) =>
      fetch(adminUrl(app, path), {
        method: route.method,
        headers: {
          ...(authorization === undefined ? {} : { authorization }),
          ...(route.body ? { 'content-type': 'application/json' } : {}),
        },
        ...(route.body ? { body: JSON.stringify(route.body) } : {}),
      })

    const wrong: Array<[string, string | undefined]> = [
      ['no Authorization', undefined],
      ['a token nobody was given', `Bearer ${OTHER}`],
      ['the hash instead of the token', `Bearer ${sha256(TOKEN)}x`],
      ['the token without the Bearer scheme', TOKEN],
      ['the token as Basic credentials', `Basic ${Buffer.from(`x:${TOKEN}`).toString('base64')}`],
      ['an empty bearer', 'Bearer '],
    ]
    for (const route of [...ROUTES, { method: 'GET' as const, url: '/admin/v1/nothing' }]) {
      for (const [what, authorization] of wrong) {
        const res = await send(route, authorization)
        t.equal(res.status, 401, `${route.method} ${route.url} with ${what}: 401`)
        const body = (await res.json()) as { error: { code: string } }
        t.equal(body.error.code, 'UNAUTHENTICATED')
        t.equal(res.headers.get('www-authenticate'), 'Bearer')
      }
    }
    const [actions] = await db.query<Array<{ n: number }>>(
      'SELECT COUNT(*) AS n FROM operator_actions',
    )
    t.equal(Number(actions[0]?.n), 0, 'none of the refused commands was recorded')
    const [controls] = await db.query<Array<{ n: number }>>(
      'SELECT COUNT(*) AS n FROM operator_controls',
    )
    t.equal(Number(controls[0]?.n), 0, 'and none took effect')

    // The same requests with the token: the API answers them.
    const authorized = `Bearer ${TOKEN}`
    const controlsRes = await send(ROUTES[0] as (typeof ROUTES)[number], authorized)
    t.equal(controlsRes.status, 200, 'the controls, with the token')
    t.match(await controlsRes.json(), { pauses: [], throttles: [], announcement: null })
    const pause = await send(ROUTES[2] as (typeof ROUTES)[number], authorized)
    t.equal(pause.status, 200, 'a pause, with the token')
    t.match(await pause.json(), { pauses: [{ course: '*', by: 'registrar' }] })
    const unknown = await send({ method: 'GET', url: '/admin/v1/nothing' }, authorized)
    t.equal(unknown.status, 404, 'an unknown admin route, with the token: 404')

    await t.test('the public listener has none of the admin routes', async (t) => {
      for (const route of [...ROUTES, { method: 'GET' as const, url: '/admin/v1/nothing' }]) {
        const res = await app.inject({
          method: route.method,
          url: route.url,
          headers: { authorization: authorized },
          ...(route.body ? { payload: route.body } : {}),
        })
        t.equal(res.statusCode, 404, `${route.method} ${route.url} on PORT: 404`)
        t.equal(res.json<{ error: { code: string } }>().error.code, 'NOT_FOUND')
      }
      const [rows] = await db.query<Array<{ n: number }>>(
        'SELECT COUNT(*) AS n FROM operator_actions',
      )
      t.equal(Number(rows[0]?.n), 1, 'only the pause through the admin listener was recorded')
    })
  })
}

t.test('without ADMIN_TOKENS there is no admin listener', async (t) => {
  const env = await isolatedEnv(t, 'adminoff', STORAGES[0])
  const config = configFrom(env, { ADMIN_PORT: '0' })
  t.equal(config.admin, null, 'no operators configured')
  await seedDatabase(config, { students: 1, courses: 1 })
  const app = await startInstance(t, config, { worker: false })
  t.equal(app.adminAddress(), null, 'nothing listens for the admin API')
  const res = await app.inject({
    method: 'GET',
    url: '/admin/v1/controls',
    headers: { authorization: `Bearer ${TOKEN}` },
  })
  t.equal(res.statusCode, 404, 'and the public listener does not answer for it')
})

t.test('ADMIN_TOKENS holds name:sha256 pairs, and nothing else', async (t) => {
  const env = await isolatedEnv(t, 'admincfg', STORAGES[0])
  const config = configFrom(env, {
    ADMIN_TOKENS: ` registrar:${sha256(TOKEN)}, on-call:${sha256(OTHER)} `,
  })
  t.same(
    [...(config.admin?.operators ?? [])],
    [
      [sha256(TOKEN), 'registrar'],
      [sha256(OTHER), 'on-call'],
    ],
  )
  t.match(config.admin, { host: '127.0.0.1', port: 9465 }, 'loopback and 9465 by default')
  for (const bad of [TOKEN, `registrar:${TOKEN}`, `registrar:${sha256(TOKEN)},`]) {
    t.throws(() => configFrom(env, { ADMIN_TOKENS: bad }), /ADMIN_TOKENS must be name:sha256hex/)
  }
})
