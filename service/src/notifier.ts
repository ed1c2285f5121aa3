/**
 * The confirmation e-mail sender as a program: builds the outbox and the mailer from a
 * NotifierConfig and runs domain/confirmations.ts over them. The e-mail Lambda and
 * `sugang notify` both use it, so what runs locally is what runs in AWS.
 */
import { randomUUID } from 'node:crypto'
import type { Logger } from 'pino'
import { MysqlConfirmationOutbox } from './adapters/mysql/confirmation-outbox.js'
import { createPool } from './adapters/mysql/pool.js'
import { databaseUrlFromSecret } from './adapters/secrets/database-url.js'
import { SesMailer } from './adapters/ses/mailer.js'
import type { NotifierConfig } from './config.js'
import { renderConfirmation } from './domain/confirmation-mail.js'
import {
  sendConfirmations,
  type ConfirmationBacklog,
  type ConfirmationOutbox,
  type Mailer,
  type SendReport,
} from './domain/confirmations.js'

export interface Notifier {
  /** Sends what is due until nothing is, or `stop()` says the time is up. */
  run(stop?: () => boolean): Promise<SendReport>
  backlog(): Promise<ConfirmationBacklog>
  resolveDead(action: 'retry' | 'discard'): Promise<number>
  close(): Promise<void>
}

export interface NotifierDependencies {
  readonly log: Logger
  /** Replaces SES (tests of the loop itself use the SES adapter against a local endpoint). */
  readonly mailer?: Mailer
}

export async function createNotifier(
  config: NotifierConfig,
  deps: NotifierDependencies,
): Promise<Notifier> {
  const closers: Array<() => Promise<void> | void> = []
  let outbox: ConfirmationOutbox
  if (config.database.kind === 'embedded') {
    // Loaded only here: the embedded store's native module is not part of the production image.
    const { SqliteConfirmationOutbox } = await import('./adapters/sqlite/confirmation-outbox.js')
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
  const sender = mailer
  const { log } = deps

  return {
    run: (stop) =>
      sendConfirmations({
        outbox,
        mailer: sender,
        settings: config.settings,
        render: (c) => renderConfirmation(c, { siteUrl: config.siteUrl }),
        newToken: randomUUID,
        stop,
        onError: (err, c) =>
          log.warn(
            { err, outboxId: c.id, courseId: c.course.id, attempts: c.attempts },
            'confirmation e-mail not accepted',
          ),
      }),
    backlog: () => outbox.backlog(),
    resolveDead: (action) => outbox.resolveDead(action),
    async close() {
      for (const close of closers.reverse()) await close()
    },
  }
}
