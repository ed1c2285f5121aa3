// Polling until something is so, for tests and the tools that start servers.
import { setTimeout as sleep } from 'node:timers/promises'

export interface WaitOptions {
  /** How long to keep checking before failing (default 30 s). */
  readonly timeoutMs?: number
  /** The pause between two checks (default 250 ms). */
  readonly intervalMs?: number
  /**
   * Whether the first error a check throws ends the wait. Off (the default), a check that throws
   * is tried again, as a server still starting refuses connections, and the last error is named
   * when the wait times out.
   */
  readonly stopOnError?: boolean
}

/**
 * Calls `check` until it returns a truthy value and resolves with it, or fails after timeoutMs
 * saying what it waited for.
 */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | null | undefined | false>,
  { timeoutMs = 30_000, intervalMs = 250, stopOnError = false }: WaitOptions = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let lastError: unknown = null
  for (;;) {
    try {
      const value = await check()
      if (value) return value
    } catch (err) {
      if (stopOnError) throw err
      lastError = err
    }
    if (Date.now() > deadline) {
      const reason = lastError instanceof Error ? `: ${lastError.message}` : ''
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${reason}`)
    }
    await sleep(intervalMs)
  }
}
