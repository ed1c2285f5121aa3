import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { HttpError } from '../../errors.js'
import { defaultCost, hashPassword, verifyPassword } from '../../domain/passwords.js'
import { LoginBody, LoginResponse } from '../../schemas/auth.js'
import { errorRef } from '../../schemas/common.js'
import { tooManyRequests } from '../../plugins/app/sessions.js'

// Verified when the student does not exist, so both cases take the same time.
const decoyHash = hashPassword('decoy', defaultCost)

const auth: FastifyPluginAsyncTypebox = async (app) => {
  const { config, store, queue } = app.sugang

  app.post(
    '/auth/login',
    {
      config: { public: true },
      schema: {
        body: LoginBody,
        response: { 200: LoginResponse, 401: errorRef, 429: errorRef, 503: errorRef },
      },
    },
    async (request, reply) => {
      const { studentId, password } = request.body
      const retryAfterMs = await queue.countAttempt(
        `login:${request.ip}`,
        config.loginRateLimit.max,
        config.loginRateLimit.windowMs,
      )
      if (retryAfterMs > 0) throw tooManyRequests(retryAfterMs)
      const student = await store.findStudent(studentId)
      const valid = await verifyPassword(password, student?.passwordHash ?? (await decoyHash))
      if (!student || !valid) {
        throw new HttpError(401, 'INVALID_CREDENTIALS', 'Student id or password is wrong.')
      }
      await app.sessions.open(reply, student.id)
      request.log.info({ studentId: student.id }, 'logged in')
      return { studentId: student.id, name: student.name }
    },
  )

  app.post(
    '/auth/logout',
    {
      config: { public: true },
      schema: { response: { 204: Type.Null(), 503: errorRef } },
    },
    async (request, reply) => {
      await app.sessions.close(request, reply)
      return reply.code(204).send(null)
    },
  )
}

export default auth
