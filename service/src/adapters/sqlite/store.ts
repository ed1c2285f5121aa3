import type { Row } from '../sql/rows.js'
import { SqlStore } from '../sql/store.js'
import { SqliteDialect, type SqliteConnectionOptions } from './dialect.js'
import { NOW_MS, migrations } from './schema.js'

export interface SqliteStoreOptions extends SqliteConnectionOptions {
  /** Runs after each successful migrate(): the demo seeds an empty database here. */
  readonly afterMigrate?: (store: SqliteStore) => Promise<void>
}

/**
 * The embedded store: one SQLite file, for trying sugang on one machine. The SQL store
 * (adapters/sql/store.ts) over the SQLite dialect: the same tables, statements and semantics as
 * MysqlStore, in one process, so callers cannot tell the stores apart.
 */
export class SqliteStore extends SqlStore<SqliteDialect> {
  readonly #afterMigrate: ((store: SqliteStore) => Promise<void>) | undefined

  constructor(options: SqliteStoreOptions) {
    super(new SqliteDialect(options))
    this.#afterMigrate = options.afterMigrate
  }

  get path(): string {
    return this.dialect.path
  }

  override async migrate(): Promise<void> {
    await this.dialect.withWriter((db) => {
      db.exec(
        `CREATE TABLE IF NOT EXISTS schema_migrations (
            version INTEGER NOT NULL PRIMARY KEY,
            applied_at TEXT NOT NULL DEFAULT ${NOW_MS}
          ) STRICT`,
      )
      const versions = db.prepare('SELECT version FROM schema_migrations').all() as Row[]
      const applied = new Set(versions.map((r) => Number(r.version)))
      for (const migration of migrations) {
        if (applied.has(migration.version)) continue
        db.transaction(() => {
          for (const statement of migration.statements) db.exec(statement)
          db.prepare('INSERT INTO schema_migrations (version) VALUES (?)').run(migration.version)
        }).immediate()
      }
    })
    await this.#afterMigrate?.(this)
  }

  override async ping(): Promise<void> {
    await this.dialect.read('own', (s) => s.row('SELECT 1'))
  }

  /** Waits for the transaction in progress, then closes both connections. */
  override async close(): Promise<void> {
    await this.dialect.close()
  }

  override async replicaLagSeconds(): Promise<number | null> {
    return 0
  }

  // -------------------------------------------------------------------------------------------
  // Sessions kept across restarts (adapters/sqlite/sessions.ts): not part of the ports.

  async saveSession(sessionId: string, studentId: string, expiresAtMs: number): Promise<void> {
    await this.dialect.write((s) =>
      s.run('INSERT OR REPLACE INTO sessions (id, student_id, expires_at) VALUES (?, ?, ?)', [
        sessionId,
        studentId,
        expiresAtMs,
      ]),
    )
  }

  async deleteSession(sessionId: string): Promise<void> {
    await this.dialect.write((s) => s.run('DELETE FROM sessions WHERE id = ?', [sessionId]))
  }

  /** The sessions alive at `nowMs`; the others are deleted. */
  async liveSessions(
    nowMs: number,
  ): Promise<Array<{ sessionId: string; studentId: string; expiresAtMs: number }>> {
    return this.dialect.write(async (s) => {
      await s.run('DELETE FROM sessions WHERE expires_at <= ?', [nowMs])
      const rows = await s.rows('SELECT id, student_id, expires_at FROM sessions')
      return rows.map((r) => ({
        sessionId: String(r.id),
        studentId: String(r.student_id),
        expiresAtMs: Number(r.expires_at),
      }))
    })
  }
}
