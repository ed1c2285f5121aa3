import type { RedisConnection } from './connection.js'
import type { RedisKeys } from './keys.js'
import type { LuaScripts } from './lua-scripts.js'

/** What every Redis port shares: the connection, the scripts, the key schema. */
export interface RedisContext {
  readonly connection: RedisConnection
  readonly scripts: LuaScripts
  readonly keys: RedisKeys
}
