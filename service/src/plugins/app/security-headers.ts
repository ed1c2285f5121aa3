import type { FastifyReply } from 'fastify'

/**
 * Headers on every answer. nosniff: a browser never runs a JSON answer, or anything else, as a
 * script or a style because its bytes look like one. no-store: the API's answers are personal
 * (the student's enrollments, cart, requests) or change by the second (seats left), so no
 * browser, shared computer or proxy keeps a copy; an answer that sets its own Cache-Control (the
 * page and its files, revalidated) keeps it. The event stream writes its headers itself.
 */
export const NOSNIFF = 'nosniff'
export const NO_STORE = 'no-store'

/** Called from the app's one onSend hook (app.ts): no hook of its own on every answer. */
export function addSecurityHeaders(reply: FastifyReply): void {
  reply.header('x-content-type-options', NOSNIFF)
  if (!reply.hasHeader('cache-control')) reply.header('cache-control', NO_STORE)
}
