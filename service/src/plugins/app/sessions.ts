import { randomBytes } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { HttpError } from '../../errors.js'

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

    const unauthenticated = (): HttpError =>
      new HttpError(401, 'UNAUTHENTICATED', 'Log in first: the session is missing or has ended.')

    // Every /api route needs a live session unless it says otherwise.
    app.addHook('onRequest', async (request) => {
      const routeConfig = request.routeOptions.config
      if (!request.url.startsWith('/api/') || routeConfig.public) return
      const session = readCookie(request)
      if (!session) throw unauthenticated()
      request.session = session
      if (routeConfig.sessionCheckedByRoute) return
      const result = await app.sugang.queue.authorize(session.sessionId, session.studentId)
      if (result.kind === 'unauthenticated') throw unauthenticated()
      if (result.kind === 'rate-limited') throw tooManyRequests(result.retryAfterMs)
    })
  },
  { name: 'sessions', dependencies: ['registration'] },
)

export function tooManyRequests(retryAfterMs: number): HttpError {
  return new HttpError(429, 'RATE_LIMITED', 'Too many requests; slow down and retry shortly.', {
    'retry-after': String(Math.max(1, Math.ceil(retryAfterMs / 1000))),
  })
}
