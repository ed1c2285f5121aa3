import t from 'tap'
import { configFrom, isolatedEnv, login, PASSWORD, seedDatabase, startInstance } from '../helper.js'

t.test('sessions', async (t) => {
  const env = await isolatedEnv(t, 'auth')
  const config = configFrom(env)
  await seedDatabase(config, { students: 3 })
  const a = await startInstance(t, config)
  const b = await startInstance(t, config)

  t.test('logs in with the right password and sets an HttpOnly, SameSite cookie', async (t) => {
    const res = await a.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { studentId: 'S000001', password: PASSWORD },
    })
    t.equal(res.statusCode, 200)
    t.same(res.json(), { studentId: 'S000001', name: 'Student 1' })
    const cookie = res.cookies.find((c) => c.name === 'sugang_session')
    t.ok(cookie, 'a session cookie is set')
    t.equal(cookie?.httpOnly, true)
    t.equal(cookie?.sameSite, 'Lax')
    t.equal(cookie?.path, '/')
  })

  t.test('refuses a wrong password or an unknown student alike', async (t) => {
    for (const payload of [
      { studentId: 'S000001', password: 'wrong' },
      { studentId: 'S999999', password: PASSWORD },
    ]) {
      const res = await a.inject({ method: 'POST', url: '/api/v1/auth/login', payload })
      t.equal(res.statusCode, 401)
      t.same(res.json(), {
        error: { code: 'INVALID_CREDENTIALS', message: 'Student id or password is wrong.' },
      })
      t.notOk(res.cookies.length, 'no cookie on failure')
    }
  })

  t.test('a session made on instance A works on instance B', async (t) => {
    const cookie = await login(a, 'S000002')
    const res = await b.inject({
      method: 'GET',
      url: '/api/v1/me/enrollments',
      headers: { cookie },
    })
    t.equal(res.statusCode, 200)
    t.same(res.json(), { enrollments: [] })
  })

  t.test('logout on instance B ends the session on instance A too', async (t) => {
    const cookie = await login(a, 'S000003')
    const out = await b.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: { cookie } })
    t.equal(out.statusCode, 204)
    for (const app of [a, b]) {
      const res = await app.inject({ method: 'GET', url: '/api/v1/courses', headers: { cookie } })
      t.equal(res.statusCode, 401)
      t.equal(res.json().error.code, 'UNAUTHENTICATED')
    }
  })

  t.test('a forged or tampered cookie is not a session', async (t) => {
    const cookie = await login(a, 'S000001')
    // The genuine cookie first: its verified signature is remembered, the tampered one's is not.
    const genuine = await a.inject({ method: 'GET', url: '/api/v1/courses', headers: { cookie } })
    t.equal(genuine.statusCode, 200)
    const tampered = cookie.replace('S000001', 'S000002')
    for (const c of [tampered, 'sugang_session=abc.S000001', 'sugang_session=']) {
      const res = await a.inject({ method: 'GET', url: '/api/v1/courses', headers: { cookie: c } })
      t.equal(res.statusCode, 401, c)
    }
  })

  t.test('a cookie one instance verified means nothing under another secret', async (t) => {
    const cookie = await login(a, 'S000001')
    const ok = await a.inject({ method: 'GET', url: '/api/v1/courses', headers: { cookie } })
    t.equal(ok.statusCode, 200)
    const other = await startInstance(
      t,
      configFrom(env, { SESSION_SECRET: 'another-secret-another-secret-another-0' }),
    )
    const res = await other.inject({ method: 'GET', url: '/api/v1/courses', headers: { cookie } })
    t.equal(res.statusCode, 401)
  })

  t.test('every API route but login and logout needs a session', async (t) => {
    const routes = [
      ['GET', '/api/v1/courses'],
      ['GET', '/api/v1/courses/C0001'],
      ['POST', '/api/v1/courses/C0001/enrollment-requests'],
      ['GET', '/api/v1/enrollment-requests/00000000-0000-4000-8000-000000000000'],
      ['GET', '/api/v1/me/enrollments'],
      ['DELETE', '/api/v1/me/enrollments/C0001'],
    ] as const
    for (const [method, url] of routes) {
      const res = await a.inject({ method, url, ...(method === 'POST' ? { payload: {} } : {}) })
      t.equal(res.statusCode, 401, `${method} ${url}`)
      t.equal(res.json().error.code, 'UNAUTHENTICATED')
    }
  })

  t.test('failed logins are limited per client address', async (t) => {
    const limited = await startInstance(t, configFrom(env, { LOGIN_ADDRESS_FAILURES: '3' }), {
      worker: false,
    })
    const statuses: number[] = []
    for (let i = 0; i < 5; i += 1) {
      const res = await limited.inject({
        method: 'POST',
        url: '/api/v1/auth/login',
        payload: { studentId: `S00000${(i % 3) + 1}`, password: 'guess' + i },
        remoteAddress: '10.9.8.7',
      })
      statuses.push(res.statusCode)
      if (res.statusCode === 429)
        t.ok(Number(res.headers['retry-after']) >= 1, 'Retry-After is set')
    }
    t.same(statuses, [401, 401, 401, 429, 429])
  })

  t.test(
    'behind the load balancer a client cannot dodge the login limit by spoofing its address',
    async (t) => {
      const proxied = await startInstance(
        t,
        configFrom(env, { LOGIN_ADDRESS_FAILURES: '2', TRUST_PROXY: 'true' }),
        { worker: false },
      )
      const statuses: number[] = []
      for (let i = 0; i < 4; i += 1) {
        const res = await proxied.inject({
          method: 'POST',
          url: '/api/v1/auth/login',
          payload: { studentId: `S00000${(i % 3) + 1}`, password: 'guess' },
          // The client sends its own X-Forwarded-For; the ALB appends the real address.
          headers: { 'x-forwarded-for': `203.0.113.${i}, 198.51.100.7` },
          remoteAddress: '10.0.1.10',
        })
        statuses.push(res.statusCode)
      }
      t.same(statuses, [401, 401, 429, 429])
    },
  )
})
