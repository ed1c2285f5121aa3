// Baseline "bare": the machine's ceiling. The same routes, body schema and answer shapes as the
// other designs, with no database and no Redis behind them: what Fastify alone costs on this
// machine. It is in the rush benchmark so that every other design's throughput can be read as a
// share of what is possible at all. A strawman to measure against: it lives in scripts/ only,
// never in the service.
//
//   PORT=3403 [HOST] node --import tsx scripts/rush/baselines/bare.ts
import { randomUUID } from 'node:crypto'
import {
  ENROLLMENT_REQUEST,
  EnqueueResponse,
  REQUEST_STATUS,
  RequestResponse,
  baselineApp,
  enrollmentRequestSchema,
  requestStatusParams,
  serve,
} from './server.js'

const app = baselineApp()

app.post<{ Params: { courseId: string } }>(
  ENROLLMENT_REQUEST,
  { schema: { ...enrollmentRequestSchema, response: { 202: EnqueueResponse } } },
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
  REQUEST_STATUS,
  {
    schema: {
      params: requestStatusParams,
      response: { 200: RequestResponse },
    },
  },
  async (request) => ({
    requestId: request.params.requestId,
    courseId: 'C0001',
    status: 'enrolled',
  }),
)

await serve(app)
