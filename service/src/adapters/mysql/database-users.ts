import mysql from 'mysql2/promise'

export interface DatabaseUser {
  readonly username: string
  readonly password: string
}

/**
 * What each user may do in the schema (docs/decisions/0004-database-users.md): the service
 * reads and writes every table and runs its own migrations (no DROP: none drops a table); the
 * confirmation sender reads what an e-mail says and records what it sent, nothing else.
 */
export function grants(database: string, app: string, notifier: string): string[] {
  const db = mysql.escapeId(database)
  const to = (user: string) => `TO ${mysql.escape(user)}@'%'`
  return [
    `GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, INDEX, REFERENCES ON ${db}.* ${to(app)}`,
    ...['students', 'courses', 'enrollments'].map(
      (table) => `GRANT SELECT ON ${db}.${mysql.escapeId(table)} ${to(notifier)}`,
    ),
    `GRANT SELECT, UPDATE ON ${db}.${mysql.escapeId('confirmation_outbox')} ${to(notifier)}`,
  ]
}

/**
 * Creates the service's and the sender's users, or brings them to the given passwords and
 * privileges: run by the master user after the schema exists, again after a password rotation.
 * Idempotent. With `requireTls` the users may connect over TLS only.
 */
export async function provisionDatabaseUsers(
  conn: mysql.Connection,
  options: {
    readonly database: string
    readonly app: DatabaseUser
    readonly notifier: DatabaseUser
    readonly requireTls: boolean
  },
): Promise<void> {
  const require = options.requireTls ? ' REQUIRE SSL' : ' REQUIRE NONE'
  for (const user of [options.app, options.notifier]) {
    const who = `${mysql.escape(user.username)}@'%'`
    const secret = mysql.escape(user.password)
    // Both statements: CREATE for a new user, ALTER for a rotated password or TLS requirement.
    await conn.query(`CREATE USER IF NOT EXISTS ${who} IDENTIFIED BY ${secret}${require}`)
    await conn.query(`ALTER USER ${who} IDENTIFIED BY ${secret}${require}`)
  }
  for (const statement of grants(
    options.database,
    options.app.username,
    options.notifier.username,
  )) {
    await conn.query(statement)
  }
}
