import t from 'tap'
import {
  defaultCost,
  derivationsFor,
  hashPassword,
  needsRehash,
  seedCost,
  verifyPassword,
} from '../../src/domain/passwords.js'

t.test('a hash verifies its own password and no other', async (t) => {
  const hash = await hashPassword('s3cret', seedCost)
  t.match(hash, /^scrypt\$16\$8\$1\$[\w-]+\$[\w-]+$/, 'the cost is recorded in the hash')
  t.equal(await verifyPassword('s3cret', hash, seedCost), true)
  t.equal(await verifyPassword('s3cret!', hash, seedCost), false)
})

t.test('two hashes of one password differ (random salt)', async (t) => {
  t.not(await hashPassword('pw', seedCost), await hashPassword('pw', seedCost))
})

t.test('malformed or absurdly expensive hashes are refused, not computed', async (t) => {
  t.equal(await verifyPassword('pw', 'plain-text', seedCost), false)
  t.equal(await verifyPassword('pw', 'scrypt$4194304$8$1$c2FsdA$aGFzaA', seedCost), false)
  t.same(derivationsFor('scrypt$4194304$8$1$c2FsdA$aGFzaA', seedCost), [seedCost], 'only the decoy')
})

t.test('an unknown account never verifies', async (t) => {
  t.equal(await verifyPassword('anything', null, seedCost), false)
})

t.test('every check costs at least the floor, known account or not', async (t) => {
  const work = (costs: Array<{ N: number; r: number; p: number }>) =>
    costs.reduce((sum, c) => sum + c.N * c.r * c.p, 0)
  const floor = defaultCost
  const cheap = await hashPassword('pw', seedCost)
  const atFloor = 'scrypt$32768$8$1$c2FsdHNhbHRzYWx0c2FsdA$' + 'A'.repeat(43)
  const unknown = derivationsFor(null, floor)
  t.same(unknown, [floor], 'an unknown student: a decoy at the floor')
  t.same(derivationsFor(cheap, floor), [seedCost, floor], 'a cheap seed hash: itself, then a decoy')
  t.same(derivationsFor(atFloor, floor), [floor], 'a hash at the floor: itself only')
  const floorWork = work([floor])
  for (const costs of [unknown, derivationsFor(cheap, floor), derivationsFor(atFloor, floor)]) {
    t.ok(work(costs) >= floorWork, 'at least the floor')
    t.ok(work(costs) <= floorWork * 1.01, 'and not measurably more')
  }
})

t.test('a hash at another cost than the current one is due for a rehash', async (t) => {
  const cheap = await hashPassword('pw', seedCost)
  t.equal(needsRehash(cheap, defaultCost), true)
  t.equal(needsRehash(cheap, seedCost), false)
  t.equal(needsRehash('garbage', seedCost), true)
})
