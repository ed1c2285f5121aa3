import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { RETRY_AFTER_SECONDS, errorBody } from '../../errors.js'
import type { LoginCheck } from '../../domain/ports.js'
import { canonicalStudentId } from '../../domain/students.js'
import { LoginBody, LoginResponse } from '../../schemas/auth.js'
import { errorRef } from '../../schemas/common.js'
import { sendTooManyRequests } from '../../plugins/app/sessions.js'

const REFUSALS: Record<
  Exclude<LoginCheck['kind'], 'ok'>,
  { code: string; message: string; metric: string }
> = {
  'address-limited': {
    code: 'LOGIN_RATE_LIMITED',
    message: 'Too many failed logins from this network; wait and try again.',
    metric: 'address',
  },
  'account-locked': {
    code: 'ACCOUNT_LOCKED',
    message:
      'Too many failed logins for this student id; it is locked for a while. A browser that has logged in to it before can still log in.',
    metric: 'account',
  },
  'device-limited': {
    code: 'LOGIN_RATE_LIMITED',
    message: 'Too many failed logins from this browser; wait and try again.',
    metric: 'device',
  },
}

const auth: FastifyPluginAsyncTypebox = async (app) => {
  const { logins } = app.sugang

  app.post(
    '/auth/login',
    {
      config: { public: true },
      schema: {
        summary: 'Log in',
        description:
          'Checks the student id and password and opens a session: sets the signed sugang_session cookie (and a device cookie for this browser). 401 INVALID_CREDENTIALS; 429 LOGIN_RATE_LIMITED or ACCOUNT_LOCKED, with Retry-After; 503 LOGIN_BUSY with Retry-After when the instance is checking as many passwords as it runs at once (LOGIN_CHECKS_AT_ONCE) and this one would wait longer than LOGIN_CHECK_MAX_WAIT_MS for its turn: nothing was counted, retry. No session needed.',
        tags: ['auth'],
        body: LoginBody,
        response: { 200: LoginResponse, 401: errorRef, 429: errorRef, 503: errorRef },
      },
    },
    async (request, reply) => {
      const studentId = canonicalStudentId(request.body.studentId)
      const outcome = await logins.logIn(
        {
          studentId,
          password: request.body.password,
          address: request.ip,
          device: app.sessions.deviceOf(request, studentId),
        },
        {
          // The request itself ends once its body is read: a closed connection is the sign.
          clientGone: () => request.raw.socket?.destroyed === true,
          openSession: async (id) => {
            await app.sessions.open(reply, id)
            app.sessions.rememberDevice(request, reply, id)
          },
          releaseFailed: (err) => request.log.warn({ err }, 'login reservation not released'),
          rehashFailed: (err, id) =>
            request.log.warn({ err, studentId: id }, 'password rehash failed'),
        },
      )
      switch (outcome.kind) {
        case 'logged-in': {
          const { student } = outcome
          request.log.info({ studentId: student.id }, 'logged in')
          return { studentId: student.id, name: student.name }
        }
        case 'invalid':
          return reply
            .code(401)
            .send(errorBody('INVALID_CREDENTIALS', 'Student id or password is wrong.'))
        case 'busy':
          app.metrics.loginRefusals.inc({ reason: 'busy' })
          return reply
            .code(503)
            .header('retry-after', RETRY_AFTER_SECONDS)
            .send(
              errorBody(
                'LOGIN_BUSY',
                'Too many logins are being checked right now; retry shortly.',
              ),
            )
        case 'client-left':
          return reply.code(503).send(errorBody('LOGIN_BUSY', 'The client left before its turn.'))
        default: {
          const refusal = REFUSALS[outcome.kind]
          app.metrics.loginRefusals.inc({ reason: refusal.metric })
          return sendTooManyRequests(reply, outcome.retryAfterMs, refusal.code, refusal.message)
        }
      }
    },
  )

  app.post(
    '/auth/logout',
    {
      config: { public: true },
      schema: {
        summary: 'Log out',
        description: 'Ends the session on every instance and clears its cookie. No session needed.',
        tags: ['auth'],
        response: { 204: Type.Null(), 503: errorRef },
      },
    },
    async (request, reply) => {
      await app.sessions.close(request, reply)
      return reply.code(204).send(null)
    },
  )
}

export default auth
