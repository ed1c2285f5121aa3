// Loopback ports for the servers a test or a local tool starts of its own.
import { createServer } from 'node:net'

/** A loopback port nothing listens on right now (another process may still take it first). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() =>
        typeof address === 'object' && address
          ? resolve(address.port)
          : reject(new Error('no port was assigned')),
      )
    })
  })
}

/** Whether `port` can be bound on 127.0.0.1 right now. */
export async function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => resolve(false))
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)))
  })
}
