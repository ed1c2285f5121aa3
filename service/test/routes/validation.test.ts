import type { AddressInfo } from 'node:net'
import t from 'tap'
import type { Test } from 'tap'
import { configFrom, isolatedEnv, login, seedDatabase, startInstance, STORAGES } from '../helper.js'
import { documentedRoutes, send } from '../support/routes.js'

for (const storage of STORAGES) {
  t.test(`bad input gets a documented 4xx, never a 500 (${storage})`, async (t) => {
    const env = await isolatedEnv(t, 'validation', storage)
    const config = configFrom(env, { RATE_LIMIT_MAX: '5', BODY_LIMIT_BYTES: '1024' })
    await seedDatabase(config, { students: 3, courses: 2 })
    const app = await startInstance(t, config)
    const cookie = await login(app, 'S000001')
    const other = await login(app, 'S000002')
    const enqueue = '/api/v1/courses/C0001/enrollment-requests'
    let used = 0
    // Each authenticated request counts against the 5-per-window limit; switch students as needed.
    const students = ['S000001', 'S000002', 'S000003']
    const asStudent = async (): Promise<string> => login(app, students[used++ % 3] as string)

    const expectError = (
      t: Test,
      res: { statusCode: number; json(): { error: { code: string; message: string } } },
      status: number,
      code: string,
    ): void => {
      t.equal(res.statusCode, status)
      const body = res.json()
      t.equal(body.error.code, code)
      t.type(body.error.message, 'string')
      t.ok(body.error.message.length > 0, 'the message says what went wrong')
    }

    t.test('unknown body fields are rejected, not stripped', async (t) => {
      const res = await app.inject({
        method: 'POST',
        url: enqueue,
        headers: { cookie: await asStudent() },
        payload: { waitlist: true, priority: 1 },
      })
      expectError(t, res, 400, 'VALIDATION_FAILED')
      const login = await app.inject({
        method: 'POST',
        url: '/api/v1/auth/login',
        payload: { studentId: 'S000001', password: 'x', admin: true },
      })
      expectError(t, login, 400, 'VALIDATION_FAILED')
    })

    t.test('wrong types are rejected, not coerced', async (t) => {
      const res = await app.inject({
        method: 'POST',
        url: enqueue,
        headers: { cookie: await asStudent() },
        payload: { waitlist: 'true' },
      })
      expectError(t, res, 400, 'VALIDATION_FAILED')
      const login = await app.inject({
        method: 'POST',
        url: '/api/v1/auth/login',
        payload: { studentId: 1, password: 'x' },
      })
      expectError(t, login, 400, 'VALIDATION_FAILED')
    })

    t.test('a non-JSON body is 415 and broken JSON is 400', async (t) => {
      const c = await asStudent()
      const plain = await app.inject({
        method: 'POST',
        url: enqueue,
        headers: { cookie: c, 'content-type': 'text/plain' },
        payload: 'waitlist please',
      })
      expectError(t, plain, 415, 'UNSUPPORTED_MEDIA_TYPE')
      const broken = await app.inject({
        method: 'POST',
        url: '/api/v1/auth/login',
        headers: { 'content-type': 'application/json' },
        payload: '{"studentId":',
      })
      expectError(t, broken, 400, 'INVALID_JSON')
    })

    t.test('a huge body is 413', async (t) => {
      const res = await app.inject({
        method: 'POST',
        url: '/api/v1/auth/login',
        payload: { studentId: 'S000001', password: 'x'.repeat(10_000) },
      })
      expectError(t, res, 413, 'PAYLOAD_TOO_LARGE')
    })

    t.test('malformed ids in the path are 400', async (t) => {
      const c = await asStudent()
      const res = await app.inject({
        method: 'GET',
        url: '/api/v1/enrollment-requests/not-a-uuid',
        headers: { cookie: c },
      })
      expectError(t, res, 400, 'VALIDATION_FAILED')
      const course = await app.inject({
        method: 'GET',
        url: `/api/v1/courses/${'x'.repeat(40)}`,
        headers: { cookie: c },
      })
      expectError(t, course, 400, 'VALIDATION_FAILED')
    })

    t.test('unknown courses and routes are 404', async (t) => {
      const c = await asStudent()
      expectError(
        t,
        await app.inject({ method: 'GET', url: '/api/v1/courses/C9999', headers: { cookie: c } }),
        404,
        'COURSE_NOT_FOUND',
      )
      expectError(
        t,
        await app.inject({
          method: 'POST',
          url: '/api/v1/courses/C9999/enrollment-requests',
          headers: { cookie: c },
          payload: {},
        }),
        404,
        'COURSE_NOT_FOUND',
      )
      expectError(
        t,
        await app.inject({
          method: 'DELETE',
          url: '/api/v1/me/enrollments/C0002',
          headers: { cookie: c },
        }),
        404,
        'NOT_ENROLLED',
      )
      expectError(t, await app.inject({ method: 'GET', url: '/nowhere' }), 404, 'NOT_FOUND')
    })

    t.test("another student's request id is 404, the same as a missing one", async (t) => {
      const mine = await app.inject({
        method: 'POST',
        url: '/api/v1/courses/C0002/enrollment-requests',
        headers: { cookie },
        payload: {},
      })
      t.equal(mine.statusCode, 202)
      const { requestId } = mine.json()
      const theirs = await app.inject({
        method: 'GET',
        url: `/api/v1/enrollment-requests/${requestId}`,
        headers: { cookie: other },
      })
      expectError(t, theirs, 404, 'REQUEST_NOT_FOUND')
      const missing = await app.inject({
        method: 'GET',
        url: '/api/v1/enrollment-requests/00000000-0000-4000-8000-000000000000',
        headers: { cookie: other },
      })
      t.same(missing.json(), theirs.json(), 'indistinguishable from a request that does not exist')
      const own = await app.inject({
        method: 'GET',
        url: `/api/v1/enrollment-requests/${requestId}`,
        headers: { cookie },
      })
      t.equal(own.statusCode, 200)
    })

    t.test('too many requests from one student is 429 with Retry-After', async (t) => {
      const c = await login(app, 'S000003')
      const statuses: number[] = []
      let retryAfter: string | undefined
      for (let i = 0; i < 8; i += 1) {
        const res = await app.inject({
          method: 'POST',
          url: enqueue,
          headers: { cookie: c },
          payload: {},
        })
        statuses.push(res.statusCode)
        if (res.statusCode === 429) {
          retryAfter = String(res.headers['retry-after'])
          t.equal(res.json().error.code, 'RATE_LIMITED')
        }
      }
      // Once admitted (the worker may be that quick), asking again is 409 ALREADY_ENROLLED.
      t.ok(
        statuses.slice(0, 5).every((s) => s === 202 || s === 200 || s === 409),
        `first five get through the limit: ${statuses}`,
      )
      t.same(statuses.slice(5), [429, 429, 429])
      t.ok(Number(retryAfter) >= 1 && Number(retryAfter) <= 10, 'Retry-After within the window')
    })
  })
}

for (const storage of STORAGES) {
  t.test(
    `outside the registration window requests are 403 REGISTRATION_CLOSED (${storage})`,
    async (t) => {
      const env = await isolatedEnv(t, 'closed', storage)
      const config = configFrom(env, { REGISTRATION_OPENS_AT: '2999-01-01T00:00:00Z' })
      await seedDatabase(config, { students: 1 })
      const app = await startInstance(t, config)
      const cookie = await login(app, 'S000001')
      const res = await app.inject({
        method: 'POST',
        url: '/api/v1/courses/C0001/enrollment-requests',
        headers: { cookie },
        payload: {},
      })
      t.equal(res.statusCode, 403)
      t.equal(res.json().error.code, 'REGISTRATION_CLOSED')
    },
  )
}

for (const storage of STORAGES) {
  t.test(
    `every route refuses a body it does not expect with a 400, before any work (${storage})`,
    async (t) => {
      const env = await isolatedEnv(t, 'bodies', storage)
      const config = configFrom(env)
      await seedDatabase(config, { students: 1, courses: 1 })
      const app = await startInstance(t, config, { worker: false })
      await app.listen({ host: '127.0.0.1', port: 0 })
      const { port } = app.server.address() as AddressInfo
      const routes = documentedRoutes(app)
      t.ok(routes.some((r) => r.method === 'PUT' && r.path.endsWith('/me/cart/{courseId}')))
      t.ok(routes.some((r) => r.method === 'POST' && r.path.endsWith('/auth/logout')))

      const deep = '['.repeat(5_000) + ']'.repeat(5_000)
      const json = { 'content-type': 'application/json' }
      const unexpected: Array<[string, Record<string, string>, string]> = [
        ['an array', json, '[]'],
        ['a string', json, '"cart"'],
        ['5,000 nested arrays', json, deep],
        ['a number', json, '12'],
        ['JSON null', json, 'null'],
      ]
      for (const route of routes) {
        const name = `${route.method} ${route.path}`
        const cases = route.takesBody
          ? unexpected
          : [
              ...unexpected,
              ['an empty object', json, '{}'] as const,
              ['text without a content type', {}, 'hello'] as const,
            ]
        for (const [what, headers, body] of cases) {
          // A live session, so the route itself would answer if the body got through.
          const cookie = await login(app, 'S000001')
          const res = await send(port, route.method, route.url, {
            headers: { ...headers, cookie },
            body,
          })
          t.equal(res.status, 400, `${name} with ${what}: ${res.status}`)
          t.equal(
            res.json?.error?.code,
            route.takesBody ? 'VALIDATION_FAILED' : 'BODY_NOT_ALLOWED',
            `${name} with ${what}: the contract's error`,
          )
        }
      }
      const cookie = await login(app, 'S000001')
      const [cart] = [await send(port, 'GET', '/api/v1/me/cart', { headers: { cookie } })]
      t.same(cart?.json, { items: [] }, 'nothing was added to the cart by a refused request')
    },
  )
}
