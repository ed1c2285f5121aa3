/**
 * The durable store over SQL, one for MySQL and SQLite. The dialect object (adapters/mysql/
 * dialect.ts, adapters/sqlite/dialect.ts) holds only what truly differs between the two engines:
 * which connection a read or a write takes and with what deadline, how a transaction is opened,
 * committed and retried, which failures mean the database is unavailable (503), how rows are
 * locked (MySQL locks rows; SQLite has one writer, which excludes every other), how a list is
 * bound, how many rows one INSERT carries, and the upsert syntax.
 */
import type { Row } from './rows.js'

/** What a statement changed: rows affected, and the id it generated (if any). */
export interface Written {
  readonly changes: number
  readonly insertId: number
}

/** Runs one operation's statements on one connection, in the dialect's placeholders (`?`). */
export interface SqlSession {
  rows(sql: string, params?: readonly unknown[]): Promise<Row[]>
  /** The first row, if any. */
  row(sql: string, params?: readonly unknown[]): Promise<Row | undefined>
  run(sql: string, params?: readonly unknown[]): Promise<Written>
  /**
   * `into` (`INSERT INTO t (a, b)`) with the values of `rows`, then `tail` (an upsert's clause):
   * one statement for all the rows in MySQL (one round trip), one prepared statement run per row
   * in SQLite (no round trip to save).
   */
  insert(into: string, rows: ReadonlyArray<readonly unknown[]>, tail?: string): Promise<void>
}

/**
 * Where a read goes: the catalogue may lag (MySQL's replica), a student's own data may not (the
 * primary), and a seed's reads have no request deadline.
 */
export type ReadFrom = 'catalogue' | 'own' | 'seed'

/** What a transaction is for, which sets its deadline. */
export type TransactionKind = 'request' | 'admission' | 'seed'

export interface SqlDialect {
  /**
   * Whether a transaction must lock the rows it depends on (MySQL). Where it is false (SQLite)
   * a transaction holds the one write connection, and no other writes until it ends.
   */
  readonly locksRows: boolean
  /** Appended to a SELECT that locks its rows for writing ('' where rows are not locked). */
  readonly forUpdate: string
  /** Appended to a SELECT that locks its rows against writers ('' where rows are not locked). */
  readonly forShare: string
  /** `IN (...)` over a list bound as one parameter: the value of `list(ids)`. */
  readonly inList: string
  list(ids: readonly string[]): unknown
  /** An upsert's clause before its assignments, for a row whose `key` exists already. */
  onConflict(key: string): string
  /** In an upsert's assignments: the value the INSERT brought for `column`. */
  incoming(column: string): string
  /** The larger of two SQL values. */
  greatest(a: string, b: string): string

  /** Statements outside a transaction that only read. */
  read<T>(from: ReadFrom, work: (s: SqlSession) => Promise<T>): Promise<T>
  /** Statements outside a transaction that write (each commits on its own). */
  write<T>(work: (s: SqlSession) => Promise<T>): Promise<T>
  /**
   * One transaction, committed if `work` returns, rolled back if it throws. `work` may run again
   * when the dialect retries a lost lock conflict (MySQL).
   */
  transaction<T>(kind: TransactionKind, work: (s: SqlSession) => Promise<T>): Promise<T>
  /** Reads of one consistent snapshot that locks out no writer. */
  snapshot<T>(work: (s: SqlSession) => Promise<T>): Promise<T>
  /** Raises a course's admission fence by one: its new value, or null when there is no course. */
  raiseFence(s: SqlSession, courseId: string): Promise<number | null>
}

/**
 * The port methods of the durable store written once, over a dialect. The engines' stores
 * (MysqlStore, SqliteStore) add the rest.
 */
export abstract class SqlStore<D extends SqlDialect = SqlDialect> {
  protected readonly dialect: D

  constructor(dialect: D) {
    this.dialect = dialect
  }
}
