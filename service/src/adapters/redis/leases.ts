import type { LeaseResult, Leases } from '../../domain/ports.js'
import type { RedisContext } from './context.js'

export class RedisLeases implements Leases {
  readonly #r: RedisContext

  constructor(context: RedisContext) {
    this.#r = context
  }

  async acquireCourse(courseId: string, token: string, ttlMs: number): Promise<LeaseResult> {
    const { connection, keys, scripts } = this.#r
    return connection.run(() => scripts.takeLease(keys.course(courseId).lease, token, ttlMs))
  }

  async releaseCourse(courseId: string, token: string): Promise<void> {
    const { connection, keys, scripts } = this.#r
    await connection.run(() => scripts.releaseLease(keys.course(courseId).lease, token))
  }

  async takeAdmissions(count: number, perSecond: number): Promise<number> {
    const { connection, keys, scripts } = this.#r
    return connection.run(() => scripts.takeBudget(keys.admissionBudget, count, perSecond))
  }

  async acquireReconciler(token: string, ttlMs: number): Promise<boolean> {
    const { connection, keys, scripts } = this.#r
    const result = await connection.run(() => scripts.takeLease(keys.reconcilerLease, token, ttlMs))
    return result !== 'held'
  }
}
