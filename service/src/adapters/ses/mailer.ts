import { SESv2Client, SendEmailCommand, type SESv2ClientConfig } from '@aws-sdk/client-sesv2'
import {
  MailRefused,
  type MailRefusalScope,
  type Mailer,
  type OutgoingMail,
} from '../../domain/confirmations.js'

export interface SesMailerOptions {
  /** The From address; its domain is the SES identity the sender may use. */
  readonly from: string
  /** SES configuration set (event destinations for bounces and complaints), if any. */
  readonly configurationSet?: string
  /**
   * Client settings. The SDK reads the region, credentials and an endpoint override
   * (AWS_ENDPOINT_URL_SESV2) from the environment; attempts stay low because the outbox retries
   * with its own, longer backoff.
   */
  readonly client?: SESv2ClientConfig
}

/** Refusals that are about this one message: sending it again can never work. */
const MESSAGE_ERRORS = new Set(['MessageRejected', 'BadRequestException'])
/** Refusals that stop all sending for now: nothing in the batch should use an attempt on it. */
const ACCOUNT_ERRORS = new Set([
  'AccountSuspendedException',
  'SendingPausedException',
  'MailFromDomainNotVerifiedException',
  'LimitExceededException',
  'NotFoundException',
  'AccessDeniedException',
])

export function refusalScope(err: unknown): MailRefusalScope {
  const name = (err as { name?: unknown } | null)?.name
  if (typeof name === 'string' && MESSAGE_ERRORS.has(name)) return 'message'
  if (typeof name === 'string' && ACCOUNT_ERRORS.has(name)) return 'account'
  return 'transient'
}

/** SES tag values allow ASCII letters, digits, '_' and '-' only. */
function tagValue(value: string): string {
  return value.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 256) || '_'
}

/** Sends through SES API v2 (`SendEmail`, simple content: SES builds the MIME message). */
export class SesMailer implements Mailer {
  readonly #client: SESv2Client
  readonly #from: string
  readonly #configurationSet: string | undefined

  constructor(options: SesMailerOptions) {
    this.#client = new SESv2Client({ maxAttempts: 2, ...options.client })
    this.#from = options.from
    this.#configurationSet = options.configurationSet
  }

  async send(mail: OutgoingMail): Promise<{ readonly messageId: string }> {
    const utf8 = (Data: string) => ({ Data, Charset: 'UTF-8' })
    try {
      const out = await this.#client.send(
        new SendEmailCommand({
          FromEmailAddress: this.#from,
          Destination: { ToAddresses: [mail.to] },
          Content: {
            Simple: {
              Subject: utf8(mail.subject),
              Body: { Text: utf8(mail.text), Html: utf8(mail.html) },
            },
          },
          EmailTags: Object.entries(mail.tags).map(([Name, Value]) => ({
            Name,
            Value: tagValue(Value),
          })),
          ConfigurationSetName: this.#configurationSet,
        }),
      )
      if (!out.MessageId) throw new MailRefused('transient', 'SES answered without a MessageId')
      return { messageId: out.MessageId }
    } catch (err) {
      if (err instanceof MailRefused) throw err
      const name = (err as { name?: string }).name ?? 'Error'
      const message = err instanceof Error ? err.message : String(err)
      throw new MailRefused(refusalScope(err), `${name}: ${message}`, { cause: err })
    }
  }

  destroy(): void {
    this.#client.destroy()
  }
}
