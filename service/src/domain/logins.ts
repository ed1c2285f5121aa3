import type { FailureCounter, LoginAttempt, LoginCheck, LoginThrottle } from './ports.js'

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
 * Failed-login limits: only failures count, so a campus of students behind one address is not
 * limited by its own successful logins.
 */
export class LoginGuard {
  readonly #throttle: LoginThrottle

  constructor(throttle: LoginThrottle) {
    this.#throttle = throttle
  }

  /** Whether a login may be tried now (nothing is counted). */
  async check(attempt: LoginAttempt): Promise<LoginCheck> {
    const counters = loginCounters(attempt)
    const over = await this.#throttle.firstOverLimit(counters)
    if (over === null) return { kind: 'ok' }
    const counter = counters[over.index]
    if (!counter) throw new Error(`no failure counter at ${over.index}`)
    return { kind: REFUSAL[counter.scope], retryAfterMs: over.retryAfterMs }
  }

  async failed(attempt: LoginAttempt): Promise<void> {
    await this.#throttle.countFailures(loginCounters(attempt))
  }

  /** Lifts an account's lock early (the student has proved who they are to the registrar). */
  async unlock(studentId: string): Promise<void> {
    await this.#throttle.clear('account', studentId)
  }
}
