import { request as httpRequest, type IncomingMessage } from 'node:http'
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import {
  configFrom,
  isolatedEnv,
  login,
  seedDatabase,
  startInstance,
  waitFor,
  STORAGES,
} from '../helper.js'

interface Stream {
  readonly events: Array<Record<string, unknown>>
  readonly status: number
  readonly contentType: string
  close(): void
}

/** Opens the event stream like a browser's EventSource and collects the `request` events. */
async function openStream(base: string, cookie: string, ids: string[]): Promise<Stream> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${base}/api/v1/me/events?requests=${ids.join(',')}`, {
      headers: { cookie, accept: 'text/event-stream' },
    })
    req.on('error', reject)
    req.on('response', (res: IncomingMessage) => {
      const events: Array<Record<string, unknown>> = []
      let buffer = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        buffer += chunk
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          const block = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          const data = /^data: (.*)$/m.exec(block)?.[1]
          if (/^event: request$/m.test(block) && data) events.push(JSON.parse(data))
        }
      })
      res.on('error', () => undefined)
      resolve({
        events,
        status: res.statusCode ?? 0,
        contentType: String(res.headers['content-type']),
        close: () => req.destroy(),
      })
    })
    req.end()
  })
}

async function enqueue(app: FastifyInstance, cookie: string): Promise<string> {
  const res = await app.inject({
    method: 'POST',
    url: '/api/v1/courses/C0001/enrollment-requests',
    headers: { cookie },
    payload: {},
  })
  return (res.json() as { requestId: string }).requestId
}

for (const storage of STORAGES) {
  t.test(
    `a student watches their place move up and sees the result, pushed (${storage})`,
    async (t) => {
      const env = await isolatedEnv(t, 'events', storage)
      const config = configFrom(env)
      await seedDatabase(config, { students: 6, capacity: 2 })
      // No worker: the test lets the queue go, one request at a time.
      const app = await startInstance(t, config, { worker: false })
      await app.listen({ host: '127.0.0.1', port: 0 })
      const address = app.server.address()
      if (!address || typeof address === 'string') throw new Error('no address')
      const base = `http://127.0.0.1:${address.port}`

      const students = ['S000001', 'S000002', 'S000003', 'S000004', 'S000005']
      const cookies = new Map<string, string>()
      const requests = new Map<string, string>()
      for (const s of students) {
        cookies.set(s, await login(app, s))
        requests.set(s, await enqueue(app, cookies.get(s) as string))
      }
      const last = requests.get('S000005') as string
      const stream = await openStream(base, cookies.get('S000005') as string, [
        last,
        requests.get('S000001') as string, // another student's: ignored
      ])
      t.teardown(() => stream.close())
      t.equal(stream.status, 200)
      t.match(stream.contentType, /^text\/event-stream/)
      await waitFor('the first event', async () => stream.events.length > 0)
      t.same(stream.events[0], {
        requestId: last,
        courseId: 'C0001',
        status: 'queued',
        position: 5,
      })

      // The queue lets go of its head, one request at a time, as a worker would.
      const { queue, leases } = app.sugang.rush
      await leases.acquireCourse('C0001', 'test', 60_000)
      const letGo = async (student: string, status: 'enrolled' | 'rejected', seatsLeft: number) => {
        const requestId = requests.get(student) as string
        const decision =
          status === 'enrolled'
            ? { requestId, studentId: student, status }
            : { requestId, studentId: student, status, reason: 'COURSE_FULL' as const }
        await queue.settle('C0001', 'test', [decision], { seatsLeft, version: 1, versionBefore: 1 })
        await app.sugang.watch.tick()
      }
      const positions = () =>
        stream.events.filter((e) => e.status === 'queued').map((e) => e.position as number)

      await letGo('S000001', 'enrolled', 1)
      await waitFor('place 4', async () => positions().includes(4))
      await letGo('S000002', 'enrolled', 0)
      await letGo('S000003', 'rejected', 0)
      await letGo('S000004', 'rejected', 0)
      await waitFor('place 1', async () => positions().includes(1))
      t.same(
        positions().filter((p, i, all) => all.indexOf(p) === i),
        positions(),
        'each place is told once',
      )
      t.ok(
        stream.events.some((e) => typeof e.estimatedWaitSeconds === 'number'),
        'with a wait estimated from how fast the queue moved',
      )
      await letGo('S000005', 'rejected', 0)
      const final = await waitFor('the result', async () =>
        stream.events.find((e) => e.status === 'rejected'),
      )
      t.same(final, {
        requestId: last,
        courseId: 'C0001',
        status: 'rejected',
        reason: 'COURSE_FULL',
      })
      t.notOk(
        stream.events.some((e) => e.requestId !== last),
        "another student's request is never streamed",
      )

      const decided = await openStream(base, cookies.get('S000001') as string, [
        requests.get('S000001') as string,
      ])
      t.teardown(() => decided.close())
      await waitFor('the decided answer', async () => decided.events.length > 0)
      t.same(decided.events[0], {
        requestId: requests.get('S000001'),
        courseId: 'C0001',
        status: 'enrolled',
      })

      const anonymous = await fetch(`${base}/api/v1/me/events?requests=${last}`)
      t.equal(anonymous.status, 401, 'no session, no stream')
      const malformed = await fetch(`${base}/api/v1/me/events?requests=nope`, {
        headers: { cookie: cookies.get('S000005') as string },
      })
      t.equal(malformed.status, 400)
    },
  )
}
