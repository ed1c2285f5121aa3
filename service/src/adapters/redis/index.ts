import type { RushState } from '../../domain/ports.js'
import { RedisConnection, type RedisConnectionOptions } from './connection.js'
import { RedisKeys, type KeySchemaOptions } from './keys.js'
import { LuaScripts } from './lua-scripts.js'
import { RedisLeases } from './leases.js'
import { RedisSeatCache } from './seat-cache.js'
import { RedisLoginThrottle, RedisSessions, type RequestBudget } from './sessions.js'
import { RedisWaitingQueue } from './waiting-queue.js'

export interface RedisRushStateOptions extends RedisConnectionOptions, KeySchemaOptions {
  /** Requests one student may make per window (sessions and the enqueue door share it). */
  readonly requestBudget: RequestBudget
  /** Refuse script calls whose keys span slots, also on one node (tests). */
  readonly checkSlots?: boolean
}

/** The rush state on one Redis: every port over one connection and one key schema. */
export function createRedisRushState(options: RedisRushStateOptions): RushState & {
  readonly keys: RedisKeys
} {
  const connection = new RedisConnection(options)
  const keys = new RedisKeys(options)
  const context = {
    connection,
    keys,
    scripts: new LuaScripts(connection.client, {
      checkSlots: options.checkSlots ?? false,
    }),
  }
  return {
    keys,
    sessions: new RedisSessions(context, options.requestBudget),
    logins: new RedisLoginThrottle(context),
    queue: new RedisWaitingQueue(context, options.requestBudget),
    leases: new RedisLeases(context),
    seats: new RedisSeatCache(context),
    lifecycle: connection,
  }
}

export { RedisKeys } from './keys.js'
