import type {
  FailureCounter,
  LoginAttempt,
  LoginCheck,
  LoginReservation,
  LoginThrottle,
} from './ports.js'

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
