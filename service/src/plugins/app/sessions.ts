import { randomBytes } from 'node:crypto'
import type {
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  HookHandlerDoneFunction,
  onRequestHookHandler,
} from 'fastify'
import fp from 'fastify-plugin'
import { errorBody } from '../../errors.js'

export const SESSION_COOKIE = 'sugang_session'
/** Proves that this browser has logged in to an account before (see docs/security.md). */
const DEVICE_COOKIE = 'sugang_device'
const DEVICE_COOKIE_PATH = '/api/v1/auth'

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
      /** The token of the request's device cookie, if it was issued to this very student. */
      deviceOf(request: FastifyRequest, studentId: string): string | null
      /** Issues (or renews) the device cookie of a student who just logged in. */
      rememberDevice(request: FastifyRequest, reply: FastifyReply, studentId: string): void
      /**
       * The onRequest hook of the API routes: a live session, and the per-student rate limit.
       * Registered inside the API's own scope, so it is decided by the route Fastify matched,
       * never by how the raw URL happens to be spelled.
       */
      authenticate: onRequestHookHandler
    }
  }
  interface FastifyContextConfig {
    /** The route checks the session itself in the same Redis round trip as its work. */
    sessionCheckedByRoute?: boolean
    /** The route is open without a session. */
    public?: boolean
  }
}

/** Signed cookies this instance has verified, and what they say (the oldest forgotten first). */
const VERIFIED_MAX = 50_000

/**
 * A signed cookie's value, split at its first dot into an id and the student it names. A value
 * whose signature checked out once is remembered: the same bytes under the same secret always
 * check out, and the rush sends every student's cookie several times a second, each check an
 * HMAC. Whether the session is still alive is asked of Redis every time regardless.
 */
function readSigned(
  request: FastifyRequest,
  name: string,
  verified: Map<string, readonly [string, string]>,
): readonly [string, string] | null {
  const raw = request.cookies[name]
  if (!raw) return null
  const key = `${name}=${raw}`
  const known = verified.get(key)
  if (known) return known
  const unsigned = request.unsignCookie(raw)
  if (!unsigned.valid || !unsigned.value) return null
  const dot = unsigned.value.indexOf('.')
  if (dot <= 0) return null
  const parts = [unsigned.value.slice(0, dot), unsigned.value.slice(dot + 1)] as const
  if (verified.size >= VERIFIED_MAX) verified.delete(verified.keys().next().value!)
  verified.set(key, parts)
  return parts
}

/**
 * Sessions: a random id in a signed, HttpOnly cookie that also names the student, and a Redis key
 * that must exist for the session to be alive. The signature rejects forged cookies without a
 * round trip; the Redis key makes logout immediate on every instance.
 */
export default fp(
  async (app: FastifyInstance) => {
    const { config } = app.sugang
    const { sessions } = app.sugang.rush
    // Per instance of the plugin: another app (another secret) must verify for itself.
    const verified = new Map<string, readonly [string, string]>()

    const readSession = (request: FastifyRequest): Session | null => {
      const parts = readSigned(request, SESSION_COOKIE, verified)
      return parts ? { sessionId: parts[0], studentId: parts[1] } : null
    }

    const deviceOf = (request: FastifyRequest, studentId: string): string | null => {
      const parts = readSigned(request, DEVICE_COOKIE, verified)
      return parts && parts[1] === studentId ? parts[0] : null
    }

    app.decorateRequest('session', null)

    app.decorate('sessions', {
      async open(reply: FastifyReply, studentId: string) {
        const sessionId = randomBytes(32).toString('base64url')
        await sessions.create(sessionId, studentId)
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
        const session = readSession(request)
        if (session) await sessions.destroy(session.sessionId, session.studentId)
        reply.clearCookie(SESSION_COOKIE, { path: '/' })
      },
      deviceOf,
      rememberDevice(request: FastifyRequest, reply: FastifyReply, studentId: string) {
        const token = deviceOf(request, studentId) ?? randomBytes(16).toString('base64url')
        reply.setCookie(DEVICE_COOKIE, `${token}.${studentId}`, {
          signed: true,
          httpOnly: true,
          sameSite: 'strict',
          secure: config.cookieSecure,
          path: DEVICE_COOKIE_PATH,
          maxAge: Math.floor(config.login.deviceTtlMs / 1000),
        })
      },
      // Refusals are answers, not exceptions: during the rush they are common, and an Error with
      // a stack costs real time. A callback hook, not an async one: the rush's two routes check
      // the session themselves and pass through here without a promise.
      authenticate(request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) {
        const routeConfig = request.routeOptions.config
        if (routeConfig.public) {
          done()
          return
        }
        const session = readSession(request)
        if (!session) {
          sendUnauthenticated(reply)
          return
        }
        request.session = session
        if (routeConfig.sessionCheckedByRoute) {
          done()
          return
        }
        sessions.authorize(session.sessionId, session.studentId).then((result) => {
          if (result.kind === 'unauthenticated') sendUnauthenticated(reply)
          else if (result.kind === 'rate-limited') sendTooManyRequests(reply, result.retryAfterMs)
          else done()
        }, done)
      },
    })
  },
  { name: 'sessions', dependencies: ['registration'] },
)

export const RATE_LIMITED = 'Too many requests; slow down and retry shortly.'
export const UNAUTHENTICATED = 'Log in first: the session is missing or has ended.'

function retryAfterSeconds(retryAfterMs: number): string {
  return String(Math.max(1, Math.ceil(retryAfterMs / 1000)))
}

export function sendUnauthenticated(reply: FastifyReply): FastifyReply {
  return reply.code(401).send(errorBody('UNAUTHENTICATED', UNAUTHENTICATED))
}

export function sendTooManyRequests(
  reply: FastifyReply,
  retryAfterMs: number,
  code = 'RATE_LIMITED',
  message = RATE_LIMITED,
): FastifyReply {
  return reply
    .header('retry-after', retryAfterSeconds(retryAfterMs))
    .code(429)
    .send(errorBody(code, message))
}

/** The session the authenticate hook put on the request (the route is not public). */
export function sessionOf(request: { session: Session | null }): Session {
  if (!request.session) throw new Error('a protected route ran without a session')
  return request.session
}
