import { randomBytes } from 'node:crypto'
import {
  chmodSync,
  linkSync,
  mkdirSync,
  readFileSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs'
import { dirname } from 'node:path'
import type { Config } from '../config.js'
import { ConfigError } from '../errors.js'

/**
 * The configuration with the development signing key kept beside the embedded database
 * (config.sessionSecretFile): read when it exists, else created, readable by its owner only.
 * Sessions live in the database file too, so a restart of `npm start` keeps every tab logged in.
 * Any other configuration is returned as it is: production has SESSION_SECRET or does not start.
 */
export function withKeptSessionSecret(config: Config): Config {
  const file = config.sessionSecretFile
  if (file === null || config.production) return config
  return { ...config, sessionSecret: keptSecret(file) }
}

function keptSecret(file: string): string {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 })
  const existing = read(file)
  if (existing !== null) return existing
  // Written whole under another name, then linked into place: a second process starting at the
  // same moment either links first or reads a complete key, never half of one.
  const draft = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`
  writeFileSync(draft, `${randomBytes(32).toString('base64url')}\n`, { mode: 0o600, flag: 'wx' })
  try {
    linkSync(draft, file)
  } catch (err) {
    if ((err as { code?: string }).code !== 'EEXIST') throw err
  } finally {
    unlinkSync(draft)
  }
  return read(file) as string
}

function read(file: string): string | null {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT') return null
    throw err
  }
  const secret = text.trim()
  if (Buffer.byteLength(secret) < 32) {
    throw new ConfigError(
      `${file} must hold a session key of at least 32 bytes: delete it and a new one is made (every session then ends), or set SESSION_SECRET`,
    )
  }
  // A key others can read is a key others can sign sessions with.
  if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600)
  return secret
}
