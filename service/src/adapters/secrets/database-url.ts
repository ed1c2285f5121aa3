import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager'
import type { NotifierDatabase } from '../../config.js'

/** `{"username", "password"}` from a Secrets Manager secret of the shape RDS writes. */
export async function secretCredentials(
  secretArn: string,
  client: SecretsManagerClient = new SecretsManagerClient({}),
): Promise<{ readonly username: string; readonly password: string }> {
  const out = await client.send(new GetSecretValueCommand({ SecretId: secretArn }))
  let parsed: { username?: unknown; password?: unknown }
  try {
    parsed = JSON.parse(out.SecretString ?? '') as typeof parsed
  } catch {
    throw new Error(`secret ${secretArn} is not JSON with username and password`)
  }
  if (typeof parsed.username !== 'string' || typeof parsed.password !== 'string') {
    throw new Error(`secret ${secretArn} has no string username and password`)
  }
  return { username: parsed.username, password: parsed.password }
}

/**
 * The MySQL URL for a database whose user and password live in a Secrets Manager secret. Read on
 * every cold start, so a rotated password is picked up by the next one.
 */
export async function databaseUrlFromSecret(
  database: Extract<NotifierDatabase, { kind: 'secret' }>,
  client: SecretsManagerClient = new SecretsManagerClient({}),
): Promise<string> {
  const { username, password } = await secretCredentials(database.secretArn, client)
  const user = encodeURIComponent(username)
  const secret = encodeURIComponent(password)
  return `mysql://${user}:${secret}@${database.host}:${database.port}/${encodeURIComponent(database.name)}`
}
