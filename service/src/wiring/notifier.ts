import type { Logger } from 'pino'
import { MysqlConfirmationOutbox } from '../adapters/mysql/confirmation-outbox.js'
import { createPool } from '../adapters/mysql/pool.js'
import { databaseUrlFromSecret } from '../adapters/secrets/database-url.js'
import { SesMailer } from '../adapters/ses/mailer.js'
import type { NotifierConfig } from '../config.js'
import type { ConfirmationOutbox, Mailer } from '../domain/confirmations.js'
import { notifierOver, type Notifier } from '../notifier.js'

export interface NotifierDependencies {
  readonly log: Logger
  /** Replaces SES (tests of the loop itself use the SES adapter against a local endpoint). */
  readonly mailer?: Mailer
}

/**
 * The sender on the outbox and the mailer the configuration names: the embedded file's outbox or
 * MySQL's (its URL given, or read from its secret), and SES unless a mailer is given.
 */
export async function createNotifier(
  config: NotifierConfig,
  deps: NotifierDependencies,
): Promise<Notifier> {
  const closers: Array<() => Promise<void> | void> = []
  let outbox: ConfirmationOutbox
  if (config.database.kind === 'embedded') {
    // Loaded only here: the embedded store's native module is not part of the production image.
    const { SqliteConfirmationOutbox } = await import('../adapters/sqlite/confirmation-outbox.js')
    const sqlite = new SqliteConfirmationOutbox(config.database.sqlitePath)
    closers.push(() => sqlite.close())
    outbox = sqlite
  } else {
    const url =
      config.database.kind === 'url'
        ? config.database.url
        : await databaseUrlFromSecret(config.database)
    const pool = createPool(url, config.settings.concurrency + 1, 10_000, config.databaseTls)
    closers.push(() => pool.end())
    outbox = new MysqlConfirmationOutbox(pool)
  }
  let mailer = deps.mailer
  if (!mailer) {
    const ses = new SesMailer({ from: config.mailFrom, configurationSet: config.configurationSet })
    closers.push(() => ses.destroy())
    mailer = ses
  }
  return notifierOver(config, {
    outbox,
    mailer,
    log: deps.log,
    async close() {
      for (const close of closers.reverse()) await close()
    },
  })
}
