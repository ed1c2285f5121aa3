import { BlockList, isIPv4 } from 'node:net'
import { PasswordChecks } from './password-checks.js'
import { hashPassword, needsRehash, verifyPassword, type ScryptCost } from './passwords.js'
import type {
  AccountStore,
  FailureCounter,
  LoginAttempt,
  LoginCheck,
  LoginReservation,
  LoginThrottle,
} from './ports.js'
import type { StudentDirectory, StudentProfile } from './students.js'

const REFUSAL: Record<FailureCounter['scope'], Exclude<LoginCheck['kind'], 'ok'>> = {
  account: 'account-locked',
  address: 'address-limited',
  device: 'device-limited',
}

/**
 * Which failure counters judge a login attempt. A browser holding a device cookie issued to this
 * very account (it logged in here before) is judged by its own budget only, so an attacker who
 * floods an account or a lab's address with wrong passwords cannot lock out its real students.
 * Anyone else is judged by the address first (it stops a sweep over many accounts), then by the
 * account (it stops a guess at one account from many addresses).
 */
export function loginCounters(attempt: LoginAttempt): FailureCounter[] {
  const { limits } = attempt
  if (attempt.device !== null) {
    return [{ scope: 'device', id: attempt.device, ...limits.device }]
  }
  return [
    { scope: 'address', id: attempt.address, ...limits.address },
    { scope: 'account', id: attempt.studentId, ...limits.account },
  ]
}

/**
 * The counter that judges an attempt from a campus address that is over its own limit: the
 * account's, with the smaller campus budget. Thousands of students share a campus address, and a
 * classmate can drive it over its limit at will; refusing the address would lock every student
 * without a device cookie out. So the address limit there stops guessing per account instead: a
 * sweep from the campus gets a few guesses at each id, and a student gets in unless their own
 * account has failed that often.
 */
export function campusCounter(attempt: LoginAttempt): FailureCounter {
  const { account, campusAccount } = attempt.limits
  return {
    scope: 'account',
    id: attempt.studentId,
    max: Math.min(campusAccount.max, account.max),
    windowMs: account.windowMs,
  }
}

/**
 * Failed-login limits. Every attempt takes its place on its counters before the password is
 * checked (however many arrive at once, no more are checked than the limits allow); a success
 * gives it back, so only failures count and a campus is not limited by its own logins.
 */
export class LoginGuard {
  readonly #throttle: LoginThrottle

  constructor(throttle: LoginThrottle) {
    this.#throttle = throttle
  }

  /** Whether a login may be tried now; if so, it is counted as a failure until released. */
  async reserve(attempt: LoginAttempt): Promise<LoginCheck> {
    const counters = loginCounters(attempt)
    const first = await this.#throttle.reserve(counters)
    if (first.kind === 'reserved') return { kind: 'ok', reservation: first.reservation }
    const counter = counters[first.index]
    if (!counter) throw new Error(`no failure counter at ${first.index}`)
    if (counter.scope === 'address' && attempt.campus) {
      // Nothing was counted by the refusal; this is a reservation of its own, as atomic.
      const second = await this.#throttle.reserve([campusCounter(attempt)])
      if (second.kind === 'reserved') return { kind: 'ok', reservation: second.reservation }
      // It may be tried again when either window ends.
      return {
        kind: 'address-limited',
        retryAfterMs: Math.min(first.retryAfterMs, second.retryAfterMs),
      }
    }
    return { kind: REFUSAL[counter.scope], retryAfterMs: first.retryAfterMs }
  }

  /** Gives an attempt back: its password was right, or it could not be checked at all. */
  async release(reservation: LoginReservation): Promise<void> {
    await this.#throttle.release(reservation)
  }

  /** Lifts an account's lock early (the student has proved who they are to the registrar). */
  async unlock(studentId: string): Promise<void> {
    await this.#throttle.clear('account', studentId)
  }
}

/** Whether an address is in one of the networks (an IPv4-mapped IPv6 address as its IPv4). */
export function networkMatcher(networks: readonly string[]): (address: string) => boolean {
  const list = new BlockList()
  for (const network of networks) {
    const [address = '', prefix] = network.split('/')
    list.addSubnet(address, Number(prefix), isIPv4(address) ? 'ipv4' : 'ipv6')
  }
  return (address) => {
    const mapped = address.toLowerCase().startsWith('::ffff:') ? address.slice(7) : null
    if (mapped && isIPv4(mapped)) return list.check(mapped, 'ipv4')
    return list.check(address, isIPv4(address) ? 'ipv4' : 'ipv6')
  }
}

export interface LoginSettings {
  readonly limits: LoginAttempt['limits']
  /** The campus's own egress addresses (CIDRs): see campusCounter. */
  readonly campusNetworks: readonly string[]
  /** Password checks run at once, and the longest a login may expect to wait for its turn. */
  readonly checks: { readonly atOnce: number; readonly maxWaitMs: number }
  /** The cost of new hashes, and the least every check costs. */
  readonly passwordCost: ScryptCost
}

/** One login as it arrived: the id already canonical (canonicalStudentId). */
export interface LoginInput {
  readonly studentId: string
  readonly password: string
  readonly address: string
  /** The token of a device cookie issued to this very student, if the browser sent one. */
  readonly device: string | null
}

/** What the caller of a login provides while it runs. */
export interface LoginHandlers {
  /** Whether the client has gone while the login waited for its turn. */
  clientGone(): boolean
  /** Opens the session of a student whose password was right (a failure fails the login). */
  openSession(studentId: string): Promise<void>
  /** A reservation that could not be given back stays counted as a failure. */
  releaseFailed(err: unknown): void
  rehashFailed(err: unknown, studentId: string): void
}

export type LoginOutcome =
  | { readonly kind: 'logged-in'; readonly student: StudentProfile }
  /** Refused by a failure limit before anything was checked. */
  | {
      readonly kind: Exclude<LoginCheck['kind'], 'ok'>
      readonly retryAfterMs: number
    }
  /** Too many checks waiting on this instance: nothing was counted, retry shortly. */
  | { readonly kind: 'busy' }
  /** The client left before its turn: nothing was counted or checked. */
  | { readonly kind: 'client-left' }
  /** Wrong password or no such student (alike): counted as a failure. */
  | { readonly kind: 'invalid' }

/**
 * Logging in: the failure limits (LoginGuard), a turn among the instance's password checks
 * (PasswordChecks), the check itself, timed alike for unknown students, and the upgrade of an
 * old hash once the student is in.
 */
export class Logins {
  readonly #guard: LoginGuard
  readonly #accounts: AccountStore
  readonly #students: StudentDirectory
  readonly #settings: LoginSettings
  readonly #onCampus: (address: string) => boolean
  readonly #checks: PasswordChecks

  constructor(
    ports: { readonly throttle: LoginThrottle; readonly accounts: AccountStore },
    students: StudentDirectory,
    settings: LoginSettings,
  ) {
    this.#guard = new LoginGuard(ports.throttle)
    this.#accounts = ports.accounts
    this.#students = students
    this.#settings = settings
    this.#onCampus = networkMatcher(settings.campusNetworks)
    this.#checks = new PasswordChecks(settings.checks)
  }

  async logIn(input: LoginInput, handlers: LoginHandlers): Promise<LoginOutcome> {
    const { studentId, password } = input
    const cost = this.#settings.passwordCost
    // The attempt is counted as a failure before its password is checked, so however many
    // arrive at once, no more are checked than the limits allow; a success gives it back.
    const check = await this.#guard.reserve({
      studentId,
      address: input.address,
      device: input.device,
      campus: this.#onCampus(input.address),
      limits: this.#settings.limits,
    })
    if (check.kind !== 'ok') return check
    // Never checked (a dependency failed, the instance is busy, the client left): no failure
    // of the student's.
    const giveBack = () =>
      this.#guard
        .release(check.reservation)
        .catch((releaseErr: unknown) => handlers.releaseFailed(releaseErr))
    const turn = this.#checks.enter()
    if (!turn) {
      await giveBack()
      return { kind: 'busy' }
    }
    const endTurn = await turn
    let student: Awaited<ReturnType<AccountStore['findStudent']>>
    let valid: boolean
    try {
      // A student who gave up while waiting (the page retries on its own) costs no check.
      if (handlers.clientGone()) {
        await giveBack()
        return { kind: 'client-left' }
      }
      student = await this.#accounts.findStudent(studentId)
      // Unknown students are checked against a decoy, and every check costs at least the
      // configured scrypt cost, so the answer's timing does not tell whether the id exists.
      valid = await verifyPassword(password, student?.passwordHash ?? null, cost)
    } catch (err) {
      await giveBack()
      throw err
    } finally {
      endTurn()
    }
    // The reservation stays: it is the counted failure.
    if (!student || !valid) return { kind: 'invalid' }
    await this.#guard.release(check.reservation)
    this.#students.remember(student)
    await handlers.openSession(student.id)
    // Off the answer's path, in a turn of its own that no login waits behind (a later login
    // does it if this instance is too far behind, or fails to).
    const rehashTurn = needsRehash(student.passwordHash, cost) ? this.#checks.whenIdle() : null
    if (rehashTurn) {
      void rehashTurn.then((endRehash) =>
        hashPassword(password, cost)
          .then((hash) => this.#accounts.updatePasswordHash(student.id, hash))
          .catch((err: unknown) => handlers.rehashFailed(err, student.id))
          .finally(endRehash),
      )
    }
    const { id, name, year, maxCredits } = student
    return { kind: 'logged-in', student: { id, name, year, maxCredits } }
  }
}
