import type { Pool, RowDataPacket } from 'mysql2/promise'
import { DependencyUnavailableError } from '../../errors.js'
import { SqlStore } from '../sql/store.js'
import { MysqlDialect, isConnectionError, type MysqlConnectionOptions } from './dialect.js'
import { migrations } from './schema.js'

export type MysqlStoreOptions = MysqlConnectionOptions

/**
 * The durable store on MySQL: the SQL store (adapters/sql/store.ts) over the MySQL dialect, whose
 * deadlines turn a stalled server into a prompt DependencyUnavailableError (503), never a hang.
 */
export class MysqlStore extends SqlStore<MysqlDialect> {
  constructor(options: MysqlStoreOptions) {
    super(new MysqlDialect(options))
  }

  override async migrate(): Promise<void> {
    // Migrations may take long on a big table: no operation deadline, only the lock's own.
    const conn = await this.dialect.primary.getConnection().catch((err: unknown) => {
      throw new DependencyUnavailableError('mysql', err)
    })
    try {
      // Instances starting together must not run the same migration twice.
      await conn.query("SELECT GET_LOCK('sugang.migrate', 60)")
      await conn.query(
        `CREATE TABLE IF NOT EXISTS schema_migrations (
            version INT UNSIGNED NOT NULL PRIMARY KEY,
            applied_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)
          ) ENGINE=InnoDB`,
      )
      const [rows] = await conn.query<RowDataPacket[]>('SELECT version FROM schema_migrations')
      const applied = new Set(rows.map((r) => Number(r.version)))
      for (const migration of migrations) {
        if (applied.has(migration.version)) continue
        for (const statement of migration.statements) await conn.query(statement)
        await conn.query('INSERT INTO schema_migrations (version) VALUES (?)', [migration.version])
      }
    } catch (err) {
      if (isConnectionError(err)) throw new DependencyUnavailableError('mysql', err)
      throw err
    } finally {
      await conn.query("SELECT RELEASE_LOCK('sugang.migrate')").catch(() => undefined)
      conn.release()
    }
  }

  override async ping(): Promise<void> {
    await this.dialect.read('own', (s) => s.rows('SELECT 1'))
    if (this.dialect.replica !== this.dialect.primary)
      await this.dialect.read('catalogue', (s) => s.rows('SELECT 1'))
  }

  override async close(): Promise<void> {
    const { primary, replica } = this.dialect
    await primary.end().catch(() => undefined)
    if (replica !== primary) await replica.end().catch(() => undefined)
  }

  override async replicaLagSeconds(): Promise<number | null> {
    if (this.dialect.replica === this.dialect.primary) return 0
    try {
      // MySQL 8 and MariaDB both answer SHOW REPLICA STATUS; the column name differs. It needs
      // the REPLICATION CLIENT privilege (RDS's master user has it).
      const row = await this.dialect.read('catalogue', (s) => s.row('SHOW REPLICA STATUS'))
      if (!row) return null
      const lag = row.Seconds_Behind_Source ?? row.Seconds_Behind_Master
      return lag === null || lag === undefined ? Infinity : Number(lag)
    } catch {
      return null
    }
  }

  /** For the CLI and tests: the primary pool. */
  get primary(): Pool {
    return this.dialect.primary
  }
}
