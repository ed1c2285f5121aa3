/**
 * The confirmation e-mail sender as a program: runs domain/confirmations.ts over an outbox and a
 * mailer, which wiring/notifier.ts picks from a NotifierConfig. The e-mail Lambda and
 * `sugang notify` both use it, so what runs locally is what runs in AWS.
 */
import { randomUUID } from 'node:crypto'
import type { Logger } from 'pino'
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

export interface NotifierParts {
  readonly outbox: ConfirmationOutbox
  readonly mailer: Mailer
  readonly log: Logger
  /** Lets go of what the outbox and the mailer hold (a pool, an SES client). */
  readonly close: () => Promise<void>
}

export function notifierOver(
  config: Pick<NotifierConfig, 'settings' | 'siteUrl'>,
  parts: NotifierParts,
): Notifier {
  const { outbox, mailer, log } = parts
  return {
    run: (stop) =>
      sendConfirmations({
        outbox,
        mailer,
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
    close: parts.close,
  }
}
