// Baseline "bare": the machine's ceiling. The same routes, body schema and answer shapes as the
// other designs, with no database and no Redis behind them: what Fastify alone costs on this
// machine. It is in the rush benchmark so that every other design's throughput can be read as a
// share of what is possible at all. A strawman to measure against: it lives in scripts/ only,
// never in the service.
//
//   PORT=3403 [HOST] node --import tsx scripts/rush/baselines/bare.ts
import { randomUUID } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import Fastify from 'fastify'
import type { FastifyError } from 'fastify'

const config = {
  port: Number(process.env.PORT ?? 3000),
  host: process.env.HOST ?? '127.0.0.1',
}

const errorBody = (code: string, message: string) => ({ error: { code, message } })

const app = Fastify({
  logger: false,
  ajv: { customOptions: { removeAdditional: false, coerceTypes: false } },
})

app.setErrorHandler((err: FastifyError, _request, reply) => {
  if (err.validation) return reply.code(400).send(errorBody('VALIDATION_FAILED', err.message))
  if (err.statusCode && err.statusCode < 500) {
    return reply.code(err.statusCode).send(errorBody('BAD_REQUEST', err.message))
  }
  console.error(err)
  return reply.code(500).send(errorBody('INTERNAL', 'Something went wrong.'))
})

// A bodyless POST means the same as {}, as in the service.
app.addHook('preValidation', async (request) => {
  if (request.method === 'POST' && request.body === undefined) request.body = {}
})

app.get('/health', async () => ({ status: 'ok' }))

const ID = '^[A-Za-z0-9_-]{1,16}$'
const UUID = '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'

app.post<{ Params: { courseId: string } }>(
  '/api/v1/courses/:courseId/enrollment-requests',
  {
    schema: {
      params: {
        type: 'object',
        properties: { courseId: { type: 'string', pattern: ID } },
        required: ['courseId'],
        additionalProperties: false,
      },
      body: {
        type: 'object',
        properties: { waitlist: { type: 'boolean' } },
        additionalProperties: false,
      },
      response: {
        202: {
          type: 'object',
          properties: {
            requestId: { type: 'string' },
            courseId: { type: 'string' },
            status: { type: 'string' },
            position: { type: 'integer' },
            queueLength: { type: 'integer' },
          },
        },
      },
    },
  },
  async (request, reply) =>
    reply.code(202).send({
      requestId: randomUUID(),
      courseId: request.params.courseId,
      status: 'queued',
      position: 1,
      queueLength: 1,
    }),
)

// Answers every request id as enrolled in a course named C0001: only the shape is meant to match.
app.get<{ Params: { requestId: string } }>(
  '/api/v1/enrollment-requests/:requestId',
  {
    schema: {
      params: {
        type: 'object',
        properties: { requestId: { type: 'string', pattern: UUID } },
        required: ['requestId'],
        additionalProperties: false,
      },
      response: {
        200: {
          type: 'object',
          properties: {
            requestId: { type: 'string' },
            courseId: { type: 'string' },
            status: { type: 'string' },
          },
        },
      },
    },
  },
  async (request) => ({
    requestId: request.params.requestId,
    courseId: 'C0001',
    status: 'enrolled',
  }),
)

function onSignal(): void {
  app.close().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err)
      process.exit(1)
    },
  )
}

await app.listen({ host: config.host, port: config.port })
const { port } = app.server.address() as AddressInfo
console.log(`listening on http://${config.host}:${port}`)
process.once('SIGTERM', onSignal)
process.once('SIGINT', onSignal)
