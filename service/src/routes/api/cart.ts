import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { HttpError } from '../../errors.js'
import { sessionOf } from '../../plugins/app/sessions.js'
import { REFUSALS, isRefusal, sendRefusal } from './refusals.js'
import { errorRef } from '../../schemas/common.js'
import {
  CartOrder,
  CartParams,
  CartRequestResults,
  CartView,
  EmptyRequestBody,
} from '../../schemas/me.js'

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
    '/me/cart',
    {
      schema: {
        summary: 'Put my cart in order',
        description:
          'Sets the order the courses are asked for in (the first one gets the earliest place): courseIds names every course in the cart once. Each course keeps when it was added. 409 CART_CHANGED when the list is not the cart as it is (changed meanwhile, in another tab): read it again.',
        tags: ['cart'],
        body: CartOrder,
        response: { 200: CartView, 401: errorRef, 409: errorRef, 429: errorRef, 503: errorRef },
      },
    },
    async (request) => {
      const result = await carts.reorder(sessionOf(request).studentId, request.body.courseIds)
      if (result.kind === 'cart-changed') {
        throw new HttpError(
          409,
          'CART_CHANGED',
          'The cart is not what the order names; read it again.',
        )
      }
      return { items: result.items.map((i) => ({ ...i, addedAt: i.addedAt.toISOString() })) }
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
      // The rush's answers are below the compression threshold: skip its hooks.
      compress: false,
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
      const answers = await carts.requestAll(session)
      const first = answers[0]?.result
      // Not open yet, or the session ended: the whole cart is refused, as one request would be.
      if (first?.kind === 'closed' || first?.kind === 'unauthenticated') {
        if (first.kind === 'closed') counter.inc({ outcome: 'closed' })
        return sendRefusal(reply, first)
      }
      const results = answers.map(({ courseId, result }) => {
        if (isRefusal(result)) {
          const refusal = REFUSALS[result.kind]
          counter.inc({ outcome: refusal.metric })
          return { courseId, error: { code: refusal.code, message: refusal.message } }
        }
        counter.inc({ outcome: result.kind === 'created' ? 'queued' : 'existing' })
        return {
          courseId,
          requestId: result.requestId,
          status: result.status,
          position: Math.max(1, result.position),
        }
      })
      return { results }
    },
  )
}

export default cart
