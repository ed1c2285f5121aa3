import t from 'tap'
import type { AddressInfo } from 'node:net'
import { configFrom, isolatedEnv, login, seedDatabase, startInstance } from '../helper.js'
import { rawRequest, request } from '../support/raw-http.js'

const PROTECTED = [
  ['GET', '/api/v1/courses'],
  ['GET', '/api/v1/courses/C0001'],
  ['POST', '/api/v1/courses/C0001/enrollment-requests'],
  ['GET', '/api/v1/enrollment-requests/00000000-0000-4000-8000-000000000000'],
  ['GET', '/api/v1/me/enrollments'],
  ['DELETE', '/api/v1/me/enrollments/C0001'],
] as const

const hex = (c: string) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`

/** Spellings of one path that a router might take for the same route. */
function variants(path: string): string[] {
  const segments = path.split('/').slice(1)
  const out = new Set<string>()
  segments.forEach((segment, i) => {
    // Percent-encode the first character of one segment, in lower and upper case hex.
    const escape = hex(segment[0] ?? '')
    for (const spelled of [escape, escape.toUpperCase()]) {
      const copy = [...segments]
      copy[i] = spelled + segment.slice(1)
      out.add('/' + copy.join('/'))
    }
  })
  out.add([...path].map((c) => (c === '/' ? c : hex(c))).join('')) // every character encoded
  out.add('/' + path) // doubled leading slash
  out.add(path.replace('/api/v1/', '/api//v1/'))
  out.add(path.replace('/api/v1/', '/api/v1//'))
  out.add(path + '/')
  out.add(path + '//')
  out.add(path.replace('/api/', '/API/'))
  out.add(path.replace('/api/v1/', '/Api/V1/'))
  out.add(path.replace('/api/v1/', '/api/v1/./'))
  out.add(path.replace('/api/', '/x/../api/'))
  out.add(path.replace('/api/v1', '/api%2Fv1'))
  out.add(path + '?session=1')
  out.add(path + ';jsessionid=1')
  out.add('http://sugang.test' + path) // absolute-form request line
  out.add('http://sugang.test/' + path.slice(1).replace('api', '%61pi'))
  return [...out]
}

t.test('authentication is decided by the route, never by how the URL is spelled', async (t) => {
  const env = await isolatedEnv(t, 'routeauth')
  const config = configFrom(env)
  await seedDatabase(config, { students: 2, courses: 1 })
  const app = await startInstance(t, config, { worker: false })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = app.server.address() as AddressInfo
  const cookie = await login(app, 'S000001')

  for (const [method, path] of PROTECTED) {
    t.test(`${method} ${path}`, async (t) => {
      const body = method === 'POST' ? '{}' : undefined
      const headers: Record<string, string> =
        body === undefined ? {} : { 'content-type': 'application/json' }
      const control = await rawRequest(port, [request(method, path, { headers, body })])
      t.equal(control.status, 401, 'as spelled: 401 without a session')

      for (const target of variants(path)) {
        const res = await rawRequest(port, [request(method, target, { headers, body })])
        t.ok(
          [400, 401, 404, 414].includes(res.status),
          `${target}: ${res.status} ${res.json?.error?.code ?? res.body.slice(0, 80)}`,
        )
        t.type(res.json?.error?.code, 'string', `${target}: the contract's error shape`)
      }

      // With a session the same route answers (rate limit and all): the hook is not in the way.
      const authed = await rawRequest(port, [
        request(method, path, { headers: { ...headers, cookie }, body }),
      ])
      t.ok(authed.status < 500, `with a session: ${authed.status}`)
      t.not(authed.status, 401)
    })
  }
})
