import { randomUUID } from 'node:crypto'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { HttpError, errorBody } from '../../errors.js'
import type { RequestRecord } from '../../domain/ports.js'
import { sendTooManyRequests, sendUnauthenticated, sessionOf } from '../../plugins/app/sessions.js'
import { errorRef } from '../../schemas/common.js'
import {
  EnqueueResponse,
  EnrollmentList,
  EnrollmentParams,
  EnrollmentRequestBody,
  RequestParams,
  RequestView,
} from '../../schemas/enrollment.js'
import { CourseParams } from '../../schemas/course.js'

/** The answer Redis alone can give: queued with a place, or decided. Null when MySQL must say. */
function viewOf(record: RequestRecord) {
  const { requestId, courseId } = record
  if (record.status === 'queued' && record.position !== null) {
    return { requestId, courseId, status: 'queued' as const, position: record.position }
  }
  if (record.status === 'enrolled') return { requestId, courseId, status: 'enrolled' as const }
  if (record.status === 'rejected') {
    return {
      requestId,
      courseId,
      status: 'rejected' as const,
      reason: record.reason ?? 'COURSE_FULL',
    }
  }
  return null
}

const requestNotFound = (): HttpError =>
  new HttpError(404, 'REQUEST_NOT_FOUND', 'There is no such enrollment request.')

const enrollments: FastifyPluginAsyncTypebox = async (app) => {
  const { config, store, queue, catalogue, worker, cancellation } = app.sugang
  const counter = app.metrics.enrollmentRequests
  const { opensAt, closesAt } = config.registration

  // A bodyless POST means the same as {}.
  app.addHook('preValidation', async (request) => {
    if (request.method === 'POST' && request.body === undefined) request.body = {}
  })

  app.post(
    '/courses/:courseId/enrollment-requests',
    {
      // The enqueue script checks the session and the rate limit itself: one round trip in all.
      config: { sessionCheckedByRoute: true },
      schema: {
        params: CourseParams,
        body: EnrollmentRequestBody,
        response: {
          200: EnqueueResponse,
          202: EnqueueResponse,
          401: errorRef,
          403: errorRef,
          404: errorRef,
          409: errorRef,
          429: errorRef,
          503: errorRef,
        },
      },
    },
    async (request, reply) => {
      const session = sessionOf(request)
      const { courseId } = request.params
      const now = Date.now()
      if ((opensAt && now < opensAt.getTime()) || (closesAt && now >= closesAt.getTime())) {
        counter.inc({ outcome: 'closed' })
        return reply
          .code(403)
          .send(errorBody('REGISTRATION_CLOSED', 'Registration is not open now.'))
      }
      if (!(await catalogue.exists(courseId))) {
        counter.inc({ outcome: 'not_found' })
        return reply.code(404).send(errorBody('COURSE_NOT_FOUND', 'There is no such course.'))
      }
      const result = await queue.enqueue({
        sessionId: session.sessionId,
        studentId: session.studentId,
        courseId,
        requestId: randomUUID(),
        waitlist: request.body.waitlist === true,
      })
      switch (result.kind) {
        case 'created':
          counter.inc({ outcome: 'queued' })
          worker.poke()
          return reply.code(202).send({
            requestId: result.requestId,
            courseId,
            status: 'queued',
            position: result.position,
            queueLength: result.queueLength,
          })
        case 'existing': {
          counter.inc({ outcome: 'existing' })
          let position = result.position
          if (result.status === 'waitlisted') {
            const durable = await store.findDurableRequest(result.requestId)
            position = durable?.status === 'waitlisted' ? durable.position : 1
          }
          return reply.code(200).send({
            requestId: result.requestId,
            courseId,
            status: result.status,
            position,
            queueLength: result.queueLength,
          })
        }
        case 'unauthenticated':
          counter.inc({ outcome: 'unauthenticated' })
          return sendUnauthenticated(reply)
        case 'rate-limited':
          counter.inc({ outcome: 'rate_limited' })
          return sendTooManyRequests(reply, result.retryAfterMs)
        case 'course-full':
          counter.inc({ outcome: 'course_full' })
          return reply
            .code(409)
            .send(errorBody('COURSE_FULL', 'The course is full. Ask for the waitlist instead.'))
        case 'already-enrolled':
          counter.inc({ outcome: 'already_enrolled' })
          return reply
            .code(409)
            .send(errorBody('ALREADY_ENROLLED', 'You are already enrolled in this course.'))
      }
    },
  )

  app.get(
    '/enrollment-requests/:requestId',
    {
      schema: {
        params: RequestParams,
        response: { 200: RequestView, 401: errorRef, 404: errorRef, 429: errorRef, 503: errorRef },
      },
    },
    async (request) => {
      const { studentId } = sessionOf(request)
      const { requestId } = request.params
      const record = await queue.getRequest(requestId)
      // Another student's request is answered exactly like a missing one.
      if (record && record.studentId !== studentId) throw requestNotFound()
      const decided = record && viewOf(record)
      if (decided) return decided
      // Waitlisted (its position lives in MySQL), decided a moment ago, or no longer in Redis.
      const durable = await store.findDurableRequest(requestId)
      if (durable && durable.studentId === studentId) {
        return durable.status === 'waitlisted'
          ? {
              requestId,
              courseId: durable.courseId,
              status: durable.status,
              position: durable.position,
            }
          : { requestId, courseId: durable.courseId, status: durable.status }
      }
      const fresh = record && (await queue.getRequest(requestId))
      const view = fresh && viewOf(fresh)
      if (view) return view
      if (fresh?.status === 'waitlisted') {
        // The waitlist entry is gone without a promotion: the rules turned it down.
        return {
          requestId,
          courseId: fresh.courseId,
          status: 'rejected' as const,
          reason: fresh.reason ?? 'COURSE_FULL',
        }
      }
      throw requestNotFound()
    },
  )

  app.get(
    '/me/enrollments',
    { schema: { response: { 200: EnrollmentList, 401: errorRef, 429: errorRef, 503: errorRef } } },
    async (request) => {
      const list = await store.listEnrollments(sessionOf(request).studentId)
      return {
        enrollments: list.map((e) => ({ ...e, enrolledAt: e.enrolledAt.toISOString() })),
      }
    },
  )

  app.delete(
    '/me/enrollments/:courseId',
    {
      schema: {
        params: EnrollmentParams,
        response: { 204: Type.Null(), 401: errorRef, 404: errorRef, 429: errorRef, 503: errorRef },
      },
    },
    async (request, reply) => {
      const { studentId } = sessionOf(request)
      const { courseId } = request.params
      // Committed in MySQL before the answer; the queue hears of it right after (retried, and
      // repaired by the reconciler if it never does).
      const result = await cancellation.cancel(studentId, courseId)
      if (!result.ok) {
        throw new HttpError(404, 'NOT_ENROLLED', 'You are not enrolled in this course.')
      }
      if (result.promoted) app.metrics.waitlistPromotions.inc()
      request.log.info(
        { studentId, courseId, promoted: result.promoted?.studentId ?? null },
        'enrollment cancelled',
      )
      return reply.code(204).send(null)
    },
  )
}

export default enrollments
