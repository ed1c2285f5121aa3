import type { Pool, PoolConnection, ResultSetHeader, RowDataPacket } from 'mysql2/promise'
import type {
  ClaimedConfirmation,
  ConfirmationBacklog,
  ConfirmationOutbox,
  ConfirmationOutcome,
} from '../../domain/confirmations.js'
import { retryLockConflicts } from './lock-conflicts.js'
import { BACKLOG_SQL, CLAIMED_SQL, toBacklog, toClaimed } from '../sql/confirmations.js'

const DEFAULT_STATEMENT_TIMEOUT_MS = 10_000

/**
 * The confirmation outbox in MySQL. A claim takes due rows with `FOR UPDATE SKIP LOCKED`, so
 * concurrent senders (two Lambda invocations, `sugang notify` beside them) split the work
 * instead of queueing on each other or taking the same row.
 */
export class MysqlConfirmationOutbox implements ConfirmationOutbox {
  readonly #pool: Pool
  readonly #timeoutMs: number

  constructor(pool: Pool, options: { readonly statementTimeoutMs?: number } = {}) {
    this.#pool = pool
    this.#timeoutMs = options.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS
  }

  async #query<T>(conn: Pool | PoolConnection, sql: string, values: unknown[] = []): Promise<T> {
    const [result] = await conn.query({ sql, timeout: this.#timeoutMs }, values)
    return result as T
  }

  /**
   * Concurrent claims and finishes lock rows of the same index and can deadlock; InnoDB then
   * rolls one back, and it is simply run again.
   */
  async claim(limit: number, leaseMs: number, token: string): Promise<ClaimedConfirmation[]> {
    const ids = await retryLockConflicts(() => this.#claimIds(limit, leaseMs, token))
    if (ids.length === 0) return []
    const rows = await this.#query<RowDataPacket[]>(this.#pool, CLAIMED_SQL('?'), [ids])
    return rows.map(toClaimed)
  }

  async #claimIds(limit: number, leaseMs: number, token: string): Promise<number[]> {
    const conn = await this.#pool.getConnection()
    let ids: number[]
    // A statement that failed (a timeout, a dropped link) leaves the session unknown: destroy it.
    let clean = false
    try {
      await this.#query(conn, 'START TRANSACTION')
      try {
        const due = await this.#query<RowDataPacket[]>(
          conn,
          `SELECT id FROM confirmation_outbox
            WHERE state IN ('pending', 'sending') AND due_at <= CURRENT_TIMESTAMP(3)
            ORDER BY due_at, id LIMIT ? FOR UPDATE SKIP LOCKED`,
          [limit],
        )
        ids = due.map((r) => Number(r.id))
        if (ids.length > 0) {
          await this.#query(
            conn,
            `UPDATE confirmation_outbox
                SET state = 'sending', claim_token = ?, attempts = attempts + 1,
                    due_at = CURRENT_TIMESTAMP(3) + INTERVAL ? MICROSECOND
              WHERE id IN (?)`,
            [token, Math.round(leaseMs * 1000), ids],
          )
        }
        await this.#query(conn, 'COMMIT')
        clean = true
      } catch (err) {
        await this.#query(conn, 'ROLLBACK').catch(() => undefined)
        throw err
      }
    } finally {
      if (clean) conn.release()
      else conn.destroy()
    }
    return ids
  }

  /** A finish lost to a deadlock is run again: a sent message must not be left to be sent twice. */
  async finish(id: number, token: string, outcome: ConfirmationOutcome): Promise<boolean> {
    return retryLockConflicts(() => this.#finish(id, token, outcome))
  }

  async #finish(id: number, token: string, outcome: ConfirmationOutcome): Promise<boolean> {
    const claimed = "WHERE id = ? AND claim_token = ? AND state = 'sending'"
    let result: ResultSetHeader
    switch (outcome.kind) {
      case 'sent':
        result = await this.#query(
          this.#pool,
          `UPDATE confirmation_outbox SET state = 'sent', finished_at = CURRENT_TIMESTAMP(3),
                  message_id = ?, last_error = NULL, claim_token = NULL ${claimed}`,
          [outcome.messageId.slice(0, 200), id, token],
        )
        break
      case 'retry':
        result = await this.#query(
          this.#pool,
          `UPDATE confirmation_outbox SET state = 'pending', claim_token = NULL, last_error = ?,
                  due_at = CURRENT_TIMESTAMP(3) + INTERVAL ? MICROSECOND ${claimed}`,
          [outcome.error.slice(0, 500), Math.round(outcome.delayMs * 1000), id, token],
        )
        break
      case 'dead':
        result = await this.#query(
          this.#pool,
          `UPDATE confirmation_outbox SET state = 'dead', finished_at = CURRENT_TIMESTAMP(3),
                  last_error = ?, claim_token = NULL ${claimed}`,
          [outcome.error.slice(0, 500), id, token],
        )
        break
      case 'void':
        result = await this.#query(
          this.#pool,
          `UPDATE confirmation_outbox SET state = 'void', finished_at = CURRENT_TIMESTAMP(3),
                  claim_token = NULL ${claimed}`,
          [id, token],
        )
        break
      case 'release':
        result = await this.#query(
          this.#pool,
          `UPDATE confirmation_outbox SET state = 'pending', claim_token = NULL,
                  attempts = attempts - 1, due_at = CURRENT_TIMESTAMP(3) ${claimed}`,
          [id, token],
        )
        break
    }
    return result.affectedRows === 1
  }

  async resolveDead(action: 'retry' | 'discard'): Promise<number> {
    const result = await this.#query<ResultSetHeader>(
      this.#pool,
      action === 'retry'
        ? `UPDATE confirmation_outbox SET state = 'pending', attempts = 0,
                  due_at = CURRENT_TIMESTAMP(3), finished_at = NULL WHERE state = 'dead'`
        : `UPDATE confirmation_outbox SET state = 'void' WHERE state = 'dead'`,
    )
    return result.affectedRows
  }

  async backlog(): Promise<ConfirmationBacklog> {
    return toBacklog(await this.#query<RowDataPacket[]>(this.#pool, BACKLOG_SQL))
  }
}
