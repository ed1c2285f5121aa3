import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import type { WatchUpdate } from '../../domain/request-watch.js'
import { sessionOf } from '../../plugins/app/sessions.js'
import { errorRef } from '../../schemas/common.js'

/** How often a comment line keeps an idle stream open through proxies (the ALB idles at 60 s). */
const HEARTBEAT_MS = 15_000
/** Requests one stream may watch. */
const MAX_WATCHED = 20
const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}'

const EventsQuery = Type.Object(
  {
    requests: Type.String({
      pattern: `^${UUID}(,${UUID}){0,${MAX_WATCHED - 1}}$`,
      description: `Comma-separated ids of the student's own requests (at most ${MAX_WATCHED}).`,
    }),
  },
  { additionalProperties: false },
)

/**
 * The live answers of a student's requests as Server-Sent Events: an event `request` with the
 * request's answer (and `estimatedWaitSeconds` while queued) at once and on every change. A page
 * without EventSource polls GET /enrollment-requests/{requestId} instead.
 */
const events: FastifyPluginAsyncTypebox = async (app) => {
  const { watch } = app.sugang
  const open = new Set<() => void>()

  // Streams never end by themselves: close them when the instance shuts down.
  app.addHook('preClose', async () => {
    for (const close of open) close()
  })

  app.get(
    '/me/events',
    {
      schema: {
        summary: 'Watch my requests live (Server-Sent Events)',
        description:
          "text/event-stream. Each `request` event carries JSON {requestId, courseId, status, position?, reason?, estimatedWaitSeconds?}: first the current answer of every watched request, then each change. Requests that are not the student's are ignored. A comment line every 15 s keeps the stream open.",
        tags: ['enrollments'],
        querystring: EventsQuery,
        response: {
          200: Type.String({ description: 'text/event-stream' }),
          400: errorRef,
          401: errorRef,
          429: errorRef,
          503: errorRef,
        },
      },
    },
    async (request, reply) => {
      const { studentId } = sessionOf(request)
      const ids = request.query.requests.split(',')
      const raw = reply.raw
      reply.hijack()
      raw.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
        'x-request-id': request.id,
      })
      raw.write('retry: 3000\n\n')
      const send = (update: WatchUpdate): void => {
        raw.write(`event: request\ndata: ${JSON.stringify(update)}\n\n`)
      }
      let stop: () => void = () => undefined
      const heartbeat = setInterval(() => raw.write(': keep-alive\n\n'), HEARTBEAT_MS)
      heartbeat.unref()
      const close = (): void => {
        clearInterval(heartbeat)
        stop()
        open.delete(close)
        if (!raw.writableEnded) raw.end()
      }
      open.add(close)
      raw.on('close', close)
      try {
        stop = await watch.watch(studentId, ids, send)
        if (raw.destroyed) stop()
      } catch (err) {
        request.log.warn({ err }, 'could not start watching requests')
        raw.write(`event: unavailable\ndata: {}\n\n`)
        close()
      }
    },
  )
}

export default events
