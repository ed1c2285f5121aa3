import type { RushState } from '../../domain/ports.js'
import { MemoryLeases } from './leases.js'
import { MemorySeatCache } from './seat-cache.js'
import { MemoryLoginThrottle, MemorySessions } from './sessions.js'
import { RushMemory, type MemoryRushOptions } from './state.js'
import { MemoryWaitingQueue } from './waiting-queue.js'

export type { MemoryRushOptions, RequestBudget } from './state.js'

const DEFAULT_SWEEP_MS = 10_000

/**
 * The rush state in this process: the same behaviour as the Redis adapter and its scripts, for
 * one instance only (an embedded deployment). It dies with the process, which may lose queued
 * requests, never an enrollment: the store has those, and the reconciler rebuilds the caches.
 * Expired entries are freed by a periodic sweep that does not keep the process alive.
 */
export function createMemoryRushState(options: MemoryRushOptions): RushState & {
  /** The state itself, for tests that look inside. */
  readonly memory: RushMemory
} {
  const memory = new RushMemory(options)
  const sweepMs = options.sweepIntervalMs ?? DEFAULT_SWEEP_MS
  let sweeper: NodeJS.Timeout | null = null
  const startSweeping = (): void => {
    if (sweeper) return
    sweeper = setInterval(() => memory.sweep(), sweepMs)
    sweeper.unref()
  }
  startSweeping()
  return {
    memory,
    sessions: new MemorySessions(memory),
    logins: new MemoryLoginThrottle(memory),
    queue: new MemoryWaitingQueue(memory),
    leases: new MemoryLeases(memory),
    seats: new MemorySeatCache(memory),
    lifecycle: {
      connect: async () => startSweeping(),
      ping: async () => undefined,
      close: async () => {
        if (sweeper) clearInterval(sweeper)
        sweeper = null
      },
    },
  }
}

export { RushMemory } from './state.js'
