// Baselines for the enqueue benchmark, each a single Fastify POST route answering 202, without
// sessions, hooks or metrics. MODE picks what the route does:
//   bare          nothing (the framework's own cost)
//   lua-trivial   one Redis Lua call with one ZADD (the cost of a round trip)
//   lua-enqueue   sugang's real enqueue through its Redis adapter, the cookie parsed by hand
// PORT from the environment; Redis at REDIS_URL with prefix REDIS_PREFIX.
import { randomUUID } from 'node:crypto'
import Fastify from 'fastify'
import { Redis } from 'ioredis'
import { serviceModule } from './lib/harness.mjs'

const mode = process.env.MODE ?? 'bare'
const prefix = process.env.REDIS_PREFIX ?? 'bench:'
const app = Fastify({ logger: false })
const route = '/api/v1/courses/:courseId/enrollment-requests'

if (mode === 'bare') {
  app.post(route, async (request, reply) =>
    reply.code(202).send({ courseId: request.params.courseId, status: 'queued', position: 1 }),
  )
} else {
  const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', {
    enableAutoPipelining: true,
  })
  redis.defineCommand('trivial', {
    numberOfKeys: 1,
    lua: "return redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])",
  })
  // The service's own Redis adapter: the real enqueue script, keys and command policy.
  const { createRedisRushState } = await serviceModule('adapters/redis/index.ts')
  const rush = createRedisRushState({
    url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    prefix,
    sessionTtlSeconds: 3600,
    decidedTtlSeconds: 3600,
    requestBudget: { max: 1_000_000, windowMs: 10_000 },
  })
  let n = 0
  app.post(route, async (request, reply) => {
    const { courseId } = request.params
    if (mode === 'lua-trivial') {
      n += 1
      const added = await redis.trivial(`${prefix}trivial:${courseId}`, n, `m${n}`)
      return reply.code(202).send({ courseId, status: 'queued', position: added })
    }
    // The signed cookie is "<sid>.<student>.<signature>"; the signature is not checked here.
    const [sid, student] = decodeURIComponent(request.headers.cookie.split('=')[1]).split('.')
    const r = await rush.queue.enqueue({
      sessionId: sid,
      studentId: student,
      courseId,
      requestId: randomUUID(),
      waitlist: false,
      refuseWhenFull: true,
    })
    return reply
      .code(r.kind === 'created' ? 202 : 200)
      .send({ requestId: r.requestId, status: r.status, position: r.position })
  })
}
await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 3390) })
