import type { AddressInfo } from 'node:net'
import t from 'tap'
import { configFrom, isolatedEnv, login, seedDatabase, startInstance } from '../helper.js'
import { documentedRoutes, send, type Answer } from '../support/routes.js'

t.test('every answer says nosniff, and personal answers are never stored', async (t) => {
  const env = await isolatedEnv(t, 'headers')
  const config = configFrom(env)
  await seedDatabase(config, { students: 1, courses: 1 })
  const app = await startInstance(t, config, { worker: false })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = app.server.address() as AddressInfo

  const check = (name: string, res: Answer, store: 'no-store' | 'own'): void => {
    t.equal(res.headers['x-content-type-options'], 'nosniff', `${name} (${res.status}): nosniff`)
    const cacheControl = String(res.headers['cache-control'] ?? '')
    if (store === 'no-store') {
      t.match(cacheControl, /(^|,\s*)no-store(,|$)/, `${name} (${res.status}): ${cacheControl}`)
    } else {
      t.notMatch(cacheControl, /no-store/, `${name} (${res.status}) keeps its own caching`)
    }
  }

  const routes = documentedRoutes(app)
  t.ok(
    routes.some((r) => r.path === '/api/v1/me/events'),
    'the event stream is among them',
  )
  for (const route of routes) {
    const name = `${route.method} ${route.path}`
    const body = route.takesBody ? '{}' : undefined
    const json: Record<string, string> =
      body === undefined ? {} : { 'content-type': 'application/json' }
    // With a session: the answer itself (or its own error), personal data or not.
    const cookie = await login(app, 'S000001')
    check(
      name,
      await send(port, route.method, route.url, { headers: { ...json, cookie }, body }),
      'no-store',
    )
    // Without one: the 401 (or the public answer).
    check(
      `${name} without a session`,
      await send(port, route.method, route.url, { headers: json, body }),
      'no-store',
    )
  }

  // Errors outside any route, and the page: nosniff everywhere.
  check('an unknown path', await send(port, 'GET', '/api/v1/nowhere'), 'no-store')
  check('a malformed URL', await send(port, 'GET', '/api/v1/courses/%E0%A4%A'), 'no-store')
  check('the page', await send(port, 'GET', '/'), 'own')
  check('a script of the page', await send(port, 'GET', '/assets/app.js'), 'own')
})
