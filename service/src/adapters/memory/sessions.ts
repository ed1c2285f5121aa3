import type {
  AuthorizeResult,
  FailureCounter,
  LoginReservation,
  LoginThrottle,
  ReserveResult,
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

  async destroy(sessionId: string, _studentId: string): Promise<void> {
    this.#m.sessions.delete(sessionId)
  }

  async authorize(sessionId: string, studentId: string): Promise<AuthorizeResult> {
    const m = this.#m
    if (!m.sessionNames(sessionId, studentId)) return { kind: 'unauthenticated' }
    const wait = m.overLimit(m.rateKey(studentId), m.budget.max, m.budget.windowMs)
    return wait === null ? { kind: 'ok' } : { kind: 'rate-limited', retryAfterMs: wait }
  }
}

/**
 * Login attempt counters in fixed windows (reserve-attempt.lua, release-attempt.lua). A window is
 * named by when it ends. Each method runs without awaiting, so it is as atomic as the scripts.
 */
export class MemoryLoginThrottle implements LoginThrottle {
  readonly #m: RushMemory

  constructor(memory: RushMemory) {
    this.#m = memory
  }

  async reserve(counters: readonly FailureCounter[]): Promise<ReserveResult> {
    const m = this.#m
    for (const [index, c] of counters.entries()) {
      const key = m.loginKey(c.scope, c.id)
      if ((m.counters.get(key) ?? 0) >= c.max) {
        return { kind: 'refused', index, retryAfterMs: m.windowLeftMs(key, c.windowMs) }
      }
    }
    const windows = counters.map((c) => {
      const key = m.loginKey(c.scope, c.id)
      m.countInWindow(key, c.windowMs)
      return this.#windowOf(key)
    })
    return { kind: 'reserved', reservation: { counters, windows } }
  }

  async release(reservation: LoginReservation): Promise<void> {
    const m = this.#m
    for (const [i, c] of reservation.counters.entries()) {
      const key = m.loginKey(c.scope, c.id)
      const used = m.counters.get(key) ?? 0
      if (used > 0 && this.#windowOf(key) === reservation.windows[i])
        m.counters.update(key, used - 1)
    }
  }

  async clear(scope: FailureCounter['scope'], id: string): Promise<void> {
    this.#m.counters.delete(this.#m.loginKey(scope, id))
  }

  /**
   * When the counter's window ends (PEXPIRETIME), as its name: read as stored, not as now plus
   * the time left, which names the same window differently when the clock ticks in between.
   */
  #windowOf(key: string): string {
    return String(this.#m.counters.expiresAt(key))
  }
}
