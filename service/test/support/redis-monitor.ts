// Redis's MONITOR read straight off a socket. ioredis's monitor mode loses a race: lines that arrive
// in the same packet as MONITOR's own OK are taken for replies to commands it never sent, and it
// throws "Command queue state error" on a busy server (other suites share it). The protocol here is
// simple: after `+OK`, every line is `+<time> [<db> <source>] "<arg>" "<arg>" ...`.
import { connect, type Socket } from 'node:net'
import { once } from 'node:events'

export interface MonitorLine {
  readonly time: string
  /** `lua` for a command a script ran, otherwise the client's address. */
  readonly source: string
  readonly args: string[]
}

export interface Monitor {
  on(listener: (line: MonitorLine) => void): void
  off(listener: (line: MonitorLine) => void): void
  close(): void
}

const ESCAPES: Record<string, string> = { n: '\n', r: '\r', t: '\t', a: '\x07', b: '\b' }

/** The arguments of one MONITOR line, quoted as Redis's `sdscatrepr` quotes them. */
export function monitorArgs(quoted: string): string[] {
  const args: string[] = []
  let i = 0
  while (i < quoted.length) {
    if (quoted[i] !== '"') {
      i++
      continue
    }
    let arg = ''
    i++
    while (i < quoted.length && quoted[i] !== '"') {
      const c = quoted[i]!
      if (c !== '\\') {
        arg += c
        i++
        continue
      }
      const next = quoted[i + 1] ?? ''
      if (next === 'x') {
        arg += String.fromCharCode(parseInt(quoted.slice(i + 2, i + 4), 16))
        i += 4
      } else {
        arg += ESCAPES[next] ?? next
        i += 2
      }
    }
    args.push(arg)
    i++
  }
  return args
}

/** One MONITOR status line (without `+` and CRLF). */
export function monitorLine(text: string): MonitorLine {
  const bracket = text.indexOf('[')
  const close = text.indexOf(']', bracket)
  const [, source = ''] = text.slice(bracket + 1, close).split(' ')
  return { time: text.slice(0, bracket).trim(), source, args: monitorArgs(text.slice(close + 1)) }
}

/** Opens a MONITOR connection to `url` and resolves once Redis has confirmed it. */
export async function monitor(url: string): Promise<Monitor> {
  const { hostname, port } = new URL(url)
  const socket: Socket = connect({ host: hostname, port: Number(port || 6379) })
  await once(socket, 'connect')
  socket.setEncoding('latin1')
  const listeners = new Set<(line: MonitorLine) => void>()
  let buffer = ''
  let confirmed: (() => void) | undefined
  let failed: ((e: Error) => void) | undefined
  const ready = new Promise<void>((resolve, reject) => {
    confirmed = resolve
    failed = reject
  })
  socket.on('error', (e) => failed?.(e))
  socket.on('data', (chunk: string) => {
    buffer += chunk
    let end: number
    while ((end = buffer.indexOf('\r\n')) >= 0) {
      const line = buffer.slice(0, end)
      buffer = buffer.slice(end + 2)
      if (line === '+OK' && confirmed) {
        confirmed()
        confirmed = undefined
        failed = undefined
      } else if (line.startsWith('-')) {
        failed?.(new Error(`MONITOR refused: ${line.slice(1)}`))
      } else if (line.startsWith('+')) {
        const parsed = monitorLine(line.slice(1))
        for (const l of listeners) l(parsed)
      }
    }
  })
  socket.write('MONITOR\r\n')
  await ready
  return {
    on: (l) => void listeners.add(l),
    off: (l) => void listeners.delete(l),
    close: () => socket.destroy(),
  }
}
