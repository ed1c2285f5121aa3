import type { IncomingHttpHeaders } from 'node:http'
import fp from 'fastify-plugin'
import { errorBody } from '../../errors.js'
import { documentAnswer } from './route-docs.js'

export const BODY_NOT_ALLOWED = 'BODY_NOT_ALLOWED'

/** Whether the request carries a body at all (of any type, however it is framed). */
function hasBody(headers: IncomingHttpHeaders): boolean {
  if (headers['transfer-encoding'] !== undefined) return true
  const length = headers['content-length']
  return length !== undefined && Number(length) !== 0
}

/**
 * A route whose schema declares no body takes none: a request that sends one anyway (JSON of any
 * shape, text, with or without a Content-Type) is refused with 400 BODY_NOT_ALLOWED before it is
 * read, parsed, authenticated or counted. Routes that take a body validate it against their
 * schema (400 VALIDATION_FAILED). Both ways, nothing the contract does not name reaches a handler.
 */
export default fp(
  async (app) => {
    app.addHook('onRoute', (route) => {
      if (route.schema?.body === undefined) {
        documentAnswer(route, 400, 'Takes no body: 400 BODY_NOT_ALLOWED.')
      }
    })

    // A callback hook, not an async one: it runs on every request, and an async hook costs a
    // promise and a trip through the microtask queue each time.
    app.addHook('onRequest', (request, reply, done) => {
      if (
        request.is404 ||
        request.routeOptions.schema?.body !== undefined ||
        !hasBody(request.headers)
      ) {
        done()
        return
      }
      // The unread body is not worth the connection: the client may send more of it.
      reply
        .code(400)
        .header('connection', 'close')
        .send(errorBody(BODY_NOT_ALLOWED, 'This route takes no request body.'))
    })
  },
  { name: 'bodies' },
)
