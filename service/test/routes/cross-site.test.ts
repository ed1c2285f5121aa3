import type { AddressInfo } from 'node:net'
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { configFrom, isolatedEnv, login, seedDatabase, startInstance } from '../helper.js'
import { STATE_CHANGING, documentedRoutes, send } from '../support/routes.js'

const EVIL = 'https://evil.example'
const ENQUEUE = '/api/v1/courses/C0001/enrollment-requests'

async function listening(app: FastifyInstance): Promise<number> {
  await app.listen({ host: '127.0.0.1', port: 0 })
  return (app.server.address() as AddressInfo).port
}

t.test('state-changing requests from another site are refused with 403', async (t) => {
  const env = await isolatedEnv(t, 'crosssite')
  const config = configFrom(env)
  await seedDatabase(config, { students: 2, courses: 1 })
  const app = await startInstance(t, config, { worker: false })
  const port = await listening(app)
  const self = `http://127.0.0.1:${port}`

  t.test("a bodyless POST from another site's page does not join the queue", async (t) => {
    const cookie = await login(app, 'S000001')
    const res = await send(port, 'POST', ENQUEUE, {
      headers: { cookie, origin: EVIL, 'sec-fetch-site': 'cross-site' },
    })
    t.equal(res.status, 403)
    t.equal(res.json?.error?.code, 'CROSS_SITE_REQUEST')
    t.type(res.json?.error?.message, 'string')
    // The same request from the page itself is the first: nothing was queued before it.
    const own = await send(port, 'POST', ENQUEUE, {
      headers: { cookie, origin: self, 'sec-fetch-site': 'same-origin' },
    })
    t.equal(own.status, 202, 'the refused request created nothing')
  })

  t.test('every state-changing route refuses every sign of another site', async (t) => {
    const routes = documentedRoutes(app).filter((r) => STATE_CHANGING.has(r.method))
    t.ok(routes.length >= 7, `the routes were found: ${routes.map((r) => r.path)}`)
    const signs: Array<[string, Record<string, string>]> = [
      ['an Origin of another site', { origin: EVIL }],
      ['Sec-Fetch-Site: cross-site', { 'sec-fetch-site': 'cross-site' }],
      ['both', { origin: EVIL, 'sec-fetch-site': 'cross-site' }],
      ['an opaque Origin (null)', { origin: 'null' }],
      ['a sibling site', { origin: 'https://clubs.127.0.0.1', 'sec-fetch-site': 'same-site' }],
      ['the same host over another scheme', { origin: `https://127.0.0.1:${port}` }],
      ['the same host on another port', { origin: `http://127.0.0.1:${port + 1}` }],
    ]
    for (const route of routes) {
      for (const [what, headers] of signs) {
        const cookie = await login(app, 'S000002')
        const res = await send(port, route.method, route.url, { headers: { ...headers, cookie } })
        t.equal(res.status, 403, `${route.method} ${route.path} with ${what}`)
        t.equal(res.json?.error?.code, 'CROSS_SITE_REQUEST', `${route.method} ${route.path}`)
      }
    }
  })

  t.test('the page itself, scripts without Origin, and reads keep working', async (t) => {
    const cookie = await login(app, 'S000002')
    const put = (headers: Record<string, string>) =>
      send(port, 'PUT', '/api/v1/me/cart/C0001', { headers: { ...headers, cookie } })
    t.equal((await put({ origin: self, 'sec-fetch-site': 'same-origin' })).status, 204, 'page')
    t.equal((await put({})).status, 204, 'curl or a script: neither header')
    t.equal((await put({ 'sec-fetch-site': 'none' })).status, 204, 'typed into the address bar')
    const read = await send(port, 'GET', '/api/v1/me/cart', {
      headers: { cookie, origin: EVIL, 'sec-fetch-site': 'cross-site' },
    })
    t.equal(read.status, 200, 'a read changes nothing and is not refused')
    const loggedIn = await send(port, 'POST', '/api/v1/auth/login', {
      headers: { 'content-type': 'application/json', origin: self },
      body: JSON.stringify({ studentId: 'S000001', password: 'correct horse' }),
    })
    t.equal(loggedIn.status, 200, 'logging in from the page')
  })
})

t.test('behind the load balancer the public origin is recognised', async (t) => {
  const env = await isolatedEnv(t, 'crosssiteproxy')
  const config = configFrom(env, {
    TRUST_PROXY: 'true',
    ALLOWED_ORIGINS: 'https://portal.example.edu, https://apps.example.edu:8443',
  })
  await seedDatabase(config, { students: 1, courses: 1 })
  const app = await startInstance(t, config, { worker: false })
  const port = await listening(app)
  // What the ALB forwards: the browser's Host, and the scheme it was reached on.
  const forwarded = { host: 'sugang.example.edu', 'x-forwarded-proto': 'https' }
  const cookie = await login(app, 'S000001')
  const put = (headers: Record<string, string>) =>
    send(port, 'PUT', '/api/v1/me/cart/C0001', { headers: { ...forwarded, ...headers, cookie } })

  t.equal(
    (await put({ origin: 'https://sugang.example.edu', 'sec-fetch-site': 'same-origin' })).status,
    204,
    'the public origin is the service itself',
  )
  t.equal((await put({ origin: 'https://sugang.example.edu:443' })).status, 204, 'default port')
  t.equal((await put({ origin: 'http://sugang.example.edu' })).status, 403, 'not over plain HTTP')
  t.equal(
    (await put({ origin: 'https://portal.example.edu', 'sec-fetch-site': 'cross-site' })).status,
    204,
    'an allowed origin',
  )
  t.equal((await put({ origin: 'https://apps.example.edu:8443' })).status, 204, 'with its port')
  t.equal((await put({ origin: 'https://apps.example.edu' })).status, 403, 'not on another port')
  t.equal((await put({ origin: EVIL })).status, 403)
  // A forged X-Forwarded-Host cannot make another site the service's own origin.
  t.equal((await put({ origin: EVIL, 'x-forwarded-host': 'evil.example' })).status, 403)
})

t.test('ALLOWED_ORIGINS takes origins only', async (t) => {
  for (const bad of ['portal.example.edu', 'https://portal.example.edu/path', 'ftp://x.example']) {
    t.throws(() => configFrom({}, { ALLOWED_ORIGINS: bad }), /ALLOWED_ORIGINS/, bad)
  }
  t.same(
    [
      ...configFrom({}, { ALLOWED_ORIGINS: 'https://A.example.edu:443/ ,http://b.example' })
        .allowedOrigins,
    ],
    ['https://a.example.edu', 'http://b.example'],
    'normalised as browsers send them',
  )
})
