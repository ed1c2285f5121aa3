import { randomUUID } from 'node:crypto'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import type { SubmitResult } from '../../domain/enrollment-requests.js'
import { HttpError, closedBody } from '../../errors.js'
import { sendUnauthenticated, sessionOf } from '../../plugins/app/sessions.js'
import { errorRef } from '../../schemas/common.js'
import { CartParams, CartRequestResults, CartView, EmptyRequestBody } from '../../schemas/me.js'

type Refusal = Exclude<SubmitResult['kind'], 'created' | 'existing'>

/** What a course of the cart was told, in the words of the contract's errors. */
const REFUSALS: Record<Refusal, { code: string; message: string; metric: string }> = {
  closed: {
    code: 'REGISTRATION_CLOSED',
    message: 'Registration is not open now.',
    metric: 'closed',
  },
  'course-not-found': {
    code: 'COURSE_NOT_FOUND',
    message: 'There is no such course.',
    metric: 'not_found',
  },
  unauthenticated: {
    code: 'UNAUTHENTICATED',
    message: 'Log in first: the session is missing or has ended.',
    metric: 'unauthenticated',
  },
  'rate-limited': {
    code: 'RATE_LIMITED',
    message: 'Too many requests; slow down and retry shortly.',
    metric: 'rate_limited',
  },
  'course-full': {
    code: 'COURSE_FULL',
    message: 'The course is full. Ask for the waitlist instead.',
    metric: 'course_full',
  },
  'already-enrolled': {
    code: 'ALREADY_ENROLLED',
    message: 'You are already enrolled in this course.',
    metric: 'already_enrolled',
  },
}

/** The pre-registration cart (장바구니). */
const cart: FastifyPluginAsyncTypebox = async (app) => {
  const { carts } = app.sugang
  const counter = app.metrics.enrollmentRequests

  // A bodyless POST means the same as {}.
  app.addHook('preValidation', async (request) => {
    if (request.method === 'POST' && request.body === undefined) request.body = {}
  })

  app.get(
    '/me/cart',
    {
      schema: {
        summary: 'My cart',
        description: 'Courses saved to request together, in the order they were added.',
        tags: ['cart'],
        response: { 200: CartView, 401: errorRef, 429: errorRef, 503: errorRef },
      },
    },
    async (request) => {
      const items = await carts.list(sessionOf(request).studentId)
      return { items: items.map((i) => ({ ...i, addedAt: i.addedAt.toISOString() })) }
    },
  )

  app.put(
    '/me/cart/:courseId',
    {
      schema: {
        summary: 'Add a course to my cart',
        description:
          'Adds at the end; adding a course already there changes nothing. Allowed before registration opens. 404 COURSE_NOT_FOUND, 409 CART_FULL.',
        tags: ['cart'],
        params: CartParams,
        response: {
          204: Type.Null(),
          401: errorRef,
          404: errorRef,
          409: errorRef,
          429: errorRef,
          503: errorRef,
        },
      },
    },
    async (request, reply) => {
      const result = await carts.add(sessionOf(request).studentId, request.params.courseId)
      if (result === 'course-not-found') {
        throw new HttpError(404, 'COURSE_NOT_FOUND', 'There is no such course.')
      }
      if (result === 'cart-full') {
        throw new HttpError(409, 'CART_FULL', 'The cart is full; remove a course first.')
      }
      return reply.code(204).send(null)
    },
  )

  app.delete(
    '/me/cart/:courseId',
    {
      schema: {
        summary: 'Remove a course from my cart',
        description: '404 NOT_IN_CART when it was not there.',
        tags: ['cart'],
        params: CartParams,
        response: { 204: Type.Null(), 401: errorRef, 404: errorRef, 429: errorRef, 503: errorRef },
      },
    },
    async (request, reply) => {
      if (!(await carts.remove(sessionOf(request).studentId, request.params.courseId))) {
        throw new HttpError(404, 'NOT_IN_CART', 'That course is not in your cart.')
      }
      return reply.code(204).send(null)
    },
  )

  app.post(
    '/me/cart/enrollment-requests',
    {
      schema: {
        summary: 'Ask for every course in my cart',
        description:
          "One request per course, asked in the cart's order (the first course gets the earliest place). Each result is what asking for that one course would have answered. 403 REGISTRATION_CLOSED (with opensAt) before the student's window opens.",
        tags: ['cart'],
        body: EmptyRequestBody,
        response: {
          200: CartRequestResults,
          401: errorRef,
          403: errorRef,
          429: errorRef,
          503: errorRef,
        },
      },
    },
    async (request, reply) => {
      const session = sessionOf(request)
      const answers = await carts.requestAll(session, randomUUID)
      const first = answers[0]?.result
      if (first?.kind === 'closed') {
        counter.inc({ outcome: 'closed' })
        return reply.code(403).send(closedBody(first.opensAt))
      }
      if (first?.kind === 'unauthenticated') return sendUnauthenticated(reply)
      const results = answers.map(({ courseId, result }) => {
        if (result.kind === 'created' || result.kind === 'existing') {
          counter.inc({ outcome: result.kind === 'created' ? 'queued' : 'existing' })
          return {
            courseId,
            requestId: result.requestId,
            status: result.status,
            position: Math.max(1, result.position),
          }
        }
        const refusal = REFUSALS[result.kind]
        counter.inc({ outcome: refusal.metric })
        return { courseId, error: { code: refusal.code, message: refusal.message } }
      })
      return { results }
    },
  )
}

export default cart
