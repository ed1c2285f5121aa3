import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import type { ControlState } from '../../domain/operations.js'
import type { WatchUpdate } from '../../domain/request-watch.js'
import { HttpError } from '../../errors.js'
import { NOSNIFF, NO_STORE } from '../../plugins/app/security-headers.js'
import { sessionOf } from '../../plugins/app/sessions.js'
import { errorRef } from '../../schemas/common.js'
import { EventStream, HEARTBEAT_MS, eventFrame } from './event-stream.js'
import { noticeJson } from './notices.js'

/** Requests one stream may watch. */
const MAX_WATCHED = 20
/** Retry-After of a stream refused because the student holds too many (s). */
const STREAMS_RETRY_AFTER_SECONDS = 30
const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}'

const EventsQuery = Type.Object(
  {
    requests: Type.Optional(
      Type.String({
        pattern: `^${UUID}(,${UUID}){0,${MAX_WATCHED - 1}}$`,
        description: `Comma-separated ids of the student's own requests (at most ${MAX_WATCHED}). Left out: the stream carries the notices alone.`,
      }),
    ),
  },
  { additionalProperties: false },
)

/**
 * The student page's live stream, as Server-Sent Events: an event `notice` with what the
 * operators tell every student (GET /notices) at once and on every change, and an event
 * `request` with the answer of each watched request (and `estimatedWaitSeconds` while queued) at
 * once and on every change. Every open page holds one, with or without requests to watch. A page
 * without EventSource polls GET /notices and GET /enrollment-requests/{requestId} instead.
 */
const events: FastifyPluginAsyncTypebox = async (app) => {
  const { watch, config, controls } = app.sugang
  const limits = config.streams
  const open = new Set<EventStream>()
  /** Streams each student holds open on this instance. */
  const held = new Map<string, number>()

  /** The `notice` event of a state, built once and sent as it is to every stream. */
  const noticeFrame = (state: ControlState): string => eventFrame('notice', noticeJson(state))
  /** What the open streams were last sent: a change that leaves the notice as it was is not sent. */
  let told = noticeFrame(controls.state)
  const stopListening = controls.onChange((state) => {
    const frame = noticeFrame(state)
    if (frame === told) return
    told = frame
    for (const stream of open) stream.sendFrame(frame)
  })

  // Close what is still open when the instance shuts down.
  app.addHook('preClose', async () => {
    for (const stream of open) stream.end('closed')
  })
  app.addHook('onClose', async () => {
    stopListening()
  })

  app.get(
    '/me/events',
    {
      schema: {
        summary: 'Watch the notices and my requests live (Server-Sent Events)',
        description:
          "text/event-stream. First a `notice` event with what GET /api/v1/notices answers (announcement, pauses, windowVersion), and another whenever that changes (within about a second of an operator's command, on every instance). Each `request` event carries JSON {requestId, courseId, status, position?, reason?, estimatedWaitSeconds?}: first the current answer of every watched request, then each change. Requests that are not the student's are ignored; without `requests` the stream carries the notices alone (every open page holds one). A comment line every 15 s keeps the stream open. The server ends a stream after STREAM_LIFETIME_MS (15 min by default), and one whose client stops reading; the browser reconnects after `retry` (3 s) and is sent every current answer again, so no event id is needed. 429 TOO_MANY_STREAMS with Retry-After: the student already holds MAX_STREAMS_PER_STUDENT (4) open streams on this instance (poll meanwhile).",
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
      // Taken before anything is awaited, so streams opened at once cannot slip past the limit.
      const holding = held.get(studentId) ?? 0
      if (holding >= limits.perStudent) {
        throw new HttpError(
          429,
          'TOO_MANY_STREAMS',
          'You have too many live connections open; close a tab or wait.',
          { 'retry-after': String(STREAMS_RETRY_AFTER_SECONDS) },
        )
      }
      held.set(studentId, holding + 1)
      const ids = request.query.requests?.split(',') ?? []
      const raw = reply.raw
      reply.hijack()
      raw.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        // Hijacked, so the onSend hook that adds these to every other answer does not run.
        'cache-control': `${NO_STORE}, no-transform`,
        'x-content-type-options': NOSNIFF,
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
        'x-request-id': request.id,
      })
      let stop: () => void = () => undefined
      const stream = new EventStream(
        raw,
        { lifetimeMs: limits.lifetimeMs, stallMs: limits.stallMs, heartbeatMs: HEARTBEAT_MS },
        (why) => {
          stop()
          open.delete(stream)
          const left = (held.get(studentId) ?? 1) - 1
          if (left > 0) held.set(studentId, left)
          else held.delete(studentId)
          if (why === 'stalled') request.log.info({ studentId }, 'event stream closed: not read')
        },
      )
      open.add(stream)
      stream.sendFrame(noticeFrame(controls.state))
      if (ids.length === 0) return
      const send = (update: WatchUpdate): void => stream.send('request', update)
      try {
        stop = await watch.watch(studentId, ids, send)
        if (stream.ended) stop()
      } catch (err) {
        request.log.warn({ err }, 'could not start watching requests')
        stream.send('unavailable', {})
        stream.end('closed')
      }
    },
  )
}

export default events
