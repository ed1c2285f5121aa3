import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { noticeOf, type ControlState } from '../../domain/operations.js'
import { errorRef } from '../../schemas/common.js'
import { NoticeView } from '../../schemas/notices.js'

/**
 * The Notice of a state of the controls as JSON, serialized once per state: the instance's copy
 * of the controls hands out the same state object until something changes, so GET /notices and
 * every open event stream share one serialization per change.
 */
const serialized = new WeakMap<ControlState, string>()

export function noticeJson(state: ControlState): string {
  let json = serialized.get(state)
  if (json === undefined) {
    json = JSON.stringify(noticeOf(state))
    serialized.set(state, json)
  }
  return json
}

/**
 * What operators tell every student (domain/operations.ts): the announcement, paused admission,
 * the version of the registration window. Public: the login page shows the banner too. The
 * pages that hold an event stream are sent the same as the event `notice`; this route is what
 * the others poll. Read from the instance's copy of the controls: no query.
 */
const notices: FastifyPluginAsyncTypebox = async (app) => {
  const { controls } = app.sugang

  app.get(
    '/notices',
    {
      config: { public: true },
      schema: {
        summary:
          "What the operators tell every student: announcement, pauses, the window's version",
        description:
          'No session. The announcement to show as a banner (in Korean and English; its id changes with every new one), the courses whose admission is paused (courseId null: every course) with the reason, and windowVersion, which changes whenever the registration window is moved (ask GET /api/v1/me for the window again then). Each instance reads the controls every second, so a change shows here within about a second. A page holding GET /api/v1/me/events is sent the same as its event `notice`, at once and on every change; a page without EventSource polls this.',
        tags: ['enrollments'],
        response: { 200: NoticeView, 503: errorRef },
      },
    },
    async (_request, reply) =>
      reply.type('application/json; charset=utf-8').send(noticeJson(controls.state)),
  )
}

export default notices
