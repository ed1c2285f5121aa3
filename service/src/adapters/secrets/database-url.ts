import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager'
import type { NotifierDatabase } from '../../config.js'

/**
 * The MySQL URL for a database whose user and password live in a Secrets Manager secret of the
 * shape RDS writes (`{"username": ..., "password": ...}`). Read on every cold start, so a
 * rotated password is picked up by the next one.
 */
export async function databaseUrlFromSecret(
  database: Extract<NotifierDatabase, { kind: 'secret' }>,
  client: SecretsManagerClient = new SecretsManagerClient({}),
): Promise<string> {
  const out = await client.send(new GetSecretValueCommand({ SecretId: database.secretArn }))
  let parsed: { username?: unknown; password?: unknown }
  try {
    parsed = JSON.parse(out.SecretString ?? '') as typeof parsed
  } catch {
    throw new Error(`secret ${database.secretArn} is not JSON with username and password`)
  }
  if (typeof parsed.username !== 'string' || typeof parsed.password !== 'string') {
    throw new Error(`secret ${database.secretArn} has no string username and password`)
  }
  const user = encodeURIComponent(parsed.username)
  const password = encodeURIComponent(parsed.password)
  return `mysql://${user}:${password}@${database.host}:${database.port}/${encodeURIComponent(database.name)}`
}
