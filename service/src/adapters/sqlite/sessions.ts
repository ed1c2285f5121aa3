import type { RushMemory } from '../memory/state.js'
import type { AuthorizeResult, Sessions } from '../../domain/ports.js'
import type { SqliteStore } from './store.js'

/**
 * The embedded mode's sessions: answered from memory, as every other piece of its rush state
 * (`authorize` runs on every request), and written through to the database file, from which a
 * restarted process takes back the ones still alive. A login or a logout is answered once both
 * hold it, so a logout survives the restart as surely as a login does.
 */
export class DurableSessions implements Sessions {
  readonly #memory: Sessions
  readonly #state: RushMemory
  readonly #store: SqliteStore

  constructor(memory: Sessions, state: RushMemory, store: SqliteStore) {
    this.#memory = memory
    this.#state = state
    this.#store = store
  }

  async create(sessionId: string, studentId: string): Promise<void> {
    const expiresAt = Date.now() + this.#state.sessionTtlMs
    await this.#store.saveSession(sessionId, studentId, expiresAt)
    await this.#memory.create(sessionId, studentId)
  }

  async destroy(sessionId: string, studentId: string): Promise<void> {
    await this.#store.deleteSession(sessionId)
    await this.#memory.destroy(sessionId, studentId)
  }

  authorize(sessionId: string, studentId: string): Promise<AuthorizeResult> {
    return this.#memory.authorize(sessionId, studentId)
  }

  /** Takes back the sessions a previous process left alive (after the schema is migrated). */
  async restore(): Promise<number> {
    const now = Date.now()
    const live = await this.#store.liveSessions(now)
    for (const s of live) this.#state.sessions.set(s.sessionId, s.studentId, s.expiresAtMs - now)
    return live.length
  }
}
