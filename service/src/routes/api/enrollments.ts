import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { HttpError } from '../../errors.js'
import { sessionOf } from '../../plugins/app/sessions.js'
import { REFUSALS, isRefusal, sendRefusal } from './refusals.js'
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

const requestNotFound = (): HttpError =>
  new HttpError(404, 'REQUEST_NOT_FOUND', 'There is no such enrollment request.')

const enrollments: FastifyPluginAsyncTypebox = async (app) => {
  const { requests, cancellation, watch } = app.sugang
  const counter = app.metrics.enrollmentRequests

  // A bodyless POST means the same as {}.
  app.addHook('preValidation', (request, _reply, done) => {
    if (request.method === 'POST' && request.body === undefined) request.body = {}
    done()
  })

  app.post(
    '/courses/:courseId/enrollment-requests',
    {
      // The enqueue script checks the session and the rate limit itself: one round trip in all.
      config: { sessionCheckedByRoute: true },
      // The rush's answers are below the compression threshold: skip its hooks.
      compress: false,
      schema: {
        summary: 'Ask for a seat in a course',
        description:
          'Joins the course queue: 202 with the request id and its position. Asking again while the request is live returns it (200). A body of {"waitlist": true} asks for a waitlist place if the course is full. The admission worker decides: poll GET /api/v1/enrollment-requests/{requestId}. 403 REGISTRATION_CLOSED, 404 COURSE_NOT_FOUND, 409 COURSE_FULL or ALREADY_ENROLLED, 429 RATE_LIMITED.',
        tags: ['enrollments'],
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
      const result = await requests.submit({
        sessionId: session.sessionId,
        studentId: session.studentId,
        courseId,
        waitlist: request.body.waitlist === true,
      })
      if (isRefusal(result)) {
        counter.inc({ outcome: REFUSALS[result.kind].metric })
        return sendRefusal(reply, result)
      }
      counter.inc({ outcome: result.kind === 'created' ? 'queued' : 'existing' })
      return reply.code(result.kind === 'created' ? 202 : 200).send({
        requestId: result.requestId,
        courseId,
        status: result.status,
        position: result.position,
        queueLength: result.queueLength,
      })
    },
  )

  app.get(
    '/enrollment-requests/:requestId',
    {
      // The read script checks the session and the rate limit itself: one round trip in all.
      config: { sessionCheckedByRoute: true },
      // The rush's answers are below the compression threshold: skip its hooks.
      compress: false,
      schema: {
        summary: 'Get an enrollment request',
        description:
          "Its status: queued (with its position), waitlisted (with its position), enrolled, or rejected (with a reason). 404 REQUEST_NOT_FOUND, also for another student's request.",
        tags: ['enrollments'],
        params: RequestParams,
        response: { 200: RequestView, 401: errorRef, 404: errorRef, 429: errorRef, 503: errorRef },
      },
    },
    async (request, reply) => {
      const result = await requests.check(sessionOf(request), request.params.requestId)
      if (result.kind !== 'view') return sendRefusal(reply, result)
      // Another student's request is answered exactly like a missing one.
      if (!result.view) throw requestNotFound()
      return result.view
    },
  )

  app.get(
    '/me/enrollments',
    {
      schema: {
        summary: 'List my enrollments',
        description: 'The courses the student is enrolled in.',
        tags: ['enrollments'],
        response: { 200: EnrollmentList, 401: errorRef, 429: errorRef, 503: errorRef },
      },
    },
    async (request) => {
      const list = await requests.enrollments(sessionOf(request).studentId)
      return {
        enrollments: list.map((e) => ({ ...e, enrolledAt: e.enrolledAt.toISOString() })),
      }
    },
  )

  app.delete(
    '/me/enrollments/:courseId',
    {
      schema: {
        summary: 'Cancel an enrollment',
        description:
          'Gives the seat up; the head of the course waitlist takes it in the same transaction. 404 NOT_ENROLLED.',
        tags: ['enrollments'],
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
      watch.courseChanged(courseId)
      request.log.info(
        { studentId, courseId, promoted: result.promoted?.studentId ?? null },
        'enrollment cancelled',
      )
      return reply.code(204).send(null)
    },
  )

  app.delete(
    '/me/waitlist/:courseId',
    {
      schema: {
        summary: 'Leave a waitlist',
        description:
          "Gives the student's waitlist place in the course up; everyone behind moves up one place, and the request is answered rejected with reason LEFT_WAITLIST from then on. Committed in the same way as a cancellation: a seat being handed to the waitlist head at the same moment goes either to this student (then 404, since they hold the seat) or past them, never to a student whose leave was confirmed. Asking again later joins at the end. 404 NOT_WAITLISTED.",
        tags: ['enrollments'],
        params: EnrollmentParams,
        response: { 204: Type.Null(), 401: errorRef, 404: errorRef, 429: errorRef, 503: errorRef },
      },
    },
    async (request, reply) => {
      const { studentId } = sessionOf(request)
      const { courseId } = request.params
      const result = await cancellation.leaveWaitlist(studentId, courseId)
      if (!result.ok) {
        throw new HttpError(404, 'NOT_WAITLISTED', 'You are not on the waitlist of this course.')
      }
      watch.courseChanged(courseId)
      request.log.info({ studentId, courseId, requestId: result.requestId }, 'waitlist left')
      return reply.code(204).send(null)
    },
  )
}

export default enrollments
