import { connect } from 'node:net'

export interface RawResponse {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
  /** The body parsed as JSON, or null. */
  readonly json: { error?: { code?: unknown; message?: unknown } } | null
}

/**
 * Sends bytes exactly as given (no client normalises the path or the headers) and reads one
 * response until the server closes the connection or `timeoutMs` passes. Used to probe what a
 * hostile client can send: encoded paths, absolute-form request lines, broken framing.
 */
export function rawRequest(
  port: number,
  chunks: ReadonlyArray<string | Buffer>,
  { timeoutMs = 30_000, pauseMs = 0 }: { timeoutMs?: number; pauseMs?: number } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    const received: Buffer[] = []
    const timer = setTimeout(() => {
      socket.destroy()
      reject(new Error(`no complete answer within ${timeoutMs} ms`))
    }, timeoutMs)
    const send = async (): Promise<void> => {
      for (const chunk of chunks) {
        socket.write(chunk)
        if (pauseMs) await new Promise((r) => setTimeout(r, pauseMs))
      }
    }
    socket.on('connect', () => {
      send().catch((err: unknown) => socket.destroy(err as Error))
    })
    socket.on('data', (data) => received.push(data))
    socket.on('error', () => undefined)
    socket.on('close', () => {
      clearTimeout(timer)
      try {
        resolve(parse(Buffer.concat(received).toString('utf8')))
      } catch (err) {
        reject(err)
      }
    })
  })
}

function parse(text: string): RawResponse {
  const end = text.indexOf('\r\n\r\n')
  if (end < 0) throw new Error(`no HTTP response: ${JSON.stringify(text.slice(0, 200))}`)
  const [statusLine, ...lines] = text.slice(0, end).split('\r\n')
  const status = Number(statusLine?.split(' ')[1])
  const headers: Record<string, string> = {}
  for (const line of lines) {
    const colon = line.indexOf(':')
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
  }
  let body = text.slice(end + 4)
  if (headers['transfer-encoding'] === 'chunked') body = dechunk(body)
  return { status, headers, body, json: parseJson(body) }
}

function parseJson(body: string): RawResponse['json'] {
  try {
    return JSON.parse(body) as RawResponse['json']
  } catch {
    return null
  }
}

function dechunk(body: string): string {
  let out = ''
  let rest = body
  for (;;) {
    const eol = rest.indexOf('\r\n')
    const size = parseInt(rest.slice(0, eol), 16)
    if (!size) return out
    out += rest.slice(eol + 2, eol + 2 + size)
    rest = rest.slice(eol + 4 + size)
  }
}

/** A complete HTTP/1.1 request that asks the server to close the connection after answering. */
export function request(
  method: string,
  target: string,
  { headers = {}, body }: { headers?: Record<string, string>; body?: string } = {},
): string {
  const lines = [`${method} ${target} HTTP/1.1`, 'Host: sugang.test', 'Connection: close']
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`)
  if (body !== undefined) lines.push(`Content-Length: ${Buffer.byteLength(body)}`)
  return `${lines.join('\r\n')}\r\n\r\n${body ?? ''}`
}
