import type { FastifyError } from 'fastify'
import fp from 'fastify-plugin'
import { DependencyUnavailableError, HttpError } from '../../errors.js'

const RETRY_AFTER_SECONDS = '2'

const FRAMEWORK_ERRORS: Readonly<Record<string, { status: number; code: string }>> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' },
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: 'PAYLOAD_TOO_LARGE' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, code: 'INVALID_BODY' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, code: 'INVALID_JSON' },
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, code: 'INVALID_JSON' },
  FST_UNDER_PRESSURE: { status: 503, code: 'OVERLOADED' },
}

/**
 * One place that turns errors into the contract's `{"error":{"code","message"}}`. Client mistakes
 * keep their message; anything unexpected is logged in full and answered with a bare 500.
 */
export default fp(
  async (app) => {
    app.setErrorHandler((err: FastifyError, request, reply) => {
      if (err instanceof HttpError) {
        return reply
          .headers(err.headers)
          .code(err.statusCode)
          .send({ error: { code: err.code, message: err.message } })
      }
      if (err instanceof DependencyUnavailableError) {
        request.log.warn({ dependency: err.dependency, cause: String(err.cause) }, err.message)
        return reply
          .header('retry-after', RETRY_AFTER_SECONDS)
          .code(503)
          .send({
            error: {
              code: 'SERVICE_UNAVAILABLE',
              message: 'The service is temporarily unavailable; please retry shortly.',
            },
          })
      }
      if (err.validation) {
        return reply.code(400).send({ error: { code: 'VALIDATION_FAILED', message: err.message } })
      }
      const known = err.code ? FRAMEWORK_ERRORS[err.code] : undefined
      if (known) {
        if (known.status === 503) reply.header('retry-after', RETRY_AFTER_SECONDS)
        return reply.code(known.status).send({ error: { code: known.code, message: err.message } })
      }
      if (err instanceof SyntaxError || (err.statusCode === 400 && !err.code)) {
        return reply.code(400).send({ error: { code: 'INVALID_JSON', message: err.message } })
      }
      if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
        return reply
          .code(err.statusCode)
          .send({ error: { code: err.code ?? 'BAD_REQUEST', message: err.message } })
      }
      request.log.error({ err }, 'unhandled error')
      return reply
        .code(500)
        .send({ error: { code: 'INTERNAL_ERROR', message: 'Something went wrong on our side.' } })
    })

    app.setNotFoundHandler((request, reply) => {
      return reply.code(404).send({
        error: { code: 'NOT_FOUND', message: `No route for ${request.method} ${request.url}` },
      })
    })
  },
  { name: 'errors' },
)
