// The baseline for the enqueue benchmark: a bare Fastify POST route answering 202 with a small
// JSON body, no session, no Redis. PORT from the environment.
import Fastify from 'fastify'

const app = Fastify({ logger: false })
app.post('/api/v1/courses/:courseId/enrollment-requests', async (request, reply) => {
  return reply.code(202).send({ courseId: request.params.courseId, status: 'queued', position: 1 })
})
await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 3390) })
