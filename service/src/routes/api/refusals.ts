import type { FastifyReply } from 'fastify'
import type { SubmitResult } from '../../domain/enrollment-requests.js'
import { closedBody, errorBody } from '../../errors.js'
import {
  RATE_LIMITED,
  UNAUTHENTICATED,
  sendTooManyRequests,
  sendUnauthenticated,
} from '../../plugins/app/sessions.js'

/** Every answer to asking for a seat that is not a queue entry. */
export type Refusal = Exclude<SubmitResult, { kind: 'created' | 'existing' }>

export function isRefusal(result: SubmitResult): result is Refusal {
  return result.kind !== 'created' && result.kind !== 'existing'
}

/** How each refusal is told, in the contract's words, and counted. */
export const REFUSALS: Record<
  Refusal['kind'],
  {
    readonly status: number
    readonly code: string
    readonly message: string
    readonly metric: string
  }
> = {
  closed: {
    status: 403,
    code: 'REGISTRATION_CLOSED',
    message: 'Registration is not open now.',
    metric: 'closed',
  },
  'course-not-found': {
    status: 404,
    code: 'COURSE_NOT_FOUND',
    message: 'There is no such course.',
    metric: 'not_found',
  },
  unauthenticated: {
    status: 401,
    code: 'UNAUTHENTICATED',
    message: UNAUTHENTICATED,
    metric: 'unauthenticated',
  },
  'rate-limited': {
    status: 429,
    code: 'RATE_LIMITED',
    message: RATE_LIMITED,
    metric: 'rate_limited',
  },
  'course-full': {
    status: 409,
    code: 'COURSE_FULL',
    message: 'The course is full. Ask for the waitlist instead.',
    metric: 'course_full',
  },
  'already-enrolled': {
    status: 409,
    code: 'ALREADY_ENROLLED',
    message: 'You are already enrolled in this course.',
    metric: 'already_enrolled',
  },
}

/** Answers a refusal: with Retry-After when rate limited, with opensAt when not open yet. */
export function sendRefusal(reply: FastifyReply, refusal: Refusal): FastifyReply {
  switch (refusal.kind) {
    case 'unauthenticated':
      return sendUnauthenticated(reply)
    case 'rate-limited':
      return sendTooManyRequests(reply, refusal.retryAfterMs)
    case 'closed':
      return reply.code(403).send(closedBody(refusal.opensAt))
    default: {
      const { status, code, message } = REFUSALS[refusal.kind]
      return reply.code(status).send(errorBody(code, message))
    }
  }
}
