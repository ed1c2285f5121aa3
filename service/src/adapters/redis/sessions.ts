import type {
  AuthorizeResult,
  FailureCounter,
  LoginReservation,
  LoginThrottle,
  ReserveResult,
  Sessions,
} from '../../domain/ports.js'
import type { RedisContext } from './context.js'

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
      connection.client.set(keys.session(sessionId), studentId, 'EX', keys.ttl.sessionSeconds),
    )
  }

  async destroy(sessionId: string): Promise<void> {
    const { connection, keys } = this.#r
    await connection.run(() => connection.client.del(keys.session(sessionId)))
  }

  async authorize(sessionId: string, studentId: string): Promise<AuthorizeResult> {
    const { connection, keys, scripts } = this.#r
    const reply = await connection.run(() =>
      scripts.authorizeRequest(
        { session: keys.session(sessionId), rate: rateKey(this.#r, studentId, this.#budget) },
        { studentId, max: this.#budget.max, windowMs: this.#budget.windowMs },
      ),
    )
    return reply.code === 'rate-limited'
      ? { kind: 'rate-limited', retryAfterMs: reply.retryAfterMs }
      : { kind: reply.code }
  }
}

/** The student's request counter of the current window. */
export function rateKey(context: RedisContext, studentId: string, budget: RequestBudget): string {
  return context.keys.requestRate(studentId, Math.floor(Date.now() / budget.windowMs))
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
