import { createServer, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'

/** The parts of a Slack incoming-webhook message that Alertmanager fills in. */
export interface SlackMessage {
  readonly channel?: string
  readonly username?: string
  readonly attachments?: ReadonlyArray<{
    readonly title?: string
    readonly title_link?: string
    readonly text?: string
    readonly fallback?: string
    readonly color?: string
  }>
}

export interface ReceivedMessage {
  readonly path: string
  readonly receivedAt: Date
  readonly message: SlackMessage
}

export interface SlackReceiver {
  /** The webhook URL to give Alertmanager (in place of https://hooks.slack.com/services/...). */
  readonly url: string
  readonly received: readonly ReceivedMessage[]
  close(): Promise<void>
}

const BODY_LIMIT = 1024 * 1024

async function readBody(request: IncomingMessage): Promise<string> {
  let body = ''
  for await (const chunk of request) {
    body += String(chunk)
    if (body.length > BODY_LIMIT) throw new Error('message too large')
  }
  return body
}

/**
 * A stand-in for Slack's incoming webhook on 127.0.0.1: it answers like Slack ("ok") and keeps
 * every message, so a test can read what on-call engineers would see, and a demo can print it.
 */
export async function startSlackReceiver(
  options: { port?: number; onMessage?: (received: ReceivedMessage) => void } = {},
): Promise<SlackReceiver> {
  const received: ReceivedMessage[] = []
  const server = createServer((request, response) => {
    if (request.method !== 'POST') {
      response.writeHead(405).end()
      return
    }
    readBody(request).then(
      (body) => {
        let message: SlackMessage
        try {
          message = JSON.parse(body) as SlackMessage
        } catch {
          response.writeHead(400, { 'content-type': 'text/plain' }).end('invalid_payload')
          return
        }
        const entry = { path: request.url ?? '/', receivedAt: new Date(), message }
        received.push(entry)
        options.onMessage?.(entry)
        response.writeHead(200, { 'content-type': 'text/plain' }).end('ok')
      },
      () => response.writeHead(413).end(),
    )
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve())
  })
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/services/LOCAL/WEBHOOK`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

/** The message as on-call engineers would read it in Slack, as plain text. */
export function formatSlackMessage({ message }: ReceivedMessage): string {
  const parts = (message.attachments ?? []).map((a) => `${a.title ?? ''}\n${a.text ?? ''}`.trim())
  return [`→ ${message.channel ?? '(webhook channel)'}`, ...parts].join('\n')
}
