import { request as httpRequest, type IncomingMessage } from 'node:http'
import t from 'tap'
import type { Test as Tap } from 'tap'
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
import { takeEvents } from '../support/sse.js'

interface Stream {
  readonly events: Array<Record<string, unknown>>
  readonly status: number
  readonly contentType: string
  readonly retryAfter: string | undefined
  /** The `retry:` fields the server sent (how long the browser waits to reconnect, in ms). */
  readonly retries: number[]
  /** Whether the server has ended the stream. */
  ended(): boolean
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
      const retries: number[] = []
      let ended = false
      let buffer = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        const taken = takeEvents(buffer + chunk)
        buffer = taken.rest
        for (const { event, data, retry } of taken.events) {
          if (event === 'request' && data) events.push(JSON.parse(data))
          if (retry !== undefined) retries.push(retry)
        }
      })
      res.on('error', () => undefined)
      res.on('end', () => (ended = true))
      res.on('close', () => (ended = true))
      resolve({
        events,
        status: res.statusCode ?? 0,
        contentType: String(res.headers['content-type']),
        retryAfter: res.headers['retry-after'],
        retries,
        ended: () => ended,
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

/** An instance listening on a port of its own, with a few students who each queued a request. */
async function streamWorld(
  t: Tap,
  storage: (typeof STORAGES)[number],
  settings: Record<string, string>,
): Promise<{ base: string; cookies: string[]; requests: string[] }> {
  const env = await isolatedEnv(t, 'streams', storage)
  const config = configFrom(env, settings)
  await seedDatabase(config, { students: 3, capacity: 2 })
  const app = await startInstance(t, config, { worker: false })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const address = app.server.address()
  if (!address || typeof address === 'string') throw new Error('no address')
  const cookies: string[] = []
  const requests: string[] = []
  for (const s of ['S000001', 'S000002']) {
    const cookie = await login(app, s)
    cookies.push(cookie)
    requests.push(await enqueue(app, cookie))
  }
  return { base: `http://127.0.0.1:${address.port}`, cookies, requests }
}

for (const storage of STORAGES) {
  t.test(
    `a student holds at most MAX_STREAMS_PER_STUDENT streams on an instance, however many are opened at once (${storage})`,
    async (t) => {
      const { base, cookies, requests } = await streamWorld(t, storage, {
        MAX_STREAMS_PER_STUDENT: '3',
      })
      const [mine, theirs] = [cookies[0] as string, cookies[1] as string]
      const [myRequest, theirRequest] = [requests[0] as string, requests[1] as string]
      for (let round = 1; round <= 5; round += 1) {
        const streams = await Promise.all(
          Array.from({ length: 12 }, () => openStream(base, mine, [myRequest])),
        )
        const statuses = streams.map((s) => s.status).sort()
        t.same(statuses, [200, 200, 200, ...Array<number>(9).fill(429)], `round ${round}`)
        const refused = streams.filter((s) => s.status === 429)
        t.ok(
          refused.every((s) => Number(s.retryAfter) > 0),
          'each refusal says when to try again',
        )
        const other = await openStream(base, theirs, [theirRequest])
        t.equal(other.status, 200, "another student's streams are counted apart")
        other.close()
        for (const s of streams) s.close()
        // A closed stream gives its place back as soon as the server sees the connection go.
        await waitFor('the places to be free again', async () => {
          const probe = await Promise.all(
            Array.from({ length: 3 }, () => openStream(base, mine, [myRequest])),
          )
          for (const p of probe) p.close()
          return probe.every((p) => p.status === 200)
        })
        await waitFor('the probes to be gone', async () => {
          const again = await Promise.all(
            Array.from({ length: 3 }, () => openStream(base, mine, [myRequest])),
          )
          for (const p of again) p.close()
          return again.every((p) => p.status === 200)
        })
      }
    },
  )

  t.test(
    `a stream ends after STREAM_LIFETIME_MS and the browser reconnects to the current answers (${storage})`,
    async (t) => {
      const { base, cookies, requests } = await streamWorld(t, storage, {
        STREAM_LIFETIME_MS: '1000',
      })
      const cookie = cookies[0] as string
      const request = requests[0] as string
      for (let round = 1; round <= 3; round += 1) {
        const stream = await openStream(base, cookie, [request])
        t.teardown(() => stream.close())
        t.equal(stream.status, 200)
        await waitFor('the stream to end by itself', async () => stream.ended(), 20_000)
        t.ok(stream.retries.length > 0 && (stream.retries[0] ?? 0) > 0, 'with a retry interval')
        t.same(
          stream.events.map((e) => e.requestId),
          [request],
          'after the current answer of the watched request',
        )
      }
      // Reconnecting (what EventSource does after `retry` ms) gives the current answers again.
      const again = await openStream(base, cookie, [request])
      t.teardown(() => again.close())
      await waitFor('the current answer', async () => again.events.length > 0)
      t.match(again.events[0], { requestId: request, status: 'queued', position: 1 })
    },
  )
}
