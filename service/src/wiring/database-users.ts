import { provisionDatabaseUsers } from '../adapters/mysql/database-users.js'
import { withConnection } from '../adapters/mysql/one-connection.js'
import { databaseUrlFromSecret, secretCredentials } from '../adapters/secrets/database-url.js'
import type { DatabaseUsersConfig, UserCredentials } from '../config.js'
import { ConfigError } from '../errors.js'
import { openStore } from './adapters.js'

export interface ProvisionedUsers {
  readonly database: string
  readonly app: string
  readonly notifier: string
}

/**
 * `sugang database-users` as the master user: its connection from a URL or its secret, each
 * user's password given or from its secret, the schema migrated first (the sender's grants name
 * tables), then the users created or brought to those passwords and privileges.
 */
export async function provisionUsers(config: DatabaseUsersConfig): Promise<ProvisionedUsers> {
  const adminUrl =
    config.admin.kind === 'url' ? config.admin.url : await databaseUrlFromSecret(config.admin)
  const credentials = async (user: UserCredentials) =>
    user.kind === 'password' ? user : secretCredentials(user.secretArn)
  const [app, notifier] = await Promise.all([credentials(config.app), credentials(config.notifier)])
  const database = decodeURIComponent(new URL(adminUrl).pathname.slice(1))
  if (!database) throw new ConfigError('the master connection must name the database')

  const store = await openStore(
    { kind: 'mysql', databaseUrl: adminUrl },
    { tls: config.databaseTls, poolSize: 1 },
  )
  try {
    await store.migrate()
  } finally {
    await store.close()
  }
  await withConnection(adminUrl, config.databaseTls, (conn) =>
    provisionDatabaseUsers(conn, {
      database,
      app,
      notifier,
      requireTls: config.databaseTls !== undefined,
    }),
  )
  return { database, app: app.username, notifier: notifier.username }
}
