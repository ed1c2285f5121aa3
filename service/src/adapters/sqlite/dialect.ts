import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import Database from 'better-sqlite3'
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

type Connection = Database.Database

export interface SqliteConnectionOptions {
  /** The database file; its directory is created if missing. */
  readonly path: string
  /**
   * How long an operation waits for its connection, ms: the write one held by another
   * transaction, or the read one by a snapshot.
   */
  readonly timeoutMs?: number
  /**
   * How long SQLite waits for a lock held by another process, such as `sugang seed` (its
   * busy_timeout), in ms. The wait blocks this process, so it is short.
   */
  readonly busyTimeoutMs?: number
}

const DEFAULT_TIMEOUT_MS = 5_000
const DEFAULT_BUSY_TIMEOUT_MS = 1_000

/** SQLite result codes that mean the file cannot be used right now, not that a statement is wrong. */
const UNAVAILABLE =
  /^SQLITE_(BUSY|LOCKED|IOERR|FULL|CANTOPEN|READONLY|CORRUPT|NOTADB|PROTOCOL|NOLFS|AUTH)/

/** Failures of the store's file become DependencyUnavailableError (503), as MySQL outages do. */
function translate(err: unknown): unknown {
  const code = (err as { code?: unknown } | null)?.code
  if (typeof code === 'string' && UNAVAILABLE.test(code)) {
    return new DependencyUnavailableError('mysql', err)
  }
  if (err instanceof TypeError && /database connection is not open/i.test(err.message)) {
    return new DependencyUnavailableError('mysql', err)
  }
  return err
}

/** A connection is busy for longer than the operation may wait. */
class ConnectionLockTimeout extends Error {
  constructor(ms: number, which: string) {
    super(`waited ${ms} ms for the embedded store's ${which} connection`)
    this.name = 'ConnectionLockTimeout'
  }
}

/**
 * One holder at a time, first come first served, with a deadline for waiting. SQLite has one
 * writer, and this process one write connection: a transaction that awaits (a cancellation's
 * `work`) must not have another transaction's statements interleaved on that connection. The
 * read connection has a lock of its own for the same reason: a snapshot's read transaction
 * spans awaits, and a read run in between would read inside it.
 */
class ConnectionLock {
  readonly #which: 'read' | 'write'
  #held = false
  readonly #waiters: Array<{ grant: () => void }> = []

  constructor(which: 'read' | 'write') {
    this.#which = which
  }

  async acquire(timeoutMs: number): Promise<() => void> {
    if (!this.#held) {
      this.#held = true
      return this.#releaser()
    }
    return new Promise((resolve, reject) => {
      const waiter = {
        grant: () => {
          clearTimeout(timer)
          resolve(this.#releaser())
        },
      }
      const timer = setTimeout(() => {
        const i = this.#waiters.indexOf(waiter)
        if (i >= 0) this.#waiters.splice(i, 1)
        reject(new ConnectionLockTimeout(timeoutMs, this.#which))
      }, timeoutMs)
      this.#waiters.push(waiter)
    })
  }

  #releaser(): () => void {
    let released = false
    return () => {
      if (released) return
      released = true
      const next = this.#waiters.shift()
      if (next) next.grant()
      else this.#held = false
    }
  }
}

interface Connections {
  /** Every write, and every transaction, under the write lock. */
  readonly writer: Connection
  /** Reads of committed data (WAL: they never wait for the writer, nor see its open transaction). */
  readonly reader: Connection
}

/**
 * SQLite, one file (WAL) in one process: every write runs on one connection under an in-process
 * lock (a transaction is one BEGIN IMMEDIATE: nothing else writes, from this process or another
 * one on the same file, until it ends, so no row needs a lock), reads run on a second connection
 * and see committed data only. better-sqlite3 is synchronous; each statement is a promise all
 * the same, so the store's steps cannot tell the engines apart.
 */
export class SqliteDialect implements SqlDialect {
  readonly locksRows = false
  readonly forUpdate = ''
  readonly forShare = ''
  /** Any number of ids as one parameter: a JSON array. */
  readonly inList = 'IN (SELECT value FROM json_each(?))'
  readonly path: string
  readonly #timeoutMs: number
  readonly #busyTimeoutMs: number
  readonly #writeLock = new ConnectionLock('write')
  readonly #readLock = new ConnectionLock('read')
  readonly #statements = new WeakMap<Connection, Map<string, Database.Statement>>()
  #connections: Connections | null = null
  #closed = false

  constructor(options: SqliteConnectionOptions) {
    if (options.path === ':memory:' || options.path === '') {
      throw new Error('SqliteStore needs a file: its reads use a second connection')
    }
    this.path = options.path
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS
    this.#busyTimeoutMs = options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS
  }

  list(ids: readonly string[]): unknown {
    return JSON.stringify(ids)
  }

  onConflict(key: string): string {
    return `ON CONFLICT (${key}) DO UPDATE SET`
  }

  incoming(column: string): string {
    return `excluded.${column}`
  }

  greatest(a: string, b: string): string {
    return `MAX(${a}, ${b})`
  }

  /** Reads committed data on the read connection. */
  read<T>(_from: ReadFrom, work: (s: SqlSession) => Promise<T>): Promise<T> {
    return this.#hold(this.#readLock, (c) => work(this.#session(c.reader)))
  }

  /** Runs `work` holding the write connection; nothing else writes until it settles. */
  write<T>(work: (s: SqlSession) => Promise<T>): Promise<T> {
    return this.withWriter((db) => work(this.#session(db)))
  }

  /** One BEGIN IMMEDIATE transaction on the write connection: committed if `work` returns. */
  transaction<T>(_kind: TransactionKind, work: (s: SqlSession) => Promise<T>): Promise<T> {
    return this.withWriter((db) =>
      inTransaction(this.#session(db), 'BEGIN IMMEDIATE', work, async () => {
        if (!db.inTransaction) return
        try {
          this.#statement(db, 'ROLLBACK').run()
        } catch {
          // The first error is the one to report; SQLite rolls back on its own if it must.
        }
      }),
    )
  }

  snapshot<T>(work: (s: SqlSession) => Promise<T>): Promise<T> {
    // Both reads in one read transaction: one snapshot, even with another process writing.
    return this.read('own', async (s) => {
      await s.run('BEGIN DEFERRED')
      try {
        return await work(s)
      } finally {
        await s.run('COMMIT')
      }
    })
  }

  async raiseFence(s: SqlSession, courseId: string): Promise<number | null> {
    // Under the write lock: it waits for a transaction of the previous holder in progress.
    const row = await s.row(
      'UPDATE courses SET admission_fence = admission_fence + 1 WHERE id = ? RETURNING admission_fence',
      [courseId],
    )
    return row ? Number(row.admission_fence) : null
  }

  /** Runs `work` on the write connection itself (migrations), holding it. */
  withWriter<T>(work: (db: Connection) => T | Promise<T>): Promise<T> {
    return this.#hold(this.#writeLock, (c) => work(c.writer))
  }

  /** Waits for the operations in progress, then closes both connections. */
  async close(): Promise<void> {
    if (this.#closed) return
    const releaseWriter = await this.#writeLock.acquire(this.#timeoutMs).catch(() => null)
    const releaseReader = await this.#readLock.acquire(this.#timeoutMs).catch(() => null)
    try {
      this.#closed = true
      const connections = this.#connections
      this.#connections = null
      connections?.reader.close()
      connections?.writer.close()
    } finally {
      releaseReader?.()
      releaseWriter?.()
    }
  }

  async #hold<T>(
    lock: ConnectionLock,
    work: (connections: Connections) => T | Promise<T>,
  ): Promise<T> {
    let release: () => void
    try {
      release = await lock.acquire(this.#timeoutMs)
    } catch (err) {
      throw new DependencyUnavailableError('mysql', err)
    }
    try {
      return await work(this.#open())
    } catch (err) {
      throw translate(err)
    } finally {
      release()
    }
  }

  /** Opens the file on first use, so that building the app touches no disk. */
  #open(): Connections {
    if (this.#connections) return this.#connections
    if (this.#closed) throw new TypeError('The database connection is not open')
    // Its own directory is its owner's only: the file holds password hashes and live sessions.
    mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 })
    const writer = new Database(this.path, { timeout: this.#busyTimeoutMs })
    try {
      writer.pragma('journal_mode = WAL')
      // Every commit reaches the disk before it is reported: an enrollment, once answered, stays.
      writer.pragma('synchronous = FULL')
      writer.pragma('foreign_keys = ON')
      const reader = new Database(this.path, { timeout: this.#busyTimeoutMs })
      reader.pragma('foreign_keys = ON')
      reader.pragma('query_only = ON')
      this.#connections = { writer, reader }
      return this.#connections
    } catch (err) {
      writer.close()
      throw err
    }
  }

  #statement(db: Connection, sql: string): Database.Statement {
    let cache = this.#statements.get(db)
    if (!cache) this.#statements.set(db, (cache = new Map()))
    let statement = cache.get(sql)
    if (!statement) cache.set(sql, (statement = db.prepare(sql)))
    return statement
  }

  /** Each statement runs when it is called; its promise only reports what it did. */
  #session(db: Connection): SqlSession {
    return {
      rows: async (sql, params = []) => this.#statement(db, sql).all(...params) as Row[],
      row: async (sql, params = []) => this.#statement(db, sql).get(...params) as Row | undefined,
      run: async (sql, params = []): Promise<Written> => {
        const result = this.#statement(db, sql).run(...params)
        return { changes: result.changes, insertId: Number(result.lastInsertRowid) }
      },
      insert: async (into, rows, tail) => {
        const first = rows[0]
        if (!first) return
        const marks = first.map(() => '?').join(', ')
        const statement = this.#statement(db, `${into} VALUES (${marks})${tail ? ` ${tail}` : ''}`)
        for (const row of rows) statement.run(...row)
      },
    }
  }
}
