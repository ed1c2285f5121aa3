import type { StudentAccount } from './model.js'
import type { AccountStore } from './ports.js'

export type StudentProfile = Pick<StudentAccount, 'id' | 'name' | 'year' | 'maxCredits'>

/**
 * Who a student is (name, grade year, credit limit), kept in memory for a while: the year decides
 * the registration window on every request of the rush, and must not cost a query each time.
 * Login, which reads the account anyway, fills it.
 */
export class StudentDirectory {
  readonly #accounts: AccountStore
  readonly #ttlMs: number
  readonly #cache = new Map<string, { profile: StudentProfile; until: number }>()

  constructor(accounts: AccountStore, ttlMs = 60_000) {
    this.#accounts = accounts
    this.#ttlMs = ttlMs
  }

  remember(account: StudentProfile): void {
    const { id, name, year, maxCredits } = account
    this.#cache.set(id, {
      profile: { id, name, year, maxCredits },
      until: Date.now() + this.#ttlMs,
    })
  }

  async profile(studentId: string): Promise<StudentProfile | null> {
    const cached = this.#cache.get(studentId)
    if (cached && cached.until > Date.now()) return cached.profile
    const account = await this.#accounts.findStudent(studentId)
    if (!account) {
      this.#cache.delete(studentId)
      return null
    }
    this.remember(account)
    return this.#cache.get(studentId)?.profile ?? null
  }
}
