/**
 * Confirmation e-mails: one per enrollment, sent from the outbox that the enrollment's own
 * transaction wrote (ports.ConfirmationOutbox), through a Mailer (SES in production).
 *
 * Exactly-once, as far as a mail API without idempotency keys allows:
 * - a row is claimed (pending -> sending) in a transaction that skips rows another sender holds,
 *   so two concurrent senders never hold the same row;
 * - every later write carries the claim's token, so a sender whose claim ran out can no longer
 *   change a row its successor took over;
 * - an error answer from the mail API means nothing was sent: the row is retried with backoff
 *   and ends `dead` after `maxAttempts`, or at once when the message itself is refused (a bad
 *   address), without holding up the rest of the batch.
 * The one window left is a sender that dies after the mail API accepted a message and before
 * the row is marked: its claim runs out (`leaseMs`) and the message goes out again. A duplicate
 * confirmation is the lesser harm next to a lost one; claims are short and marks immediate.
 */
import type { Meeting } from './model.js'

export type ConfirmationKind = 'enrolled' | 'promoted'

/** A claimed outbox row with what the message says. */
export interface ClaimedConfirmation {
  readonly id: number
  readonly kind: ConfirmationKind
  /** Attempts so far, this one included. */
  readonly attempts: number
  readonly requestId: string
  readonly student: { readonly id: string; readonly name: string; readonly email: string }
  readonly course: {
    readonly id: string
    readonly title: string
    readonly professor: string
    readonly credits: number
    readonly meetings: readonly Meeting[]
  }
  /** False when the enrollment is gone: cancelled before its confirmation went out. */
  readonly stillEnrolled: boolean
}

export type ConfirmationOutcome =
  | { readonly kind: 'sent'; readonly messageId: string }
  | { readonly kind: 'retry'; readonly delayMs: number; readonly error: string }
  | { readonly kind: 'dead'; readonly error: string }
  /** Nothing to confirm any more (the enrollment was cancelled first). */
  | { readonly kind: 'void' }
  /** Not this message's fault (sending is paused): back to pending, the attempt not counted. */
  | { readonly kind: 'release' }

export interface ConfirmationBacklog {
  readonly pending: number
  readonly sending: number
  readonly dead: number
  /** When the oldest row still waiting to be sent (pending or sending) was written. */
  readonly oldestWaiting: Date | null
}

export interface OutgoingMail {
  readonly to: string
  readonly subject: string
  readonly text: string
  readonly html: string
  /** Name/value pairs the mail API attaches to its events (bounces, deliveries). */
  readonly tags: Readonly<Record<string, string>>
}

/**
 * Why the mail API did not take a message: `message` — this message is refused and always will
 * be (a malformed or suppressed address); `transient` — try this message again later (throttled,
 * a server error, no answer); `account` — nothing can be sent now (sending paused, quota used
 * up, identity not verified): stop the run and leave every message for later.
 */
export type MailRefusalScope = 'message' | 'transient' | 'account'

export class MailRefused extends Error {
  constructor(
    readonly scope: MailRefusalScope,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options)
    this.name = 'MailRefused'
  }
}

export interface Mailer {
  /** Sends one message; throws MailRefused when the mail API did not take it. */
  send(mail: OutgoingMail): Promise<{ readonly messageId: string }>
}

export interface ConfirmationOutbox {
  /**
   * Claims up to `limit` rows that are due (pending, or sending with a claim that ran out), in
   * the order they were written, for `leaseMs`, under `token`; counts the attempt.
   */
  claim(limit: number, leaseMs: number, token: string): Promise<ClaimedConfirmation[]>
  /** Records an outcome; false when the claim under `token` is no longer held. */
  finish(id: number, token: string, outcome: ConfirmationOutcome): Promise<boolean>
  backlog(): Promise<ConfirmationBacklog>
  /**
   * An operator's answer to dead rows: `retry` sends them again from the first attempt (after the
   * address was fixed, or SES was), `discard` gives up on them for good (void). Returns how many.
   */
  resolveDead(action: 'retry' | 'discard'): Promise<number>
}

export interface ConfirmationSettings {
  /** Rows claimed per transaction. */
  readonly batchSize: number
  /** Messages in flight at once. */
  readonly concurrency: number
  /** How long a claim holds; longer than any batch takes, so that only a dead sender's lapses. */
  readonly leaseMs: number
  /** Attempts before a message that keeps failing ends dead. */
  readonly maxAttempts: number
  readonly backoffBaseMs: number
  readonly backoffMaxMs: number
}

export const DEFAULT_CONFIRMATION_SETTINGS: ConfirmationSettings = Object.freeze({
  batchSize: 25,
  concurrency: 4,
  leaseMs: 120_000,
  // 30 s, 1, 2, 4, 8, 16, 30 min: a message that fails for about an hour ends dead.
  maxAttempts: 8,
  backoffBaseMs: 30_000,
  backoffMaxMs: 30 * 60_000,
})

/**
 * Delay before attempt `attempts + 1`: exponential from the base, capped, with "equal jitter"
 * (half fixed, half random) so retries of a throttled batch spread out without ever retrying
 * sooner than half the schedule.
 */
export function backoffDelayMs(
  attempts: number,
  settings: Pick<ConfirmationSettings, 'backoffBaseMs' | 'backoffMaxMs'>,
  random: () => number = Math.random,
): number {
  const exponent = Math.max(0, attempts - 1)
  const ceiling = Math.min(settings.backoffMaxMs, settings.backoffBaseMs * 2 ** exponent)
  return Math.round(ceiling / 2 + (ceiling / 2) * random())
}

/** What a sender should do with a message after the mail API refused it. */
export function outcomeOfRefusal(
  refusal: MailRefused,
  attempts: number,
  settings: ConfirmationSettings,
  random: () => number = Math.random,
): ConfirmationOutcome {
  const error = refusal.message.slice(0, 500)
  if (refusal.scope === 'account') return { kind: 'release' }
  if (refusal.scope === 'message') return { kind: 'dead', error }
  if (attempts >= settings.maxAttempts) {
    return { kind: 'dead', error: `gave up after ${attempts} attempts: ${error}` }
  }
  return { kind: 'retry', delayMs: backoffDelayMs(attempts, settings, random), error }
}

export interface SendReport {
  claimed: number
  sent: number
  retried: number
  dead: number
  voided: number
  released: number
  /** Outcomes that could not be recorded because the claim had run out. */
  lost: number
  /** Set when the mail API said nothing can be sent now. */
  paused?: string
}

export interface SendOptions {
  readonly outbox: ConfirmationOutbox
  readonly mailer: Mailer
  readonly render: (confirmation: ClaimedConfirmation) => OutgoingMail
  readonly settings?: Partial<ConfirmationSettings>
  /** True once no new batch should be claimed (the run's time is up). */
  readonly stop?: () => boolean
  readonly newToken: () => string
  readonly random?: () => number
  readonly onError?: (err: unknown, confirmation: ClaimedConfirmation) => void
}

/**
 * Sends what is due, batch after batch, until nothing is due, `stop()` says so, or the mail API
 * pauses sending. Errors of the outbox itself (the database) propagate: the caller's run fails
 * visibly and the claims run out, to be picked up by the next run.
 */
export async function sendConfirmations(options: SendOptions): Promise<SendReport> {
  const settings = { ...DEFAULT_CONFIRMATION_SETTINGS, ...options.settings }
  const random = options.random ?? Math.random
  const stop = options.stop ?? (() => false)
  const report: SendReport = {
    claimed: 0,
    sent: 0,
    retried: 0,
    dead: 0,
    voided: 0,
    released: 0,
    lost: 0,
  }

  while (!stop() && report.paused === undefined) {
    const token = options.newToken()
    const batch = await options.outbox.claim(settings.batchSize, settings.leaseMs, token)
    if (batch.length === 0) break
    report.claimed += batch.length

    const queue = [...batch]
    const work = async (): Promise<void> => {
      for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
        const outcome = await attempt(next)
        const recorded = await options.outbox.finish(next.id, token, outcome)
        if (!recorded) report.lost += 1
        else if (outcome.kind === 'sent') report.sent += 1
        else if (outcome.kind === 'retry') report.retried += 1
        else if (outcome.kind === 'dead') report.dead += 1
        else if (outcome.kind === 'void') report.voided += 1
        else report.released += 1
      }
    }
    const attempt = async (confirmation: ClaimedConfirmation): Promise<ConfirmationOutcome> => {
      if (!confirmation.stillEnrolled) return { kind: 'void' }
      // Once sending is paused, the rest of the batch goes back untried.
      if (report.paused !== undefined) return { kind: 'release' }
      try {
        const { messageId } = await options.mailer.send(options.render(confirmation))
        return { kind: 'sent', messageId }
      } catch (err) {
        options.onError?.(err, confirmation)
        const refusal =
          err instanceof MailRefused
            ? err
            : new MailRefused('transient', err instanceof Error ? err.message : String(err))
        if (refusal.scope === 'account') report.paused = refusal.message
        return outcomeOfRefusal(refusal, confirmation.attempts, settings, random)
      }
    }
    const workers = Math.max(1, Math.min(settings.concurrency, batch.length))
    await Promise.all(Array.from({ length: workers }, work))
  }
  return report
}
