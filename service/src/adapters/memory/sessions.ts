import type {
  AuthorizeResult,
  FailureCounter,
  LoginThrottle,
  Sessions,
} from '../../domain/ports.js'
import type { RushMemory } from './state.js'

/** Sessions and the per-student request budget (as RedisSessions and authorize-request.lua). */
export class MemorySessions implements Sessions {
  readonly #m: RushMemory

  constructor(memory: RushMemory) {
    this.#m = memory
  }

  async create(sessionId: string, studentId: string): Promise<void> {
    this.#m.sessions.set(sessionId, studentId, this.#m.sessionTtlMs)
  }

  async destroy(sessionId: string): Promise<void> {
    this.#m.sessions.delete(sessionId)
  }

  async authorize(sessionId: string, studentId: string): Promise<AuthorizeResult> {
    const m = this.#m
    if (!m.sessionNames(sessionId, studentId)) return { kind: 'unauthenticated' }
    const wait = m.overLimit(m.rateKey(studentId), m.budget.max, m.budget.windowMs)
    return wait === null ? { kind: 'ok' } : { kind: 'rate-limited', retryAfterMs: wait }
  }
}

/** Failed-login counters in fixed windows (first-over-limit.lua, count-in-windows.lua). */
export class MemoryLoginThrottle implements LoginThrottle {
  readonly #m: RushMemory

  constructor(memory: RushMemory) {
    this.#m = memory
  }

  async firstOverLimit(
    counters: readonly FailureCounter[],
  ): Promise<{ index: number; retryAfterMs: number } | null> {
    const m = this.#m
    for (const [index, c] of counters.entries()) {
      const key = m.loginKey(c.scope, c.id)
      if ((m.counters.get(key) ?? 0) >= c.max) {
        const ttl = m.counters.ttlMs(key)
        return { index, retryAfterMs: ttl < 0 ? 1000 : ttl }
      }
    }
    return null
  }

  async countFailures(counters: readonly FailureCounter[]): Promise<void> {
    const m = this.#m
    for (const c of counters) m.countInWindow(m.loginKey(c.scope, c.id), c.windowMs)
  }

  async clear(scope: FailureCounter['scope'], id: string): Promise<void> {
    this.#m.counters.delete(this.#m.loginKey(scope, id))
  }
}
