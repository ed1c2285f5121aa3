import type { LeaseResult, Leases } from '../../domain/ports.js'
import type { RushMemory } from './state.js'

const RECONCILER = 'reconciler'

/** Time-limited leases (take-lease.lua, release-lease.lua). */
export class MemoryLeases implements Leases {
  readonly #m: RushMemory
  /** take-budget.lua: the current second and the decisions taken in it. */
  #budget = { second: 0, used: 0 }

  constructor(memory: RushMemory) {
    this.#m = memory
  }

  /** 'renewed' while the caller held it all along, 'taken' when it was free, else 'held'. */
  #take(name: string, token: string, ttlMs: number): LeaseResult {
    const { leases } = this.#m
    const holder = leases.get(name)
    if (holder === token) {
      leases.expire(name, ttlMs)
      return 'renewed'
    }
    if (holder !== undefined) return 'held'
    leases.set(name, token, ttlMs)
    return 'taken'
  }

  async acquireCourse(courseId: string, token: string, ttlMs: number): Promise<LeaseResult> {
    return this.#take(this.#m.courseLease(courseId), token, ttlMs)
  }

  async releaseCourse(courseId: string, token: string): Promise<void> {
    const name = this.#m.courseLease(courseId)
    if (this.#m.leases.get(name) === token) this.#m.leases.delete(name)
  }

  async takeAdmissions(count: number, perSecond: number): Promise<number> {
    const second = Math.floor(Date.now() / 1000)
    if (this.#budget.second !== second) this.#budget = { second, used: 0 }
    const granted = Math.min(count, Math.max(0, perSecond - this.#budget.used))
    this.#budget.used += granted
    return granted
  }

  async acquireReconciler(token: string, ttlMs: number): Promise<boolean> {
    return this.#take(RECONCILER, token, ttlMs) !== 'held'
  }
}
