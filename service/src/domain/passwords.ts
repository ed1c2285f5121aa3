import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto'

/**
 * scrypt password hashes in the form `scrypt$N$r$p$salt$hash` (base64url). The cost travels with
 * the hash, so cheap demo or load-test seeds verify without a server setting, and raising the cost
 * later only affects new hashes.
 */
export interface ScryptCost {
  readonly N: number
  readonly r: number
  readonly p: number
}

export const defaultCost: ScryptCost = Object.freeze({ N: 2 ** 15, r: 8, p: 1 })
/** For generated demo and load-test students only. */
export const seedCost: ScryptCost = Object.freeze({ N: 2 ** 4, r: 8, p: 1 })

const KEY_LENGTH = 32

function derive(password: string, salt: Buffer, cost: ScryptCost): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(
      password,
      salt,
      KEY_LENGTH,
      { ...cost, maxmem: 256 * cost.N * cost.r + 1024 * 1024 },
      (err, key) => (err ? reject(err) : resolve(key)),
    )
  })
}

export async function hashPassword(
  password: string,
  cost: ScryptCost = defaultCost,
): Promise<string> {
  const salt = randomBytes(16)
  const key = await derive(password, salt, cost)
  return [
    'scrypt',
    cost.N,
    cost.r,
    cost.p,
    salt.toString('base64url'),
    key.toString('base64url'),
  ].join('$')
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split('$')
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false
  const [N, r, p] = [Number(parts[1]), Number(parts[2]), Number(parts[3])]
  if (![N, r, p].every((n) => Number.isInteger(n) && n > 0) || N > 2 ** 20) return false
  const expected = Buffer.from(parts[5] ?? '', 'base64url')
  if (expected.length !== KEY_LENGTH) return false
  const key = await derive(password, Buffer.from(parts[4] ?? '', 'base64url'), { N, r, p })
  return timingSafeEqual(key, expected)
}
