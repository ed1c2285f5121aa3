import { MysqlStore } from '../adapters/mysql/store.js'
import { createRedisRushState, type RedisKeys } from '../adapters/redis/index.js'
import type { Config } from '../config.js'
import type { RegistrationStore, RushState } from '../domain/ports.js'
import type { ThrottledLog } from '../logging/throttled-log.js'

export interface Adapters {
  readonly store: RegistrationStore
  readonly rush: RushState & { readonly keys: RedisKeys }
}

/** The production adapters: MySQL (primary and replica) for the truth, Redis for the rush. */
export function createAdapters(config: Config, log: ThrottledLog): Adapters {
  const store = new MysqlStore({
    url: config.databaseUrl,
    replicaUrl: config.databaseReplicaUrl,
    poolSize: config.mysqlPoolSize,
    timeoutMs: config.deadlines.mysqlMs,
  })
  const rush = createRedisRushState({
    url: config.redisUrl,
    prefix: config.redisPrefix,
    sessionTtlSeconds: config.sessionTtlSeconds,
    decidedTtlSeconds: config.decidedTtlSeconds,
    requestBudget: config.rateLimit,
    commandTimeoutMs: config.deadlines.redisMs,
    maxInFlight: config.deadlines.redisMaxInFlight,
    // ioredis reports every reconnect attempt.
    onError: (err) => log.warn('redis connection error', err),
  })
  return { store, rush }
}
