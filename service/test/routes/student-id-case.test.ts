/**
 * A student types their 학번 as they like: s000001 is S000001, on either store, for the session
 * it opens and for the failures it counts.
 */
import t from 'tap'
import {
  PASSWORD,
  STORAGES,
  configFrom,
  isolatedEnv,
  seedDatabase,
  startInstance,
} from '../helper.js'
import { sugang } from '../support/cli.js'

for (const storage of STORAGES) {
  t.test(`${storage}: the student id in any letter case`, async (t) => {
    const env = await isolatedEnv(t, 'idcase', storage)
    const config = configFrom(env, { LOGIN_ACCOUNT_FAILURES: '2' })
    await seedDatabase(config, { students: 3 })
    const app = await startInstance(t, config)
    const login = (studentId: string, password: string, remoteAddress: string) =>
      app.inject({
        method: 'POST',
        url: '/api/v1/auth/login',
        payload: { studentId, password },
        remoteAddress,
      })

    for (const typed of ['s000001', 'S000001']) {
      const res = await login(typed, PASSWORD, '10.1.0.1')
      t.equal(res.statusCode, 200, `${typed}: ${res.body}`)
      t.same(res.json(), { studentId: 'S000001', name: 'Student 1' }, 'the stored spelling')
      const session = res.cookies.find((c) => c.name === 'sugang_session')
      const me = await app.inject({
        method: 'GET',
        url: '/api/v1/me',
        headers: { cookie: `sugang_session=${session?.value}` },
      })
      t.equal(me.statusCode, 200)
      t.equal(me.json().studentId, 'S000001', 'the session names the student once')
    }

    // Two failures, one in each case, lock the one account against a third address.
    t.equal((await login('s000002', 'wrong', '10.1.0.2')).statusCode, 401)
    t.equal((await login('S000002', 'wrong', '10.1.0.3')).statusCode, 401)
    const locked = await login('s000002', PASSWORD, '10.1.0.4')
    t.equal(locked.statusCode, 429)
    t.equal(locked.json().error.code, 'ACCOUNT_LOCKED', 'one account, one counter')

    if (storage === 'mysql-redis') {
      // The lock lives in Redis, where `sugang unlock` reaches it, typed in either case.
      const unlocked = await sugang(['unlock', 's000002'], env)
      t.equal(unlocked.code, 0)
      t.equal(unlocked.out, 'login lock of S000002 lifted')
      t.equal((await login('s000002', PASSWORD, '10.1.0.4')).statusCode, 200)
    }
  })
}
