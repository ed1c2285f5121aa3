import type { StudentAccount } from './model.js'
import type { AccountStore } from './ports.js'

export type StudentProfile = Pick<StudentAccount, 'id' | 'name' | 'year' | 'maxCredits'>

/**
 * The one spelling of a student id a student typed (학번 come in upper case, S000001; a phone's
 * keyboard offers lower case first). Login and the CLI take ids through here before anything
 * else, so one account has one session name and one failure counter however it was typed.
 */
export function canonicalStudentId(typed: string): string {
  return typed.toUpperCase()
}

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
