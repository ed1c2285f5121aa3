import t from 'tap'
import type { Test } from 'tap'
import { connect, type AddressInfo } from 'node:net'
import {
  configFrom,
  isolatedEnv,
  seedDatabase,
  startInstance,
  waitFor,
  STORAGES,
} from '../helper.js'
import { rawRequest, request, type RawResponse } from '../support/raw-http.js'

/** The contract's error shape, with the expected status and code, and nothing of the input. */
function expectContractError(
  t: Test,
  res: RawResponse,
  status: number,
  code: string,
  notEchoed?: string,
): void {
  t.equal(res.status, status, `status ${status}`)
  t.equal(res.json?.error?.code, code, `code ${code}`)
  t.type(res.json?.error?.message, 'string', 'a message')
  t.same(Object.keys(res.json ?? {}), ['error'], 'nothing but the error')
  if (notEchoed) t.notOk(res.body.includes(notEchoed), 'the input is not echoed')
}

for (const storage of STORAGES) {
  t.test(
    `every error, the framework’s and Node’s too, has the contract’s shape (${storage})`,
    async (t) => {
      const env = await isolatedEnv(t, 'errors', storage)
      const config = configFrom(env, { REQUEST_TIMEOUT_MS: '1000' })
      await seedDatabase(config, { students: 1, courses: 1 })
      const app = await startInstance(t, config, { worker: false })
      await app.listen({ host: '127.0.0.1', port: 0 })
      const { port } = app.server.address() as AddressInfo
      const send = (...chunks: string[]) => rawRequest(port, chunks)

      t.test('an absurdly long course id: 414, not the URL echoed back', async (t) => {
        const id = 'A'.repeat(5_000)
        const res = await send(request('GET', `/api/v1/courses/${id}`))
        expectContractError(t, res, 414, 'URI_TOO_LONG', 'AAAAAAAAAA')
      })

      t.test('a bad percent sequence: 400 BAD_URL', async (t) => {
        const res = await send(request('GET', '/api/v1/courses/%zz-probe'))
        expectContractError(t, res, 400, 'BAD_URL', 'zz-probe')
      })

      t.test('an unknown route: 404 that does not repeat the path', async (t) => {
        const res = await send(request('GET', '/no/such/route-probe'))
        expectContractError(t, res, 404, 'NOT_FOUND', 'route-probe')
      })

      t.test('a wrong content type: 415 that does not repeat it', async (t) => {
        const res = await send(
          request('POST', '/api/v1/auth/login', {
            headers: { 'content-type': 'text/x-probe' },
            body: 'x',
          }),
        )
        expectContractError(t, res, 415, 'UNSUPPORTED_MEDIA_TYPE', 'x-probe')
      })

      t.test('broken JSON: 400 that does not quote the body', async (t) => {
        const res = await send(
          request('POST', '/api/v1/auth/login', {
            headers: { 'content-type': 'application/json' },
            body: '{"studentId": @probe',
          }),
        )
        expectContractError(t, res, 400, 'INVALID_JSON', '@probe')
      })

      t.test('two different Content-Lengths: 400 from the HTTP parser, in our shape', async (t) => {
        const res = await send(
          'POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
            'Content-Length: 5\r\nContent-Length: 6\r\n\r\n{"a":1}',
        )
        expectContractError(t, res, 400, 'BAD_REQUEST')
      })

      t.test('Content-Length with Transfer-Encoding: 400, in our shape', async (t) => {
        const res = await send(
          'POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
            'Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
        )
        expectContractError(t, res, 400, 'BAD_REQUEST')
      })

      t.test('a malformed request line: 400, in our shape', async (t) => {
        const res = await send('GET /api/v1/courses HTTP/9.9 extra\r\n\r\n')
        expectContractError(t, res, 400, 'BAD_REQUEST')
      })

      t.test('headers too large: 431, in our shape', async (t) => {
        const res = await send(
          request('GET', '/health/live', { headers: { 'x-filler': 'f'.repeat(20_000) } }),
        )
        expectContractError(t, res, 431, 'HEADERS_TOO_LARGE')
      })

      t.test('a body that never finishes is cut off with 408, not held for minutes', async (t) => {
        // 12 of the 100 announced bytes, then nothing: the socket is answered and closed once the
        // request deadline (1 s here) passes, checked every second.
        const res = await rawRequest(port, [
          'POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
            'Content-Length: 100\r\n\r\n{"studentId"',
        ])
        expectContractError(t, res, 408, 'REQUEST_TIMEOUT')
      })

      t.test('x-request-id is echoed only when short and plain, otherwise replaced', async (t) => {
        const plain = await send(
          request('GET', '/health/live', { headers: { 'x-request-id': 'lb-1234.abc:9' } }),
        )
        t.equal(plain.headers['x-request-id'], 'lb-1234.abc:9')
        const generated = new Set<string>()
        for (const bad of ['B'.repeat(8_000), 'has space', '<script>', 'a'.repeat(129)]) {
          const res = await send(
            request('GET', '/health/live', { headers: { 'x-request-id': bad } }),
          )
          t.equal(res.status, 200)
          const id = String(res.headers['x-request-id'])
          // The instance's random prefix and a counter.
          t.match(id, /^[A-Za-z0-9_-]{8}-[0-9a-z]+$/, `${bad.slice(0, 12)}… is replaced`)
          generated.add(id)
        }
        t.equal(generated.size, 4, 'every generated id is new')
      })
    },
  )
}

t.test('requests arriving during shutdown get 503 with Retry-After', async (t) => {
  const env = await isolatedEnv(t, 'closing')
  const config = configFrom(env)
  await seedDatabase(config, { students: 1, courses: 1 })
  const app = await startInstance(t, config, { worker: false })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = app.server.address() as AddressInfo
  // A request whose body is still arriving keeps its connection open while the instance starts
  // closing; the rest of it and a second request pipelined behind it then reach a closing
  // instance (what a load balancer's kept-alive connection does in a deploy).
  const socket = connect(port, '127.0.0.1')
  const received: Buffer[] = []
  socket.on('data', (chunk) => received.push(chunk))
  const ended = new Promise((resolve) => socket.on('close', resolve))
  await new Promise((resolve) => socket.on('connect', resolve))
  socket.write(
    'POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
      'Content-Length: 2\r\n\r\n',
  )
  const closed = app.close()
  await waitFor('the instance to start closing', async () => app.sugang.closing)
  socket.write('{}' + 'GET /api/v1/courses HTTP/1.1\r\nHost: x\r\n\r\n')
  await ended
  await closed
  const responses = Buffer.concat(received)
    .toString('utf8')
    .split(/(?=HTTP\/1\.1 )/)
  const last = responses[responses.length - 1] ?? ''
  t.match(last, /^HTTP\/1\.1 503 /, 'the request that arrived while closing: 503')
  t.match(last, /\r\nretry-after: 2\r\n/i, 'with Retry-After')
  t.match(last, /"code":"SHUTTING_DOWN"/, "in the contract's shape")
})
