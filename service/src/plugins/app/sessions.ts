import { randomBytes } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { HttpError, errorBody } from '../../errors.js'

export const SESSION_COOKIE = 'sugang_session'

export interface Session {
  readonly sessionId: string
  readonly studentId: string
}

declare module 'fastify' {
  interface FastifyRequest {
    session: Session | null
  }
  interface FastifyInstance {
    sessions: {
      /** Starts a session valid on every instance (it lives in Redis) and sets its cookie. */
      open(reply: FastifyReply, studentId: string): Promise<void>
      /** Ends the session everywhere and clears the cookie. */
      close(request: FastifyRequest, reply: FastifyReply): Promise<void>
    }
  }
  interface FastifyContextConfig {
    /** The route checks the session itself in the same Redis round trip as its work. */
    sessionCheckedByRoute?: boolean
    /** The route is open without a session. */
    public?: boolean
  }
}

/**
 * Sessions: a random id in a signed, HttpOnly cookie that also names the student, and a Redis key
 * that must exist for the session to be alive. The signature rejects forged cookies without a
 * round trip; the Redis key makes logout immediate on every instance.
 */
export default fp(
  async (app) => {
    const { config } = app.sugang

    const readCookie = (request: FastifyRequest): Session | null => {
      const raw = request.cookies[SESSION_COOKIE]
      if (!raw) return null
      const unsigned = request.unsignCookie(raw)
      if (!unsigned.valid || !unsigned.value) return null
      const dot = unsigned.value.indexOf('.')
      if (dot <= 0) return null
      return { sessionId: unsigned.value.slice(0, dot), studentId: unsigned.value.slice(dot + 1) }
    }

    app.decorateRequest('session', null)

    app.decorate('sessions', {
      async open(reply: FastifyReply, studentId: string) {
        const sessionId = randomBytes(32).toString('base64url')
        await app.sugang.queue.createSession(sessionId, studentId)
        reply.setCookie(SESSION_COOKIE, `${sessionId}.${studentId}`, {
          signed: true,
          httpOnly: true,
          sameSite: 'lax',
          secure: config.cookieSecure,
          path: '/',
          maxAge: config.sessionTtlSeconds,
        })
      },
      async close(request: FastifyRequest, reply: FastifyReply) {
        const session = readCookie(request)
        if (session) await app.sugang.queue.destroySession(session.sessionId)
        reply.clearCookie(SESSION_COOKIE, { path: '/' })
      },
    })

    // Every /api route needs a live session unless it says otherwise. Refusals are answers, not
    // exceptions: during the rush they are common, and an Error with a stack costs real time.
    app.addHook('onRequest', async (request, reply) => {
      const routeConfig = request.routeOptions.config
      if (!request.url.startsWith('/api/') || routeConfig.public) return
      const session = readCookie(request)
      if (!session) return sendUnauthenticated(reply)
      request.session = session
      if (routeConfig.sessionCheckedByRoute) return
      const result = await app.sugang.queue.authorize(session.sessionId, session.studentId)
      if (result.kind === 'unauthenticated') return sendUnauthenticated(reply)
      if (result.kind === 'rate-limited') return sendTooManyRequests(reply, result.retryAfterMs)
    })
  },
  { name: 'sessions', dependencies: ['registration'] },
)

const RATE_LIMITED = 'Too many requests; slow down and retry shortly.'

function retryAfterSeconds(retryAfterMs: number): string {
  return String(Math.max(1, Math.ceil(retryAfterMs / 1000)))
}

export function sendUnauthenticated(reply: FastifyReply): FastifyReply {
  return reply
    .code(401)
    .send(errorBody('UNAUTHENTICATED', 'Log in first: the session is missing or has ended.'))
}

export function sendTooManyRequests(reply: FastifyReply, retryAfterMs: number): FastifyReply {
  return reply
    .header('retry-after', retryAfterSeconds(retryAfterMs))
    .code(429)
    .send(errorBody('RATE_LIMITED', RATE_LIMITED))
}

export function tooManyRequests(retryAfterMs: number): HttpError {
  return new HttpError(429, 'RATE_LIMITED', RATE_LIMITED, {
    'retry-after': retryAfterSeconds(retryAfterMs),
  })
}
