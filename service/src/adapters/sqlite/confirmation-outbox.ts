import Database from 'better-sqlite3'
import type {
  ClaimedConfirmation,
  ConfirmationBacklog,
  ConfirmationOutbox,
  ConfirmationOutcome,
} from '../../domain/confirmations.js'
import { BACKLOG_SQL, CLAIMED_SQL, toBacklog, toClaimed } from '../sql/confirmations.js'
import type { Row } from '../sql/rows.js'
import { NOW_MS } from './schema.js'

/** `NOW_MS` moved by a bound number of seconds. */
const NOW_PLUS = `(strftime('%Y-%m-%dT%H:%M:%fZ', 'now', ? || ' seconds'))`

/**
 * The confirmation outbox in the embedded store's file, on a connection of its own: `sugang
 * notify` runs beside `sugang serve`. SQLite has one writer at a time, so a claim is simply an
 * immediate transaction; the states, tokens and leases are the MySQL adapter's.
 */
export class SqliteConfirmationOutbox implements ConfirmationOutbox {
  readonly #db: Database.Database

  constructor(path: string, options: { readonly busyTimeoutMs?: number } = {}) {
    this.#db = new Database(path, { timeout: options.busyTimeoutMs ?? 5_000, fileMustExist: true })
    this.#db.pragma('journal_mode = WAL')
    this.#db.pragma('synchronous = FULL')
  }

  close(): void {
    this.#db.close()
  }

  async claim(limit: number, leaseMs: number, token: string): Promise<ClaimedConfirmation[]> {
    const take = this.#db.transaction((): number[] => {
      const due = this.#db
        .prepare(
          `SELECT id FROM confirmation_outbox
            WHERE state IN ('pending', 'sending') AND due_at <= ${NOW_MS}
            ORDER BY due_at, id LIMIT ?`,
        )
        .all(limit) as Row[]
      const ids = due.map((r) => Number(r.id))
      if (ids.length > 0) {
        this.#db
          .prepare(
            `UPDATE confirmation_outbox
                SET state = 'sending', claim_token = ?, attempts = attempts + 1, due_at = ${NOW_PLUS}
              WHERE id IN (SELECT value FROM json_each(?))`,
          )
          .run(token, String(leaseMs / 1000), JSON.stringify(ids))
      }
      return ids
    })
    const ids = take.immediate()
    if (ids.length === 0) return []
    const rows = this.#db
      .prepare(CLAIMED_SQL('SELECT value FROM json_each(?)'))
      .all(JSON.stringify(ids)) as Row[]
    return rows.map(toClaimed)
  }

  async finish(id: number, token: string, outcome: ConfirmationOutcome): Promise<boolean> {
    const claimed = `WHERE id = ? AND claim_token = ? AND state = 'sending'`
    const run = (sql: string, ...params: unknown[]) =>
      this.#db.prepare(`UPDATE confirmation_outbox SET ${sql} ${claimed}`).run(...params, id, token)
    let result: Database.RunResult
    switch (outcome.kind) {
      case 'sent':
        result = run(
          `state = 'sent', finished_at = ${NOW_MS}, message_id = ?, last_error = NULL, claim_token = NULL`,
          outcome.messageId.slice(0, 200),
        )
        break
      case 'retry':
        result = run(
          `state = 'pending', claim_token = NULL, last_error = ?, due_at = ${NOW_PLUS}`,
          outcome.error.slice(0, 500),
          String(outcome.delayMs / 1000),
        )
        break
      case 'dead':
        result = run(
          `state = 'dead', finished_at = ${NOW_MS}, last_error = ?, claim_token = NULL`,
          outcome.error.slice(0, 500),
        )
        break
      case 'void':
        result = run(`state = 'void', finished_at = ${NOW_MS}, claim_token = NULL`)
        break
      case 'release':
        result = run(
          `state = 'pending', claim_token = NULL, attempts = attempts - 1, due_at = ${NOW_MS}`,
        )
        break
    }
    return result.changes === 1
  }

  async resolveDead(action: 'retry' | 'discard'): Promise<number> {
    const result = this.#db
      .prepare(
        action === 'retry'
          ? `UPDATE confirmation_outbox SET state = 'pending', attempts = 0, due_at = ${NOW_MS},
                    finished_at = NULL WHERE state = 'dead'`
          : `UPDATE confirmation_outbox SET state = 'void' WHERE state = 'dead'`,
      )
      .run()
    return result.changes
  }

  async backlog(): Promise<ConfirmationBacklog> {
    return toBacklog(this.#db.prepare(BACKLOG_SQL).all() as Row[])
  }
}
