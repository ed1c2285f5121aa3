import fp from 'fastify-plugin'

/**
 * Headers on every answer. nosniff: a browser never runs a JSON answer, or anything else, as a
 * script or a style because its bytes look like one. no-store: the API's answers are personal
 * (the student's enrollments, cart, requests) or change by the second (seats left), so no
 * browser, shared computer or proxy keeps a copy; an answer that sets its own Cache-Control (the
 * page and its files, revalidated) keeps it. The event stream writes its headers itself.
 */
export const NOSNIFF = 'nosniff'
export const NO_STORE = 'no-store'

export default fp(
  async (app) => {
    app.addHook('onSend', (_request, reply, payload, done) => {
      reply.header('x-content-type-options', NOSNIFF)
      if (!reply.hasHeader('cache-control')) reply.header('cache-control', NO_STORE)
      done(null, payload)
    })
  },
  { name: 'security-headers' },
)
