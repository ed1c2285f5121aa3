import type {
  AuthorizeResult,
  FailureCounter,
  LoginReservation,
  LoginThrottle,
  ReserveResult,
  SessionRef,
  Sessions,
} from '../../domain/ports.js'
import type { RedisContext } from './context.js'
import type { AuthorizeReply, StudentCheck } from './lua-scripts.js'

/** The per-student request budget: fixed windows of this length, this many requests each. */
export interface RequestBudget {
  readonly max: number
  readonly windowMs: number
}

export class RedisSessions implements Sessions {
  readonly #r: RedisContext
  readonly #budget: RequestBudget

  constructor(context: RedisContext, budget: RequestBudget) {
    this.#r = context
    this.#budget = budget
  }

  async create(sessionId: string, studentId: string): Promise<void> {
    const { connection, keys } = this.#r
    await connection.run(() =>
      connection.client.set(
        keys.session(studentId, sessionId),
        studentId,
        'EX',
        keys.ttl.sessionSeconds,
      ),
    )
  }

  async destroy(sessionId: string, studentId: string): Promise<void> {
    const { connection, keys } = this.#r
    await connection.run(() => connection.client.del(keys.session(studentId, sessionId)))
  }

  async authorize(sessionId: string, studentId: string): Promise<AuthorizeResult> {
    const reply = await authorizeStudent(this.#r, this.#budget, { sessionId, studentId })
    return reply.code === 'rate-limited'
      ? { kind: 'rate-limited', retryAfterMs: reply.retryAfterMs }
      : { kind: reply.code }
  }
}

/** The student's session and request counter of the current window, for a script to check. */
export function studentCheck(
  context: RedisContext,
  budget: RequestBudget,
  session: SessionRef,
): StudentCheck & { readonly studentId: string } {
  const { keys } = context
  return {
    session: keys.session(session.studentId, session.sessionId),
    rate: keys.requestRate(session.studentId, Math.floor(Date.now() / budget.windowMs)),
    studentId: session.studentId,
    max: budget.max,
    windowMs: budget.windowMs,
  }
}

/** Checks the session and counts the request on the student's slot (one round trip). */
export async function authorizeStudent(
  context: RedisContext,
  budget: RequestBudget,
  session: SessionRef,
): Promise<AuthorizeReply> {
  const { connection, scripts } = context
  const check = studentCheck(context, budget, session)
  return connection.run(() => scripts.authorizeRequest(check, check))
}

export class RedisLoginThrottle implements LoginThrottle {
  readonly #r: RedisContext

  constructor(context: RedisContext) {
    this.#r = context
  }

  async reserve(counters: readonly FailureCounter[]): Promise<ReserveResult> {
    const { connection, keys, scripts } = this.#r
    const reply = await connection.run(() =>
      scripts.reserveAttempt(
        counters.map((c) => keys.loginFailures(c.scope, c.id)),
        counters,
      ),
    )
    if (reply.kind === 'refused') return reply
    return { kind: 'reserved', reservation: { counters, windows: reply.windows } }
  }

  async release(reservation: LoginReservation): Promise<void> {
    const { connection, keys, scripts } = this.#r
    await connection.run(() =>
      scripts.releaseAttempt(
        reservation.counters.map((c) => keys.loginFailures(c.scope, c.id)),
        reservation.windows,
      ),
    )
  }

  async clear(scope: FailureCounter['scope'], id: string): Promise<void> {
    const { connection, keys } = this.#r
    await connection.run(() => connection.client.del(keys.loginFailures(scope, id)))
  }
}
