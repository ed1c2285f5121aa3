import type { Pool, PoolConnection, ResultSetHeader } from 'mysql2/promise'
import type { DatabaseTls } from '../../config.js'
import { DependencyUnavailableError } from '../../errors.js'
import type { Row } from '../sql/rows.js'
import {
  inTransaction,
  type ReadFrom,
  type SqlDialect,
  type SqlSession,
  type TransactionKind,
  type Written,
} from '../sql/store.js'
import { isRetryableLockError } from './lock-conflicts.js'
import { createPool } from './pool.js'

export interface MysqlConnectionOptions {
  readonly url: string
  readonly replicaUrl?: string | undefined
  /** TLS for both pools (DATABASE_TLS); plain text when unset. */
  readonly tls?: DatabaseTls | undefined
  readonly poolSize: number
  /**
   * Deadline of every statement and of every operation as a whole, waiting for a connection
   * included. Admission transactions, which run in the background, get three times as long.
   */
  readonly timeoutMs?: number
}

const DEFAULT_TIMEOUT_MS = 1_500
const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'EPIPE',
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'ER_CON_COUNT_ERROR',
  'ER_SERVER_SHUTDOWN',
  'ER_CONNECTION_KILLED',
  'ER_ACCESS_DENIED_ERROR',
  'ER_BAD_DB_ERROR',
  'ER_OPTION_PREVENTS_STATEMENT',
  'ER_QUERY_INTERRUPTED',
])

/** The operation ran out of time; what it started is rolled back or finishes on its own. */
class DeadlineExceeded extends Error {
  constructor(what: string) {
    super(`${what} did not finish within its deadline`)
    this.name = 'DeadlineExceeded'
  }
}

export function isConnectionError(err: unknown): boolean {
  if (err instanceof DeadlineExceeded) return true
  const code = (err as { code?: unknown } | null)?.code
  if (typeof code === 'string' && CONNECTION_CODES.has(code)) return true
  const message = err instanceof Error ? err.message : ''
  return /Pool is closed|Connection lost|connect ETIMEDOUT|read-only|Queue limit reached|closed state/i.test(
    message,
  )
}

type Values = readonly unknown[]
type Query = <R>(sql: string, values?: Values) => Promise<R>

/** The session's statements over one way of sending them. */
function sessionOf(query: Query): SqlSession {
  return {
    rows: (sql, values) => query<Row[]>(sql, values),
    row: async (sql, values) => (await query<Row[]>(sql, values))[0],
    run: async (sql, values): Promise<Written> => {
      const result = await query<ResultSetHeader>(sql, values)
      return { changes: result.affectedRows, insertId: Number(result.insertId) }
    },
    // mysql2 expands an array of arrays bound to `VALUES ?` into the rows' value lists.
    insert: async (into, rows, tail) => {
      await query(`${into} VALUES ?${tail ? ` ${tail}` : ''}`, [rows])
    },
  }
}

interface MysqlSession extends SqlSession {
  /**
   * Ends an open transaction whatever the deadline says: an operation that ran out of time must
   * still undo what it wrote. If the ROLLBACK cannot be sent, the connection is destroyed (the
   * server rolls back a closed connection's transaction), never returned to the pool open: the
   * next START TRANSACTION on it would commit the half-done writes.
   */
  rollback(): Promise<void>
}

/** One transaction on a MySQL session (READ COMMITTED: the pool's setting). */
function transact<T>(s: MysqlSession, work: (s: SqlSession) => Promise<T>): Promise<T> {
  return inTransaction(s, 'START TRANSACTION', work, () => s.rollback())
}

/**
 * MySQL: writes and own-data reads on the primary pool, catalogue reads on the replica pool (the
 * primary when no replica is configured). Every statement and every operation has a deadline: a
 * stalled server turns into a prompt DependencyUnavailableError (503), never a hang. Rows are
 * locked (READ COMMITTED, see pool.ts), so transactions take them in one order and are retried
 * when InnoDB picks one as a deadlock's victim anyway.
 */
export class MysqlDialect implements SqlDialect {
  readonly locksRows = true
  readonly forUpdate = ' FOR UPDATE'
  readonly forShare = ' LOCK IN SHARE MODE'
  /** mysql2 expands an array bound to `(?)` into the list. */
  readonly inList = 'IN (?)'
  readonly primary: Pool
  readonly replica: Pool
  readonly #timeoutMs: number

  constructor(options: MysqlConnectionOptions) {
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS
    this.primary = createPool(options.url, options.poolSize, this.#timeoutMs, options.tls)
    this.replica = options.replicaUrl
      ? createPool(options.replicaUrl, options.poolSize, this.#timeoutMs, options.tls)
      : this.primary
  }

  list(ids: readonly string[]): unknown {
    return ids
  }

  onConflict(_key: string): string {
    return 'ON DUPLICATE KEY UPDATE'
  }

  incoming(column: string): string {
    return `VALUES(${column})`
  }

  greatest(a: string, b: string): string {
    return `GREATEST(${a}, ${b})`
  }

  read<T>(from: ReadFrom, work: (s: SqlSession) => Promise<T>): Promise<T> {
    if (from === 'seed') return this.#unbounded(work)
    return this.#session(from === 'catalogue' ? this.replica : this.primary, work)
  }

  write<T>(work: (s: SqlSession) => Promise<T>): Promise<T> {
    return this.#session(this.primary, work)
  }

  transaction<T>(kind: TransactionKind, work: (s: SqlSession) => Promise<T>): Promise<T> {
    if (kind === 'seed') return this.#unbounded((s) => transact(s, work))
    return this.#transaction(work, kind === 'admission' ? this.#timeoutMs * 3 : this.#timeoutMs)
  }

  snapshot<T>(work: (s: SqlSession) => Promise<T>): Promise<T> {
    return this.#session(this.primary, async (s) => {
      // Both reads from one snapshot, without locking out the writers.
      await s.run('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ')
      await s.run('START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY')
      try {
        return await work(s)
      } finally {
        // Read only: ending it by a rollback undoes nothing, and is sent past the deadline too.
        await s.rollback()
      }
    })
  }

  async raiseFence(s: SqlSession, courseId: string): Promise<number | null> {
    const result = await s.run(
      'UPDATE courses SET admission_fence = LAST_INSERT_ID(admission_fence + 1) WHERE id = ?',
      [courseId],
    )
    return result.changes === 0 ? null : result.insertId
  }

  /**
   * Runs `work` on a connection of `pool`, all within `budgetMs`. A statement that times out
   * leaves its connection in an unknown state, so that connection is destroyed, not reused.
   */
  async #session<T>(
    pool: Pool,
    work: (session: MysqlSession) => Promise<T>,
    budgetMs = this.#timeoutMs,
  ): Promise<T> {
    const deadline = Date.now() + budgetMs
    try {
      const conn = await this.#acquire(pool, budgetMs)
      let broken = false
      const query = async <R>(sql: string, values: Values | undefined): Promise<R> => {
        const left = deadline - Date.now()
        if (left <= 0) throw new DeadlineExceeded('a MySQL operation')
        try {
          const [result] = await conn.query(
            { sql, timeout: Math.min(left, this.#timeoutMs) },
            values as unknown[] | undefined,
          )
          return result as R
        } catch (err) {
          if (isConnectionError(err)) broken = true
          throw err
        }
      }
      const rollback = async (): Promise<void> => {
        if (broken) return
        try {
          await conn.query({ sql: 'ROLLBACK', timeout: this.#timeoutMs })
        } catch {
          broken = true
        }
      }
      try {
        return await work({ ...sessionOf(query), rollback })
      } finally {
        if (broken) conn.destroy()
        else conn.release()
      }
    } catch (err) {
      if (isConnectionError(err)) throw new DependencyUnavailableError('mysql', err)
      throw err
    }
  }

  /** A pool connection, or DeadlineExceeded; a connection that arrives too late goes back. */
  async #acquire(pool: Pool, budgetMs: number): Promise<PoolConnection> {
    let timer: NodeJS.Timeout | undefined
    const acquiring = pool.getConnection()
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new DeadlineExceeded('waiting for a MySQL connection')),
        budgetMs,
      )
    })
    try {
      return await Promise.race([acquiring, late])
    } catch (err) {
      acquiring.then((conn) => conn.release()).catch(() => undefined)
      throw err
    } finally {
      clearTimeout(timer)
    }
  }

  /**
   * A READ COMMITTED transaction on the primary, retried on deadlock or lock timeout. Every
   * statement checks the deadline first: a transaction whose caller has given up rolls back
   * instead of committing later behind the caller's back.
   */
  async #transaction<T>(work: (session: SqlSession) => Promise<T>, budgetMs: number): Promise<T> {
    const deadline = Date.now() + budgetMs
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await this.#session(
          this.primary,
          (session) => transact(session, work),
          Math.max(1, deadline - Date.now()),
        )
      } catch (err) {
        if (attempt < 5 && isRetryableLockError(err) && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 5 * attempt + Math.random() * 20))
          continue
        }
        throw err
      }
    }
  }

  /**
   * Seeding (the demo semester and `sugang seed`): without the request deadlines, since a load
   * test's seed writes tens of thousands of rows at once.
   */
  async #unbounded<T>(work: (s: MysqlSession) => Promise<T>): Promise<T> {
    const conn = await this.primary.getConnection()
    const query = async <R>(sql: string, values?: Values): Promise<R> => {
      const [result] = await conn.query(sql, values as unknown[] | undefined)
      return result as R
    }
    const rollback = async (): Promise<void> => {
      await conn.query('ROLLBACK').catch(() => undefined)
    }
    try {
      return await work({ ...sessionOf(query), rollback })
    } finally {
      conn.release()
    }
  }
}
