import { answers } from './answers.js'

export type Dependency = 'mysql' | 'redis'

export interface MonitorSettings {
  /** Time between checks of each dependency. */
  readonly intervalMs: number
  /** A check that takes longer than this counts as failed. */
  readonly timeoutMs: number
  /** Checks that must fail in a row before a dependency counts as down. */
  readonly failuresToDown: number
}

const defaults: MonitorSettings = { intervalMs: 1_000, timeoutMs: 2_000, failuresToDown: 2 }

/**
 * Checks MySQL and Redis in the background and remembers the answer, so that readiness is a
 * lookup: a load balancer's probe is answered at once however busy the instance is, and is
 * told 503 only because a dependency stopped answering, never because the event loop is loaded.
 */
export class DependencyMonitor {
  readonly #checks: Readonly<Record<Dependency, () => Promise<void>>>
  readonly #settings: MonitorSettings
  readonly #failures: Record<Dependency, number> = { mysql: 0, redis: 0 }
  /** Whether a dependency has answered since start: until then it is not up. */
  readonly #answered: Record<Dependency, boolean> = { mysql: false, redis: false }
  #timer: NodeJS.Timeout | null = null
  #round: Promise<void> | null = null

  constructor(
    checks: Readonly<Record<Dependency, () => Promise<void>>>,
    settings: Partial<MonitorSettings> = {},
  ) {
    this.#checks = checks
    this.#settings = { ...defaults, ...settings }
  }

  /** Starts checking; resolves once the first round has an answer. */
  async start(): Promise<void> {
    if (!this.#timer) {
      this.#timer = setInterval(() => void this.check(), this.#settings.intervalMs)
      this.#timer.unref()
    }
    await this.check()
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer)
    this.#timer = null
  }

  /** One round of checks (one at a time: a slow round is not stacked on). */
  async check(): Promise<void> {
    this.#round ??= (async () => {
      await Promise.all(
        (Object.keys(this.#checks) as Dependency[]).map(async (name) => {
          const ok = await answers(this.#checks[name], this.#settings.timeoutMs)
          this.#failures[name] = ok ? 0 : this.#failures[name] + 1
          if (ok) this.#answered[name] = true
        }),
      )
    })().finally(() => {
      this.#round = null
    })
    return this.#round
  }

  /** Whether a dependency counts as answering: it has, and not failed several checks since. */
  up(name: Dependency): boolean {
    return this.#answered[name] && this.#failures[name] < this.#settings.failuresToDown
  }

  /** The dependencies that count as down. */
  down(): Dependency[] {
    return (Object.keys(this.#checks) as Dependency[]).filter((name) => !this.up(name))
  }
}
