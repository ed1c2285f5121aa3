/**
 * Local stand-ins for the two AWS APIs the confirmation sender calls, speaking their wire formats
 * so that the real SDK clients (pointed here with AWS_ENDPOINT_URL_SESV2 and
 * AWS_ENDPOINT_URL_SECRETS_MANAGER) run unchanged: SES API v2 `SendEmail` (REST + JSON) and
 * Secrets Manager `GetSecretValue` (JSON 1.1). They cannot run here; everything else in the
 * tests is real.
 */
import { randomUUID } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface SentEmail {
  readonly messageId: string
  readonly from: string
  readonly to: string
  readonly subject: string
  readonly text: string
  readonly html: string
  readonly tags: Record<string, string>
  readonly configurationSet: string | undefined
}

/** An error answer as SES gives it: status, `x-amzn-ErrorType`, and a JSON message. */
export interface SesError {
  readonly status: number
  readonly type: string
  readonly message: string
}

export interface FakeSes {
  readonly url: string
  /** Messages SES accepted, in order. */
  readonly accepted: SentEmail[]
  /** Every SendEmail call, accepted or not. */
  calls: number
  /** Decides each call: an error to answer with, or undefined to accept. */
  respond: ((to: string, call: number) => SesError | undefined) | undefined
  close(): Promise<void>
}

function body(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    req.on('error', reject)
  })
}

function json(res: ServerResponse, status: number, value: unknown, headers = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers })
  res.end(JSON.stringify(value))
}

/** SigV4 for `service`: the SDK signed the request as it would for AWS. */
function signedFor(req: IncomingMessage, service: string): boolean {
  const auth = req.headers.authorization ?? ''
  return (
    auth.startsWith('AWS4-HMAC-SHA256 ') &&
    new RegExp(`Credential=[^,]+/${service}/aws4_request`).test(auth) &&
    typeof req.headers['x-amz-date'] === 'string'
  )
}

async function listen(
  handler: (req: IncomingMessage, res: ServerResponse) => Promise<void>,
): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    handler(req, res).catch((err: unknown) => json(res, 500, { message: String(err) }))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

interface SendEmailBody {
  FromEmailAddress?: string
  Destination?: { ToAddresses?: string[] }
  Content?: {
    Simple?: {
      Subject?: { Data?: string; Charset?: string }
      Body?: { Text?: { Data?: string }; Html?: { Data?: string } }
    }
  }
  EmailTags?: Array<{ Name: string; Value: string }>
  ConfigurationSetName?: string
}

export async function startFakeSes(): Promise<FakeSes> {
  const fake: Omit<FakeSes, 'url' | 'close'> = { accepted: [], calls: 0, respond: undefined }
  const server = await listen(async (req, res) => {
    if (req.method !== 'POST' || req.url !== '/v2/email/outbound-emails') {
      return json(res, 404, { message: `no route ${req.method} ${req.url}` })
    }
    if (!signedFor(req, 'ses')) {
      return json(
        res,
        403,
        { message: 'missing SigV4 signature' },
        {
          'x-amzn-errortype': 'UnrecognizedClientException',
        },
      )
    }
    const input = JSON.parse(await body(req)) as SendEmailBody
    fake.calls += 1
    const to = input.Destination?.ToAddresses ?? []
    const simple = input.Content?.Simple
    if (
      !input.FromEmailAddress ||
      to.length !== 1 ||
      !simple?.Subject?.Data ||
      simple.Subject.Charset !== 'UTF-8' ||
      !simple.Body?.Text?.Data ||
      !simple.Body.Html?.Data
    ) {
      return json(
        res,
        400,
        { message: 'malformed SendEmail request' },
        {
          'x-amzn-errortype': 'BadRequestException',
        },
      )
    }
    const error = fake.respond?.(to[0] as string, fake.calls)
    if (error) {
      return json(
        res,
        error.status,
        { message: error.message },
        {
          'x-amzn-errortype': error.type,
          'x-amzn-requestid': randomUUID(),
        },
      )
    }
    const messageId = `0100${randomUUID().replaceAll('-', '')}-000000`
    fake.accepted.push({
      messageId,
      from: input.FromEmailAddress,
      to: to[0] as string,
      subject: simple.Subject.Data,
      text: simple.Body.Text.Data,
      html: simple.Body.Html.Data,
      tags: Object.fromEntries((input.EmailTags ?? []).map((t) => [t.Name, t.Value])),
      configurationSet: input.ConfigurationSetName,
    })
    json(res, 200, { MessageId: messageId }, { 'x-amzn-requestid': randomUUID() })
  })
  return Object.assign(fake, server)
}

export interface FakeSecretsManager {
  readonly url: string
  /** SecretId (ARN) -> SecretString. */
  readonly secrets: Map<string, string>
  reads: number
  close(): Promise<void>
}

export async function startFakeSecretsManager(): Promise<FakeSecretsManager> {
  const fake: Omit<FakeSecretsManager, 'url' | 'close'> = { secrets: new Map(), reads: 0 }
  const server = await listen(async (req, res) => {
    const target = req.headers['x-amz-target']
    if (req.method !== 'POST' || target !== 'secretsmanager.GetSecretValue') {
      return json(res, 400, { __type: 'UnknownOperationException', message: String(target) })
    }
    if (!signedFor(req, 'secretsmanager')) {
      return json(res, 403, { __type: 'UnrecognizedClientException', message: 'unsigned' })
    }
    const { SecretId } = JSON.parse(await body(req)) as { SecretId?: string }
    const secret = SecretId ? fake.secrets.get(SecretId) : undefined
    if (!SecretId || secret === undefined) {
      return json(res, 400, {
        __type: 'ResourceNotFoundException',
        message: "Secrets Manager can't find the specified secret.",
      })
    }
    fake.reads += 1
    json(res, 200, {
      ARN: SecretId,
      Name: SecretId.split(':').pop(),
      SecretString: secret,
      VersionId: randomUUID(),
      VersionStages: ['AWSCURRENT'],
      CreatedDate: Date.now() / 1000,
    })
  })
  return Object.assign(fake, server)
}
