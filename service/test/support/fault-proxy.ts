// A TCP proxy to put between the service and MariaDB or Redis, to make the network fail in the
// ways a real one does (slow, silent, reset, refused) while the dependency itself stays healthy;
// and, for MySQL, to stop the world right after a COMMIT is durable but before the client
// hears of it: the moment a crash loses the most.
import { connect, createServer, type Server, type Socket } from 'node:net'
import { performance } from 'node:perf_hooks'

export interface FaultProxyOptions {
  targetPort: number
  targetHost?: '127.0.0.1'
  /** Where the proxy listens (on 127.0.0.1); a free port unless given. */
  port?: number
}

export type CommitCallback = () => void | Promise<void>

/** One MySQL packet as seen on the wire: its header and the start of its payload. */
export interface MysqlPacket {
  sequenceId: number
  /** The payload length from the header. */
  length: number
  /** The first bytes of the payload (at most MysqlPacketParser.HEAD_BYTES). */
  head: Buffer
}

/**
 * Frames a MySQL byte stream into packets (3-byte little-endian payload length, 1-byte sequence
 * id, payload), however the stream is cut into TCP chunks. Only the start of each payload is
 * kept, which is all COMMIT detection needs, so a large packet costs no memory.
 */
export class MysqlPacketParser {
  static readonly HEAD_BYTES = 64
  readonly #header = Buffer.alloc(4)
  #headerBytes = 0
  #length = 0
  #remaining = 0
  #head: Buffer[] = []
  #headBytes = 0

  /** Feeds the next bytes of the stream; returns the packets they complete. */
  push(chunk: Buffer): MysqlPacket[] {
    const packets: MysqlPacket[] = []
    let offset = 0
    while (offset < chunk.length) {
      if (this.#headerBytes < 4) {
        const taken = Math.min(4 - this.#headerBytes, chunk.length - offset)
        chunk.copy(this.#header, this.#headerBytes, offset, offset + taken)
        this.#headerBytes += taken
        offset += taken
        if (this.#headerBytes < 4) break
        this.#length = this.#header.readUIntLE(0, 3)
        this.#remaining = this.#length
        this.#head = []
        this.#headBytes = 0
      }
      const taken = Math.min(this.#remaining, chunk.length - offset)
      const kept = Math.min(taken, MysqlPacketParser.HEAD_BYTES - this.#headBytes)
      if (kept > 0) {
        // A copy: the chunk may be a slice of a pooled buffer that is reused later.
        this.#head.push(Buffer.from(chunk.subarray(offset, offset + kept)))
        this.#headBytes += kept
      }
      offset += taken
      this.#remaining -= taken
      if (this.#remaining === 0) {
        packets.push({
          sequenceId: this.#header[3] ?? 0,
          length: this.#length,
          head: Buffer.concat(this.#head),
        })
        this.#headerBytes = 0
      }
    }
    return packets
  }
}

const COM_QUERY = 0x03

/**
 * Whether a client packet is the query `COMMIT`. Commands always start a sequence (id 0), so
 * no handshake or authentication packet (ids 1 and up) can pass for one, whatever its bytes.
 */
export function isMysqlCommit(packet: MysqlPacket): boolean {
  return (
    packet.sequenceId === 0 &&
    packet.length <= packet.head.length &&
    packet.head[0] === COM_QUERY &&
    packet.head.subarray(1).toString('utf8').trim().toUpperCase() === 'COMMIT'
  )
}

/** The text of a COM_QUERY packet's start, or null for any other packet. */
function queryHead(packet: MysqlPacket): string | null {
  if (packet.sequenceId !== 0 || packet.head[0] !== COM_QUERY) return null
  return packet.head.subarray(1).toString('utf8')
}

/** The fault switches, shared by every connection so that they act on all of them at once. */
interface Faults {
  delayMs: number
  blackhole: boolean
}

type Held = { releaseAt: number; data: Buffer } | { releaseAt: number; data: 'end' }

/** One direction of one connection: the bytes held back, released in order. */
class Direction {
  readonly #faults: Faults
  readonly #from: Socket
  readonly #to: Socket
  readonly #onForward: (data: Buffer) => void
  readonly #queue: Held[] = []
  #timer: NodeJS.Timeout | undefined
  #gate: Promise<void> | undefined
  #disposed = false

  constructor(
    faults: Faults,
    from: Socket,
    to: Socket,
    onForward: (data: Buffer) => void = () => {},
  ) {
    this.#faults = faults
    this.#from = from
    this.#to = to
    this.#onForward = onForward
  }

  push(data: Buffer | 'end'): void {
    this.#queue.push({ releaseAt: performance.now() + this.#faults.delayMs, data })
    this.pump()
  }

  /** Forwards nothing until `until` settles (and the connection still exists). */
  holdUntil(until: Promise<void>): void {
    const gate = until.finally(() => {
      if (this.#gate === gate) this.#gate = undefined
      this.pump()
    })
    this.#gate = gate
  }

  /** Forwards whatever is due; the queue is strictly FIFO, so a shorter delay never overtakes. */
  pump(): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
    for (;;) {
      const next = this.#queue[0]
      if (!next || this.#disposed || this.#faults.blackhole || this.#gate) return
      const wait = next.releaseAt - performance.now()
      if (wait > 0) {
        // Timers may fire a little early; pump() checks the clock again rather than trust it.
        this.#timer = setTimeout(() => this.pump(), Math.ceil(wait))
        return
      }
      this.#queue.shift()
      this.#forward(next.data)
    }
  }

  dispose(): void {
    this.#disposed = true
    this.#queue.length = 0
    clearTimeout(this.#timer)
    this.#timer = undefined
  }

  #forward(data: Buffer | 'end'): void {
    if (!this.#to.writable) return
    if (data === 'end') {
      this.#to.end()
      return
    }
    this.#onForward(data)
    // Backpressure from a slow reader reaches the writer, as it would without the proxy.
    if (!this.#to.write(data) && !this.#from.isPaused()) {
      this.#from.pause()
      this.#to.once('drain', () => this.#from.resume())
    }
  }
}

/** A client connection and the proxy's connection to the target on its behalf. */
class Pair {
  readonly #client: Socket
  readonly #server: Socket
  readonly #up: Direction
  readonly #down: Direction
  readonly #parser = new MysqlPacketParser()
  readonly #onGone: (pair: Pair) => void
  #commitReply: CommitCallback | undefined
  /** The statements of the current transaction's start, for a trigger that asks for them. */
  #transaction: string[] = []
  #gone = false

  constructor(
    client: Socket,
    server: Socket,
    faults: Faults,
    hooks: {
      /**
       * Called with each COMMIT forwarded and the starts of the statements of its transaction;
       * returns the callback to run on its reply, if armed for such a transaction.
       */
      takeCommitCallback(transaction: readonly string[]): CommitCallback | undefined
      runCommitCallback(callback: CommitCallback): Promise<void>
      onGone(pair: Pair): void
    },
  ) {
    this.#client = client
    this.#server = server
    this.#onGone = hooks.onGone
    this.#up = new Direction(faults, client, server, (data) => {
      // Parsed as forwarded, not as received: with a delay, a reply to an earlier query can
      // arrive after the COMMIT was received but before the server has seen it.
      for (const packet of this.#parser.push(data)) {
        if (isMysqlCommit(packet)) {
          if (!this.#commitReply) this.#commitReply = hooks.takeCommitCallback(this.#transaction)
          this.#transaction = []
          continue
        }
        const query = queryHead(packet)
        if (query === null) continue
        if (/^\s*(START TRANSACTION|BEGIN|ROLLBACK)/i.test(query)) this.#transaction = []
        else if (this.#transaction.length < 100) this.#transaction.push(query)
      }
    })
    this.#down = new Direction(faults, server, client)

    client.on('data', (data: Buffer) => this.#up.push(data))
    server.on('data', (data: Buffer) => {
      const callback = this.#commitReply
      if (callback) {
        // The server's answer to the COMMIT: the transaction is durable, the client does not
        // know yet. Hold this and everything after it until the callback is done.
        this.#commitReply = undefined
        this.#down.holdUntil(hooks.runCommitCallback(callback))
      }
      this.#down.push(data)
    })
    // Half-closes travel in order with the data, so a client's last query still arrives.
    client.on('end', () => this.#up.push('end'))
    server.on('end', () => this.#down.push('end'))
    for (const socket of [client, server]) {
      // An error on either side (refused, reset, broken pipe) ends the pair: the other side
      // sees a reset, as it would if the network between them had failed.
      socket.on('error', () => this.reset())
      socket.on('close', () => {
        if (client.destroyed && server.destroyed) this.#dispose()
      })
    }
  }

  pump(): void {
    this.#up.pump()
    this.#down.pump()
  }

  /** Abruptly ends both sides, dropping held bytes. */
  reset(): void {
    resetSocket(this.#client)
    resetSocket(this.#server)
    this.#dispose()
  }

  #dispose(): void {
    if (this.#gone) return
    this.#gone = true
    this.#up.dispose()
    this.#down.dispose()
    this.#onGone(this)
  }
}

/**
 * Ends a connection abruptly, dropping whatever is held. Not resetAndDestroy() (RST): on Node 20
 * a process that has reset sockets this way can spin forever at exit, in its handle cleanup. To
 * the peer a destroyed connection fails its pending work all the same.
 */
function resetSocket(socket: Socket): void {
  if (!socket.destroyed) socket.destroy()
}

export class FaultProxy {
  readonly #server: Server
  readonly #targetPort: number
  readonly #targetHost: string
  readonly #pairs = new Set<Pair>()
  readonly #faults: Faults = { delayMs: 0, blackhole: false }
  #refusing = false
  #closing: Promise<void> | undefined
  #commitCallback: CommitCallback | undefined
  #commitFilter: RegExp | undefined
  #callbackError: unknown

  private constructor(server: Server, options: FaultProxyOptions) {
    this.#server = server
    this.#targetPort = options.targetPort
    this.#targetHost = options.targetHost ?? '127.0.0.1'
    server.on('connection', (client) => this.#accept(client))
  }

  static async start(options: FaultProxyOptions): Promise<FaultProxy> {
    // allowHalfOpen: a client's FIN is forwarded after the bytes held before it, not at once.
    const server = createServer({ allowHalfOpen: true })
    const proxy = new FaultProxy(server, options)
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(options.port ?? 0, '127.0.0.1', () => {
        server.off('error', reject)
        resolve()
      })
    })
    // After listening, an accept error (EMFILE, say) must not crash the test process.
    server.on('error', () => {})
    return proxy
  }

  get port(): number {
    const address = this.#server.address()
    return typeof address === 'object' && address ? address.port : 0
  }

  url(scheme: 'mysql' | 'redis', path?: string): string {
    const suffix = path ? `/${path.replace(/^\/+/, '')}` : ''
    const user = scheme === 'mysql' ? 'root@' : ''
    return `${scheme}://${user}127.0.0.1:${this.port}${suffix}`
  }

  /** Holds every chunk arriving from now on `ms` before forwarding it; 0 turns it off. */
  delay(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`delay must be >= 0 ms, not ${ms}`)
    this.#faults.delayMs = ms
  }

  /** While on, bytes are taken from both sides but not forwarded: a frozen peer. */
  blackhole(on: boolean): void {
    this.#faults.blackhole = on
    if (!on) for (const pair of this.#pairs) pair.pump()
  }

  /** Resets every current connection, both sides. */
  resetAll(): void {
    for (const pair of [...this.#pairs]) pair.reset()
  }

  /** While on, new connections are reset as soon as they are accepted. */
  refuse(on: boolean): void {
    this.#refusing = on
  }

  /**
   * Arms a one-shot trigger: after the next `COMMIT` query is forwarded to the server, its
   * reply is held while `callback` runs, then forwarded if the client is still connected. If the
   * callback fails, close() rejects with its error, so the test fails rather than passing
   * on a fault that never happened. With `options.after`, only the COMMIT of a transaction in
   * which a statement starting with that pattern was sent counts (e.g. an admission batch, not
   * some other transaction).
   */
  onMysqlCommit(callback: CommitCallback, options: { after?: RegExp } = {}): void {
    this.#commitCallback = callback
    this.#commitFilter = options.after
  }

  connections(): number {
    return this.#pairs.size
  }

  async close(): Promise<void> {
    this.#closing ??= new Promise<void>((resolve) => {
      this.#server.close(() => resolve())
      this.resetAll()
    })
    await this.#closing
    if (this.#callbackError !== undefined) throw this.#callbackError
  }

  #accept(client: Socket): void {
    client.on('error', () => {})
    if (this.#refusing || this.#closing) {
      resetSocket(client)
      return
    }
    client.setNoDelay(true)
    const server = connect({
      port: this.#targetPort,
      host: this.#targetHost,
      allowHalfOpen: true,
      // The proxy adds no latency of its own: only the delay asked for.
      noDelay: true,
    })
    const pair = new Pair(client, server, this.#faults, {
      takeCommitCallback: (transaction) => {
        const filter = this.#commitFilter
        if (filter && !transaction.some((statement) => filter.test(statement))) return undefined
        const callback = this.#commitCallback
        this.#commitCallback = undefined
        return callback
      },
      runCommitCallback: async (callback) => {
        try {
          await callback()
        } catch (err) {
          this.#callbackError ??= err
        }
      },
      onGone: (gone) => this.#pairs.delete(gone),
    })
    this.#pairs.add(pair)
  }
}
