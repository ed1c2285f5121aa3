import mysql from 'mysql2/promise'
import type { DatabaseTls } from '../../config.js'
import { sslOptions } from './pool.js'

/** One connection for a one-off job (the master user's provisioning), ended once it is done. */
export async function withConnection<T>(
  url: string,
  tls: DatabaseTls | undefined,
  work: (conn: mysql.Connection) => Promise<T>,
): Promise<T> {
  const conn = await mysql.createConnection({
    uri: url,
    ssl: tls ? sslOptions(tls) : undefined,
  })
  try {
    return await work(conn)
  } finally {
    await conn.end()
  }
}
