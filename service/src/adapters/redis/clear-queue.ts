import { openRedis, primariesOf } from './connection.js'

/**
 * Deletes every queue key under the prefix (`sugang seed --reset`, so that Redis matches the
 * store again), on one node (its URL) or on every primary of a cluster (its seeds' URLs).
 */
export async function clearQueue(redis: string | readonly string[], prefix: string): Promise<void> {
  const client = openRedis(redis, { maxRetriesPerRequest: 1 })
  try {
    for (const node of await primariesOf(client)) {
      let cursor = '0'
      do {
        const [next, keys] = await node.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)
        cursor = next
        // One key per command: a cluster node refuses a DEL of keys in different slots.
        if (keys.length > 0) await Promise.all(keys.map((key) => node.unlink(key)))
      } while (cursor !== '0')
    }
  } finally {
    client.disconnect()
  }
}
