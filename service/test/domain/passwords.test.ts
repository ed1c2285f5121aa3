import t from 'tap'
import { hashPassword, seedCost, verifyPassword } from '../../src/domain/passwords.js'

t.test('a hash verifies its own password and no other', async (t) => {
  const hash = await hashPassword('s3cret', seedCost)
  t.match(hash, /^scrypt\$16\$8\$1\$[\w-]+\$[\w-]+$/, 'the cost is recorded in the hash')
  t.equal(await verifyPassword('s3cret', hash), true)
  t.equal(await verifyPassword('s3cret!', hash), false)
})

t.test('two hashes of one password differ (random salt)', async (t) => {
  t.not(await hashPassword('pw', seedCost), await hashPassword('pw', seedCost))
})

t.test('malformed or absurdly expensive hashes are refused, not computed', async (t) => {
  t.equal(await verifyPassword('pw', 'plain-text'), false)
  t.equal(await verifyPassword('pw', 'scrypt$4194304$8$1$c2FsdA$aGFzaA'), false)
})
