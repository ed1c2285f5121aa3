import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto'

/**
 * scrypt password hashes in the form `scrypt$N$r$p$salt$hash` (base64url). The cost travels with
 * the hash, so cheap demo or load-test seeds verify without a server setting, and raising the cost
 * later only affects new hashes (and old ones as their owners log in: see needsRehash).
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

interface ParsedHash {
  readonly cost: ScryptCost
  readonly salt: Buffer
  readonly key: Buffer
}

function parse(stored: string): ParsedHash | null {
  const parts = stored.split('$')
  if (parts.length !== 6 || parts[0] !== 'scrypt') return null
  const [N, r, p] = [Number(parts[1]), Number(parts[2]), Number(parts[3])]
  if (![N, r, p].every((n) => Number.isInteger(n) && n > 0) || N > 2 ** 20) return null
  const key = Buffer.from(parts[5] ?? '', 'base64url')
  if (key.length !== KEY_LENGTH) return null
  return { cost: { N, r, p }, salt: Buffer.from(parts[4] ?? '', 'base64url'), key }
}

function work(cost: ScryptCost): number {
  return cost.N * cost.r * cost.p
}

/**
 * The scrypt derivations that checking a password against `stored` performs: the stored hash's
 * own (when it parses), plus a decoy at `floor` whenever that would cost less than the floor.
 * So every check costs at least the floor: neither "no such student" nor "a student with a cheap
 * seed hash" answers measurably faster than a real account.
 */
export function derivationsFor(stored: string | null, floor: ScryptCost): ScryptCost[] {
  return plan(stored === null ? null : parse(stored), floor)
}

function plan(parsed: ParsedHash | null, floor: ScryptCost): ScryptCost[] {
  if (!parsed) return [floor]
  return work(parsed.cost) < work(floor) ? [parsed.cost, floor] : [parsed.cost]
}

/** Checks a password against a stored hash (null for an unknown account), at least at `floor`. */
export async function verifyPassword(
  password: string,
  stored: string | null,
  floor: ScryptCost = defaultCost,
): Promise<boolean> {
  const parsed = stored === null ? null : parse(stored)
  let valid = false
  for (const cost of plan(parsed, floor)) {
    if (parsed && cost === parsed.cost) {
      valid = timingSafeEqual(await derive(password, parsed.salt, cost), parsed.key)
    } else {
      // The decoy: the same work as a real check at the floor, its result thrown away.
      await derive(password, DECOY_SALT, cost)
    }
  }
  return valid
}

/** Whether a hash should be replaced by one at `cost` (done after a successful login). */
export function needsRehash(stored: string, cost: ScryptCost = defaultCost): boolean {
  const parsed = parse(stored)
  return !parsed || work(parsed.cost) !== work(cost)
}

const DECOY_SALT = randomBytes(16)
