import { STATUS_CODES } from 'node:http'
import type { Socket } from 'node:net'
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import {
  DependencyUnavailableError,
  HttpError,
  RETRY_AFTER_SECONDS,
  errorBody,
} from '../../errors.js'
import { NOSNIFF, NO_STORE } from './security-headers.js'
import type { LoopStalls } from '../../loop-stalls.js'

interface KnownError {
  readonly status: number
  readonly code: string
  readonly message: string
}

const INVALID_JSON: KnownError = {
  status: 400,
  code: 'INVALID_JSON',
  message: 'The body is not valid JSON.',
}
const UNROUTABLE: KnownError = {
  status: 400,
  code: 'BAD_REQUEST',
  message: 'The request could not be routed.',
}

/**
 * Framework errors with the contract's code and a fixed message: Fastify's own messages echo
 * parts of the request (a URL, a content type, a character of the body), which we never return.
 */
const FRAMEWORK_ERRORS: Readonly<Record<string, KnownError>> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    status: 415,
    code: 'UNSUPPORTED_MEDIA_TYPE',
    message: 'Send the body as application/json.',
  },
  FST_ERR_CTP_BODY_TOO_LARGE: {
    status: 413,
    code: 'PAYLOAD_TOO_LARGE',
    message: 'The body is larger than this service accepts.',
  },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: {
    status: 400,
    code: 'INVALID_BODY',
    message: 'The body does not match its Content-Length.',
  },
  FST_ERR_CTP_EMPTY_JSON_BODY: {
    status: 400,
    code: 'INVALID_JSON',
    message: 'The body is empty but says it is JSON.',
  },
  FST_ERR_CTP_INVALID_JSON_BODY: INVALID_JSON,
  FST_UNDER_PRESSURE: {
    status: 503,
    code: 'OVERLOADED',
    message: 'The service is busy; please retry shortly.',
  },
  FST_ERR_BAD_URL: { status: 400, code: 'BAD_URL', message: 'The URL is not valid.' },
  FST_ERR_MAX_PARAM_LENGTH: {
    status: 414,
    code: 'URI_TOO_LONG',
    message: 'A part of the URL is longer than any valid value.',
  },
  FST_ERR_ASYNC_CONSTRAINT: UNROUTABLE,
}

function sendKnown(reply: FastifyReply, known: KnownError): FastifyReply {
  if (known.status === 503) reply.header('retry-after', RETRY_AFTER_SECONDS)
  return reply.code(known.status).send(errorBody(known.code, known.message))
}

/** Errors Fastify raises before a route is found (bad percent-encoding, an overlong parameter). */
export function frameworkErrorHandler(
  err: FastifyError,
  _request: FastifyRequest,
  reply: FastifyReply,
): void {
  // No route, so no hooks: the headers every answer carries are set here.
  reply.header('x-content-type-options', NOSNIFF).header('cache-control', NO_STORE)
  void sendKnown(reply, FRAMEWORK_ERRORS[err.code] ?? UNROUTABLE)
}

const CLIENT_ERRORS: Readonly<Record<string, KnownError>> = {
  ERR_HTTP_REQUEST_TIMEOUT: {
    status: 408,
    code: 'REQUEST_TIMEOUT',
    message: 'The request did not arrive in time.',
  },
  HPE_HEADER_OVERFLOW: {
    status: 431,
    code: 'HEADERS_TOO_LARGE',
    message: 'The request headers are too large.',
  },
  HPE_URI_TOO_LONG: { status: 414, code: 'URI_TOO_LONG', message: 'The URL is too long.' },
}

/** A request that timed out because this instance was frozen, not because its client was slow. */
const STALLED: KnownError = {
  status: 503,
  code: 'SERVICE_UNAVAILABLE',
  message: 'The service is temporarily unavailable; please retry shortly.',
}

/**
 * Requests Node's HTTP parser refuses before Fastify sees them (a bad or duplicated
 * Content-Length, Content-Length with Transfer-Encoding, a malformed request line, a request too
 * slow to arrive): answered in the contract's shape, then the connection is closed, since the
 * parser cannot tell where the next request would begin.
 *
 * Node measures the request timeout in wall-clock time. After the instance itself was frozen
 * (SIGSTOP, a paused VM, a long pause of the collector) that time includes the freeze, and the
 * rest of a request that arrived whole may still sit unread in the socket: 408 would blame a
 * client for our stall. So 408 only when the instance really ran for `requestMs` while the
 * request was arriving; otherwise 503 with Retry-After, and the client sends it again.
 */
export function clientErrorHandlerFor(
  stalls: LoopStalls,
  requestMs: number,
  checkedEveryMs: number,
): (err: Error & { code?: string }, socket: Socket) => void {
  // A late request Node finds (it looks every `checkedEveryMs`) began at most this long ago.
  const windowMs = requestMs + checkedEveryMs
  return (err, socket) => {
    if (err.code === 'ECONNRESET' || socket.destroyed) return
    let known = (err.code && CLIENT_ERRORS[err.code]) || {
      status: 400,
      code: 'BAD_REQUEST',
      message: 'The request is not valid HTTP.',
    }
    if (known.status === 408 && stalls.ranFor(socket, windowMs) < requestMs) known = STALLED
    if (socket.writable) {
      const body = JSON.stringify(errorBody(known.code, known.message))
      const retry = known.status === 503 ? `Retry-After: ${RETRY_AFTER_SECONDS}\r\n` : ''
      socket.write(
        `HTTP/1.1 ${known.status} ${STATUS_CODES[known.status] ?? 'Error'}\r\n` +
          `Content-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
          `X-Content-Type-Options: ${NOSNIFF}\r\nCache-Control: ${NO_STORE}\r\n` +
          `${retry}Connection: close\r\n\r\n${body}`,
      )
    }
    socket.destroy()
  }
}

/**
 * One place that turns errors into the contract's `{"error":{"code","message"}}`. Client mistakes
 * get a fixed message that never repeats their input; anything unexpected is logged in full and
 * answered with a bare 500.
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
          .send(
            errorBody(
              'SERVICE_UNAVAILABLE',
              'The service is temporarily unavailable; please retry shortly.',
            ),
          )
      }
      if (err.validation) {
        // Ajv's messages name the field and the rule broken, never the value sent.
        return reply.code(400).send(errorBody('VALIDATION_FAILED', err.message))
      }
      const known = err.code ? FRAMEWORK_ERRORS[err.code] : undefined
      if (known) return sendKnown(reply, known)
      if (err instanceof SyntaxError || (err.statusCode === 400 && !err.code)) {
        return sendKnown(reply, INVALID_JSON)
      }
      if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
        return reply
          .code(err.statusCode)
          .send(errorBody('BAD_REQUEST', STATUS_CODES[err.statusCode] ?? 'Bad request.'))
      }
      request.log.error({ err }, 'unhandled error')
      return reply.code(500).send(errorBody('INTERNAL_ERROR', 'Something went wrong on our side.'))
    })

    app.setNotFoundHandler((_request, reply) => {
      return reply.code(404).send(errorBody('NOT_FOUND', 'There is no such route.'))
    })
  },
  { name: 'errors' },
)
